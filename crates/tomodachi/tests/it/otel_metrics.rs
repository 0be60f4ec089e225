//! OpenTelemetry metrics (feature `opentelemetry`): upstream's instruments exported over OTLP to
//! the real receiver (`tests/fixtures/otlp_receiver.py`, `POST /v1/metrics`), compared with what
//! Python tomodachi 0.29 exports for the same handlers; the Prometheus endpoint
//! (`OTEL_PYTHON_METER_PROVIDER=tomodachi_prometheus`) on an example binary, scraped by a real
//! Prometheus (the Debian package, `TOMODACHI_TEST_PROMETHEUS` from `scripts/test-env.sh`) and
//! compared with Python tomodachi's endpoint; a taken port only warns.
//!
//! Deliberate differences from Python tomodachi 0.29 (also in the README):
//! - upstream's Prometheus endpoint swaps `http.server.duration`'s label values when the
//!   request has a route (its label keys come from one data point, the values from another);
//!   ours labels each value with its own key. The tests compare family names, types and label
//!   keys, which agree.
//! - the Prometheus endpoint also starts for the `tomodachi_prometheus` metric reader (upstream
//!   only registers the collector then, with no HTTP server).
//! - exemplars (`OTEL_PYTHON_TOMODACHI_PROMETHEUS_EXEMPLARS_ENABLED`): upstream attaches its
//!   exemplars to the bucket lines in data-point order while its exporter orders the lines by
//!   family, so with series of different label keys (a 404 without `http.route` next to routed
//!   requests) an exemplar can land on another series' line; ours stay on their own series.
//!   Upstream keeps a bucket's last 30 measurements and shows the largest; ours shows the
//!   largest since the previous scrape.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tomodachi::amqp::AmqpSubscription;
use tomodachi::envelope::JsonBase;
use tomodachi::http::{HttpRequest, Method};
use tomodachi::message::Message;
use tomodachi::schedule::{Invocation, ScheduleSpec};
use tomodachi::telemetry::opentelemetry_otlp::{MetricExporter, Protocol, WithExportConfig};
use tomodachi::telemetry::opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use tomodachi::telemetry::opentelemetry_sdk::trace::SdkTracerProvider;
use tomodachi::telemetry::opentelemetry_sdk::Resource;
use tomodachi::telemetry::OpenTelemetry;
use tomodachi::{App, Error, Service};

use crate::opentelemetry::{get_with, unique, PyOtel, Receiver, Seen, PARENT, TRACE};
use crate::support::eventually::eventually;
use crate::support::{self, free_port, raw, test_options};

