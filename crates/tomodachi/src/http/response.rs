//! Handler return values and their conversion into responses.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, SERVER};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use http_body_util::Full;

use super::body::ResponseBody;
use crate::error::Error;

/// A response under construction: the Rust form of upstream's `HttpResponse` and dict returns.
///
/// Status and content type left unset take the defaults: 200 (or the status an `http_error`
/// handler handles) and `options.http.content_type` (`text/plain; charset=utf-8`).
///
/// ```
/// use tomodachi::http::HttpResponse;
/// let created = HttpResponse::text(r#"{"id": 1}"#)
///     .status(201)
///     .content_type("application/json")
///     .header("X-Request-Id", "abc");
/// assert_eq!(created.status_code(), Some(201));
/// ```
#[derive(Debug, Clone, Default)]
pub struct HttpResponse {
    status: Option<StatusCode>,
    headers: HeaderMap,
    body: Bytes,
    text: bool,
    content_type: Option<Cow<'static, str>>,
    charset: Option<Cow<'static, str>>,
    invalid: Option<Cow<'static, str>>,
    /// A streamed body (sent instead of `body`), shared by clones: the first one sent takes it.
    stream: Option<StreamSlot>,
    /// Sent as built: no default content type (a file response, as upstream's native ones).
    bare: bool,
}

/// The streamed body of an [`HttpResponse`] until it is sent.
#[derive(Clone)]
struct StreamSlot(Arc<Mutex<Option<ResponseBody>>>);

impl StreamSlot {
    fn take(&self) -> Option<ResponseBody> {
        match self.0.lock() {
            Ok(mut body) => body.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }
}

impl std::fmt::Debug for StreamSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StreamSlot(..)")
    }
}

impl HttpResponse {
    /// An empty response.
    pub fn new() -> Self {
        Self::default()
    }

    /// A text body, encoded with the response's charset (UTF-8 unless set otherwise).
    pub fn text(body: impl Into<String>) -> Self {
        Self {
            body: Bytes::from(body.into()),
            text: true,
            ..Self::default()
        }
    }

    /// A text body from a `'static` string without copying it.
    pub fn static_text(body: &'static str) -> Self {
        Self {
            body: Bytes::from_static(body.as_bytes()),
            text: true,
            ..Self::default()
        }
    }

    /// A binary body, sent as is.
    pub fn bytes(body: impl Into<Bytes>) -> Self {
        Self {
            body: body.into(),
            ..Self::default()
        }
    }

