//! The HTTP server: binding, connections, keep-alive, the request pipeline and graceful drain.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, HOST, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use ipnet::IpNet;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::access_log::{AccessLog, AccessRecord};
use super::body::ResponseBody;
use super::conn::{ConnState, DrainAction, TrackedIo, IDLE_LINGER};
use super::dispatch::{dispatch, plain, Dispatcher};
use super::handler::{ErasedHandler, ErasedMiddleware};
use super::layer::{self, HttpLayerService, LayerFn};
use super::path::decode_path;
use super::request::RequestHead;
use super::response::ResponseDefaults;
use super::router::{Routed, Router};
use super::shield::Shielded;
use super::websocket::{self, WsRoute};
use crate::error::Error;

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
/// `Connection` values, built at compile time (`from_static` at run time checks every byte).
const CONNECTION_CLOSE: HeaderValue = HeaderValue::from_static("close");
const CONNECTION_KEEP_ALIVE: HeaderValue = HeaderValue::from_static("keep-alive");

/// Server settings, resolved from `options.http` at start.
#[derive(Debug, Clone)]
pub(crate) struct HttpSettings {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) reuse_port: bool,
    pub(crate) client_max_size: u64,
    pub(crate) grace: Duration,
    pub(crate) real_ip_from: Vec<IpNet>,
    pub(crate) real_ip_header: Option<HeaderName>,
    pub(crate) keepalive_timeout: Option<Duration>,
    /// The `Keep-Alive` response header for `keepalive_timeout` (and `max_keepalive_requests`).
    pub(crate) keepalive_header: Option<HeaderValue>,
    pub(crate) max_keepalive_requests: Option<u64>,
    pub(crate) max_keepalive_time: Option<Duration>,
    /// Time a client has for a request head, then for its body (`options.http.read_timeout`).
    pub(crate) read_timeout: Option<Duration>,
    /// Most connections served at once (`options.http.max_connections`).
    pub(crate) max_connections: Option<usize>,
    pub(crate) defaults: ResponseDefaults,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 0,
            reuse_port: false,
            client_max_size: 104_857_600,
            grace: Duration::from_secs(30),
            real_ip_from: Vec::new(),
            real_ip_header: Some(HeaderName::from_static("x-forwarded-for")),
            keepalive_timeout: None,
            keepalive_header: None,
            max_keepalive_requests: None,
            max_keepalive_time: None,
            read_timeout: Some(Duration::from_secs(30)),
            max_connections: None,
            defaults: ResponseDefaults::default(),
        }
    }
}

/// Everything one service's HTTP server needs, shared by all its connections.
pub(crate) struct HttpApp {
    core: Arc<Dispatcher>,
    layered: Option<HttpLayerService>,
    pub(crate) settings: HttpSettings,
    pub(crate) access_log: AccessLog,
    draining: AtomicBool,
    /// Cancelled when the drain begins (request bodies still arriving then must keep coming).
    drain_started: CancellationToken,
    requests: TaskTracker,
    /// The open websockets (closed first by the graceful stop).
    websockets: websocket::Registry,
    /// The whole header set of a response that sets no header of its own, built once.
    default_headers: DefaultHeaders,
    /// OpenTelemetry `SERVER` spans, when the service is instrumented.
    #[cfg(feature = "opentelemetry")]
    pub(crate) telemetry: Option<Arc<crate::telemetry::http_spans::ServerTelemetry>>,
}

/// The headers of a response whose handler set no header and no content type, in the order
/// they are otherwise inserted one by one (`Content-Type`, `Server`, then the connection's
/// headers): cloned whole instead of hashed and inserted four times per response.
struct DefaultHeaders {
    /// The connection stays open: `Connection: keep-alive` and `Keep-Alive` when the server
    /// announces its keep-alive timeout.
    keep_alive: HeaderMap,
    /// `Connection: close`.
    close: HeaderMap,
}

impl DefaultHeaders {
    fn new(settings: &HttpSettings) -> Self {
        let mut close = settings.defaults.headers(1);
        close.insert(CONNECTION, CONNECTION_CLOSE);
        let keep_alive = match &settings.keepalive_header {
            Some(ka) => {
                let mut headers = settings.defaults.headers(2);
                headers.insert(CONNECTION, CONNECTION_KEEP_ALIVE);
                headers.insert(KEEP_ALIVE, ka.clone());
                headers
            }
            None => settings.defaults.headers(0),
        };
        Self { keep_alive, close }
    }
}

impl HttpApp {
    /// Whether something asks a connection's socket about the client (the access log's 499,
    /// the spans' 499 and local address).
    fn watches_sockets(&self) -> bool {
        #[cfg(feature = "opentelemetry")]
        if self.telemetry.is_some() {
            return true;
        }
        self.access_log.enabled()
    }

