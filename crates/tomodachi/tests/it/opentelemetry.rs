//! OpenTelemetry tracing (feature `opentelemetry`) against a real OTLP/HTTP receiver
//! (`tests/fixtures/otlp_receiver.py`, on the official `opentelemetry-proto` messages, in
//! `.venv-otel` from `scripts/test-env.sh`): upstream's span names, kinds, attributes and status
//! rules, W3C trace context over HTTP headers and AMQP headers (real RabbitMQ), a stuck
//! collector that never slows a handler, `--opentelemetry-instrument` on an example binary, and
//! one trace across Rust and Python tomodachi 0.29 (`tomodachi run --opentelemetry-instrument`).

use crate::support;

use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use support::eventually::eventually;
use support::{free_port, raw, test_options};
use tomodachi::amqp::AmqpSubscription;
use tomodachi::envelope::JsonBase;
use tomodachi::http::{HttpRequest, Method};
use tomodachi::message::Message;
use tomodachi::telemetry::opentelemetry_otlp::{Protocol, WithExportConfig};
use tomodachi::telemetry::opentelemetry_sdk::trace::SdkTracerProvider;
use tomodachi::telemetry::opentelemetry_sdk::Resource;
use tomodachi::telemetry::OpenTelemetry;
use tomodachi::{App, Error, Service};

/// The venv with `opentelemetry-proto` and tomodachi[opentelemetry] (`TOMODACHI_TEST_OTEL_PYTHON`).
pub(crate) fn otel_python() -> PathBuf {
    let python = std::env::var_os("TOMODACHI_TEST_OTEL_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-otel/bin/python")
        });
    let ok = Command::new(&python)
        .args(["-c", "import tomodachi.opentelemetry, opentelemetry.proto"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} cannot import tomodachi.opentelemetry and opentelemetry.proto: run `. scripts/test-env.sh`",
        python.display()
    );
    python
}

/// The OTLP receiver: a Python process writing every span it gets as a JSON line.
pub(crate) struct Receiver {
    child: Child,
    port: u16,
    pub(crate) out: PathBuf,
}

impl Receiver {
    /// The OTLP/HTTP receiver.
    pub(crate) fn start() -> Receiver {
        Self::start_with(&[])
    }

    /// The OTLP/gRPC receiver (`--grpc`): the same output files.
    pub(crate) fn start_grpc() -> Receiver {
        Self::start_with(&["--grpc"])
    }

