//! The raw ceiling of the AMQP benchmark (`benches/amqp_compare.sh`): plain lapin and tokio, no
//! tomodachi. It mirrors the shared baseline's `amqp_raw_consumer.py` (plain aioamqp):
//!
//! - the broker-side setup tomodachi does: a durable queue with `x-expires` = 86 400 000 ms
//!   (a signed 32-bit integer, as pamqp sends it), bound to `amq.topic` with routing key
//!   `bench.in`; `basic.qos` prefetch 100 per consumer, then 400 for the channel (global);
//! - the same work per message: parse the JsonBase envelope as JSON, look at
//!   `metadata.data_encoding` and `data`, count it, ack it (one `basic.ack` per message);
//! - the count as a plain integer on `GET /count` (any path answers), from a bare tokio
//!   responder with `Connection: close`.
//!
//! Two ways of consuming (`--tasks` / `RAW_TASKS=1`):
//!
//! - default, as the Python consumer: one delivery at a time, the ack awaited before the next
//!   delivery is taken;
//! - `--tasks`: every delivery is parsed and acked in its own tokio task, so deliveries are
//!   handled concurrently up to the prefetch, which is how this port's consumer dispatches
//!   them; this is the like-for-like ceiling for `examples/amqp_count.rs`.
//!
//! ```sh
//! cargo build --release -p tomodachi --example raw_lapin_consumer
//! target/release/examples/raw_lapin_consumer --port 9806 [--tasks] [--queue bench-raw-lapin]
//! ```
//!
//! env (the arguments win): `HTTP_PORT` (9806), `QUEUE` (`bench-raw-lapin`), `RAW_TASKS` (0),
//! `AMQP_URL` (`amqp://guest:guest@127.0.0.1:5672/%2f`), `ROUTING_KEY` (`bench.in`).
//! A bench binary: setup failures abort with a message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ConnectionProperties};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the command line and the environment ask for.
struct Config {
    port: u16,
    queue: String,
    routing_key: String,
    url: String,
    tasks: bool,
}

fn config() -> Config {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut c = Config {
        port: env("HTTP_PORT").map_or(9806, |p| p.parse().expect("HTTP_PORT is a port number")),
        queue: env("QUEUE").unwrap_or_else(|| "bench-raw-lapin".to_owned()),
        routing_key: env("ROUTING_KEY").unwrap_or_else(|| "bench.in".to_owned()),
        url: env("AMQP_URL").unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned()),
        tasks: env("RAW_TASKS").is_some_and(|v| v != "0"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--port" => c.port = value().parse().unwrap_or_else(|_| usage("--port N")),
            "--queue" => c.queue = value(),
            "--routing-key" => c.routing_key = value(),
            "--amqp-url" => c.url = value(),
            "--tasks" => c.tasks = true,
            _ => usage(&format!("unknown argument {arg}")),
        }
    }
    c
}

fn usage(why: &str) -> ! {
    eprintln!(
        "raw_lapin_consumer: {why}\nusage: raw_lapin_consumer [--port 9806] [--queue Q] \
         [--routing-key bench.in] [--amqp-url URL] [--tasks]"
    );
    std::process::exit(2)
}

/// The per-message work of `amqp_raw_consumer.py`: `json.loads`, look at the encoding and the
/// data, count, ack.
async fn handle(delivery: Delivery, count: &AtomicU64) {
    if let Ok(msg) = serde_json::from_slice::<serde_json::Value>(&delivery.data) {
        if msg["metadata"]["data_encoding"] == "raw" {
            std::hint::black_box(&msg["data"]);
        }
    }
    count.fetch_add(1, Ordering::Relaxed);
    if let Err(e) = delivery.acker.ack(BasicAckOptions::default()).await {
        eprintln!("raw_lapin_consumer: ack failed: {e}");
    }
}

/// `GET /count` (any request) -> the count as plain text, then close.
async fn serve_count(mut stream: TcpStream, count: Arc<AtomicU64>) {
    let mut buf = [0u8; 2048];
    let mut len = 0;
    while len < buf.len() && !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf[len..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => len += n,
        }
    }
    let body = count.load(Ordering::Relaxed).to_string();
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
}

#[tokio::main]
async fn main() {
    let c = config();
    let conn = Connection::connect(&c.url, ConnectionProperties::default())
        .await
        .expect("connect to RabbitMQ");
    let channel = conn.create_channel().await.expect("open a channel");
    channel
        .basic_qos(100, BasicQosOptions { global: false })
        .await
        .expect("basic.qos 100");
    channel
        .basic_qos(400, BasicQosOptions { global: true })
        .await
        .expect("basic.qos 400 global");
    let mut args = FieldTable::default();
    args.insert("x-expires".into(), AMQPValue::LongInt(86_400_000));
    channel
        .queue_declare(
            c.queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            args,
        )
        .await
        .expect("declare the queue");
    channel
        .queue_bind(
            c.queue.as_str().into(),
            "amq.topic".into(),
            c.routing_key.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind the queue to amq.topic");
    let mut consumer = channel
        .basic_consume(
            c.queue.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("basic.consume");

    let count = Arc::new(AtomicU64::new(0));
    let listener = TcpListener::bind(("127.0.0.1", c.port))
        .await
        .expect("bind the HTTP port");
    let served = count.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_count(stream, served.clone()));
        }
    });
    println!(
        "raw lapin consumer ready: queue={} http=127.0.0.1:{} mode={}",
        c.queue,
        c.port,
        if c.tasks { "tasks" } else { "inline" }
    );

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install the SIGTERM handler");
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            delivery = consumer.next() => match delivery {
                Some(Ok(delivery)) if c.tasks => {
                    let count = count.clone();
                    tokio::spawn(async move { handle(delivery, &count).await });
                }
                Some(Ok(delivery)) => handle(delivery, &count).await,
                Some(Err(e)) => {
                    eprintln!("raw_lapin_consumer: consumer failed: {e}");
                    std::process::exit(1);
                }
                None => break,
            }
        }
    }
    let _ = conn.close(200, "bye".into()).await;
}
