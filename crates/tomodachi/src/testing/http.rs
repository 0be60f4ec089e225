//! An HTTP client that drives a service's HTTP handling in process: no socket, no port, the
//! same responses as over TCP.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};

use crate::error::Error;
use crate::http::server::{answer, HttpApp};
use crate::http::transport::{http_app, HttpTransport};
use crate::transport::{
    BoxFuture, DeclaredTransport, RunningTransport, Transport, TransportContext,
};

/// Where the in-process server puts its app once declared, for the [`TestClient`].
pub(crate) type AppSlot = Arc<Mutex<Option<Arc<HttpApp>>>>;

/// The service's HTTP transport with the listener replaced by in-process calls.
pub(crate) struct InProcessHttp {
    pub(crate) http: HttpTransport,
    pub(crate) slot: AppSlot,
}

impl Transport for InProcessHttp {
    fn name(&self) -> &'static str {
        "http"
    }

    fn declare(
        self: Box<Self>,
        ctx: TransportContext,
    ) -> BoxFuture<'static, Result<Box<dyn DeclaredTransport>, Error>> {
        Box::pin(async move {
            let app = Arc::new(http_app(self.http, &ctx)?);
            Ok(Box::new(Serving {
                app,
                slot: self.slot,
            }) as Box<dyn DeclaredTransport>)
        })
    }
}

struct Serving {
    app: Arc<HttpApp>,
    slot: AppSlot,
}

impl DeclaredTransport for Serving {
    fn start(self: Box<Self>) -> BoxFuture<'static, Result<Box<dyn RunningTransport>, Error>> {
        Box::pin(async move {
            if let Ok(mut slot) = self.slot.lock() {
                *slot = Some(self.app.clone());
            }
            Ok(self as Box<dyn RunningTransport>)
        })
    }
}

impl RunningTransport for Serving {
    fn stop(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            if let Ok(mut slot) = self.slot.lock() {
                *slot = None;
            }
            self.app.drain().await;
        })
    }
}

/// Sends requests to a service started by a [`TestKit`](super::TestKit), in process.
///
/// ```
/// # async fn demo(app: &tomodachi::testing::TestApp) {
/// let res = app.http().get("/sheep").send().await;
/// assert_eq!(res.status(), 200);
/// assert_eq!(res.text(), "0");
/// # }
/// ```
#[derive(Clone)]
pub struct TestClient {
    pub(crate) slot: AppSlot,
}

impl std::fmt::Debug for TestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClient").finish_non_exhaustive()
    }
}

impl TestClient {
    /// A request with any method.
    pub fn request(&self, method: Method, path: &str) -> TestRequest {
        TestRequest {
            client: self.clone(),
            builder: Request::builder().method(method).uri(path),
            body: Bytes::new(),
            peer: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 50_000),
        }
    }

    /// A `GET` request.
    pub fn get(&self, path: &str) -> TestRequest {
        self.request(Method::GET, path)
    }

    /// A `HEAD` request.
    pub fn head(&self, path: &str) -> TestRequest {
        self.request(Method::HEAD, path)
    }

    /// A `POST` request.
    pub fn post(&self, path: &str) -> TestRequest {
        self.request(Method::POST, path)
    }

    /// A `PUT` request.
    pub fn put(&self, path: &str) -> TestRequest {
        self.request(Method::PUT, path)
    }

    /// A `PATCH` request.
    pub fn patch(&self, path: &str) -> TestRequest {
        self.request(Method::PATCH, path)
    }

    /// A `DELETE` request.
    pub fn delete(&self, path: &str) -> TestRequest {
        self.request(Method::DELETE, path)
    }
}

/// A request being built; [`send`](Self::send) answers it.
#[derive(Debug)]
pub struct TestRequest {
    client: TestClient,
    builder: http::request::Builder,
    body: Bytes,
    peer: SocketAddr,
}

impl TestRequest {
    /// Adds a header.
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        self.builder = self.builder.header(name.as_ref(), value.as_ref());
        self
    }

    /// The body, as bytes.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> Self {
        let body = serde_json::to_vec(value)
            .unwrap_or_else(|e| panic!("TestRequest::json: the value is not JSON: {e}"));
        self.header("content-type", "application/json").body(body)
    }

    /// A form body (`application/x-www-form-urlencoded`).
    pub fn form<T: serde::Serialize + ?Sized>(self, value: &T) -> Self {
        let body = serde_urlencoded::to_string(value)
            .unwrap_or_else(|e| panic!("TestRequest::form: the value is not a form: {e}"));
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }

    /// The client address the service sees (default `127.0.0.1:50000`).
    pub fn peer(mut self, peer: SocketAddr) -> Self {
        self.peer = peer;
        self
    }

    /// Answers the request through the service's whole HTTP handling. A request the server
    /// could not parse (an invalid URI or header) is answered `400 Bad Request`, as hyper
    /// answers it on a socket; a service that is not running answers `503`.
    pub async fn send(self) -> TestResponse {
        let app = self.client.slot.lock().ok().and_then(|s| s.clone());
        let Some(app) = app else {
            return TestResponse::plain(StatusCode::SERVICE_UNAVAILABLE);
        };
        // as a client sending a fixed body does
        let mut builder = self.builder;
        let has_length = builder
            .headers_ref()
            .is_some_and(|h| h.contains_key(http::header::CONTENT_LENGTH));
        if !self.body.is_empty() && !has_length {
            builder = builder.header(http::header::CONTENT_LENGTH, self.body.len());
        }
        // as every HTTP/1.1 client does (the server answers 400 without one)
        let has_host = builder
            .headers_ref()
            .is_some_and(|h| h.contains_key(http::header::HOST));
        if !has_host {
            builder = builder.header(http::header::HOST, "localhost");
        }
        let Ok(request) = builder.body(Full::new(self.body)) else {
            return TestResponse::plain(StatusCode::BAD_REQUEST);
        };
        let head = request.method() == Method::HEAD;
        let response = answer(app, request, self.peer).await;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        // as hyper does on a connection: a HEAD response has no body
        let body = if head { Bytes::new() } else { body };
        TestResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}

/// A response from the [`TestClient`].
#[derive(Debug, Clone)]
pub struct TestResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl TestResponse {
    fn plain(status: StatusCode) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// One header as text (`None` when missing or not text).
    pub fn header(&self, name: impl TryInto<HeaderName>) -> Option<&str> {
        let name = name.try_into().ok()?;
        self.headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    }

    /// The body.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON into `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::msg(format!("response body is not the expected JSON: {e}")))
    }
}
