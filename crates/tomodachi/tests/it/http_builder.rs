//! The HTTP transport through the plain builder API (no macros), against a real server on an
//! ephemeral loopback port.

use crate::support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{get, raw, send, test_options};
use tokio::io::AsyncWriteExt;
use tomodachi::http::{Extension, HttpRequest, HttpResponse, Json, Method, Next};
use tomodachi::{App, Error, Service};

#[derive(Default)]
struct Api {
    calls: AtomicUsize,
}

#[derive(Clone)]
struct User(&'static str);

pub(crate) fn api() -> Service {
    Service::builder("api", Api::default())
        .options(test_options())
        .http(Method::GET, r"/", |_a: Arc<Api>, _r: HttpRequest| async {
            "hello"
        })
        .http(
            Method::GET,
            r"/test/?",
            |_a: Arc<Api>, _r: HttpRequest| async { "test" },
        )
        .http(
            Method::POST,
            r"/test/?",
            |_a: Arc<Api>, r: HttpRequest| async move {
                Ok::<_, Error>((201, format!("posted {}", r.text()?), [("X-Kind", "post")]))
            },
        )
        .http(
            Method::GET,
            r"/items/(?P<id>[^/]+)",
            |_a: Arc<Api>, r: HttpRequest| async move {
                let id: u32 = r.parse_param("id")?;
                Ok::<_, Error>(format!("item {id}"))
            },
        )
        .http(
            Method::GET,
            r"/json",
            |_a: Arc<Api>, _r: HttpRequest| async { Json(serde_json::json!({"ok": true})) },
        )
        .http(
            Method::GET,
            r"/forbidden",
            |_a: Arc<Api>, _r: HttpRequest| async { Err::<&str, _>(Error::http(403)) },
        )
        .http(
            Method::GET,
            r"/redirect",
            |_a: Arc<Api>, _r: HttpRequest| async {
                Err::<&str, _>(Error::http(302).with_header("Location", "/elsewhere"))
            },
        )
        .http(
            Method::GET,
            r"/fail",
            |a: Arc<Api>, _r: HttpRequest| async move {
                a.calls.fetch_add(1, Ordering::SeqCst);
                Err::<&str, _>(Error::msg("boom"))
            },
        )
        .http(
            Method::GET,
            r"/panic",
            |_a: Arc<Api>, _r: HttpRequest| async {
                if true {
                    panic!("handler panic");
                }
                "unreachable"
            },
        )
        .http(
            Method::GET,
            r"/bad-charset",
            |_a: Arc<Api>, _r: HttpRequest| async {
                HttpResponse::text("友達").charset("iso-8859-1")
            },
        )
        .http(
            Method::GET,
            r"/whoami",
            |_a: Arc<Api>, r: HttpRequest| async move {
                use tomodachi::http::FromRequest;
                let Extension(user) = Extension::<User>::from_request(&r)?;
                Ok::<_, Error>(user.0)
            },
        )
        .http(
            ["GET", "PUT"],
            r"/multi",
            |_a: Arc<Api>, r: HttpRequest| async move { r.method().to_string() },
        )
        .http_middleware(|_a: Arc<Api>, mut r: HttpRequest, next: Next| async move {
            if r.header("x-short-circuit").is_some() {
                return Ok(HttpResponse::text("short-circuit").status(418));
            }
            r.extensions_mut().insert(User("sheep"));
            let mut res = next.run(r).await?;
            res.headers_mut()
                .insert("x-middleware", http::HeaderValue::from_static("seen"));
            Ok::<_, Error>(res)
        })
        .build()
}

#[tokio::test]
async fn routes_statuses_and_default_headers() {
    let running = App::new().service(api()).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();

    let r = get(addr, "/").await;
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    assert_eq!(r.header("server"), Some("tomodachi"));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(
        r.header("connection"),
        Some("close"),
        "keep-alive is off by default"
    );
    assert_eq!(r.header("x-middleware"), Some("seen"));

    // full match, optional trailing slash only where the pattern allows it
    assert_eq!(get(addr, "/test").await.text(), "test");
    assert_eq!(get(addr, "/test/").await.text(), "test");
    let r = get(addr, "/testing").await;
    assert_eq!((r.status, r.text().as_str()), (404, "Not Found"));

    // 405 with a sorted Allow header
    let r = send(addr, "DELETE", "/test", "").await;
    assert_eq!((r.status, r.text().as_str()), (405, "Method Not Allowed"));
    assert_eq!(r.header("allow"), Some("GET,HEAD,POST"));

    // HEAD on a GET route: headers, no body
    let r = raw(
        addr,
        b"HEAD /test HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("4"));

    // (status, body, headers)
    let r = send(addr, "POST", "/test", "abc").await;
    assert_eq!((r.status, r.text().as_str()), (201, "posted abc"));
    assert_eq!(r.header("x-kind"), Some("post"));

    // list of methods
    assert_eq!(send(addr, "PUT", "/multi", "").await.text(), "PUT");

    let r = get(addr, "/json").await;
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.text(), r#"{"ok":true}"#);
    assert_eq!(running.stop().await, 0);
}

#[tokio::test]
async fn named_groups_parse_or_answer_400() {
    let running = App::new().service(api()).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    assert_eq!(get(addr, "/items/42").await.text(), "item 42");
    assert_eq!(get(addr, "/items/x").await.status, 400);
    running.stop().await;
}

#[tokio::test]
async fn errors_panics_and_middlewares() {
    let running = App::new().service(api()).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();

    let r = get(addr, "/forbidden").await;
    assert_eq!((r.status, r.text().as_str()), (403, "Forbidden"));
    let r = get(addr, "/redirect").await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/elsewhere"));

    // other errors: an empty 500; the service keeps serving
    let r = get(addr, "/fail").await;
    assert_eq!((r.status, r.body.len()), (500, 0));
    let r = get(addr, "/panic").await;
    assert_eq!((r.status, r.body.len()), (500, 0));
    let r = get(addr, "/bad-charset").await;
    assert_eq!(r.status, 500);
    assert_eq!(get(addr, "/").await.text(), "hello");

    // middleware hands a typed value to the handler, or short-circuits
    assert_eq!(get(addr, "/whoami").await.text(), "sheep");
    let r = raw(
        addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Short-Circuit: 1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!((r.status, r.text().as_str()), (418, "short-circuit"));
    running.stop().await;
}

#[tokio::test]
async fn error_handlers_answer_404_405_500_and_panics() {
    let svc = Service::builder("errs", ())
        .options(test_options())
        .http(Method::GET, r"/ok", |_s: Arc<()>, _r: HttpRequest| async {
            "ok"
        })
        .http(
            Method::GET,
            r"/boom",
            |_s: Arc<()>, _r: HttpRequest| async { Err::<&str, _>(Error::msg("boom")) },
        )
        .http(
            Method::GET,
            r"/panic",
            |_s: Arc<()>, _r: HttpRequest| async {
                if true {
                    panic!("x")
                }
                ""
            },
        )
        .http_error(404, |_s: Arc<()>, r: HttpRequest| async move {
            format!("error 404 for {}", r.path())
        })
        .http_error(405, |_s: Arc<()>, r: HttpRequest| async move {
            (0u16, format!("nope {}", r.error_status().unwrap_or(0)))
        })
        .http_error(500, |_s: Arc<()>, _r: HttpRequest| async { "error 500" })
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    let r = get(addr, "/missing").await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (404, "error 404 for /missing")
    );
    let r = send(addr, "POST", "/ok", "").await;
    assert_eq!((r.status, r.text().as_str()), (405, "nope 405"));
    assert_eq!(
        r.header("allow"),
        None,
        "no Allow header when a 405 handler answers"
    );
    let r = get(addr, "/boom").await;
    assert_eq!((r.status, r.text().as_str()), (500, "error 500"));
    let r = get(addr, "/panic").await;
    assert_eq!((r.status, r.text().as_str()), (500, "error 500"));
    running.stop().await;
}

// The 500 handler gets the request as the failed handler got it (the route's parameters,
// none of a middleware's extensions); a panic while the handler is called (before its future,
// in a plain closure) is a 500 too.
#[tokio::test]
async fn the_error_handler_gets_the_routed_request_and_early_panics_are_500s() {
    #[derive(Clone)]
    struct Seen;
    let svc = Service::builder("errs3", ())
        .options(test_options())
        .http_middleware(|_s: Arc<()>, mut r: HttpRequest, next: Next| async move {
            if r.error_status().is_none() {
                r.extensions_mut().insert(Seen);
            }
            next.run(r).await
        })
        .http(
            Method::GET,
            r"/items/(?P<id>\d+)",
            |_s: Arc<()>, _r: HttpRequest| async { Err::<&str, _>(Error::msg("boom")) },
        )
        .http(Method::GET, r"/early", |_s: Arc<()>, r: HttpRequest| {
            if r.path() == "/early" {
                panic!("before the handler's future");
            }
            async { "unreachable" }
        })
        .http_error(500, |_s: Arc<()>, r: HttpRequest| async move {
            format!(
                "500 id={:?} seen={}",
                r.param("id"),
                r.extensions().get::<Seen>().is_some()
            )
        })
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    let r = get(addr, "/items/42").await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (500, "500 id=Some(\"42\") seen=false")
    );
    let r = get(addr, "/early").await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (500, "500 id=None seen=false")
    );
    assert_eq!(get(addr, "/items/7").await.status, 500, "still serving");
    running.stop().await;
}

