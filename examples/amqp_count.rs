//! The AMQP benchmark service (`benches/amqp_compare.sh`), mirroring the shared baseline's
//! `py/amqp_echo.py` (Python tomodachi 0.29):
//!
//! - service name `bench-amqp-echo`, `message_envelope = JsonBase`;
//! - one handler `on_message` on routing key `bench.in` with the default options, so the same
//!   broker-side names as upstream: exchange `amq.topic` (not declared), a durable queue named
//!   `sha256("bench.in" + "on_message" + service uuid)` with `x-expires` 86 400 000 ms, not
//!   competing, prefetch 100 per consumer + 400 global; it counts every message it handles;
//! - `GET /count` answers the count as plain text; HTTP on 127.0.0.1, access log off (as the
//!   Python anchor's `HTTP_ACCESS_LOG` default, so polling the count does not log).
//!
//! env (as the Python anchor): `HTTP_PORT` (default 9804, the Python anchor's 9704 + 100),
//! `AMQP_HOST` (127.0.0.1), `AMQP_PORT` (5672). The bench runs it with
//! `TOMODACHI_LOGGER=disabled --production`.
//!
//! ```sh
//! cargo build --release -p tomodachi --example amqp_count
//! target/release/examples/amqp_count --production      # then: curl 127.0.0.1:9804/count
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use tomodachi::envelope::JsonBase;
use tomodachi::options::AccessLog;
use tomodachi::Options;

#[derive(Default)]
struct AmqpCount {
    count: AtomicU64,
}

/// `name` parsed from the environment, `default` when unset or unparsable.
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn options() -> Options {
    let mut o = Options::default();
    o.http.host = "127.0.0.1".into();
    o.http.port = env_or("HTTP_PORT", 9804);
    o.http.access_log = AccessLog::Disabled;
    o.amqp.host = env_or("AMQP_HOST", "127.0.0.1".to_owned());
    o.amqp.port = env_or("AMQP_PORT", 5672);
    o
}

#[tomodachi::service(name = "bench-amqp-echo", options = options(), message_envelope = JsonBase)]
impl AmqpCount {
    /// As upstream's `async def on_message(self, data)`: the envelope's `data`, counted.
    #[amqp("bench.in")]
    async fn on_message(&self, data: serde_json::Value) {
        let _ = data;
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    #[http(GET, r"/count")]
    async fn get_count(&self) -> String {
        self.count.load(Ordering::Relaxed).to_string()
    }
}

tomodachi::main!(AmqpCount);
