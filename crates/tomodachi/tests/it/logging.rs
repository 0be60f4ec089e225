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

fn console_capture() -> (CaptureWriter, tracing::subscriber::DefaultGuard) {
    support::capture_logs(LogFormat::Console)
}

// A request path with spaces and `=` cannot forge access-log fields: read back by a logfmt
// parser, the line has one status_code and one remote_ip, the real ones.
#[tokio::test]
async fn a_forged_request_path_cannot_add_access_log_fields() {
    let (capture, _guard) = console_capture();
    let mut options = support::test_options();
    options.http.access_log = tomodachi::options::AccessLog::Enabled;
    let svc = Service::builder("forged", ())
        .options(options)
        .http_route(
            tomodachi::http::HttpRoute::new(Method::GET, r"/hello"),
            |_s: Arc<()>, _r: HttpRequest| async { "hi" },
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    let resp = support::raw(
        addr,
        b"GET /x%20status_code=200%20remote_ip=10.0.0.1 HTTP/1.1\r\nHost: localhost\r\n\
          User-Agent: evil remote_ip=10.9.9.9\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(resp.status, 404);
    running.stop().await;

    let out = capture.contents();
    let line = out
        .lines()
        .find(|l| l.contains("[tomodachi.http.response]"))
        .unwrap_or_else(|| panic!("no access log line in {out}"));
    let pairs = logfmt::parse(line);
    let values = |key: &str| -> Vec<Option<String>> {
        pairs
            .iter()
            .filter(|p| p.key == key)
            .map(|p| p.val.clone())
            .collect()
    };
    assert_eq!(values("status_code"), [Some("404".to_owned())], "{line}");
    assert_eq!(
        values("remote_ip"),
        [Some("127.0.0.1".to_owned())],
        "{line}"
    );
    assert_eq!(
        values("request_path"),
        [Some("/x status_code=200 remote_ip=10.0.0.1".to_owned())],
        "{line}"
    );
    assert_eq!(
        values("user_agent"),
        [Some("evil remote_ip=10.9.9.9".to_owned())],
        "{line}"
    );
}

// A JsonBase message with a 5 MiB message_uuid, over the real RabbitMQ: the handler's line
// that logs the uuid and the framework's line that logs the handler's reason stay under the
// line cap, both in the console format.
#[tokio::test]
async fn a_message_with_a_huge_uuid_writes_no_line_over_the_cap() {
    use tomodachi::amqp::AmqpSubscription;
    use tomodachi::envelope::{Envelope, JsonBase, Payload, ServiceIdentity};
    use tomodachi::message::Message;

    let (capture, _guard) = console_capture();
    let rk = format!("test.huge-uuid.{}", uuid::Uuid::new_v4().simple());
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let svc = Service::builder("huge-uuid", done_tx)
        .options(support::test_options())
        .message_envelope(JsonBase)
        .amqp(
            AmqpSubscription::new(rk.clone()).name("on_message"),
            |done: Arc<tokio::sync::mpsc::UnboundedSender<usize>>, msg: Message| async move {
                let uuid = msg.message_uuid().unwrap_or_default().to_owned();
                tracing::info!(target: "app", message_uuid = %uuid, "message received");
                let _ = done.send(uuid.len());
                Err::<(), _>(Error::discard(format!("not wanted: {uuid}")))
            },
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();

    let body = JsonBase
        .build_message(
            &ServiceIdentity::new("sender", "0a1b"),
            &rk,
            &Payload::from_serialize(&serde_json::json!({"n": 1})).unwrap(),
        )
        .unwrap();
    let mut doc: Value = serde_json::from_str(&body).unwrap();
    let huge = "u".repeat(5 * 1024 * 1024);
    doc["metadata"]["message_uuid"] = Value::from(huge.as_str());
    support::publish_raw_amqp(&rk, &serde_json::to_vec(&doc).unwrap()).await;
    let seen = tokio::time::timeout(std::time::Duration::from_secs(20), done_rx.recv())
        .await
        .expect("the message is handled")
        .unwrap();
    assert_eq!(seen, huge.len());
    // The discard verdict is logged after the handler returns.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    running.stop().await;

    let out = capture.contents();
    let cap = tomodachi::logging::DEFAULT_MAX_LINE_LENGTH;
    let longest = out.lines().map(str::len).max().unwrap_or(0);
    assert!(longest <= cap, "a line of {longest} bytes (cap {cap})");
    let received = out
        .lines()
        .find(|l| l.contains("message received"))
        .expect("the handler's line");
    assert!(
        received.ends_with(&format!("…(+{} bytes)\"", huge.len() - 4096)),
        "{}",
        &received[received.len() - 80..]
    );
    let dropped = out
        .lines()
        .find(|l| l.contains("message dropped"))
        .expect("the framework's line");
    assert!(dropped.contains(" bytes)\""), "{}", &dropped[..200]);
    assert!(out.len() < 64 * 1024, "{} bytes of log", out.len());
}

// `Authorization: Basic` logs its login as `auth_user`, right after `remote_ip`, in both
// formats (upstream's field order); no header, no field.
#[tokio::test]
async fn basic_auth_logins_are_logged_as_auth_user() {
    for format in [LogFormat::Console, LogFormat::Json] {
        let (capture, _guard) = support::capture_logs(format);
        let mut options = support::test_options();
        options.http.access_log = tomodachi::options::AccessLog::Enabled;
        let svc = Service::builder("auth-user", ())
            .options(options)
            .http(Method::GET, r"/p", |_s: Arc<()>| async { "p" })
            .build();
        let running = App::new().service(svc).start().await.unwrap();
        let addr = running.http_addr(0).unwrap();
        // base64("authuser:secret")
        let with = support::raw(
            addr,
            b"GET /p HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic YXV0aHVzZXI6c2VjcmV0\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_eq!(with.status, 200);
        assert_eq!(support::get(addr, "/p").await.status, 200);
        running.stop().await;
        let out = capture.contents();
        let lines: Vec<&str> = out
            .lines()
            .filter(|l| l.contains("tomodachi.http.response"))
            .collect();
        assert_eq!(lines.len(), 2, "{out}");
        let expected = match format {
            LogFormat::Json => {
                r#""remote_ip": "127.0.0.1", "auth_user": "authuser", "request_method": "GET""#
            }
            _ => "remote_ip=127.0.0.1 auth_user=authuser request_method=GET",
        };
        assert!(lines[0].contains(expected), "{}", lines[0]);
        assert!(!lines[1].contains("auth_user"), "{}", lines[1]);
    }
}

// The graceful stop says what it waits for, with upstream's messages and fields.
#[tokio::test]
async fn the_drain_logs_what_it_awaits() {
    let (capture, _guard) = console_capture();
    let mut options = support::test_options();
    options.http.keepalive_timeout = 5.0;
    options.http.termination_grace_period_seconds = 7;
    let started = Arc::new(tokio::sync::Notify::new());
    let svc = tomodachi::ServiceBuilder::from_arc("drain-lines", started.clone())
        .options(options)
        .http(
            Method::GET,
            r"/slow",
            |started: Arc<tokio::sync::Notify>| async move {
                started.notify_one();
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                "done"
            },
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    let request = tokio::spawn(support::get(addr, "/slow"));
    // the request is in its handler when the stop begins
    started.notified().await;
    running.stop().await;
    assert_eq!(request.await.unwrap().text(), "done");
    let out = capture.contents();
    let line = out
        .lines()
        .find(|l| l.contains("awaiting requests to complete"))
        .unwrap_or_else(|| panic!("no drain line in {out}"));
    assert!(line.contains("request_count=1"), "{line}");
    assert!(line.contains("grace_period_seconds=7"), "{line}");
    assert!(
        out.lines()
            .any(|l| l.contains("awaiting keep-alive connections")
                && l.contains("connection_count=1")),
        "{out}"
    );
}

// A client that goes away while its handler runs: the handler finishes (it is not cancelled)
// and the access log says 499 with the real status as `replaced_status_code`, as upstream.
#[tokio::test]
async fn a_client_gone_before_the_response_is_logged_as_499() {
    let (capture, _guard) = console_capture();
    let mut options = support::test_options();
    options.http.access_log = tomodachi::options::AccessLog::Enabled;
    let started = Arc::new(tokio::sync::Notify::new());
    let finished = Arc::new(tokio::sync::Notify::new());
    let state = (started.clone(), finished.clone());
    let svc = tomodachi::ServiceBuilder::new("gone", state)
        .options(options)
        .http(
            Method::GET,
            r"/slow",
            |s: Arc<(Arc<tokio::sync::Notify>, Arc<tokio::sync::Notify>)>| async move {
                s.0.notify_one();
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                s.1.notify_one();
                (201, "too late")
            },
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut client,
        b"GET /slow HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    started.notified().await;
    drop(client); // the client gives up
    finished.notified().await;
    // a request after it is logged as usual
    assert_eq!(support::get(addr, "/nothing").await.status, 404);
    running.stop().await;
    let out = capture.contents();
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("[tomodachi.http.response]"))
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    let gone = lines.iter().find(|l| l.contains("/slow")).unwrap();
    assert!(
        gone.contains("status_code=499 replaced_status_code=201 remote_ip=127.0.0.1"),
        "{gone}"
    );
    let normal = lines.iter().find(|l| l.contains("/nothing")).unwrap();
    assert!(normal.contains("status_code=404 remote_ip"), "{normal}");
}
