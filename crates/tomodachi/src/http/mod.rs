//! The HTTP transport: regex routes, error handlers, middlewares, websockets, access log,
//! keep-alive and graceful drain, on hyper 1; static files ([`StaticFiles`],
//! [`ServiceBuilder::http_static`](crate::ServiceBuilder::http_static)) on tower-http.
//!
//! Routes are registered on a [`ServiceBuilder`](crate::ServiceBuilder) (or with the `#[http]`
//! attribute inside a `#[tomodachi::service]` impl block):
//!
//! ```
//! use std::sync::Arc;
//! use tomodachi::http::{HttpRequest, Method};
//! use tomodachi::Service;
//!
//! struct Api;
//!
//! let service = Service::builder("api", Api)
//!     .http(Method::GET, r"/health/?", |_api: Arc<Api>, _req: HttpRequest| async { "ok" })
//!     .http(Method::GET, r"/items/(?P<id>\d+)", |_api: Arc<Api>, req: HttpRequest| async move {
//!         let id: u64 = req.parse_param("id")?;
//!         Ok::<_, tomodachi::Error>(format!("item {id}"))
//!     })
//!     .build();
//! ```

pub(crate) mod access_log;
mod body;
mod builder;
mod conn;
pub(crate) mod dispatch;
mod extract;
mod form;
#[cfg(fuzzing)]
pub mod fuzzing;
pub(crate) mod handler;
pub(crate) mod layer;
mod path;
mod request;
mod response;
pub(crate) mod router;
pub(crate) mod server;
pub(crate) mod settings;
mod shield;
mod static_files;
pub(crate) mod transport;
pub mod websocket;

pub use body::ResponseBody;
pub use extract::{Extension, FromRequest, Json, Path, Query};
pub use form::{Form, Multipart, MultipartLimits, Part};
pub use handler::{HandlerResult, HttpHandler, Next};
pub use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, Version};
pub use layer::HttpLayerService;
pub use request::{HttpRequest, HttpRequestBuilder};
pub use response::{HttpResponse, IntoHeaders, IntoResponse, IntoStatus};
pub use router::IgnoreLogging;
pub use static_files::StaticFiles;
pub use websocket::{
    IntoWebSocketCallbacks, WebSocket, WebSocketCallbacks, WebSocketHandler, WebSocketRoute,
};

/// A route: methods, a regex pattern (full match), a name for logs and access-log rules.
///
/// A `GET` route also answers `HEAD`.
///
/// ```
/// use tomodachi::http::{HttpRoute, Method};
/// let route = HttpRoute::new(Method::GET, r"/health/?").name("health").ignore_logging(true);
/// assert_eq!(route.pattern(), r"/health/?");
/// ```
#[derive(Debug, Clone)]
pub struct HttpRoute {
    pub(crate) methods: Vec<Method>,
    pub(crate) pattern: String,
    pub(crate) name: Option<String>,
    pub(crate) ignore_logging: IgnoreLogging,
    pub(crate) invalid: Option<String>,
    pub(crate) kind: crate::transport::RouteKind,
    pub(crate) request_schema: Option<serde_json::Value>,
    pub(crate) response_schema: Option<serde_json::Value>,
    pub(crate) description: Option<String>,
}

