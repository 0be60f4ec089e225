//! Tower layers around a service's HTTP handling: the request (body already read and bounded
//! by `client_max_size`) goes through the layers, then routing, middlewares and handlers.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::util::BoxCloneSyncService;
use tower::ServiceExt;

use super::body::ResponseBody;
use super::dispatch::{dispatch, plain, Dispatcher};
use super::path::decode_path;
use super::request::RequestHead;
use super::router::IgnoreLogging;
use crate::error::BoxError;

/// The service a tower layer added with
/// [`ServiceBuilder::http_layer`](crate::ServiceBuilder::http_layer) wraps: routing,
/// middlewares and handlers of one service.
pub type HttpLayerService =
    BoxCloneSyncService<Request<Full<Bytes>>, Response<ResponseBody>, BoxError>;

/// Applies one layer to the stack under construction.
pub(crate) type LayerFn = Box<dyn FnOnce(HttpLayerService) -> HttpLayerService + Send>;

/// Connection facts the layered request carries to the endpoint.
#[derive(Clone, Copy)]
struct ConnInfo {
    peer: SocketAddr,
    remote_ip: IpAddr,
    received_at: Instant,
}

/// What the endpoint reports back past the layers, for the access log.
#[derive(Clone)]
struct DispatchInfo {
    handler_elapsed: Option<Duration>,
    ignore: IgnoreLogging,
}

/// The innermost service: rebuilds the request and dispatches it.
#[derive(Clone)]
struct Endpoint {
    core: Arc<Dispatcher>,
}

impl<B> tower::Service<Request<B>> for Endpoint
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let core = self.core.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let info = parts.extensions.get::<ConnInfo>().copied().ok_or_else(|| {
                BoxError::from("request without connection info reached the endpoint")
            })?;
            let body = body.collect().await.map_err(Into::into)?.to_bytes();
            let decoded = match decode_path(parts.uri.path()) {
                None => {
                    return Ok(
                        plain(StatusCode::BAD_REQUEST, "Bad Request", &core.defaults)
                            .map(ResponseBody::from),
                    )
                }
                Some(std::borrow::Cow::Owned(p)) => Some(p),
                Some(std::borrow::Cow::Borrowed(_)) => None,
            };
            let head = Arc::new(RequestHead::new(
                parts,
                decoded,
                info.peer,
                info.remote_ip,
                info.received_at,
            ));
            let dispatched = dispatch(core, head, body, false).await;
            let mut res = dispatched.response;
            res.extensions_mut().insert(DispatchInfo {
                handler_elapsed: dispatched.elapsed,
                ignore: dispatched.ignore,
            });
            Ok(res)
        })
    }
}

/// Builds the layered stack: the first layer added is the outermost.
pub(crate) fn build(core: Arc<Dispatcher>, layers: Vec<LayerFn>) -> HttpLayerService {
    let mut svc = HttpLayerService::new(Endpoint { core });
    for layer in layers.into_iter().rev() {
        svc = layer(svc);
    }
    svc
}

/// Wraps a user's tower layer into a [`LayerFn`].
pub(crate) fn layer_fn<L, B, E>(layer: L) -> LayerFn
where
    L: tower::Layer<HttpLayerService> + Send + 'static,
    L::Service: tower::Service<Request<Full<Bytes>>, Response = Response<B>, Error = E>
        + Clone
        + Send
        + Sync
        + 'static,
    <L::Service as tower::Service<Request<Full<Bytes>>>>::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    E: Into<BoxError> + 'static,
{
    Box::new(move |inner: HttpLayerService| {
        let svc = layer
            .layer(inner)
            .map_response(|res: Response<B>| res.map(ResponseBody::new))
            .map_err(Into::into);
        HttpLayerService::new(svc)
    })
}

/// Runs one request through the layered stack.
pub(crate) async fn call(
    svc: HttpLayerService,
    head: Arc<RequestHead>,
    body: Bytes,
    core: Arc<Dispatcher>,
) -> (Response<ResponseBody>, Option<Duration>, IgnoreLogging) {
    let mut req = Request::new(Full::new(body));
    *req.method_mut() = head.parts.method.clone();
    *req.uri_mut() = head.parts.uri.clone();
    *req.version_mut() = head.parts.version;
    *req.headers_mut() = head.parts.headers.clone();
    req.extensions_mut().insert(ConnInfo {
        peer: head.peer,
        remote_ip: head.remote_ip,
        received_at: head.received_at,
    });
    match svc.oneshot(req).await {
        Ok(mut res) => {
            let info = res.extensions_mut().remove::<DispatchInfo>();
            let (elapsed, ignore) = info
                .map(|i| (i.handler_elapsed, i.ignore))
                .unwrap_or((None, IgnoreLogging::None));
            (res, elapsed, ignore)
        }
        Err(e) => {
            tracing::error!(target: "exception", exception = ?e, "uncaught exception: {e}");
            let res = plain(StatusCode::INTERNAL_SERVER_ERROR, "", &core.defaults);
            (res.map(ResponseBody::from), None, IgnoreLogging::None)
        }
    }
}