const BUCKETS: [f64; 15] = [
    0.0, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// name, OTLP type, unit, description
const INSTRUMENTS: [(&str, &str, &str, &str); 6] = [
    (
        "http.server.duration",
        "histogram",
        "s",
        "Measures the duration of inbound HTTP requests.",
    ),
    (
        "http.server.active_requests",
        "sum",
        "{request}",
        "Measures the number of concurrent HTTP requests that are currently in-flight.",
    ),
    (
        "messaging.rabbitmq.duration",
        "histogram",
        "s",
        "Measures the duration of processing a message by the handler function.",
    ),
    (
        "messaging.rabbitmq.active_tasks",
        "sum",
        "{message}",
        "Measures the number of concurrent AMQP messages that are currently being processed.",
    ),
    (
        "function.duration",
        "histogram",
        "s",
        "Measures the duration of running the scheduled handler function.",
    ),
    (
        "function.active_tasks",
        "sum",
        "{task}",
        "Measures the number of concurrent invocations of the scheduled handler that is currently running.",
    ),
];

impl Receiver {
    /// Every metric the receiver got (one JSON line per metric per export).
    pub(crate) fn metrics(&self) -> Vec<Value> {
        let mut path = self.out.clone().into_os_string();
        path.push(".metrics");
        std::fs::read_to_string(PathBuf::from(path))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The last exported state of each metric of the service named `service` (cumulative).
    pub(crate) fn latest(&self, service: &str) -> HashMap<String, Value> {
        let mut out = HashMap::new();
        for m in self.metrics() {
            if m["resource"]["service.name"] == service {
                out.insert(m["name"].as_str().unwrap_or_default().to_owned(), m);
            }
        }
        out
    }
}

/// Exports to the receiver over OTLP/HTTP every 100 ms.
pub(crate) fn meter_provider(endpoint: &str, service: &str) -> SdkMeterProvider {
    let exporter = MetricExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("{endpoint}/v1/metrics"))
        .build()
        .expect("an OTLP metric exporter");
    SdkMeterProvider::builder()
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .with_reader(
            PeriodicReader::builder(exporter)
                .with_interval(Duration::from_millis(100))
                .build(),
        )
        .build()
}

/// The Rust twin of `tests/python/otel_service.py` (with `WITH_SCHEDULE`): `GET /resource/<id>`,
/// `GET /health`, `GET /publish` (to `rk_out`), `on_message` on `rk_in`, and the scheduled
/// `heartbeat` and `failing`.
fn service(name: &str, rk_in: &str, rk_out: &str, seen: &Seen) -> Service {
    let rk_out = rk_out.to_owned();
    Service::builder(name.to_owned(), seen.clone())
        .options(test_options())
        .message_envelope(JsonBase)
        .http(
            Method::GET,
            r"/resource/(?P<id>[^/]+?)/?",
            |_s: Arc<Seen>, r: HttpRequest| async move {
                format!("id = {}", r.param("id").unwrap_or_default())
            },
        )
        .http(
            Method::GET,
            r"/health",
            |_s: Arc<Seen>, _r: HttpRequest| async { "healthy" },
        )
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
        .schedule(
            "heartbeat",
            ScheduleSpec::interval(1).immediately(true),
            |_s: Arc<Seen>, _run: Invocation| async move {},
        )
        .schedule(
            "failing",
            ScheduleSpec::interval(1).immediately(true),
            |_s: Arc<Seen>, _run: Invocation| async move { Err::<(), _>(Error::msg("no luck")) },
        )
        .build()
}

fn point_keys(point: &Value) -> BTreeSet<String> {
    point["attributes"]
        .as_object()
        .map(|a| a.keys().cloned().collect())
        .unwrap_or_default()
}

fn all_keys(metric: &Value) -> BTreeSet<String> {
    metric["data_points"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(point_keys)
        .collect()
}

fn keys(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|k| (*k).to_owned()).collect()
}

/// Whether `metrics` has every instrument, with the scheduled functions' both outcomes.
fn complete(metrics: &HashMap<String, Value>) -> bool {
    let fd = metrics.get("function.duration");
    INSTRUMENTS.iter().all(|(n, ..)| metrics.contains_key(*n))
        && fd.is_some_and(|m| m["data_points"].as_array().is_some_and(|p| p.len() >= 2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_metrics_have_upstreams_instruments() {
    let receiver = Receiver::start();
    let rk = unique("otel.metrics");
    let seen: Seen = Arc::default();
    let meters = meter_provider(&receiver.endpoint(), "otel-metrics");
    let running = App::new()
        .service(service("otel-metrics", &rk, &rk, &seen))
        .opentelemetry(
            OpenTelemetry::with_tracer_provider(SdkTracerProvider::builder().build())
                .excluded_urls("/health")
                .with_meter_provider(meters.clone()),
        )
        .start()
        .await
        .unwrap();
    let addr = running.http_addr(0).unwrap();
    assert_eq!(get_with(addr, "/resource/abc", "").await.status, 200);
    assert_eq!(get_with(addr, "/health", "").await.status, 200);
    assert_eq!(get_with(addr, "/nothing", "").await.status, 404);
    assert_eq!(get_with(addr, "/publish", "").await.status, 200);
    eventually(20, "the message", || seen.lock().unwrap().len() == 1).await;
    let mut metrics = HashMap::new();
    eventually(20, "every instrument exported", || {
        metrics = receiver.latest("otel-metrics");
        complete(&metrics)
            && metrics["messaging.rabbitmq.duration"]["data_points"][0]["count"] == 1
            // /resource, /nothing and /publish (not /health)
            && metrics["http.server.duration"]["data_points"]
                .as_array()
                .is_some_and(|p| p.len() == 3)
    })
    .await;

    for (name, kind, unit, description) in INSTRUMENTS {
        let m = &metrics[name];
        assert_eq!(m["type"], kind, "{name}");
        assert_eq!(m["unit"], unit, "{name}");
        assert_eq!(m["description"], description, "{name}");
        assert_eq!(m["scope"]["name"], "tomodachi");
        assert_eq!(m["scope"]["version"], env!("CARGO_PKG_VERSION"));
        if kind == "histogram" {
            for p in m["data_points"].as_array().unwrap() {
                assert_eq!(p["explicit_bounds"], serde_json::json!(BUCKETS), "{name}");
            }
        } else {
            assert_eq!(m["is_monotonic"], false, "{name} is an up-down counter");
            // nothing is in flight any more
            for p in m["data_points"].as_array().unwrap() {
                assert_eq!(p["value"], 0, "{name}");
            }
        }
    }

    // HTTP: one point per route and status; the excluded URL has none; no route, no http.route
    let duration = metrics["http.server.duration"]["data_points"]
        .as_array()
        .unwrap();
    let routed = duration
        .iter()
        .find(|p| p["attributes"]["http.route"] == "/resource/(?P<id>[^/]+?)/?")
        .expect("the routed request");
    assert_eq!(
        point_keys(routed),
        keys(&[
            "http.route",
            "http.request.method",
            "http.response.status_code",
            "network.protocol.name",
            "network.protocol.version",
            "server.address",
            "server.port",
            "url.scheme",
        ])
    );
    let a = &routed["attributes"];
    assert_eq!(a["http.response.status_code"], 200);
    assert_eq!(a["http.request.method"], "GET");
    assert_eq!(a["server.address"], "localhost");
    assert_eq!(a["server.port"], addr.port());
    assert_eq!(a["network.protocol.version"], "1.1");
    assert_eq!(routed["count"], 1);
    let unrouted = duration
        .iter()
        .find(|p| p["attributes"]["http.response.status_code"] == 404)
        .expect("the 404");
    assert!(unrouted["attributes"].get("http.route").is_none());
    assert!(
        !duration
            .iter()
            .any(|p| p["attributes"]["http.route"] == "/health"),
        "no metrics for an excluded URL"
    );
    assert_eq!(
        all_keys(&metrics["http.server.active_requests"]),
        keys(&[
            "http.request.method",
            "server.address",
            "server.port",
            "url.scheme"
        ])
    );

    // AMQP
    let p = &metrics["messaging.rabbitmq.duration"]["data_points"][0];
    assert_eq!(
        p["attributes"],
        serde_json::json!({
            "messaging.destination.name": "amq.topic",
            "messaging.rabbitmq.destination.routing_key": rk,
            "code.function": "on_message",
            "function.success": true,
        })
    );
    assert_eq!(
        all_keys(&metrics["messaging.rabbitmq.active_tasks"]),
        keys(&[
            "messaging.destination.name",
            "messaging.rabbitmq.destination.routing_key",
            "code.function"
        ])
    );

    // scheduled functions: success and failure apart
    let runs = metrics["function.duration"]["data_points"]
        .as_array()
        .unwrap();
    let outcome = |f: &str| {
        runs.iter()
            .find(|p| p["attributes"]["code.function"] == f)
            .map(|p| p["attributes"]["function.success"].clone())
    };
    assert_eq!(outcome("heartbeat"), Some(Value::Bool(true)));
    assert_eq!(outcome("failing"), Some(Value::Bool(false)));
    assert_eq!(
        all_keys(&metrics["function.active_tasks"]),
        keys(&["code.function"])
    );
    running.stop().await;
    meters.shutdown().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_metrics_match_python_tomodachi() {
    let receiver = Receiver::start();
    let py_in = unique("otel.metrics.py");
    let rs_in = unique("otel.metrics.rs");
    let seen: Seen = Arc::default();
    let meters = meter_provider(&receiver.endpoint(), "otel-metrics-rust");
    let running = App::new()
        .service(service("otel-metrics-rust", &rs_in, &py_in, &seen))
        .opentelemetry(
            OpenTelemetry::with_tracer_provider(SdkTracerProvider::builder().build())
                .with_meter_provider(meters.clone()),
        )
        .start()
        .await
        .unwrap();
    let py = PyOtel::start_with(
        &receiver,
        "otel-metrics-python",
        &py_in,
        &rs_in,
        &[
            ("WITH_SCHEDULE", "1".to_owned()),
            ("OTEL_METRICS_EXPORTER", "otlp".to_owned()),
            ("OTEL_METRIC_EXPORT_INTERVAL", "200".to_owned()),
        ],
    )
    .await;
    let rs_addr = running.http_addr(0).unwrap();
    let py_addr: std::net::SocketAddr = format!("127.0.0.1:{}", py.port).parse().unwrap();
    for addr in [rs_addr, py_addr] {
        assert_eq!(get_with(addr, "/resource/abc", "").await.status, 200);
        assert_eq!(get_with(addr, "/nothing", "").await.status, 404);
        assert_eq!(get_with(addr, "/publish", "").await.status, 200);
    }
    eventually(20, "Python's message in Rust", || {
        seen.lock().unwrap().len() == 1
    })
    .await;
    eventually(20, "Rust's message in Python", || py.received() == 1).await;
    let (mut rs, mut pym) = (HashMap::new(), HashMap::new());
    // both sides' last exports hold every data point (an export may predate the last record)
    let point_sets = |m: &HashMap<String, Value>| -> Vec<BTreeSet<BTreeSet<String>>> {
        INSTRUMENTS
            .iter()
            .map(|(name, ..)| {
                m.get(*name)
                    .and_then(|v| v["data_points"].as_array())
                    .into_iter()
                    .flatten()
                    .map(point_keys)
                    .collect()
            })
            .collect()
    };
    eventually(
        30,
        "every instrument from both, with the same data points",
        || {
            rs = receiver.latest("otel-metrics-rust");
            pym = receiver.latest("otel-metrics-python");
            complete(&rs) && complete(&pym) && point_sets(&rs) == point_sets(&pym)
        },
    )
    .await;
    for (name, ..) in INSTRUMENTS {
        let (r, p) = (&rs[name], &pym[name]);
        for field in ["type", "unit", "description", "is_monotonic"] {
            assert_eq!(r[field], p[field], "{name}: {field}");
        }
        assert_eq!(r["scope"]["name"], p["scope"]["name"], "{name}");
        assert_eq!(all_keys(r), all_keys(p), "{name}: attribute keys");
        // the same attribute sets (up to the values that name the service's own things)
        let sets = |m: &Value| -> BTreeSet<BTreeSet<String>> {
            m["data_points"]
                .as_array()
                .into_iter()
                .flatten()
                .map(point_keys)
                .collect()
        };
        assert_eq!(sets(r), sets(p), "{name}: attribute sets");
        if r["type"] == "histogram" {
            assert_eq!(
                r["data_points"][0]["explicit_bounds"], p["data_points"][0]["explicit_bounds"],
                "{name}: buckets"
            );
        }
    }
    drop(py);
    running.stop().await;
    meters.shutdown().unwrap();
}

/// The Debian `prometheus` binary (`TOMODACHI_TEST_PROMETHEUS`, else `prometheus` on the PATH).
fn prometheus_bin() -> PathBuf {
    let bin = std::env::var_os("TOMODACHI_TEST_PROMETHEUS")
        .map_or_else(|| PathBuf::from("prometheus"), PathBuf::from);
    let ok = Command::new(&bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} does not run: install Prometheus with `. scripts/test-env.sh` (TOMODACHI_TEST_PROMETHEUS)",
        bin.display()
    );
    bin
}

/// A child process killed (SIGTERM, then SIGKILL) when dropped.
/// A real Prometheus (`prometheus`, the binary) scraping `127.0.0.1:<target_port>` every second
/// with `extra` flags; returns it (stopped when dropped) and its HTTP API's address.
fn start_prometheus(
    prometheus: &Path,
    target_port: u16,
    name: &str,
    extra: &[&str],
) -> (Proc, std::net::SocketAddr) {
    let dir = temp_dir(name);
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: tomodachi\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
        ),
    )
    .unwrap();
    let api_port = free_port();
    let child = Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{api_port}"))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    let api = format!("127.0.0.1:{api_port}").parse().unwrap();
    (Proc(child), api)
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        for _ in 0..100 {
            if self.0.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tomodachi-{what}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The `http_service` example with `--opentelemetry-instrument` and upstream's Prometheus meter
/// provider on `prometheus_port` (`env` may say otherwise); its log (JSON) goes to the returned
/// file.
async fn instrumented_example(
    prometheus_port: u16,
    env: &[(&str, String)],
) -> (Proc, std::net::SocketAddr, PathBuf) {
    let dir = temp_dir("otel-prom");
    let port = free_port();
    let cfg = dir.join("config.json");
    std::fs::write(
        &cfg,
        format!(r#"{{"uuid": "prom-uuid-1", "options": {{"http": {{"port": {port}, "host": "127.0.0.1"}}}}}}"#),
    )
    .unwrap();
    let log = dir.join("log.txt");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(support::examples::example_bin("http_service"))
        .args([
            "--opentelemetry-instrument",
            "-c",
            cfg.to_str().unwrap(),
            "--logger",
            "json",
        ])
        .env("OTEL_PYTHON_METER_PROVIDER", "tomodachi_prometheus")
        .env("OTEL_PYTHON_TOMODACHI_PROMETHEUS_ADDRESS", "127.0.0.1")
        .env(
            "OTEL_PYTHON_TOMODACHI_PROMETHEUS_PORT",
            prometheus_port.to_string(),
        )
        .env_remove("OTEL_TRACES_EXPORTER")
        .env_remove("OTEL_METRICS_EXPORTER")
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_RESOURCE_ATTRIBUTES")
        .env_remove("TOMODACHI_LOGGER")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let proc = Proc(child);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut up = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the example answers");
    (proc, addr, log)
}

async fn scrape(addr: std::net::SocketAddr, openmetrics: bool) -> support::Resp {
    let accept = if openmetrics {
        "Accept: application/openmetrics-text; version=1.0.0,text/plain;q=0.5\r\n"
    } else {
        ""
    };
    let req =
        format!("GET /metrics HTTP/1.1\r\nHost: localhost\r\n{accept}Connection: close\r\n\r\n");
    raw(addr, req.as_bytes()).await
}

/// Family name -> (type, label keys) from a Prometheus text exposition.
fn families(text: &str) -> BTreeMap<String, (String, BTreeSet<String>)> {
    let mut out: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
    let mut current = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            current = parts.next().unwrap_or_default().to_owned();
            let kind = parts.next().unwrap_or_default().to_owned();
            out.entry(current.clone()).or_default().0 = kind;
        } else if !line.starts_with('#') && !line.is_empty() {
            let keys = label_keys(line);
            out.entry(current.clone())
                .or_default()
                .1
                .extend(keys.into_iter().filter(|k| k != "le"));
        }
    }
    out
}

/// The label keys of a sample line (`name{k="v",...} value`).
fn label_keys(line: &str) -> Vec<String> {
    let Some(start) = line.find('{') else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    let mut rest = &line[start + 1..];
    while let Some(eq) = rest.find("=\"") {
        keys.push(rest[..eq].trim_start_matches(',').to_owned());
        // the value: up to the next unescaped quote
        let value = &rest[eq + 2..];
        let mut end = 0;
        let mut escaped = false;
        for (i, c) in value.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = i;
                    break;
                }
                _ => escaped = false,
            }
        }
        rest = &value[end + 1..];
        if rest.starts_with('}') {
            break;
        }
    }
    keys
}

