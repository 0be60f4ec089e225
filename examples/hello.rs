//! HTTP throughput benchmark service: `GET /` answers `hello`. The Rust counterpart of the
//! shared benchmark's Python anchor `py/hello.py`, driven by `benches/http_compare.sh`.
//!
//! ```sh
//! cargo run --release --example hello -- --production
//! curl http://127.0.0.1:9802/
//! ```
//!
//! Environment (same names and defaults as the Python anchor, other port):
//! - `HTTP_PORT`: listening port on 127.0.0.1, default 9802.
//! - `HTTP_ACCESS_LOG`: `1` (default, upstream's default: access log on) or `0`.
//! - `HTTP_KEEPALIVE_TIMEOUT`: keep-alive idle timeout in seconds; `0` (default, like upstream)
//!   turns keep-alive off, so every response carries `Connection: close`.

use tomodachi::options::AccessLog;
use tomodachi::prelude::*;

#[derive(Default)]
struct Hello;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_flag(name: &str, default: bool) -> bool {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => {
            matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
        }
        _ => default,
    }
}

fn options() -> Options {
    let mut options = Options::default();
    options.http.host = "127.0.0.1".into();
    options.http.port = env_or("HTTP_PORT", 9802);
    options.http.access_log = if env_flag("HTTP_ACCESS_LOG", true) {
        AccessLog::Enabled
    } else {
        AccessLog::Disabled
    };
    options.http.keepalive_timeout = env_or("HTTP_KEEPALIVE_TIMEOUT", 0.0);
    options
}

#[tomodachi::service(name = "bench-hello", options = options())]
impl Hello {
    #[http(GET, r"/")]
    async fn hello(&self) -> &'static str {
        "hello"
    }
}

tomodachi::main!(Hello);
