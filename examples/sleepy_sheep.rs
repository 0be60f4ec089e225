//! The upstream getting-started service: count sheep over HTTP.
//!
//! ```sh
//! cargo run --example sleepy_sheep
//! curl -X POST http://127.0.0.1:9701/sheep   # sleeps up to 1 s, then answers the new count
//! curl http://127.0.0.1:9701/sheep
//! ```
//! The port is 9701 (as the shared benchmark's anchor) unless `HTTP_PORT` or a `-c` config file
//! says otherwise. `examples/sleepy_sheep_builder.rs` is the same service without macros.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tomodachi::prelude::*;

#[derive(Default)]
pub struct SleepySheep {
    sheep_count: AtomicU64,
}

impl SleepySheep {
    pub fn options() -> Options {
        let mut options = Options::default();
        options.http.host = "127.0.0.1".into();
        options.http.port = std::env::var("HTTP_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(9701);
        options
    }
}

#[tomodachi::service(name = "sleepy-sheep-counter", options = Self::options())]
impl SleepySheep {
    #[http(POST, r"/sheep")]
    async fn add_to_sheep_count(&self) -> (u16, String) {
        // up to one second, like upstream's `asyncio.sleep(random.random())`
        let millis = uuid::Uuid::new_v4().as_u128() % 1000;
        tokio::time::sleep(Duration::from_millis(millis as u64)).await;
        let n = self.sheep_count.fetch_add(1, Ordering::SeqCst) + 1;
        (200, n.to_string())
    }

    #[http(GET, r"/sheep")]
    async fn return_sheep_count(&self) -> (u16, String) {
        (200, self.sheep_count.load(Ordering::SeqCst).to_string())
    }
}

tomodachi::main!(SleepySheep);
