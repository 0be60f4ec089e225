//! Chaos against nats-servers of the tests' own (never the shared one): the server restarted
//! while messages flow, a service killed with `kill -9` in the middle of a handler, streams
//! with conflicting settings at start. The kill test runs the `nats_slow_count` fixture
//! (`cargo build --workspace --examples --bins` first; `scripts/test.sh` does that).

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use common::process::{free_port, http_get, Proc};
use common::{eventually, TestNats};
use serde_json::json;
use tomodachi::envelope::{JsonBase, SharedEnvelope};
use tomodachi::message::Data;
use tomodachi::transport::TransportContext;
use tomodachi::{App, ServiceBuilder};
use tomodachi_nats::{NatsConfig, NatsServiceBuilderExt, NatsSubscription};

fn json_base(subject: &str, data: &serde_json::Value) -> String {
    let ctx = TransportContext::new("chaos-sender", "c0", Default::default());
    let envelope: SharedEnvelope = Arc::new(JsonBase);
    tomodachi::message::build_body(&ctx, Some(&envelope), subject, data).expect("a body")
}

/// Publishes through JetStream until the stream acknowledges it; the message id makes the
/// stream drop a retried publish it already stored.
async fn publish_until_stored(js: &jetstream::Context, subject: &str, id: &str, body: String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", id);
        let stored = async {
            js.publish_with_headers(subject.to_owned(), headers, body.clone().into())
                .await
                .map_err(|e| e.to_string())?
                .await
                .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(Duration::from_secs(2), stored).await {
            Ok(Ok(_)) => return,
            _ => {
                assert!(Instant::now() < deadline, "message {id} never stored");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_while_messages_flow_loses_no_message() {
    const N: u64 = 300;
    let mut nats = TestNats::start_own().await;
    let subject = "chaos.flow";
    let handled: Arc<Mutex<BTreeMap<u64, u32>>> = Arc::default();
    let service = ServiceBuilder::from_arc("chaos-flow", handled.clone())
        .message_envelope(JsonBase)
        .nats_config(NatsConfig::new().servers([nats.url.clone()]))
        .nats(
            NatsSubscription::new(subject)
                .name("on_flow")
                .ack_wait(Duration::from_secs(2)),
            |seen: Arc<Mutex<BTreeMap<u64, u32>>>, Data(n): Data<u64>| async move {
                tokio::time::sleep(Duration::from_millis(2)).await;
                *seen.lock().unwrap().entry(n).or_default() += 1;
            },
        )
        .build();
    let app = App::new().service(service).start().await.expect("started");

    let publisher_client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(&nats.url)
        .await
        .expect("connect");
    let js = jetstream::new(publisher_client);
    let publisher = tokio::spawn(async move {
        for n in 0..N {
            publish_until_stored(
                &js,
                subject,
                &format!("m{n}"),
                json_base(subject, &json!(n)),
            )
            .await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    eventually("a third handled", || {
        handled.lock().unwrap().len() as u64 >= N / 3
    })
    .await;
    nats.restart().await;
    publisher.await.expect("every message stored");
    let deadline = Instant::now() + Duration::from_secs(60);
    while (handled.lock().unwrap().len() as u64) < N {
        assert!(
            Instant::now() < deadline,
            "lost messages: {} of {N} handled",
            handled.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let handled = handled.lock().unwrap().clone();
    let duplicates: u32 = handled.values().map(|c| c - 1).sum();
    eprintln!("server restart: {N} messages, 0 lost, {duplicates} handled twice or more");
    assert_eq!(handled.len() as u64, N, "0 lost");
    assert!(handled.keys().copied().eq(0..N));
    assert_eq!(app.stop().await, 0);
}

#[tokio::test]
async fn a_stream_of_the_same_name_with_other_subjects_fails_the_start_naming_it() {
    let nats = TestNats::start_own().await;
    let subject = "chaos.conflict";
    let stream = tomodachi_nats::stream_name(subject, "");
    let js = jetstream::new(nats.client().await);
    js.create_stream(jetstream::stream::Config {
        name: stream.clone(),
        subjects: vec!["somewhere.else".to_owned()],
        ..Default::default()
    })
    .await
    .expect("the conflicting stream");
    let service = tomodachi::Service::builder("chaos-conflict", ())
        .nats_config(NatsConfig::new().servers([nats.url.clone()]))
        .nats(NatsSubscription::new(subject), |_s: Arc<()>| async {})
        .build();
    let error = match App::new().service(service).start().await {
        Ok(app) => {
            app.stop().await;
            panic!("started with a conflicting stream");
        }
        Err(e) => e.to_string(),
    };
    assert!(error.contains(&stream), "{error}");
    assert!(error.contains("somewhere.else"), "{error}");
}

#[tokio::test]
async fn another_stream_capturing_the_subject_fails_the_start_naming_it() {
    let nats = TestNats::start_own().await;
    let js = jetstream::new(nats.client().await);
    js.create_stream(jetstream::stream::Config {
        name: "OPS_ORDERS".to_owned(),
        subjects: vec!["chaos.orders.>".to_owned()],
        ..Default::default()
    })
    .await
    .expect("the operators' stream");
    let service = tomodachi::Service::builder("chaos-overlap", ())
        .nats_config(NatsConfig::new().servers([nats.url.clone()]))
        .nats(
            NatsSubscription::new("chaos.orders.created"),
            |_s: Arc<()>| async {},
        )
        .build();
    let error = match App::new().service(service).start().await {
        Ok(app) => {
            app.stop().await;
            panic!("started with an overlapping stream");
        }
        Err(e) => e.to_string(),
    };
    assert!(error.contains("OPS_ORDERS"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_handler_loses_no_message() {
    let nats = TestNats::start_own().await;
    let subject = "chaos.kill";
    let port = free_port();
    let config =
        std::env::temp_dir().join(format!("nats-chaos-{}-{port}.json", std::process::id()));
    std::fs::write(
        &config,
        json!({"options": {"http": {"host": "127.0.0.1", "port": port, "access_log": false},
                           "nats": {"servers": [nats.url.clone()]}}})
        .to_string(),
    )
    .expect("config file");
    let env = |sleep: &'static str| {
        [
            ("SUBJECT", subject),
            ("HANDLER_SLEEP_MS", sleep),
            ("ACK_WAIT_MS", "1000"),
        ]
    };
    let mut first = Proc::spawn("nats_slow_count", &config, &env("60000"));
    first.wait_line("started service successfully");
    let js = jetstream::new(nats.client().await);
    publish_until_stored(&js, subject, "kill-1", json_base(subject, &json!({"n": 1}))).await;
    let handling = first.wait_line("handling ");
    assert!(handling.ends_with("delivered=1"), "{handling}");
    // in-progress acks keep the message with the first process although its handler runs
    // longer than the ack wait
    tokio::time::sleep(Duration::from_millis(2500)).await;
    first.child.kill().expect("kill -9");
    first.child.wait().expect("killed");

    let second = Proc::spawn("nats_slow_count", &config, &env("0"));
    second.wait_line("started service successfully");
    let redelivered = second.wait_line("handling ");
    let uuid = |line: &str| line.split_whitespace().nth(1).map(str::to_owned);
    assert_eq!(uuid(&redelivered), uuid(&handling), "the same message");
    assert!(
        redelivered.ends_with("delivered=2"),
        "delivered once more, not more often: {redelivered}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if http_get(port, "/count").await.as_deref() == Some("1") {
            break;
        }
        assert!(Instant::now() < deadline, "the message was not counted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = std::fs::remove_file(&config);
}
