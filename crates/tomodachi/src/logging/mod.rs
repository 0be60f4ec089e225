//! Logging: the tomodachi log formats on top of `tracing`.
//!
//! The library logs with `tracing`; the upstream *logger name* is the event's **target**:
//!
//! ```
//! # let (name, uuid) = ("probe", "8f1a");
//! tracing::info!(target: "tomodachi.service", service = %name, uuid = %uuid, "initializing service instance");
//! ```
//!
//! [`init`] installs a global subscriber (level filter + [`TomodachiLayer`] to stderr) that
//! renders every event in one of the [`LogFormat`]s:
//!
//! * `console`: `2026-11-22T06:52:16.967261Z [info     ] initializing service instance  [tomodachi.service] service=probe uuid=8f1a…`
//! * `json`: `{"timestamp": "2026-11-22T06:53:58.056209Z", "logger": "tomodachi.service", "level": "info", "message": "initializing service instance", "service": "probe", "uuid": "8f1a…"}`
//! * `python`: the console line without key/values and colours
//! * `disabled`: nothing
//!
//! Fields of enclosing spans are the bound context (e.g. a handler span with
//! `handler = "index"`, `type = "tomodachi.http"`) and precede the event's own fields.
//! Level names are `debug`, `info`, `warning`, `error`; an ERROR event with the field
//! `critical = true` prints as `critical`. Field names `event_`/`class_` are renamed to
//! `event`/`class` and a raw-identifier prefix `r#` is dropped.
//!
//! Values come from requests and messages, so the console format never writes them raw: a
//! value with spaces, `=`, quotes or control characters is quoted and escaped as logfmt does
//! (`request_path="/x status_code=200"`), plain values stay bare, and control characters in
//! the message are escaped. [`LogLimits`] caps each value and each line (4 KiB / 32 KiB by
//! default, `options.logging.*`), marking a cut as `…(+5242880 bytes)`.
//!
//! [`render_json_line`] renders the same JSON lines without `tracing` (HTTP access-log file).

#![warn(missing_docs)]

mod background;
mod color;
mod console;
mod context;
mod format;
mod json;
mod layer;
mod level;
mod limits;
mod logger;
mod value;
mod writer;

#[cfg(test)]
mod tests;

use std::fmt;

use tracing::Subscriber;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Registry;

pub use self::background::{BackgroundHandle, BackgroundWriter, BufferedStderr};
pub use self::color::{color_allowed_by, color_decision, color_enabled_from_env};
pub(crate) use self::context::current_service;
#[cfg(feature = "opentelemetry")]
pub(crate) use self::context::with_current;
pub use self::context::{current, scope, HandlerContext};
pub use self::format::{LogFormat, ParseLogFormatError};
pub use self::json::render_json_line;
pub use self::layer::TomodachiLayer;
pub use self::level::{LogLevel, ParseLogLevelError};
pub use self::limits::{
    limits, set_limits, LogLimits, DEFAULT_MAX_FIELD_LENGTH, DEFAULT_MAX_LINE_LENGTH,
};
#[cfg(feature = "opentelemetry")]
pub(crate) use self::logger::{emitting, LOGGER_TARGET};
pub use self::logger::{get_logger, BoundValue, Logger};
pub use self::value::FieldValue;
pub use self::writer::{CaptureHandle, CaptureWriter, StderrWriter};

/// Logging configuration: output format, minimum level and colours.
///
/// The default is the `console` format at `info` with colours decided by
/// [`color_enabled_from_env`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggingConfig {
    /// Output format (`--logger`).
    pub format: LogFormat,
    /// Minimum level (`--log-level`).
    pub level: LogLevel,
    /// ANSI colours in the console format.
    pub color: bool,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Console,
            level: LogLevel::Info,
            color: color_enabled_from_env(),
        }
    }
}

/// Error returned by [`init`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoggingInitError {
    /// A global `tracing` subscriber was already installed (by an earlier [`init`] or by
    /// other code); the existing one stays in effect.
    AlreadyInitialized,
}

