//! Upstream's experimental Prometheus meter provider (`OTEL_PYTHON_METER_PROVIDER=
//! tomodachi_prometheus`, or the metric reader of the same name): an HTTP endpoint serving the
//! meter provider's metrics in the Prometheus text format (0.0.4), or OpenMetrics when the
//! scrape's `Accept` asks for `application/openmetrics-text`.
//!
//! The metrics are read from the SDK through a [`ManualReader`] on each scrape (cumulative);
//! names and labels follow upstream (its unit normalisation, the namespace prefix,
//! `otel_scope_info` and `otel_scope_*` labels, `target_info` with `job` and `instance`, also
//! added to every sample); the exposition itself is `prometheus-client`'s encoders.
//!
//! `opentelemetry-prometheus` 0.33 (compatible with the SDK) was not used: it encodes through
//! the `prometheus` crate, which has no OpenMetrics, and names metrics by the OTel collector's
//! unit table rather than upstream's (`messaging_rabbitmq_active_tasks` instead of upstream's
//! `messaging_rabbitmq_active_tasks_messages`), without `otel_scope_info`, `job`/`instance`.
//!
//! Exemplars (`OTEL_PYTHON_TOMODACHI_PROMETHEUS_EXEMPLARS_ENABLED`): the flag is read, but the
//! Rust SDK records no exemplars, so none are served.

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use opentelemetry::{InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, Temporality};
use opentelemetry_sdk::Resource;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::error::Error;

/// The `Content-Type` of the OpenMetrics text format.
pub(crate) const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The meter provider's reader the endpoint collects through (cumulative, as Prometheus needs).
#[derive(Debug, Clone)]
pub(crate) struct PrometheusReader(Arc<ManualReader>);

impl MetricReader for PrometheusReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline)
    }

    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn temporality(&self, _kind: InstrumentKind) -> Temporality {
        Temporality::Cumulative
    }
}

/// The endpoint's settings, from upstream's variables (the first one set among aliases wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PrometheusConfig {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) prefix: String,
    pub(crate) scope_info: bool,
    pub(crate) target_info: bool,
    pub(crate) exemplars: bool,
}

fn first(env: &dyn Fn(&str) -> Option<String>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| env(k).filter(|v| !v.is_empty()))
}

fn flag(env: &dyn Fn(&str) -> Option<String>, keys: &[&str], default: bool) -> bool {
    first(env, keys).map_or(default, |v| {
        matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true")
    })
}

