//! Log records of a running service, captured in-process: handler context on user logs,
//! access-log records, bad requests and uncaught exceptions.

use crate::support;

use std::sync::Arc;

use serde_json::Value;
use tomodachi::http::{HttpRequest, Method};
use tomodachi::logging::{build_subscriber, CaptureWriter, LogFormat, LogLevel, LoggingConfig};
use tomodachi::{App, Error, Service};

fn records(capture: &CaptureWriter) -> Vec<Value> {
    capture
        .contents()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

// current_thread runtime: every task runs on this thread, under the thread's default subscriber
#[tokio::test]
async fn handler_logs_carry_context_and_access_records_follow_upstream() {
    let capture = CaptureWriter::new();
    let config = LoggingConfig {
        format: LogFormat::Json,
        level: LogLevel::Info,
        color: false,
    };
    let _guard = tracing::subscriber::set_default(build_subscriber(&config, capture.clone()));

    let mut options = support::test_options();
    options.http.access_log = tomodachi::options::AccessLog::Enabled;
    let svc = Service::builder("logs", ())
        .options(options)
        .http_route(
            tomodachi::http::HttpRoute::new(Method::GET, r"/hello").name("hello"),
            |_s: Arc<()>, _r: HttpRequest| async {
                tracing::info!(target: "app", answer = 42, "inside the handler");
                "hi"
            },
        )
        .http_route(
            tomodachi::http::HttpRoute::new(Method::GET, r"/boom").name("boom"),
            |_s: Arc<()>, _r: HttpRequest| async { Err::<&str, _>(Error::msg("kaboom")) },
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    support::get(addr, "/hello").await;
    support::get(addr, "/boom").await;
    support::raw(addr, b"GARBAGE\r\n\r\n").await;
    running.stop().await;

    let recs = records(&capture);
    let inside = recs
        .iter()
        .find(|r| r["message"] == "inside the handler")
        .expect("the handler's record");
    assert_eq!(inside["logger"], "app");
    assert_eq!(inside["handler"], "hello");
    assert_eq!(inside["type"], "tomodachi.http");
    assert_eq!(inside["answer"], 42);

    let exception = recs
        .iter()
        .find(|r| r["logger"] == "exception")
        .expect("the uncaught exception record");
    assert_eq!(exception["message"], "uncaught exception: kaboom");
    assert_eq!(exception["level"], "error");
    assert_eq!(exception["handler"], "boom");

    let access: Vec<&Value> = recs
        .iter()
        .filter(|r| r["logger"] == "tomodachi.http.response")
        .collect();
    assert_eq!(access[0]["status_code"], 200);
    assert_eq!(access[0]["request_path"], "/hello");
    assert_eq!(access[0]["response_content_length"], 2);
    assert_eq!(access[0]["user_agent"], "test-client");
    assert_eq!(access[1]["status_code"], 500);
    let bad = access
        .iter()
        .find(|r| r["message"] == "bad http request")
        .expect("malformed requests are logged");
    assert_eq!(bad["status_code"], 400);

    for msg in [
        "initializing service instance",
        "starting the service",
        "enabled handler functions",
        "started service successfully",
        "stopping service",
        "terminated service",
    ] {
        assert!(recs.iter().any(|r| r["message"] == msg), "missing {msg:?}");
    }
}
