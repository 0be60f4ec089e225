//! Websockets on the HTTP transport (upstream `@websocket(url)`), on tokio-tungstenite through
//! hyper's upgrade.
//!
//! A websocket route is a `GET` route on a full-match regex, tried in registration order with
//! the other routes (first match wins). When a request matches it:
//!
//! 1. the handshake is checked (`Upgrade: websocket`, `Connection: upgrade`,
//!    `Sec-WebSocket-Version: 13`, `Sec-WebSocket-Key`). A request that is no handshake (a plain
//!    `GET`) is answered **200 with an empty body**, logged as `websocket_state=cancelled`
//!    (upstream's behaviour, kept on purpose);
//! 2. the `http_middleware` stack runs (before the `101 Switching Protocols` answer: a middleware
//!    that answers without calling [`Next::run`](super::Next::run) refuses the upgrade with its
//!    own response);
//! 3. after the `101`, `websocket_state=open` is logged and the handler runs with the
//!    [`WebSocket`] and the [`HttpRequest`] (named groups with [`HttpRequest::param`]). It
//!    returns the [`WebSocketCallbacks`] (or `()` for none);
//! 4. every **text** message is handed to the `on_text` callback, one at a time, in order.
//!    **Binary messages are ignored**, as upstream, unless an `on_binary` callback is given
//!    (the opt-in). Pings are answered with pongs. A callback's error is logged and the loop
//!    goes on;
//! 5. when the client closes (or the service stops, or a limit is broken), the `on_close`
//!    callback runs, the socket is closed and `websocket_state=closed` is logged with
//!    `total_request_time`.
//!
//! Limits, per route ([`WebSocketRoute`]): a message longer than `max_message_size` or a frame
//! longer than `max_frame_size` (both 4 MiB by default, aiohttp's default) closes the socket
//! with code **1009** (message too big); a text message that is not UTF-8 closes it with
//! **1007**; other protocol errors with **1002**. An error of the handler itself closes it with
//! **1011** (upstream closes with 1000).
//!
//! On a graceful stop, open websockets get a close frame (1000, normal closure) right after the
//! listening socket is closed; the stop waits up to 10 seconds for the closing handshakes and
//! the `on_close` callbacks, then drops what is left.

use std::any::Any;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{FutureExt, SinkExt, StreamExt};
use http::header::{
    CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE, USER_AGENT,
};
use http::{HeaderValue, Method, Response, StatusCode, Version};
use http_body_util::Full;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::access_log::Seconds;
use super::handler::BoxFuture;
use super::request::{HttpRequest, RequestHead};
use crate::error::Error;
use crate::logging::{self, HandlerContext};
use crate::service::HookOutput;

/// The default `max_message_size` and `max_frame_size` of a websocket route: 4 MiB, aiohttp's
/// `max_msg_size` default (which upstream uses).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// How long the graceful stop waits for open websockets to close (upstream: 10 s).
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// How long a socket closed for a broken limit keeps reading (and discarding) what the client
/// still sends, so that the close frame is not lost to a TCP reset.
const LINGER: Duration = Duration::from_secs(2);

type WsStream = WebSocketStream<TokioIo<Upgraded>>;

/// A websocket route: a regex pattern (full match, `GET`), a name for logs, and size limits.
///
/// ```
/// use tomodachi::http::WebSocketRoute;
/// let route = WebSocketRoute::new(r"/ws/(?P<room>[^/]+)")
///     .name("chat")
///     .max_message_size(64 * 1024)
///     .max_frame_size(16 * 1024);
/// assert_eq!(route.pattern(), r"/ws/(?P<room>[^/]+)");
/// ```
#[derive(Debug, Clone)]
pub struct WebSocketRoute {
    pub(crate) pattern: String,
    pub(crate) name: Option<String>,
    pub(crate) max_message_size: usize,
    pub(crate) max_frame_size: usize,
}