    /// A streamed body, sent frame by frame as `body` yields them (never held whole in memory):
    /// a file, a proxied response, a generated report. The defaults apply as for
    /// [`bytes`](Self::bytes) (status 200, the default content type unless one is set); the
    /// length is the body's own size hint (chunked when it has none) unless a `Content-Length`
    /// header is set. [`body`](Self::body) is empty for such a response; clones share the
    /// stream, and only the first one answered sends it (a later one is a 500).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http_body_util::{BodyExt, StreamBody};
    /// use tomodachi::http::HttpResponse;
    ///
    /// let frames = futures_util::stream::iter(["a", "b"].map(|s| {
    ///     Ok::<_, std::io::Error>(http_body::Frame::data(Bytes::from(s)))
    /// }));
    /// let response = HttpResponse::stream(StreamBody::new(frames)).content_type("text/csv");
    /// assert!(response.body().is_empty());
    /// ```
    pub fn stream<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<crate::BoxError>,
    {
        Self {
            stream: Some(StreamSlot(Arc::new(Mutex::new(Some(ResponseBody::new(
                body,
            )))))),
            ..Self::default()
        }
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<Self, Error> {
        let body = serde_json::to_vec(value)?;
        Ok(Self::bytes(body).content_type("application/json"))
    }

    /// Sets the status code; an invalid code makes the response a 500.
    pub fn status(mut self, status: u16) -> Self {
        match StatusCode::from_u16(status) {
            Ok(s) => self.status = Some(s),
            Err(_) => self.invalid = Some(Cow::Owned(format!("invalid status code {status}"))),
        }
        self
    }

    /// Adds a header; an invalid name or value makes the response a 500.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(n), Ok(v)) => {
                self.headers.append(n, v);
            }
            _ => self.invalid = Some(Cow::Owned(format!("invalid response header {name:?}"))),
        }
        self
    }

    /// Sets the content type (without charset unless [`charset`](Self::charset) is also set).
    /// Ignored when a `Content-Type` header is set.
    pub fn content_type(mut self, content_type: impl Into<Cow<'static, str>>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Sets the charset a text body is encoded with and announced as.
    pub fn charset(mut self, charset: impl Into<Cow<'static, str>>) -> Self {
        self.charset = Some(charset.into());
        self
    }

    /// The explicitly set status code.
    pub fn status_code(&self) -> Option<u16> {
        self.status.map(|s| s.as_u16())
    }

    /// The headers set so far.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Mutable headers.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// The body bytes (text bodies as UTF-8, before charset encoding).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Sends the response without a default content type (only the `Server` header is added),
    /// as upstream passes its native file responses through.
    pub(crate) fn bare(mut self) -> Self {
        self.bare = true;
        self
    }

    /// Turns the response into what hyper sends, with its streamed body if it has one.
    pub(crate) fn finish_body(
        self,
        defaults: &ResponseDefaults,
    ) -> Result<http::Response<ResponseBody>, Error> {
        self.finish_body_with(defaults, false)
            .map(|(response, _)| response)
    }

    /// [`finish_body`](Self::finish_body), except that a response which sets no header and
    /// no content type is left without headers when `leave_defaults` is set: the caller then
    /// puts the default headers in place at once (the `bool` says it has to).
    pub(crate) fn finish_body_with(
        mut self,
        defaults: &ResponseDefaults,
        leave_defaults: bool,
    ) -> Result<(http::Response<ResponseBody>, bool), Error> {
        let stream = self.stream.take();
        let (response, left) = self.finish_with(defaults, leave_defaults)?;
        let response = match stream {
            None => {
                let (parts, body) = response.into_parts();
                http::Response::from_parts(parts, ResponseBody::from(body))
            }
            Some(slot) => {
                let body = slot.take().ok_or_else(|| {
                    Error::msg("the streamed body of this response was already sent")
                })?;
                response.map(|_| body)
            }
        };
        Ok((response, left))
    }

    pub(crate) fn set_default_status(&mut self, status: StatusCode) {
        if self.status.is_none() {
            self.status = Some(status);
        }
    }

    /// Turns the response into what hyper sends, applying the defaults.
    #[cfg(test)]
    pub(crate) fn finish(
        self,
        defaults: &ResponseDefaults,
    ) -> Result<http::Response<Full<Bytes>>, Error> {
        self.finish_with(defaults, false)
            .map(|(response, _)| response)
    }

    /// [`finish`](Self::finish); with `leave_defaults`, a response that sets no header and no
    /// content type gets no headers (`true` returned): they would be exactly the default
    /// `Content-Type` and `Server`, which the caller sets.
    fn finish_with(
        self,
        defaults: &ResponseDefaults,
        leave_defaults: bool,
    ) -> Result<(http::Response<Full<Bytes>>, bool), Error> {
        if let Some(why) = self.invalid {
            return Err(Error::msg(why));
        }
        if leave_defaults
            && self.headers.is_empty()
            && self.content_type.is_none()
            && self.charset.is_none()
            && !self.bare
        {
            // the body as the default content type's branch below encodes it
            let body = match (self.text, defaults.charset.as_deref()) {
                (true, Some(cs)) if !defaults.text_as_is => encode_text(self.body, cs)?,
                _ => self.body,
            };
            let mut response = http::Response::new(Full::new(body));
            *response.status_mut() = self.status.unwrap_or(StatusCode::OK);
            return Ok((response, true));
        }
        let mut headers = if self.headers.is_empty() {
            HeaderMap::with_capacity(6)
        } else {
            self.headers
        };
        let mut body = self.body;
        if let Some(ct) = headers.get(CONTENT_TYPE) {
            if self.text {
                let charset = ct.to_str().ok().and_then(charset_param);
                if let Some(cs) = charset {
                    body = encode_text(body, cs)?;
                }
            }
        } else if !self.bare {
            let (value, charset): (Cow<'_, str>, Option<&str>) =
                match (&self.content_type, &self.charset) {
                    (Some(ct), Some(cs)) => (format!("{ct}; charset={cs}").into(), Some(cs)),
                    (Some(ct), None) => (Cow::Borrowed(&**ct), None),
                    (None, Some(cs)) => (
                        format!("{}; charset={cs}", defaults.content_type).into(),
                        Some(cs),
                    ),
                    (None, None) => {
                        headers.insert(CONTENT_TYPE, defaults.content_type_header.clone());
                        (Cow::Borrowed(""), defaults.charset.as_deref())
                    }
                };
            if !value.is_empty() {
                let v = HeaderValue::from_str(&value)
                    .map_err(|_| Error::msg(format!("invalid content type {value:?}")))?;
                headers.insert(CONTENT_TYPE, v);
            }
            if self.text {
                if let Some(cs) = charset {
                    body = encode_text(body, cs)?;
                }
            }
        }
        if let Some(server) = &defaults.server {
            headers.insert(SERVER, server.clone());
        }
        let mut response = http::Response::new(Full::new(body));
        *response.status_mut() = self.status.unwrap_or(StatusCode::OK);
        *response.headers_mut() = headers;
        Ok((response, false))
    }
}

/// The `charset=` parameter of a content-type value.
fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"'))
    })
}

