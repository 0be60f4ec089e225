//! OpenTelemetry tracing (feature `opentelemetry`): upstream's `TomodachiInstrumentor`.
//!
//! An instrumented service starts a span for every HTTP request (`SERVER`, `"<METHOD>
//! <route>"`), every AMQP message its handlers process (`CONSUMER`, `"<routing key> process"`),
//! every `amqp::publish` (`PRODUCER`, `"<routing key> publish"`) and every run of a scheduled
//! function (`INTERNAL`, named after the function), with upstream's names, kinds and
//! attributes; likewise every SQS message an `aws_sns_sqs` handler processes (`CONSUMER`,
//! `"<topic> process"`), every SNS publish (`PRODUCER`, `"<topic> publish"`) and every
//! `sqs_send_message` (`PRODUCER`, `"<queue name> publish"`), the context in the message
//! attributes where Python tomodachi puts it. The trace context travels as W3C Trace Context
//! (`traceparent`, `tracestate`): in HTTP request headers, and in the AMQP `headers` property
//! exactly where Python tomodachi puts it, so traces continue across Rust and Python services.
//!
//! With a meter provider (given with [`OpenTelemetry::with_meter_provider`], or asked for by
//! `OTEL_METRICS_EXPORTER` / `OTEL_PYTHON_METER_PROVIDER=tomodachi_prometheus`), the same places
//! record upstream's instruments: `http.server.duration` and `http.server.active_requests`,
//! `messaging.rabbitmq.duration` and `.active_tasks`, `function.duration` and `.active_tasks`
//! (the duration histograms with upstream's buckets `0, 0.005, …, 10` s).
//!
//! Turned on for the services of a process by `--opentelemetry-instrument` or
//! `TOMODACHI_OPENTELEMETRY_INSTRUMENT=1` (the exporter then comes from the standard `OTEL_*`
//! variables, see [`OpenTelemetry::from_env`]), or in code:
//!
//! ```no_run
//! use tomodachi::telemetry::{opentelemetry_sdk, OpenTelemetry};
//!
//! # async fn demo(service: tomodachi::Service) -> tomodachi::Result<()> {
//! let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
//! let app = tomodachi::App::new()
//!     .service(service)
//!     .opentelemetry(OpenTelemetry::with_tracer_provider(provider).excluded_urls("/health"));
//! let running = app.start().await?;
//! # Ok(()) }
//! ```
//!
//! Without the feature nothing of this is built. With it, a service that is not instrumented
//! pays one `Option` check per request or message.

// Parts serve one transport each: built without `http` or `amqp`, some go unused.
#![cfg_attr(
    not(all(feature = "http", feature = "amqp")),
    allow(dead_code, unused_imports)
)]

pub(crate) mod amqp_spans;
pub(crate) mod aws_spans;
mod exception;
mod exclude;
mod exemplars;
pub(crate) mod http_spans;
pub(crate) mod log_ids;
mod logs;
mod meter_provider;
pub(crate) mod metrics;
mod prometheus;
mod propagation;
mod provider;
pub(crate) mod schedule_spans;

use std::sync::{Arc, Mutex, OnceLock};

pub use opentelemetry;
pub use opentelemetry_otlp;
pub use opentelemetry_sdk;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

use crate::error::Error;
use crate::transport::TransportContext;

pub(crate) use exception::record_error;
use exclude::ExcludedUrls;
pub use logs::OtelLogsLayer;

/// The instrumentation scope name of every span (upstream's tracer name).
///
/// ```
/// assert_eq!(tomodachi::telemetry::SCOPE_NAME, "tomodachi");
/// ```
pub const SCOPE_NAME: &str = "tomodachi";

/// How services are instrumented: where the tracer provider comes from and which URLs get no
/// span. Upstream's `TomodachiInstrumentor().instrument(tracer_provider=…, excluded_urls=…)`.
///
/// Cheap to clone (shared). Give it to an [`App`](crate::App) with
/// [`App::opentelemetry`](crate::App::opentelemetry), or make it the process's default with
/// [`instrument`](Self::instrument).
#[derive(Clone)]
pub struct OpenTelemetry {
    setup: Arc<Setup>,
}

