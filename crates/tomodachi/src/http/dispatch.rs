//! Routing, middlewares, handlers and error handlers for one request.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt;
use http::header::ALLOW;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::Full;

use super::body::ResponseBody;
use super::handler::{ErasedHandler, ErasedMiddleware, Next};
use super::request::{HttpRequest, RequestHead};
use super::response::{HttpResponse, ResponseDefaults};
use super::router::{IgnoreLogging, Routed, Router};
use crate::error::Error;
use crate::logging::{self, HandlerContext};

/// The HTTP transport's tasks in the execution context.
pub(crate) static TASKS: crate::transport::TaskCounter = crate::transport::TaskCounter::new(
    "http",
    &[("hyper_version", env!("TOMODACHI_HYPER_VERSION"))],
);

/// What a service's HTTP handling consists of, shared by all requests.
pub(crate) struct Dispatcher {
    /// The service the handlers belong to (publishing from a handler publishes as it).
    pub(crate) service: Arc<dyn std::any::Any + Send + Sync>,
    pub(crate) router: Router,
    pub(crate) error_handlers: HashMap<u16, ErasedHandler>,
    pub(crate) middlewares: Arc<[ErasedMiddleware]>,
    pub(crate) defaults: ResponseDefaults,
    /// Whether handler times are measured (only the access log uses them).
    pub(crate) timed: bool,
}

/// A plain-text framework response (errors, limits).
pub(crate) fn plain(
    status: StatusCode,
    body: impl Into<Bytes>,
    defaults: &ResponseDefaults,
) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(body.into()));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Some(server) = &defaults.server {
        h.insert(http::header::SERVER, server.clone());
    }
    res
}

/// What [`dispatch`] answers a request with.
pub(crate) struct Dispatched {
    pub(crate) response: Response<ResponseBody>,
    /// How long the handler took (when measured).
    pub(crate) elapsed: Option<Duration>,
    pub(crate) ignore: IgnoreLogging,
    /// The response was left without headers (asked for with `leave_defaults`): the handler
    /// set none and no content type, so they are the default ones, which the caller sets.
    pub(crate) default_headers: bool,
}

/// Routing, middlewares, handler, error handlers: runs inside the request task. With
/// `leave_defaults`, a handler's response that would get only the default headers gets none
/// ([`Dispatched::default_headers`]): the server sets them with its connection headers at once.
pub(crate) async fn dispatch(
    core: Arc<Dispatcher>,
    head: Arc<RequestHead>,
    body: Bytes,
    leave_defaults: bool,
) -> Dispatched {
    TASKS.started();
    let request = HttpRequest {
        head,
        body,
        params: Vec::new(),
        extensions: http::Extensions::new(),
        error_status: None,
    };
    let out = match core.router.route(request.method(), request.path()) {
        Routed::Found(route, params) => {
            let mut request = request;
            request.params = params;
            // what the error handlers get is rebuilt from these if they are needed
            let (head, body) = (request.head.clone(), request.body.clone());
            let started = core.timed.then(Instant::now);
            let context = HandlerContext::new(route.name.clone(), "tomodachi.http")
                .service(core.service.clone());
            // called inside the scope and the panic guard: extractors run in the call
            let handling = async {
                if core.middlewares.is_empty() {
                    (route.handler)(request).await
                } else {
                    let next = Next::new(core.middlewares.clone(), route.handler.clone());
                    next.call(request).await
                }
            };
            let result = logging::scope(context, AssertUnwindSafe(handling).catch_unwind()).await;
            let elapsed = started.map(|s| s.elapsed());
            let result = match result {
                Ok(r) => r,
                Err(panic) => Err(panic_error(panic)),
            };
            let finished = result.and_then(|r| r.finish_body_with(&core.defaults, leave_defaults));
            let (response, default_headers) = match finished {
                Ok(finished) => finished,
                Err(e) => {
                    let fallback = request_again(&core.router, head, body);
                    let res = Box::pin(error_response(&core, fallback, e, &route.name)).await;
                    (res, false)
                }
            };
            Dispatched {
                response,
                elapsed,
                ignore: route.ignore_logging.clone(),
                default_headers,
            }
        }
        Routed::MethodNotAllowed(allow) => {
            let started = core.timed.then(Instant::now);
            // error paths are boxed: inlined, they would grow every request's future
            let mut res = Box::pin(error_status_response(
                &core,
                request,
                StatusCode::METHOD_NOT_ALLOWED,
                HeaderMap::new(),
            ))
            .await;
            let handled = core.error_handlers.contains_key(&405);
            if !handled {
                if let Ok(v) = HeaderValue::from_str(&allow) {
                    res.headers_mut().insert(ALLOW, v);
                }
            }
            Dispatched {
                response: res,
                elapsed: started.filter(|_| handled).map(|s| s.elapsed()),
                ignore: IgnoreLogging::None,
                default_headers: false,
            }
        }
        Routed::NotFound => {
            let started = core.timed.then(Instant::now);
            let res =
                error_status_response(&core, request, StatusCode::NOT_FOUND, HeaderMap::new())
                    .await;
            let handled = core.error_handlers.contains_key(&404);
            Dispatched {
                response: res,
                elapsed: started.filter(|_| handled).map(|s| s.elapsed()),
                ignore: IgnoreLogging::None,
                default_headers: false,
            }
        }
    };
    TASKS.finished();
    out
}

