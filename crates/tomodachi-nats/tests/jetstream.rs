//! The transport against a real nats-server with JetStream (see `common`).

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use common::{eventually, unique, TestNats};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tomodachi::envelope::{JsonBase, SharedEnvelope};
use tomodachi::message::Data;
use tomodachi::transport::TransportContext;
use tomodachi::{App, Error, RunningApp, Service, ServiceBuilder};
use tomodachi_nats::{
    NatsConfig, NatsDelivery, NatsServiceBuilderExt, NatsSubscription, PublishOptions,
};

fn builder<S: Send + Sync + 'static>(
    nats: &TestNats,
    name: &str,
    state: Arc<S>,
) -> ServiceBuilder<S> {
    ServiceBuilder::from_arc(name, state)
        .message_envelope(JsonBase)
        .nats_config(NatsConfig::new().servers([nats.url.clone()]))
}

async fn start(service: Service) -> RunningApp {
    App::new()
        .service(service)
        .start()
        .await
        .expect("service starts")
}

/// A JsonBase body as another service would publish it.
fn json_base(subject: &str, data: &Value) -> String {
    let ctx = TransportContext::new(
        "sender",
        "0f6c2d1e-8a55-4c3b-9e8f-1d2c3b4a5f60",
        Default::default(),
    );
    let envelope: SharedEnvelope = Arc::new(JsonBase);
    tomodachi::message::build_body(&ctx, Some(&envelope), subject, data).expect("a body")
}

/// Publishes through JetStream and waits for the stream's acknowledgement.
async fn send(nats: &TestNats, subject: &str, body: String) {
    let js = jetstream::new(nats.client().await);
    js.publish(subject.to_owned(), body.into())
        .await
        .expect("published")
        .await
        .expect("stored");
}

/// The durable consumer's (ack pending, pending, redelivered) counts.
async fn consumer_counts(
    nats: &TestNats,
    subject: &str,
    service: &str,
    handler: &str,
) -> (usize, u64, usize) {
    let js = jetstream::new(nats.client().await);
    let mut consumer: jetstream::consumer::PullConsumer = js
        .get_stream(tomodachi_nats::stream_name(subject, ""))
        .await
        .expect("stream")
        .get_consumer(&tomodachi_nats::durable_name(service, handler, subject, ""))
        .await
        .expect("consumer");
    let info = consumer.info().await.expect("info");
    (info.num_ack_pending, info.num_pending, info.num_redelivered)
}

async fn settled(nats: &TestNats, subject: &str, service: &str, handler: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (ack_pending, pending, _) = consumer_counts(nats, subject, service, handler).await;
        if ack_pending == 0 && pending == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "messages never settled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn delivers_json_base_data_to_the_handler() {
    let nats = TestNats::start().await;
    let subject = unique("orders.created");
    let seen = Arc::new(Mutex::new(Vec::<(Value, NatsDelivery)>::new()));
    let service = builder(&nats, "deliver", seen.clone())
        .nats(
            NatsSubscription::new(&subject),
            |seen: Arc<Mutex<Vec<(Value, NatsDelivery)>>>,
             Data(data): Data<Value>,
             d: NatsDelivery| async move {
                seen.lock().unwrap().push((data, d));
            },
        )
        .build();
    let app = start(service).await;
    // with a header of the publisher's: the handler sees it
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("x-tenant", "acme");
    jetstream::new(nats.client().await)
        .publish_with_headers(
            subject.clone(),
            headers,
            json_base(&subject, &json!({"id": 7})).into(),
        )
        .await
        .expect("published")
        .await
        .expect("stored");
    eventually("the handler ran", || !seen.lock().unwrap().is_empty()).await;
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].0, json!({"id": 7}));
        assert_eq!(seen[0].1.subject, subject);
        assert_eq!(seen[0].1.delivered, 1);
        let tenant = seen[0].1.headers.as_ref().and_then(|h| h.get("x-tenant"));
        assert_eq!(tenant.map(|v| v.as_str()), Some("acme"));
    }
    settled(&nats, &subject, "deliver", &subject).await;
    assert_eq!(app.stop().await, 0);
}

