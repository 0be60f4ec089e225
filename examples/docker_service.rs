//! Upstream's docker example service: the execution context at `/`, a health check kept out of
//! the access log, JSON error bodies for 400/404/405, a JSON default content type and a port
//! option (31337; `HTTP_PORT` overrides it, as does `-c config.json` with
//! `{"options": {"http": {"port": 8080}}}`).
//!
//! ```sh
//! cargo run --example docker_service -- --production
//! curl http://127.0.0.1:31337/
//! ```

use serde_json::json;
use tomodachi::prelude::*;

#[derive(Default)]
struct Service;

fn options() -> Options {
    let mut options = Options::default();
    options.http.port = std::env::var("HTTP_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(31337);
    options.http.content_type = "application/json; charset=utf-8".into();
    options
}

#[tomodachi::service(name = "example", options = options())]
impl Service {
    #[http(GET, r"/")]
    async fn index_endpoint(&self) -> String {
        json!({
            "data": "hello world",
            "execution_context": tomodachi::get_execution_context(),
        })
        .to_string()
    }

    #[http(GET, r"/health/?", ignore_logging = true)]
    async fn health_check(&self) -> (u16, String) {
        (200, json!({"status": "healthy"}).to_string())
    }

    #[http_error(status_code = 400)]
    async fn error_400(&self) -> String {
        json!({"error": "bad-request"}).to_string()
    }

    #[http_error(status_code = 404)]
    async fn error_404(&self) -> String {
        json!({"error": "not-found"}).to_string()
    }

    #[http_error(status_code = 405)]
    async fn error_405(&self) -> String {
        json!({"error": "method-not-allowed"}).to_string()
    }
}

tomodachi::main!(Service);