impl PrometheusConfig {
    /// Reads `OTEL_PYTHON_TOMODACHI_PROMETHEUS_ADDRESS` (`localhost`), `..._PORT` (9464),
    /// `..._NAMESPACE_PREFIX` (none), `..._INCLUDE_SCOPE_INFO` (true), `..._INCLUDE_TARGET_INFO`
    /// (true), `..._EXEMPLARS_ENABLED` (false) and their aliases, as upstream.
    pub(crate) fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let host = first(
            env,
            &[
                "OTEL_PYTHON_TOMODACHI_PROMETHEUS_ADDRESS",
                "OTEL_TOMODACHI_PROMETHEUS_METER_PROVIDER_ADDRESS",
                "OTEL_TOMODACHI_PROMETHEUS_ADDRESS",
                "OTEL_PYTHON_EXPORTER_PROMETHEUS_HOST",
                "OTEL_EXPORTER_PROMETHEUS_HOST",
            ],
        )
        .unwrap_or_else(|| "localhost".to_owned());
        let port = match first(
            env,
            &[
                "OTEL_PYTHON_TOMODACHI_PROMETHEUS_PORT",
                "OTEL_TOMODACHI_PROMETHEUS_METER_PROVIDER_PORT",
                "OTEL_TOMODACHI_PROMETHEUS_PORT",
                "OTEL_PYTHON_EXPORTER_PROMETHEUS_PORT",
                "OTEL_EXPORTER_PROMETHEUS_PORT",
            ],
        ) {
            None => 9464,
            Some(p) => p.trim().parse::<u16>().map_err(|_| {
                Error::msg(format!(
                    "invalid prometheus port {p:?} (OTEL_PYTHON_TOMODACHI_PROMETHEUS_PORT)"
                ))
            })?,
        };
        Ok(PrometheusConfig {
            host,
            port,
            prefix: first(
                env,
                &[
                    "OTEL_PYTHON_TOMODACHI_PROMETHEUS_NAMESPACE_PREFIX",
                    "OTEL_TOMODACHI_PROMETHEUS_NAMESPACE_PREFIX",
                    "OTEL_PYTHON_EXPORTER_PROMETHEUS_NAMESPACE_PREFIX",
                    "OTEL_EXPORTER_PROMETHEUS_NAMESPACE_PREFIX",
                ],
            )
            .unwrap_or_default(),
            scope_info: flag(
                env,
                &[
                    "OTEL_PYTHON_TOMODACHI_PROMETHEUS_INCLUDE_SCOPE_INFO",
                    "OTEL_TOMODACHI_PROMETHEUS_INCLUDE_SCOPE_INFO",
                    "OTEL_PYTHON_EXPORTER_PROMETHEUS_INCLUDE_OTEL_SCOPE_INFO",
                    "OTEL_EXPORTER_PROMETHEUS_INCLUDE_OTEL_SCOPE_INFO",
                    "OTEL_PYTHON_EXPORTER_PROMETHEUS_INCLUDE_SCOPE_INFO",
                    "OTEL_EXPORTER_PROMETHEUS_INCLUDE_SCOPE_INFO",
                ],
                true,
            ),
            target_info: flag(
                env,
                &[
                    "OTEL_PYTHON_TOMODACHI_PROMETHEUS_INCLUDE_TARGET_INFO",
                    "OTEL_TOMODACHI_PROMETHEUS_INCLUDE_TARGET_INFO",
                    "OTEL_PYTHON_EXPORTER_PROMETHEUS_INCLUDE_TARGET_INFO",
                    "OTEL_EXPORTER_PROMETHEUS_INCLUDE_TARGET_INFO",
                ],
                true,
            ),
            exemplars: flag(
                env,
                &[
                    "OTEL_PYTHON_TOMODACHI_PROMETHEUS_EXEMPLARS_ENABLED",
                    "OTEL_TOMODACHI_PROMETHEUS_EXEMPLARS_ENABLED",
                    "OTEL_PYTHON_EXPORTER_PROMETHEUS_EXEMPLARS_ENABLED",
                    "OTEL_EXPORTER_PROMETHEUS_EXEMPLARS_ENABLED",
                    "IS_TOMODACHI_PROMETHEUS_EXEMPLARS_ENABLED",
                    "TOMODACHI_PROMETHEUS_EXEMPLARS_ENABLED",
                ],
                false,
            ),
        })
    }

    /// How upstream shows the address in its log lines.
    fn shown_host(&self) -> &str {
        if self.host == "0.0.0.0" || self.host == "127.0.0.1" {
            "localhost"
        } else {
            &self.host
        }
    }
}

/// Renders the reader's metrics (one collection per scrape).
#[derive(Debug)]
pub(crate) struct Exposition {
    registry: Registry,
}

impl Exposition {
    /// The reader to give the meter provider, and the exposition reading through it.
    pub(crate) fn new(config: PrometheusConfig) -> (PrometheusReader, Exposition) {
        let reader = Arc::new(ManualReader::builder().build());
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Families {
            reader: reader.clone(),
            config,
        }));
        (PrometheusReader(reader), Exposition { registry })
    }

    /// The Prometheus text format, or OpenMetrics.
    pub(crate) fn render(&self, openmetrics: bool) -> String {
        let mut out = String::new();
        let encoded = if openmetrics {
            prometheus_client::encoding::text::encode(&mut out, &self.registry)
        } else {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        };
        if encoded.is_err() {
            tracing::debug!(target: "tomodachi.opentelemetry", "unable to encode the metrics");
        }
        out
    }
}

/// Whether an `Accept` header asks for OpenMetrics (as `prometheus_client` decides).
pub(crate) fn wants_openmetrics(accept: &str) -> bool {
    accept.split(',').any(|part| {
        part.split(';').next().unwrap_or_default().trim() == "application/openmetrics-text"
    })
}

/// The collector the registry asks on each scrape.
#[derive(Debug)]
struct Families {
    reader: Arc<ManualReader>,
    config: PrometheusConfig,
}

type Labels = Vec<(String, String)>;