impl std::fmt::Debug for OpenTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenTelemetry")
            .field("from_env", &self.setup.from_env)
            .field("excluded_urls", &self.setup.excluded_urls)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct Setup {
    /// Whether the provider is built from the `OTEL_*` variables (then it is ours to shut
    /// down), or was given.
    from_env: bool,
    /// The given provider, or the one built for the first instrumented service.
    provider: OnceLock<SdkTracerProvider>,
    /// Comma-separated regexes; `None`: from the environment.
    excluded_urls: Option<String>,
    /// The given meter provider, or the one built from the environment for the first
    /// instrumented service (`Some(None)`: the environment asks for no metrics).
    meters: OnceLock<Option<Meters>>,
    /// Whether the meter provider was given (then its owner shuts it down).
    meters_given: bool,
    /// The logger provider given with [`OpenTelemetry::with_logger_provider`].
    logger_provider: Option<opentelemetry_sdk::logs::SdkLoggerProvider>,
    /// The logger provider in use once the first service started (given, or from
    /// `OTEL_LOGS_EXPORTER`), and whether it is ours to shut down.
    logs: Arc<Mutex<Option<InstalledLogs>>>,
}

/// The meter provider and, when it has upstream's Prometheus reader, its endpoint (and the
/// exemplars it serves, when enabled).
#[derive(Clone)]
struct Meters {
    provider: SdkMeterProvider,
    endpoint: Option<Arc<prometheus::Endpoint>>,
    exemplars: Option<Arc<exemplars::ExemplarStore>>,
}

impl Meters {
    /// From `OTEL_METRICS_EXPORTER`, `OTEL_PYTHON_METER_PROVIDER`, `OTEL_PYTHON_METRIC_READER`
    /// (see [`OpenTelemetry::from_env`]); the Prometheus endpoint is started here.
    fn from_env(name: &str, uuid: &str) -> Result<Option<Meters>, Error> {
        let env = |k: &str| std::env::var(k).ok();
        let config = meter_provider::config(&env)?;
        let prometheus = if config.prometheus {
            let settings = prometheus::PrometheusConfig::from_env(&env)?;
            let (reader, exposition) = prometheus::Exposition::new(settings.clone());
            Some((reader, settings, exposition))
        } else {
            None
        };
        let reader = prometheus.as_ref().map(|(r, _, _)| r.clone());
        let Some(provider) = meter_provider::from_env(&config, name, uuid, reader)? else {
            return Ok(None);
        };
        let exemplars = prometheus
            .as_ref()
            .and_then(|(_, _, exposition)| exposition.exemplars());
        let endpoint = prometheus
            .and_then(|(_, settings, exposition)| {
                prometheus::serve(&settings, Arc::new(exposition))
            })
            .map(Arc::new);
        // no endpoint (its port was taken): no exemplars to record
        let exemplars = exemplars.filter(|_| endpoint.is_some());
        Ok(Some(Meters {
            provider,
            endpoint,
            exemplars,
        }))
    }
}

/// The logger provider in use and whether it is ours to shut down.
type InstalledLogs = (Arc<logs::Installed>, bool);

impl OpenTelemetry {
    /// A tracer provider built from the standard variables when the first service starts, as
    /// `--opentelemetry-instrument` does:
    ///
    /// - `OTEL_TRACES_EXPORTER`: `none` (the default, as upstream's distro: spans are made and
    ///   propagated, not exported), `otlp`, `otlp_proto_grpc` or `otlp_proto_http`;
    /// - `OTEL_EXPORTER_OTLP_PROTOCOL` (or `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`): `grpc` (the
    ///   default for `otlp`, as upstream) or `http/protobuf`;
    /// - `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
    ///   `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`, ...: read by the OTLP
    ///   exporter;
    /// - `OTEL_TRACES_SAMPLER` (and `_ARG`), `OTEL_BSP_*`: read by the SDK;
    /// - `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`: the resource, where `service.name`
    ///   becomes the service's name when unset (unless the name is `service` or `app`) and
    ///   `service.instance.id` its uuid (the first instrumented service's);
    /// - `OTEL_PYTHON_TOMODACHI_EXCLUDED_URLS`, `OTEL_PYTHON_EXCLUDED_URLS`,
    ///   `OTEL_PYTHON_AIOHTTP_EXCLUDED_URLS`: comma-separated regexes searched in the request
    ///   path; matching requests get no span (and no metrics);
    /// - metrics (unless [`with_meter_provider`](Self::with_meter_provider) gives a provider):
    ///   `OTEL_METRICS_EXPORTER` (`none` by default, `otlp`, `otlp_proto_grpc`,
    ///   `otlp_proto_http`) with `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL` /
    ///   `OTEL_EXPORTER_OTLP_PROTOCOL` and `OTEL_METRIC_EXPORT_INTERVAL`;
    ///   `OTEL_PYTHON_METER_PROVIDER=tomodachi_prometheus` (or
    ///   `OTEL_PYTHON_METRIC_READER=tomodachi_prometheus`) starts upstream's Prometheus endpoint
    ///   (`OTEL_PYTHON_TOMODACHI_PROMETHEUS_ADDRESS`, `_PORT`, `_NAMESPACE_PREFIX`,
    ///   `_INCLUDE_SCOPE_INFO`, `_INCLUDE_TARGET_INFO`, `_EXEMPLARS_ENABLED`; `localhost:9464` by
    ///   default; it needs the `http` feature). Without any of them no meter provider is built.
    ///
    /// Spans go through a batch processor with a bounded queue on its own thread: an
    /// unreachable collector drops spans, it never holds up a handler.
    ///
    /// ```
    /// // what `--opentelemetry-instrument` does for the services of `launch`
    /// let app = tomodachi::App::new().opentelemetry(tomodachi::telemetry::OpenTelemetry::from_env());
    /// ```
    pub fn from_env() -> Self {
        Self {
            setup: Arc::new(Setup {
                from_env: true,
                provider: OnceLock::new(),
                excluded_urls: None,
                meters: OnceLock::new(),
                meters_given: false,
                logger_provider: None,
                logs: Arc::default(),
            }),
        }
    }