impl fmt::Display for LoggingInitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoggingInitError::AlreadyInitialized => {
                f.write_str("a global tracing subscriber has already been installed")
            }
        }
    }
}

impl std::error::Error for LoggingInitError {}

/// Builds the subscriber [`init`] installs, writing to `make_writer` instead of stderr
/// (registry + level filter + [`TomodachiLayer`]); `disabled` filters everything out.
///
/// ```
/// use tomodachi::logging::{build_subscriber, CaptureWriter, LogFormat, LogLevel, LoggingConfig};
///
/// let capture = CaptureWriter::new();
/// let config = LoggingConfig { format: LogFormat::Console, level: LogLevel::Warning, color: false };
/// tracing::subscriber::with_default(build_subscriber(&config, capture.clone()), || {
///     tracing::info!(target: "tomodachi.lifecycle", "filtered out");
/// });
/// assert_eq!(capture.contents(), "");
/// ```
pub fn build_subscriber<W>(
    config: &LoggingConfig,
    make_writer: W,
) -> impl Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    build(config, make_writer, None)
}

/// A layer of your own beside the library's formatter: it sees every record at or above the
/// level (also with `--logger disabled`), with the library's targets as logger names. The
/// Rust counterpart of upstream's `--custom-logger`.
pub type CustomLayer = Box<dyn Layer<Registry> + Send + Sync + 'static>;

/// [`build_subscriber`] with `layer` added (see [`CustomLayer`]).
///
/// ```
/// use tomodachi::logging::{build_subscriber_with, CaptureWriter, LogFormat, LogLevel, LoggingConfig};
/// use tracing_subscriber::Layer;
///
/// let mine = CaptureWriter::new();
/// let layer = tomodachi::logging::TomodachiLayer::new(LogFormat::Python, false, mine.clone());
/// let config = LoggingConfig { format: LogFormat::Disabled, level: LogLevel::Info, color: false };
/// let subscriber = build_subscriber_with(&config, CaptureWriter::new(), layer.boxed());
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!(target: "tomodachi.lifecycle", "starting the service");
/// });
/// assert!(mine.contents().ends_with("starting the service           [tomodachi.lifecycle]\n"));
/// ```
pub fn build_subscriber_with<W>(
    config: &LoggingConfig,
    make_writer: W,
    layer: CustomLayer,
) -> impl Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    build(config, make_writer, Some(layer))
}

fn build<W>(
    config: &LoggingConfig,
    make_writer: W,
    custom: Option<CustomLayer>,
) -> impl Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    // nothing to write: every record is filtered out before it is made
    let filter = if config.format == LogFormat::Disabled && custom.is_none() {
        LevelFilter::OFF
    } else {
        config.level.level_filter()
    };
    let subscriber = tracing_subscriber::registry()
        .with(custom)
        .with(filter)
        .with(TomodachiLayer::new(
            config.format,
            config.color,
            make_writer,
        ));
    // the OTLP log export (feature `opentelemetry`): idle until an app has a logger provider
    #[cfg(feature = "opentelemetry")]
    let subscriber = subscriber.with(crate::telemetry::OtelLogsLayer);
    subscriber
}

/// Installs the global subscriber: records at or above `config.level` are written to stderr
/// in `config.format`. Calling it again (or after other code set a global subscriber)
/// returns [`LoggingInitError::AlreadyInitialized`] instead of panicking.
///
/// The records reach stderr through a background thread ([`BufferedStderr`]): the logging
/// thread does not wait for the write, and records that come in bursts are written together.
/// They are all written before the process exits: [`launch`](crate::launch) waits for them,
/// and so do `exit()` (also returning from `main`) and a panic (before its message). Code that
/// writes to stderr itself and wants its text after the records logged so far calls [`flush`]
/// first.
///
/// ```no_run
/// use tomodachi::logging::{init, LogFormat, LoggingConfig};
///
/// let config = LoggingConfig { format: LogFormat::Json, ..LoggingConfig::default() };
/// if let Err(err) = init(&config) {
///     eprintln!("{err}");
/// }
/// tracing::info!(target: "tomodachi.lifecycle", state = "starting", "starting the service");
/// ```
pub fn init(config: &LoggingConfig) -> Result<(), LoggingInitError> {
    let custom = CUSTOM.lock().unwrap_or_else(|p| p.into_inner()).take();
    tracing::subscriber::set_global_default(build(config, BufferedStderr, custom))
        .map_err(|_| LoggingInitError::AlreadyInitialized)?;
    // records of the `log` crate too (unless another `log` logger is set)
    let _ = forward_log_records(config.level);
    Ok(())
}

