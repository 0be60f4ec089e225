//! The error envelopes and payload decoding return.

use std::fmt;

/// What failed: building a message, parsing one, or turning its data into a handler's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvelopeErrorKind {
    /// [`Envelope::build_message`](super::Envelope::build_message) could not encode the payload.
    Build,
    /// [`Envelope::parse_message`](super::Envelope::parse_message) could not decode the body
    /// (not JSON, not an object, bad base64 / zlib, ...). Upstream drops such messages.
    Parse,
    /// [`Payload::deserialize`](super::Payload::deserialize) could not produce the requested type.
    Deserialize,
    /// [`Envelope::validate_subscription`](super::Envelope::validate_subscription) refused a
    /// subscription's envelope (e.g. `ProtobufBase` without a message type).
    Validate,
}

/// An envelope or payload error. Converts into [`crate::Error`] with `?`.
///
/// The message is complete (it includes the underlying cause), so `to_string()` is enough
/// for logging.
///
/// ```
/// use tomodachi::envelope::{EnvelopeError, EnvelopeErrorKind};
///
/// let err = EnvelopeError::parse("not a JSON object");
/// assert_eq!(err.kind(), EnvelopeErrorKind::Parse);
/// let err: tomodachi::Error = err.into();
/// assert_eq!(err.to_string(), "not a JSON object");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeError {
    kind: EnvelopeErrorKind,
    message: String,
}

impl EnvelopeError {
    /// An error of `kind` with a complete, human-readable message.
    pub fn new(kind: EnvelopeErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// A [`EnvelopeErrorKind::Build`] error.
    pub fn build(message: impl Into<String>) -> Self {
        Self::new(EnvelopeErrorKind::Build, message)
    }

    /// A [`EnvelopeErrorKind::Parse`] error.
    pub fn parse(message: impl Into<String>) -> Self {
        Self::new(EnvelopeErrorKind::Parse, message)
    }

    /// A [`EnvelopeErrorKind::Deserialize`] error.
    pub fn deserialize(message: impl Into<String>) -> Self {
        Self::new(EnvelopeErrorKind::Deserialize, message)
    }

    /// A [`EnvelopeErrorKind::Validate`] error.
    ///
    /// ```
    /// let err = tomodachi::envelope::EnvelopeError::validation("No proto_class defined");
    /// assert_eq!(err.kind(), tomodachi::envelope::EnvelopeErrorKind::Validate);
    /// ```
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(EnvelopeErrorKind::Validate, message)
    }

    /// What failed.
    pub fn kind(&self) -> EnvelopeErrorKind {
        self.kind
    }

    /// The message (same as `to_string()`).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EnvelopeError {}
