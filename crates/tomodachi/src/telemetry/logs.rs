//! OpenTelemetry logs: upstream's `OpenTelemetryLoggingHandler` on the `tomodachi` and
//! `exception` loggers. The records of those targets (`tomodachi`, `tomodachi.*`,
//! `exception`) at or above `OTEL_LOG_LEVEL` go to a logger provider through
//! `opentelemetry-appender-tracing`'s bridge: the message is the body, the fields are the
//! attributes (values that are not numbers, booleans or strings as their `Debug` text), the
//! handler's bound context (`handler`, `type`, `status_code`) is added, and the record carries
//! the active span's trace context.
//!
//! The bridge sits in the library's subscriber from the start ([`OtelLogsLayer`], added by
//! [`build_subscriber`](crate::logging::build_subscriber)); it emits only once an instrumented
//! app has a logger provider (`OTEL_LOGS_EXPORTER`, or
//! [`OpenTelemetry::with_logger_provider`](super::OpenTelemetry::with_logger_provider)), and
//! costs one atomic load per written record until then.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger, LoggerProvider, Severity};
use opentelemetry::{InstrumentationScope, Key};
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::logs::{SdkLogRecord, SdkLogger, SdkLoggerProvider};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::provider::{exporters_of, resource, Exporter};
use crate::error::Error;
use crate::logging::{BoundValue, LogLevel};

/// The scope of the records (upstream's logger name and the library version); the exported
/// scope name is each record's logger name (its target), as the OTLP exporter groups them.
const LOGS_SCOPE: &str = "tomodachi.opentelemetry";

/// The installed bridge, when a logger provider is in use.
static ACTIVE: AtomicBool = AtomicBool::new(false);
static BRIDGE: RwLock<Option<Arc<Installed>>> = RwLock::new(None);

type Bridge = OpenTelemetryTracingBridge<TomodachiLoggerProvider, TomodachiLogger>;

/// A logger provider in use: the bridge to it and the records' minimum level.
pub(crate) struct Installed {
    bridge: Bridge,
    /// `None`: every level (`OTEL_LOG_LEVEL` unset, `notset` or not a level).
    level: Option<LogLevel>,
    pub(crate) provider: SdkLoggerProvider,
}

/// The `tracing` layer exporting the library's records to the installed logger provider
/// (nothing until one is installed). [`build_subscriber`](crate::logging::build_subscriber)
/// adds it; a subscriber put together by hand can add it too.
///
/// ```
/// use tomodachi::telemetry::OtelLogsLayer;
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let subscriber = tracing_subscriber::registry().with(OtelLogsLayer);
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!(target: "tomodachi.service", "exported once an app has a logger provider");
/// });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct OtelLogsLayer;

/// Whether a record of `target` is one of upstream's instrumented loggers.
fn instrumented(target: &str) -> bool {
    target == "exception"
        || target
            .strip_prefix("tomodachi")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// `OTEL_LOG_LEVEL` as upstream reads it: a level name or a stdlib number; anything else
/// (or `notset`) lets every level through.
pub(crate) fn level_from(value: Option<&str>) -> Option<LogLevel> {
    let value = value?.trim();
    if let Ok(n) = value.parse::<u32>() {
        return match n {
            0 => None,
            1..=10 => Some(LogLevel::Debug),
            11..=20 => Some(LogLevel::Info),
            21..=30 => Some(LogLevel::Warning),
            31..=40 => Some(LogLevel::Error),
            _ => Some(LogLevel::Critical),
        };
    }
    value.parse().ok()
}

fn level_of(level: &tracing::Level) -> LogLevel {
    match *level {
        tracing::Level::ERROR => LogLevel::Error,
        tracing::Level::WARN => LogLevel::Warning,
        tracing::Level::INFO => LogLevel::Info,
        _ => LogLevel::Debug,
    }
}

impl<S> Layer<S> for OtelLogsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !ACTIVE.load(Ordering::Relaxed) {
            return;
        }
        let metadata = event.metadata();
        let target = metadata.target();
        let shown = if target == crate::logging::LOGGER_TARGET {
            crate::logging::emitting().map(|e| e.name.clone())
        } else {
            None
        };
        if !instrumented(shown.as_deref().unwrap_or(target)) {
            return;
        }
        let Some(installed) = current() else {
            return;
        };
        if installed
            .level
            .is_some_and(|min| level_of(metadata.level()) < min.min(LogLevel::Error))
        {
            return;
        }
        installed.bridge.on_event(event, ctx);
    }
}

