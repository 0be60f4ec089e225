//! A NATS JetStream service: consumes JsonBase messages on `example.nats.in` and republishes
//! each one's data with JsonBase on `example.nats.out` (a plain core-NATS subscriber sees it);
//! `GET /health` answers on the HTTP port. The HTTP port and the NATS servers come from
//! `-c config.json`, as for the other examples:
//!
//! ```sh
//! nats-server -js &                          # 127.0.0.1:4222, or set TOMODACHI_NATS_URL
//! echo '{"options": {"http": {"port": 9711}, "nats": {"servers": ["nats://127.0.0.1:4222"]}}}' > nats.json
//! cargo run -p tomodachi-nats --example nats_service -- -c nats.json
//! ```

use std::process::ExitCode;

use serde_json::Value;
use tomodachi::envelope::JsonBase;

/// The service instance.
#[derive(Default)]
pub struct NatsExample;

#[tomodachi::service(name = "nats-example", message_envelope = JsonBase)]
impl NatsExample {
    /// Republishes the received data to `example.nats.out`.
    #[nats("example.nats.in", name = "republish")]
    async fn republish(&self, data: Value) -> tomodachi::Result<()> {
        tracing::info!(%data, "republishing");
        tomodachi_nats::publish(&data, "example.nats.out").await
    }

    #[http(GET, r"/health")]
    async fn health(&self) -> &'static str {
        "ok"
    }
}

fn main() -> ExitCode {
    tomodachi::launch([NatsExample])
}
