//! The HTTP server under slow, half-finished and unroutable requests: read timeouts, routing
//! before the body is read, the connection limit, half-closed connections, `Host`.

use crate::support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tomodachi::http::{HttpRequest, HttpRoute, Method};
use tomodachi::logging::LogFormat;
use tomodachi::{App, Options, RunningApp, Service};

async fn start(options: Options) -> (RunningApp, SocketAddr) {
    let svc = Service::builder("limits", ())
        .options(options)
        .http_route(
            HttpRoute::new(Method::POST, r"/upload"),
            |_s: Arc<()>, r: HttpRequest| async move { r.body().len().to_string() },
        )
        .http_route(
            HttpRoute::new(Method::GET, r"/"),
            |_s: Arc<()>, _r: HttpRequest| async { "hello" },
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    (running, addr)
}

/// Reads until the peer closes; `true` when it closed without sending anything.
async fn closed_silently(stream: &mut TcpStream, within: Duration) -> bool {
    let mut rest = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut rest)).await {
        Ok(Ok(_)) => rest.is_empty(),
        Ok(Err(_)) => true,
        Err(_) => false,
    }
}

#[tokio::test]
async fn a_body_that_stops_arriving_gets_408_after_the_read_timeout() {
    let mut options = support::test_options();
    options.http.read_timeout = 0.5;
    let (running, addr) = start(options).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        .await
        .unwrap();
    let started = Instant::now();
    let resp = support::read_response(&mut stream, false)
        .await
        .expect("an answer");
    assert_eq!(resp.status, 408);
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(started.elapsed() < Duration::from_secs(3));
    // A body that arrives in time is read whole.
    let resp = support::send(addr, "POST", "/upload", &"b".repeat(5000)).await;
    assert_eq!((resp.status, resp.text()), (200, "5000".to_owned()));
    running.stop().await;
}

#[tokio::test]
async fn a_head_that_stops_arriving_is_closed_after_the_read_timeout() {
    let mut options = support::test_options();
    options.http.read_timeout = 0.5;
    let (running, addr) = start(options).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
    assert!(closed_silently(&mut stream, Duration::from_secs(3)).await);
    running.stop().await;
}

// A graceful stop does not wait for an upload that stalled: it is answered 408 a second
// after the drain began, although its read timeout is 30 s.
#[tokio::test]
async fn a_stalled_upload_does_not_hold_the_stop() {
    let (running, addr) = start(support::test_options()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let answer = tokio::spawn(async move { support::read_response(&mut stream, false).await });
    running.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the stop took {:?}",
        started.elapsed()
    );
    let resp = answer.await.unwrap().expect("an answer");
    assert_eq!(resp.status, 408);
}

// Requests with a body and no route are answered without reading the body: a 90 MiB body
// that is never sent still gets its 404 (and a 405 for a path with other methods), and the
// connection is closed after it.
#[tokio::test]
async fn unroutable_requests_are_answered_without_reading_their_body() {
    let (running, addr) = start(support::test_options()).await;
    for (request, status) in [
        ("POST /nowhere HTTP/1.1", 404),
        ("PUT /upload HTTP/1.1", 405),
    ] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = format!("{request}\r\nHost: x\r\nContent-Length: 94371840\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&[b'x'; 1024]).await.unwrap();
        let resp = tokio::time::timeout(
            Duration::from_secs(5),
            support::read_response(&mut stream, false),
        )
        .await
        .expect("answered before the body arrived")
        .expect("an answer");
        assert_eq!(resp.status, status, "{request}");
        assert_eq!(resp.header("connection"), Some("close"));
    }
    // A chunked body without a route, too.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /nowhere HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n",
        )
        .await
        .unwrap();
    let resp = support::read_response(&mut stream, false).await.unwrap();
    assert_eq!(resp.status, 404);
    running.stop().await;
}

#[tokio::test]
async fn a_half_closed_connection_gets_its_answer() {
    let (running, addr) = start(support::test_options()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        .await
        .unwrap();
    stream.shutdown().await.unwrap();
    let resp = support::read_response(&mut stream, false)
        .await
        .expect("an answer after the client's FIN");
    assert_eq!((resp.status, resp.text()), (200, "3".to_owned()));
    running.stop().await;
}

#[tokio::test]
async fn http_1_1_without_host_is_a_bad_request() {
    let (running, addr) = start(support::test_options()).await;
    let resp = support::raw(addr, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.text(), "Bad Request: missing Host header");
    let resp = support::raw(addr, b"GET / HTTP/1.0\r\n\r\n").await;
    assert_eq!((resp.status, resp.text()), (200, "hello".to_owned()));
    running.stop().await;
}

// At `max_connections` open connections, the next one waits (in the listen backlog) until
// one closes, and a warning names the limit.
#[tokio::test]
async fn the_connection_limit_holds_new_connections_until_one_closes() {
    let (capture, _guard) = support::capture_logs(LogFormat::Json);
    let mut options = support::test_options();
    options.http.max_connections = 2;
    options.http.keepalive_timeout = 30.0;
    let (running, addr) = start(options).await;
    let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let resp = support::read_response(&mut stream, false).await.unwrap();
        assert_eq!(resp.status, 200);
        open.push(stream);
    }
    let mut third = TcpStream::connect(addr).await.unwrap();
    third.write_all(request).await.unwrap();
    let waiting = tokio::time::timeout(
        Duration::from_millis(300),
        support::read_response(&mut third, false),
    )
    .await;
    assert!(waiting.is_err(), "the third connection is not served yet");
    drop(open.remove(0));
    let resp = tokio::time::timeout(
        Duration::from_secs(5),
        support::read_response(&mut third, false),
    )
    .await
    .expect("served once a connection closed")
    .unwrap();
    assert_eq!(resp.status, 200);
    drop(open);
    drop(third);
    running.stop().await;
    let logs = capture.contents();
    let warning = logs
        .lines()
        .find(|l| l.contains("connection limit reached"))
        .unwrap_or_else(|| panic!("no warning in {logs}"));
    assert!(warning.contains("\"max_connections\": 2"), "{warning}");
}