/// Whether [`encode_text`] sends a body in `charset` as is, being UTF-8.
fn is_utf8(charset: &str) -> bool {
    charset.eq_ignore_ascii_case("utf-8")
        || charset.eq_ignore_ascii_case("utf8")
        || matches!(
            charset.to_ascii_lowercase().replace('_', "-").as_str(),
            "utf-8" | "utf8"
        )
}

/// Encodes a UTF-8 text body into `charset`; unknown or unrepresentable charsets are errors
/// (upstream answers those with a 500).
fn encode_text(body: Bytes, charset: &str) -> Result<Bytes, Error> {
    if charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("utf8") {
        return Ok(body);
    }
    let cs = charset.to_ascii_lowercase().replace('_', "-");
    match cs.as_str() {
        "utf-8" | "utf8" => Ok(body),
        "ascii" | "us-ascii" => {
            if body.is_ascii() {
                Ok(body)
            } else {
                Err(Error::msg(format!("body cannot be encoded as {charset}")))
            }
        }
        "iso-8859-1" | "latin-1" | "latin1" | "iso8859-1" => {
            let text = std::str::from_utf8(&body).map_err(Error::new)?;
            text.chars()
                .map(|c| u8::try_from(u32::from(c)).ok())
                .collect::<Option<Vec<u8>>>()
                .map(Bytes::from)
                .ok_or_else(|| Error::msg(format!("body cannot be encoded as {charset}")))
        }
        _ => Err(Error::msg(format!("unknown charset {charset:?}"))),
    }
}

/// Per-service response defaults, from `options.http`.
#[derive(Debug, Clone)]
pub(crate) struct ResponseDefaults {
    /// Content type without parameters, e.g. `text/plain`.
    pub(crate) content_type: String,
    pub(crate) charset: Option<String>,
    pub(crate) content_type_header: HeaderValue,
    /// `None` when `server_header` is empty.
    pub(crate) server: Option<HeaderValue>,
    /// Whether a text body in the default charset is sent as is (UTF-8, or no charset).
    pub(crate) text_as_is: bool,
}

impl ResponseDefaults {
    /// The headers [`HttpResponse::finish`] gives a response that sets no header and no
    /// content type, in the same order, with room for `extra` more.
    pub(crate) fn headers(&self, extra: usize) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(2 + extra);
        headers.insert(CONTENT_TYPE, self.content_type_header.clone());
        if let Some(server) = &self.server {
            headers.insert(SERVER, server.clone());
        }
        headers
    }

    /// From `options.http.content_type`, `charset` and `server_header`.
    pub(crate) fn new(content_type: &str, charset: &str, server: &str) -> Result<Self, Error> {
        let (ct, cs) = match content_type.split_once(';') {
            Some((ct, _)) => (
                ct.trim().to_owned(),
                charset_param(content_type).map(str::to_owned),
            ),
            None => (content_type.trim().to_owned(), Some(charset.to_owned())),
        };
        let full = match &cs {
            Some(cs) if !cs.is_empty() => format!("{ct}; charset={cs}"),
            _ => ct.clone(),
        };
        Ok(Self {
            content_type_header: HeaderValue::from_str(&full).map_err(|_| {
                Error::msg(format!("invalid http.content_type option {content_type:?}"))
            })?,
            server: if server.is_empty() {
                None
            } else {
                Some(HeaderValue::from_str(server).map_err(|_| {
                    Error::msg(format!("invalid http.server_header option {server:?}"))
                })?)
            },
            content_type: ct,
            text_as_is: cs.as_deref().is_none_or(|c| c.is_empty() || is_utf8(c)),
            charset: cs.filter(|c| !c.is_empty()),
        })
    }
}

