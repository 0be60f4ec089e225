//! Static files (`http_static`): both route forms, content types, validators, ranges,
//! conditional requests, HEAD, 404s through the error handler, traversal attempts, a
//! permission error, start-up errors, a large file streamed without being held in memory, the
//! macro form beside the builder form, and the example against its Python tomodachi twin.
//! Every request goes over a real socket with the raw client of `support` (it sends paths such
//! as `/static/../x` as they are, where other clients normalise them).

use crate::support;
use crate::support::examples::example_bin;
use crate::support::python::PyService;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use support::{raw, test_options, Resp};
use tomodachi::http::{HttpRequest, StaticFiles};
use tomodachi::{App, IntoService, Service};

/// A request: method, path, extra headers.
type Req = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// What the Python comparison looks at in an answer (see `comparable`).
type Seen = (u16, Vec<u8>, Vec<(&'static str, Option<String>)>, bool);

const HELLO: &str = "Hello from the static folder of tomodachi.\nSecond line, for ranges.\n";
const SECRET: &str = "the secret outside the folder\n";

/// One request with extra headers, `Connection: close`.
async fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    req.push_str("\r\n");
    raw(addr, req.as_bytes()).await
}

async fn get(addr: SocketAddr, path: &str) -> Resp {
    request(addr, "GET", path, &[]).await
}

/// A fresh temporary folder: `<root>/public` with the files the tests serve, a secret file
/// beside it, a sibling folder whose name starts like the served one, and symlinks from inside
/// the folder to both.
struct Fixture {
    root: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let root = std::env::temp_dir().join(format!("tomodachi-static-{}", uuid::Uuid::new_v4()));
        let public = root.join("public");
        std::fs::create_dir_all(public.join("sub")).unwrap();
        std::fs::create_dir_all(root.join("public-sibling")).unwrap();
        std::fs::write(public.join("hello.txt"), HELLO).unwrap();
        std::fs::write(public.join("index.html"), "<p>hi</p>\n").unwrap();
        std::fs::write(public.join("data.json"), "{\"ok\": true}\n").unwrap();
        let png = std::fs::read(repo_root().join("examples/public/image.png")).unwrap();
        std::fs::write(public.join("image.png"), png).unwrap();
        std::fs::write(public.join("sub/nested.txt"), "nested\n").unwrap();
        std::fs::write(root.join("secret.txt"), SECRET).unwrap();
        std::fs::write(root.join("public-sibling/secret.txt"), SECRET).unwrap();
        std::os::unix::fs::symlink(root.join("secret.txt"), public.join("link-out.txt")).unwrap();
        std::os::unix::fs::symlink(
            root.join("public-sibling/secret.txt"),
            public.join("link-sibling.txt"),
        )
        .unwrap();
        std::os::unix::fs::symlink(public.join("hello.txt"), public.join("link-in.txt")).unwrap();
        Fixture { root }
    }

    fn public(&self) -> PathBuf {
        self.root.join("public")
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The example's routes on `dir` with the builder API.
fn builder_service(dir: &Path) -> Service {
    Service::builder("static-builder", ())
        .options(test_options())
        .http_static(dir, r"/static/")
        .http_static(dir, r"/download/(?P<filename>[^/]+?)/image")
        .http_error(404, |_s: Arc<()>, _r: HttpRequest| async { "error 404" })
        .build()
}

async fn start(service: Service) -> (tomodachi::RunningApp, SocketAddr) {
    let running = App::new().service(service).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    (running, addr)
}

#[tokio::test]
async fn both_route_forms_serve_files_with_types_and_validators() {
    let fx = Fixture::new();
    let (running, addr) = start(builder_service(&fx.public())).await;

    for (path, content_type) in [
        ("/static/hello.txt", "text/plain"),
        ("/static/index.html", "text/html"),
        ("/static/data.json", "application/json"),
        ("/static/image.png", "image/png"),
        ("/static/sub/nested.txt", "text/plain"),
        ("/download/image.png/image", "image/png"),
        ("/static/link-in.txt", "text/plain"),
    ] {
        let r = get(addr, path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(r.header("content-type"), Some(content_type), "{path}");
        assert_eq!(r.header("accept-ranges"), Some("bytes"), "{path}");
        assert_eq!(r.header("server"), Some("tomodachi"), "{path}");
        let len: usize = r.header("content-length").unwrap().parse().unwrap();
        assert_eq!(len, r.body.len(), "{path}");
        let etag = r.header("etag").unwrap();
        assert!(
            etag.starts_with('"') && etag.ends_with('"'),
            "{path}: {etag}"
        );
        let modified = r.header("last-modified").unwrap();
        assert!(httpdate::parse_http_date(modified).is_ok(), "{modified}");
    }
    assert_eq!(get(addr, "/static/hello.txt").await.text(), HELLO);
    assert_eq!(get(addr, "/static/link-in.txt").await.text(), HELLO);
    assert_eq!(get(addr, "/static/sub/nested.txt").await.text(), "nested\n");
    let png = std::fs::read(fx.public().join("image.png")).unwrap();
    assert_eq!(get(addr, "/download/image.png/image").await.body, png);
    // `.` and `..` segments inside the folder, an encoded slash and a trailing slash (as
    // upstream: its path resolution drops it)
    for path in [
        "/static/sub/../hello.txt",
        "/static/./hello.txt",
        "/static/sub%2f..%2fhello.txt",
        "/static/hello.txt/",
        "/static//hello.txt",
    ] {
        let r = get(addr, path).await;
        assert_eq!((r.status, r.text().as_str()), (200, HELLO), "{path}");
    }

    // HEAD: the same headers, no body
    let head = request(addr, "HEAD", "/static/hello.txt", &[]).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("68"));
    assert_eq!(head.header("content-type"), Some("text/plain"));
    assert!(head.header("etag").is_some() && head.header("last-modified").is_some());
    assert!(head.body.is_empty());

    // only GET and HEAD
    for method in ["POST", "PUT", "DELETE"] {
        let r = request(addr, method, "/static/hello.txt", &[]).await;
        assert_eq!((r.status, r.text().as_str()), (405, "Method Not Allowed"));
        assert_eq!(r.header("allow"), Some("GET,HEAD"));
    }
    assert_eq!(running.stop().await, 0);
}

#[tokio::test]
async fn ranges_are_206_and_unsatisfiable_or_malformed_ranges_416() {
    let fx = Fixture::new();
    let (running, addr) = start(builder_service(&fx.public())).await;
    let range = |r: &'static str| async move {
        request(addr, "GET", "/static/hello.txt", &[("Range", r)]).await
    };

    for (header, content_range, body) in [
        ("bytes=0-4", "bytes 0-4/68", &HELLO[0..5]),
        ("bytes=-5", "bytes 63-67/68", &HELLO[63..]),
        ("bytes=10-", "bytes 10-67/68", &HELLO[10..]),
        ("bytes=60-200", "bytes 60-67/68", &HELLO[60..]),
        ("bytes=0-0", "bytes 0-0/68", &HELLO[0..1]),
    ] {
        let r = range(header).await;
        assert_eq!(r.status, 206, "{header}");
        assert_eq!(r.header("content-range"), Some(content_range), "{header}");
        assert_eq!(r.text(), body, "{header}");
        assert_eq!(r.header("content-length"), Some(&*body.len().to_string()));
        assert_eq!(r.header("content-type"), Some("text/plain"));
    }
    // beyond the end, reversed, several ranges, not bytes, garbage: 416 as aiohttp
    for header in [
        "bytes=68-",
        "bytes=100-200",
        "bytes=5-3",
        "bytes=0-1,3-4",
        "items=0-1",
        "bytes=abc",
    ] {
        let r = range(header).await;
        assert_eq!(r.status, 416, "{header}");
        assert_eq!(r.header("content-range"), Some("bytes */68"), "{header}");
        assert_eq!(
            r.header("content-type"),
            Some("application/octet-stream"),
            "{header}"
        );
        assert!(r.body.is_empty(), "{header}");
    }
    // HEAD with a range: the partial headers, no body
    let r = request(addr, "HEAD", "/static/hello.txt", &[("Range", "bytes=0-4")]).await;
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-length"), Some("5"));
    // If-Range with a date older than the file: the whole file
    let r = request(
        addr,
        "GET",
        "/static/hello.txt",
        &[
            ("Range", "bytes=0-4"),
            ("If-Range", "Mon, 01 Jan 1990 00:00:00 GMT"),
        ],
    )
    .await;
    assert_eq!((r.status, r.text().as_str()), (200, HELLO));
    assert_eq!(running.stop().await, 0);
}

#[tokio::test]
async fn conditional_requests_are_304_or_412() {
    let fx = Fixture::new();
    let (running, addr) = start(builder_service(&fx.public())).await;
    let first = get(addr, "/static/hello.txt").await;
    let etag = first.header("etag").unwrap().to_owned();
    let modified = first.header("last-modified").unwrap().to_owned();
    let cond = |name: &'static str, value: String| async move {
        request(addr, "GET", "/static/hello.txt", &[(name, &value)]).await
    };

    for (name, value) in [
        ("If-None-Match", etag.clone()),
        ("If-None-Match", format!("W/{etag}")),
        ("If-None-Match", format!("\"other\", {etag}")),
        ("If-None-Match", "*".to_owned()),
        ("If-Modified-Since", modified.clone()),
        (
            "If-Modified-Since",
            "Thu, 01 Jan 2099 00:00:00 GMT".to_owned(),
        ),
    ] {
        let r = cond(name, value.clone()).await;
        assert_eq!(r.status, 304, "{name}: {value}");
        assert!(r.body.is_empty());
        assert_eq!(r.header("etag"), Some(&*etag));
        assert_eq!(r.header("last-modified"), Some(&*modified));
    }
    for (name, value) in [
        ("If-None-Match", "\"other\"".to_owned()),
        (
            "If-Modified-Since",
            "Mon, 01 Jan 1990 00:00:00 GMT".to_owned(),
        ),
        ("If-Match", etag.clone()),
    ] {
        let r = cond(name, value.clone()).await;
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, HELLO),
            "{name}: {value}"
        );
    }
    for (name, value) in [
        ("If-Match", "\"other\"".to_owned()),
        (
            "If-Unmodified-Since",
            "Mon, 01 Jan 1990 00:00:00 GMT".to_owned(),
        ),
    ] {
        let r = cond(name, value.clone()).await;
        assert_eq!(r.status, 412, "{name}: {value}");
        assert!(r.body.is_empty());
    }
    assert_eq!(running.stop().await, 0);
}