/// Waits until every record the subscriber of [`init`] has written so far is on stderr
/// (records leave the logging thread at once and are written by a background thread). The
/// process exit paths do this themselves; call it before writing to stderr directly when
/// that text must follow the records.
///
/// ```
/// tracing::info!(target: "tomodachi.lifecycle", "stopping");
/// tomodachi::logging::flush();
/// eprintln!("bye");
/// ```
pub fn flush() {
    background::flush_stderr();
}

static CUSTOM: std::sync::Mutex<Option<CustomLayer>> = std::sync::Mutex::new(None);

/// Adds `layer` to the subscriber [`init`] installs (and so [`launch`](crate::launch), with
/// its `--logger` and `--log-level`): call it before. The Rust counterpart of upstream's
/// `--custom-logger`: records reach `layer` as they reach the formatter (also with
/// `--logger disabled`), the logger name as the target.
///
/// ```no_run
/// use tracing_subscriber::Layer;
///
/// struct Counter;
/// impl<S: tracing::Subscriber> Layer<S> for Counter {
///     fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
///         // forward to your logging system
///         let _ = event.metadata().target();
///     }
/// }
///
/// tomodachi::logging::set_custom_layer(Counter.boxed());
/// # struct Api;
/// # let services = [tomodachi::Service::builder("api", Api).build()];
/// tomodachi::launch(services);
/// ```
pub fn set_custom_layer(layer: CustomLayer) {
    *CUSTOM.lock().unwrap_or_else(|p| p.into_inner()) = Some(layer);
}

/// Routes the records of the [`log`](https://docs.rs/log) crate, which many libraries log
/// with, through `tracing` and so through the library's formatters: the logger name is the
/// record's target (`hyper::proto::h1::conn`, `lapin::channels`, ...), as upstream renders
/// third-party stdlib loggers. Records below `level` are cut at the `log` macro. [`init`] does
/// this; call it yourself with a subscriber of your own. Only one `log` logger can be set per
/// process: when one already is, [`LoggingInitError::AlreadyInitialized`] is returned.
///
/// ```
/// use tomodachi::logging::{build_subscriber, forward_log_records, CaptureWriter, LogFormat, LogLevel, LoggingConfig};
///
/// let _ = forward_log_records(LogLevel::Info);
/// let capture = CaptureWriter::new();
/// let config = LoggingConfig { format: LogFormat::Json, level: LogLevel::Info, color: false };
/// tracing::subscriber::with_default(build_subscriber(&config, capture.clone()), || {
///     log::info!(target: "some_library", "connected");
/// });
/// assert!(capture.contents().contains(r#""logger": "some_library", "level": "info", "message": "connected""#));
/// ```
pub fn forward_log_records(level: LogLevel) -> Result<(), LoggingInitError> {
    let filter = match level {
        LogLevel::Debug => tracing_log::log::LevelFilter::Debug,
        LogLevel::Info => tracing_log::log::LevelFilter::Info,
        LogLevel::Warning => tracing_log::log::LevelFilter::Warn,
        LogLevel::Error | LogLevel::Critical => tracing_log::log::LevelFilter::Error,
    };
    tracing_log::LogTracer::init_with_filter(filter)
        .map_err(|_| LoggingInitError::AlreadyInitialized)
}

/// Applies the upstream key renames (`event_` → `event`, `class_` → `class`).
fn rename_key(key: &str) -> &str {
    match key {
        "event_" => "event",
        "class_" => "class",
        _ => key,
    }
}