impl Default for ResponseDefaults {
    fn default() -> Self {
        Self {
            content_type: "text/plain".into(),
            charset: Some("utf-8".into()),
            content_type_header: HeaderValue::from_static("text/plain; charset=utf-8"),
            server: Some(HeaderValue::from_static("tomodachi")),
            text_as_is: true,
        }
    }
}

/// A value a handler (or middleware) may return.
///
/// Implemented for `&'static str`, `String`, `Bytes`, `Vec<u8>`, `()`, `Option<T>`,
/// `(u16, body)`, `(u16, body, headers)`, [`Json<T>`](crate::http::Json), [`HttpResponse`],
/// `http::Response<B>` and `Result<T, E>` where `E: Into<tomodachi::Error>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a tomodachi HTTP handler",
    label = "not convertible into an HTTP response",
    note = "return &str, String, Bytes, Vec<u8>, (), (u16, body), (u16, body, headers), Json<T>, HttpResponse or Result<T, E> of those"
)]
pub trait IntoResponse {
    /// Converts into a response, or an error answered through the error handlers.
    fn into_response(self) -> Result<HttpResponse, Error>;
}

impl IntoResponse for HttpResponse {
    fn into_response(self) -> Result<HttpResponse, Error> {
        Ok(self)
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Result<HttpResponse, Error> {
        Ok(HttpResponse::static_text(self))
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Result<HttpResponse, Error> {
        Ok(HttpResponse::text(self))
    }
}

impl IntoResponse for Cow<'static, str> {
    fn into_response(self) -> Result<HttpResponse, Error> {
        Ok(match self {
            Cow::Borrowed(s) => HttpResponse::static_text(s),
            Cow::Owned(s) => HttpResponse::text(s),
        })
    }
}

impl IntoResponse for Bytes {
    fn into_response(self) -> Result<HttpResponse, Error> {
        Ok(HttpResponse::bytes(self))
    }
}

impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Result<HttpResponse, Error> {
        Ok(HttpResponse::bytes(self))
    }
}

impl IntoResponse for &'static [u8] {
    fn into_response(self) -> Result<HttpResponse, Error> {
        Ok(HttpResponse::bytes(Bytes::from_static(self)))
    }
}

impl IntoResponse for () {
    fn into_response(self) -> Result<HttpResponse, Error> {
        Ok(HttpResponse::new())
    }
}

impl<T: IntoResponse> IntoResponse for Option<T> {
    fn into_response(self) -> Result<HttpResponse, Error> {
        match self {
            Some(v) => v.into_response(),
            None => Ok(HttpResponse::new()),
        }
    }
}

impl<T, E> IntoResponse for Result<T, E>
where
    T: IntoResponse,
    E: Into<Error>,
{
    fn into_response(self) -> Result<HttpResponse, Error> {
        self.map_err(Into::into)?.into_response()
    }
}

/// A status a tuple return may carry: `u16` (0 keeps the default, as upstream's falsy status)
/// or `http::StatusCode`.
pub trait IntoStatus {
    /// Applies the status to the response.
    fn apply(self, response: HttpResponse) -> HttpResponse;
}

impl IntoStatus for u16 {
    fn apply(self, response: HttpResponse) -> HttpResponse {
        if self == 0 {
            response
        } else {
            response.status(self)
        }
    }
}

impl IntoStatus for StatusCode {
    fn apply(self, response: HttpResponse) -> HttpResponse {
        response.status(self.as_u16())
    }
}