#[tokio::test]
async fn missing_files_folders_and_traversal_attempts_are_404_through_the_handler() {
    let fx = Fixture::new();
    let (running, addr) = start(builder_service(&fx.public())).await;
    let secret_path = fx.root.join("secret.txt");
    let absolute = format!("/static/{}", secret_path.display());
    let encoded_absolute = format!(
        "/static/{}",
        secret_path.display().to_string().replace('/', "%2F")
    );
    let paths = [
        "/static/missing.txt",
        "/static/sub",
        "/static/sub/",
        "/static/",
        "/download/sub/image",
        "/download/missing.png/image",
        // traversal: raw and encoded dots, encoded slashes, NUL bytes, absolute paths
        "/static/../secret.txt",
        "/static/sub/../../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E/secret.txt",
        "/static/..%2fsecret.txt",
        "/static/..%2Fsecret.txt",
        "/static/sub%2f..%2f..%2fsecret.txt",
        "/download/..%2fsecret.txt/image",
        "/download/%2e%2e/image",
        "/static/hello.txt%00",
        "/static/%00",
        "/static/%00/../secret.txt",
        "//etc/passwd",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        &absolute,
        &encoded_absolute,
        // symlinks inside the folder to a file outside it, and to a sibling folder whose name
        // starts like the folder's (upstream's string prefix check serves that one)
        "/static/link-out.txt",
        "/static/link-sibling.txt",
    ];
    for path in paths {
        let r = get(addr, path).await;
        assert_eq!((r.status, r.text().as_str()), (404, "error 404"), "{path}");
        assert!(!r.text().contains("secret"), "{path}");
    }
    assert_eq!(running.stop().await, 0);
}

