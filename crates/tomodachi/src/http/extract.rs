//! Typed handler arguments taken from the request.

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};
use serde::de::DeserializeOwned;

use super::request::HttpRequest;
use super::response::{HttpResponse, IntoResponse};
use crate::error::Error;
pub use crate::extension::Extension;

/// A handler argument built from the request, as axum's extractors: a builder handler
/// `Fn(Arc<S>, A, B, ...)` takes any arguments that implement it, and the `#[http]` macro
/// uses it for every argument that is neither `request` nor a named group of the route. A
/// failure answers the request with the error (400 for bad input).
///
/// ```
/// use tomodachi::http::{FromRequest, HttpRequest};
/// use tomodachi::Error;
///
/// struct ApiKey(String);
///
/// impl FromRequest for ApiKey {
///     fn from_request(req: &HttpRequest) -> Result<Self, Error> {
///         req.header("x-api-key").map(|k| ApiKey(k.to_owned())).ok_or_else(|| Error::http(401))
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be taken from an HTTP request",
    label = "this argument is neither `request`, a named group of the route, nor an extractor",
    note = "arguments are resolved by name (`request`, the route's `(?P<name>...)` groups) or by type: Path<T>, Json<T>, Query<T>, Extension<T>, HeaderMap, Bytes, Method, Uri, HttpRequest"
)]
pub trait FromRequest: Sized {
    /// Builds the value from the request.
    fn from_request(req: &HttpRequest) -> Result<Self, Error>;

    /// Builds the value from the request when it is the handler's last argument, which may
    /// take the request itself (the default borrows it).
    fn from_request_owned(req: HttpRequest) -> Result<Self, Error> {
        Self::from_request(&req)
    }
}

impl FromRequest for HttpRequest {
    fn from_request(req: &HttpRequest) -> Result<Self, Error> {
        Ok(req.clone())
    }

    fn from_request_owned(req: HttpRequest) -> Result<Self, Error> {
        Ok(req)
    }
}

/// The route's named groups deserialized into `T` (a struct whose fields are group names);
/// a group that does not parse is a 400.
///
/// ```
/// use std::sync::Arc;
/// use tomodachi::http::{Method, Path};
///
/// #[derive(serde::Deserialize)]
/// struct Ids { user: String, item: u64 }
///
/// let service = tomodachi::Service::builder("s", ())
///     .http(Method::GET, r"/users/(?P<user>[^/]+)/items/(?P<item>\d+)",
///         |_s: Arc<()>, Path(ids): Path<Ids>| async move { format!("{} {}", ids.user, ids.item) })
///     .build();
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Path<T> {
    fn from_request(req: &HttpRequest) -> Result<Self, Error> {
        let pairs: Vec<(&str, &str)> = req.params.iter().map(|(k, v)| (&**k, v.as_str())).collect();
        let encoded = serde_urlencoded::to_string(pairs).map_err(|_| Error::http(400))?;
        serde_urlencoded::from_str(&encoded)
            .map(Path)
            .map_err(|_| Error::http(400))
    }
}

impl FromRequest for HeaderMap {
    fn from_request(req: &HttpRequest) -> Result<Self, Error> {
        Ok(req.headers().clone())
    }
}

impl FromRequest for Bytes {
    fn from_request(req: &HttpRequest) -> Result<Self, Error> {
        Ok(req.body().clone())
    }
}

impl FromRequest for Method {
    fn from_request(req: &HttpRequest) -> Result<Self, Error> {
        Ok(req.method().clone())
    }
}

impl FromRequest for Uri {
    fn from_request(req: &HttpRequest) -> Result<Self, Error> {
        Ok(req.uri().clone())
    }
}

/// A JSON body (as an argument) or a JSON response (as a return value).
///
/// ```
/// use tomodachi::http::Json;
/// #[derive(serde::Deserialize, serde::Serialize)]
/// struct Sheep { name: String }
///
/// async fn add(Json(sheep): Json<Sheep>) -> Json<Sheep> {
///     Json(sheep)
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Json<T> {
    fn from_request(req: &HttpRequest) -> Result<Self, Error> {
        req.json().map(Json)
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Result<HttpResponse, Error> {
        HttpResponse::json(&self.0)
    }
}

/// The query string deserialized into `T`; a query that does not fit is a 400.
///
/// ```
/// use tomodachi::http::Query;
/// #[derive(serde::Deserialize)]
/// struct Page { page: u32 }
///
/// async fn list(Query(p): Query<Page>) -> String {
///     p.page.to_string()
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    fn from_request(req: &HttpRequest) -> Result<Self, Error> {
        serde_urlencoded::from_str(req.query().unwrap_or(""))
            .map(Query)
            .map_err(|_| Error::http(400))
    }
}

impl<T: Clone + Send + Sync + 'static> FromRequest for Extension<T> {
    fn from_request(req: &HttpRequest) -> Result<Self, Error> {
        req.extensions()
            .get::<T>()
            .cloned()
            .map(Extension)
            .ok_or_else(|| {
                Error::msg(format!(
                    "missing request extension {}",
                    std::any::type_name::<T>()
                ))
            })
    }
}

impl<T: FromRequest> FromRequest for Option<T> {
    fn from_request(req: &HttpRequest) -> Result<Self, Error> {
        Ok(T::from_request(req).ok())
    }
}

impl FromRequest for crate::ExecutionContext {
    fn from_request(_req: &HttpRequest) -> Result<Self, Error> {
        Ok(crate::ExecutionContext(crate::get_execution_context()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, PartialEq, Debug)]
    struct P {
        a: u32,
    }

    #[test]
    fn query_and_json_extract_or_400() {
        let req = HttpRequest::builder(Method::POST, "/x?a=5")
            .body(r#"{"a": 7}"#)
            .build();
        assert_eq!(Query::<P>::from_request(&req).unwrap().0, P { a: 5 });
        assert_eq!(Json::<P>::from_request(&req).unwrap().0, P { a: 7 });
        let bad = HttpRequest::builder(Method::POST, "/x?a=z")
            .body("nope")
            .build();
        assert_eq!(
            Query::<P>::from_request(&bad)
                .unwrap_err()
                .status()
                .unwrap(),
            400
        );
        assert_eq!(
            Json::<P>::from_request(&bad).unwrap_err().status().unwrap(),
            400
        );
    }

    #[test]
    fn extension_reads_middleware_values() {
        let mut req = HttpRequest::builder(Method::GET, "/").build();
        assert!(Extension::<u8>::from_request(&req).is_err());
        req.extensions_mut().insert(9u8);
        assert_eq!(Extension::<u8>::from_request(&req).unwrap().0, 9);
    }
}
