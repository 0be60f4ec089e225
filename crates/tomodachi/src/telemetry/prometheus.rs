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
//! Exemplars (`OTEL_PYTHON_TOMODACHI_PROMETHEUS_EXEMPLARS_ENABLED`, off by default): as
//! upstream, on the duration histograms' bucket lines of the OpenMetrics exposition only
//! (`... le="0.005",...} 3 # {span_id="…",trace_id="…"} 0.000701542 1796421985.1223147`),
//! from the measurements made in sampled spans (the Rust SDK records no exemplars: the
//! instruments offer them to an [`ExemplarStore`]). `prometheus-client` 0.26 offers no way to
//! build its `Exemplar` outside the crate, so they are written after its bucket lines.

use std::fmt;
use std::sync::{Arc, Mutex, Weak};
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

use super::exemplars::ExemplarStore;
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
    families: Arc<Families>,
    /// With exemplars, one scrape at a time (each reads and resets the exemplars).
    scrapes: Mutex<()>,
}

impl Exposition {
    /// The reader to give the meter provider, and the exposition reading through it (with an
    /// exemplar store when `config` enables exemplars).
    pub(crate) fn new(config: PrometheusConfig) -> (PrometheusReader, Exposition) {
        let reader = Arc::new(ManualReader::builder().build());
        let mut registry = Registry::default();
        let families = Arc::new(Families {
            reader: reader.clone(),
            exemplars: config.exemplars.then(|| Arc::new(ExemplarStore::default())),
            config,
            plan: Mutex::default(),
        });
        registry.register_collector(Box::new(Shared(families.clone())));
        (
            PrometheusReader(reader),
            Exposition {
                registry,
                families,
                scrapes: Mutex::default(),
            },
        )
    }

    /// The store the instruments offer exemplars to (`None`: exemplars are not enabled).
    pub(crate) fn exemplars(&self) -> Option<Arc<ExemplarStore>> {
        self.families.exemplars.clone()
    }

    /// The Prometheus text format, or OpenMetrics (with the exemplars, when enabled).
    pub(crate) fn render(&self, openmetrics: bool) -> String {
        let _one_scrape = self
            .families
            .exemplars
            .as_ref()
            .map(|_| self.scrapes.lock().unwrap_or_else(|p| p.into_inner()));
        let mut out = String::new();
        let encoded = if openmetrics {
            prometheus_client::encoding::text::encode(&mut out, &self.registry)
        } else {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        };
        if encoded.is_err() {
            tracing::debug!(target: "tomodachi.opentelemetry", "unable to encode the metrics");
        }
        if self.families.exemplars.is_some() {
            let plan =
                std::mem::take(&mut *self.families.plan.lock().unwrap_or_else(|p| p.into_inner()));
            if openmetrics {
                out = with_exemplars(&out, &plan);
            }
        }
        out
    }
}

/// The exemplars of one histogram data point, for its bucket lines.
#[derive(Debug)]
struct Planned {
    /// The bucket lines' metric name (`http_server_duration_seconds_bucket`).
    bucket: String,
    /// Each bucket line's exemplar text (one per bucket, `+Inf` last).
    exemplars: Vec<Option<String>>,
}

/// `text` with each histogram bucket line followed by its exemplar. `plan` has every histogram
/// data point in the order they were encoded; each has one line per bucket, in order.
fn with_exemplars(text: &str, plan: &[Planned]) -> String {
    let mut out = String::with_capacity(text.len() + 128 * plan.len());
    let mut points = plan.iter().filter(|p| !p.exemplars.is_empty());
    let mut point = points.next();
    let mut bucket = 0;
    for line in text.split_inclusive('\n') {
        let Some(p) = point.filter(|p| {
            line.starts_with(&p.bucket)
                && matches!(line.as_bytes().get(p.bucket.len()), Some(b'{' | b' '))
        }) else {
            out.push_str(line);
            continue;
        };
        match p.exemplars.get(bucket).and_then(Option::as_deref) {
            Some(exemplar) => {
                out.push_str(line.trim_end_matches('\n'));
                out.push_str(exemplar);
                out.push('\n');
            }
            None => out.push_str(line),
        }
        bucket += 1;
        if bucket == p.exemplars.len() {
            point = points.next();
            bucket = 0;
        }
    }
    out
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
    /// `Some` when exemplars are enabled.
    exemplars: Option<Arc<ExemplarStore>>,
    /// The last scrape's histogram data points and their exemplars (when enabled).
    plan: Mutex<Vec<Planned>>,
}