async fn prometheus_query(addr: std::net::SocketAddr, query: &str) -> Vec<Value> {
    let encoded: String = query
        .chars()
        .map(|c| match c {
            '{' => "%7B".to_owned(),
            '}' => "%7D".to_owned(),
            '"' => "%22".to_owned(),
            '=' => "%3D".to_owned(),
            c => c.to_string(),
        })
        .collect();
    let req = format!(
        "GET /api/v1/query?query={encoded} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    );
    let resp = raw(addr, req.as_bytes()).await;
    let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_the_endpoint() {
    let prometheus = prometheus_bin();
    let prom_port = free_port();
    let (_service, addr, log) = instrumented_example(prom_port, &[]).await;
    let endpoint: std::net::SocketAddr = format!("127.0.0.1:{prom_port}").parse().unwrap();
    for id in ["a", "b", "c"] {
        assert_eq!(
            get_with(addr, &format!("/resource/{id}"), "").await.status,
            200
        );
    }
    // the start is logged as upstream
    let mut logged = String::new();
    eventually(10, "`prometheus client started` in the log", || {
        logged = std::fs::read_to_string(&log).unwrap_or_default();
        logged.contains("prometheus client started")
    })
    .await;
    let line: Value = logged
        .lines()
        .find(|l| l.contains("prometheus client started"))
        .and_then(|l| serde_json::from_str(l).ok())
        .expect("a JSON log line");
    assert_eq!(line["logger"], "tomodachi.opentelemetry", "{line}");
    assert_eq!(
        line["listen_url"],
        format!("http://localhost:{prom_port}/"),
        "{line}"
    );
    assert_eq!(line["listen_host"], "127.0.0.1", "{line}");
    assert_eq!(line["listen_port"], prom_port, "{line}");

    // the endpoint itself: Prometheus text, OpenMetrics when asked for
    let text = scrape(endpoint, false).await;
    assert_eq!(text.status, 200);
    assert!(text.headers["content-type"].starts_with("text/plain; version=0.0.4"));
    let body = text.text();
    for expected in [
        "# TYPE http_server_duration_seconds histogram",
        "# HELP http_server_duration_seconds Measures the duration of inbound HTTP requests.",
        "# TYPE http_server_active_requests gauge",
        "le=\"0.005\"",
        "le=\"+Inf\"",
        "http_server_duration_seconds_sum{",
        "http_server_duration_seconds_count{",
        "http_route=\"/resource/(?P<id>[^/]+?)/?\"",
        "job=\"http-example\"",
        "instance=\"prom-uuid-1\"",
        "otel_scope_name=\"tomodachi\"",
        "target_info{",
        "otel_scope_info{otel_scope_name=\"tomodachi\"",
    ] {
        assert!(body.contains(expected), "{expected:?} in\n{body}");
    }
    let om = scrape(endpoint, true).await;
    assert!(om.headers["content-type"].starts_with("application/openmetrics-text"));
    let om = om.text();
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(
        om.contains("# UNIT http_server_duration_seconds seconds"),
        "{om}"
    );
    assert!(om.contains("# TYPE target info"), "{om}");

    // a real Prometheus scrapes it
    let (_prometheus, api) = start_prometheus(&prometheus, prom_port, "prometheus", &[]);
    let mut result = Vec::new();
    for _ in 0..600 {
        if tokio::net::TcpStream::connect(api).await.is_ok() {
            result = prometheus_query(api, "http_server_duration_seconds_count").await;
            if !result.is_empty() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(result.len(), 1, "one series: {result:?}");
    let labels = &result[0]["metric"];
    assert_eq!(labels["__name__"], "http_server_duration_seconds_count");
    assert_eq!(labels["http_route"], "/resource/(?P<id>[^/]+?)/?");
    assert_eq!(labels["http_request_method"], "GET");
    assert_eq!(labels["http_response_status_code"], "200");
    assert_eq!(labels["network_protocol_name"], "http");
    assert_eq!(labels["url_scheme"], "http");
    assert_eq!(labels["otel_scope_name"], "tomodachi");
    // the scrape's own job/instance win; the service's are kept as exported_*
    assert_eq!(labels["job"], "tomodachi");
    assert_eq!(labels["exported_job"], "http-example");
    assert_eq!(labels["exported_instance"], "prom-uuid-1");
    assert_eq!(result[0]["value"][1], "3");
    for query in [
        "http_server_active_requests",
        "http_server_duration_seconds_bucket{le=\"0.005\"}",
        "http_server_duration_seconds_sum",
        "target_info",
        "otel_scope_info",
    ] {
        let r = prometheus_query(api, query).await;
        assert!(!r.is_empty(), "{query}: {r:?}");
    }
    let active = prometheus_query(api, "http_server_active_requests").await;
    assert_eq!(active[0]["value"][1], "0");
    assert_eq!(active[0]["metric"]["http_request_method"], "GET");

    // Python tomodachi's endpoint for the same requests: the same families, types, label keys
    let receiver = Receiver::start();
    let py_prom = free_port();
    let rk = unique("otel.prom.py");
    let py = PyOtel::start_with(
        &receiver,
        "http-example",
        &rk,
        &rk,
        &[
            (
                "OTEL_PYTHON_METER_PROVIDER",
                "tomodachi_prometheus".to_owned(),
            ),
            (
                "OTEL_PYTHON_TOMODACHI_PROMETHEUS_ADDRESS",
                "127.0.0.1".to_owned(),
            ),
            ("OTEL_PYTHON_TOMODACHI_PROMETHEUS_PORT", py_prom.to_string()),
        ],
    )
    .await;
    let py_addr: std::net::SocketAddr = format!("127.0.0.1:{}", py.port).parse().unwrap();
    for id in ["a", "b", "c"] {
        assert_eq!(
            get_with(py_addr, &format!("/resource/{id}"), "")
                .await
                .status,
            200
        );
    }
    let py_endpoint: std::net::SocketAddr = format!("127.0.0.1:{py_prom}").parse().unwrap();
    let py_text = scrape(py_endpoint, false).await.text();
    let (ours, theirs) = (families(&body), families(&py_text));
    // target_info's labels are the resource's, which differ by SDK (telemetry.sdk.*)
    let without_target = |f: &BTreeMap<String, (String, BTreeSet<String>)>| {
        let mut f = f.clone();
        if let Some(t) = f.get_mut("target_info") {
            t.1.clear();
        }
        f
    };
    assert_eq!(
        without_target(&ours),
        without_target(&theirs),
        "ours:\n{body}\nPython tomodachi's:\n{py_text}"
    );
    drop(py);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_prometheus_port_warns_and_the_service_keeps_running() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    // the reader form, next to OTLP export from the variables (which keeps working)
    let receiver = Receiver::start();
    let (service, addr, log) = instrumented_example(
        port,
        &[
            ("OTEL_PYTHON_METER_PROVIDER", String::new()),
            (
                "OTEL_PYTHON_METRIC_READER",
                "tomodachi_prometheus".to_owned(),
            ),
            ("OTEL_METRICS_EXPORTER", "otlp".to_owned()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
            ("OTEL_METRIC_EXPORT_INTERVAL", "100".to_owned()),
        ],
    )
    .await;
    assert_eq!(get_with(addr, "/resource/ok", "").await.status, 200);
    let warning = format!(
        "unable to bind prometheus http server [http] to http://localhost:{port}/ in otel metric provider"
    );
    let mut logged = String::new();
    eventually(10, "the bind warning", || {
        logged = std::fs::read_to_string(&log).unwrap_or_default();
        logged.contains(&warning)
    })
    .await;
    let line: Value = logged
        .lines()
        .find(|l| l.contains(&warning))
        .and_then(|l| serde_json::from_str(l).ok())
        .expect("a JSON log line");
    assert_eq!(line["level"], "warning", "{line}");
    assert_eq!(line["logger"], "tomodachi.opentelemetry", "{line}");
    assert!(!logged.contains("prometheus client started"));
    // still serving, a while later too
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(get_with(addr, "/resource/still", "").await.status, 200);
    eventually(20, "the requests exported over OTLP", || {
        receiver
            .latest("http-example")
            .get("http.server.duration")
            .and_then(|m| m["data_points"].as_array().cloned())
            .is_some_and(|p| p.iter().any(|p| p["count"] == 2))
    })
    .await;
    let m = &receiver.latest("http-example")["http.server.duration"];
    assert_eq!(m["resource"]["service.instance.id"], "prom-uuid-1");
    assert_eq!(m["scope"]["name"], "tomodachi");
    drop(service);
    drop(taken);
}

/// One exemplar as upstream's endpoint writes it after a bucket line:
/// `{span_id="<16 hex>",trace_id="<32 hex>"} <value> <timestamp>`; `None` if it has another
/// shape.
fn parse_exemplar(text: &str) -> Option<(String, String, f64, f64)> {
    let hex = |s: &str, len: usize| {
        (s.len() == len
            && s.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()))
        .then(|| s.to_owned())
    };
    let rest = text.strip_prefix("{span_id=\"")?;
    let (span, rest) = rest.split_once("\",trace_id=\"")?;
    let (trace, rest) = rest.split_once("\"} ")?;
    let (value, time) = rest.split_once(' ')?;
    Some((
        hex(span, 16)?,
        hex(trace, 32)?,
        value.parse().ok()?,
        time.parse().ok()?,
    ))
}

/// A label's value on a sample line (values without quotes in them).
fn label_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = [format!("{{{key}=\""), format!(",{key}=\"")]
        .iter()
        .find_map(|k| line.find(k.as_str()).map(|i| i + k.len()))?;
    line[at..].split('"').next()
}

/// The bucket lines of the `http.server.duration` series of `route`: `le`, the cumulative
/// count and the exemplar text (after ` # `).
fn route_buckets(om: &str, route: &str) -> Vec<(f64, f64, Option<String>)> {
    let route = format!("http_route=\"{route}\"");
    om.lines()
        .filter(|l| l.starts_with("http_server_duration_seconds_bucket{") && l.contains(&route))
        .map(|l| {
            let (sample, exemplar) = match l.split_once(" # ") {
                Some((s, e)) => (s, Some(e.to_owned())),
                None => (l, None),
            };
            let le = match label_value(sample, "le") {
                Some("+Inf") => f64::INFINITY,
                le => le.and_then(|v| v.parse().ok()).expect(l),
            };
            let count = sample
                .rsplit_once(' ')
                .and_then(|(_, c)| c.parse().ok())
                .expect(l);
            (le, count, exemplar)
        })
        .collect()
}

/// `om` (an OpenMetrics scrape after a request to `/resource/a` in the sampled trace `trace`
/// and one to `unsampled` in an unsampled one) has the request's exemplar on every bucket
/// line of its series that counts it, and no other exemplar.
fn assert_exemplars(who: &str, om: &str, trace: &str, unsampled: &str) {
    let resource = route_buckets(om, "/resource/(?P<id>[^/]+?)/?");
    assert_eq!(resource.len(), 16, "{who}:\n{om}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let mut with = 0;
    for (le, count, exemplar) in &resource {
        if *count == 0.0 {
            assert!(exemplar.is_none(), "{who}: le {le}: {exemplar:?}\n{om}");
            continue;
        }
        with += 1;
        let text = exemplar
            .as_deref()
            .unwrap_or_else(|| panic!("{who}: le {le}\n{om}"));
        let (span, got_trace, value, time) =
            parse_exemplar(text).unwrap_or_else(|| panic!("{who}: the exemplar {text:?}"));
        assert_eq!(got_trace, trace, "{who}: {text}");
        // the server span's own id, not the caller's
        assert_ne!(span, PARENT, "{who}: {text}");
        assert!(value > 0.0 && value <= *le, "{who}: {text} in le {le}");
        assert!((now - time).abs() < 300.0, "{who}: {text}");
    }
    assert!(with > 0, "{who}:\n{om}");
    let other = route_buckets(om, unsampled);
    assert_eq!(other.len(), 16, "{who}:\n{om}");
    assert!(other.iter().all(|b| b.2.is_none()), "{who}:\n{om}");
    // nowhere else (the counts, sums, gauges)
    assert_eq!(om.matches(" # {").count(), with, "{who}:\n{om}");
}

/// `OTEL_PYTHON_TOMODACHI_PROMETHEUS_EXEMPLARS_ENABLED`: the OpenMetrics scrape has the traced
/// request's exemplar on its bucket lines, as Python tomodachi's endpoint (same shape, same
/// buckets); the Prometheus text format has none, nor the endpoint without the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exemplars_of_sampled_requests_as_python_tomodachi() {
    let sampled = format!("traceparent: 00-{TRACE}-{PARENT}-01\r\n");
    let unsampled = format!("traceparent: 00-1{}-{PARENT}-00\r\n", &TRACE[1..]);
    let enabled = [(
        "OTEL_PYTHON_TOMODACHI_PROMETHEUS_EXEMPLARS_ENABLED",
        "true".to_owned(),
    )];
    let up = |endpoint: std::net::SocketAddr| async move {
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(endpoint).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the Prometheus endpoint {endpoint} answers");
    };

    let prom_port = free_port();
    let (service, addr, _log) = instrumented_example(prom_port, &enabled).await;
    let endpoint: std::net::SocketAddr = format!("127.0.0.1:{prom_port}").parse().unwrap();
    up(endpoint).await;
    assert_eq!(get_with(addr, "/resource/a", &sampled).await.status, 200);
    assert_eq!(get_with(addr, "/health", &unsampled).await.status, 200);
    let om = scrape(endpoint, true).await.text();
    assert_exemplars("ours", &om, TRACE, "/health");
    let text = scrape(endpoint, false).await.text();
    assert!(
        text.contains("http_server_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(!text.contains(" # {"), "{text}");
    // the next scrape: the bucket kept its exemplar
    assert_exemplars(
        "ours, again",
        &scrape(endpoint, true).await.text(),
        TRACE,
        "/health",
    );
    drop(service);

    // without the flag
    let prom_port = free_port();
    let (service, addr, _log) = instrumented_example(prom_port, &[]).await;
    let endpoint: std::net::SocketAddr = format!("127.0.0.1:{prom_port}").parse().unwrap();
    up(endpoint).await;
    assert_eq!(get_with(addr, "/resource/a", &sampled).await.status, 200);
    let om = scrape(endpoint, true).await.text();
    assert!(om.contains("http_server_duration_seconds_bucket{"), "{om}");
    assert!(!om.contains(" # {"), "{om}");
    drop(service);

    // Python tomodachi's endpoint for the same requests
    let receiver = Receiver::start();
    let py_prom = free_port();
    let rk = unique("otel.exemplars.py");
    let mut env = vec![
        (
            "OTEL_PYTHON_METER_PROVIDER",
            "tomodachi_prometheus".to_owned(),
        ),
        (
            "OTEL_PYTHON_TOMODACHI_PROMETHEUS_ADDRESS",
            "127.0.0.1".to_owned(),
        ),
        ("OTEL_PYTHON_TOMODACHI_PROMETHEUS_PORT", py_prom.to_string()),
    ];
    env.extend(enabled.iter().cloned());
    let py = PyOtel::start_with(&receiver, "http-example", &rk, &rk, &env).await;
    let py_addr: std::net::SocketAddr = format!("127.0.0.1:{}", py.port).parse().unwrap();
    let py_endpoint: std::net::SocketAddr = format!("127.0.0.1:{py_prom}").parse().unwrap();
    up(py_endpoint).await;
    assert_eq!(get_with(py_addr, "/resource/a", &sampled).await.status, 200);
    assert_eq!(get_with(py_addr, "/log", &unsampled).await.status, 200);
    let py_om = scrape(py_endpoint, true).await.text();
    assert_exemplars("Python tomodachi", &py_om, TRACE, "/log");
    let py_text = scrape(py_endpoint, false).await.text();
    assert!(!py_text.contains(" # {"), "{py_text}");
    drop(py);
}

/// A real Prometheus (with `--enable-feature=exemplar-storage`) scrapes the endpoint in
/// OpenMetrics, accepts its exemplars and stores the traced request's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_stores_the_exemplars() {
    let prometheus = prometheus_bin();
    let prom_port = free_port();
    let (_service, addr, _log) = instrumented_example(
        prom_port,
        &[(
            "OTEL_PYTHON_TOMODACHI_PROMETHEUS_EXEMPLARS_ENABLED",
            "true".to_owned(),
        )],
    )
    .await;
    let sampled = format!("traceparent: 00-{TRACE}-{PARENT}-01\r\n");
    assert_eq!(get_with(addr, "/resource/a", &sampled).await.status, 200);

    let (_prometheus, api) = start_prometheus(
        &prometheus,
        prom_port,
        "prometheus-exemplars",
        &["--enable-feature=exemplar-storage"],
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let req = format!(
        // HTTP/1.0: the answer is long, and not chunked then
        "GET /api/v1/query_exemplars?query=http_server_duration_seconds_bucket&start={}&end={} HTTP/1.0\r\nHost: localhost\r\n\r\n",
        now - 600,
        now + 600
    );
    let mut stored = Vec::new();
    for _ in 0..600 {
        if tokio::net::TcpStream::connect(api).await.is_ok() {
            let resp = raw(api, req.as_bytes()).await;
            let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
            stored = body["data"].as_array().cloned().unwrap_or_default();
            if !stored.is_empty() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!stored.is_empty(), "Prometheus stored no exemplar");
    for series in &stored {
        assert_eq!(
            series["seriesLabels"]["http_route"], "/resource/(?P<id>[^/]+?)/?",
            "{series}"
        );
        let exemplars = series["exemplars"].as_array().cloned().unwrap_or_default();
        assert!(!exemplars.is_empty(), "{series}");
        for e in exemplars {
            assert_eq!(e["labels"]["trace_id"], TRACE, "{e}");
            assert_eq!(
                e["labels"]["span_id"].as_str().map(str::len),
                Some(16),
                "{e}"
            );
        }
    }
}