// A FIFO (like a socket or a device) is not served: 403, as aiohttp's file response, and
// without blocking on opening it.
#[tokio::test]
async fn special_files_are_403() {
    let fx = Fixture::new();
    let fifo = fx.public().join("pipe.txt");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let (running, addr) = start(builder_service(&fx.public())).await;
    let r = get(addr, "/static/pipe.txt").await;
    assert_eq!((r.status, r.text().as_str()), (403, "Forbidden"));
    assert_eq!(running.stop().await, 0);
}

#[tokio::test]
async fn a_missing_folder_is_404_until_it_exists() {
    let fx = Fixture::new();
    let later = fx.root.join("later");
    let (running, addr) = start(builder_service(&later)).await;
    assert_eq!(get(addr, "/static/hello.txt").await.status, 404);
    std::fs::create_dir_all(&later).unwrap();
    std::fs::write(later.join("hello.txt"), HELLO).unwrap();
    let r = get(addr, "/static/hello.txt").await;
    assert_eq!((r.status, r.text().as_str()), (200, HELLO));
    assert_eq!(running.stop().await, 0);
}

#[tokio::test]
async fn without_a_404_handler_the_default_body_is_sent() {
    let fx = Fixture::new();
    let svc = Service::builder("static-plain", ())
        .options(test_options())
        .http_static(fx.public(), r"/files/")
        .build();
    let (running, addr) = start(svc).await;
    let r = get(addr, "/files/../secret.txt").await;
    assert_eq!((r.status, r.text().as_str()), (404, "Not Found"));
    assert_eq!(get(addr, "/files/hello.txt").await.text(), HELLO);
    assert_eq!(running.stop().await, 0);
}