    fn start_with(args: &[&str]) -> Receiver {
        let dir = std::env::temp_dir().join(format!("tomodachi-otlp-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        let out = dir.join("spans.jsonl");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/otlp_receiver.py");
        let mut child = Command::new(otel_python())
            .arg(script)
            .arg(&out)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the OTLP receiver");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the receiver's port");
        let port = line.trim().parse().expect("a port number");
        Receiver { child, port, out }
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn spans(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits for a span named `name` (and matching `also`).
    pub(crate) async fn span(&self, name: &str, also: impl Fn(&Value) -> bool) -> Value {
        let mut found = None;
        eventually(20, &format!("a span named {name:?}"), || {
            found = self
                .spans()
                .into_iter()
                .find(|s| s["name"] == name && also(s));
            found.is_some()
        })
        .await;
        found.expect("found")
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A provider exporting to the receiver over OTLP/HTTP, batched as in production but every
/// 50 ms.
pub(crate) fn provider(endpoint: &str, service: &str) -> SdkTracerProvider {
    let exporter = tomodachi::telemetry::opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("{endpoint}/v1/traces"))
        .build()
        .expect("an OTLP exporter");
    let processor =
        tomodachi::telemetry::opentelemetry_sdk::trace::BatchSpanProcessor::builder(exporter)
            .with_batch_config(
                tomodachi::telemetry::opentelemetry_sdk::trace::BatchConfigBuilder::default()
                    .with_scheduled_delay(Duration::from_millis(50))
                    .build(),
            )
            .build();
    SdkTracerProvider::builder()
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .with_span_processor(processor)
        .build()
}

struct Api;

fn http_service(name: &str) -> Service {
    Service::builder(name.to_owned(), Api)
        .options(test_options())
        .http(
            Method::GET,
            r"/resource/(?P<id>[^/]+?)/?",
            |_a: Arc<Api>, r: HttpRequest| async move {
                format!("id = {}", r.param("id").unwrap_or_default())
            },
        )
        .http(
            Method::GET,
            r"/health",
            |_a: Arc<Api>, _r: HttpRequest| async { "healthy" },
        )
        .http(
            Method::GET,
            r"/fail",
            |_a: Arc<Api>, _r: HttpRequest| async { Err::<&str, _>(Error::msg("it broke")) },
        )
        .build()
}

pub(crate) async fn get_with(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &str,
) -> support::Resp {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost:{}\r\nUser-Agent: otel-test\r\n{headers}Connection: close\r\n\r\n",
        addr.port()
    );
    raw(addr, req.as_bytes()).await
}

pub(crate) fn keys(span: &Value) -> BTreeSet<String> {
    span["attributes"]
        .as_object()
        .map(|a| a.keys().cloned().collect())
        .unwrap_or_default()
}

pub(crate) const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
pub(crate) const PARENT: &str = "b7ad6b7169203331";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_server_spans_have_upstreams_names_attributes_and_status() {
    let receiver = Receiver::start();
    let provider = provider(&receiver.endpoint(), "otel-http");
    let running = App::new()
        .service(http_service("otel-http"))
        .opentelemetry(OpenTelemetry::with_tracer_provider(provider).excluded_urls("/health"))
        .start()
        .await
        .unwrap();
    let addr = running.http_addr(0).unwrap();

    let traceparent = format!("traceparent: 00-{TRACE}-{PARENT}-01\r\ntracestate: k=v\r\n");
    let r = get_with(addr, "/resource/abc?x=1", &traceparent).await;
    assert_eq!((r.status, r.text().as_str()), (200, "id = abc"));
    let span = receiver
        .span("GET /resource/(?P<id>[^/]+?)/?", |_| true)
        .await;
    assert_eq!(span["kind"], "SERVER");
    // the remote parent is continued
    assert_eq!(span["trace_id"], TRACE);
    assert_eq!(span["parent_span_id"], PARENT);
    assert_eq!(span["status"]["code"], "UNSET");
    let a = &span["attributes"];
    assert_eq!(a["http.request.method"], "GET");
    assert_eq!(a["http.route"], "/resource/(?P<id>[^/]+?)/?");
    assert_eq!(a["server.address"], "localhost");
    assert_eq!(a["server.port"], addr.port());
    assert_eq!(a["url.scheme"], "http");
    assert_eq!(a["url.path"], "/resource/abc");
    assert_eq!(a["url.query"], "x=1");
    assert_eq!(a["user_agent.original"], "otel-test");
    assert_eq!(a["client.address"], "127.0.0.1");
    assert_eq!(a["client.socket.address"], "127.0.0.1");
    assert!(a["client.socket.port"].as_u64().is_some());
    assert_eq!(a["server.socket.address"], "127.0.0.1");
    assert_eq!(a["server.socket.port"], addr.port());
    assert_eq!(a["network.protocol.version"], "1.1");
    assert_eq!(a["network.protocol.name"], "http");
    assert_eq!(a["http.response.status_code"], 200);
    assert_eq!(span["scope"]["name"], "tomodachi");
    assert_eq!(span["resource"]["service.name"], "otel-http");

    // a malformed traceparent starts a new trace; the request is answered as usual
    let r = get_with(addr, "/resource/bad", "traceparent: 00-zzzz-nope-01\r\n").await;
    assert_eq!(r.status, 200);
    let span = receiver
        .span("GET /resource/(?P<id>[^/]+?)/?", |s| {
            s["attributes"]["url.path"] == "/resource/bad"
        })
        .await;
    assert_ne!(span["trace_id"], TRACE);
    assert_eq!(span["parent_span_id"], "");

    // a handler error: a 500, status ERROR, the error as an exception event
    let r = get_with(addr, "/fail", "").await;
    assert_eq!(r.status, 500);
    let span = receiver.span("GET /fail", |_| true).await;
    assert_eq!(span["status"]["code"], "ERROR");
    assert_eq!(span["attributes"]["http.response.status_code"], 500);
    let event = &span["events"][0];
    assert_eq!(event["name"], "exception");
    assert_eq!(event["attributes"]["exception.message"], "it broke");
    assert_eq!(event["attributes"]["exception.escaped"], "False");
    assert!(event["attributes"]["exception.stacktrace"].is_string());

    // no route: the span is named by the method alone
    let r = get_with(addr, "/nothing", "").await;
    assert_eq!(r.status, 404);
    let span = receiver.span("GET", |_| true).await;
    assert!(span["attributes"].get("http.route").is_none());
    assert_eq!(span["attributes"]["http.response.status_code"], 404);
    assert_eq!(span["status"]["code"], "UNSET");

    // an excluded URL gets no span (the request after it does)
    assert_eq!(get_with(addr, "/health", "").await.status, 200);
    assert_eq!(get_with(addr, "/resource/last", "").await.status, 200);
    receiver
        .span("GET /resource/(?P<id>[^/]+?)/?", |s| {
            s["attributes"]["url.path"] == "/resource/last"
        })
        .await;
    assert!(
        !receiver
            .spans()
            .iter()
            .any(|s| s["attributes"]["url.path"] == "/health"),
        "no span for an excluded URL"
    );
    running.stop().await;
}

pub(crate) type Seen = Arc<std::sync::Mutex<Vec<Value>>>;

/// A service that publishes to `rk_out` from `GET /publish` and collects what arrives on
/// `rk_in`.
fn amqp_service(name: &str, rk_in: &str, rk_out: &str, seen: &Seen) -> Service {
    let rk_out = rk_out.to_owned();
    Service::builder(name.to_owned(), seen.clone())
        .options(test_options())
        .message_envelope(JsonBase)
        .http(
            Method::GET,
            r"/publish",
            move |_s: Arc<Seen>, _r: HttpRequest| {
                let rk_out = rk_out.clone();
                async move {
                    tomodachi::amqp::publish(&serde_json::json!({"from": "rust"}), &rk_out).await?;
                    Ok::<_, Error>("published")
                }
            },
        )
        .amqp(
            AmqpSubscription::new(rk_in).name("on_message"),
            |s: Arc<Seen>, msg: Message| async move {
                let data: Value = msg.data()?;
                s.lock().unwrap().push(data);
                Ok::<_, Error>(())
            },
        )
        .build()
}

pub(crate) fn unique(prefix: &str) -> String {
    format!("{prefix}.{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_publish_injects_the_context_and_the_consumer_continues_the_trace() {
    let receiver = Receiver::start();
    let rk = unique("otel.rs2rs");
    let seen: Seen = Arc::default();
    let running = App::new()
        .service(amqp_service("otel-amqp", &rk, &rk, &seen))
        .opentelemetry(OpenTelemetry::with_tracer_provider(provider(
            &receiver.endpoint(),
            "otel-amqp",
        )))
        .start()
        .await
        .unwrap();
    let addr = running.http_addr(0).unwrap();
    let r = get_with(addr, "/publish", "").await;
    assert_eq!(r.status, 200);
    eventually(20, "the message", || seen.lock().unwrap().len() == 1).await;
    let server = receiver.span("GET /publish", |_| true).await;
    let producer = receiver.span(&format!("{rk} publish"), |_| true).await;
    let consumer = receiver.span(&format!("{rk} process"), |_| true).await;
    assert_eq!(producer["kind"], "PRODUCER");
    assert_eq!(producer["status"]["code"], "OK");
    assert_eq!(
        producer["attributes"],
        serde_json::json!({
            "messaging.system": "rabbitmq",
            "messaging.operation": "publish",
            "messaging.destination.name": "amq.topic",
            "messaging.rabbitmq.destination.routing_key": rk,
        })
    );
    assert_eq!(consumer["kind"], "CONSUMER");
    assert_eq!(consumer["status"]["code"], "OK");
    assert_eq!(
        consumer["attributes"],
        serde_json::json!({
            "messaging.system": "rabbitmq",
            "messaging.operation": "process",
            "messaging.destination.name": "amq.topic",
            "messaging.rabbitmq.destination.routing_key": rk,
            "code.function": "on_message",
        })
    );
    // one trace: SERVER -> PRODUCER -> (headers) -> CONSUMER
    assert_eq!(producer["trace_id"], server["trace_id"]);
    assert_eq!(producer["parent_span_id"], server["span_id"]);
    assert_eq!(consumer["trace_id"], server["trace_id"]);
    assert_eq!(consumer["parent_span_id"], producer["span_id"]);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_collector_does_not_hold_up_handlers() {
    // a collector that accepts connections and never answers
    let stuck = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", stuck.local_addr().unwrap());
    let exporter = tomodachi::telemetry::opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("{endpoint}/v1/traces"))
        .with_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let processor =
        tomodachi::telemetry::opentelemetry_sdk::trace::BatchSpanProcessor::builder(exporter)
            .with_batch_config(
                tomodachi::telemetry::opentelemetry_sdk::trace::BatchConfigBuilder::default()
                    .with_scheduled_delay(Duration::from_millis(10))
                    .with_max_queue_size(64)
                    .with_max_export_batch_size(8)
                    .build(),
            )
            .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let running = App::new()
        .service(http_service("otel-stuck"))
        .opentelemetry(OpenTelemetry::with_tracer_provider(provider.clone()))
        .start()
        .await
        .unwrap();
    let addr = running.http_addr(0).unwrap();
    // far more spans than the queue holds, while the first export hangs
    let all = async {
        for i in 0..300 {
            let r = get_with(addr, &format!("/resource/{i}"), "").await;
            assert_eq!(r.status, 200);
        }
    };
    tokio::time::timeout(Duration::from_secs(30), all)
        .await
        .expect("requests are answered while the collector hangs");
    // the exporter was (and is) stuck in its first request: answering it with a closed
    // connection lets the app stop
    stuck.set_nonblocking(true).unwrap();
    let mut connected = false;
    for _ in 0..100 {
        if let Ok((conn, _)) = stuck.accept() {
            drop(conn);
            connected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(connected, "the exporter tried to export");
    running.stop().await;
    drop(stuck);
}

/// The `http_service` example as a process with `--opentelemetry-instrument` and the `OTEL_*`
/// variables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flag_instruments_a_binary_from_the_otel_variables() {
    let receiver = Receiver::start();
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("tomodachi-otel-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("config.json");
    std::fs::write(
        &cfg,
        format!(r#"{{"uuid": "otel-uuid-1", "options": {{"http": {{"port": {port}, "host": "0.0.0.0"}}}}}}"#),
    )
    .unwrap();
    for (flag, env_on) in [(true, "0"), (false, "1")] {
        let mut cmd = Command::new(support::examples::example_bin("http_service"));
        if flag {
            cmd.arg("--opentelemetry-instrument");
        }
        let mut child = cmd
            .args(["-c", cfg.to_str().unwrap(), "--logger", "disabled"])
            .env("TOMODACHI_OPENTELEMETRY_INSTRUMENT", env_on)
            .env("OTEL_TRACES_EXPORTER", "otlp")
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
            .env("OTEL_BSP_SCHEDULE_DELAY", "50")
            .env_remove("OTEL_SERVICE_NAME")
            .env_remove("OTEL_RESOURCE_ATTRIBUTES")
            .env_remove("TOMODACHI_LOGGER")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let path = format!("/resource/flag-{flag}");
        let mut answered = false;
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                answered = get_with(addr, &path, "").await.status == 200;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(answered, "the example answers");
        let span = receiver
            .span("GET /resource/(?P<id>[^/]+?)/?", |s| {
                s["attributes"]["url.path"] == path.as_str()
            })
            .await;
        assert_eq!(span["kind"], "SERVER");
        // the accepted socket's address, not the listener's 0.0.0.0 (as upstream)
        assert_eq!(span["attributes"]["server.socket.address"], "127.0.0.1");
        assert_eq!(span["resource"]["service.name"], "http-example");
        assert_eq!(span["resource"]["service.instance.id"], "otel-uuid-1");
        assert_eq!(span["resource"]["telemetry.sdk.language"], "rust");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
    }
}

/// A Python tomodachi 0.29 service (`tests/python/otel_service.py`) run with
/// `tomodachi run --opentelemetry-instrument`, exporting to `receiver`.
pub(crate) struct PyOtel {
    child: Child,
    out: PathBuf,
    pub(crate) port: u16,
}

impl PyOtel {
    async fn start(receiver: &Receiver, name: &str, rk_in: &str, rk_out: &str) -> PyOtel {
        Self::start_with(receiver, name, rk_in, rk_out, &[]).await
    }

    /// As [`start`](Self::start), with more environment variables (the metrics tests').
    pub(crate) async fn start_with(
        receiver: &Receiver,
        name: &str,
        rk_in: &str,
        rk_out: &str,
        env: &[(&str, String)],
    ) -> PyOtel {
        let dir = std::env::temp_dir().join(format!("tomodachi-pyotel-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/otel_service.py");
        std::fs::copy(&script, dir.join("otel_service.py")).unwrap();
        let out = dir.join("received.jsonl");
        let port = free_port();
        let python = otel_python();
        let child = Command::new(python.parent().unwrap().join("tomodachi"))
            .current_dir(&dir)
            .args([
                "run",
                "otel_service.py",
                "--production",
                "--opentelemetry-instrument",
            ])
            .env("SVC_NAME", name)
            .env("RK_IN", rk_in)
            .env("RK_OUT", rk_out)
            .env("HTTP_PORT", port.to_string())
            .env("OUT_FILE", &out)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("OTEL_TRACES_EXPORTER", "otlp")
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
            .env("OTEL_BSP_SCHEDULE_DELAY", "50")
            .env_remove("OTEL_SERVICE_NAME")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Python tomodachi");
        let ready = out.with_extension("jsonl.ready");
        eventually(30, "Python tomodachi to start", || ready.exists()).await;
        PyOtel { child, out, port }
    }

    pub(crate) fn received(&self) -> usize {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .count()
    }
}

impl Drop for PyOtel {
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
async fn one_trace_across_python_and_rust_tomodachi() {
    let receiver = Receiver::start();
    let py_to_rs = unique("otel.py2rs");
    let rs_to_py = unique("otel.rs2py");
    let seen: Seen = Arc::default();
    let running = App::new()
        .service(amqp_service("otel-rust", &py_to_rs, &rs_to_py, &seen))
        .opentelemetry(OpenTelemetry::with_tracer_provider(provider(
            &receiver.endpoint(),
            "otel-rust",
        )))
        .start()
        .await
        .unwrap();
    let rust_addr = running.http_addr(0).unwrap();
    let py = PyOtel::start(&receiver, "otel-python", &rs_to_py, &py_to_rs).await;
    let py_addr: std::net::SocketAddr = format!("127.0.0.1:{}", py.port).parse().unwrap();

    // (a) Python HTTP -> Python publish -> Rust consumer, continuing a client's trace
    let traceparent = format!("traceparent: 00-{TRACE}-{PARENT}-01\r\n");
    assert_eq!(
        get_with(py_addr, "/publish", &traceparent).await.status,
        200
    );
    eventually(20, "Python's message in Rust", || {
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

    // (b) Rust HTTP -> Rust publish -> Python consumer
    assert_eq!(get_with(rust_addr, "/publish", "").await.status, 200);
    eventually(20, "Rust's message in Python", || py.received() == 1).await;
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

    // the same requests and messages on both sides: the same span names (up to the routing
    // keys), kinds, attribute keys and status
    for (rs, py) in [
        (&rs_server, &py_server),
        (&rs_producer, &py_producer),
        (&rs_consumer, &py_consumer),
    ] {
        assert_eq!(rs["kind"], py["kind"]);
        assert_eq!(rs["status"]["code"], py["status"]["code"]);
        assert_eq!(keys(rs), keys(py), "{} vs {}", rs["name"], py["name"]);
    }
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_functions_run_in_internal_spans() {
    use tomodachi::schedule::{Invocation, ScheduleSpec};
    let receiver = Receiver::start();
    let svc = Service::builder("otel-schedule", Api)
        .options(test_options())
        .schedule(
            "heartbeat",
            ScheduleSpec::interval(1).immediately(true),
            |_s: Arc<Api>, _run: Invocation| async move {},
        )
        .schedule(
            "failing",
            ScheduleSpec::interval(1).immediately(true),
            |_s: Arc<Api>, _run: Invocation| async move { Err::<(), _>(Error::msg("no luck")) },
        )
        .build();
    let running = App::new()
        .service(svc)
        .opentelemetry(OpenTelemetry::with_tracer_provider(provider(
            &receiver.endpoint(),
            "otel-schedule",
        )))
        .start()
        .await
        .unwrap();
    let ok = receiver.span("heartbeat", |_| true).await;
    assert_eq!(ok["kind"], "INTERNAL");
    assert_eq!(ok["status"]["code"], "OK");
    assert_eq!(ok["parent_span_id"], "");
    let a = &ok["attributes"];
    assert_eq!(a["code.function"], "heartbeat");
    assert_eq!(a["function.trigger"], "timer");
    assert_eq!(a["function.interval"], "1");
    assert!(a["function.time"].as_str().unwrap().ends_with('Z'));
    let failed = receiver.span("failing", |_| true).await;
    assert_eq!(failed["status"]["code"], "ERROR");
    assert_eq!(
        failed["events"][0]["attributes"]["exception.message"],
        "no luck"
    );
    assert_eq!(
        failed["events"][0]["attributes"]["exception.escaped"],
        "True"
    );
    running.stop().await;
}

// ---- logs: trace ids in the records, OTLP log export ----

/// Python `hex()` of a hex id: `0x`, lower case, no leading zeros.
fn py_hex(hex: &str) -> String {
    let digits = hex.trim_start_matches('0');
    format!("0x{}", if digits.is_empty() { "0" } else { digits })
}

/// A logger provider exporting to the receiver over OTLP/HTTP, batched every 50 ms.
fn logger_provider(
    endpoint: &str,
    service: &str,
) -> tomodachi::telemetry::opentelemetry_sdk::logs::SdkLoggerProvider {
    use tomodachi::telemetry::opentelemetry_sdk::logs::{
        BatchConfigBuilder, BatchLogProcessor, SdkLoggerProvider,
    };
    let exporter = tomodachi::telemetry::opentelemetry_otlp::LogExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("{endpoint}/v1/logs"))
        .build()
        .expect("an OTLP log exporter");
    let processor = BatchLogProcessor::builder(exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_scheduled_delay(Duration::from_millis(50))
                .build(),
        )
        .build();
    SdkLoggerProvider::builder()
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .with_log_processor(processor)
        .build()
}

impl Receiver {
    fn logs(&self) -> Vec<Value> {
        std::fs::read_to_string(self.out.with_extension("jsonl.logs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits for a log record with the body `body` (and matching `also`).
    async fn log(&self, body: &str, also: impl Fn(&Value) -> bool) -> Value {
        let mut found = None;
        eventually(20, &format!("a log record {body:?}"), || {
            found = self
                .logs()
                .into_iter()
                .find(|r| r["body"] == body && also(r));
            found.is_some()
        })
        .await;
        found.expect("found")
    }
}

/// A service whose `GET /log` logs "inside the handler" (answer=42) with
/// `tomodachi::logging::get_logger()`, as `tests/python/otel_service.py` does with upstream's,
/// and whose `GET /fail` fails.
fn logging_service(name: &str) -> Service {
    Service::builder(name.to_owned(), Api)
        .options(test_options())
        .http_route(
            tomodachi::http::HttpRoute::new(Method::GET, r"/log").name("log"),
            |_a: Arc<Api>, _r: HttpRequest| async {
                tomodachi::logging::get_logger(None).log(
                    tracing::Level::INFO,
                    "inside the handler",
                    &[("answer", 42.into())],
                );
                "logged"
            },
        )
        .http(
            Method::GET,
            r"/fail",
            |_a: Arc<Api>, _r: HttpRequest| async { Err::<&str, _>(Error::msg("it broke")) },
        )
        .build()
}

/// `tomodachi run --logger json --opentelemetry-instrument` of `tests/python/otel_service.py`
/// with `envs`, its stderr (the records) in a file.
async fn python_json_logs(
    receiver: &Receiver,
    envs: &[(&str, &str)],
    requests: &[(&str, &str)],
) -> Vec<Value> {
    let dir = std::env::temp_dir().join(format!("tomodachi-pylogs-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/otel_service.py");
    std::fs::copy(&script, dir.join("otel_service.py")).unwrap();
    let out = dir.join("received.jsonl");
    let stderr = std::fs::File::create(dir.join("stderr.log")).unwrap();
    let port = free_port();
    let python = otel_python();
    let mut cmd = Command::new(python.parent().unwrap().join("tomodachi"));
    cmd.current_dir(&dir)
        .args([
            "run",
            "otel_service.py",
            "--production",
            "--logger",
            "json",
            "--opentelemetry-instrument",
        ])
        .env("SVC_NAME", "otel-python-logs")
        .env("RK_IN", unique("otel.logs.in"))
        .env("RK_OUT", unique("otel.logs.out"))
        .env("HTTP_PORT", port.to_string())
        .env("OUT_FILE", &out)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_BSP_SCHEDULE_DELAY", "50")
        .env("OTEL_BLRP_SCHEDULE_DELAY", "50")
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_LOG_LEVEL");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start Python tomodachi");
    let ready = out.with_extension("jsonl.ready");
    eventually(30, "Python tomodachi to start", || ready.exists()).await;
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for (path, headers) in requests {
        assert_eq!(get_with(addr, path, headers).await.status, 200);
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    std::fs::read_to_string(dir.join("stderr.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The keys of a JSON record after `answer` (what the trace processor appends).
fn tail_keys(record: &Value) -> Vec<String> {
    let keys: Vec<String> = record
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let at = keys.iter().position(|k| k == "answer").expect("answer");
    keys[at + 1..].to_vec()
}

// current_thread runtime: every task runs on this thread, under the thread's default subscriber
#[tokio::test]
async fn json_records_carry_the_span_ids_as_upstream_prints_them() {
    const TRACE0: &str = "000f7651916cd43dd8448eb211c80319";
    const PARENT0: &str = "00ad6b7169203331";
    let receiver = Receiver::start();
    let (capture, guard) = support::capture_logs(tomodachi::logging::LogFormat::Json);
    let running = App::new()
        .service(logging_service("otel-log-ids"))
        .opentelemetry(OpenTelemetry::with_tracer_provider(provider(
            &receiver.endpoint(),
            "otel-log-ids",
        )))
        .start()
        .await
        .unwrap();
    let addr = running.http_addr(0).unwrap();
    let traceparent = format!("traceparent: 00-{TRACE0}-{PARENT0}-01\r\n");
    assert_eq!(get_with(addr, "/log", &traceparent).await.status, 200);
    assert_eq!(get_with(addr, "/log", "").await.status, 200);
    let continued = receiver.span("GET /log", |s| s["trace_id"] == TRACE0).await;
    let root = receiver.span("GET /log", |s| s["trace_id"] != TRACE0).await;
    running.stop().await;
    drop(guard);

    let records: Vec<Value> = capture
        .contents()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let inside: Vec<&Value> = records
        .iter()
        .filter(|r| r["message"] == "inside the handler")
        .collect();
    assert_eq!(inside.len(), 2);
    // a continued trace: the span, its trace and its (remote) parent, unpadded hex
    let r = inside[0];
    assert_eq!(r["trace_id"], "0xf7651916cd43dd8448eb211c80319");
    assert_eq!(r["parent_span_id"], "0xad6b7169203331");
    assert_eq!(r["span_id"], py_hex(continued["span_id"].as_str().unwrap()));
    assert_eq!(tail_keys(r), ["span_id", "trace_id", "parent_span_id"]);
    // a new trace: no parent_span_id
    let r = inside[1];
    assert_eq!(r["trace_id"], py_hex(root["trace_id"].as_str().unwrap()));
    assert_eq!(r["span_id"], py_hex(root["span_id"].as_str().unwrap()));
    assert_eq!(tail_keys(r), ["span_id", "trace_id"]);
    // outside a span: no ids
    let started = records
        .iter()
        .find(|r| r["message"] == "started service successfully")
        .unwrap();
    assert!(started.get("trace_id").is_none(), "{started}");

    // Python tomodachi prints the same keys, in the same order and format
    let py = python_json_logs(
        &receiver,
        &[("OTEL_TRACES_EXPORTER", "none")],
        &[("/log", &traceparent), ("/log", "")],
    )
    .await;
    let py_inside: Vec<&Value> = py
        .iter()
        .filter(|r| r["message"] == "inside the handler")
        .collect();
    assert_eq!(py_inside.len(), 2, "{py:?}");
    assert_eq!(py_inside[0]["trace_id"], inside[0]["trace_id"]);
    assert_eq!(py_inside[0]["parent_span_id"], inside[0]["parent_span_id"]);
    // the whole record: the same keys in the same order, the same logger
    let all_keys = |r: &Value| -> Vec<String> {
        r.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(all_keys(py_inside[0]), all_keys(inside[0]));
    assert_eq!(all_keys(py_inside[1]), all_keys(inside[1]));
    assert_eq!(py_inside[0]["logger"], inside[0]["logger"]);
    assert_eq!(tail_keys(py_inside[1]), tail_keys(inside[1]));
    for r in py_inside.iter().chain(inside.iter()) {
        for key in ["span_id", "trace_id"] {
            let v = r[key].as_str().unwrap();
            assert!(
                v.starts_with("0x")
                    && !v.starts_with("0x0")
                    && v[2..].chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
                "{key} = {v}"
            );
        }
    }
}

#[tokio::test]
async fn log_records_are_exported_over_otlp_with_upstreams_attributes() {
    let receiver = Receiver::start();
    let (_capture, guard) = support::capture_logs(tomodachi::logging::LogFormat::Json);
    let telemetry =
        OpenTelemetry::with_tracer_provider(provider(&receiver.endpoint(), "otel-logs"))
            .with_logger_provider(logger_provider(&receiver.endpoint(), "otel-logs"));
    let running = App::new()
        .service(logging_service("otel-logs"))
        .opentelemetry(telemetry)
        .start()
        .await
        .unwrap();
    let addr = running.http_addr(0).unwrap();
    let traceparent = format!("traceparent: 00-{TRACE}-{PARENT}-01\r\n");
    assert_eq!(get_with(addr, "/log", &traceparent).await.status, 200);
    assert_eq!(get_with(addr, "/fail", "").await.status, 500);
    // a record of another target is not exported
    tracing::info!(target: "app", "not a tomodachi logger");
    let span = receiver.span("GET /log", |_| true).await;
    let record = receiver.log("inside the handler", |_| true).await;
    running.stop().await;
    drop(guard);

    assert_eq!(record["severity_text"], "info");
    assert_eq!(record["severity_number"], 9);
    assert_eq!(record["trace_id"], TRACE);
    assert_eq!(record["span_id"], span["span_id"]);
    let a = &record["attributes"];
    assert_eq!(a["answer"], 42);
    assert_eq!(a["handler"], "log");
    assert_eq!(a["type"], "tomodachi.http");
    assert_eq!(a["logger"], "tomodachi.http.handler");
    assert_eq!(a["event"], "inside the handler");
    assert_eq!(record["resource"]["service.name"], "otel-logs");
    let failed = receiver.log("uncaught exception: it broke", |_| true).await;
    assert_eq!(failed["severity_text"], "error");
    assert_eq!(failed["attributes"]["logger"], "exception");
    // the app's last line is exported: the provider is flushed after it
    receiver.log("terminated service", |_| true).await;
    assert!(!receiver
        .logs()
        .iter()
        .any(|r| r["body"] == "not a tomodachi logger"));

    // Python tomodachi exports the same attributes for the same record (but for the call
    // site's `code.*`, which name Python functions)
    let py_receiver = Receiver::start();
    python_json_logs(
        &py_receiver,
        &[
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "otlp"),
        ],
        &[("/log", &traceparent)],
    )
    .await;
    let py = py_receiver.log("inside the handler", |_| true).await;
    let without_code = |r: &Value| -> BTreeSet<String> {
        keys(r)
            .into_iter()
            .filter(|k| !k.starts_with("code."))
            .collect()
    };
    assert_eq!(without_code(&record), without_code(&py));
    assert_eq!(record["severity_text"], py["severity_text"]);
    assert_eq!(record["severity_number"], py["severity_number"]);
    assert_eq!(record["trace_id"], py["trace_id"]);
}

/// `OTEL_LOGS_EXPORTER=otlp` on a binary: the lifecycle records are exported with the
/// service's resource, and `OTEL_LOG_LEVEL` sets the level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_logs_exporter_exports_a_binarys_records() {
    let receiver = Receiver::start();
    let env = [
        ("OTEL_TRACES_EXPORTER", "none".to_owned()),
        ("OTEL_LOGS_EXPORTER", "otlp".to_owned()),
        ("OTEL_LOG_LEVEL", "warning".to_owned()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_BLRP_SCHEDULE_DELAY", "50".to_owned()),
        ("TOMODACHI_LOGGER", "json".to_owned()),
    ];
    let (mut child, _) = instrumented_http_service("otel-logs-uuid", &env, None).await;
    terminate(&mut child, 20);
    // the warning is exported (at exit), the info records are not (OTEL_LOG_LEVEL=warning)
    let signal = receiver.log("received termination signal", |_| true).await;
    assert_eq!(signal["severity_text"], "warning");
    assert_eq!(signal["attributes"]["logger"], "tomodachi.signal");
    assert_eq!(signal["resource"]["service.name"], "http-example");
    assert_eq!(signal["resource"]["service.instance.id"], "otel-logs-uuid");
    assert!(
        !receiver.logs().iter().any(|r| r["severity_text"] == "info"),
        "{:?}",
        receiver.logs()
    );
}

/// Starts the `http_service` example with `--opentelemetry-instrument`, the config file's port and
/// `env`, its stderr written to `stderr` (`None`: discarded); returns the child and its address.
async fn instrumented_http_service(
    uuid: &str,
    env: &[(&str, String)],
    stderr: Option<&Path>,
) -> (Child, std::net::SocketAddr) {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("tomodachi-otel-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("config.json");
    std::fs::write(
        &cfg,
        format!(r#"{{"uuid": "{uuid}", "options": {{"http": {{"port": {port}}}}}}}"#),
    )
    .unwrap();
    let err = match stderr {
        Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
        None => Stdio::null(),
    };
    let child = Command::new(support::examples::example_bin("http_service"))
        .args(["--opentelemetry-instrument", "-c", cfg.to_str().unwrap()])
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_RESOURCE_ATTRIBUTES")
        .env_remove("TOMODACHI_LOGGER")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut up = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the example listens");
    (child, addr)
}

/// SIGTERM, then waits (at most `secs`) for the exit.
fn terminate(child: &mut Child, secs: u64) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    for _ in 0..secs * 20 {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the service did not exit within {secs} s of SIGTERM");
}

/// `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`: spans, metrics and logs reach an OTLP/gRPC receiver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grpc_protocol_exports_spans_metrics_and_logs() {
    let receiver = Receiver::start_grpc();
    let env = [
        ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
        ("OTEL_METRICS_EXPORTER", "otlp".to_owned()),
        ("OTEL_LOGS_EXPORTER", "otlp".to_owned()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_BSP_SCHEDULE_DELAY", "50".to_owned()),
        ("OTEL_BLRP_SCHEDULE_DELAY", "50".to_owned()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "200".to_owned()),
        ("TOMODACHI_LOGGER", "json".to_owned()),
    ];
    let (mut child, addr) = instrumented_http_service("otel-grpc-uuid", &env, None).await;
    assert_eq!(get_with(addr, "/resource/grpc", "").await.status, 200);
    let span = receiver
        .span("GET /resource/(?P<id>[^/]+?)/?", |s| {
            s["attributes"]["url.path"] == "/resource/grpc"
        })
        .await;
    assert_eq!(span["kind"], "SERVER");
    assert_eq!(span["resource"]["service.instance.id"], "otel-grpc-uuid");
    eventually(20, "http.server.duration over gRPC", || {
        receiver.metrics().iter().any(|m| {
            m["name"] == "http.server.duration"
                && m["resource"]["service.instance.id"] == "otel-grpc-uuid"
        })
    })
    .await;
    terminate(&mut child, 20);
    let signal = receiver.log("received termination signal", |_| true).await;
    assert_eq!(signal["resource"]["service.instance.id"], "otel-grpc-uuid");
}

/// A collector that never answers: every request is still answered at once, the spans the
/// bounded queue cannot hold are dropped, and that is logged once when it starts and once with
/// the count at shutdown (not once per span).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_spans_are_counted_and_logged_once() {
    // accepts connections (the kernel's backlog) and never answers
    let stuck = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", stuck.local_addr().unwrap());
    let dir = std::env::temp_dir().join(format!("tomodachi-otel-drop-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let stderr = dir.join("stderr.log");
    let env = [
        ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000".to_owned()),
        ("OTEL_BSP_SCHEDULE_DELAY", "10".to_owned()),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "8".to_owned()),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2".to_owned()),
        ("TOMODACHI_LOGGER", "console".to_owned()),
    ];
    let (mut child, addr) = instrumented_http_service("otel-drop-uuid", &env, Some(&stderr)).await;
    let all = async {
        for i in 0..200 {
            assert_eq!(
                get_with(addr, &format!("/resource/{i}"), "").await.status,
                200
            );
        }
    };
    tokio::time::timeout(Duration::from_secs(30), all)
        .await
        .expect("requests are answered while the collector hangs");
    terminate(&mut child, 20);
    let log = std::fs::read_to_string(&stderr).unwrap();
    let started: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("BatchSpanProcessor.SpanDroppingStarted"))
        .collect();
    assert_eq!(started.len(), 1, "{log}");
    assert!(started[0].contains("warning"), "{log}");
    let counted: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("BatchSpanProcessor.SpansDropped"))
        .collect();
    assert_eq!(counted.len(), 1, "{log}");
    let count: u64 = counted[0]
        .split("dropped_span_count=")
        .nth(1)
        .and_then(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or_else(|| panic!("a dropped_span_count in {:?}", counted[0]));
    // 200 spans, a queue of 8, at most a few batches of 2 taken by the stuck exporter
    assert!(count >= 150, "{count} dropped: {log}");
    drop(stuck);
}