    pub(crate) fn new(
        service: Arc<dyn std::any::Any + Send + Sync>,
        router: Router,
        error_handlers: HashMap<u16, ErasedHandler>,
        middlewares: Vec<ErasedMiddleware>,
        layers: Vec<LayerFn>,
        settings: HttpSettings,
        access_log: AccessLog,
    ) -> Self {
        let core = Arc::new(Dispatcher {
            service,
            router,
            error_handlers,
            middlewares: middlewares.into(),
            defaults: settings.defaults.clone(),
            timed: access_log.enabled(),
        });
        let layered = (!layers.is_empty()).then(|| layer::build(core.clone(), layers));
        Self {
            core,
            layered,
            default_headers: DefaultHeaders::new(&settings),
            settings,
            access_log,
            draining: AtomicBool::new(false),
            drain_started: CancellationToken::new(),
            requests: TaskTracker::new(),
            websockets: websocket::Registry::default(),
            #[cfg(feature = "opentelemetry")]
            telemetry: None,
        }
    }

    /// Marks the start of the drain: responses say `Connection: close` from now on, and a
    /// request body that stops arriving is given up on.
    fn begin_drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
        self.drain_started.cancel();
    }

    #[cfg(feature = "testing")]
    /// Drains without a listener (the testing kit's in-process server): later requests are
    /// answered with `Connection: close`, in-flight handlers get the grace period.
    pub(crate) async fn drain(&self) {
        self.begin_drain();
        self.websockets.close_all().await;
        self.requests.close();
        if tokio::time::timeout(self.settings.grace, self.requests.wait())
            .await
            .is_err()
        {
            tracing::warn!(target: "tomodachi.http", remaining_request_count = self.requests.len(),
                "all requests did not gracefully finish execution");
        }
        self.access_log.close();
    }
}

/// A bound, serving HTTP server.
pub(crate) struct RunningServer {
    app: Arc<HttpApp>,
    local_addr: SocketAddr,
    phases: Phases,
    accept_task: tokio::task::JoinHandle<()>,
    connections: TaskTracker,
}

/// Shutdown phases every connection watches: `draining` stops accepting and ends keep-alive;
/// `force_close` drops what is left after the grace period. (Cancellation tokens: polling one
/// that has not fired is a single atomic load, on every wake of every connection.)
#[derive(Clone, Default)]
struct Phases {
    draining: CancellationToken,
    force_close: CancellationToken,
}

/// Binds the listening socket (SO_REUSEPORT when asked).
fn bind(addr: SocketAddr, reuse_port: bool) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    #[cfg(all(unix, not(target_os = "solaris"), not(target_os = "illumos")))]
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    #[cfg(not(all(unix, not(target_os = "solaris"), not(target_os = "illumos"))))]
    let _ = reuse_port;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

async fn resolve(host: &str, port: u16) -> Result<SocketAddr, Error> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| Error::msg(format!("unable to resolve http host {host:?}: {e}")))?
        .next()
        .ok_or_else(|| Error::msg(format!("unable to resolve http host {host:?}")))
}

/// A bound server that does not accept connections yet (the declared HTTP transport).
pub(crate) struct BoundServer {
    app: Arc<HttpApp>,
    listener: TcpListener,
    local_addr: SocketAddr,
}

impl BoundServer {
    /// Resolves the host and binds the listening socket.
    pub(crate) async fn bind(app: HttpApp) -> Result<Self, Error> {
        let app = Arc::new(app);
        let addr = resolve(&app.settings.host, app.settings.port).await?;
        let listener = bind(addr, app.settings.reuse_port).map_err(|e| {
            tracing::warn!(target: "tomodachi.http", error_message = %e,
                "unable to bind service [http] to http://localhost:{}/", addr.port());
            Error::msg(format!(
                "unable to bind service [http] to http://localhost:{}/: {e}",
                addr.port()
            ))
        })?;
        let local_addr = listener.local_addr()?;
        #[cfg(feature = "opentelemetry")]
        if let Some(t) = &app.telemetry {
            t.bound(local_addr);
        }
        Ok(Self {
            app,
            listener,
            local_addr,
        })
    }