impl<S: IntoStatus, B: IntoResponse> IntoResponse for (S, B) {
    fn into_response(self) -> Result<HttpResponse, Error> {
        Ok(self.0.apply(self.1.into_response()?))
    }
}

impl<S: IntoStatus, B: IntoResponse, H: IntoHeaders> IntoResponse for (S, B, H) {
    fn into_response(self) -> Result<HttpResponse, Error> {
        let mut response = self.0.apply(self.1.into_response()?);
        self.2.extend_headers(response.headers_mut())?;
        Ok(response)
    }
}

impl<B> IntoResponse for http::Response<B>
where
    B: Into<Bytes>,
{
    fn into_response(self) -> Result<HttpResponse, Error> {
        let (parts, body) = self.into_parts();
        let mut response = HttpResponse::bytes(body).status(parts.status.as_u16());
        *response.headers_mut() = parts.headers;
        Ok(response)
    }
}

/// Headers a `(status, body, headers)` return may carry: a `HeaderMap`, or a map, vector or
/// array of `(name, value)` string pairs.
pub trait IntoHeaders {
    /// Appends the headers; an invalid name or value is an error (a 500).
    fn extend_headers(self, headers: &mut HeaderMap) -> Result<(), Error>;
}

fn append_pair(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), Error> {
    let n = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| Error::msg(format!("invalid response header name {name:?}")))?;
    let v = HeaderValue::from_str(value)
        .map_err(|_| Error::msg(format!("invalid value for response header {name:?}")))?;
    headers.append(n, v);
    Ok(())
}

impl IntoHeaders for HeaderMap {
    fn extend_headers(self, headers: &mut HeaderMap) -> Result<(), Error> {
        for (name, value) in self {
            if let Some(name) = name {
                headers.append(name, value);
            }
        }
        Ok(())
    }
}

macro_rules! pairs_into_headers {
    ($($ty:ty),*) => {$(
        impl<K: AsRef<str>, V: AsRef<str>> IntoHeaders for $ty {
            fn extend_headers(self, headers: &mut HeaderMap) -> Result<(), Error> {
                for (k, v) in self {
                    append_pair(headers, k.as_ref(), v.as_ref())?;
                }
                Ok(())
            }
        }
    )*};
}
pairs_into_headers!(Vec<(K, V)>, HashMap<K, V>, BTreeMap<K, V>);

