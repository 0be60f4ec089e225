//! `options.envelope.*` – limits of message envelope decoding (a tomodachi-for-Rust addition).

use serde_json::Value;

use super::error::OptionsError;
use super::value;
use crate::envelope::MAX_INFLATED_SIZE;

/// `options.envelope.*` – how much a received message may grow while it is decoded (not an
/// upstream section: Python tomodachi inflates compressed data whole).
///
/// Compressed envelope data (JsonBase `base64_gzip_json`, ProtobufBase `gzip_proto`) that
/// inflates to more than `max_inflated_size` bytes is a parse failure: the message is
/// dead-lettered (AMQP) or left to the queue's redrive policy (SNS+SQS), and the log line names
/// this option. Each service's subscriptions use its own value.
///
/// ```
/// use tomodachi::options::Options;
///
/// let options = Options::default().with("envelope.max_inflated_size", 1 << 20)?;
/// assert_eq!(options.envelope.max_inflated_size, 1 << 20);
/// assert_eq!(Options::default().envelope.max_inflated_size, 64 * 1024 * 1024);
/// # Ok::<(), tomodachi::options::OptionsError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeOptions {
    /// Most bytes compressed message data may inflate to. Default 64 MiB.
    pub max_inflated_size: u64,
}

impl Default for EnvelopeOptions {
    fn default() -> Self {
        Self {
            max_inflated_size: MAX_INFLATED_SIZE as u64,
        }
    }
}

impl EnvelopeOptions {
    /// The keys of the section.
    pub const KEYS: &'static [&'static str] = &["max_inflated_size"];

    /// The inflate cap in bytes.
    pub fn inflate_limit(&self) -> usize {
        usize::try_from(self.max_inflated_size).unwrap_or(usize::MAX)
    }

    /// The section's values in listing order.
    pub(super) fn entries(&self) -> Vec<(&'static str, Value)> {
        vec![("max_inflated_size", Value::from(self.max_inflated_size))]
    }

    /// Sets one key of the section (`full` is the dotted key used in errors).
    pub(super) fn set_key(&mut self, key: &str, full: &str, v: &Value) -> Result<(), OptionsError> {
        match key {
            "max_inflated_size" => {
                let n = value::u64_value(full, v, "a positive integer (bytes)")?;
                if n == 0 {
                    return Err(OptionsError::InvalidValue {
                        key: full.to_owned(),
                        message: format!("Bad value for envelope option max_inflated_size: {v}"),
                    });
                }
                self.max_inflated_size = n;
            }
            _ => return Err(super::unknown_key(full)),
        }
        Ok(())
    }
}
