//! The request a handler, middleware or error handler receives.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{Extensions, HeaderMap, Method, Uri, Version};

use crate::error::Error;

/// The parts of a request shared (read-only) by the handler, the error path and the access log.
#[derive(Debug)]
pub(crate) struct RequestHead {
    /// Method, URI, version and headers as received.
    pub(crate) parts: http::request::Parts,
    /// The percent-decoded path when it differs from the URI's path (UTF-8).
    decoded_path: Option<String>,
    pub(crate) peer: SocketAddr,
    pub(crate) remote_ip: IpAddr,
    pub(crate) received_at: Instant,
}

impl RequestHead {
    /// The percent-decoded path.
    pub(crate) fn path(&self) -> &str {
        self.decoded_path
            .as_deref()
            .unwrap_or_else(|| self.parts.uri.path())
    }

    /// `decoded_path`: `None` when the URI's path needed no decoding.
    pub(crate) fn new(
        parts: http::request::Parts,
        decoded_path: Option<String>,
        peer: SocketAddr,
        remote_ip: IpAddr,
        received_at: Instant,
    ) -> Self {
        Self {
            parts,
            decoded_path,
            peer,
            remote_ip,
            received_at,
        }
    }
}

/// An HTTP request with its whole body already read (as upstream tomodachi does).
///
/// Cloning is cheap: the head is shared and the body is reference counted.
///
/// ```
/// # use tomodachi::http::HttpRequest;
/// async fn handler(request: HttpRequest) -> String {
///     format!("{} {}", request.method(), request.path())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub(crate) head: Arc<RequestHead>,
    pub(crate) body: Bytes,
    pub(crate) params: Vec<(Arc<str>, String)>,
    pub(crate) extensions: Extensions,
    pub(crate) error_status: Option<u16>,
}

impl HttpRequest {
    /// Builds a request by hand (for tests of handlers and middlewares).
    ///
    /// ```
    /// use tomodachi::http::HttpRequest;
    /// let req = HttpRequest::builder(http::Method::GET, "/p/a%20b?x=1").body("hi").build();
    /// assert_eq!(req.path(), "/p/a b");
    /// assert_eq!(req.query(), Some("x=1"));
    /// ```
    pub fn builder(method: Method, uri: &str) -> HttpRequestBuilder {
        HttpRequestBuilder {
            method,
            uri: uri.parse().unwrap_or_else(|_| Uri::from_static("/")),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            params: Vec::new(),
            peer: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }

    /// The request method.
    pub fn method(&self) -> &Method {
        &self.head.parts.method
    }

    /// The request URI as received.
    pub fn uri(&self) -> &Uri {
        &self.head.parts.uri
    }

    /// The percent-decoded request path.
    pub fn path(&self) -> &str {
        self.head.path()
    }

    /// The raw query string, if any.
    pub fn query(&self) -> Option<&str> {
        self.head.parts.uri.query()
    }

    /// The HTTP version.
    pub fn version(&self) -> Version {
        self.head.parts.version
    }

    /// The request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.head.parts.headers
    }

    /// A header's value as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.parts.headers.get(name)?.to_str().ok()
    }

    /// The request body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The body as UTF-8 text; a body that is not UTF-8 is a 400 error.
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body).map_err(|_| Error::http(400))
    }

    /// The body parsed as JSON; a body that does not parse is a 400 error.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|_| Error::http(400))
    }

    /// The value of a named group of the route's regex (percent-decoded).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A named group parsed with `FromStr`; a missing group or a failed parse is a 400 error.
    ///
    /// ```
    /// use tomodachi::http::HttpRequest;
    /// let req = HttpRequest::builder(http::Method::GET, "/r/7").param("id", "7").build();
    /// assert_eq!(req.parse_param::<u32>("id").unwrap(), 7);
    /// assert_eq!(req.parse_param::<u32>("nope").unwrap_err().status().unwrap(), 400);
    /// ```
    pub fn parse_param<T: FromStr>(&self, name: &str) -> Result<T, Error> {
        self.param(name)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| Error::http(400))
    }

    /// All named groups of the route's regex that took part in the match, in pattern order.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(n, v)| (&**n, v.as_str()))
    }

    /// The TCP peer address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.head.peer
    }

    /// The client IP: the peer address, or the `real_ip_header` value when the peer is one of
    /// the trusted `real_ip_from` networks (upstream `get_forwarded_remote_ip`).
    pub fn remote_ip(&self) -> IpAddr {
        self.head.remote_ip
    }

    /// Values added by middlewares (and the framework).
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Mutable access to the extensions, for middlewares handing values to the handler.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// The status code an `http_error` handler is handling; `None` in route handlers.
    pub fn error_status(&self) -> Option<u16> {
        self.error_status
    }

    /// When the request head was received.
    pub fn received_at(&self) -> Instant {
        self.head.received_at
    }
}

/// Builds an [`HttpRequest`] by hand, see [`HttpRequest::builder`].
#[derive(Debug)]
pub struct HttpRequestBuilder {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    params: Vec<(Arc<str>, String)>,
    peer: SocketAddr,
}

impl HttpRequestBuilder {
    /// Adds a header (invalid names or values are ignored).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            self.headers.append(n, v);
        }
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a named route group value.
    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.params.push((Arc::from(name), value.to_owned()));
        self
    }

    /// Sets the peer address.
    pub fn peer(mut self, peer: SocketAddr) -> Self {
        self.peer = peer;
        self
    }

    /// Finishes the request.
    pub fn build(self) -> HttpRequest {
        let path = match super::path::decode_path(self.uri.path()) {
            Some(std::borrow::Cow::Owned(p)) => Some(p),
            _ => None,
        };
        let mut request = http::Request::new(());
        *request.method_mut() = self.method;
        *request.uri_mut() = self.uri;
        *request.headers_mut() = self.headers;
        let (parts, ()) = request.into_parts();
        HttpRequest {
            head: Arc::new(RequestHead::new(
                parts,
                path,
                self.peer,
                self.peer.ip(),
                Instant::now(),
            )),
            body: self.body,
            params: self.params,
            extensions: Extensions::new(),
            error_status: None,
        }
    }
}
