//! Static files (upstream's `@http_static`): the folder `examples/public` served at `/static/…`
//! and, through a route with its own `filename` group, at `/download/<name>/image`; anything
//! not found answers through the 404 handler.
//!
//! ```sh
//! cargo run --example static_service     # from the repository root: the folder is relative
//! curl -i http://127.0.0.1:9703/static/hello.txt
//! curl -i http://127.0.0.1:9703/static/sub/nested.txt
//! curl -i -H 'Range: bytes=0-4' http://127.0.0.1:9703/static/hello.txt
//! curl -o image.png http://127.0.0.1:9703/download/image.png/image
//! curl -i http://127.0.0.1:9703/static/missing.txt   # error 404
//! ```
//!
//! A relative folder is resolved against the working directory (upstream resolves it against
//! the service's source file). Environment:
//! - `HTTP_PORT`: listening port on 127.0.0.1, default 9703.
//! - `HTTP_ACCESS_LOG`: `1` (default, upstream's default: access log on) or `0`.
//! - `HTTP_KEEPALIVE_TIMEOUT`: keep-alive idle timeout in seconds; `0` (default, like upstream)
//!   turns keep-alive off.

use tomodachi::options::AccessLog;
use tomodachi::prelude::*;

#[derive(Default)]
pub struct StaticService;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn options() -> Options {
    let mut options = Options::default();
    options.http.host = "127.0.0.1".into();
    options.http.port = env_or("HTTP_PORT", 9703);
    options.http.access_log = if env_or("HTTP_ACCESS_LOG", 1u8) == 0 {
        AccessLog::Disabled
    } else {
        AccessLog::Enabled
    };
    options.http.keepalive_timeout = env_or("HTTP_KEEPALIVE_TIMEOUT", 0.0);
    options
}

#[tomodachi::service(name = "static-service", options = options())]
impl StaticService {
    // `/static/hello.txt`, `/static/sub/nested.txt`, ...: the pattern becomes
    // `/static/(?P<filename>.+?)`. The method is never called; its name names the route.
    #[http_static("examples/public", r"/static/")]
    async fn static_files(&self) {}

    // `/download/image.png/image`: the base has its own `filename` group.
    #[http_static("examples/public", r"/download/(?P<filename>[^/]+?)/image")]
    async fn download(&self) {}

    #[http_error(status_code = 404)]
    async fn error_404(&self) -> &'static str {
        "error 404"
    }
}

tomodachi::main!(StaticService);
