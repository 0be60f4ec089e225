//! Form bodies: [`Form<T>`] (`application/x-www-form-urlencoded`) and [`Multipart`]
//! (`multipart/form-data`, on multer) — what upstream handlers read with `await request.post()`.
//!
//! Both read the body the server already holds (bounded by `options.http.client_max_size`,
//! 413 above it); [`Multipart`] adds limits on the number of parts and the size of each.

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde::de::DeserializeOwned;

use super::extract::FromRequest;
use super::request::HttpRequest;
use crate::error::Error;

/// The media type of `req` (lower-cased, without parameters), if it has one.
fn media_type(req: &HttpRequest) -> Option<String> {
    let value = req.header("content-type")?;
    let essence = value.split(';').next().unwrap_or("").trim();
    Some(essence.to_ascii_lowercase())
}

/// A form deserialized into `T`: the urlencoded request body, or the query string for `GET`
/// and `HEAD` (as a browser submits a form). A body of another content type is a `415`; a form
/// that does not fit `T` is a `400`.
///
/// ```
/// use std::sync::Arc;
/// use tomodachi::http::{Form, Method};
///
/// #[derive(serde::Deserialize)]
/// struct Login { user: String, remember: Option<bool> }
///
/// let service = tomodachi::Service::builder("forms", ())
///     .http(Method::POST, r"/login", |_s: Arc<()>, Form(login): Form<Login>| async move {
///         format!("hello {} ({:?})", login.user, login.remember)
///     })
///     .build();
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Form<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Form<T> {
    fn from_request(req: &HttpRequest) -> Result<Self, Error> {
        let parse = |bytes: &[u8]| {
            serde_urlencoded::from_bytes(bytes)
                .map(Form)
                .map_err(|_| Error::http(400))
        };
        if *req.method() == Method::GET || *req.method() == Method::HEAD {
            return parse(req.query().unwrap_or("").as_bytes());
        }
        match media_type(req).as_deref() {
            Some("application/x-www-form-urlencoded") => parse(req.body()),
            // an empty body without a type is an empty form
            None if req.body().is_empty() => parse(b""),
            _ => Err(Error::http(415)),
        }
    }
}

/// Limits of a [`Multipart`] body, beyond `client_max_size` (which bounds the whole body).
///
/// ```
/// use tomodachi::http::MultipartLimits;
/// let limits = MultipartLimits::default().max_parts(10).max_part_size(1024 * 1024);
/// assert_eq!(limits.part_size(), Some(1024 * 1024));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultipartLimits {
    max_parts: usize,
    max_part_size: Option<u64>,
}

impl MultipartLimits {
    /// The default number of parts a body may have.
    pub const DEFAULT_MAX_PARTS: usize = 1000;

    /// At most `n` parts (default [`DEFAULT_MAX_PARTS`](Self::DEFAULT_MAX_PARTS)); more is a
    /// `413`.
    pub fn max_parts(mut self, n: usize) -> Self {
        self.max_parts = n;
        self
    }

    /// At most `bytes` in one part (default: only `client_max_size` bounds it); more is a
    /// `413`.
    pub fn max_part_size(mut self, bytes: u64) -> Self {
        self.max_part_size = Some(bytes);
        self
    }

    /// The number of parts allowed.
    pub fn parts(&self) -> usize {
        self.max_parts
    }

    /// The size allowed for one part, if limited beyond the whole body's.
    pub fn part_size(&self) -> Option<u64> {
        self.max_part_size
    }
}

impl Default for MultipartLimits {
    fn default() -> Self {
        Self {
            max_parts: Self::DEFAULT_MAX_PARTS,
            max_part_size: None,
        }
    }
}