#[tokio::test]
async fn a_failed_message_is_redelivered_then_acknowledged() {
    let nats = TestNats::start().await;
    let subject = unique("retry");
    let deliveries = Arc::new(Mutex::new(Vec::<u32>::new()));
    let service = builder(&nats, "retry", deliveries.clone())
        .nats(
            NatsSubscription::new(&subject).name("on_retry"),
            |seen: Arc<Mutex<Vec<u32>>>, d: NatsDelivery| async move {
                seen.lock().unwrap().push(d.delivered);
                if d.delivered == 1 {
                    return Err(Error::msg("first delivery fails"));
                }
                Ok(())
            },
        )
        .build();
    let app = start(service).await;
    send(&nats, &subject, json_base(&subject, &json!(1))).await;
    eventually("the second delivery", || {
        deliveries.lock().unwrap().len() >= 2
    })
    .await;
    settled(&nats, &subject, "retry", "on_retry").await;
    assert_eq!(*deliveries.lock().unwrap(), [1, 2]);
    assert_eq!(app.stop().await, 0);
}

/// A core subscription to a dead-letter subject, with its client (which must outlive it).
async fn dead_letters(
    nats: &TestNats,
    subject: &str,
) -> (async_nats::Client, async_nats::Subscriber) {
    let client = nats.client().await;
    let sub = client
        .subscribe(subject.to_owned())
        .await
        .expect("subscribe");
    client.flush().await.expect("flush");
    (client, sub)
}

async fn next_within(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(Duration::from_secs(20), sub.next())
        .await
        .expect("a dead letter in time")
        .expect("a dead letter")
}

#[tokio::test]
async fn a_message_failing_max_deliver_times_is_dead_lettered() {
    let nats = TestNats::start().await;
    let subject = unique("poison");
    let (_client, mut dlq) = dead_letters(&nats, &format!("{subject}.dlq")).await;
    let attempts = Arc::new(AtomicU32::new(0));
    let service = builder(&nats, "dlq", attempts.clone())
        .nats(
            NatsSubscription::new(&subject)
                .name("on_poison")
                .max_deliver(3),
            |n: Arc<AtomicU32>| async move {
                n.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(Error::msg("always fails"))
            },
        )
        .build();
    let app = start(service).await;
    let body = json_base(&subject, &json!({"poison": true}));
    send(&nats, &subject, body.clone()).await;
    let dead = next_within(&mut dlq).await;
    assert_eq!(String::from_utf8_lossy(&dead.payload), body);
    let headers = dead.headers.expect("headers");
    assert!(headers
        .get("x-tomodachi-error")
        .map(|v| v.as_str().contains("gave up after 3 deliveries"))
        .unwrap_or(false));
    settled(&nats, &subject, "dlq", "on_poison").await;
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    assert_eq!(app.stop().await, 0);
}

#[tokio::test]
async fn an_undecodable_message_is_dead_lettered_and_not_redelivered() {
    let nats = TestNats::start().await;
    let subject = unique("garbage");
    let dlq_subject = unique("garbage-dlq");
    let (_client, mut dlq) = dead_letters(&nats, &dlq_subject).await;
    let handled = Arc::new(AtomicU32::new(0));
    let service = builder(&nats, "garbage", handled.clone())
        .nats(
            NatsSubscription::new(&subject)
                .name("on_garbage")
                .dead_letter_subject(&dlq_subject),
            |n: Arc<AtomicU32>, Data(_): Data<Value>| async move {
                n.fetch_add(1, Ordering::SeqCst);
            },
        )
        .build();
    let app = start(service).await;
    send(&nats, &subject, "{not json".to_owned()).await;
    let dead = next_within(&mut dlq).await;
    assert_eq!(&dead.payload[..], b"{not json");
    settled(&nats, &subject, "garbage", "on_garbage").await;
    let (_, _, redelivered) = consumer_counts(&nats, &subject, "garbage", "on_garbage").await;
    assert_eq!(
        redelivered, 0,
        "an undecodable message is never delivered again"
    );
    assert_eq!(handled.load(Ordering::SeqCst), 0);
    assert_eq!(app.stop().await, 0);
}