/// The registry's handle on the collector the exposition also reads.
#[derive(Debug)]
struct Shared(Arc<Families>);

impl Collector for Shared {
    fn encode(&self, encoder: DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
        let mut plan = self.0.exemplars.as_ref().map(|_| Vec::new());
        let encoded = self.0.encode(encoder, plan.as_mut());
        if let Some(plan) = plan {
            *self.0.plan.lock().unwrap_or_else(|p| p.into_inner()) = plan;
        }
        encoded
    }
}

type Labels = Vec<(String, String)>;

impl Families {
    /// Encodes the reader's metrics; with exemplars, `plan` gets every histogram data point.
    fn encode(
        &self,
        mut encoder: DescriptorEncoder<'_>,
        mut plan: Option<&mut Vec<Planned>>,
    ) -> Result<(), fmt::Error> {
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
            // as upstream, the `tomodachi` scope's instruments only
            let exemplars = self
                .exemplars
                .as_deref()
                .filter(|_| s.scope().name() == super::SCOPE_NAME);
            for m in s.metrics() {
                let family = Family {
                    prefix: &c.prefix,
                    name: m.name(),
                    unit: m.unit(),
                    help: m.description(),
                    extra: &extra,
                    exemplars,
                };
                let plan = plan.as_deref_mut();
                match m.data() {
                    AggregatedMetrics::F64(d) => family.encode(&mut encoder, d, plan)?,
                    AggregatedMetrics::I64(d) => family.encode(&mut encoder, d, plan)?,
                    AggregatedMetrics::U64(d) => family.encode(&mut encoder, d, plan)?,
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
    /// The exemplars of this scope's histograms (`None`: not enabled, or another scope).
    exemplars: Option<&'a ExemplarStore>,
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
        mut plan: Option<&mut Vec<Planned>>,
    ) -> Result<(), fmt::Error> {
        match data {
            MetricData::Histogram(h) => {
                if h.data_points().next().is_none() {
                    return Ok(());
                }
                let (name, unit) = prometheus_name(self.prefix, self.name, self.unit, false);
                let bucket_name = match &unit {
                    Some(unit) => format!("{name}_{unit}_bucket"),
                    None => format!("{name}_bucket"),
                };
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
                    if let Some(plan) = plan.as_deref_mut() {
                        let bucket_counts: Vec<u64> = buckets.iter().map(|b| b.1).collect();
                        let exemplars = match self.exemplars {
                            Some(store) => store
                                .collect(
                                    self.name,
                                    dp.attributes(),
                                    &bucket_counts,
                                    (h.start_time(), h.time()),
                                )
                                .into_iter()
                                .map(|e| e.map(|e| e.openmetrics()))
                                .collect(),
                            None => vec![None; buckets.len()],
                        };
                        plan.push(Planned {
                            bucket: bucket_name.clone(),
                            exemplars,
                        });
                    }
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

    /// Exemplars on the `tomodachi` scope's duration histograms (only in OpenMetrics), from
    /// measurements in sampled spans, on the bucket of the value and the ones after it.
    #[test]
    fn exemplars_on_the_bucket_lines() {
        use opentelemetry::metrics::MeterProvider as _;
        use opentelemetry::trace::{
            SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
        };
        use opentelemetry_sdk::metrics::SdkMeterProvider;

        let env = |k: &str| {
            (k == "OTEL_PYTHON_TOMODACHI_PROMETHEUS_EXEMPLARS_ENABLED").then(|| "true".to_owned())
        };
        let (reader, exposition) = Exposition::new(PrometheusConfig::from_env(&env).unwrap());
        let provider = SdkMeterProvider::builder().with_reader(reader).build();
        let metrics = super::super::metrics::Metrics::new(
            &provider.meter(super::super::SCOPE_NAME),
            exposition.exemplars(),
        );
        // another scope's histogram of the same name gets none (and shifts nothing)
        provider
            .meter("other")
            .f64_histogram("function.duration")
            .with_unit("s")
            .with_boundaries(vec![0.0, 1.0])
            .build()
            .record(0.5, &[]);
        let in_span = |trace: &str, flags: TraceFlags| {
            opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
                TraceId::from_hex(trace).unwrap(),
                SpanId::from_hex("b7ad6b7169203331").unwrap(),
                flags,
                true,
                TraceState::default(),
            ))
        };
        let sampled = in_span("0af7651916cd43dd8448eb211c80319c", TraceFlags::SAMPLED);
        let unsampled = in_span("1af7651916cd43dd8448eb211c80319c", TraceFlags::default());
        metrics.scheduled_run("beat", &sampled).finish(true);
        metrics.scheduled_run("idle", &unsampled).finish(true);
        metrics
            .scheduled_run("root", &opentelemetry::Context::new())
            .finish(true);

        let with =
            " # {span_id=\"b7ad6b7169203331\",trace_id=\"0af7651916cd43dd8448eb211c80319c\"} ";
        for _ in 0..2 {
            let om = exposition.render(true);
            let buckets: Vec<&str> = om
                .lines()
                .filter(|l| l.starts_with("function_duration_seconds_bucket{"))
                .collect();
            assert_eq!(buckets.len(), 16 * 3 + 3, "{om}");
            for line in &buckets {
                let ours = line.contains("code_function=\"beat\"");
                let first = line.contains("le=\"0.0\"");
                assert_eq!(line.contains(" # {"), ours && !first, "{line}");
                if ours && !first {
                    let (_, exemplar) = line.split_once(with).expect(line);
                    let (value, time) = exemplar.split_once(' ').expect(line);
                    assert!(value.parse::<f64>().unwrap() <= 0.005, "{line}");
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_secs_f64();
                    assert!((now - time.parse::<f64>().unwrap()).abs() < 60.0, "{line}");
                }
            }
            assert_eq!(om.matches(" # {").count(), 15, "{om}");
            assert!(om.ends_with("# EOF\n"), "{om}");
        }
        // the Prometheus text format has no exemplars
        let text = exposition.render(false);
        assert!(text.contains("function_duration_seconds_bucket{"), "{text}");
        assert!(!text.contains(" # {"), "{text}");

        // not enabled: none
        let (reader, exposition) = Exposition::new(PrometheusConfig::from_env(&|_| None).unwrap());
        assert!(exposition.exemplars().is_none());
        let provider = SdkMeterProvider::builder().with_reader(reader).build();
        let metrics =
            super::super::metrics::Metrics::new(&provider.meter(super::super::SCOPE_NAME), None);
        metrics.scheduled_run("beat", &sampled).finish(true);
        let om = exposition.render(true);
        assert!(om.contains("function_duration_seconds_bucket{"), "{om}");
        assert!(!om.contains(" # {"), "{om}");
    }

    #[test]
    fn exemplars_follow_their_bucket_lines() {
        let plan = [
            Planned {
                bucket: "a_seconds_bucket".into(),
                exemplars: vec![None, Some(" # {x=\"1\"} 1".into())],
            },
            Planned {
                bucket: "a_seconds_bucket".into(),
                exemplars: vec![Some(" # {x=\"2\"} 2".into()), None],
            },
        ];
        let text = "# TYPE a_seconds histogram\na_seconds_sum 1\na_seconds_bucket_x{le=\"1\"} 1\na_seconds_bucket{le=\"1\"} 0\na_seconds_bucket{le=\"+Inf\"} 1\na_seconds_sum{k=\"v\"} 1\na_seconds_bucket{k=\"v\",le=\"1\"} 1\na_seconds_bucket{k=\"v\",le=\"+Inf\"} 1\n# EOF\n";
        assert_eq!(
            with_exemplars(text, &plan),
            "# TYPE a_seconds histogram\na_seconds_sum 1\na_seconds_bucket_x{le=\"1\"} 1\na_seconds_bucket{le=\"1\"} 0\na_seconds_bucket{le=\"+Inf\"} 1 # {x=\"1\"} 1\na_seconds_sum{k=\"v\"} 1\na_seconds_bucket{k=\"v\",le=\"1\"} 1 # {x=\"2\"} 2\na_seconds_bucket{k=\"v\",le=\"+Inf\"} 1\n# EOF\n"
        );
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
