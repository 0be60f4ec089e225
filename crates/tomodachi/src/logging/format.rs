//! The `--logger` output formats.

use std::fmt;
use std::str::FromStr;

/// Output format of the library's log records (`--logger` / `TOMODACHI_LOGGER`).
///
/// Parsing lower-cases the input (as upstream does) and accepts `console`, `json`,
/// `python` and `disabled`. Upstream's `custom` (a user logger object imported by path)
/// has no Rust counterpart and is rejected with the same error text as any unknown value.
///
/// ```
/// use tomodachi::logging::LogFormat;
///
/// assert_eq!("JSON".parse::<LogFormat>().unwrap(), LogFormat::Json);
/// let err = "xml".parse::<LogFormat>().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "Invalid value for --logger option: 'xml' (expected 'json', 'console', 'python' or 'disabled')"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LogFormat {
    /// `console` (default): `<timestamp> [<level>] <message> [<logger>] key=value …`,
    /// coloured when colours are enabled.
    #[default]
    Console,
    /// `json`: one JSON object per line, Python `json.dumps` style.
    Json,
    /// `python`: the stdlib-style line `<timestamp> [<level>] <message> [<logger>]`
    /// without key/values and without colours.
    Python,
    /// `disabled`: library output suppressed.
    Disabled,
}

impl LogFormat {
    /// The lower-case name of the format as accepted by `--logger`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Console => "console",
            LogFormat::Json => "json",
            LogFormat::Python => "python",
            LogFormat::Disabled => "disabled",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogFormat {
    type Err = ParseLogFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let value = s.to_lowercase();
        match value.as_str() {
            "console" => Ok(LogFormat::Console),
            "json" => Ok(LogFormat::Json),
            "python" => Ok(LogFormat::Python),
            "disabled" => Ok(LogFormat::Disabled),
            _ => Err(ParseLogFormatError { value }),
        }
    }
}

/// Error for an unknown `--logger` value; displays the upstream CLI text
/// `Invalid value for --logger option: '<v>' (expected 'json', 'console', 'python' or 'disabled')`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseLogFormatError {
    /// The rejected input, lower-cased (upstream lower-cases before validating).
    pub value: String,
}

impl fmt::Display for ParseLogFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Invalid value for --logger option: '{}' (expected 'json', 'console', 'python' or 'disabled')",
            self.value
        )
    }
}

impl std::error::Error for ParseLogFormatError {}