#[tokio::test]
async fn two_instances_compete_for_the_messages() {
    let nats = TestNats::start().await;
    let subject = unique("work");
    let handled: Arc<Mutex<Vec<(usize, u64)>>> = Arc::default();
    let instance = |i: usize| {
        let handled = handled.clone();
        builder(&nats, "worker", Arc::new(()))
            .nats(
                NatsSubscription::new(&subject).name("on_work"),
                move |_s: Arc<()>, Data(n): Data<u64>| {
                    let handled = handled.clone();
                    async move {
                        handled.lock().unwrap().push((i, n));
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                },
            )
            .build()
    };
    let first = start(instance(0)).await;
    let second = start(instance(1)).await;
    for n in 0..40u64 {
        send(&nats, &subject, json_base(&subject, &json!(n))).await;
    }
    eventually("all 40 handled", || handled.lock().unwrap().len() >= 40).await;
    settled(&nats, &subject, "worker", "on_work").await;
    {
        let handled = handled.lock().unwrap();
        assert_eq!(handled.len(), 40, "each message handled once");
        let mut numbers: Vec<u64> = handled.iter().map(|(_, n)| *n).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), 40);
        assert!(
            handled.iter().any(|(i, _)| *i == 0),
            "the first instance got work"
        );
        assert!(
            handled.iter().any(|(i, _)| *i == 1),
            "the second instance got work"
        );
    }
    assert_eq!(first.stop().await, 0);
    assert_eq!(second.stop().await, 0);
}

#[tokio::test]
async fn a_graceful_stop_finishes_the_in_flight_message() {
    let nats = TestNats::start().await;
    let subject = unique("slow");
    #[derive(Default)]
    struct Gate {
        started: AtomicBool,
        stopping: AtomicBool,
        finished: AtomicBool,
    }
    let gate = Arc::new(Gate::default());
    let service = builder(&nats, "slow", Arc::new(()))
        .nats(NatsSubscription::new(&subject).name("on_slow"), {
            let gate = gate.clone();
            move |_s: Arc<()>| {
                let gate = gate.clone();
                async move {
                    gate.started.store(true, Ordering::SeqCst);
                    // finishes only once the stop has begun
                    while !gate.stopping.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    // longer than the transport's last pull lasts (1 s): the stop must
                    // wait for the handler itself
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    gate.finished.store(true, Ordering::SeqCst);
                }
            }
        })
        .on_stopping({
            let gate = gate.clone();
            move |_s: Arc<()>| async move {
                gate.stopping.store(true, Ordering::SeqCst);
            }
        })
        .build();
    let app = start(service).await;
    send(&nats, &subject, json_base(&subject, &json!("slow"))).await;
    eventually("the handler started", || {
        gate.started.load(Ordering::SeqCst)
    })
    .await;
    assert_eq!(app.stop().await, 0);
    assert!(
        gate.finished.load(Ordering::SeqCst),
        "the stop waited for the handler"
    );
    // acknowledged before the connection closed: nothing pending, nothing to redeliver
    let (ack_pending, pending, _) = consumer_counts(&nats, &subject, "slow", "on_slow").await;
    assert_eq!((ack_pending, pending), (0, 0));
}

