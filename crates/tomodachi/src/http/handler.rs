//! Type-erased handlers and the `http_middleware` chain.

use std::future::Future;
use std::sync::Arc;

use super::extract::FromRequest;
use super::request::HttpRequest;
use super::response::{HttpResponse, IntoResponse};
use crate::error::Error;

pub(crate) type BoxFuture<T> = crate::transport::BoxFuture<'static, T>;

/// The outcome of a handler or middleware: a response, or an error for the error handlers.
pub type HandlerResult = Result<HttpResponse, Error>;

pub(crate) type ErasedHandler = Arc<dyn Fn(HttpRequest) -> BoxFuture<HandlerResult> + Send + Sync>;
pub(crate) type ErasedMiddleware =
    Arc<dyn Fn(HttpRequest, Next) -> BoxFuture<HandlerResult> + Send + Sync>;

/// The rest of the middleware chain, ending in the handler.
///
/// A middleware calls [`Next::run`] to continue, or returns without calling it to answer the
/// request itself (short-circuit). Values put into [`HttpRequest::extensions_mut`] reach later
/// middlewares and the handler (as [`Extension<T>`](crate::http::Extension) arguments).
///
/// ```
/// use std::sync::Arc;
/// use tomodachi::http::{HttpRequest, Next, HandlerResult};
///
/// #[derive(Clone)]
/// struct RequestId(String);
///
/// async fn request_id<S>(_service: Arc<S>, mut request: HttpRequest, next: Next) -> HandlerResult {
///     let id = request.header("x-request-id").unwrap_or("none").to_owned();
///     request.extensions_mut().insert(RequestId(id.clone()));
///     let mut response = next.run(request).await?;
///     response.headers_mut().insert("x-request-id", id.parse()?);
///     Ok(response)
/// }
/// ```
pub struct Next {
    middlewares: Arc<[ErasedMiddleware]>,
    index: usize,
    endpoint: ErasedHandler,
}

impl Next {
    pub(crate) fn new(middlewares: Arc<[ErasedMiddleware]>, endpoint: ErasedHandler) -> Self {
        Self {
            middlewares,
            index: 0,
            endpoint,
        }
    }

    /// Runs the remaining middlewares and the handler.
    pub async fn run(self, request: HttpRequest) -> HandlerResult {
        self.call(request).await
    }

    /// The future of the next middleware, or of the handler: [`run`](Self::run) without a
    /// future of its own around it.
    pub(crate) fn call(mut self, request: HttpRequest) -> BoxFuture<HandlerResult> {
        match self.middlewares.get(self.index).cloned() {
            Some(middleware) => {
                self.index += 1;
                middleware(request, self)
            }
            None => (self.endpoint)(request),
        }
    }
}

impl std::fmt::Debug for Next {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Next")
            .field(
                "remaining_middlewares",
                &(self.middlewares.len() - self.index),
            )
            .finish()
    }
}

/// An HTTP handler: an async function of the service (`Arc<S>`) and up to eight arguments
/// that implement [`FromRequest`], returning anything that is [`IntoResponse`]. The last
/// argument may take the request itself.
///
/// ```
/// use std::sync::Arc;
/// use tomodachi::http::{HeaderMap, HttpRequest, Json, Method, Path, Query};
///
/// #[derive(serde::Deserialize)]
/// struct Id { id: u64 }
/// #[derive(serde::Deserialize)]
/// struct Page { page: Option<u32> }
///
/// let service = tomodachi::Service::builder("s", ())
///     .http(Method::GET, r"/a", |_s: Arc<()>| async { "no arguments" })
///     .http(Method::GET, r"/b", |_s: Arc<()>, request: HttpRequest| async move {
///         request.path().to_owned()
///     })
///     .http(Method::GET, r"/c/(?P<id>\d+)", |_s: Arc<()>, Path(id): Path<Id>, Query(p): Query<Page>, headers: HeaderMap| async move {
///         format!("{} {:?} {}", id.id, p.page, headers.len())
///     })
///     .http(Method::POST, r"/d", |_s: Arc<()>, Json(body): Json<serde_json::Value>| async move {
///         Json(body)
///     })
///     .build();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an HTTP handler",
    label = "not an async fn(Arc<S>, extractors...) returning a response",
    note = "an HTTP handler is `Fn(Arc<S>, A1, ..., An) -> impl Future<Output = impl IntoResponse>` with every argument a `FromRequest` (Path<T>, Query<T>, Json<T>, Extension<T>, HeaderMap, Bytes, Method, Uri, HttpRequest)"
)]
pub trait HttpHandler<S, Args>: Send + Sync + 'static {
    /// Extracts the arguments from `request` and runs the handler.
    fn call(&self, state: Arc<S>, request: HttpRequest) -> BoxFuture<HandlerResult>;
}

