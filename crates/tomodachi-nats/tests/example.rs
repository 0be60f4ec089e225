//! `examples/nats_service.rs` as a process (`cargo build --workspace --examples --bins` first;
//! `scripts/test.sh` does that): HTTP port and NATS servers from `-c`; a JsonBase message on
//! `example.nats.in` comes out as a JsonBase message with the same data on `example.nats.out`,
//! seen by a plain core-NATS subscriber.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use common::process::{free_port, http_get, Proc};
use common::TestNats;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tomodachi::envelope::{JsonBase, SharedEnvelope};
use tomodachi::transport::TransportContext;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_republishes_json_base_data_to_example_nats_out() {
    // its own server: the example's subjects are fixed
    let nats = TestNats::start_own().await;
    let port = free_port();
    let config =
        std::env::temp_dir().join(format!("nats-example-{}-{port}.json", std::process::id()));
    std::fs::write(
        &config,
        json!({"options": {"http": {"host": "127.0.0.1", "port": port},
                           "nats": {"servers": [nats.url.clone()]}}})
        .to_string(),
    )
    .expect("config file");
    let service = Proc::spawn("nats_service", &config, &[]);
    service.wait_line("started service successfully");
    assert_eq!(http_get(port, "/health").await.as_deref(), Some("ok"));

    let client = nats.client().await;
    let mut out = client
        .subscribe("example.nats.out")
        .await
        .expect("subscribe");
    client.flush().await.expect("flush");
    let sender = TransportContext::new("example-sender", "e0", Default::default());
    let envelope: SharedEnvelope = Arc::new(JsonBase);
    let body = tomodachi::message::build_body(
        &sender,
        Some(&envelope),
        "example.nats.in",
        &json!({"order": 17, "items": ["a", "b"]}),
    )
    .expect("a body");
    let js = jetstream::new(client.clone());
    js.publish("example.nats.in", body.into())
        .await
        .expect("published")
        .await
        .expect("stored");
    let deadline = Instant::now() + Duration::from_secs(20);
    let message = tokio::time::timeout_at(deadline.into(), out.next())
        .await
        .expect("republished in time")
        .expect("a message");
    let republished: Value = serde_json::from_slice(&message.payload).expect("JSON");
    assert_eq!(republished["service"]["name"], "nats-example");
    assert_eq!(republished["metadata"]["topic"], "example.nats.out");
    assert_eq!(
        republished["data"],
        json!({"order": 17, "items": ["a", "b"]})
    );
    let _ = std::fs::remove_file(&config);
}
