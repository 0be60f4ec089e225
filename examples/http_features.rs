//! More of the HTTP surface than `http_service.rs` (upstream's README example): regex resources
//! with and without a named group, a slow handler, a JSON response from the response builder, a
//! health check kept out of the access log and a custom 404.
//!
//! ```sh
//! cargo run --example http_features
//! curl http://127.0.0.1:4711/example/1234
//! curl http://127.0.0.1:4711/health
//! curl http://127.0.0.1:4711/nothing-here   # error 404
//! ```

use std::sync::atomic::{AtomicBool, Ordering};

use tomodachi::prelude::*;

struct ExampleHttpService {
    healthy: AtomicBool,
}

impl Default for ExampleHttpService {
    fn default() -> Self {
        Self {
            healthy: AtomicBool::new(true),
        }
    }
}

fn options() -> Options {
    let mut options = Options::default();
    options.http.port = 4711;
    options.http.content_type = "text/plain; charset=utf-8".into();
    options
}

#[tomodachi::service(name = "example-http-service", options = options())]
impl ExampleHttpService {
    #[http(GET, r"/example/?")]
    async fn example(&self) -> &'static str {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        "友達"
    }

    #[http(GET, r"/example/(?P<id>[^/]+?)/?")]
    async fn example_with_id(&self, id: String) -> String {
        format!("友達 (id: {id})")
    }

    #[http(GET, r"/response/?")]
    async fn response_object(&self) -> HttpResponse {
        HttpResponse::text(r#"{"data": true}"#)
            .status(200)
            .content_type("application/json")
    }

    #[http(GET, r"/health/?", ignore_logging = true)]
    async fn health_check(&self) -> HttpResponse {
        if self.healthy.load(Ordering::Relaxed) {
            HttpResponse::text("healthy").status(200)
        } else {
            HttpResponse::text("not healthy").status(503)
        }
    }

    #[http_error(status_code = 404)]
    async fn error_404(&self) -> &'static str {
        "error 404"
    }
}

tomodachi::main!(ExampleHttpService);