#[tokio::test]
async fn static_routes_keep_their_place_in_the_registration_order() {
    let fx = Fixture::new();
    let svc = Service::builder("static-order", ())
        .options(test_options())
        .http(
            tomodachi::http::Method::GET,
            r"/static/dynamic\.txt",
            |_s: Arc<()>, _r: HttpRequest| async { "from the handler" },
        )
        .http_static_route(
            StaticFiles::new(fx.public(), r"/static/")
                .name("files")
                .ignore_logging(true),
        )
        .http(
            tomodachi::http::Method::GET,
            r"/static/hello\.txt",
            |_s: Arc<()>, _r: HttpRequest| async { "never reached" },
        )
        .build();
    let (running, addr) = start(svc).await;
    assert_eq!(
        get(addr, "/static/dynamic.txt").await.text(),
        "from the handler"
    );
    assert_eq!(get(addr, "/static/hello.txt").await.text(), HELLO);
    assert_eq!(running.stop().await, 0);
}

// The access log records a file answer with its length (the body is streamed, its length
// known from the file), and `ignore_logging` works as on other routes.
#[tokio::test]
async fn the_access_log_records_file_lengths_and_honours_ignore_logging() {
    let fx = Fixture::new();
    let path = fx.root.join("access.log");
    let mut options = test_options();
    options.http.access_log = tomodachi::options::AccessLog::File(path.clone());
    let svc = Service::builder("static-logged", ())
        .options(options)
        .http_static(fx.public(), r"/static/")
        .http_static_route(StaticFiles::new(fx.public(), r"/quiet/").ignore_logging([200]))
        .build();
    let (running, addr) = start(svc).await;
    assert_eq!(get(addr, "/static/hello.txt").await.status, 200);
    let r = request(addr, "GET", "/static/hello.txt", &[("Range", "bytes=0-4")]).await;
    assert_eq!(r.status, 206);
    assert_eq!(get(addr, "/quiet/hello.txt").await.status, 200);
    assert_eq!(get(addr, "/quiet/missing.txt").await.status, 404);
    assert_eq!(running.stop().await, 0);
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r["logger"] == "tomodachi.http.response")
        .collect();
    let seen: Vec<(&str, u64, u64)> = records
        .iter()
        .map(|r| {
            (
                r["request_path"].as_str().unwrap(),
                r["status_code"].as_u64().unwrap(),
                r["response_content_length"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("/static/hello.txt", 200, 68),
            ("/static/hello.txt", 206, 5),
            ("/quiet/missing.txt", 404, 9),
        ]
    );
}

#[tokio::test]
async fn invalid_folders_fail_the_start_like_upstream() {
    for (dir, message) in [
        ("", "Invalid path '' for static route"),
        ("/", "Invalid path '/' for static route"),
        (
            "/tmp/..",
            "Invalid path '/tmp/../' for static route resolves to '/'",
        ),
    ] {
        let svc = Service::builder("static-invalid", ())
            .options(test_options())
            .http_static(dir, r"/static/")
            .build();
        let err = App::new().service(svc).start().await.err().unwrap();
        assert_eq!(err.to_string(), message);
    }
    let svc = Service::builder("static-bad-pattern", ())
        .options(test_options())
        .http_static("/tmp", r"/(static/")
        .build();
    let err = App::new().service(svc).start().await.err().unwrap();
    assert!(
        err.to_string()
            .starts_with("Bad http route pattern '/(static/(?P<filename>.+?)'"),
        "{err}"
    );
}

// `HttpResponse::stream`, which static files are sent with, for any handler: the frames go out
// as they are produced (chunked without a length, framed by a `Content-Length` header when the
// handler sets one), and a clone of a streamed response cannot send the stream a second time.
#[tokio::test]
async fn a_handler_can_stream_its_response_body() {
    use bytes::Bytes;
    use http_body_util::StreamBody;
    use tomodachi::http::{HttpResponse, Method};

    fn frames() -> HttpResponse {
        let parts = ["one,", "two,", "three"].map(|s| {
            Ok::<_, std::io::Error>(http_body::Frame::data(Bytes::from_static(s.as_bytes())))
        });
        HttpResponse::stream(StreamBody::new(futures_util::stream::iter(parts)))
    }
    let svc = Service::builder("streamer", ())
        .options(test_options())
        .http(Method::GET, r"/chunked", |_s: Arc<()>| async {
            frames().content_type("text/csv")
        })
        .http(Method::GET, r"/sized", |_s: Arc<()>| async {
            frames().header("Content-Length", "13")
        })
        .http(Method::GET, r"/twice", |_s: Arc<()>| async {
            let response = frames();
            let _sent_first = response.clone();
            response
        })
        .build();
    let (running, addr) = start(svc).await;
    let r = get(addr, "/chunked").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/csv"));
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(dechunk(&r.body), b"one,two,three");
    let r = get(addr, "/sized").await;
    assert_eq!(r.header("content-length"), Some("13"));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.text(), "one,two,three");
    // the clone was dropped unsent: the stream is still there for the response itself
    assert_eq!(dechunk(&get(addr, "/twice").await.body), b"one,two,three");
    assert_eq!(running.stop().await, 0);
}