    /// The bound address (with the OS-assigned port when port 0 was asked for).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Starts accepting connections.
    pub(crate) fn serve(self) -> RunningServer {
        let Self {
            app,
            listener,
            local_addr,
        } = self;
        let shown_host = match local_addr.ip() {
            ip if ip.is_unspecified() || ip.is_loopback() => "localhost".to_owned(),
            ip => ip.to_string(),
        };
        let listen_url = format!("http://{shown_host}:{}/", local_addr.port());
        tracing::info!(target: "tomodachi.http", listen_url = %listen_url,
            listen_host = %app.settings.host, listen_port = local_addr.port(),
            "accepting http requests");
        app.access_log
            .started(&listen_url, &app.settings.host, local_addr.port());
        super::dispatch::TASKS.enable();

        let phases = Phases::default();
        let connections = TaskTracker::new();
        let accept_task = tokio::spawn(accept_loop(
            listener,
            app.clone(),
            phases.clone(),
            connections.clone(),
        ));
        RunningServer {
            app,
            local_addr,
            phases,
            accept_task,
            connections,
        }
    }
}

impl RunningServer {
    /// The bound address (with the OS-assigned port when port 0 was asked for).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Graceful stop: refuse new connections, let in-flight requests finish within the grace
    /// period (responses get `Connection: close`), then close what is left.
    pub(crate) async fn stop(self) {
        let grace = self.app.settings.grace;
        self.app.begin_drain();
        self.phases.draining.cancel();
        let _ = self.accept_task.await;
        // Open websockets get a close frame (and their close callbacks run) first.
        self.app.websockets.close_all().await;
        self.connections.close();
        self.app.requests.close();
        // upstream's drain lines, when there is something to wait for
        let open = self.connections.len();
        if open > 0 && self.app.settings.keepalive_timeout.is_some() {
            tracing::info!(target: "tomodachi.http", connection_count = open,
                "awaiting keep-alive connections");
        }
        let in_flight = self.app.requests.len();
        if in_flight > 0 {
            tracing::info!(target: "tomodachi.http", request_count = in_flight,
                grace_period_seconds = grace.as_secs(), "awaiting requests to complete");
        }
        let deadline = tokio::time::Instant::now() + grace;
        let drained = async {
            self.app.requests.wait().await;
            self.connections.wait().await;
        };
        if tokio::time::timeout_at(deadline, drained).await.is_err() {
            let remaining = self.app.requests.len();
            if remaining > 0 {
                tracing::warn!(target: "tomodachi.http", remaining_request_count = remaining,
                    "all requests did not gracefully finish execution");
            }
            if !self.connections.is_empty() {
                tracing::warn!(target: "tomodachi.http", "forcefully closing open tcp connections");
            }
            self.phases.force_close.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(1), self.connections.wait()).await;
        }
        self.app.access_log.close();
    }
}

async fn accept_loop(
    listener: TcpListener,
    app: Arc<HttpApp>,
    phases: Phases,
    connections: TaskTracker,
) {
    let limit = app
        .settings
        .max_connections
        .map(|n| Arc::new(tokio::sync::Semaphore::new(n)));
    loop {
        // At the connection limit, new connections wait in the listen backlog.
        let permit = match &limit {
            None => None,
            Some(slots) => match slots.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    tracing::warn!(target: "tomodachi.http",
                        max_connections = app.settings.max_connections.unwrap_or_default(),
                        "connection limit reached (options.http.max_connections); new connections wait until one closes");
                    tokio::select! {
                        biased;
                        _ = phases.draining.cancelled() => break,
                        permit = slots.clone().acquire_owned() => permit.ok(),
                    }
                }
            },
        };
        tokio::select! {
            biased;
            _ = phases.draining.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let app = app.clone();
                    let phases = phases.clone();
                    connections.spawn(serve_connection(stream, peer, app, phases, permit));
                }
                Err(e) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tracing::warn!(target: "tomodachi.http", error_message = %e, "error accepting connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Arc<HttpApp>,
    phases: Phases,
    slot: Option<tokio::sync::OwnedSemaphorePermit>,
) {
    let conn_state = Arc::new(ConnState::new());
    // released when the connection ends (or taken along by a websocket)
    conn_state.hold_slot(slot);
    let mut builder = hyper::server::conn::http1::Builder::new();
    // A client that shuts down its write side after a complete request still gets the
    // response (as aiohttp does).
    builder.timer(TokioTimer::new()).half_close(true);
    let read_timeout = app.settings.read_timeout;
    match app.settings.keepalive_timeout {
        Some(idle) => {
            // hyper arms the header-read timer while waiting for the next request, so it
            // doubles as the keep-alive idle timeout.
            let head = read_timeout.map_or(idle, |read| read.min(idle));
            builder.keep_alive(true).header_read_timeout(head);
        }
        None => {
            // With keep-alive off, hyper would add `close` to the `Connection: upgrade` of a
            // websocket handshake's 101 (which clients refuse). So a server with websocket
            // routes leaves hyper's keep-alive on; every other response of it says
            // `Connection: close`, which closes the connection after it all the same.
            builder
                .keep_alive(app.core.router.has_websockets())
                .header_read_timeout(read_timeout);
        }
    }
    let service = {
        let app = app.clone();
        let conn_state = conn_state.clone();
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let app = app.clone();
            let conn_state = conn_state.clone();
            async move { Ok::<_, std::convert::Infallible>(handle(app, conn_state, req, peer).await) }
        })
    };
    // Only the access log and the OpenTelemetry spans ask whether the client went away (the
    // 499) or where it connected to: without them, hyper reads and writes tokio's socket
    // directly.
    if app.watches_sockets() {
        let io = TokioIo::new(TrackedIo::tcp(stream, conn_state.clone()));
        drive(builder, io, service, &app, &phases, &conn_state, peer).await;
    } else {
        let io = TokioIo::new(TrackedIo::new(stream, conn_state.clone()));
        drive(builder, io, service, &app, &phases, &conn_state, peer).await;
    }
}