/// The request as the handler got it (before any middleware changed it), for the error
/// handlers: the same head and body, the route's parameters found again (routing is
/// deterministic), no extensions.
fn request_again(router: &Router, head: Arc<RequestHead>, body: Bytes) -> HttpRequest {
    let params = match router.route(&head.parts.method, head.path()) {
        Routed::Found(_, params) => params,
        _ => Vec::new(),
    };
    HttpRequest {
        head,
        body,
        params,
        extensions: http::Extensions::new(),
        error_status: None,
    }
}

/// Runs the `http_middleware` stack for a websocket handshake: `Ok` with the request as the
/// middlewares passed it on (extensions included) when the innermost one called
/// [`Next::run`], or the request and the response a middleware answered with instead.
pub(crate) async fn websocket_middlewares(
    core: &Dispatcher,
    request: HttpRequest,
    name: &Arc<str>,
) -> Result<HttpRequest, (HttpRequest, Response<ResponseBody>)> {
    let passed: Arc<std::sync::Mutex<Option<HttpRequest>>> = Arc::default();
    let endpoint: ErasedHandler = {
        let passed = passed.clone();
        Arc::new(move |request| {
            if let Ok(mut slot) = passed.lock() {
                *slot = Some(request);
            }
            Box::pin(async { Ok(HttpResponse::new()) })
        })
    };
    let fallback = request.clone();
    let context =
        HandlerContext::new(name.clone(), "tomodachi.websocket").service(core.service.clone());
    let next = Next::new(core.middlewares.clone(), endpoint);
    let result = logging::scope(context, AssertUnwindSafe(next.run(request)).catch_unwind())
        .await
        .unwrap_or_else(|p| Err(panic_error(p)));
    let passed = passed.lock().ok().and_then(|mut slot| slot.take());
    match (passed, result) {
        (Some(request), Ok(_)) => Ok(request),
        (_, result) => {
            let response = match result.and_then(|r| r.finish_body(&core.defaults)) {
                Ok(res) => res,
                Err(e) => Box::pin(error_response(core, fallback.clone(), e, name)).await,
            };
            Err((fallback, response))
        }
    }
}

fn panic_error(panic: Box<dyn std::any::Any + Send>) -> Error {
    let msg = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned());
    Error::msg(format!("handler panicked: {msg}"))
}

/// A handler or middleware error: HTTP errors keep their status, others are 500s.
async fn error_response(
    core: &Dispatcher,
    request: HttpRequest,
    error: Error,
    handler: &str,
) -> Response<ResponseBody> {
    let status = match error.status() {
        Some(s) => s,
        None => {
            tracing::error!(target: "exception", handler = handler,
                exception = ?error, "uncaught exception: {error}");
            #[cfg(feature = "opentelemetry")]
            crate::telemetry::record_error(&error);
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    error_status_response(core, request, status, error.headers().clone()).await
}

/// Answers with `status` through its `http_error` handler if one is registered; an error in
/// that handler falls back to the 500 handler, then to an empty 500.
async fn error_status_response(
    core: &Dispatcher,
    mut request: HttpRequest,
    status: StatusCode,
    extra_headers: HeaderMap,
) -> Response<ResponseBody> {
    let mut status = status;
    for _attempt in 0..2 {
        let Some(handler) = core.error_handlers.get(&status.as_u16()) else {
            break;
        };
        request.error_status = Some(status.as_u16());
        let mut context = HandlerContext::new(
            format!("http_error_{}", status.as_u16()),
            "tomodachi.http_error",
        )
        .service(core.service.clone());
        context.status_code = Some(status.as_u16());
        let next = Next::new(core.middlewares.clone(), handler.clone());
        let result = logging::scope(
            context,
            AssertUnwindSafe(next.run(request.clone())).catch_unwind(),
        )
        .await
        .unwrap_or_else(|p| Err(panic_error(p)));
        let finished = result.and_then(|mut r: HttpResponse| {
            r.set_default_status(status);
            r.finish_body(&core.defaults)
        });
        match finished {
            Ok(res) => return res,
            Err(e) => {
                tracing::error!(target: "exception", exception = ?e, "uncaught exception: {e}");
                if status == StatusCode::INTERNAL_SERVER_ERROR {
                    return plain(status, "", &core.defaults).map(ResponseBody::from);
                }
                status = StatusCode::INTERNAL_SERVER_ERROR;
            }
        }
    }
    let body = if status == StatusCode::INTERNAL_SERVER_ERROR {
        ""
    } else {
        status.canonical_reason().unwrap_or("")
    };
    let mut res = plain(status, body, &core.defaults);
    for (name, value) in &extra_headers {
        res.headers_mut().append(name.clone(), value.clone());
    }
    res.map(ResponseBody::from)
}
