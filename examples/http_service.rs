//! Upstream's README HTTP example ("Basic HTTP based service"), route for route: a regex
//! resource with a named group, a health check answered in the dict form (a status and a body,
//! here the response builder), and a custom 404. Port 9700, upstream's default.
//!
//! ```sh
//! cargo run --example http_service
//! curl http://127.0.0.1:9700/resource/1234    # id = 1234
//! curl http://127.0.0.1:9700/health           # Healthy
//! curl http://127.0.0.1:9700/nothing-here     # error 404
//! ```

use tomodachi::prelude::*;

#[derive(Default)]
struct Service;

#[tomodachi::service(name = "http-example")]
impl Service {
    // Request paths are specified as regex for full flexibility
    #[http(GET, r"/resource/(?P<id>[^/]+?)/?")]
    async fn resource(&self, id: String) -> String {
        // Returning a string value normally means 200 OK
        format!("id = {id}")
    }

    #[http(GET, r"/health")]
    async fn health_check(&self) -> HttpResponse {
        // Return can also be a (status, body) tuple or an HttpResponse for more complex
        // responses - for example to send byte data, set a status code or headers
        HttpResponse::text("Healthy").status(200)
    }

    // Specify custom 404 catch-all response
    #[http_error(status_code = 404)]
    async fn error_404(&self) -> &'static str {
        "error 404"
    }
}

tomodachi::main!(Service);
