//! `examples/amqp_service.rs` without macros: upstream's AMQP example (service `amqp-example`,
//! JsonBase, `example.topic` republished to `example.response`, a logging message middleware),
//! written with the plain `ServiceBuilder` API and extractor arguments.
//!
//! ```sh
//! cargo run --example amqp_service_builder          # RabbitMQ on 127.0.0.1:5672, guest/guest
//! ```

use std::process::ExitCode;
use std::sync::Arc;

use tomodachi::amqp::AmqpSubscription;
use tomodachi::envelope::JsonBase;
use tomodachi::message::{Data, Extension, Message, MessageNext, MessageResult};
use tomodachi::{Options, Service};

#[derive(Default)]
pub struct AmqpExample;

#[derive(Clone)]
pub struct ReceivedAt(pub String);

/// Logs each message and stamps when it arrived.
pub async fn log_messages(
    _service: Arc<AmqpExample>,
    mut message: Message,
    next: MessageNext,
) -> MessageResult {
    tracing::info!(
        message_uuid = message.message_uuid().unwrap_or(""),
        "message received"
    );
    message
        .extensions_mut()
        .insert(ReceivedAt(chrono::Utc::now().to_rfc3339()));
    next.run(message).await
}

/// Republishes the received data to `example.response`.
async fn example_func(
    _service: Arc<AmqpExample>,
    Data(data): Data<serde_json::Value>,
    Extension(received_at): Extension<ReceivedAt>,
) -> tomodachi::Result<()> {
    tracing::info!(%data, received_at = %received_at.0, "republishing");
    tomodachi::amqp::publish(&data, "example.response").await
}

pub fn service() -> Service {
    let mut options = Options::default();
    options.http.port = 0; // no HTTP handlers here
    Service::builder("amqp-example", AmqpExample)
        .options(options)
        .message_envelope(JsonBase)
        .message_middleware(log_messages)
        .amqp(
            AmqpSubscription::new("example.topic").name("example_func"),
            example_func,
        )
        .build()
}

fn main() -> ExitCode {
    tomodachi::launch([service()])
}