impl Collector for Families {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
        let mut rm = ResourceMetrics::default();
        if let Err(e) = self.reader.collect(&mut rm) {
            tracing::debug!(target: "tomodachi.opentelemetry", error_message = %e,
                "unable to collect the metrics for prometheus");
            return Ok(());
        }
        let c = &self.config;
        let mut common: Labels = Vec::new();
        if c.target_info {
            let (job, instance) = job_and_instance(rm.resource());
            let mut labels: Labels = rm
                .resource()
                .iter()
                .map(|(k, v)| (sanitize_label(k.as_str()), label_value(v)))
                .filter(|(k, _)| k != "job" && k != "instance")
                .collect();
            labels.push(("job".to_owned(), job.clone()));
            labels.push(("instance".to_owned(), instance.clone()));
            encoder
                .encode_descriptor("target", "Target metadata", None, MetricType::Info)?
                .encode_info(&labels)?;
            common.push(("job".to_owned(), job));
            common.push(("instance".to_owned(), instance));
        }
        let scopes: Vec<_> = rm
            .scope_metrics()
            .filter(|s| s.metrics().next().is_some())
            .collect();
        if c.scope_info && !scopes.is_empty() {
            let mut info = encoder.encode_descriptor(
                "otel_scope",
                "Instrumentation Scope metadata",
                None,
                MetricType::Info,
            )?;
            for s in &scopes {
                info.encode_info(&scope_labels(s.scope()))?;
            }
        }
        for s in scopes {
            let mut extra = common.clone();
            if c.scope_info {
                extra.extend(scope_labels(s.scope()));
            }
            for m in s.metrics() {
                let family = Family {
                    prefix: &c.prefix,
                    name: m.name(),
                    unit: m.unit(),
                    help: m.description(),
                    extra: &extra,
                };
                match m.data() {
                    AggregatedMetrics::F64(d) => family.encode(&mut encoder, d)?,
                    AggregatedMetrics::I64(d) => family.encode(&mut encoder, d)?,
                    AggregatedMetrics::U64(d) => family.encode(&mut encoder, d)?,
                }
            }
        }
        Ok(())
    }
}

/// `job` (`<service.namespace>/<service.name>` or the name) and `instance`
/// (`service.instance.id`), as upstream's target info.
fn job_and_instance(resource: &Resource) -> (String, String) {
    let get = |k: &'static str| {
        resource
            .get(&opentelemetry::Key::from_static_str(k))
            .map(|v| v.as_str().into_owned())
            .unwrap_or_default()
    };
    let (name, namespace) = (get("service.name"), get("service.namespace"));
    let job = if namespace.is_empty() {
        name
    } else {
        format!("{namespace}/{name}")
    };
    (job, get("service.instance.id"))
}

fn scope_labels(scope: &InstrumentationScope) -> Labels {
    vec![
        ("otel_scope_name".to_owned(), scope.name().to_owned()),
        (
            "otel_scope_version".to_owned(),
            scope.version().unwrap_or_default().to_owned(),
        ),
    ]
}

/// Prometheus' rule for names and label keys: every character other than `[A-Za-z0-9_]`
/// becomes `_`, and a leading digit too (as upstream's exporter).
fn sanitize(s: &str) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if c.is_ascii_alphabetic() || c == '_' || (c.is_ascii_digit() && i > 0) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn sanitize_label(key: &str) -> String {
    sanitize(key)
}

/// A label value as upstream's exporter writes it (strings as they are, the rest as JSON).
fn label_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.as_str().to_owned(),
        Value::F64(f) => format!("{f:?}"),
        other => other.to_string(),
    }
}

/// Upstream's unit normalisation (`tomodachi.opentelemetry.prometheus`, then the exporter's
/// `map_unit`): braces removed, lower-cased, well-known units spelled out (`s` → `seconds`,
/// `{request}` → `requests`, `1` → `ratio`, ...), `a/b` as `a_per_b`.
pub(crate) fn normalize_unit(unit: &str) -> String {
    let unit = unit.replace(['{', '}'], "").to_lowercase();
    if let Some((top, bottom)) = unit.split_once('/') {
        let bottom = sanitize_unit(bottom);
        if !bottom.is_empty() {
            let top = sanitize_unit(top);
            let top = unit_name(&top).map_or(top, str::to_owned);
            let bottom = per_unit_name(&bottom).unwrap_or(&bottom).to_owned();
            return if top.is_empty() {
                format!("per_{bottom}")
            } else {
                format!("{top}_per_{bottom}")
            };
        }
    }
    match unit_name(&unit) {
        Some(u) => u.to_owned(),
        None => sanitize_unit(&unit),
    }
}

