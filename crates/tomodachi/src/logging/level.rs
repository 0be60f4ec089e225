//! Log levels (`--log-level`) and the record level names printed by the formatters.

use std::fmt;
use std::str::FromStr;

use tracing::Level;
use tracing_subscriber::filter::LevelFilter;

/// Minimum log level, as given to `--log-level` / `TOMODACHI_LOG_LEVEL`.
///
/// Parsing is ASCII case-insensitive and accepts the Python stdlib level names
/// `debug`, `info`, `warning` (alias `warn`), `error` and `critical` (alias `fatal`);
/// `notset` and anything else is rejected with the upstream error text.
///
/// ```
/// use tomodachi::logging::LogLevel;
///
/// let level: LogLevel = "WARN".parse().unwrap();
/// assert_eq!(level, LogLevel::Warning);
/// assert_eq!(level.to_string(), "warning");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum LogLevel {
    /// `debug`: everything.
    Debug,
    /// `info` (the default).
    #[default]
    Info,
    /// `warning` (also accepted as `warn`).
    Warning,
    /// `error`.
    Error,
    /// `critical` (also accepted as `fatal`). `tracing` has no level above ERROR, so this
    /// filters like [`LogLevel::Error`].
    Critical,
}

impl LogLevel {
    /// The lower-case upstream name of the level (`debug`, `info`, `warning`, `error`, `critical`).
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
        }
    }

    /// The `tracing` filter for this minimum level (`critical` maps to ERROR).
    pub fn level_filter(self) -> LevelFilter {
        match self {
            LogLevel::Debug => LevelFilter::DEBUG,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Warning => LevelFilter::WARN,
            LogLevel::Error | LogLevel::Critical => LevelFilter::ERROR,
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<LogLevel> for LevelFilter {
    fn from(level: LogLevel) -> Self {
        level.level_filter()
    }
}

impl FromStr for LogLevel {
    type Err = ParseLogLevelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const NAMES: [(&str, LogLevel); 7] = [
            ("debug", LogLevel::Debug),
            ("info", LogLevel::Info),
            ("warning", LogLevel::Warning),
            ("warn", LogLevel::Warning),
            ("error", LogLevel::Error),
            ("critical", LogLevel::Critical),
            ("fatal", LogLevel::Critical),
        ];
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|(_, level)| *level)
            .ok_or_else(|| ParseLogLevelError {
                value: s.to_owned(),
            })
    }
}

/// Error for an unknown log level; displays the upstream CLI text
/// `Invalid log level: '<v>' (expected 'debug', 'info', 'warning', 'error' or 'critical')`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseLogLevelError {
    /// The rejected input, as given.
    pub value: String,
}

impl fmt::Display for ParseLogLevelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Invalid log level: '{}' (expected 'debug', 'info', 'warning', 'error' or 'critical')",
            self.value
        )
    }
}

impl std::error::Error for ParseLogLevelError {}

/// The lower-case upstream name printed for a record of `level`.
///
/// TRACE has no upstream counterpart and prints as `debug`. An ERROR event carrying the
/// field `critical = true` prints as `critical` (decided by the layer, not here).
pub(super) fn record_level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        _ => "debug",
    }
}