impl WebSocketRoute {
    /// A websocket route on `pattern`, with the default limits ([`DEFAULT_MAX_MESSAGE_SIZE`]).
    pub fn new(pattern: impl Into<String>) -> Self {
        Self {
            pattern: pattern.into(),
            name: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_frame_size: DEFAULT_MAX_MESSAGE_SIZE,
        }
    }

    /// The handler name used in logs (the function name with the macros).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The longest message accepted (after reassembling fragments), in bytes; a longer one
    /// closes the socket with code 1009. Default 4 MiB.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// The longest single frame accepted, in bytes; a longer one closes the socket with code
    /// 1009. Default 4 MiB.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// The pattern as given.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    pub(crate) fn config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .max_message_size(Some(self.max_message_size))
            .max_frame_size(Some(self.max_frame_size))
            // Memory per open socket: the read buffer grows when a message needs it.
            .read_buffer_size(4096)
            .write_buffer_size(0)
    }
}

/// One open websocket, as the handler and its callbacks see it: send text or binary messages,
/// or close it. Cloning is cheap (all clones are the same socket), so callbacks keep a clone to
/// answer.
///
/// Sending on a socket that is closing or closed is an error.
#[derive(Clone)]
pub struct WebSocket {
    inner: Arc<Inner>,
}

struct Inner {
    sink: tokio::sync::Mutex<Option<SplitSink<WsStream, Message>>>,
    id: Arc<str>,
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("websocket_id", &self.inner.id)
            .finish_non_exhaustive()
    }
}

impl WebSocket {
    fn new(sink: SplitSink<WsStream, Message>, id: Arc<str>) -> Self {
        Self {
            inner: Arc::new(Inner {
                sink: tokio::sync::Mutex::new(Some(sink)),
                id,
            }),
        }
    }

    /// The connection's `websocket_id` (a random UUID, as in the log records).
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    async fn send(&self, message: Message) -> Result<(), Error> {
        let mut sink = self.inner.sink.lock().await;
        match sink.as_mut() {
            Some(sink) => sink.send(message).await.map_err(Error::from),
            None => Err(Error::from(tungstenite::Error::AlreadyClosed)),
        }
    }

    /// Sends a text message.
    pub async fn send_text(&self, text: impl Into<String>) -> Result<(), Error> {
        self.send(Message::text(text.into())).await
    }

    /// Sends a binary message.
    pub async fn send_binary(&self, data: impl Into<Bytes>) -> Result<(), Error> {
        self.send(Message::binary(data.into())).await
    }

    /// Starts the closing handshake with code 1000 (normal closure). The `on_close` callback
    /// runs once the client has answered (or gone).
    pub async fn close(&self) -> Result<(), Error> {
        self.close_with(1000, "").await
    }

    /// Starts the closing handshake with `code` (1000–1003, 1007–1011 or an application code
    /// 3000–4999) and `reason`, cut to the 123 bytes a close frame has room for.
    pub async fn close_with(&self, code: u16, reason: &str) -> Result<(), Error> {
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        self.send(Message::Close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: reason[..end].to_owned().into(),
        })))
        .await
    }

    /// Takes the write half back (for the final close).
    async fn take_sink(&self) -> Option<SplitSink<WsStream, Message>> {
        self.inner.sink.lock().await.take()
    }
}

type TextFn = Box<dyn FnMut(String) -> BoxFuture<Result<(), Error>> + Send>;
type BinaryFn = Box<dyn FnMut(Bytes) -> BoxFuture<Result<(), Error>> + Send>;
type CloseFn = Box<dyn FnOnce() -> BoxFuture<Result<(), Error>> + Send>;

/// What a websocket handler returns: the callbacks for the socket's messages and its end
/// (upstream's `receive` function and the optional `close` function).
///
/// Each callback returns `()` or a `Result<(), E>`; an error (or a panic) is logged as an
/// uncaught exception and the socket stays open.
///
/// ```
/// use tomodachi::http::{WebSocket, WebSocketCallbacks};
///
/// fn echo(websocket: WebSocket) -> WebSocketCallbacks {
///     WebSocketCallbacks::new()
///         .on_text(move |text: String| {
///             let websocket = websocket.clone();
///             async move { websocket.send_text(text).await }
///         })
///         .on_close(|| async { tracing::info!("bye") })
/// }
/// ```
#[derive(Default)]
pub struct WebSocketCallbacks {
    on_text: Option<TextFn>,
    on_binary: Option<BinaryFn>,
    on_close: Option<CloseFn>,
}