#[tokio::test]
async fn a_failing_error_handler_falls_back_to_500() {
    let svc = Service::builder("errs2", ())
        .options(test_options())
        .http_error(404, |_s: Arc<()>, _r: HttpRequest| async {
            Err::<&str, _>(Error::msg("404 handler broke"))
        })
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let r = get(running.http_addr(0).unwrap(), "/x").await;
    assert_eq!((r.status, r.body.len()), (500, 0));
    running.stop().await;
}

#[tokio::test]
async fn bad_input_gets_4xx_and_the_service_keeps_serving() {
    let mut options = test_options();
    options.http.client_max_size = 1024;
    let svc = Service::builder("limits", ())
        .options(options)
        .http(
            Method::POST,
            r"/upload",
            |_s: Arc<()>, r: HttpRequest| async move { r.body().len().to_string() },
        )
        .http(
            Method::GET,
            r"/p/(?P<v>.+)",
            |_s: Arc<()>, r: HttpRequest| async move { r.param("v").unwrap_or("").to_owned() },
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();

    let ok = send(addr, "POST", "/upload", &"x".repeat(1000)).await;
    assert_eq!((ok.status, ok.text().as_str()), (200, "1000"));
    let big = send(addr, "POST", "/upload", &"x".repeat(2000)).await;
    assert_eq!(big.status, 413);
    assert_eq!(
        big.text(),
        "Maximum request body size 1024 exceeded, actual body size 2000"
    );
    // chunked body over the limit
    let mut chunked = b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..3 {
        chunked.extend_from_slice(b"400\r\n");
        chunked.extend_from_slice(&[b'y'; 1024]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(raw(addr, &chunked).await.status, 413);

    assert_eq!(raw(addr, b"GARBAGE\r\n\r\n").await.status, 400);
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(512 * 1024)
    );
    assert_eq!(raw(addr, huge.as_bytes()).await.status, 431);
    assert_eq!(get(addr, "/p/%ff%fe").await.status, 400);
    assert_eq!(get(addr, "/p/a%20b").await.text(), "a b");
    assert_eq!(get(addr, "/p/a%2Fb").await.text(), "a/b");
    assert_eq!(get(addr, "/p/still-serving").await.status, 200);
    running.stop().await;
}

#[tokio::test]
async fn keepalive_headers_and_max_requests() {
    let mut options = test_options();
    options.http.keepalive_timeout = 5.0;
    options.http.max_keepalive_requests = Some(3);
    let svc = Service::builder("ka", ())
        .options(options)
        .http(Method::GET, r"/", |_s: Arc<()>, _r: HttpRequest| async {
            "ka"
        })
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    for i in 1..=3 {
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let r = support::read_response(&mut stream, false).await.unwrap();
        assert_eq!(r.text(), "ka");
        if i < 3 {
            assert_eq!(r.header("connection"), Some("keep-alive"));
            assert_eq!(r.header("keep-alive"), Some("timeout=5, max=3"));
        } else {
            assert_eq!(r.header("connection"), Some("close"), "3rd request closes");
        }
    }
    // HTTP/1.0 without keep-alive asked for gets close
    let r = raw(addr, b"GET / HTTP/1.0\r\n\r\n").await;
    assert_eq!(r.header("connection"), Some("close"));
    running.stop().await;
}

/// The head lines of the next response on `stream`, in the order they were sent (the `Date`
/// header without its value).
async fn head_lines(stream: &mut tokio::net::TcpStream) -> Vec<String> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let lines: Vec<String> = head
                .split("\r\n")
                .map(|l| match l.split_once(": ") {
                    Some(("date", _)) => "date".to_owned(),
                    _ => l.to_owned(),
                })
                .collect();
            let len: usize = lines
                .iter()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |v| v.parse().unwrap());
            while buf.len() < end + 4 + len {
                let n = stream.read(&mut chunk).await.unwrap();
                assert!(n > 0, "the response ended early");
                buf.extend_from_slice(&chunk[..n]);
            }
            return lines;
        }
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "no response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