/// Serves one connection's requests until it ends, and carries out the graceful stop's
/// decision for it.
async fn drive<I, S>(
    builder: hyper::server::conn::http1::Builder,
    io: I,
    service: S,
    app: &Arc<HttpApp>,
    phases: &Phases,
    conn_state: &ConnState,
    peer: SocketAddr,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming>,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let conn = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(conn);
    let drain = phases.draining.cancelled();
    tokio::pin!(drain);
    // The connection is polled on every wake; the drain's future only on the first poll
    // (which registers this task to be woken by the drain) and after the drain has begun
    // (`begin_drain` sets `app.draining` before the token is cancelled): one atomic load per
    // wake instead of a poll of the token and a random branch order.
    let mut watching = false;
    let served = std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = conn.as_mut().poll(cx) {
            return Poll::Ready(Some(r));
        }
        if !watching || app.draining.load(Ordering::SeqCst) {
            watching = true;
            if drain.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
        }
        Poll::Pending
    })
    .await;
    let result = match served {
        Some(r) => r,
        None => {
            // The connection's state when the drain begins decides what happens to it
            // (see `conn`): a request being answered finishes (its response says
            // `Connection: close`), half a request head is closed at once, an idle
            // connection lingers so that a request already on its way is answered.
            let mut action = conn_state.drain_action();
            if action == DrainAction::Idle {
                tokio::select! {
                    r = conn.as_mut() => return finished(app, r, peer),
                    _ = tokio::time::sleep(IDLE_LINGER.min(app.settings.grace)) => {}
                    _ = phases.force_close.cancelled() => return,
                }
                action = conn_state.after_linger();
            }
            match action {
                DrainAction::Close => return,
                DrainAction::Shutdown => conn.as_mut().graceful_shutdown(),
                DrainAction::Finish | DrainAction::Idle => {}
            }
            tokio::select! {
                r = conn.as_mut() => r,
                _ = phases.force_close.cancelled() => return,
            }
        }
    };
    finished(app, result, peer);
}

/// Logs how a connection ended, when it ended with an error.
fn finished(app: &HttpApp, result: Result<(), hyper::Error>, peer: SocketAddr) {
    if let Err(e) = result {
        log_connection_error(app, &e, peer);
    }
}

fn log_connection_error(app: &HttpApp, e: &hyper::Error, peer: SocketAddr) {
    if e.is_parse() || e.is_parse_too_large() {
        let status: u16 = if e.is_parse_too_large() { 431 } else { 400 };
        if app.access_log.enabled() {
            tracing::info!(target: "tomodachi.http.response", status_code = status,
                remote_ip = %peer.ip(), error_message = %e, "bad http request");
        }
    } else if e.is_timeout() {
        tracing::debug!(target: "tomodachi.http", remote_ip = %peer.ip(), "connection timed out");
    } else {
        tracing::debug!(target: "tomodachi.http", remote_ip = %peer.ip(), error_message = %e,
            "connection error");
    }
}

/// Whether the client asked to keep the connection open.
pub(crate) fn client_wants_keepalive(version: Version, headers: &HeaderMap) -> bool {
    let conn = headers.get(CONNECTION).and_then(|v| v.to_str().ok());
    match version {
        Version::HTTP_11 => !conn.is_some_and(|c| c.eq_ignore_ascii_case("close")),
        Version::HTTP_10 => conn.is_some_and(|c| c.eq_ignore_ascii_case("keep-alive")),
        _ => false,
    }
}

