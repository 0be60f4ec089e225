//! The HTTP methods of [`ServiceBuilder`]: routes, error handlers, middlewares and tower
//! layers, all registered on the service's one [`HttpTransport`].

use std::future::Future;
use std::sync::Arc;

use super::handler::{erase_handler, erase_middleware};
use super::layer::layer_fn;
use super::router::{compile, literal_path, Route};
use super::transport::HttpTransport;
use super::websocket::{self, WebSocketHandler, WebSocketRoute, WsRoute};
use super::{
    HttpHandler, HttpLayerService, HttpRequest, HttpRoute, IntoMethods, IntoResponse, Next,
};
use crate::transport::{RouteDescription, RouteKind};
use crate::ServiceBuilder;

/// A route's description: its methods without the `HEAD` implied by `GET`.
fn route_doc(methods: &[http::Method], pattern: &str, name: &str) -> RouteDescription {
    let has_get = methods.contains(&http::Method::GET);
    RouteDescription::new(
        methods
            .iter()
            .filter(|m| !(has_get && **m == http::Method::HEAD))
            .map(|m| m.as_str().to_owned()),
        pattern,
        name,
    )
}

impl<S: Send + Sync + 'static> ServiceBuilder<S> {
    /// Registers an HTTP handler for `methods` on the regex `pattern` (a full match).
    pub fn http<M, H, Args>(self, methods: M, pattern: &str, handler: H) -> Self
    where
        M: IntoMethods,
        H: HttpHandler<S, Args>,
    {
        self.http_route(HttpRoute::new(methods, pattern), handler)
    }

    /// Registers an HTTP handler with a full route description (name, `ignore_logging`).
    pub fn http_route<H, Args>(mut self, route: HttpRoute, handler: H) -> Self
    where
        H: HttpHandler<S, Args>,
    {
        if let Some(invalid) = route.invalid {
            self.definition_error(format!("{invalid} in route '{}'", route.pattern));
            return self;
        }
        match compile(&route.pattern) {
            Ok(regex) => {
                let group_names = regex.capture_names().flatten().map(Arc::from).collect();
                let name = route.name.clone().unwrap_or_else(|| route.pattern.clone());
                let handler = erase_handler(self.state.clone(), handler);
                let mut doc = route_doc(&route.methods, &route.pattern, &name)
                    .kind(route.kind)
                    .request_schema(route.request_schema)
                    .response_schema(route.response_schema);
                if let Some(text) = route.description.as_deref().map(str::trim) {
                    if let Some(first) = text.lines().next().filter(|l| !l.is_empty()) {
                        doc = doc.summary(first.trim()).description(text);
                    }
                }
                self.transport_mut::<HttpTransport>().routes.push(Route {
                    literal: literal_path(&route.pattern),
                    regex,
                    methods: route.methods,
                    group_names,
                    handler,
                    name: Arc::from(name),
                    ignore_logging: route.ignore_logging,
                    websocket: None,
                    doc,
                });
            }
            Err(e) => self.definition_error(e),
        }
        self
    }

    /// Registers a websocket handler on the regex `pattern` (a full match, `GET`): see
    /// [`WebSocketHandler`] and the [`websocket`](crate::http::websocket) module.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tomodachi::http::{WebSocket, WebSocketCallbacks};
    /// # struct S;
    /// let svc = tomodachi::Service::builder("s", S)
    ///     .websocket(r"/echo", |_s: Arc<S>, websocket: WebSocket| async move {
    ///         WebSocketCallbacks::new().on_text(move |text: String| {
    ///             let websocket = websocket.clone();
    ///             async move { websocket.send_text(text).await }
    ///         })
    ///     })
    ///     .build();
    /// ```
    pub fn websocket<H, Args>(self, pattern: &str, handler: H) -> Self
    where
        H: WebSocketHandler<S, Args>,
    {
        self.websocket_route(WebSocketRoute::new(pattern), handler)
    }

    /// Registers a websocket handler with a full route description (name, size limits).
    pub fn websocket_route<H, Args>(mut self, route: WebSocketRoute, handler: H) -> Self
    where
        H: WebSocketHandler<S, Args>,
    {
        match compile(&route.pattern) {
            Ok(regex) => {
                let group_names = regex.capture_names().flatten().map(Arc::from).collect();
                let name = route.name.clone().unwrap_or_else(|| route.pattern.clone());
                let ws = WsRoute {
                    handler: websocket::erase(self.state.clone(), handler),
                    config: route.config(),
                };
                // Reached only if something dispatches the route as plain HTTP.
                let handler = erase_handler(self.state.clone(), |_s: Arc<S>| async { "" });
                let doc = route_doc(&[http::Method::GET], &route.pattern, &name)
                    .kind(RouteKind::WebSocket);
                self.transport_mut::<HttpTransport>().routes.push(Route {
                    literal: literal_path(&route.pattern),
                    regex,
                    methods: vec![http::Method::GET],
                    group_names,
                    handler,
                    name: Arc::from(name),
                    ignore_logging: super::IgnoreLogging::None,
                    websocket: Some(Arc::new(ws)),
                    doc,
                });
            }
            Err(e) => self.definition_error(e),
        }
        self
    }

    /// Registers the error handler for responses with `status_code` (404, 405, 500, a status
    /// from an [`Error::http`](crate::Error::http), ...). The handler's status defaults to
    /// `status_code`; [`HttpRequest::error_status`] tells it too.
    pub fn http_error<H, Args>(mut self, status_code: u16, handler: H) -> Self
    where
        H: HttpHandler<S, Args>,
    {
        let handler = erase_handler(self.state.clone(), handler);
        self.transport_mut::<HttpTransport>()
            .error_handlers
            .insert(status_code, handler);
        self
    }

    /// Adds an HTTP middleware; the first added is the outermost.
    pub fn http_middleware<F, Fut, O>(mut self, middleware: F) -> Self
    where
        F: Fn(Arc<S>, HttpRequest, Next) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = O> + Send + 'static,
        O: IntoResponse,
    {
        let middleware = erase_middleware(self.state.clone(), middleware);
        self.transport_mut::<HttpTransport>()
            .middlewares
            .push(middleware);
        self
    }

    /// Wraps the service's HTTP handling in a tower layer (CORS, compression, timeouts, ...
    /// from tower-http, or your own). The first layer added is the outermost; layers run
    /// outside the `http_middleware` stack, after the body was read within `client_max_size`.
    /// Layers must keep the request body type (`Full<Bytes>`).
    ///
    /// ```
    /// use tower::ServiceBuilder as Layers;
    /// # struct S;
    /// let svc = tomodachi::Service::builder("s", S)
    ///     .http_layer(tower::layer::util::Identity::new())
    ///     .build();
    /// ```
    pub fn http_layer<L, B, E>(mut self, layer: L) -> Self
    where
        L: tower::Layer<HttpLayerService> + Send + 'static,
        L::Service: tower::Service<
                http::Request<http_body_util::Full<bytes::Bytes>>,
                Response = http::Response<B>,
                Error = E,
            > + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<http::Request<http_body_util::Full<bytes::Bytes>>>>::Future:
            Send + 'static,
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<crate::BoxError>,
        E: Into<crate::BoxError> + 'static,
    {
        self.transport_mut::<HttpTransport>()
            .layers
            .push(layer_fn(layer));
        self
    }
}
