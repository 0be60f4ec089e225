//! OpenTelemetry spans of the AWS SNS+SQS transport over a real moto server, exported to the
//! real OTLP receiver of `opentelemetry.rs`: Rust publish -> Rust handler (SNS and
//! `sqs_send_message`), a failing handler, and one trace across Rust and Python tomodachi 0.29
//! (`tomodachi run --opentelemetry-instrument`, `tests/python/otel_sns_service.py`) both ways,
//! continuing a client's trace over HTTP -> Python -> SNS -> Rust.

use crate::opentelemetry::{get_with, keys, otel_python, provider, Receiver, PARENT, TRACE};
use crate::otel_metrics::meter_provider;
use crate::support::eventually::eventually;
use crate::support::{free_port, moto};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tomodachi::aws_sns_sqs::{PublishOptions, SendOptions, SnsSqsSubscription};
use tomodachi::envelope::JsonBase;
use tomodachi::http::{HttpRequest, Method};
use tomodachi::message::Message;
use tomodachi::telemetry::OpenTelemetry;
use tomodachi::{App, Error, Service};

type Seen = Arc<std::sync::Mutex<Vec<Value>>>;

/// A Rust service over `moto`: `GET /publish` publishes {"from": "rust"} to `topic_out` (with
/// a message attribute), `on_message` collects what arrives on `topic_in`.
fn builder(
    name: &str,
    moto: &moto::Moto,
    topic_in: &str,
    topic_out: &str,
    seen: &Seen,
) -> tomodachi::ServiceBuilder<Seen> {
    let topic_out = topic_out.to_owned();
    Service::builder(name.to_owned(), seen.clone())
        .options(moto.options())
        .message_envelope(JsonBase)
        .http(
            Method::GET,
            r"/publish",
            move |_s: Arc<Seen>, _r: HttpRequest| {
                let topic_out = topic_out.clone();
                async move {
                    tomodachi::aws_sns_sqs::publish_with(
                        &json!({"from": "rust"}),
                        &topic_out,
                        PublishOptions::new().message_attribute("source", "rust"),
                    )
                    .await?;
                    Ok::<_, Error>("published")
                }
            },
        )
        .aws_sns_sqs(
            SnsSqsSubscription::topic(topic_in)
                .competing(true)
                .name("on_message"),
            |s: Arc<Seen>, msg: Message| async move {
                let data: Value = msg.data()?;
                s.lock().unwrap().push(data);
                Ok::<_, Error>(())
            },
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_sqs_spans_link_publish_and_handler_in_one_trace() {
    let moto = moto::Moto::start().await;
    let receiver = Receiver::start();
    let seen: Seen = Arc::default();
    let svc =
        builder("otel-sns", &moto, "otel-sns-in", "otel-sns-in", &seen)
            .http(
                Method::GET,
                r"/send",
                |_s: Arc<Seen>, _r: HttpRequest| async move {
                    tomodachi::aws_sns_sqs::send_message(&json!({"from": "sqs"}), "otel-direct")
                        .await?;
                    tomodachi::aws_sns_sqs::publish(&json!({"from": "fail"}), "otel-sns-fail")
                        .await?;
                    Ok::<_, Error>("sent")
                },
            )
            .http(
                Method::GET,
                r"/send-refused",
                |_s: Arc<Seen>, _r: HttpRequest| async move {
                    // SQS refuses a delay over 900 s
                    tomodachi::aws_sns_sqs::send_message_with(
                        &json!({"from": "sqs"}),
                        "otel-direct",
                        SendOptions::new().delay_seconds(901),
                    )
                    .await?;
                    Ok::<_, Error>("sent")
                },
            )
            .aws_sns_sqs(
                SnsSqsSubscription::queue("otel-direct").name("on_direct"),
                |s: Arc<Seen>, msg: Message| async move {
                    let data: Value = msg.data()?;
                    s.lock().unwrap().push(data);
                    Ok::<_, Error>(())
                },
            )
            .aws_sns_sqs(
                SnsSqsSubscription::topic("otel-sns-fail")
                    .competing(true)
                    .name("on_fail"),
                |_s: Arc<Seen>, _msg: Message| async move {
                    Err::<(), _>(Error::msg("the handler broke"))
                },
            )
            .build();
    let running = App::new()
        .service(svc)
        .opentelemetry(
            OpenTelemetry::with_tracer_provider(provider(&receiver.endpoint(), "otel-sns"))
                .with_meter_provider(meter_provider(&receiver.endpoint(), "otel-sns")),
        )
        .start()
        .await
        .unwrap();
    let addr = running.http_addr(0).unwrap();

    // SNS: SERVER -> PRODUCER -> (notification's message attributes) -> CONSUMER
    assert_eq!(get_with(addr, "/publish", "").await.status, 200);
    let server = receiver.span("GET /publish", |_| true).await;
    let producer = receiver.span("otel-sns-in publish", |_| true).await;
    let consumer = receiver.span("otel-sns-in process", |_| true).await;
    assert_eq!(producer["kind"], "PRODUCER");
    assert_eq!(producer["status"]["code"], "OK");
    let sns_id = producer["attributes"]["messaging.message.id"].clone();
    assert!(sns_id.as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(
        producer["attributes"],
        json!({
            "messaging.system": "aws_sqs",
            "messaging.operation": "publish",
            "messaging.destination.name": "otel-sns-in",
            "messaging.destination.kind": "topic",
            "messaging.message.id": sns_id,
        })
    );
    assert_eq!(consumer["kind"], "CONSUMER");
    assert_eq!(consumer["status"]["code"], "OK");
    let queue = consumer["attributes"]["messaging.destination.name"].clone();
    // a competing consumer's queue: sha256 of the topic
    assert_eq!(queue.as_str().map(str::len), Some(64));
    assert_eq!(
        consumer["attributes"],
        json!({
            "messaging.system": "aws_sqs",
            "messaging.operation": "process",
            "messaging.destination.name": queue,
            "messaging.destination.kind": "queue",
            // the SNS message id, the one the producer got
            "messaging.message.id": sns_id,
            "messaging.destination_publish.name": "otel-sns-in",
            "messaging.destination_publish.kind": "topic",
            "code.function": "on_message",
        })
    );
    assert_eq!(producer["trace_id"], server["trace_id"]);
    assert_eq!(producer["parent_span_id"], server["span_id"]);
    assert_eq!(consumer["trace_id"], server["trace_id"]);
    assert_eq!(consumer["parent_span_id"], producer["span_id"]);

    // SQS SendMessage: the context in the SQS message's own attributes; a queue without a
    // topic names the CONSUMER span " process" (upstream's f"{topic} process" with topic "")
    assert_eq!(get_with(addr, "/send", "").await.status, 200);
    let server = receiver.span("GET /send", |_| true).await;
    let producer = receiver.span("otel-direct publish", |_| true).await;
    let consumer = receiver.span(" process", |_| true).await;
    let sqs_id = producer["attributes"]["messaging.message.id"].clone();
    assert!(sqs_id.as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(producer["kind"], "PRODUCER");
    assert_eq!(
        producer["attributes"],
        json!({
            "messaging.system": "aws_sqs",
            "messaging.operation": "publish",
            "messaging.destination.name": "otel-direct",
            "messaging.destination.kind": "queue",
            "messaging.message.id": sqs_id,
        })
    );
    assert_eq!(consumer["kind"], "CONSUMER");
    assert_eq!(consumer["status"]["code"], "OK");
    assert_eq!(
        consumer["attributes"],
        json!({
            "messaging.system": "aws_sqs",
            "messaging.operation": "process",
            "messaging.destination.name": "otel-direct",
            "messaging.destination.kind": "queue",
            "messaging.message.id": sqs_id,
            "messaging.destination_publish.name": "otel-direct",
            "messaging.destination_publish.kind": "queue",
            "code.function": "on_direct",
        })
    );
    assert_eq!(producer["parent_span_id"], server["span_id"]);
    assert_eq!(consumer["trace_id"], server["trace_id"]);
    assert_eq!(consumer["parent_span_id"], producer["span_id"]);
    eventually(20, "both messages handled", || {
        seen.lock().unwrap().len() == 2
    })
    .await;

    // a failing handler: ERROR, the error as an escaped exception event
    let failed = receiver.span("otel-sns-fail process", |_| true).await;
    assert_eq!(failed["kind"], "CONSUMER");
    assert_eq!(failed["status"]["code"], "ERROR");
    assert_eq!(failed["attributes"]["code.function"], "on_fail");
    let event = &failed["events"][0];
    assert_eq!(event["name"], "exception");
    assert!(event["attributes"]["exception.message"]
        .as_str()
        .is_some_and(|m| m.contains("the handler broke")));
    assert_eq!(event["attributes"]["exception.escaped"], "True");
    assert!(event["attributes"]["exception.stacktrace"].is_string());
    let fail_producer = receiver.span("otel-sns-fail publish", |_| true).await;
    assert_eq!(failed["parent_span_id"], fail_producer["span_id"]);

    // a send the service refuses: the PRODUCER span is ERROR, the error recorded, no message id
    assert_eq!(get_with(addr, "/send-refused", "").await.status, 500);
    let refused = receiver
        .span("otel-direct publish", |s| s["status"]["code"] == "ERROR")
        .await;
    assert!(refused["status"]["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("Error: Unable to send message [sqs] on AWS")));
    assert!(refused["attributes"].get("messaging.message.id").is_none());
    assert_eq!(refused["events"][0]["name"], "exception");
    assert_eq!(
        refused["events"][0]["attributes"]["exception.escaped"],
        "False"
    );

    // upstream's messaging.aws_sqs.* instruments, with each handler's outcome
    let handled = |m: &std::collections::HashMap<String, Value>| {
        m.get("messaging.aws_sqs.duration")
            .and_then(|d| d["data_points"].as_array())
            .is_some_and(|p| p.len() >= 3)
    };
    eventually(20, "the SQS metrics exported", || {
        handled(&receiver.latest("otel-sns"))
    })
    .await;
    let metrics = receiver.latest("otel-sns");
    let points = metrics["messaging.aws_sqs.duration"]["data_points"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let of = |function: &str| {
        points
            .iter()
            .find(|p| p["attributes"]["code.function"] == function)
            .map(|p| p["attributes"].clone())
            .unwrap_or_default()
    };
    assert_eq!(
        of("on_message"),
        json!({
            "messaging.destination.name": queue,
            "messaging.destination.kind": "queue",
            "messaging.destination_publish.name": "otel-sns-in",
            "messaging.destination_publish.kind": "topic",
            "code.function": "on_message",
            "function.success": true,
        })
    );
    assert_eq!(
        of("on_direct")["messaging.destination_publish.kind"],
        "queue"
    );
    assert_eq!(of("on_fail")["function.success"], false);
    assert_eq!(metrics["messaging.aws_sqs.duration"]["unit"], "s");
    assert_eq!(
        metrics["messaging.aws_sqs.active_tasks"]["unit"],
        "{message}"
    );
    running.stop().await;
}

/// `tests/python/otel_sns_service.py` run with `tomodachi run --opentelemetry-instrument`,
/// exporting to `receiver`, over `moto`.
struct PySns {
    child: Child,
    out: PathBuf,
    port: u16,
}

impl PySns {
    async fn start(
        receiver: &Receiver,
        moto: &moto::Moto,
        name: &str,
        topic_in: &str,
        topic_out: &str,
    ) -> PySns {
        let dir = std::env::temp_dir().join(format!("tomodachi-pysns-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/otel_sns_service.py");
        std::fs::copy(&script, dir.join("otel_sns_service.py")).unwrap();
        let out = dir.join("received.jsonl");
        let port = free_port();
        let python = otel_python();
        let child = Command::new(python.parent().unwrap().join("tomodachi"))
            .current_dir(&dir)
            .args([
                "run",
                "otel_sns_service.py",
                "--production",
                "--opentelemetry-instrument",
            ])
            .env("SVC_NAME", name)
            .env("AWS_ENDPOINT", moto.url())
            .env("TOPIC_IN", topic_in)
            .env("TOPIC_OUT", topic_out)
            .env("HTTP_PORT", port.to_string())
            .env("OUT_FILE", &out)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("OTEL_TRACES_EXPORTER", "otlp")
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
            .env("OTEL_BSP_SCHEDULE_DELAY", "50")
            .env_remove("OTEL_SERVICE_NAME")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Python tomodachi");
        let ready = out.with_extension("jsonl.ready");
        eventually(60, "Python tomodachi to start", || ready.exists()).await;
        PySns { child, out, port }
    }

    fn received(&self) -> usize {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .count()
    }
}

impl Drop for PySns {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_across_python_and_rust_tomodachi_over_sns_sqs() {
    let moto = moto::Moto::start().await;
    let receiver = Receiver::start();
    let (py_to_rs, rs_to_py) = ("otel-py2rs", "otel-rs2py");
    let seen: Seen = Arc::default();
    let running = App::new()
        .service(builder("otel-rust", &moto, py_to_rs, rs_to_py, &seen).build())
        .opentelemetry(OpenTelemetry::with_tracer_provider(provider(
            &receiver.endpoint(),
            "otel-rust",
        )))
        .start()
        .await
        .unwrap();
    let rust_addr = running.http_addr(0).unwrap();
    let py = PySns::start(&receiver, &moto, "otel-python", rs_to_py, py_to_rs).await;
    let py_addr: std::net::SocketAddr = format!("127.0.0.1:{}", py.port).parse().unwrap();

    // (a) a client's trace: HTTP -> Python -> SNS -> SQS -> Rust handler
    let traceparent = format!("traceparent: 00-{TRACE}-{PARENT}-01\r\n");
    assert_eq!(
        get_with(py_addr, "/publish", &traceparent).await.status,
        200
    );
    eventually(30, "Python's message in Rust", || {
        seen.lock().unwrap().len() == 1
    })
    .await;
    let py_server = receiver
        .span("GET /publish", |s| {
            s["resource"]["service.name"] == "otel-python"
        })
        .await;
    let py_producer = receiver
        .span(&format!("{py_to_rs} publish"), |_| true)
        .await;
    let rs_consumer = receiver
        .span(&format!("{py_to_rs} process"), |_| true)
        .await;
    assert_eq!(py_server["trace_id"], TRACE);
    assert_eq!(py_server["parent_span_id"], PARENT);
    assert_eq!(py_producer["trace_id"], TRACE);
    assert_eq!(py_producer["parent_span_id"], py_server["span_id"]);
    assert_eq!(rs_consumer["resource"]["service.name"], "otel-rust");
    assert_eq!(rs_consumer["trace_id"], TRACE);
    assert_eq!(rs_consumer["parent_span_id"], py_producer["span_id"]);
    assert_eq!(
        rs_consumer["attributes"]["messaging.message.id"],
        py_producer["attributes"]["messaging.message.id"]
    );

    // (b) Rust HTTP -> Rust publish -> SNS -> SQS -> Python handler
    assert_eq!(get_with(rust_addr, "/publish", "").await.status, 200);
    eventually(30, "Rust's message in Python", || py.received() == 1).await;
    let rs_server = receiver
        .span("GET /publish", |s| {
            s["resource"]["service.name"] == "otel-rust"
        })
        .await;
    let rs_producer = receiver
        .span(&format!("{rs_to_py} publish"), |_| true)
        .await;
    let py_consumer = receiver
        .span(&format!("{rs_to_py} process"), |_| true)
        .await;
    assert_eq!(rs_producer["parent_span_id"], rs_server["span_id"]);
    assert_eq!(py_consumer["resource"]["service.name"], "otel-python");
    assert_eq!(py_consumer["trace_id"], rs_server["trace_id"]);
    assert_eq!(py_consumer["parent_span_id"], rs_producer["span_id"]);
    assert_eq!(
        py_consumer["attributes"]["messaging.message.id"],
        rs_producer["attributes"]["messaging.message.id"]
    );

    // the same requests and messages on both sides: the same span names (up to the topics),
    // kinds, status and attribute keys; no deliberate difference
    for (rs, py) in [
        (&rs_server, &py_server),
        (&rs_producer, &py_producer),
        (&rs_consumer, &py_consumer),
    ] {
        assert_eq!(rs["kind"], py["kind"]);
        assert_eq!(rs["status"]["code"], py["status"]["code"]);
        assert_eq!(keys(rs), keys(py), "{} vs {}", rs["name"], py["name"]);
    }
    for (rs, py) in [(&rs_producer, &py_producer), (&rs_consumer, &py_consumer)] {
        for key in [
            "messaging.system",
            "messaging.operation",
            "messaging.destination.kind",
            "messaging.destination_publish.kind",
            "code.function",
        ] {
            assert_eq!(rs["attributes"][key], py["attributes"][key], "{key}");
        }
    }
    // both competing consumers' queues are named the same way
    assert_eq!(
        rs_consumer["attributes"]["messaging.destination.name"]
            .as_str()
            .map(str::len),
        py_consumer["attributes"]["messaging.destination.name"]
            .as_str()
            .map(str::len),
    );
    running.stop().await;
}
