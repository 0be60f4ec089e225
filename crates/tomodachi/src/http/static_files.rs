//! Static files: upstream's `@http_static(path, base_url)`, answered by tower-http's file
//! service on a file this module found and opened with upstream's path rules.
//!
//! A request's file is found as upstream finds it: the fully percent-decoded path has its `.`
//! and `..` segments resolved, the route pattern is matched again and its `filename` group is
//! joined to the folder; the result, with every symlink resolved, must be a regular file inside
//! the folder (also resolved). Anything else is a 404 (through the `http_error(404)` handler),
//! a file the process may not read a 403. The file is opened once and served from that open
//! file, so what was checked is what is sent.
//!
//! The answer (`Content-Type` by extension, `Last-Modified`, `ETag`, `Accept-Ranges`, ranges,
//! conditional requests, `HEAD`) comes from tower-http's `ServeDir` with a backend that hands it
//! the opened file, streamed in 256 KiB chunks like upstream's.

use std::io;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{
    ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH,
    IF_RANGE, IF_UNMODIFIED_SINCE, LAST_MODIFIED, RANGE,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::Empty;
use regex::Regex;
use tokio::io::{AsyncRead, AsyncSeek, ReadBuf};
use tower_http::services::fs::{Backend, File as BackendFile, ServeDir};

use super::router::{compile, strip_anchors, IgnoreLogging};
use super::{HttpRequest, HttpResponse, HttpRoute};
use crate::error::Error;
use crate::ServiceBuilder;

/// Bytes read from the file per body frame (upstream's `chunk_size`).
const CHUNK_SIZE: usize = 256 * 1024;

/// A static files route: a folder and the regex prefix it is served under.
///
/// If `base_url` has no `(?P<filename>…)` group, the route pattern is
/// `<base_url>(?P<filename>.+?)`; otherwise it is `base_url` as is and its `filename` group
/// names the file. A relative folder is resolved against the current working directory when
/// the route is registered (upstream resolves it against the service's source file).
///
/// ```
/// use tomodachi::http::StaticFiles;
///
/// let files = StaticFiles::new("public", r"/static/");
/// assert_eq!(files.pattern(), r"/static/(?P<filename>.+?)");
///
/// let images = StaticFiles::new("public", r"/download/(?P<filename>[^/]+?)/image")
///     .name("download")
///     .ignore_logging([200, 304]);
/// assert_eq!(images.pattern(), r"/download/(?P<filename>[^/]+?)/image");
/// ```
#[derive(Debug, Clone)]
pub struct StaticFiles {
    dir: PathBuf,
    base_url: String,
    name: Option<String>,
    ignore_logging: IgnoreLogging,
}

impl StaticFiles {
    /// The files of `dir` under the regex prefix `base_url`.
    pub fn new(dir: impl AsRef<Path>, base_url: impl Into<String>) -> Self {
        Self {
            dir: dir.as_ref().to_path_buf(),
            base_url: base_url.into(),
            name: None,
            ignore_logging: IgnoreLogging::None,
        }
    }

    /// The handler name used in logs (the function name with the macros; the pattern
    /// otherwise).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// `true` to keep this route out of the access log, or a list of status codes to keep out.
    pub fn ignore_logging(mut self, ignore: impl Into<IgnoreLogging>) -> Self {
        self.ignore_logging = ignore.into();
        self
    }

    /// The folder as given.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The route pattern: `base_url` with `(?P<filename>.+?)` appended unless it has a
    /// `filename` group (anchors `^` and `$` removed).
    pub fn pattern(&self) -> String {
        let base = strip_anchors(&self.base_url);
        let has_filename = Regex::new(base)
            .is_ok_and(|re| re.capture_names().flatten().any(|name| name == "filename"));
        if has_filename {
            base.to_owned()
        } else {
            format!("{base}(?P<filename>.+?)")
        }
    }
}

impl<S: Send + Sync + 'static> ServiceBuilder<S> {
    /// Serves the files of the folder `dir` under the regex prefix `base_url` (GET and HEAD),
    /// as upstream's `@http_static(path, base_url)`; see [`StaticFiles`] for the route pattern.
    ///
    /// A relative `dir` is resolved against the current working directory now. `""`, `/` or a
    /// folder resolving to `/` fail the start with `Invalid path '<path>' for static route`; a
    /// folder that does not exist answers 404 until it does.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tomodachi::http::HttpRequest;
    ///
    /// struct Site;
    ///
    /// let service = tomodachi::Service::builder("site", Site)
    ///     .http_static("public", r"/static/")
    ///     .http_static("public", r"/download/(?P<filename>[^/]+?)/image")
    ///     .http_error(404, |_s: Arc<Site>, _r: HttpRequest| async { "error 404" })
    ///     .build();
    /// ```
    pub fn http_static(self, dir: impl AsRef<Path>, base_url: &str) -> Self {
        self.http_static_route(StaticFiles::new(dir, base_url))
    }

    /// Serves static files with a full route description (name, `ignore_logging`).
    pub fn http_static_route(mut self, files: StaticFiles) -> Self {
        let dir = match resolve_dir(&files.dir) {
            Ok(dir) => dir,
            Err(e) => {
                self.definition_error(e);
                return self;
            }
        };
        let pattern = files.pattern();
        let regex = match compile(&pattern) {
            Ok(regex) => regex,
            Err(e) => {
                self.definition_error(e);
                return self;
            }
        };
        let folder = Arc::new(Folder { dir, regex });
        let mut route = HttpRoute::new(Method::GET, pattern.clone())
            .name(files.name.unwrap_or(pattern))
            .ignore_logging(files.ignore_logging);
        route.kind = crate::transport::RouteKind::StaticFiles;
        self.http_route(route, move |_service: Arc<S>, request: HttpRequest| {
            serve(folder.clone(), request)
        })
    }
}