fn sanitize_unit(u: &str) -> String {
    u.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Upstream's `UNIT_TRANSFORM_MAP` (lower-case keys).
fn unit_name(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "s" | "second" => "seconds",
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "m" => "meters",
        "v" => "volts",
        "a" => "amperes",
        "j" => "joules",
        "w" => "watts",
        "g" => "grams",
        "cel" => "celsius",
        "hz" => "hertz",
        "request" | "req" => "requests",
        "task" => "tasks",
        "message" | "msg" => "messages",
        "byte" | "by" => "bytes",
        "kiby" => "kibibytes",
        "miby" => "mebibytes",
        "giby" => "gibibytes",
        "tiby" => "tebibytes",
        "kby" => "kilobytes",
        "mby" => "megabytes",
        "gby" => "gigabytes",
        "tby" => "terabytes",
        "page" => "pages",
        "fault" => "faults",
        "query" => "queries",
        "invocation" => "invocations",
        "operation" => "operations",
        "packet" => "packets",
        "error" => "errors",
        "connection" => "connections",
        "thread" => "threads",
        "class" => "classes",
        "buffer" => "buffers",
        "%" => "percent",
        "1" => "ratio",
        _ => return None,
    })
}

/// Upstream's `PER_UNIT_TRANSFORM_MAP`.
fn per_unit_name(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        _ => return None,
    })
}

/// The Prometheus name of a metric: the sanitized (prefixed) name and its normalized unit,
/// returned apart for the encoder, which appends `_<unit>` (and `_total` to counters). As
/// upstream, a name that already ends with `_<unit>` does not get it twice.
pub(crate) fn prometheus_name(
    prefix: &str,
    name: &str,
    unit: &str,
    counter: bool,
) -> (String, Option<String>) {
    let mut full = if prefix.is_empty() {
        sanitize(name)
    } else {
        sanitize(&format!("{prefix}_{name}"))
    };
    if counter && full.len() > "_total".len() && full.ends_with("_total") {
        full.truncate(full.len() - "_total".len());
    }
    let unit = normalize_unit(unit);
    if unit.is_empty() {
        return (full, None);
    }
    let suffix = format!("_{unit}");
    if full.len() > suffix.len() && full.ends_with(&suffix) {
        full.truncate(full.len() - suffix.len());
    }
    (full, Some(unit))
}

/// One metric's family.
struct Family<'a> {
    prefix: &'a str,
    name: &'a str,
    unit: &'a str,
    help: &'a str,
    extra: &'a [(String, String)],
}

/// The numbers the SDK aggregates, as Prometheus' floats.
trait AsF64: Copy {
    fn as_f64(self) -> f64;
}

impl AsF64 for f64 {
    fn as_f64(self) -> f64 {
        self
    }
}

impl AsF64 for i64 {
    fn as_f64(self) -> f64 {
        self as f64
    }
}

impl AsF64 for u64 {
    fn as_f64(self) -> f64 {
        self as f64
    }
}