/// The macro form of `builder_service`: the folder is any expression.
struct MacroStatic;

/// The folder of `MacroStatic`, set by the one test that starts it.
static MACRO_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

fn macro_dir() -> PathBuf {
    MACRO_DIR.get().cloned().unwrap_or_default()
}

#[tomodachi::service(name = "static-macro", options = test_options())]
impl MacroStatic {
    #[http_static(macro_dir(), r"/static/")]
    async fn static_files(&self) {}

    #[http_static(
        macro_dir(),
        r"/download/(?P<filename>[^/]+?)/image",
        name = "download"
    )]
    fn download() {}

    #[http_error(status_code = 404)]
    async fn error_404(&self) -> &'static str {
        "error 404"
    }
}

#[tokio::test]
async fn the_macro_form_answers_as_the_builder_form() {
    let fx = Fixture::new();
    MACRO_DIR.set(fx.public()).unwrap();
    let (with_macros, macro_addr) = start(MacroStatic.into_service()).await;
    let (with_builder, builder_addr) = start(builder_service(&fx.public())).await;
    let requests: &[Req] = &[
        ("GET", "/static/hello.txt", &[]),
        ("GET", "/static/sub/nested.txt", &[]),
        ("GET", "/download/image.png/image", &[]),
        ("HEAD", "/static/data.json", &[]),
        ("GET", "/static/hello.txt", &[("Range", "bytes=0-4")]),
        ("GET", "/static/hello.txt", &[("Range", "bytes=99-")]),
        ("GET", "/static/../secret.txt", &[]),
        ("GET", "/static/link-out.txt", &[]),
        ("POST", "/static/hello.txt", &[]),
    ];
    for (method, path, headers) in requests {
        let a = request(macro_addr, method, path, headers).await;
        let b = request(builder_addr, method, path, headers).await;
        assert_eq!(a.status, b.status, "{method} {path}");
        assert_eq!(a.body, b.body, "{method} {path}");
        for h in [
            "content-type",
            "content-length",
            "content-range",
            "etag",
            "allow",
        ] {
            assert_eq!(a.header(h), b.header(h), "{method} {path} {h}");
        }
    }
    assert_eq!(with_macros.stop().await, 0);
    assert_eq!(with_builder.stop().await, 0);
}

/// An example binary run as a process, killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something accepts connections on `port`.
async fn accepting(port: u16) -> SocketAddr {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    support::eventually::eventually(30, "the service to listen", || {
        std::net::TcpStream::connect(addr).is_ok()
    })
    .await;
    addr
}