/// The absolute folder of a static route, or upstream's start-up error.
fn resolve_dir(dir: &Path) -> Result<PathBuf, String> {
    let invalid = || format!("Invalid path '{}' for static route", dir.display());
    if dir.as_os_str().is_empty() || dir == Path::new("/") {
        return Err(invalid());
    }
    let absolute = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| format!("{}: the current directory is unknown: {e}", invalid()))?
            .join(dir)
    };
    let resolved = std::fs::canonicalize(&absolute).unwrap_or_else(|_| lexical(&absolute));
    if resolved == Path::new("/") {
        let mut shown = absolute.display().to_string();
        if !shown.ends_with('/') {
            shown.push('/');
        }
        return Err(format!(
            "Invalid path '{shown}' for static route resolves to '/'"
        ));
    }
    Ok(absolute)
}

/// `path` with `.` and `..` resolved by name (for a folder that does not exist yet).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// One static route's folder and pattern.
struct Folder {
    /// Absolute, resolved again (symlinks) on every request, as upstream does.
    dir: PathBuf,
    /// The route's full-match regex.
    regex: Regex,
}

impl Folder {
    /// The `filename` of a request as upstream finds it: the route pattern matched against the
    /// fully decoded path (`%2F` is a `/` here) with `.` and `..` segments resolved; empty when
    /// it no longer matches.
    fn filename(&self, request: &HttpRequest) -> String {
        let decoded =
            percent_encoding::percent_decode_str(request.uri().path()).decode_utf8_lossy();
        let normalized = normalize_path(&decoded);
        self.regex
            .captures(&normalized)
            .and_then(|caps| caps.name("filename"))
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default()
    }
}