impl std::fmt::Debug for WebSocketCallbacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketCallbacks")
            .field("on_text", &self.on_text.is_some())
            .field("on_binary", &self.on_binary.is_some())
            .field("on_close", &self.on_close.is_some())
            .finish()
    }
}

impl WebSocketCallbacks {
    /// No callbacks: messages are ignored until the socket closes.
    pub fn new() -> Self {
        Self::default()
    }

    /// The receive callback: called with every text message, one at a time.
    pub fn on_text<F, Fut, R>(mut self, mut f: F) -> Self
    where
        F: FnMut(String) -> Fut + Send + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: HookOutput,
    {
        self.on_text = Some(Box::new(move |text| {
            let fut = f(text);
            Box::pin(async move { fut.await.into_result() })
        }));
        self
    }

    /// Opts in to binary messages (upstream ignores them): called with every binary message,
    /// in order with the text messages.
    pub fn on_binary<F, Fut, R>(mut self, mut f: F) -> Self
    where
        F: FnMut(Bytes) -> Fut + Send + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: HookOutput,
    {
        self.on_binary = Some(Box::new(move |data| {
            let fut = f(data);
            Box::pin(async move { fut.await.into_result() })
        }));
        self
    }

    /// The close callback: called once when the socket's message loop has ended (the client
    /// closed, the service is stopping, or a limit was broken), before the socket is closed.
    pub fn on_close<F, Fut, R>(mut self, f: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: HookOutput,
    {
        self.on_close = Some(Box::new(move || {
            let fut = f();
            Box::pin(async move { fut.await.into_result() })
        }));
        self
    }
}

/// What a websocket handler may return: [`WebSocketCallbacks`], `()` (no callbacks), an
/// `Option` of either, or a `Result` of them (an error is logged and closes the socket).
pub trait IntoWebSocketCallbacks {
    /// The callbacks, or the handler's error.
    fn into_callbacks(self) -> Result<WebSocketCallbacks, Error>;
}

impl IntoWebSocketCallbacks for WebSocketCallbacks {
    fn into_callbacks(self) -> Result<WebSocketCallbacks, Error> {
        Ok(self)
    }
}

impl IntoWebSocketCallbacks for () {
    fn into_callbacks(self) -> Result<WebSocketCallbacks, Error> {
        Ok(WebSocketCallbacks::default())
    }
}

impl<T: IntoWebSocketCallbacks> IntoWebSocketCallbacks for Option<T> {
    fn into_callbacks(self) -> Result<WebSocketCallbacks, Error> {
        self.map_or_else(|| Ok(WebSocketCallbacks::default()), T::into_callbacks)
    }
}

impl<T: IntoWebSocketCallbacks, E: Into<Error>> IntoWebSocketCallbacks for Result<T, E> {
    fn into_callbacks(self) -> Result<WebSocketCallbacks, Error> {
        self.map_err(Into::into)?.into_callbacks()
    }
}

/// A websocket handler: an async function of the service (`Arc<S>`), the [`WebSocket`] and
/// optionally the [`HttpRequest`] of the handshake, returning [`IntoWebSocketCallbacks`].
///
/// ```
/// use std::sync::Arc;
/// use tomodachi::http::{HttpRequest, WebSocket, WebSocketCallbacks};
///
/// struct Chat;
///
/// let service = tomodachi::Service::builder("chat", Chat)
///     .websocket(r"/ws/(?P<room>[^/]+?)", |_chat: Arc<Chat>, websocket: WebSocket, request: HttpRequest| async move {
///         let room = request.param("room").unwrap_or_default().to_owned();
///         WebSocketCallbacks::new().on_text(move |text: String| {
///             let (websocket, room) = (websocket.clone(), room.clone());
///             async move { websocket.send_text(format!("{room}: {text}")).await }
///         })
///     })
///     .websocket(r"/ignore", |_chat: Arc<Chat>, _websocket: WebSocket| async {})
///     .build();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a websocket handler",
    label = "not an async fn(Arc<S>, WebSocket[, HttpRequest]) returning callbacks",
    note = "a websocket handler is `Fn(Arc<S>, WebSocket) -> impl Future` or `Fn(Arc<S>, WebSocket, HttpRequest) -> impl Future`, whose output is `WebSocketCallbacks`, `()` or a `Result` of them"
)]
pub trait WebSocketHandler<S, Args>: Send + Sync + 'static {
    /// Runs the handler for one accepted socket.
    fn call(
        &self,
        state: Arc<S>,
        websocket: WebSocket,
        request: HttpRequest,
    ) -> BoxFuture<Result<WebSocketCallbacks, Error>>;
}

