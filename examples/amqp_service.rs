//! Upstream's AMQP example: service `amqp-example` with the JsonBase envelope, consuming
//! `example.topic` on `amq.topic` and republishing what it receives to `example.response`.
//! A message middleware logs every message and hands a value to the handler.
//! `examples/amqp_service_builder.rs` is the same service without macros.
//!
//! ```sh
//! cargo run --example amqp_service                 # RabbitMQ on 127.0.0.1:5672, guest/guest
//! cargo run --example amqp_service -- -c amqp.json # {"options": {"amqp": {"host": "..."}}}
//! ```

use std::sync::Arc;

use tomodachi::envelope::JsonBase;
use tomodachi::message::Extension;
use tomodachi::message::{Message, MessageNext, MessageResult};
use tomodachi::Options;

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

pub fn options() -> Options {
    let mut options = Options::default();
    options.http.port = 0; // no HTTP handlers here
    options
}

#[tomodachi::service(
    name = "amqp-example",
    options = options(),
    message_envelope = JsonBase,
    message_middleware = [log_messages]
)]
impl AmqpExample {
    /// Republishes the received data to `example.response`.
    #[amqp("example.topic")]
    async fn example_func(
        &self,
        data: serde_json::Value,
        received_at: Extension<ReceivedAt>,
    ) -> tomodachi::Result<()> {
        tracing::info!(%data, received_at = %received_at.0 .0, "republishing");
        tomodachi::amqp::publish(&data, "example.response").await
    }
}

tomodachi::main!(AmqpExample);