/// `static_service` in `dir` (it serves `examples/public` relative to its working directory)
/// on a free port; as `nobody` when the tests run as root, so that file permissions apply.
fn run_example(dir: &Path, port: u16) -> Running {
    let bin = example_bin("static_service");
    let as_root = std::env::var("USER").is_ok_and(|u| u == "root")
        || Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let mut cmd = if as_root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    cmd.arg("--production")
        .current_dir(dir)
        .env("HTTP_PORT", port.to_string())
        .env("HTTP_ACCESS_LOG", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Running(cmd.spawn().expect("start the static_service example"))
}

/// The peak resident memory of a process (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

// The example, run in a temporary folder: its relative folder is resolved against the working
// directory; a 50 MiB file is streamed whole and in a range while the process's peak memory
// stays far below the file's size; a file the process may not read is a 403.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_streams_large_files_and_answers_403_for_unreadable_ones() {
    use std::os::unix::fs::PermissionsExt;

    let fx = Fixture::new();
    let public = fx.root.join("examples/public");
    std::fs::create_dir_all(&public).unwrap();
    let size: usize = 50 * 1024 * 1024;
    let pattern: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    std::fs::write(public.join("big.bin"), &pattern).unwrap();
    std::fs::write(public.join("locked.txt"), "locked\n").unwrap();
    std::fs::set_permissions(
        public.join("locked.txt"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    for dir in [&fx.root, &fx.root.join("examples"), &public] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(
        public.join("big.bin"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();

    let port = support::free_port();
    let example = run_example(&fx.root, port);
    let addr = accepting(port).await;
    let before = peak_rss_kib(example.0.id());

    let r = get(addr, "/static/locked.txt").await;
    assert_eq!((r.status, r.text().as_str()), (403, "Forbidden"));

    let r = get(addr, "/static/big.bin").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.header("content-length"), Some(&*size.to_string()));
    assert!(r.body == pattern, "the 50 MiB body differs");
    let tail = request(
        addr,
        "GET",
        "/download/big.bin/image",
        &[("Range", "bytes=-1000")],
    )
    .await;
    assert_eq!(tail.status, 206);
    assert!(tail.body == pattern[size - 1000..]);

    let peak = peak_rss_kib(example.0.id());
    assert!(
        peak < before + 16 * 1024,
        "peak RSS grew from {before} KiB to {peak} KiB serving a 50 MiB file"
    );
}

/// The requests the Python comparison sends (method, path, headers).
const COMPARED: &[Req] = &[
    ("GET", "/static/hello.txt", &[]),
    ("GET", "/static/index.html", &[]),
    ("GET", "/static/data.json", &[]),
    ("GET", "/static/image.png", &[]),
    ("GET", "/static/sub/nested.txt", &[]),
    ("GET", "/download/image.png/image", &[]),
    ("GET", "/download/hello.txt/image", &[]),
    ("HEAD", "/static/hello.txt", &[]),
    ("HEAD", "/download/image.png/image", &[]),
    ("POST", "/static/hello.txt", &[]),
    ("PUT", "/download/image.png/image", &[]),
    ("GET", "/static/", &[]),
    ("GET", "/static/sub", &[]),
    ("GET", "/static/sub/", &[]),
    ("GET", "/static/missing.txt", &[]),
    ("GET", "/static/sub/../hello.txt", &[]),
    ("GET", "/static/./hello.txt", &[]),
    ("GET", "/static/sub%2fnested.txt", &[]),
    ("GET", "/static/hello.txt/", &[]),
    ("GET", "/static/../../Cargo.toml", &[]),
    ("GET", "/static/%2e%2e/%2e%2e/Cargo.toml", &[]),
    ("GET", "/static/..%2f..%2fCargo.toml", &[]),
    ("GET", "/download/..%2f..%2fCargo.toml/image", &[]),
    ("GET", "/static//etc/passwd", &[]),
    ("GET", "//etc/passwd", &[]),
    ("GET", "/static/%2fetc%2fpasswd", &[]),
    ("GET", "/static/hello.txt", &[("Range", "bytes=0-4")]),
    ("GET", "/static/hello.txt", &[("Range", "bytes=-5")]),
    ("GET", "/static/hello.txt", &[("Range", "bytes=10-")]),
    ("GET", "/static/hello.txt", &[("Range", "bytes=60-200")]),
    ("GET", "/static/hello.txt", &[("Range", "bytes=68-")]),
    ("GET", "/static/hello.txt", &[("Range", "bytes=5-3")]),
    ("GET", "/static/hello.txt", &[("Range", "bytes=0-1,3-4")]),
    ("GET", "/static/hello.txt", &[("Range", "bytes=abc")]),
    ("HEAD", "/static/hello.txt", &[("Range", "bytes=0-4")]),
    (
        "GET",
        "/static/hello.txt",
        &[
            ("Range", "bytes=0-4"),
            ("If-Range", "Mon, 01 Jan 1990 00:00:00 GMT"),
        ],
    ),
    (
        "GET",
        "/static/hello.txt",
        &[
            ("Range", "bytes=0-4"),
            ("If-Range", "Thu, 01 Jan 2099 00:00:00 GMT"),
        ],
    ),
    (
        "GET",
        "/static/hello.txt",
        &[("If-None-Match", "\"other\"")],
    ),
    ("GET", "/static/hello.txt", &[("If-None-Match", "*")]),
    (
        "GET",
        "/static/hello.txt",
        &[("If-Modified-Since", "Thu, 01 Jan 2099 00:00:00 GMT")],
    ),
    (
        "GET",
        "/static/hello.txt",
        &[("If-Modified-Since", "Mon, 01 Jan 1990 00:00:00 GMT")],
    ),
    ("GET", "/static/hello.txt", &[("If-Match", "\"other\"")]),
    ("GET", "/static/hello.txt", &[("If-Match", "*")]),
    (
        "GET",
        "/static/hello.txt",
        &[("If-Unmodified-Since", "Mon, 01 Jan 1990 00:00:00 GMT")],
    ),
];

/// A chunked body's data (aiohttp sends its empty 416 bodies chunked).
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[end + 2 + size + 2..];
    }
    out
}

/// What is compared of one answer: status, body and the headers both implementations send
/// alike. `ETag` values differ in format, so only their presence is compared; the length of a
/// chunked answer is its body's.
fn comparable(r: &Resp) -> Seen {
    let chunked = r
        .header("transfer-encoding")
        .is_some_and(|te| te.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(&r.body)
    } else {
        r.body.clone()
    };
    let headers = [
        "content-type",
        "content-length",
        "content-range",
        "accept-ranges",
        "last-modified",
        "allow",
        "server",
    ]
    .into_iter()
    .map(|h| {
        let value = match h {
            "content-length" if chunked => Some(body.len().to_string()),
            _ => r.header(h).map(str::to_owned),
        };
        (h, value)
    })
    .collect();
    (r.status, body, headers, r.header("etag").is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_answers_as_python_tomodachi() {
    let public = repo_root().join("examples/public").canonicalize().unwrap();
    let py_port = support::free_port();
    let python = PyService::start(
        "static_service.py",
        &[
            ("STATIC_DIR", public.display().to_string()),
            ("HTTP_PORT", py_port.to_string()),
        ],
    );
    let rust_port = support::free_port();
    let mut cmd = Command::new(example_bin("static_service"));
    cmd.arg("--production")
        .current_dir(repo_root())
        .env("HTTP_PORT", rust_port.to_string())
        .env("HTTP_ACCESS_LOG", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _rust = Running(cmd.spawn().expect("start the static_service example"));
    python.wait_ready().await;
    let py = accepting(py_port).await;
    let rs = accepting(rust_port).await;

    for (method, path, headers) in COMPARED {
        let a = request(py, method, path, headers).await;
        let b = request(rs, method, path, headers).await;
        let (a, b) = (comparable(&a), comparable(&b));
        assert_eq!(a, b, "{method} {path} {headers:?}");
    }
    // each answers 304 to its own entity tag and to its own Last-Modified
    for addr in [py, rs] {
        let first = get(addr, "/static/data.json").await;
        for (name, value) in [
            ("If-None-Match", first.header("etag").unwrap()),
            ("If-Modified-Since", first.header("last-modified").unwrap()),
        ] {
            let r = request(addr, "GET", "/static/data.json", &[(name, value)]).await;
            assert_eq!(r.status, 304, "{addr} {name}");
            assert!(r.body.is_empty());
            assert_eq!(r.header("etag"), first.header("etag"));
        }
    }
}