impl<S, F, Fut, O> HttpHandler<S, ()> for F
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = O> + Send + 'static,
    O: IntoResponse,
{
    fn call(&self, state: Arc<S>, _request: HttpRequest) -> BoxFuture<HandlerResult> {
        let fut = self(state);
        Box::pin(async move { fut.await.into_response() })
    }
}

macro_rules! impl_http_handler {
    ($($arg:ident),*; $last:ident) => {
        #[allow(non_snake_case)]
        impl<S, F, Fut, O, $($arg,)* $last> HttpHandler<S, ($($arg,)* $last,)> for F
        where
            S: Send + Sync + 'static,
            F: Fn(Arc<S>, $($arg,)* $last) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = O> + Send + 'static,
            O: IntoResponse,
            $($arg: FromRequest,)*
            $last: FromRequest,
        {
            fn call(&self, state: Arc<S>, request: HttpRequest) -> BoxFuture<HandlerResult> {
                $(
                    let $arg = match $arg::from_request(&request) {
                        Ok(value) => value,
                        Err(e) => return Box::pin(async move { Err(e) }),
                    };
                )*
                let $last = match $last::from_request_owned(request) {
                    Ok(value) => value,
                    Err(e) => return Box::pin(async move { Err(e) }),
                };
                let fut = self(state, $($arg,)* $last);
                Box::pin(async move { fut.await.into_response() })
            }
        }
    };
}

impl_http_handler!(; A1);
impl_http_handler!(A1; A2);
impl_http_handler!(A1, A2; A3);
impl_http_handler!(A1, A2, A3; A4);
impl_http_handler!(A1, A2, A3, A4; A5);
impl_http_handler!(A1, A2, A3, A4, A5; A6);
impl_http_handler!(A1, A2, A3, A4, A5, A6; A7);
impl_http_handler!(A1, A2, A3, A4, A5, A6, A7; A8);

/// Erases an [`HttpHandler`] with its service.
pub(crate) fn erase_handler<S, H, Args>(state: Arc<S>, handler: H) -> ErasedHandler
where
    S: Send + Sync + 'static,
    H: HttpHandler<S, Args>,
{
    Arc::new(move |request| handler.call(state.clone(), request))
}

/// Erases a `Fn(Arc<S>, HttpRequest, Next) -> impl Future<Output = impl IntoResponse>`
/// middleware.
pub(crate) fn erase_middleware<S, M, Fut, O>(state: Arc<S>, middleware: M) -> ErasedMiddleware
where
    S: Send + Sync + 'static,
    M: Fn(Arc<S>, HttpRequest, Next) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = O> + Send + 'static,
    O: IntoResponse,
{
    Arc::new(move |request, next| {
        let fut = middleware(state.clone(), request, next);
        Box::pin(async move { fut.await.into_response() })
    })
}

#[cfg(test)]
pub(crate) fn erase_test_handler() -> ErasedHandler {
    erase_handler(Arc::new(()), |_s: Arc<()>, _r: HttpRequest| async {
        "test"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Trail(Vec<&'static str>);

    fn mw(name: &'static str) -> ErasedMiddleware {
        erase_middleware(
            Arc::new(()),
            move |_s: Arc<()>, mut req: HttpRequest, next: Next| async move {
                let mut trail = req
                    .extensions()
                    .get::<Trail>()
                    .cloned()
                    .unwrap_or(Trail(vec![]));
                trail.0.push(name);
                req.extensions_mut().insert(trail);
                next.run(req).await
            },
        )
    }

    #[tokio::test]
    async fn middlewares_run_outermost_first_and_hand_values_down() {
        let endpoint = erase_handler(Arc::new(()), |_s: Arc<()>, req: HttpRequest| async move {
            format!("{:?}", req.extensions().get::<Trail>().unwrap().0)
        });
        let chain: Arc<[ErasedMiddleware]> = vec![mw("a"), mw("b")].into();
        let req = HttpRequest::builder(http::Method::GET, "/").build();
        let res = Next::new(chain, endpoint).run(req).await.unwrap();
        assert_eq!(res.body(), r#"["a", "b"]"#);
    }

    #[tokio::test]
    async fn a_middleware_can_short_circuit() {
        let endpoint = erase_handler(Arc::new(()), |_s: Arc<()>, _r: HttpRequest| async {
            "handler"
        });
        let stop = erase_middleware(
            Arc::new(()),
            |_s: Arc<()>, _r: HttpRequest, _n: Next| async { (418, "short-circuit") },
        );
        let chain: Arc<[ErasedMiddleware]> = vec![stop].into();
        let req = HttpRequest::builder(http::Method::GET, "/").build();
        let res = Next::new(chain, endpoint).run(req).await.unwrap();
        assert_eq!(res.status_code(), Some(418));
        assert_eq!(res.body(), "short-circuit");
    }
}