impl Family<'_> {
    /// A data point's labels: its attributes sorted by key (as upstream), then `job`,
    /// `instance` and the scope labels.
    fn labels<'k>(&self, attributes: impl Iterator<Item = &'k KeyValue>) -> Labels {
        let mut labels: Labels = attributes
            .map(|kv| (sanitize_label(kv.key.as_str()), label_value(&kv.value)))
            .filter(|(k, _)| !self.extra.iter().any(|(e, _)| e == k))
            .collect();
        labels.sort();
        labels.extend(self.extra.iter().cloned());
        labels
    }

    fn encode<T: AsF64>(
        &self,
        encoder: &mut DescriptorEncoder<'_>,
        data: &MetricData<T>,
    ) -> Result<(), fmt::Error> {
        match data {
            MetricData::Histogram(h) => {
                if h.data_points().next().is_none() {
                    return Ok(());
                }
                let (name, unit) = prometheus_name(self.prefix, self.name, self.unit, false);
                let unit = unit.map(Unit::Other);
                let mut family = encoder.encode_descriptor(
                    &name,
                    self.help,
                    unit.as_ref(),
                    MetricType::Histogram,
                )?;
                for dp in h.data_points() {
                    let labels = self.labels(dp.attributes());
                    let counts: Vec<u64> = dp.bucket_counts().collect();
                    let mut buckets: Vec<(f64, u64)> =
                        dp.bounds().zip(counts.iter().copied()).collect();
                    buckets.push((
                        f64::INFINITY,
                        counts.get(buckets.len()).copied().unwrap_or(0),
                    ));
                    family
                        .encode_family(&labels)?
                        .encode_histogram::<NoLabelSet>(
                            dp.sum().as_f64(),
                            dp.count(),
                            &buckets,
                            None,
                        )?;
                }
            }
            MetricData::Sum(s) => {
                if s.data_points().next().is_none() {
                    return Ok(());
                }
                // a cumulative non-monotonic sum is a gauge (the compatibility spec)
                let counter = s.is_monotonic();
                let (name, unit) = prometheus_name(self.prefix, self.name, self.unit, counter);
                let unit = unit.map(Unit::Other);
                let kind = if counter {
                    MetricType::Counter
                } else {
                    MetricType::Gauge
                };
                let mut family =
                    encoder.encode_descriptor(&name, self.help, unit.as_ref(), kind)?;
                for dp in s.data_points() {
                    let labels = self.labels(dp.attributes());
                    let mut point = family.encode_family(&labels)?;
                    if counter {
                        point.encode_counter::<NoLabelSet, f64, f64>(&dp.value().as_f64(), None)?;
                    } else {
                        point.encode_gauge(&dp.value().as_f64())?;
                    }
                }
            }
            MetricData::Gauge(g) => {
                if g.data_points().next().is_none() {
                    return Ok(());
                }
                let (name, unit) = prometheus_name(self.prefix, self.name, self.unit, false);
                let unit = unit.map(Unit::Other);
                let mut family = encoder.encode_descriptor(
                    &name,
                    self.help,
                    unit.as_ref(),
                    MetricType::Gauge,
                )?;
                for dp in g.data_points() {
                    let labels = self.labels(dp.attributes());
                    family
                        .encode_family(&labels)?
                        .encode_gauge(&dp.value().as_f64())?;
                }
            }
            // upstream's exporter has no exponential histograms either
            MetricData::ExponentialHistogram(_) => {}
        }
        Ok(())
    }
}

/// The running endpoint; stopped when dropped (at the app's stop).
#[derive(Debug)]
pub(crate) struct Endpoint {
    task: tokio::task::JoinHandle<()>,
}

impl Endpoint {
    /// Stops serving (the app stopped).
    pub(crate) fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds the endpoint and serves `exposition` on it (every path, as `prometheus_client`).
/// A failed bind logs upstream's warning and returns `None`: the service keeps running.
#[cfg(feature = "http")]
pub(crate) fn serve(config: &PrometheusConfig, exposition: Arc<Exposition>) -> Option<Endpoint> {
    use std::net::ToSocketAddrs;
    let shown = config.shown_host();
    let bound = (config.host.as_str(), config.port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())
        .and_then(|mut addrs| {
            let mut last = "no address".to_owned();
            addrs
                .find_map(|a| match std::net::TcpListener::bind(a) {
                    Ok(l) => Some(l),
                    Err(e) => {
                        last = e.to_string();
                        None
                    }
                })
                .ok_or(last)
        })
        .and_then(|l| {
            l.set_nonblocking(true).map_err(|e| e.to_string())?;
            tokio::net::TcpListener::from_std(l).map_err(|e| e.to_string())
        });
    let listener = match bound {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(target: "tomodachi.opentelemetry", host = %config.host,
                port = config.port, error_message = %e,
                opentelemetry_metric_provider = "tomodachi_prometheus",
                "unable to bind prometheus http server [http] to http://{}:{}/ in otel metric provider",
                shown, config.port);
            return None;
        }
    };
    tracing::info!(target: "tomodachi.opentelemetry",
        listen_url = %format!("http://{}:{}/", shown, config.port),
        listen_host = %config.host, listen_port = config.port,
        "prometheus client started");
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // out of file descriptors, say: no busy loop
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let exposition = exposition.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let exposition = exposition.clone();
                        async move { Ok::<_, std::convert::Infallible>(respond(&exposition, &req)) }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Some(Endpoint { task })
}

