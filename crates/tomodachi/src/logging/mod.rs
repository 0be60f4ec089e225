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

mod color;
mod console;
mod context;
mod format;
mod json;
mod layer;
mod level;
mod limits;
mod value;
mod writer;

#[cfg(test)]
mod tests;

use std::fmt;

use tracing::Subscriber;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;

pub use self::color::{color_allowed_by, color_decision, color_enabled_from_env};
pub(crate) use self::context::current_service;
pub use self::context::{current, scope, HandlerContext};
pub use self::format::{LogFormat, ParseLogFormatError};
pub use self::json::render_json_line;
pub use self::layer::TomodachiLayer;
pub use self::level::{LogLevel, ParseLogLevelError};
pub use self::limits::{
    limits, set_limits, LogLimits, DEFAULT_MAX_FIELD_LENGTH, DEFAULT_MAX_LINE_LENGTH,
};
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
    let filter = if config.format == LogFormat::Disabled {
        LevelFilter::OFF
    } else {
        config.level.level_filter()
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(TomodachiLayer::new(
            config.format,
            config.color,
            make_writer,
        ))
}

/// Installs the global subscriber: records at or above `config.level` are written to stderr
/// in `config.format`. Calling it again (or after other code set a global subscriber)
/// returns [`LoggingInitError::AlreadyInitialized`] instead of panicking.
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
    tracing::subscriber::set_global_default(build_subscriber(config, StderrWriter))
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