fn current() -> Option<Arc<Installed>> {
    BRIDGE.read().ok().and_then(|b| b.clone())
}

/// Makes `provider` the destination of the library's records (the last app started with one
/// wins); returns what [`uninstall`] needs.
pub(crate) fn install(provider: SdkLoggerProvider) -> Arc<Installed> {
    let level = level_from(std::env::var("OTEL_LOG_LEVEL").ok().as_deref());
    let ours = TomodachiLoggerProvider(provider.clone());
    let installed = Arc::new(Installed {
        bridge: OpenTelemetryTracingBridge::new(&ours),
        level,
        provider,
    });
    if let Ok(mut slot) = BRIDGE.write() {
        *slot = Some(installed.clone());
        ACTIVE.store(true, Ordering::Relaxed);
    }
    installed
}

/// Stops sending records to `installed` (unless another app's provider replaced it).
pub(crate) fn uninstall(installed: &Arc<Installed>) {
    if let Ok(mut slot) = BRIDGE.write() {
        if slot.as_ref().is_some_and(|i| Arc::ptr_eq(i, installed)) {
            *slot = None;
            ACTIVE.store(false, Ordering::Relaxed);
        }
    }
}

/// The logger provider `OTEL_LOGS_EXPORTER` asks for (`None`: `none`, the default), with the
/// tracer provider's resource and a batch processor (bounded queue on its own thread,
/// `OTEL_BLRP_*`).
pub(crate) fn provider_from_env(
    name: &str,
    uuid: &str,
) -> Result<Option<SdkLoggerProvider>, Error> {
    let env = |k: &str| std::env::var(k).ok();
    let exporters = exporters_of("LOGS", &env)?;
    if exporters.is_empty() {
        return Ok(None);
    }
    let mut builder = SdkLoggerProvider::builder().with_resource(resource(name, uuid));
    for exporter in exporters {
        let built = match exporter {
            Exporter::OtlpGrpc => opentelemetry_otlp::LogExporter::builder()
                .with_tonic()
                .with_protocol(Protocol::Grpc)
                .build(),
            Exporter::OtlpHttp => opentelemetry_otlp::LogExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .build(),
        }
        .map_err(|e| Error::msg(format!("unable to set up the OTLP log exporter: {e}")))?;
        builder = builder.with_batch_exporter(built);
    }
    Ok(Some(builder.build()))
}

/// The SDK's provider, handing out [`TomodachiLogger`]s.
struct TomodachiLoggerProvider(SdkLoggerProvider);

impl LoggerProvider for TomodachiLoggerProvider {
    type Logger = TomodachiLogger;

    fn logger_with_scope(&self, _scope: InstrumentationScope) -> TomodachiLogger {
        let scope = InstrumentationScope::builder(LOGS_SCOPE)
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        TomodachiLogger(self.0.logger_with_scope(scope))
    }
}

/// The SDK's logger, completing the bridge's records as upstream's handler does: the bound
/// handler context, the logger name (`logger`) and the message (`event`) as attributes,
/// upstream's key renames and lower-case level names (`severity_text`), a timestamp.
struct TomodachiLogger(SdkLogger);

/// Whether an attribute key is written differently upstream.
fn renamed(key: &str) -> &str {
    match key.strip_prefix("r#").unwrap_or(key) {
        "event_" => "event",
        "class_" => "class",
        other => other,
    }
}

impl Logger for TomodachiLogger {
    type LogRecord = SdkLogRecord;

    fn create_log_record(&self) -> SdkLogRecord {
        self.0.create_log_record()
    }