/// A stop `nak`s what the stopping instance holds but has not started, and ends its pull: the
/// next instance gets those messages at once, not after the 30 s ack wait.
#[tokio::test]
async fn a_stop_hands_the_messages_not_started_to_the_next_instance_at_once() {
    let nats = TestNats::start().await;
    let subject = unique("handover");
    let handled: Arc<Mutex<Vec<(usize, u64)>>> = Arc::default();
    let instance = |i: usize, pause: Duration| {
        let handled = handled.clone();
        builder(&nats, "handover", Arc::new(()))
            .nats(
                NatsSubscription::new(&subject)
                    .name("on_work")
                    .max_in_flight(2),
                move |_s: Arc<()>, Data(n): Data<u64>| {
                    let handled = handled.clone();
                    async move {
                        tokio::time::sleep(pause).await;
                        handled.lock().unwrap().push((i, n));
                    }
                },
            )
            .build()
    };
    let first = start(instance(0, Duration::from_millis(300))).await;
    for n in 0..30u64 {
        send(&nats, &subject, json_base(&subject, &json!(n))).await;
    }
    eventually("the first instance handled one", || {
        !handled.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(first.stop().await, 0);
    let by_first = handled.lock().unwrap().len();
    assert!(by_first < 30, "the first instance had not handled them all");
    let second = start(instance(1, Duration::ZERO)).await;
    // within `eventually`'s 20 s, well before the 30 s ack wait would hand them over
    eventually("all 30 handled", || handled.lock().unwrap().len() >= 30).await;
    settled(&nats, &subject, "handover", "on_work").await;
    let mut numbers: Vec<u64> = handled.lock().unwrap().iter().map(|(_, n)| *n).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), 30, "each message handled once");
    assert_eq!(second.stop().await, 0);
}

#[tokio::test]
async fn publish_builds_the_services_envelope_for_core_subscribers() {
    let nats = TestNats::start().await;
    let subject_in = unique("in");
    let subject_out = unique("out");
    let client = nats.client().await;
    let mut out = client
        .subscribe(subject_out.clone())
        .await
        .expect("subscribe");
    client.flush().await.expect("flush");
    let target = subject_out.clone();
    let service = builder(&nats, "republisher", Arc::new(target))
        .nats(
            NatsSubscription::new(&subject_in),
            |target: Arc<String>, Data(data): Data<Value>| async move {
                tomodachi_nats::publish(&json!({"echo": data}), &target).await
            },
        )
        .build();
    let app = start(service).await;
    send(&nats, &subject_in, json_base(&subject_in, &json!(42))).await;
    let message = tokio::time::timeout(Duration::from_secs(20), out.next())
        .await
        .expect("published in time")
        .expect("a message");
    let body: Value = serde_json::from_slice(&message.payload).expect("JSON");
    assert_eq!(body["service"]["name"], "republisher");
    assert_eq!(body["metadata"]["topic"], subject_out.as_str());
    assert_eq!(body["data"], json!({"echo": 42}));
    assert_eq!(app.stop().await, 0);
}

#[tokio::test]
async fn an_unreachable_server_fails_the_start_naming_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("nats://127.0.0.1:{port}");
    let service = Service::builder("unreachable", ())
        .nats_config(NatsConfig::new().servers([url.clone()]))
        .nats(NatsSubscription::new("never"), |_s: Arc<()>| async {})
        .build();
    let error = match App::new().service(service).start().await {
        Ok(app) => {
            app.stop().await;
            panic!("started without a server");
        }
        Err(e) => e.to_string(),
    };
    assert!(error.contains(&url), "{error}");
}

#[tokio::test]
async fn the_name_prefix_names_streams_and_consumers() {
    let nats = TestNats::start().await;
    let subject = unique("prefixed");
    let prefix = "pfx-";
    let handled = Arc::new(AtomicU32::new(0));
    let service = ServiceBuilder::from_arc("prefixed", handled.clone())
        .message_envelope(JsonBase)
        .nats_config(
            NatsConfig::new()
                .servers([nats.url.clone()])
                .name_prefix(prefix),
        )
        .nats(
            NatsSubscription::new(&subject).name("on_prefixed"),
            |n: Arc<AtomicU32>| async move {
                n.fetch_add(1, Ordering::SeqCst);
            },
        )
        .build();
    let app = start(service).await;
    let js = jetstream::new(nats.client().await);
    let stream = js
        .get_stream(tomodachi_nats::stream_name(&subject, prefix))
        .await
        .expect("the prefixed stream");
    assert!(stream
        .get_consumer::<jetstream::consumer::pull::Config>(&tomodachi_nats::durable_name(
            "prefixed",
            "on_prefixed",
            &subject,
            prefix
        ))
        .await
        .is_ok());
    assert!(js
        .get_stream(tomodachi_nats::stream_name(&subject, ""))
        .await
        .is_err());
    send(&nats, &subject, json_base(&subject, &json!(1))).await;
    eventually("handled", || handled.load(Ordering::SeqCst) == 1).await;
    assert_eq!(app.stop().await, 0);
}