// The headers the server adds (`Content-Type`, `Server`, the connection's) go out in the same
// order whether the handler set headers of its own or none (the default set is prebuilt).
#[tokio::test]
async fn default_and_connection_headers_keep_their_order_on_the_wire() {
    let mut options = test_options();
    options.http.keepalive_timeout = 5.0;
    options.http.max_keepalive_requests = Some(3);
    let svc = Service::builder("order", ())
        .options(options)
        .http(
            Method::GET,
            r"/plain",
            |_s: Arc<()>, _r: HttpRequest| async { "plain" },
        )
        .http(Method::GET, r"/own", |_s: Arc<()>, _r: HttpRequest| async {
            HttpResponse::text("own").header("X-Own", "1")
        })
        .http(
            Method::GET,
            r"/json",
            |_s: Arc<()>, _r: HttpRequest| async {
                HttpResponse::text("{}").content_type("application/json")
            },
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    async fn get_on(stream: &mut tokio::net::TcpStream, path: &str) -> Vec<String> {
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        head_lines(stream).await
    }
    let keep = ["connection: keep-alive", "keep-alive: timeout=5, max=3"];
    let mut expected = vec![
        "HTTP/1.1 200 OK",
        "content-type: text/plain; charset=utf-8",
        "server: tomodachi",
    ];
    expected.extend(keep);
    expected.extend(["content-length: 5", "date"]);
    assert_eq!(get_on(&mut stream, "/plain").await, expected);
    let mut expected = vec![
        "HTTP/1.1 200 OK",
        "x-own: 1",
        "content-type: text/plain; charset=utf-8",
        "server: tomodachi",
    ];
    expected.extend(keep);
    expected.extend(["content-length: 3", "date"]);
    assert_eq!(get_on(&mut stream, "/own").await, expected);
    // the third request on the connection closes it
    assert_eq!(
        get_on(&mut stream, "/plain").await,
        [
            "HTTP/1.1 200 OK",
            "content-type: text/plain; charset=utf-8",
            "server: tomodachi",
            "connection: close",
            "content-length: 5",
            "date",
        ]
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(
        head_lines(&mut stream).await,
        [
            "HTTP/1.1 200 OK",
            "content-type: application/json",
            "server: tomodachi",
            "connection: close",
            "content-length: 2",
            "date",
        ]
    );
    running.stop().await;
}

#[tokio::test(start_paused = false)]
async fn keepalive_idle_connections_are_closed_after_the_timeout() {
    let mut options = test_options();
    options.http.keepalive_timeout = 1.0;
    let svc = Service::builder("idle", ())
        .options(options)
        .http(Method::GET, r"/", |_s: Arc<()>, _r: HttpRequest| async {
            "x"
        })
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let mut stream = tokio::net::TcpStream::connect(running.http_addr(0).unwrap())
        .await
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let r = support::read_response(&mut stream, false).await.unwrap();
    assert_eq!(r.header("keep-alive"), Some("timeout=1"));
    let started = std::time::Instant::now();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut stream, &mut buf),
    )
    .await
    .expect("server closes the idle connection")
    .unwrap_or(0);
    assert_eq!(n, 0, "EOF");
    assert!(started.elapsed() >= Duration::from_millis(800));
    running.stop().await;
}

