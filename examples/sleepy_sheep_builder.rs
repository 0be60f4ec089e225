//! `examples/sleepy_sheep.rs` without macros: the same service, routes and options, written
//! with the plain `ServiceBuilder` API the attributes expand to.
//!
//! ```sh
//! cargo run --example sleepy_sheep_builder
//! curl -X POST http://127.0.0.1:9701/sheep
//! curl http://127.0.0.1:9701/sheep
//! ```

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tomodachi::prelude::*;

#[derive(Default)]
pub struct SleepySheep {
    sheep_count: AtomicU64,
}

pub fn options() -> Options {
    let mut options = Options::default();
    options.http.host = "127.0.0.1".into();
    options.http.port = std::env::var("HTTP_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(9701);
    options
}

/// POST /sheep: sleeps up to one second, then counts one more sheep.
async fn add_to_sheep_count(sheep: Arc<SleepySheep>) -> (u16, String) {
    let millis = uuid::Uuid::new_v4().as_u128() % 1000;
    tokio::time::sleep(Duration::from_millis(millis as u64)).await;
    let n = sheep.sheep_count.fetch_add(1, Ordering::SeqCst) + 1;
    (200, n.to_string())
}

/// GET /sheep: the count.
async fn return_sheep_count(sheep: Arc<SleepySheep>) -> (u16, String) {
    (200, sheep.sheep_count.load(Ordering::SeqCst).to_string())
}

pub fn service() -> Service {
    Service::builder("sleepy-sheep-counter", SleepySheep::default())
        .options(options())
        .http(Method::POST, r"/sheep", add_to_sheep_count)
        .http(Method::GET, r"/sheep", return_sheep_count)
        .build()
}

fn main() -> ExitCode {
    tomodachi::launch([service()])
}
