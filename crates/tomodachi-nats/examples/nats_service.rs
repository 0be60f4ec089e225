//! A NATS JetStream service: consumes JsonBase messages on `example.nats.in` and republishes
//! each one's data with JsonBase on `example.nats.out`; `GET /health` answers on the HTTP port
//! (from `-c config.json`, as the other examples).
//!
//! ```sh
//! nats-server -js &                          # 127.0.0.1:4222, or set TOMODACHI_NATS_URL
//! cargo run -p tomodachi-nats --example nats_service
//! ```

use std::process::ExitCode;
use std::sync::Arc;

use tomodachi::envelope::JsonBase;
use tomodachi::message::Data;
use tomodachi::Service;
use tomodachi_nats::{NatsConfig, NatsServiceBuilderExt, NatsSubscription};

/// The service instance.
pub struct NatsExample;

/// Republishes the received data to `example.nats.out`.
async fn republish(
    _service: Arc<NatsExample>,
    Data(data): Data<serde_json::Value>,
) -> tomodachi::Result<()> {
    tracing::info!(%data, "republishing");
    tomodachi_nats::publish(&data, "example.nats.out").await
}

fn service() -> Service {
    Service::builder("nats-example", NatsExample)
        .message_envelope(JsonBase)
        .nats_config(NatsConfig::new())
        .nats(
            NatsSubscription::new("example.nats.in").name("republish"),
            republish,
        )
        .http("GET", r"/health", |_s: Arc<NatsExample>| async { "ok" })
        .build()
}

fn main() -> ExitCode {
    tomodachi::launch([service()])
}