#[tokio::test]
async fn lifecycle_hooks_run_in_upstream_order() {
    let order = Arc::new(Mutex::new(Vec::<&'static str>::new()));
    let o = order.clone();
    let svc = Service::builder("hooks", order.clone())
        .options(test_options())
        .http(
            Method::GET,
            r"/",
            |s: Arc<Arc<Mutex<Vec<&'static str>>>>, _r: HttpRequest| async move {
                s.lock().unwrap().push("index");
                "x"
            },
        )
        .on_start(|s| async move { s.lock().unwrap().push("start_service") })
        .on_started(|s| async move { s.lock().unwrap().push("started_service") })
        .on_stopping(|s| async move { s.lock().unwrap().push("stopping_service") })
        .on_stop(|s| async move { s.lock().unwrap().push("stop_service") })
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    get(running.http_addr(0).unwrap(), "/").await;
    assert_eq!(running.stop().await, 0);
    assert_eq!(
        *o.lock().unwrap(),
        [
            "start_service",
            "started_service",
            "index",
            "stopping_service",
            "stop_service"
        ]
    );
}

#[tokio::test]
async fn no_request_is_served_during_start_service() {
    let svc = Service::builder("slowstart", ())
        .options(test_options())
        .http(Method::GET, r"/", |_s: Arc<()>, _r: HttpRequest| async {
            "x"
        })
        .on_start(|_s| async { tokio::time::sleep(Duration::from_millis(300)).await })
        .build();
    let started = std::time::Instant::now();
    let running = App::new().service(svc).start().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    running.stop().await;
}

#[tokio::test]
async fn in_flight_requests_finish_on_stop_and_new_connections_are_refused() {
    let svc = Service::builder("drain", ())
        .options(test_options())
        .http(
            Method::GET,
            r"/slow",
            |_s: Arc<()>, _r: HttpRequest| async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                "done"
            },
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    let inflight: Vec<_> = (0..10)
        .map(|_| tokio::spawn(async move { get(addr, "/slow").await }))
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stop = tokio::spawn(running.stop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
    for r in inflight {
        let r = r.await.unwrap();
        assert_eq!((r.status, r.text().as_str()), (200, "done"));
    }
    assert_eq!(stop.await.unwrap(), 0);
}

#[tokio::test]
async fn bad_route_patterns_fail_the_start() {
    let svc = Service::builder("badroute", ())
        .options(test_options())
        .http(
            Method::GET,
            r"/(unclosed",
            |_s: Arc<()>, _r: HttpRequest| async { "x" },
        )
        .build();
    let err = App::new().service(svc).start().await.err().unwrap();
    assert!(
        err.to_string()
            .starts_with("Bad http route pattern '/(unclosed'"),
        "{err}"
    );
}

#[tokio::test]
async fn get_service_finds_the_running_instance() {
    let svc = Service::builder("registry-svc", 41u64)
        .options(test_options())
        .http(Method::GET, r"/", |_s: Arc<u64>, _r: HttpRequest| async {
            "x"
        })
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    assert_eq!(
        tomodachi::get_service::<u64>(Some("registry-svc")).as_deref(),
        Some(&41)
    );
    running.stop().await;
    assert!(tomodachi::get_service::<u64>(Some("registry-svc")).is_none());
}

#[tokio::test]
async fn max_keepalive_time_closes_old_connections() {
    let mut options = test_options();
    options.http.keepalive_timeout = 5.0;
    options.http.max_keepalive_time = Some(0.5);
    let svc = Service::builder("ka-time", ())
        .options(options)
        .http(Method::GET, r"/", |_s: Arc<()>, _r: HttpRequest| async {
            "x"
        })
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let mut stream = tokio::net::TcpStream::connect(running.http_addr(0).unwrap())
        .await
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let r = support::read_response(&mut stream, false).await.unwrap();
    assert_eq!(r.header("connection"), Some("keep-alive"));
    tokio::time::sleep(Duration::from_millis(600)).await;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let r = support::read_response(&mut stream, false).await.unwrap();
    assert_eq!(r.header("connection"), Some("close"));
    running.stop().await;
}

#[tokio::test]
async fn reuse_port_lets_two_services_share_a_port() {
    // find a free port first, then bind two services to it
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let svc = |name: &'static str, reuse: bool| {
        let mut o = test_options();
        o.http.port = port;
        o.http.reuse_port = reuse;
        Service::builder(name, ())
            .options(o)
            .http(
                Method::GET,
                r"/",
                move |_s: Arc<()>, _r: HttpRequest| async move { name },
            )
            .build()
    };
    let a = App::new().service(svc("a", true)).start().await.unwrap();
    let b = App::new().service(svc("b", true)).start().await.unwrap();
    assert_eq!(a.http_addr(0), b.http_addr(0));
    let addr = a.http_addr(0).unwrap();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..40 {
        seen.insert(get(addr, "/").await.text());
    }
    assert_eq!(
        seen.len(),
        2,
        "the kernel balances connections over both: {seen:?}"
    );
    // without SO_REUSEPORT a third bind fails with a clear error
    let err = App::new()
        .service(svc("c", false))
        .start()
        .await
        .err()
        .unwrap();
    assert!(
        err.to_string().starts_with(&format!(
            "unable to bind service [http] to http://localhost:{port}/"
        )),
        "{err}"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn access_log_file_gets_json_lines() {
    let path = std::env::temp_dir().join(format!("tomodachi-access-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut options = test_options();
    options.http.access_log = tomodachi::options::AccessLog::File(path.clone());
    let svc = Service::builder("filelog", ())
        .options(options)
        .http_route(
            tomodachi::http::HttpRoute::new(Method::POST, r"/test_ignore_one")
                .ignore_logging([200]),
            |_s: Arc<()>, r: HttpRequest| async move {
                if r.body().is_empty() {
                    (200, "ignored")
                } else {
                    (201, "created!")
                }
            },
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    assert_eq!(send(addr, "POST", "/test_ignore_one", "").await.status, 200);
    assert_eq!(
        send(addr, "POST", "/test_ignore_one", "0123456789")
            .await
            .status,
        201
    );
    running.stop().await;
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["message"], "accepting http requests");
    assert_eq!(lines[0]["logger"], "tomodachi.http");
    let rec = &lines[1];
    assert_eq!(rec["logger"], "tomodachi.http.response");
    assert_eq!(rec["status_code"], 201);
    assert_eq!(rec["request_method"], "POST");
    assert_eq!(rec["request_path"], "/test_ignore_one");
    assert_eq!(rec["response_content_length"], 8);
    assert_eq!(rec["request_content_length"], 10);
    assert_eq!(rec["request_content_read_length"], 10);
    assert!(text
        .lines()
        .nth(1)
        .unwrap()
        .contains(r#""request_content_read_length": 10, "user_agent": "test-client""#));
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn tower_layers_wrap_the_http_stack() {
    use http::HeaderValue;
    use http_body_util::Full;
    use tower_http::cors::CorsLayer;
    use tower_http::set_header::SetResponseHeaderLayer;

    // A hand-written layer that answers `/blocked` itself with another body type.
    #[derive(Clone)]
    struct Block<S>(S);
    impl<S> tower::Service<http::Request<Full<bytes::Bytes>>> for Block<S>
    where
        S: tower::Service<
                http::Request<Full<bytes::Bytes>>,
                Response = http::Response<tomodachi::http::ResponseBody>,
            > + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        S::Error: Send,
    {
        type Response = http::Response<tomodachi::http::ResponseBody>;
        type Error = S::Error;
        type Future = std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<Self::Response, S::Error>> + Send>,
        >;
        fn poll_ready(
            &mut self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), S::Error>> {
            self.0.poll_ready(cx)
        }
        fn call(&mut self, req: http::Request<Full<bytes::Bytes>>) -> Self::Future {
            if req.uri().path() == "/blocked" {
                let body = http_body_util::Empty::<bytes::Bytes>::new();
                let mut res = http::Response::new(tomodachi::http::ResponseBody::new(body));
                *res.status_mut() = http::StatusCode::FORBIDDEN;
                return Box::pin(async move { Ok(res) });
            }
            let fut = self.0.call(req);
            Box::pin(fut)
        }
    }

    let svc = Service::builder("layers", ())
        .options(test_options())
        .http(Method::GET, r"/", |_s: Arc<()>, _r: HttpRequest| async {
            "layered"
        })
        .http_layer(SetResponseHeaderLayer::overriding(
            http::header::HeaderName::from_static("x-layer"),
            HeaderValue::from_static("outer"),
        ))
        .http_layer(CorsLayer::permissive())
        .http_layer(tower::layer::layer_fn(Block))
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    let r = raw(
        addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nOrigin: http://example.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!((r.status, r.text().as_str()), (200, "layered"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("x-layer"), Some("outer"));
    assert_eq!(r.header("server"), Some("tomodachi"));
    assert_eq!(r.header("connection"), Some("close"));
    let r = get(addr, "/blocked").await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.header("x-layer"),
        Some("outer"),
        "outer layers see inner answers"
    );
    assert_eq!(get(addr, "/missing").await.status, 404);
    running.stop().await;
}

#[tokio::test]
async fn invalid_method_names_fail_the_start() {
    let svc = Service::builder("badmethod", ())
        .options(test_options())
        .http("GE T", r"/", |_s: Arc<()>, _r: HttpRequest| async { "x" })
        .build();
    let err = App::new().service(svc).start().await.err().unwrap();
    assert_eq!(err.to_string(), "invalid HTTP method \"GE T\" in route '/'");
}

#[tokio::test]
async fn real_ip_header_is_trusted_only_from_real_ip_from() {
    let build = |trusted: Vec<String>| {
        let mut o = test_options();
        o.http.real_ip_from = trusted;
        Service::builder("realip", ())
            .options(o)
            .http(
                Method::GET,
                r"/ip",
                |_s: Arc<()>, r: HttpRequest| async move { r.remote_ip().to_string() },
            )
            .build()
    };
    let req = b"GET /ip HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.1.1.1 foo, 1.2.3.4\r\nConnection: close\r\n\r\n";
    let trusted = App::new()
        .service(build(vec!["127.0.0.0/8".into()]))
        .start()
        .await
        .unwrap();
    assert_eq!(
        raw(trusted.http_addr(0).unwrap(), req).await.text(),
        "10.1.1.1"
    );
    trusted.stop().await;
    let untrusted = App::new()
        .service(build(vec!["10.0.0.0/8".into()]))
        .start()
        .await
        .unwrap();
    assert_eq!(
        raw(untrusted.http_addr(0).unwrap(), req).await.text(),
        "127.0.0.1"
    );
    untrusted.stop().await;
}

#[tokio::test]
async fn the_grace_period_bounds_the_drain() {
    let mut o = test_options();
    o.http.termination_grace_period_seconds = 1;
    let svc = Service::builder("grace", ())
        .options(o)
        .http(
            Method::GET,
            r"/forever",
            |_s: Arc<()>, _r: HttpRequest| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            },
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    let _client = tokio::spawn(async move { get(addr, "/forever").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    assert_eq!(running.stop().await, 0);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "stop took {took:?}"
    );
}

#[tokio::test]
async fn several_services_run_in_one_app() {
    let order = Arc::new(Mutex::new(Vec::<String>::new()));
    let svc = |name: &'static str| {
        let o = order.clone();
        let o2 = order.clone();
        Service::builder(name, ())
            .options(test_options())
            .http(
                Method::GET,
                r"/",
                move |_s: Arc<()>, _r: HttpRequest| async move { name },
            )
            .on_start(move |_s| async move { o.lock().unwrap().push(format!("{name} start")) })
            .on_stop(move |_s| async move { o2.lock().unwrap().push(format!("{name} stop")) })
            .build()
    };
    let running = App::new()
        .service(svc("one"))
        .service(svc("two"))
        .start()
        .await
        .unwrap();
    assert_eq!(get(running.http_addr(0).unwrap(), "/").await.text(), "one");
    assert_eq!(
        get(running.http_addr_of("two").unwrap(), "/").await.text(),
        "two"
    );
    assert_eq!(running.stop().await, 0);
    let mut seen = order.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, ["one start", "one stop", "two start", "two stop"]);
}

/// The versions in the execution context are the ones Cargo resolved (from the lockfile), not
/// a hard-coded major version.
#[tokio::test]
async fn the_execution_context_reports_the_resolved_library_versions() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"))
        .expect("the workspace lockfile");
    let locked = |name: &str| {
        let at = lock
            .find(&format!("name = \"{name}\"\nversion = \""))
            .unwrap_or_else(|| panic!("{name} in Cargo.lock"));
        let rest = &lock[at..];
        let start = rest.find("version = \"").unwrap() + "version = \"".len();
        rest[start..start + rest[start..].find('"').unwrap()].to_owned()
    };
    let running = App::new().service(api()).start().await.unwrap();
    let ctx = tomodachi::get_execution_context();
    assert_eq!(ctx["hyper_version"], locked("hyper"));
    assert_eq!(ctx["tokio_version"], locked("tokio"));
    assert!(ctx["hyper_version"].as_str().unwrap().starts_with("1."));
    running.stop().await;
}
