//! `options.logging.*` – caps on log record sizes (a tomodachi-for-Rust addition).

use serde_json::Value;

use super::error::OptionsError;
use super::value;
use crate::logging::{LogLimits, DEFAULT_MAX_FIELD_LENGTH, DEFAULT_MAX_LINE_LENGTH};

/// `options.logging.*` – how long one log record may get (not an upstream section: Python
/// tomodachi writes values whole).
///
/// A string value or message longer than `max_field_length` bytes is cut and marked
/// (`…(+5242880 bytes)`), and string values are cut once a line reaches `max_line_length`
/// bytes; `0` turns a cap off. See [`LogLimits`] for the details.
///
/// ```
/// use tomodachi::options::Options;
///
/// let options = Options::default().with("logging.max_field_length", 1024)?;
/// assert_eq!(options.logging.max_field_length, 1024);
/// assert_eq!(options.logging.max_line_length, 32768);
/// # Ok::<(), tomodachi::options::OptionsError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingOptions {
    /// Longest string value (or message) written whole, in bytes; `0` = unlimited. Default 4096.
    pub max_field_length: u64,
    /// Longest line before string values are cut, in bytes; `0` = unlimited. Default 32768.
    pub max_line_length: u64,
}

impl Default for LoggingOptions {
    fn default() -> Self {
        Self {
            max_field_length: DEFAULT_MAX_FIELD_LENGTH as u64,
            max_line_length: DEFAULT_MAX_LINE_LENGTH as u64,
        }
    }
}

impl LoggingOptions {
    /// The keys of the section.
    pub const KEYS: &'static [&'static str] = &["max_field_length", "max_line_length"];

    /// The caps these options describe.
    ///
    /// ```
    /// use tomodachi::logging::LogLimits;
    /// use tomodachi::options::LoggingOptions;
    ///
    /// assert_eq!(LoggingOptions::default().limits(), LogLimits::default());
    /// ```
    pub fn limits(&self) -> LogLimits {
        let size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        LogLimits {
            max_field_length: size(self.max_field_length),
            max_line_length: size(self.max_line_length),
        }
    }

    /// The section's values in listing order.
    pub(super) fn entries(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("max_field_length", Value::from(self.max_field_length)),
            ("max_line_length", Value::from(self.max_line_length)),
        ]
    }

    /// Sets one key of the section (`full` is the dotted key used in errors).
    pub(super) fn set_key(&mut self, key: &str, full: &str, v: &Value) -> Result<(), OptionsError> {
        const EXPECTED: &str = "a non-negative integer (bytes, 0 = unlimited)";
        match key {
            "max_field_length" => self.max_field_length = value::u64_value(full, v, EXPECTED)?,
            "max_line_length" => self.max_line_length = value::u64_value(full, v, EXPECTED)?,
            _ => return Err(super::unknown_key(full)),
        }
        Ok(())
    }
}