    fn emit(&self, record: SdkLogRecord) {
        let needs_rename = record
            .attributes_iter()
            .any(|(k, _)| renamed(k.as_str()) != k.as_str());
        let mut record = if needs_rename {
            let mut copy = self.0.create_log_record();
            if let Some(target) = record.target() {
                copy.set_target(target.clone());
            }
            if let Some(name) = record.event_name() {
                copy.set_event_name(name);
            }
            if let Some(severity) = record.severity_number() {
                copy.set_severity_number(severity);
            }
            if let Some(body) = record.body() {
                copy.set_body(body.clone());
            }
            for (k, v) in record.attributes_iter() {
                let key = renamed(k.as_str()).to_owned();
                copy.add_attribute(Key::new(key), v.clone());
            }
            copy
        } else {
            record
        };
        // upstream's (stdlib) level names; `critical = true` on an ERROR record is CRITICAL
        let critical = record.severity_number() == Some(Severity::Error)
            && record
                .attributes_iter()
                .any(|(k, v)| k.as_str() == "critical" && *v == AnyValue::Boolean(true));
        let text = match record.severity_number() {
            Some(Severity::Error) if critical => {
                record.set_severity_number(Severity::Fatal);
                "critical"
            }
            Some(Severity::Error) => "error",
            Some(Severity::Warn) => "warning",
            Some(Severity::Info) => "info",
            _ => "debug",
        };
        record.set_severity_text(text);
        record.set_timestamp(std::time::SystemTime::now());
        // a `Logger`'s record: its name, its bound and own fields
        let from_logger = record
            .target()
            .is_some_and(|t| t == crate::logging::LOGGER_TARGET);
        if let Some(emit) = from_logger.then(crate::logging::emitting).flatten() {
            record.set_target(emit.name.to_string());
            for (key, value) in emit.fields.iter().chain(emit.extra.iter()) {
                let value = match value {
                    BoundValue::Str(s) => AnyValue::from(s.to_string()),
                    BoundValue::Int(v) => AnyValue::Int(*v),
                    BoundValue::UInt(v) => i64::try_from(*v)
                        .map_or_else(|_| AnyValue::from(v.to_string()), AnyValue::Int),
                    BoundValue::Float(v) => AnyValue::Double(*v),
                    BoundValue::Bool(v) => AnyValue::Boolean(*v),
                    BoundValue::Null => AnyValue::from("None"),
                };
                record.add_attribute(Key::new(renamed(key).to_owned()), value);
            }
        }
        // upstream's `logger` (the logger name) and `event` (the message) attributes
        if let Some(target) = record.target().cloned() {
            record.add_attribute(Key::from_static_str("logger"), AnyValue::from(target));
        }
        if let Some(body) = record.body().cloned() {
            record.add_attribute(Key::from_static_str("event"), body);
        }
        crate::logging::with_current(|bound| {
            record.add_attribute(
                Key::from_static_str("handler"),
                AnyValue::from(bound.handler.to_string()),
            );
            record.add_attribute(Key::from_static_str("type"), AnyValue::from(bound.kind));
            if let Some(status) = bound.status_code {
                record.add_attribute(
                    Key::from_static_str("status_code"),
                    AnyValue::Int(i64::from(status)),
                );
            }
        });
        self.0.emit(record);
    }

    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.0.event_enabled(level, target, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_instrumented_loggers_are_upstreams() {
        for t in ["tomodachi", "tomodachi.http.response", "exception"] {
            assert!(instrumented(t), "{t}");
        }
        for t in ["tomodachis", "app", "exceptions", "hyper::proto"] {
            assert!(!instrumented(t), "{t}");
        }
    }

    #[test]
    fn otel_log_level_takes_names_and_stdlib_numbers() {
        assert_eq!(level_from(None), None);
        assert_eq!(level_from(Some("WARNING")), Some(LogLevel::Warning));
        assert_eq!(level_from(Some("30")), Some(LogLevel::Warning));
        assert_eq!(level_from(Some("20")), Some(LogLevel::Info));
        assert_eq!(level_from(Some("0")), None);
        assert_eq!(level_from(Some("notset")), None);
        assert_eq!(level_from(Some("loud")), None);
    }

    #[test]
    fn keys_are_renamed_as_upstream() {
        assert_eq!(renamed("r#type"), "type");
        assert_eq!(renamed("event_"), "event");
        assert_eq!(renamed("status_code"), "status_code");
    }
}