/// The whole pipeline for one request.
#[cfg(feature = "testing")]
/// Answers one request in process, as the server answers the first request of a new
/// connection from `peer` (the testing kit's HTTP client): the same routing, limits,
/// middlewares, layers, error handlers, default headers and access log.
pub(crate) async fn answer<B>(
    app: Arc<HttpApp>,
    req: Request<B>,
    peer: SocketAddr,
) -> Response<ResponseBody>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<crate::BoxError>,
{
    handle(app, Arc::new(ConnState::new()), req, peer).await
}

async fn handle<B>(
    app: Arc<HttpApp>,
    conn_state: Arc<ConnState>,
    req: Request<B>,
    peer: SocketAddr,
) -> Response<ResponseBody>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<crate::BoxError>,
{
    let received_at = Instant::now();
    let nth_request = conn_state.request_started();
    #[cfg(feature = "opentelemetry")]
    if let Some(otel) = &app.telemetry {
        if let Some(span) = start_span(&app, otel, &req, peer, conn_state.local_addr()) {
            // boxed: the uninstrumented path's future does not grow
            let response = Box::pin(opentelemetry::context::FutureExt::with_context(
                respond(&app, &conn_state, req, peer, received_at, nth_request),
                span.context(),
            ))
            .await;
            span.finish(&response, conn_state.peer_closed());
            conn_state.request_answered();
            return response;
        }
    }
    let response = respond(&app, &conn_state, req, peer, received_at, nth_request).await;
    conn_state.request_answered();
    response
}

/// The request's OpenTelemetry span (`None` for an excluded URL or a path that is not UTF-8).
#[cfg(feature = "opentelemetry")]
fn start_span<B>(
    app: &HttpApp,
    otel: &crate::telemetry::http_spans::ServerTelemetry,
    req: &Request<B>,
    peer: SocketAddr,
    local: Option<SocketAddr>,
) -> Option<crate::telemetry::http_spans::ServerSpan> {
    use crate::telemetry::http_spans::{route_pattern, RequestInfo};
    let path = decode_path(req.uri().path())?;
    if otel.excludes(&path) {
        return None;
    }
    let route = match app.core.router.route(req.method(), &path) {
        Routed::Found(route, _) => Some(route_pattern(route.regex.as_str())),
        _ => None,
    };
    Some(otel.start(RequestInfo {
        method: req.method(),
        uri: req.uri(),
        version: req.version(),
        headers: req.headers(),
        path: &path,
        route,
        peer,
        local,
        remote_ip: resolve_remote_ip(&app.settings, peer.ip(), req.headers()),
    }))
}