enum State {
    /// Not read yet: the limits can still change.
    Pending {
        body: Bytes,
        boundary: String,
    },
    Reading(multer::Multipart<'static>),
}

/// A `multipart/form-data` body (file uploads and form fields), read part by part. A request
/// of another content type (or without a boundary) is a `415`; a malformed body is a `400`; a
/// body over its [`MultipartLimits`] is a `413`.
///
/// ```
/// use std::sync::Arc;
/// use tomodachi::http::{Method, Multipart, MultipartLimits};
///
/// let service = tomodachi::Service::builder("uploads", ())
///     .http(Method::POST, r"/upload", |_s: Arc<()>, form: Multipart| async move {
///         let mut form = form.limits(MultipartLimits::default().max_part_size(10 << 20));
///         let mut names = Vec::new();
///         while let Some(part) = form.next_part().await? {
///             let name = part.name().unwrap_or("").to_owned();
///             let size = part.bytes().await?.len();
///             names.push(format!("{name}={size}"));
///         }
///         Ok::<_, tomodachi::Error>(names.join(","))
///     })
///     .build();
/// ```
pub struct Multipart {
    state: Option<State>,
    limits: MultipartLimits,
    parts: usize,
}

impl std::fmt::Debug for Multipart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Multipart")
            .field("limits", &self.limits)
            .field("parts_read", &self.parts)
            .finish_non_exhaustive()
    }
}

impl FromRequest for Multipart {
    fn from_request(req: &HttpRequest) -> Result<Self, Error> {
        let boundary = req
            .header("content-type")
            .and_then(|ct| multer::parse_boundary(ct).ok())
            .ok_or_else(|| Error::http(415))?;
        Ok(Self {
            state: Some(State::Pending {
                body: req.body().clone(),
                boundary,
            }),
            limits: MultipartLimits::default(),
            parts: 0,
        })
    }
}

fn multipart_error(error: multer::Error) -> Error {
    let status = match error {
        multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. } => 413,
        _ => 400,
    };
    tracing::debug!(error = %error, "unreadable multipart body");
    Error::http(status)
}

impl Multipart {
    /// Sets the limits; call it before reading the first part (later it changes nothing).
    pub fn limits(mut self, limits: MultipartLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The next part, or `None` after the last one.
    pub async fn next_part(&mut self) -> Result<Option<Part>, Error> {
        let reader = match self.state.take() {
            Some(State::Pending { body, boundary }) => {
                let mut size = multer::SizeLimit::new();
                if let Some(max) = self.limits.max_part_size {
                    size = size.per_field(max);
                }
                let stream =
                    futures_util::stream::once(std::future::ready(Ok::<_, std::io::Error>(body)));
                multer::Multipart::with_constraints(
                    stream,
                    boundary,
                    multer::Constraints::new().size_limit(size),
                )
            }
            Some(State::Reading(reader)) => reader,
            None => return Ok(None),
        };
        let reader = self.state.insert(State::Reading(reader));
        let State::Reading(reader) = reader else {
            return Ok(None);
        };
        match reader.next_field().await.map_err(multipart_error)? {
            Some(field) => {
                self.parts += 1;
                if self.parts > self.limits.max_parts {
                    self.state = None;
                    tracing::debug!(
                        max_parts = self.limits.max_parts,
                        "multipart body with more parts than allowed"
                    );
                    return Err(Error::http(413));
                }
                Ok(Some(Part { field }))
            }
            None => {
                self.state = None;
                Ok(None)
            }
        }
    }
}

/// One part of a [`Multipart`] body: a form field or an uploaded file.
pub struct Part {
    field: multer::Field<'static>,
}

impl std::fmt::Debug for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Part")
            .field("name", &self.name())
            .field("file_name", &self.file_name())
            .field("content_type", &self.content_type())
            .finish()
    }
}

impl Part {
    /// The form field name (`Content-Disposition: form-data; name="..."`).
    pub fn name(&self) -> Option<&str> {
        self.field.name()
    }

    /// The uploaded file's name, for a file part.
    pub fn file_name(&self) -> Option<&str> {
        self.field.file_name()
    }

    /// The part's `Content-Type`, if given.
    pub fn content_type(&self) -> Option<&str> {
        self.field.content_type().map(|m| m.essence_str())
    }

    /// The part's headers.
    pub fn headers(&self) -> &HeaderMap {
        self.field.headers()
    }

    /// The whole part.
    pub async fn bytes(self) -> Result<Bytes, Error> {
        self.field.bytes().await.map_err(multipart_error)
    }

    /// The whole part as text (in the charset of its `Content-Type`, UTF-8 by default).
    pub async fn text(self) -> Result<String, Error> {
        self.field.text().await.map_err(multipart_error)
    }

    /// The next chunk of the part, or `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        self.field.chunk().await.map_err(multipart_error)
    }
}