impl<S, F, Fut, O> WebSocketHandler<S, (WebSocket,)> for F
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, WebSocket) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = O> + Send + 'static,
    O: IntoWebSocketCallbacks,
{
    fn call(
        &self,
        state: Arc<S>,
        websocket: WebSocket,
        _request: HttpRequest,
    ) -> BoxFuture<Result<WebSocketCallbacks, Error>> {
        let fut = self(state, websocket);
        Box::pin(async move { fut.await.into_callbacks() })
    }
}

impl<S, F, Fut, O> WebSocketHandler<S, (WebSocket, HttpRequest)> for F
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, WebSocket, HttpRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = O> + Send + 'static,
    O: IntoWebSocketCallbacks,
{
    fn call(
        &self,
        state: Arc<S>,
        websocket: WebSocket,
        request: HttpRequest,
    ) -> BoxFuture<Result<WebSocketCallbacks, Error>> {
        let fut = self(state, websocket, request);
        Box::pin(async move { fut.await.into_callbacks() })
    }
}

pub(crate) type ErasedWsHandler = Arc<
    dyn Fn(WebSocket, HttpRequest) -> BoxFuture<Result<WebSocketCallbacks, Error>> + Send + Sync,
>;

/// The websocket part of a route.
pub(crate) struct WsRoute {
    pub(crate) handler: ErasedWsHandler,
    pub(crate) config: WebSocketConfig,
}

pub(crate) fn erase<S, H, Args>(state: Arc<S>, handler: H) -> ErasedWsHandler
where
    S: Send + Sync + 'static,
    H: WebSocketHandler<S, Args>,
{
    Arc::new(move |websocket, request| handler.call(state.clone(), websocket, request))
}

/// The open websockets of one server, for the graceful stop.
#[derive(Clone, Default)]
pub(crate) struct Registry {
    sessions: TaskTracker,
    /// Cancelled when the stop closes the open websockets.
    closing: CancellationToken,
    /// Cancelled when the stop gives up waiting: sockets are dropped.
    dropped: CancellationToken,
}

impl Registry {
    /// Sends every open websocket a close frame and waits (up to 10 s) for them to finish.
    pub(crate) async fn close_all(&self) {
        self.sessions.close();
        // counted before the close frames go out: a client that answers at once would
        // otherwise be missing from the count
        let open = self.sessions.len();
        if open == 0 {
            self.closing.cancel();
            return;
        }
        tracing::info!(target: "tomodachi.http", connection_count = open,
            "closing websocket connections");
        self.closing.cancel();
        if tokio::time::timeout(CLOSE_WAIT, self.sessions.wait())
            .await
            .is_err()
        {
            self.dropped.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(1), self.sessions.wait()).await;
        }
    }
}