#[cfg(feature = "http")]
fn respond<B>(
    exposition: &Exposition,
    req: &http::Request<B>,
) -> http::Response<http_body_util::Full<bytes::Bytes>> {
    let openmetrics = req
        .headers()
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(wants_openmetrics);
    let body = exposition.render(openmetrics);
    let content_type = if openmetrics {
        OPENMETRICS_CONTENT_TYPE
    } else {
        prometheus_client::encoding::prometheus_text::CONTENT_TYPE
    };
    let mut res = http::Response::new(http_body_util::Full::new(bytes::Bytes::from(body)));
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    res
}

/// Without the `http` feature there is no HTTP server to serve the endpoint with.
#[cfg(not(feature = "http"))]
pub(crate) fn serve(config: &PrometheusConfig, _exposition: Arc<Exposition>) -> Option<Endpoint> {
    tracing::warn!(target: "tomodachi.opentelemetry", host = %config.host, port = config.port,
        opentelemetry_metric_provider = "tomodachi_prometheus",
        "the prometheus endpoint needs tomodachi's `http` feature: not started");
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_upstreams_unit_normalisation() {
        let n = |name, unit| prometheus_name("", name, unit, false);
        assert_eq!(
            n("http.server.duration", "s"),
            (
                "http_server_duration".to_owned(),
                Some("seconds".to_owned())
            )
        );
        // the name already ends with the unit
        assert_eq!(
            n("http.server.active_requests", "{request}"),
            ("http_server_active".to_owned(), Some("requests".to_owned()))
        );
        assert_eq!(
            n("messaging.rabbitmq.active_tasks", "{message}"),
            (
                "messaging_rabbitmq_active_tasks".to_owned(),
                Some("messages".to_owned())
            )
        );
        assert_eq!(
            n("function.active_tasks", "{task}"),
            ("function_active".to_owned(), Some("tasks".to_owned()))
        );
        assert_eq!(n("a.ratio", "1").1.as_deref(), Some("ratio"));
        assert_eq!(n("speed", "m/s").1.as_deref(), Some("meters_per_second"));
        assert_eq!(n("plain", "").1, None);
        assert_eq!(
            prometheus_name("myapp", "jobs.done_total", "", true),
            ("myapp_jobs_done".to_owned(), None)
        );
        assert_eq!(sanitize("1a.b-c"), "_a_b_c");
    }

    #[test]
    fn the_variables_and_their_defaults() {
        let c = PrometheusConfig::from_env(&|_| None).unwrap();
        assert_eq!(
            c,
            PrometheusConfig {
                host: "localhost".into(),
                port: 9464,
                prefix: String::new(),
                scope_info: true,
                target_info: true,
                exemplars: false,
            }
        );
        let env = |k: &str| match k {
            "OTEL_EXPORTER_PROMETHEUS_HOST" => Some("0.0.0.0".to_owned()),
            "OTEL_PYTHON_TOMODACHI_PROMETHEUS_PORT" => Some("9999".to_owned()),
            "OTEL_EXPORTER_PROMETHEUS_PORT" => Some("1".to_owned()),
            "OTEL_PYTHON_TOMODACHI_PROMETHEUS_INCLUDE_SCOPE_INFO" => Some("false".to_owned()),
            "OTEL_EXPORTER_PROMETHEUS_EXEMPLARS_ENABLED" => Some("True".to_owned()),
            _ => None,
        };
        let c = PrometheusConfig::from_env(&env).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("0.0.0.0", 9999));
        assert_eq!(c.shown_host(), "localhost");
        assert!(!c.scope_info && c.target_info && c.exemplars);
        let bad = |k: &str| (k == "OTEL_EXPORTER_PROMETHEUS_PORT").then(|| "http".to_owned());
        assert!(PrometheusConfig::from_env(&bad).is_err());
    }

    #[test]
    fn accept_headers() {
        assert!(wants_openmetrics(
            "application/openmetrics-text; version=1.0.0,text/plain;q=0.5"
        ));
        assert!(!wants_openmetrics("text/plain"));
        assert!(!wants_openmetrics("*/*"));
    }
}