impl<K: AsRef<str>, V: AsRef<str>, const N: usize> IntoHeaders for [(K, V); N] {
    fn extend_headers(self, headers: &mut HeaderMap) -> Result<(), Error> {
        for (k, v) in self {
            append_pair(headers, k.as_ref(), v.as_ref())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finish(r: impl IntoResponse) -> http::Response<Full<Bytes>> {
        r.into_response()
            .unwrap()
            .finish(&ResponseDefaults::default())
            .unwrap()
    }

    fn body(r: &http::Response<Full<Bytes>>) -> Bytes {
        use http_body_util::BodyExt;
        futures_util::FutureExt::now_or_never(r.body().clone().collect())
            .unwrap()
            .unwrap()
            .to_bytes()
    }

    #[test]
    fn str_gets_default_content_type_and_server_header() {
        let r = finish("hello");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
        assert_eq!(r.headers()["server"], "tomodachi");
        assert_eq!(body(&r), "hello");
    }

    #[test]
    fn bytes_get_the_default_content_type_too() {
        let r = finish(Bytes::from_static(b"\x00\x01"));
        assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
    }

    #[test]
    fn tuples_set_status_and_headers() {
        let r = finish((201, "made", [("X-A", "1"), ("X-B", "2")]));
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["x-a"], "1");
        assert_eq!(r.headers()["x-b"], "2");
        let zero = finish((0u16, "default status"));
        assert_eq!(zero.status(), 200);
    }

    #[test]
    fn content_type_without_charset_is_sent_verbatim() {
        let r = finish(HttpResponse::text("{}").content_type("application/json"));
        assert_eq!(r.headers()["content-type"], "application/json");
    }

    #[test]
    fn content_type_header_is_kept_verbatim() {
        let r = finish(HttpResponse::text("x").header("Content-Type", "text/plain; "));
        assert_eq!(r.headers()["content-type"], "text/plain; ");
    }

    #[test]
    fn charset_encodes_text_bodies() {
        let r = finish(HttpResponse::text("é").charset("iso-8859-1"));
        assert_eq!(
            r.headers()["content-type"],
            "text/plain; charset=iso-8859-1"
        );
        assert_eq!(body(&r), &b"\xe9"[..]);
    }

    #[test]
    fn unencodable_or_unknown_charsets_are_errors() {
        let d = ResponseDefaults::default();
        let r = HttpResponse::text("友達").charset("iso-8859-1");
        assert!(r.finish(&d).is_err());
        let r = HttpResponse::text("x").charset("utf-9");
        assert!(r.finish(&d).is_err());
    }

    #[test]
    fn invalid_status_or_header_is_an_error() {
        let d = ResponseDefaults::default();
        assert!(HttpResponse::new().status(1000).finish(&d).is_err());
        assert!(HttpResponse::new()
            .header("bad name", "x")
            .finish(&d)
            .is_err());
        assert!((200, "x", vec![("X", "\n")]).into_response().is_err());
    }

    #[test]
    fn errors_pass_through_results() {
        let r: Result<&str, Error> = Err(Error::http(403));
        assert_eq!(r.into_response().unwrap_err().status().unwrap(), 403);
    }

    #[test]
    fn an_empty_server_header_option_sends_none() {
        let d = ResponseDefaults::new("text/plain", "utf-8", "").unwrap();
        let r = HttpResponse::text("x").finish(&d).unwrap();
        assert!(r.headers().get("server").is_none());
    }

    #[test]
    fn a_streamed_body_is_sent_once_by_the_first_clone_answered() {
        let d = ResponseDefaults::default();
        let first = HttpResponse::stream(Full::new(Bytes::from_static(b"streamed")));
        let second = first.clone();
        let sent = first.finish_body(&d).unwrap();
        assert_eq!(sent.headers()["content-type"], "text/plain; charset=utf-8");
        let body = futures_util::FutureExt::now_or_never(http_body_util::BodyExt::collect(
            sent.into_body(),
        ))
        .unwrap()
        .unwrap()
        .to_bytes();
        assert_eq!(body, "streamed");
        assert!(second.finish_body(&d).is_err());
    }

    #[test]
    fn bare_responses_get_no_default_content_type() {
        let d = ResponseDefaults::default();
        let r = HttpResponse::new().status(304).bare().finish(&d).unwrap();
        assert!(r.headers().get("content-type").is_none());
        assert_eq!(r.headers()["server"], "tomodachi");
    }

    #[test]
    fn left_defaults_are_the_default_headers_and_encode_like_them() {
        for (charset, as_is) in [
            ("utf-8", true),
            ("UTF_8", true),
            ("", true),
            ("latin-1", false),
        ] {
            let d = ResponseDefaults::new("text/plain", charset, "svc").unwrap();
            assert_eq!(d.text_as_is, as_is, "{charset}");
            let (left, is_left) = HttpResponse::text("é").finish_with(&d, true).unwrap();
            let (full, is_full) = HttpResponse::text("é").finish_with(&d, false).unwrap();
            assert!(is_left && !is_full);
            assert!(left.headers().is_empty());
            assert_eq!(full.headers(), &d.headers(0), "{charset}");
            assert_eq!(body(&left), body(&full), "{charset}");
        }
        // a response with a header or content type of its own is finished as always
        let d = ResponseDefaults::default();
        let (_, left) = HttpResponse::text("x")
            .content_type("text/html")
            .finish_with(&d, true)
            .unwrap();
        assert!(!left);
        let (_, left) = HttpResponse::text("x")
            .header("x-a", "1")
            .finish_with(&d, true)
            .unwrap();
        assert!(!left);
    }

    #[test]
    fn defaults_follow_the_content_type_option() {
        let d = ResponseDefaults::new("application/json", "utf-8", "svc").unwrap();
        assert_eq!(d.content_type_header, "application/json; charset=utf-8");
        let d = ResponseDefaults::new("text/html; charset=iso-8859-1", "utf-8", "svc").unwrap();
        assert_eq!(d.content_type_header, "text/html; charset=iso-8859-1");
        assert_eq!(d.charset.as_deref(), Some("iso-8859-1"));
    }
}