/// Everything `accept` needs from the server.
pub(crate) struct Accept<'a> {
    pub(crate) registry: &'a Registry,
    pub(crate) service: Arc<dyn Any + Send + Sync>,
    pub(crate) log: bool,
    pub(crate) server: Option<HeaderValue>,
    pub(crate) route: Arc<WsRoute>,
    pub(crate) name: Arc<str>,
    /// The connection's `max_connections` slot: an open websocket keeps holding it.
    pub(crate) slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// The `Sec-WebSocket-Accept` value when `parts` is a websocket handshake (RFC 6455 §4.2.1).
fn handshake_accept(parts: &http::request::Parts) -> Option<HeaderValue> {
    let has_token = |name: http::HeaderName, token: &str| {
        parts.headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if parts.method != Method::GET
        || parts.version != Version::HTTP_11
        || !has_token(UPGRADE, "websocket")
        || !has_token(CONNECTION, "upgrade")
        || parts
            .headers
            .get(SEC_WEBSOCKET_VERSION)
            .map(|v| v.as_bytes())
            != Some(b"13")
    {
        return None;
    }
    let key = parts.headers.get(SEC_WEBSOCKET_KEY)?;
    HeaderValue::from_str(&tungstenite::handshake::derive_accept_key(key.as_bytes())).ok()
}

/// The `websocket_state` log records of one connection.
struct StateLog {
    head: Arc<RequestHead>,
    id: Arc<str>,
    enabled: bool,
}

impl StateLog {
    fn user_agent(&self) -> &str {
        self.head
            .parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// `open`, `error` or `cancelled`, on `tomodachi.http.websocket`.
    fn state(&self, state: &'static str) {
        if self.enabled {
            tracing::info!(target: "tomodachi.http.websocket", websocket_state = state,
                remote_ip = %self.head.remote_ip, request_path = self.head.path(),
                request_query_string = self.head.parts.uri.query(),
                websocket_id = &*self.id, user_agent = self.user_agent(), "");
        }
    }

    /// `closed`, on `tomodachi.http.response`, with the time since the handshake request.
    fn closed(&self) {
        if self.enabled {
            let total = Seconds::new(self.head.received_at.elapsed());
            tracing::info!(target: "tomodachi.http.response", websocket_state = "closed",
                remote_ip = %self.head.remote_ip, request_path = self.head.path(),
                request_query_string = self.head.parts.uri.query(),
                websocket_id = &*self.id, user_agent = self.user_agent(),
                total_request_time = total.as_str(), "");
        }
    }
}

/// The request handed to the websocket handler (and the middlewares).
pub(crate) fn request(
    mut parts: http::request::Parts,
    decoded_path: Option<String>,
    peer: SocketAddr,
    remote_ip: IpAddr,
    received_at: Instant,
    params: Vec<(Arc<str>, String)>,
) -> (HttpRequest, Option<OnUpgrade>, Option<HeaderValue>) {
    let upgrade = parts.extensions.remove::<OnUpgrade>();
    let accept = handshake_accept(&parts);
    let head = Arc::new(RequestHead::new(
        parts,
        decoded_path,
        peer,
        remote_ip,
        received_at,
    ));
    let request = HttpRequest {
        head,
        body: Bytes::new(),
        params,
        extensions: http::Extensions::new(),
        error_status: None,
    };
    (request, upgrade, accept)
}

/// Answers a request routed to a websocket route: `101` and a session task for a handshake,
/// `200` with an empty body (and `websocket_state=cancelled`) for anything else.
pub(crate) fn accept(
    ctx: Accept<'_>,
    request: HttpRequest,
    upgrade: Option<OnUpgrade>,
    accept: Option<HeaderValue>,
) -> Response<Full<Bytes>> {
    let log = StateLog {
        head: request.head.clone(),
        id: Arc::from(uuid::Uuid::new_v4().to_string()),
        enabled: ctx.log,
    };
    let mut res = Response::new(Full::new(Bytes::new()));
    if let Some(server) = &ctx.server {
        res.headers_mut()
            .insert(http::header::SERVER, server.clone());
    }
    let (Some(upgrade), Some(accept)) = (upgrade, accept) else {
        log.state("cancelled");
        log.closed();
        res.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        return res;
    };
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(SEC_WEBSOCKET_ACCEPT, accept);
    let session = Session {
        route: ctx.route,
        context: HandlerContext::new(ctx.name, "tomodachi.websocket").service(ctx.service),
        log,
        closing: ctx.registry.closing.clone(),
        dropped: ctx.registry.dropped.clone(),
        _slot: ctx.slot,
    };
    ctx.registry.sessions.spawn(session.run(upgrade, request));
    res
}

struct Session {
    route: Arc<WsRoute>,
    context: HandlerContext,
    log: StateLog,
    closing: CancellationToken,
    dropped: CancellationToken,
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// How a socket's message loop ended.
enum End {
    /// The client closed, or the connection is gone.
    Closed,
    /// A limit or the protocol was broken: close with this code, then linger.
    Failed(CloseCode, &'static str),
    /// The stop gave up waiting.
    Dropped,
}

impl Session {
    async fn run(self, upgrade: OnUpgrade, request: HttpRequest) {
        let upgraded = tokio::select! {
            upgraded = upgrade => upgraded,
            _ = self.dropped.cancelled() => return,
        };
        let upgraded = match upgraded {
            Ok(upgraded) => upgraded,
            Err(e) => {
                tracing::debug!(target: "tomodachi.http.websocket", error_message = %e,
                    "websocket upgrade failed");
                self.log.closed();
                return;
            }
        };
        let stream = WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            Some(self.route.config),
        )
        .await;
        let (sink, mut messages) = stream.split();
        let websocket = WebSocket::new(sink, self.log.id.clone());
        self.log.state("open");

        let handler = (self.route.handler)(websocket.clone(), request);
        let callbacks = self.guarded(handler).await;
        let mut callbacks = match callbacks {
            Ok(callbacks) => callbacks,
            Err(e) => {
                tracing::error!(target: "exception", handler = &*self.context.handler,
                    exception = ?e, "uncaught exception: {e}");
                let _ = websocket.close_with(1011, "").await;
                self.finish(&websocket, messages, End::Closed).await;
                self.log.state("error");
                self.log.closed();
                return;
            }
        };

        let end = self
            .message_loop(&websocket, &mut messages, &mut callbacks)
            .await;
        if let Some(on_close) = callbacks.on_close.take() {
            if let Err(e) = self.guarded(on_close()).await {
                tracing::error!(target: "exception", handler = &*self.context.handler,
                    exception = ?e, "uncaught exception: {e}");
            }
        }
        self.finish(&websocket, messages, end).await;
        self.log.closed();
    }

    /// Runs a handler or callback future in the handler's log context; a panic is an error.
    async fn guarded<T>(&self, fut: BoxFuture<Result<T, Error>>) -> Result<T, Error> {
        logging::scope(self.context.clone(), AssertUnwindSafe(fut).catch_unwind())
            .await
            .unwrap_or_else(|panic| {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".to_owned());
                Err(Error::msg(format!("handler panicked: {msg}")))
            })
    }

    async fn message_loop(
        &self,
        websocket: &WebSocket,
        messages: &mut SplitStream<WsStream>,
        callbacks: &mut WebSocketCallbacks,
    ) -> End {
        let mut close_sent = false;
        loop {
            let next = tokio::select! {
                biased;
                _ = self.dropped.cancelled() => return End::Dropped,
                _ = self.closing.cancelled(), if !close_sent => {
                    close_sent = true;
                    if websocket.close().await.is_err() {
                        return End::Closed;
                    }
                    continue;
                }
                next = messages.next() => next,
            };
            let result = match next {
                None => return End::Closed,
                Some(Ok(Message::Text(text))) => match callbacks.on_text.as_mut() {
                    Some(on_text) => self.guarded(on_text(String::from(text.as_str()))).await,
                    None => Ok(()),
                },
                Some(Ok(Message::Binary(data))) => match callbacks.on_binary.as_mut() {
                    Some(on_binary) => self.guarded(on_binary(data)).await,
                    None => Ok(()),
                },
                // pings are answered by tungstenite; a close is answered on the next read
                Some(Ok(_)) => Ok(()),
                Some(Err(e)) => {
                    tracing::debug!(target: "tomodachi.http.websocket",
                        websocket_id = &*self.log.id, error_message = %e, "websocket error");
                    return match e {
                        tungstenite::Error::Capacity(_) => {
                            End::Failed(CloseCode::Size, "message too big")
                        }
                        tungstenite::Error::Utf8(_) => {
                            End::Failed(CloseCode::Invalid, "invalid utf-8 text")
                        }
                        // the client went away without a close frame: nobody to tell
                        tungstenite::Error::Protocol(
                            tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
                        ) => End::Closed,
                        tungstenite::Error::Protocol(_) => {
                            End::Failed(CloseCode::Protocol, "protocol error")
                        }
                        _ => End::Closed,
                    };
                }
            };
            if let Err(e) = result {
                tracing::error!(target: "exception", handler = &*self.context.handler,
                    exception = ?e, "uncaught exception: {e}");
            }
        }
    }

    /// Closes the socket: a close frame if none was sent yet; after a broken limit, the close
    /// frame is followed by reading (and discarding) what the client still sends, until it
    /// closes or two seconds pass, so that the frame is not lost to a TCP reset.
    async fn finish(&self, websocket: &WebSocket, messages: SplitStream<WsStream>, end: End) {
        let Some(mut sink) = websocket.take_sink().await else {
            return;
        };
        match end {
            End::Dropped => {}
            End::Closed => {
                let _ = tokio::time::timeout(LINGER, sink.close()).await;
            }
            End::Failed(code, reason) => {
                let frame = Message::Close(Some(CloseFrame {
                    code,
                    reason: reason.into(),
                }));
                let _ = tokio::time::timeout(LINGER, sink.send(frame)).await;
                let Ok(stream) = messages.reunite(sink) else {
                    return;
                };
                let mut io = stream.into_inner();
                let _ = io.shutdown().await;
                let mut buf = [0u8; 4096];
                let drain = async { while matches!(io.read(&mut buf).await, Ok(n) if n > 0) {} };
                tokio::select! {
                    _ = tokio::time::timeout(LINGER, drain) => {}
                    _ = self.dropped.cancelled() => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> http::request::Parts {
        let mut req = http::Request::builder().method(Method::GET).uri("/ws");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.body(()).unwrap().into_parts().0
    }

    #[test]
    fn the_handshake_is_checked() {
        let good = [
            ("host", "x"),
            ("upgrade", "WebSocket"),
            ("connection", "keep-alive, Upgrade"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        // RFC 6455's example
        assert_eq!(
            handshake_accept(&parts(&good)).unwrap(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert!(handshake_accept(&parts(&good[..4])).is_none());
        assert!(handshake_accept(&parts(&[("host", "x")])).is_none());
        let mut old = good;
        old[3] = ("sec-websocket-version", "8");
        assert!(handshake_accept(&parts(&old)).is_none());
    }

    #[tokio::test]
    async fn results_and_options_convert_to_callbacks() {
        assert!(().into_callbacks().is_ok());
        assert!(None::<WebSocketCallbacks>.into_callbacks().is_ok());
        let cb = Some(WebSocketCallbacks::new().on_text(|_t: String| async {}))
            .into_callbacks()
            .unwrap();
        assert!(cb.on_text.is_some() && cb.on_close.is_none());
        let err: Result<WebSocketCallbacks, Error> = Err(Error::msg("no"));
        assert!(err.into_callbacks().is_err());
    }

    #[test]
    fn route_limits_reach_the_config() {
        let config = WebSocketRoute::new("/ws")
            .max_message_size(10)
            .max_frame_size(5)
            .config();
        assert_eq!(config.max_message_size, Some(10));
        assert_eq!(config.max_frame_size, Some(5));
        let config = WebSocketRoute::new("/ws").config();
        assert_eq!(config.max_message_size, Some(DEFAULT_MAX_MESSAGE_SIZE));
    }
}