impl HttpRoute {
    /// A route for `methods` (a [`Method`], a method name, or a list of either) on `pattern`.
    pub fn new(methods: impl IntoMethods, pattern: impl Into<String>) -> Self {
        let (mut methods, invalid) = match methods.into_methods() {
            Ok(m) => (m, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        if methods.contains(&Method::GET) && !methods.contains(&Method::HEAD) {
            methods.push(Method::HEAD);
        }
        Self {
            methods,
            pattern: pattern.into(),
            name: None,
            ignore_logging: IgnoreLogging::None,
            invalid,
            kind: crate::transport::RouteKind::Handler,
            request_schema: None,
            response_schema: None,
            description: None,
        }
    }

    /// The handler name used in logs (the function name with the macros).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// `true` to keep this route out of the access log, or a list of status codes to keep out.
    pub fn ignore_logging(mut self, ignore: impl Into<IgnoreLogging>) -> Self {
        self.ignore_logging = ignore.into();
        self
    }

    /// A description of the route for the OpenAPI document (the macros take the handler's doc
    /// comment): its first line is the operation's summary.
    ///
    /// ```
    /// use tomodachi::http::{HttpRoute, Method};
    /// let route = HttpRoute::new(Method::GET, r"/health").description("Answers ok while up.");
    /// ```
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// The JSON Schema of the route's JSON request body, for the OpenAPI document
    /// ([`apidoc`](crate::apidoc)).
    ///
    /// ```
    /// use tomodachi::http::{HttpRoute, Method};
    /// let route = HttpRoute::new(Method::POST, r"/items")
    ///     .request_schema(serde_json::json!({"type": "object", "required": ["id"]}));
    /// ```
    pub fn request_schema(mut self, schema: serde_json::Value) -> Self {
        self.request_schema = Some(schema);
        self
    }

    /// The JSON Schema of the route's JSON response body, for the OpenAPI document.
    ///
    /// ```
    /// use tomodachi::http::{HttpRoute, Method};
    /// let route = HttpRoute::new(Method::GET, r"/count")
    ///     .response_schema(serde_json::json!({"type": "integer"}));
    /// ```
    pub fn response_schema(mut self, schema: serde_json::Value) -> Self {
        self.response_schema = Some(schema);
        self
    }

    /// The route's JSON request body is a `T`: its JSON Schema (from `schemars`) goes into the
    /// OpenAPI document.
    ///
    /// ```
    /// use tomodachi::http::{HttpRoute, Method};
    /// #[derive(schemars::JsonSchema)]
    /// struct NewItem { name: String }
    /// let route = HttpRoute::new(Method::POST, r"/items").body::<NewItem>();
    /// ```
    #[cfg(feature = "schemars")]
    pub fn body<T: schemars::JsonSchema>(self) -> Self {
        self.request_schema(crate::apidoc::schema_of::<T>())
    }

    /// The route's JSON response body is a `T`: its JSON Schema (from `schemars`) goes into
    /// the OpenAPI document.
    ///
    /// ```
    /// use tomodachi::http::{HttpRoute, Method};
    /// #[derive(schemars::JsonSchema)]
    /// struct Item { id: u64 }
    /// let route = HttpRoute::new(Method::GET, r"/items/(?P<id>\d+)").response::<Item>();
    /// ```
    #[cfg(feature = "schemars")]
    pub fn response<T: schemars::JsonSchema>(self) -> Self {
        self.response_schema(crate::apidoc::schema_of::<T>())
    }

    /// The pattern as given.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The methods the route answers (including the implied `HEAD`).
    pub fn methods(&self) -> &[Method] {
        &self.methods
    }
}

/// One or several HTTP methods: `Method::GET`, `"post"`, `[Method::GET, Method::POST]`,
/// `vec!["PUT", "PATCH"]`. Names are upper-cased; a name that is not a valid method is reported
/// when the service starts.
pub trait IntoMethods {
    /// The methods, or the invalid name.
    fn into_methods(self) -> Result<Vec<Method>, String>;
}

fn method_from_name(name: &str) -> Result<Method, String> {
    Method::from_bytes(name.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("invalid HTTP method {name:?}"))
}

impl IntoMethods for Method {
    fn into_methods(self) -> Result<Vec<Method>, String> {
        Ok(vec![self])
    }
}

impl IntoMethods for &str {
    fn into_methods(self) -> Result<Vec<Method>, String> {
        Ok(vec![method_from_name(self)?])
    }
}

impl<const N: usize> IntoMethods for [Method; N] {
    fn into_methods(self) -> Result<Vec<Method>, String> {
        Ok(self.to_vec())
    }
}

impl<const N: usize> IntoMethods for [&str; N] {
    fn into_methods(self) -> Result<Vec<Method>, String> {
        self.iter().map(|m| method_from_name(m)).collect()
    }
}

impl IntoMethods for Vec<Method> {
    fn into_methods(self) -> Result<Vec<Method>, String> {
        Ok(self)
    }
}

impl IntoMethods for Vec<&str> {
    fn into_methods(self) -> Result<Vec<Method>, String> {
        self.iter().map(|m| method_from_name(m)).collect()
    }
}
