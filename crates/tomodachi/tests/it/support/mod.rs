//! Test helpers: a raw HTTP/1.1 client (so malformed requests can be sent too) and a way to
//! start services on ephemeral loopback ports; the brokers, emulators and Python services the
//! tests run against.

pub mod aws_proxy;
pub mod eventually;
pub mod examples;
pub mod moto;
pub mod python;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response from `stream` (Content-Length framed, or until EOF).
pub async fn read_response(stream: &mut TcpStream, head_request: bool) -> Option<Resp> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let mut headers = HashMap::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let mut body = buf[header_end + 4..].to_vec();
    let len = if head_request {
        Some(0)
    } else {
        headers
            .get("content-length")
            .and_then(|v| v.parse::<usize>().ok())
    };
    match len {
        Some(len) => {
            while body.len() < len {
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
            body.truncate(len);
        }
        None => {
            let _ = stream.read_to_end(&mut body).await;
        }
    }
    Some(Resp {
        status,
        headers,
        body,
    })
}

/// Sends raw bytes on a new connection and reads one response.
pub async fn raw(addr: SocketAddr, request: &[u8]) -> Resp {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let head = request.starts_with(b"HEAD ");
    read_response(&mut stream, head).await.expect("a response")
}

/// `METHOD path` with an optional body, `Connection: close`.
pub async fn send(addr: SocketAddr, method: &str, path: &str, body: &str) -> Resp {
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test-client\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    raw(addr, req.as_bytes()).await
}

pub async fn get(addr: SocketAddr, path: &str) -> Resp {
    send(addr, "GET", path, "").await
}

/// A loopback port that was free a moment ago (for servers that cannot report the port they
/// bound, such as moto and Python tomodachi).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Options for a test service: loopback, ephemeral port, access log off unless asked.
pub fn test_options() -> tomodachi::Options {
    let mut o = tomodachi::Options::default();
    o.http.host = "127.0.0.1".into();
    o.http.port = 0;
    o.http.reuse_port = false;
    o.http.access_log = tomodachi::options::AccessLog::Disabled;
    o.http.termination_grace_period_seconds = 5;
    o
}

/// Publishes `body` as it is to `amq.topic` with `routing_key` on the real RabbitMQ
/// (127.0.0.1:5672) and waits for the broker's confirm.
pub async fn publish_raw_amqp(routing_key: &str, body: &[u8]) {
    let conn = lapin::Connection::connect(
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        lapin::ConnectionProperties::default(),
    )
    .await
    .expect("RabbitMQ must run on 127.0.0.1:5672 (scripts/test-env.sh starts it)");
    let channel = conn.create_channel().await.expect("a channel");
    channel
        .basic_publish(
            "amq.topic".into(),
            routing_key.into(),
            lapin::options::BasicPublishOptions::default(),
            body,
            lapin::BasicProperties::default(),
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
    let _ = conn.close(200, "done".into()).await;
}

/// Captures this thread's log records in `format` at `info` and above (hold the guard; use a
/// current-thread runtime so that the service's tasks log on this thread).
pub fn capture_logs(
    format: tomodachi::logging::LogFormat,
) -> (
    tomodachi::logging::CaptureWriter,
    tracing::subscriber::DefaultGuard,
) {
    use tomodachi::logging::{build_subscriber, CaptureWriter, LogLevel, LoggingConfig};
    let capture = CaptureWriter::new();
    let config = LoggingConfig {
        format,
        level: LogLevel::Info,
        color: false,
    };
    let guard = tracing::subscriber::set_default(build_subscriber(&config, capture.clone()));
    (capture, guard)
}