    /// Spans go to `provider` (its resource, sampler and processors are used as they are).
    ///
    /// ```
    /// use tomodachi::telemetry::{opentelemetry_sdk::trace::SdkTracerProvider, OpenTelemetry};
    /// let telemetry = OpenTelemetry::with_tracer_provider(SdkTracerProvider::builder().build());
    /// assert!(telemetry.tracer_provider().is_some());
    /// ```
    pub fn with_tracer_provider(provider: SdkTracerProvider) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(provider);
        Self {
            setup: Arc::new(Setup {
                from_env: false,
                provider: cell,
                excluded_urls: None,
                meters: OnceLock::new(),
                meters_given: false,
                logger_provider: None,
                logs: Arc::default(),
            }),
        }
    }

    /// URLs that get no span: comma-separated regexes searched in the request path (instead
    /// of the `OTEL_PYTHON_*_EXCLUDED_URLS` variables).
    ///
    /// ```
    /// let telemetry = tomodachi::telemetry::OpenTelemetry::from_env().excluded_urls("^/health$,/metrics");
    /// ```
    pub fn excluded_urls(self, urls: &str) -> Self {
        let mut setup = (*self.setup).clone();
        setup.excluded_urls = Some(urls.to_owned());
        Self {
            setup: Arc::new(setup),
        }
    }

    /// Metrics go to `provider` (instead of the one the `OTEL_METRICS_EXPORTER` /
    /// `OTEL_PYTHON_METER_PROVIDER` variables describe): upstream's instruments
    /// (`http.server.duration`, `messaging.rabbitmq.active_tasks`, `function.duration`, ...)
    /// are created on its `tomodachi` meter. It is flushed when the app stops; shutting it down
    /// is its owner's.
    ///
    /// ```
    /// use tomodachi::telemetry::opentelemetry_sdk::{metrics::SdkMeterProvider, trace::SdkTracerProvider};
    /// use tomodachi::telemetry::OpenTelemetry;
    /// let telemetry = OpenTelemetry::with_tracer_provider(SdkTracerProvider::builder().build())
    ///     .with_meter_provider(SdkMeterProvider::builder().build());
    /// assert!(telemetry.meter_provider().is_some());
    /// ```
    pub fn with_meter_provider(self, provider: SdkMeterProvider) -> Self {
        let mut setup = (*self.setup).clone();
        setup.meters = OnceLock::new();
        let _ = setup.meters.set(Some(Meters {
            provider,
            endpoint: None,
            exemplars: None,
        }));
        setup.meters_given = true;
        Self {
            setup: Arc::new(setup),
        }
    }

    /// The library's log records (loggers `tomodachi*` and `exception`, at or above
    /// `OTEL_LOG_LEVEL`) also go to `provider` while the app runs, as upstream's
    /// `instrument(logger_provider=…)`: the message as the body, the fields and the handler's
    /// bound context as attributes, the active span's trace context. Flushed when the app
    /// stops (its owner shuts it down). Without it, [`from_env`](Self::from_env) exports logs
    /// when `OTEL_LOGS_EXPORTER` is `otlp` (default `none`), with the tracer provider's resource
    /// rules and a batch processor.
    ///
    /// ```
    /// use tomodachi::telemetry::{opentelemetry_sdk, OpenTelemetry};
    /// let logs = opentelemetry_sdk::logs::SdkLoggerProvider::builder().build();
    /// let telemetry = OpenTelemetry::from_env().with_logger_provider(logs);
    /// assert!(telemetry.logger_provider().is_some());
    /// ```
    pub fn with_logger_provider(
        self,
        provider: opentelemetry_sdk::logs::SdkLoggerProvider,
    ) -> Self {
        let mut setup = (*self.setup).clone();
        setup.logger_provider = Some(provider);
        setup.logs = Arc::default();
        Self {
            setup: Arc::new(setup),
        }
    }

    /// The meter provider, once there is one (given, or built for the first instrumented
    /// service when the variables ask for metrics).
    ///
    /// ```
    /// // OTEL_METRICS_EXPORTER defaults to `none`; nothing is built before a service starts
    /// assert!(tomodachi::telemetry::OpenTelemetry::from_env().meter_provider().is_none());
    /// ```
    pub fn meter_provider(&self) -> Option<&SdkMeterProvider> {
        self.setup.meters.get()?.as_ref().map(|m| &m.provider)
    }

    /// The logger provider: the one given, or the one built from `OTEL_LOGS_EXPORTER` once the
    /// first service started (`None` while there is none).
    pub fn logger_provider(&self) -> Option<opentelemetry_sdk::logs::SdkLoggerProvider> {
        if let Some(p) = &self.setup.logger_provider {
            return Some(p.clone());
        }
        let logs = self.setup.logs.lock().unwrap_or_else(|p| p.into_inner());
        logs.as_ref()
            .map(|(installed, _)| installed.provider.clone())
    }

    /// Starts sending the library's log records to the logger provider (the given one, or
    /// one from `OTEL_LOGS_EXPORTER` with this service's resource), once per app.
    pub(crate) fn start_logs(&self, name: &str, uuid: &str) -> Result<(), Error> {
        let mut logs = self.setup.logs.lock().unwrap_or_else(|p| p.into_inner());
        if logs.is_some() {
            return Ok(());
        }
        let (provider, ours) = match &self.setup.logger_provider {
            Some(p) => (p.clone(), false),
            None if self.setup.from_env => match logs::provider_from_env(name, uuid)? {
                Some(p) => (p, true),
                None => return Ok(()),
            },
            None => return Ok(()),
        };
        *logs = Some((logs::install(provider), ours));
        Ok(())
    }

    /// Makes this the process's instrumentation: every [`App`](crate::App) started afterwards
    /// without its own [`App::opentelemetry`](crate::App::opentelemetry) is instrumented with
    /// it (upstream's `TomodachiInstrumentor().instrument()`).
    ///
    /// ```
    /// use tomodachi::telemetry::OpenTelemetry;
    /// OpenTelemetry::from_env().instrument();
    /// OpenTelemetry::uninstrument();
    /// ```
    pub fn instrument(self) {
        *GLOBAL.lock().unwrap_or_else(|p| p.into_inner()) = Some(self);
    }

    /// Undoes [`instrument`](Self::instrument) for apps started afterwards (see there).
    pub fn uninstrument() {
        *GLOBAL.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The tracer provider, once built (given, or built for the first instrumented service).
    ///
    /// ```
    /// // built from the environment when the first service starts
    /// assert!(tomodachi::telemetry::OpenTelemetry::from_env().tracer_provider().is_none());
    /// ```
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.setup.provider.get()
    }

    /// The process's instrumentation set with [`instrument`](Self::instrument).
    pub(crate) fn global() -> Option<Self> {
        GLOBAL.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// What a service's transports use: the tracer (the provider is built on first use, with
    /// this service's name and uuid in its resource) and the excluded URLs.
    pub(crate) fn for_service(&self, name: &str, uuid: &str) -> Result<Arc<Tracing>, Error> {
        let provider = match self.setup.provider.get() {
            Some(p) => p.clone(),
            None => {
                let built = provider::from_env(name, uuid)?;
                // a concurrent first service may have won: use the one that is in the cell
                let _ = self.setup.provider.set(built);
                self.setup
                    .provider
                    .get()
                    .cloned()
                    .ok_or_else(|| Error::msg("opentelemetry: no tracer provider"))?
            }
        };
        let scope = InstrumentationScope::builder(SCOPE_NAME)
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        let excluded = match &self.setup.excluded_urls {
            Some(urls) => ExcludedUrls::parse(urls),
            None => ExcludedUrls::from_env(&|k| std::env::var(k).ok()),
        };
        let meters = match self.setup.meters.get() {
            Some(m) => m.clone(),
            None => {
                let built = Meters::from_env(name, uuid)?;
                let _ = self.setup.meters.set(built);
                self.setup.meters.get().cloned().flatten()
            }
        };
        // the instruments, once per service
        let metrics = meters.map(|m| {
            metrics::Metrics::new(&m.provider.meter_with_scope(scope.clone()), m.exemplars)
        });
        Ok(Arc::new(Tracing {
            tracer: provider.tracer_with_scope(scope),
            excluded,
            metrics,
        }))
    }

    /// Stops sending log records to the logger provider and exports what is queued, after the
    /// app's last line: one built from `OTEL_LOGS_EXPORTER` is shut down (at most 5 s), a
    /// given one flushed (its owner shuts it down).
    pub(crate) async fn finish_logs(&self) {
        let logs = self
            .setup
            .logs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some((installed, ours)) = logs {
            logs::uninstall(&installed);
            let provider = installed.provider.clone();
            let flush = tokio::task::spawn_blocking(move || {
                if ours {
                    provider.shutdown_with_timeout(std::time::Duration::from_secs(5))
                } else {
                    provider.force_flush()
                }
            });
            if !matches!(
                tokio::time::timeout(std::time::Duration::from_secs(5), flush).await,
                Ok(Ok(Ok(())))
            ) {
                tracing::debug!(target: "tomodachi.opentelemetry",
                    "the logger provider did not flush within 5 s");
            }
        }
    }

    /// Exports what is queued when the app stops: a provider built from the environment is
    /// shut down (at most 5 s), a given one flushed (its owner shuts it down).
    pub(crate) async fn finish(&self) {
        let meters = self.setup.meters.get().cloned().flatten();
        if let Some(endpoint) = meters.as_ref().and_then(|m| m.endpoint.as_ref()) {
            endpoint.stop();
        }
        let meters_given = self.setup.meters_given;
        let tracer = self.setup.provider.get().cloned();
        if tracer.is_none() && meters.is_none() {
            return;
        }
        let from_env = self.setup.from_env;
        // the SDK's flush blocks until the processor's thread answers: at most 5 s here
        let flush = tokio::task::spawn_blocking(move || {
            let timeout = std::time::Duration::from_secs(5);
            let metrics = match &meters {
                None => Ok(()),
                Some(m) if meters_given => m.provider.force_flush(),
                Some(m) => m.provider.shutdown_with_timeout(timeout),
            };
            let spans = match &tracer {
                None => Ok(()),
                Some(t) if from_env => t.shutdown_with_timeout(timeout),
                Some(t) => t.force_flush(),
            };
            spans.and(metrics)
        });
        match tokio::time::timeout(std::time::Duration::from_secs(5), flush).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => {
                tracing::debug!(target: "tomodachi.opentelemetry", error_message = %e,
                    "unable to flush the tracer or meter provider");
            }
            _ => {
                tracing::debug!(target: "tomodachi.opentelemetry",
                    "the tracer and meter providers did not flush within 5 s");
            }
        }
    }
}

