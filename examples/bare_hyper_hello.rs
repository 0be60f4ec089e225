//! The ceiling for the `hello` benchmark: a plain hyper 1 + hyper-util server, no tomodachi.
//! Any `GET` answers `200 hello` (`content-type: text/plain`); the runtime is tokio's
//! multi-thread one, as in tomodachi. Driven by `benches/http_compare.sh`.
//!
//! ```sh
//! cargo run --release --example bare_hyper_hello                  # keep-alive on
//! cargo run --release --example bare_hyper_hello -- --no-keepalive # every response closes
//! curl -v http://127.0.0.1:9803/
//! ```
//!
//! `HTTP_PORT` sets the port on 127.0.0.1 (default 9803). With `--no-keepalive` hyper's http1
//! keep-alive is off, so every response carries `Connection: close`. SIGTERM or Ctrl-C stops it.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut res = Response::new(Full::new(Bytes::from_static(b"hello")));
    if req.method() == Method::GET {
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/plain"),
        );
    } else {
        *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        *res.body_mut() = Full::new(Bytes::new());
    }
    Ok(res)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> std::io::Result<()> {
    let keep_alive = !std::env::args().skip(1).any(|a| a == "--no-keepalive");
    let port: u16 = std::env::var("HTTP_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(9803);
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    let mut sigterm = signal(SignalKind::terminate())?;
    println!("bare hyper listening on http://127.0.0.1:{port}/ (keep-alive {keep_alive})");

    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    eprintln!("accept error: {e}");
                    continue;
                }
            },
            _ = sigterm.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let mut builder = http1::Builder::new();
            builder.timer(TokioTimer::new()).keep_alive(keep_alive);
            // Errors here are clients going away mid-request; nothing to report for a benchmark.
            let _ = builder
                .serve_connection(TokioIo::new(stream), service_fn(hello))
                .await;
        });
    }
    Ok(())
}