async fn respond<B>(
    app: &HttpApp,
    conn_state: &ConnState,
    req: Request<B>,
    peer: SocketAddr,
    received_at: Instant,
    nth_request: u64,
) -> Response<ResponseBody>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<crate::BoxError>,
{
    let (parts, body) = req.into_parts();
    let keep_alive = app.settings.keepalive_timeout.is_some()
        && client_wants_keepalive(parts.version, &parts.headers);

    let remote_ip = resolve_remote_ip(&app.settings, peer.ip(), &parts.headers);
    let path = match decode_path(parts.uri.path()) {
        Some(Cow::Borrowed(_)) => None,
        Some(Cow::Owned(p)) => Some(p),
        None => {
            let res = plain(
                StatusCode::BAD_REQUEST,
                "Bad Request: path is not valid UTF-8",
                &app.settings.defaults,
            );
            let path = parts.uri.path().to_owned();
            return reject(app, &parts, &path, remote_ip, received_at, res);
        }
    };

    // HTTP/1.1 requires a Host header (RFC 9112 §3.2).
    if parts.version == Version::HTTP_11 && !parts.headers.contains_key(HOST) {
        let res = plain(
            StatusCode::BAD_REQUEST,
            "Bad Request: missing Host header",
            &app.settings.defaults,
        );
        let path = decoded_or_raw(&parts, &path).to_owned();
        return reject(app, &parts, &path, remote_ip, received_at, res);
    }

    // A websocket route answers the handshake before anything else.
    if app.core.router.has_websockets() && parts.method == http::Method::GET {
        let routed = match app
            .core
            .router
            .route(&parts.method, decoded_or_raw(&parts, &path))
        {
            Routed::Found(route, params) => route
                .websocket
                .clone()
                .map(|ws| (ws, route.name.clone(), params)),
            _ => None,
        };
        if let Some((ws, name, params)) = routed {
            let head = WsHead {
                path,
                peer,
                remote_ip,
                received_at,
                params,
            };
            // boxed, as the other paths below that `hello` does not take: the request's future
            // (which hyper boxes once per connection and moves on every request) stays small
            return Box::pin(upgrade(app, conn_state, ws, name, parts, head)).await;
        }
    }

    // A request with a body is routed first: without a route for its path and method it is
    // answered (404 / 405, through the error handlers) without reading the body, and the
    // connection is closed after the answer.
    let mut body_unread = false;
    let has_body = !http_body::Body::is_end_stream(&body);
    if has_body
        && !matches!(
            app.core
                .router
                .route(&parts.method, decoded_or_raw(&parts, &path)),
            Routed::Found(..)
        )
    {
        body_unread = true;
    }

    // The body is read completely before the handler runs, bounded by client_max_size.
    let max = app.settings.client_max_size;
    let declared_len = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = declared_len.filter(|len| *len > max && !body_unread) {
        let path = decoded_or_raw(&parts, &path);
        return too_large(app, &parts, path, remote_ip, received_at, len.to_string());
    }
    let body = if !has_body || body_unread {
        Ok(Bytes::new())
    } else {
        Box::pin(read_body(app, body, max, received_at)).await
    };
    let body = match body {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => {
            let path = decoded_or_raw(&parts, &path);
            return too_large(
                app,
                &parts,
                path,
                remote_ip,
                received_at,
                format!("> {max}"),
            );
        }
        Err(BodyError::TimedOut) => {
            let res = plain(
                StatusCode::REQUEST_TIMEOUT,
                "Request Timeout",
                &app.settings.defaults,
            );
            let path = decoded_or_raw(&parts, &path);
            return reject(app, &parts, path, remote_ip, received_at, res);
        }
        Err(BodyError::Aborted(e)) => {
            // The client went away before sending the whole body (logged as upstream's 499).
            if app.access_log.enabled() {
                tracing::info!(target: "tomodachi.http.response", status_code = 499u16,
                    remote_ip = %remote_ip, request_method = %parts.method,
                    request_path = %decoded_or_raw(&parts, &path), error_message = %e,
                    "ignored http request - connection closed before body was sent");
            }
            let mut res = plain(StatusCode::BAD_REQUEST, "", &app.settings.defaults);
            res.headers_mut().insert(CONNECTION, CONNECTION_CLOSE);
            #[cfg(feature = "opentelemetry")]
            if app.telemetry.is_some() {
                res.extensions_mut()
                    .insert(crate::telemetry::http_spans::ClosedBeforeProcessing);
            }
            return res.map(ResponseBody::from);
        }
    };

    let body_len = (!body.is_empty()).then_some(body.len() as u64);
    let head = Arc::new(RequestHead::new(parts, path, peer, remote_ip, received_at));
    // the access log reads the head after the dispatch; otherwise the dispatch takes it
    let logged = app.access_log.enabled().then(|| head.clone());

    // Handlers are not cancelled when the client disconnects (as upstream), and graceful
    // shutdown waits for them: the dispatch is shielded and tracked.
    let (mut response, handler_elapsed, ignore, default_headers) = match &app.layered {
        None => {
            let d =
                Shielded::new(dispatch(app.core.clone(), head, body, true), &app.requests).await;
            (d.response, d.elapsed, d.ignore, d.default_headers)
        }
        Some(svc) => {
            let call = layer::call(svc.clone(), head, body, app.core.clone());
            let (res, elapsed, ignore) = Box::pin(Shielded::new(call, &app.requests)).await;
            (res, elapsed, ignore, false)
        }
    };

    // Keep-alive headers.
    let headers = response.headers_mut();
    let close = !keep_alive
        || body_unread
        || app.draining.load(Ordering::Relaxed)
        || (!default_headers
            && headers
                .get(CONNECTION)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close")))
        || app
            .settings
            .max_keepalive_requests
            .is_some_and(|m| nth_request >= m)
        || app
            .settings
            .max_keepalive_time
            .is_some_and(|t| conn_state.opened.elapsed() >= t);
    if default_headers {
        // the response has no headers yet: the default ones and the connection's, at once
        *headers = if close {
            app.default_headers.close.clone()
        } else {
            app.default_headers.keep_alive.clone()
        };
    } else if close {
        headers.insert(CONNECTION, CONNECTION_CLOSE);
    } else if let Some(ka) = &app.settings.keepalive_header {
        headers.insert(CONNECTION, CONNECTION_KEEP_ALIVE);
        headers.insert(KEEP_ALIVE, ka.clone());
    }

    if let Some(head) = logged.filter(|_| !ignore.ignores(response.status().as_u16())) {
        // A client that closed its side while the handler ran is logged as upstream does
        // (499, with the real status as `replaced_status_code`); the response is still sent,
        // for a client that only half-closed.
        let status = response.status().as_u16();
        let (status_code, replaced) = if conn_state.peer_closed() {
            (499, Some(status))
        } else {
            (status, None)
        };
        log_access(
            app,
            &head.parts,
            head.path(),
            head.remote_ip,
            head.received_at,
            (status_code, replaced),
            &response,
            handler_elapsed,
            body_len,
        );
    }
    response
}

/// What a websocket handshake request carries besides its parts.
struct WsHead {
    path: Option<String>,
    peer: SocketAddr,
    remote_ip: IpAddr,
    received_at: Instant,
    params: Vec<(Arc<str>, String)>,
}

/// Answers a request on a websocket route: the middlewares run on a handshake (one may refuse
/// it with its own response), then the handshake is answered and the session starts.
async fn upgrade(
    app: &HttpApp,
    conn_state: &ConnState,
    route: Arc<WsRoute>,
    name: Arc<str>,
    parts: http::request::Parts,
    head: WsHead,
) -> Response<ResponseBody> {
    let (request, on_upgrade, accept) = websocket::request(
        parts,
        head.path,
        head.peer,
        head.remote_ip,
        head.received_at,
        head.params,
    );
    let request = if accept.is_some() && !app.core.middlewares.is_empty() {
        match super::dispatch::websocket_middlewares(&app.core, request, &name).await {
            Ok(request) => request,
            Err((request, res)) => {
                // refused by a middleware: an ordinary response, logged as one
                let mut res = res;
                res.headers_mut().insert(CONNECTION, CONNECTION_CLOSE);
                if app.access_log.enabled() {
                    log_access(
                        app,
                        &request.head.parts,
                        request.path(),
                        request.remote_ip(),
                        request.received_at(),
                        (res.status().as_u16(), None),
                        &res,
                        None,
                        None,
                    );
                }
                return res.map(ResponseBody::from);
            }
        }
    } else {
        request
    };
    let ctx = websocket::Accept {
        registry: &app.websockets,
        service: app.core.service.clone(),
        log: app.access_log.enabled(),
        server: app.settings.defaults.server.clone(),
        route,
        name,
        slot: conn_state.take_slot(),
    };
    let mut res = websocket::accept(ctx, request, on_upgrade, accept);
    if res.status() != StatusCode::SWITCHING_PROTOCOLS && app.settings.keepalive_timeout.is_none() {
        res.headers_mut().insert(CONNECTION, CONNECTION_CLOSE);
    }
    res.map(ResponseBody::from)
}

/// Why a request body could not be read.
enum BodyError {
    /// Longer than `client_max_size`.
    TooLarge,
    /// Not complete within `read_timeout` of the head, or stalled during a graceful stop.
    TimedOut,
    /// The client went away or sent a malformed body.
    Aborted(crate::BoxError),
}

/// How long a request body may stall once the drain has begun.
const DRAIN_BODY_STALL: Duration = Duration::from_secs(1);

/// Reads a whole request body: at most `max` bytes, complete within `read_timeout` of the head,
/// and, once a graceful stop has begun, with no pause longer than a second between its parts.
async fn read_body<B>(
    app: &HttpApp,
    body: B,
    max: u64,
    received_at: Instant,
) -> Result<Bytes, BodyError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<crate::BoxError>,
{
    let deadline = app
        .settings
        .read_timeout
        .map(|t| tokio::time::Instant::from_std(received_at + t));
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut rest: Option<bytes::BytesMut> = None;
    let mut len: u64 = 0;
    loop {
        let frame = {
            let next = body.frame();
            tokio::pin!(next);
            let stalled = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                frame = &mut next => frame,
                _ = stalled => return Err(BodyError::TimedOut),
                _ = app.drain_started.cancelled() => {
                    match tokio::time::timeout(DRAIN_BODY_STALL, &mut next).await {
                        Ok(frame) => frame,
                        Err(_) => return Err(BodyError::TimedOut),
                    }
                }
            }
        };
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|e| BodyError::Aborted(e.into()))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        len += data.len() as u64;
        if len > max {
            return Err(BodyError::TooLarge);
        }
        match (&mut first, &mut rest) {
            (None, _) => first = Some(data),
            (Some(head), None) => {
                let mut buf = bytes::BytesMut::with_capacity(head.len() + data.len());
                buf.extend_from_slice(head);
                buf.extend_from_slice(&data);
                rest = Some(buf);
            }
            (Some(_), Some(buf)) => buf.extend_from_slice(&data),
        }
    }
    Ok(match (first, rest) {
        (_, Some(buf)) => buf.freeze(),
        (Some(data), None) => data,
        (None, None) => Bytes::new(),
    })
}

