//! The error type handlers, hooks and middlewares return.
//!
//! [`Error`] wraps any error (like `anyhow::Error`) and can carry an HTTP status, the Rust
//! equivalent of raising one of aiohttp's HTTP exceptions in a Python tomodachi handler: the
//! response then gets that status and goes through the matching `http_error` handler.

use std::borrow::Cow;
use std::fmt;

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::verdict::Verdict;

/// A boxed, thread-safe error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error from user code or from the framework.
///
/// Any `std::error::Error + Send + Sync + 'static` converts into it with `?`.
///
/// ```
/// use tomodachi::Error;
///
/// fn parse(input: &str) -> tomodachi::Result<u32> {
///     Ok(input.parse::<u32>()?)
/// }
/// assert!(parse("x").is_err());
///
/// // An error that answers an HTTP request with 403 instead of 500:
/// let forbidden = Error::http(403);
/// assert_eq!(forbidden.status().map(|s| s.as_u16()), Some(403));
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    message: Cow<'static, str>,
    source: Option<BoxError>,
    status: Option<StatusCode>,
    headers: HeaderMap,
    /// What a message transport does with the message of a handler failing with this error
    /// (`None`: retry it).
    verdict: Option<Verdict>,
}

impl Error {
    /// Wraps an error.
    pub fn new<E>(error: E) -> Self
    where
        E: Into<BoxError>,
    {
        let source: BoxError = error.into();
        Self::from_parts(Cow::Owned(source.to_string()), Some(source), None)
    }

    /// An error with a message and no source.
    pub fn msg(message: impl Into<Cow<'static, str>>) -> Self {
        Self::from_parts(message.into(), None, None)
    }

    /// An error that answers an HTTP request with `status` (like aiohttp's `HTTPForbidden`).
    ///
    /// A status that is not a valid HTTP status code becomes 500.
    pub fn http(status: u16) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = status.canonical_reason().unwrap_or("HTTP error");
        Self::from_parts(Cow::Borrowed(message), None, Some(status))
    }

    /// An error that tells a message transport to drop the message instead of retrying it
    /// (upstream's behaviour for every handler exception). The message is acknowledged (AMQP)
    /// or deleted (SQS) and the reason is logged.
    ///
    /// ```
    /// let err = tomodachi::Error::discard("order already cancelled");
    /// assert!(err.is_discard());
    /// ```
    pub fn discard(reason: impl Into<Cow<'static, str>>) -> Self {
        let mut e = Self::msg(reason);
        e.inner.verdict = Some(Verdict::Discard(e.inner.message.to_string()));
        e
    }

    /// Whether this error asks to drop the message ([`Error::discard`]).
    pub fn is_discard(&self) -> bool {
        matches!(self.inner.verdict, Some(Verdict::Discard(_)))
    }

    /// An error that tells a message transport the message can never be handled: it goes to
    /// the dead-letter queue at once instead of being retried.
    ///
    /// ```
    /// use tomodachi::message::Verdict;
    /// let err = tomodachi::Error::dead_letter("unknown order type");
    /// assert_eq!(err.verdict(), Verdict::DeadLetter("unknown order type".into()));
    /// ```
    pub fn dead_letter(reason: impl Into<Cow<'static, str>>) -> Self {
        let mut e = Self::msg(reason);
        e.inner.verdict = Some(Verdict::DeadLetter(e.inner.message.to_string()));
        e
    }

    /// A message that cannot be decoded (a bad envelope, `data` of the wrong shape, a body
    /// that is not text): what a transport reports for a body it cannot parse. It is
    /// dead-lettered at once, as [`Error::dead_letter`], since it would fail the same way on
    /// every delivery.
    ///
    /// ```
    /// use tomodachi::message::Verdict;
    /// let err = tomodachi::Error::undecodable("message body is not UTF-8");
    /// assert!(matches!(err.verdict(), Verdict::DeadLetter(_)));
    /// ```
    pub fn undecodable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::dead_letter(message)
    }

    /// What a message transport does with the message of a handler that failed with this
    /// error: [`Verdict::Retry`] unless the error was made with [`Error::discard`] or
    /// [`Error::dead_letter`].
    pub fn verdict(&self) -> Verdict {
        match &self.inner.verdict {
            Some(v) => v.clone(),
            None => Verdict::Retry(self.inner.message.to_string()),
        }
    }

    /// Adds a response header to an HTTP error, e.g. `Location` for a redirect.
    ///
    /// Invalid header names or values are ignored.
    ///
    /// ```
    /// let redirect = tomodachi::Error::http(302).with_header("location", "/elsewhere");
    /// assert_eq!(redirect.headers()["location"], "/elsewhere");
    /// ```
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            self.inner.headers.append(name, value);
        }
        self
    }

    fn from_parts(
        message: Cow<'static, str>,
        source: Option<BoxError>,
        status: Option<StatusCode>,
    ) -> Self {
        Self {
            inner: Box::new(Inner {
                message,
                source,
                status,
                headers: HeaderMap::new(),
                verdict: None,
            }),
        }
    }

    /// The HTTP status this error answers with, if it is an HTTP error.
    pub fn status(&self) -> Option<StatusCode> {
        self.inner.status
    }

    /// Response headers of an HTTP error.
    pub fn headers(&self) -> &HeaderMap {
        &self.inner.headers
    }

    /// The wrapped error, if any.
    pub fn source_error(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.inner.source.as_deref()
    }

    /// The wrapped error downcast to `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.inner.source.as_deref()?.downcast_ref::<E>()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("message", &self.inner.message);
        if let Some(status) = self.inner.status {
            d.field("status", &status.as_u16());
        }
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl<E> From<E> for Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn from(error: E) -> Self {
        Self::new(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_std_errors_and_keeps_the_source() {
        let err: Error = "x".parse::<u8>().unwrap_err().into();
        assert_eq!(err.to_string(), "invalid digit found in string");
        assert!(err.downcast_ref::<std::num::ParseIntError>().is_some());
        assert_eq!(err.status(), None);
    }

    #[test]
    fn http_errors_carry_status_and_headers() {
        let err = Error::http(302).with_header("Location", "/x");
        assert_eq!(err.status(), Some(StatusCode::FOUND));
        assert_eq!(err.headers()["location"], "/x");
        assert_eq!(err.to_string(), "Found");
        assert_eq!(
            Error::http(1).status(),
            Some(StatusCode::INTERNAL_SERVER_ERROR)
        );
    }
}
