//! The SNS+SQS benchmark service, mirroring the shared baseline's `py/sns_sqs_echo.py`:
//! `#[aws_sns_sqs("bench-topic", queue_name = "bench-queue")]` with the JsonBase envelope,
//! counting messages, the count as plain text on `GET /count`.
//!
//! env: `HTTP_PORT` (default 9715), `AWS_ENDPOINT` (default `http://127.0.0.1:5000`).
//!
//! ```sh
//! cargo run --release --example sns_sqs_count
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use tomodachi::envelope::JsonBase;
use tomodachi::Options;

#[derive(Default)]
struct SnsSqsCount {
    count: AtomicU64,
}

fn options() -> Options {
    let endpoint =
        std::env::var("AWS_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:5000".to_owned());
    let mut o = Options::default();
    o.http.host = "127.0.0.1".into();
    o.http.port = std::env::var("HTTP_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(9715);
    o.http.access_log = tomodachi::options::AccessLog::Disabled;
    o.aws_sns_sqs.region_name = Some("eu-west-1".into());
    o.aws_sns_sqs.aws_access_key_id = Some("AKIDBENCHDUMMY".into());
    o.aws_sns_sqs.aws_secret_access_key = Some("bench-dummy-secret".into());
    o.aws_endpoint_urls.sns = Some(endpoint.clone());
    o.aws_endpoint_urls.sqs = Some(endpoint);
    o
}

#[tomodachi::service(name = "bench-sns-sqs-echo", options = options(), message_envelope = JsonBase)]
impl SnsSqsCount {
    #[aws_sns_sqs("bench-topic", queue_name = "bench-queue")]
    async fn on_message(&self, data: serde_json::Value) {
        let _ = data;
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    #[http(GET, r"/count")]
    async fn get_count(&self) -> String {
        self.count.load(Ordering::Relaxed).to_string()
    }
}

tomodachi::main!(SnsSqsCount);