/// The decoded path, or the URI's when it needed no decoding.
fn decoded_or_raw<'a>(parts: &'a http::request::Parts, decoded: &'a Option<String>) -> &'a str {
    decoded.as_deref().unwrap_or_else(|| parts.uri.path())
}

fn too_large(
    app: &HttpApp,
    parts: &http::request::Parts,
    path: &str,
    remote_ip: IpAddr,
    received_at: Instant,
    actual: String,
) -> Response<ResponseBody> {
    let max = app.settings.client_max_size;
    let res = plain(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("Maximum request body size {max} exceeded, actual body size {actual}"),
        &app.settings.defaults,
    );
    reject(app, parts, path, remote_ip, received_at, res)
}

/// Answers a request refused before dispatch (bad path, body too large): the connection is
/// closed and the refusal is logged.
fn reject(
    app: &HttpApp,
    parts: &http::request::Parts,
    path: &str,
    remote_ip: IpAddr,
    received_at: Instant,
    mut res: Response<Full<Bytes>>,
) -> Response<ResponseBody> {
    res.headers_mut().insert(CONNECTION, CONNECTION_CLOSE);
    if app.access_log.enabled() {
        let status = (res.status().as_u16(), None);
        log_access(
            app,
            parts,
            path,
            remote_ip,
            received_at,
            status,
            &res,
            None,
            None,
        );
    }
    res.map(ResponseBody::from)
}