static GLOBAL: Mutex<Option<OpenTelemetry>> = Mutex::new(None);

/// One instrumented service's tracer, excluded URLs and metric instruments, in its
/// transports' context.
pub(crate) struct Tracing {
    pub(crate) tracer: SdkTracer,
    pub(crate) excluded: ExcludedUrls,
    /// `None`: no meter provider (the cost of metrics is then this check).
    pub(crate) metrics: Option<metrics::Metrics>,
}

/// Runs a message handler `chain` in the `CONSUMER` span of `cx` and ends it (the AMQP and
/// SNS+SQS transports): status OK when the message was handled or discarded, ERROR with an
/// escaped `exception` event when the handler failed; the measurement records the same outcome.
pub(crate) async fn run_in_consumer_span<
    F: std::future::Future<Output = crate::verdict::Verdict>,
>(
    cx: opentelemetry::Context,
    metric: Option<metrics::TaskMetric>,
    chain: F,
) -> crate::verdict::Verdict {
    use crate::verdict::Verdict;
    use opentelemetry::context::FutureExt as _;
    use opentelemetry::trace::{Status, TraceContextExt as _};
    let verdict = chain.with_context(cx.clone()).await;
    if let Some(metric) = metric {
        metric.finish(matches!(verdict, Verdict::Ack | Verdict::Discard(_)));
    }
    let span = cx.span();
    match &verdict {
        Verdict::Ack | Verdict::Discard(_) => span.set_status(Status::Ok),
        Verdict::Retry(why) | Verdict::DeadLetter(why) => {
            span.set_status(Status::error(""));
            span.add_event("exception", exception::event_attributes(why, why, true));
        }
    }
    span.end();
    verdict
}

/// The instrumentation of the service whose context this is (`None`: not instrumented).
pub(crate) fn of(ctx: &TransportContext) -> Option<Arc<Tracing>> {
    ctx.extension::<Arc<Tracing>>().cloned()
}

#[cfg(test)]
mod tests;