#[tokio::test]
async fn the_drop_failure_policy_acknowledges_a_failed_message() {
    let nats = TestNats::start().await;
    let subject = unique("dropped");
    let attempts = Arc::new(AtomicU32::new(0));
    let service = builder(&nats, "dropper", attempts.clone())
        .message_failure_policy(tomodachi::message::FailurePolicy::Drop)
        .nats(
            NatsSubscription::new(&subject).name("on_drop"),
            |n: Arc<AtomicU32>| async move {
                n.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(Error::msg("fails once, dropped"))
            },
        )
        .build();
    let app = start(service).await;
    send(&nats, &subject, json_base(&subject, &json!(1))).await;
    eventually("handled", || attempts.load(Ordering::SeqCst) == 1).await;
    settled(&nats, &subject, "dropper", "on_drop").await;
    let (_, _, redelivered) = consumer_counts(&nats, &subject, "dropper", "on_drop").await;
    assert_eq!(redelivered, 0);
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    // a dead letter is stored by its stream before the message is terminated
    let js = jetstream::new(nats.client().await);
    let mut dlq_stream = js
        .get_stream(tomodachi_nats::stream_name(&format!("{subject}.dlq"), ""))
        .await
        .expect("the dead-letter stream");
    let stored = dlq_stream.info().await.expect("info").state.messages;
    assert_eq!(stored, 0, "a dropped message is not dead-lettered");
    assert_eq!(app.stop().await, 0);
}

#[tokio::test]
async fn publish_with_raw_and_acknowledged_options() {
    let nats = TestNats::start().await;
    let subject_in = unique("stored");
    let raw_out = unique("raw-out");
    let client = nats.client().await;
    let mut out = client.subscribe(raw_out.clone()).await.expect("subscribe");
    client.flush().await.expect("flush");
    let handled = Arc::new(AtomicU32::new(0));
    let service = builder(&nats, "options-publisher", handled.clone())
        .nats(
            NatsSubscription::new(&subject_in).name("on_stored"),
            |n: Arc<AtomicU32>| async move {
                n.fetch_add(1, Ordering::SeqCst);
            },
        )
        .build();
    let app = start(service).await;
    let options = || PublishOptions::new().service("options-publisher");
    tomodachi_nats::publish_with("plain text", &raw_out, options().raw())
        .await
        .expect("raw publish");
    let message = tokio::time::timeout(Duration::from_secs(20), out.next())
        .await
        .expect("in time")
        .expect("a message");
    assert_eq!(&message.payload[..], b"plain text");
    // acknowledged: stored by the subscription's stream, then handled
    tomodachi_nats::publish_with(&json!({"a": 1}), &subject_in, options().acknowledged())
        .await
        .expect("stored and acknowledged");
    eventually("handled", || handled.load(Ordering::SeqCst) == 1).await;
    // acknowledged without a stream for the subject: an error
    let no_stream = unique("nowhere");
    assert!(
        tomodachi_nats::publish_with(&json!(1), &no_stream, options().acknowledged())
            .await
            .is_err()
    );
    assert_eq!(app.stop().await, 0);
    // a stopped service has no connection to publish on
    assert!(tomodachi_nats::publish_with(&json!(1), &raw_out, options())
        .await
        .is_err());
}