/// The client IP, honouring `real_ip_header` for trusted `real_ip_from` peers.
pub(crate) fn resolve_remote_ip(
    settings: &HttpSettings,
    peer: IpAddr,
    headers: &HeaderMap,
) -> IpAddr {
    if settings.real_ip_from.is_empty() {
        return peer;
    }
    let Some(header) = &settings.real_ip_header else {
        return peer;
    };
    let peer_canonical = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(peer),
        v4 => v4,
    };
    if !settings
        .real_ip_from
        .iter()
        .any(|net| net.contains(&peer_canonical))
    {
        return peer;
    }
    headers
        .get(header)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(peer)
}

/// One access-log record for a request, from its parts or its dispatched head.
#[allow(clippy::too_many_arguments)]
fn log_access<B: http_body::Body>(
    app: &HttpApp,
    parts: &http::request::Parts,
    path: &str,
    remote_ip: IpAddr,
    received_at: Instant,
    (status_code, replaced_status_code): (u16, Option<u16>),
    res: &Response<B>,
    handler_elapsed: Option<Duration>,
    request_content_length: Option<u64>,
) {
    let auth_user = if parts.headers.contains_key(http::header::AUTHORIZATION) {
        super::access_log::basic_auth_user(&parts.headers)
    } else {
        None
    };
    app.access_log.record(&AccessRecord {
        status_code,
        replaced_status_code,
        remote_ip,
        auth_user: auth_user.as_deref(),
        method: parts.method.as_str(),
        path,
        query: parts.uri.query(),
        version: parts.version,
        response_content_length: response_len(res),
        request_content_length,
        user_agent: parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
        handler_elapsed,
        request_time: received_at.elapsed(),
    });
}

fn response_len<B: http_body::Body>(res: &Response<B>) -> u64 {
    http_body::Body::size_hint(res.body()).exact().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(from: &[&str]) -> HttpSettings {
        HttpSettings {
            real_ip_from: from.iter().map(|s| s.parse().unwrap()).collect(),
            ..HttpSettings::default()
        }
    }

    #[test]
    fn real_ip_only_from_trusted_peers() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("10.1.1.1 foo, 1.2.3.4"),
        );
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(resolve_remote_ip(&settings(&[]), peer, &h), peer);
        assert_eq!(
            resolve_remote_ip(&settings(&["127.0.0.0/8"]), peer, &h),
            "10.1.1.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            resolve_remote_ip(&settings(&["10.0.0.0/8"]), peer, &h),
            peer
        );
        assert_eq!(
            resolve_remote_ip(&settings(&["127.0.0.0/8"]), peer, &HeaderMap::new()),
            peer
        );
    }

    #[test]
    fn keepalive_request_detection() {
        let mut h = HeaderMap::new();
        assert!(client_wants_keepalive(Version::HTTP_11, &h));
        assert!(!client_wants_keepalive(Version::HTTP_10, &h));
        h.insert(CONNECTION, HeaderValue::from_static("Keep-Alive"));
        assert!(client_wants_keepalive(Version::HTTP_10, &h));
        h.insert(CONNECTION, HeaderValue::from_static("close"));
        assert!(!client_wants_keepalive(Version::HTTP_11, &h));
    }
}