/// Resolves `.` and `..` segments of an absolute path, keeping empty segments (yarl's
/// `normalize_path`, which upstream uses): `/a/./b/../c` → `/a/c`, `/../x` → `/x`.
fn normalize_path(path: &str) -> String {
    let (prefix, rest) = match path.strip_prefix('/') {
        Some(rest) => ("/", rest),
        None => ("", path),
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let mut resolved: Vec<&str> = Vec::with_capacity(segments.len());
    for segment in &segments {
        match *segment {
            ".." => {
                resolved.pop();
            }
            "." => {}
            s => resolved.push(s),
        }
    }
    if matches!(segments.last(), Some(&".") | Some(&"..")) {
        resolved.push("");
    }
    format!("{prefix}{}", resolved.join("/"))
}

/// A file found and opened for a request.
struct Opened {
    file: std::fs::File,
    metadata: std::fs::Metadata,
    path: PathBuf,
}

/// Finds the file `filename` names in `dir` with upstream's rules (see the module docs) and
/// opens it: 404 when it is not a regular file inside the folder, 403 when it may not be read
/// or is a special file (a FIFO, a socket, a device: aiohttp forbids them too).
fn open(dir: &Path, filename: &str) -> Result<Opened, Error> {
    let not_found = || Error::http(404);
    let base = std::fs::canonicalize(dir).map_err(|_| not_found())?;
    if base == Path::new("/") || !base.is_dir() {
        return Err(not_found());
    }
    let mut joined = base.clone();
    for segment in filename.split('/') {
        for component in Path::new(segment).components() {
            match component {
                Component::Normal(name) => joined.push(name),
                Component::ParentDir => joined.push(".."),
                Component::CurDir => {}
                Component::RootDir | Component::Prefix(_) => return Err(not_found()),
            }
        }
    }
    // every symlink resolved; a name with a NUL byte, a missing file or a file below a
    // non-directory fail here
    let real = std::fs::canonicalize(&joined).map_err(|_| not_found())?;
    if real == base || !real.starts_with(&base) {
        return Err(not_found());
    }
    let metadata = std::fs::metadata(&real).map_err(|_| not_found())?;
    if metadata.is_dir() {
        return Err(not_found());
    }
    if !metadata.is_file() {
        return Err(Error::http(403));
    }
    let file = std::fs::File::open(&real).map_err(|e| match e.kind() {
        io::ErrorKind::PermissionDenied => Error::http(403),
        io::ErrorKind::NotFound => not_found(),
        _ => Error::new(e),
    })?;
    // what is served is what was opened
    let metadata = file.metadata().map_err(Error::new)?;
    if !metadata.is_file() {
        return Err(Error::http(403));
    }
    Ok(Opened {
        file,
        metadata,
        path: real,
    })
}

/// Answers one request of a static route.
async fn serve(folder: Arc<Folder>, request: HttpRequest) -> Result<HttpResponse, Error> {
    let filename = folder.filename(&request);
    let dir = folder.dir.clone();
    let opened = tokio::task::spawn_blocking(move || open(&dir, &filename))
        .await
        .map_err(Error::new)??;
    respond(opened, &request).await
}

/// The file response: tower-http's `ServeDir` on a backend holding the opened file.
async fn respond(opened: Opened, request: &HttpRequest) -> Result<HttpResponse, Error> {
    let Opened {
        file,
        metadata,
        path,
    } = opened;
    // ServeDir guesses the content type from the name it is asked for: the resolved file's
    // (as aiohttp does), percent-encoded into the URI
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let uri = format!(
        "/{}",
        percent_encoding::utf8_percent_encode(&name, percent_encoding::NON_ALPHANUMERIC)
    );
    let mut req = http::Request::builder()
        .method(request.method().clone())
        .uri(uri)
        .body(Empty::<Bytes>::new())
        .map_err(Error::new)?;
    let headers = req.headers_mut();
    for name in [
        RANGE,
        IF_MATCH,
        IF_NONE_MATCH,
        IF_MODIFIED_SINCE,
        IF_UNMODIFIED_SINCE,
    ] {
        if let Some(value) = request.headers().get(&name) {
            headers.insert(name, value.clone());
        }
    }
    if range_outdated(request.headers(), metadata.modified().ok()) {
        headers.remove(RANGE);
    }
    let last_modified = metadata.modified().ok().and_then(rounded_up);
    let backend = OpenedFile {
        file: Arc::new(Mutex::new(Some(tokio::fs::File::from_std(file)))),
        metadata,
    };
    let response = ServeDir::with_backend("", backend)
        .append_index_html_on_directories(false)
        .with_buf_chunk_size(CHUNK_SIZE)
        .try_call(req)
        .await
        .map_err(Error::new)?;
    let (parts, body) = response.into_parts();
    let mut headers = parts.headers;
    if let (Some(value), true) = (last_modified, headers.contains_key(LAST_MODIFIED)) {
        headers.insert(LAST_MODIFIED, value);
    }
    let response = if parts.status == StatusCode::RANGE_NOT_SATISFIABLE {
        // aiohttp: an empty body of the default file type, with `Content-Range: bytes */<size>`
        // and no validators
        for name in [CONTENT_LENGTH, ACCEPT_RANGES, ETAG, LAST_MODIFIED] {
            headers.remove(name);
        }
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        HttpResponse::new()
    } else {
        let length = (request.method() != Method::HEAD)
            .then(|| content_length(&headers))
            .flatten();
        HttpResponse::stream(KnownLength::new(body, length))
    };
    let mut response = response.status(parts.status.as_u16()).bare();
    *response.headers_mut() = headers;
    Ok(response)
}

/// aiohttp's `If-Range`: a date older than the file's modification time (to the second) asks
/// for the whole file; an entity tag, like no `If-Range`, keeps the `Range`.
fn range_outdated(headers: &HeaderMap, modified: Option<SystemTime>) -> bool {
    let Some(date) = headers
        .get(IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
    else {
        return false;
    };
    let Some(modified) = modified.and_then(|m| m.duration_since(UNIX_EPOCH).ok()) else {
        return false;
    };
    UNIX_EPOCH + Duration::from_secs(modified.as_secs()) > date
}

/// `Last-Modified` as aiohttp sends it: the modification time rounded up to the second (a
/// client sending it back as `If-Modified-Since` gets a 304 either way).
fn rounded_up(modified: SystemTime) -> Option<HeaderValue> {
    let since_epoch = modified.duration_since(UNIX_EPOCH).ok()?;
    let secs = since_epoch.as_secs() + u64::from(since_epoch.subsec_nanos() > 0);
    HeaderValue::from_str(&httpdate::fmt_http_date(
        UNIX_EPOCH + Duration::from_secs(secs),
    ))
    .ok()
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// A `ServeDir` backend that serves the one file already opened for the request, whatever
/// path it is asked for.
#[derive(Clone)]
struct OpenedFile {
    file: Arc<Mutex<Option<tokio::fs::File>>>,
    metadata: std::fs::Metadata,
}

impl Backend for OpenedFile {
    type File = OpenedHandle;
    type Metadata = std::fs::Metadata;
    type OpenFuture = std::future::Ready<io::Result<OpenedHandle>>;
    type MetadataFuture = std::future::Ready<io::Result<std::fs::Metadata>>;

    fn open(&self, _path: PathBuf) -> Self::OpenFuture {
        let file = match self.file.lock() {
            Ok(mut slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        std::future::ready(
            file.map(|file| OpenedHandle {
                file,
                metadata: self.metadata.clone(),
            })
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the file was served already")),
        )
    }

    fn metadata(&self, _path: PathBuf) -> Self::MetadataFuture {
        std::future::ready(Ok(self.metadata.clone()))
    }
}

/// The opened file as `ServeDir` reads it.
struct OpenedHandle {
    file: tokio::fs::File,
    metadata: std::fs::Metadata,
}

impl AsyncRead for OpenedHandle {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.file).poll_read(cx, buf)
    }
}

impl AsyncSeek for OpenedHandle {
    fn start_seek(mut self: Pin<&mut Self>, position: io::SeekFrom) -> io::Result<()> {
        Pin::new(&mut self.file).start_seek(position)
    }

    fn poll_complete(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Pin::new(&mut self.file).poll_complete(cx)
    }
}

impl BackendFile for OpenedHandle {
    type Metadata = std::fs::Metadata;
    type MetadataFuture<'a> = std::future::Ready<io::Result<std::fs::Metadata>>;

    fn metadata(&self) -> Self::MetadataFuture<'_> {
        std::future::ready(Ok(self.metadata.clone()))
    }
}

/// A body whose length is known up front (the `Content-Length` of a file response): its size
/// hint says so, for hyper and the access log.
struct KnownLength<B> {
    inner: B,
    remaining: Option<u64>,
}

impl<B> KnownLength<B> {
    fn new(inner: B, length: Option<u64>) -> Self {
        Self {
            inner,
            remaining: length,
        }
    }
}

impl<B> Body for KnownLength<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let (Some(data), Some(remaining)) = (frame.data_ref(), self.remaining.as_mut()) {
                *remaining = remaining.saturating_sub(data.len() as u64);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        match self.remaining {
            Some(n) => SizeHint::with_exact(n),
            None => self.inner.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized_like_yarl() {
        assert_eq!(normalize_path("/a/./b/../c"), "/a/c");
        assert_eq!(normalize_path("/static/../secret.txt"), "/secret.txt");
        assert_eq!(normalize_path("/../../x"), "/x");
        assert_eq!(normalize_path("/s//etc/passwd"), "/s//etc/passwd");
        assert_eq!(normalize_path("/s/sub/.."), "/s/");
        assert_eq!(normalize_path("/s/."), "/s/");
        assert_eq!(normalize_path("/"), "/");
    }

    #[test]
    fn the_pattern_gets_a_filename_group_unless_it_has_one() {
        assert_eq!(
            StaticFiles::new("p", r"^/static/$").pattern(),
            r"/static/(?P<filename>.+?)"
        );
        assert_eq!(
            StaticFiles::new("p", r"/d/(?P<filename>[^/]+?)/image").pattern(),
            r"/d/(?P<filename>[^/]+?)/image"
        );
        assert_eq!(
            StaticFiles::new("p", r"/d/(?<filename>[^/]+)").pattern(),
            r"/d/(?<filename>[^/]+)"
        );
    }

    #[test]
    fn root_and_empty_folders_are_rejected_like_upstream() {
        assert_eq!(
            resolve_dir(Path::new("")).unwrap_err(),
            "Invalid path '' for static route"
        );
        assert_eq!(
            resolve_dir(Path::new("/")).unwrap_err(),
            "Invalid path '/' for static route"
        );
        assert_eq!(
            resolve_dir(Path::new("/tmp/..")).unwrap_err(),
            "Invalid path '/tmp/../' for static route resolves to '/'"
        );
        assert_eq!(
            resolve_dir(Path::new("/no/such/../../..")).unwrap_err(),
            "Invalid path '/no/such/../../../' for static route resolves to '/'"
        );
        let relative = resolve_dir(Path::new("public")).unwrap();
        assert_eq!(relative, std::env::current_dir().unwrap().join("public"));
    }

    #[test]
    fn last_modified_is_rounded_up_to_the_second() {
        let at = |millis| rounded_up(UNIX_EPOCH + Duration::from_millis(millis)).unwrap();
        assert_eq!(at(1_000_000), "Thu, 01 Jan 1970 00:16:40 GMT");
        assert_eq!(at(1_000_001), "Thu, 01 Jan 1970 00:16:41 GMT");
    }

    #[test]
    fn if_range_dates_older_than_the_file_drop_the_range() {
        let modified = UNIX_EPOCH + Duration::from_millis(1_000_500);
        let mut h = HeaderMap::new();
        assert!(!range_outdated(&h, Some(modified)));
        h.insert(IF_RANGE, HeaderValue::from_static("\"etag\""));
        assert!(!range_outdated(&h, Some(modified)));
        let at = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(1_000));
        h.insert(IF_RANGE, HeaderValue::from_str(&at).unwrap());
        assert!(!range_outdated(&h, Some(modified)));
        let before = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(999));
        h.insert(IF_RANGE, HeaderValue::from_str(&before).unwrap());
        assert!(range_outdated(&h, Some(modified)));
    }
}
