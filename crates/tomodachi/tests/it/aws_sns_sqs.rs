//! The AWS SNS+SQS transport against a real emulator: each test starts its own moto server
//! (PyPI, from `.venv`; `scripts/test-env.sh` installs it) on an ephemeral loopback port. A
//! missing moto fails these tests; it never skips them. moto costs tens of milliseconds of CPU
//! per SNS→SQS message, so message counts stay small.

use crate::support::aws_proxy;
use crate::support::eventually;
use crate::support::examples as examples_bin;
use crate::support::moto;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use eventually::eventually;
use moto::Moto;
use serde_json::{json, Value};
use tomodachi::aws_sns_sqs::{
    AttributeValue, PublishOptions, SendOptions, SnsSqsDelivery, SnsSqsSubscription,
};
use tomodachi::envelope::{Envelope, JsonBase};
use tomodachi::message::{Message, MessageNext};
use tomodachi::{App, Error, Service};

const UUID: &str = "5d0b530f-5c44-4981-b01f-342801bd48f5";

/// What a handler saw.
#[derive(Debug, Clone)]
struct Seen {
    data: Value,
    info: SnsSqsDelivery,
    uuid: Option<String>,
}

type Log = Arc<Mutex<Vec<Seen>>>;
type Calls = Arc<Mutex<Vec<String>>>;
type Draining = (Arc<Mutex<Vec<u64>>>, Arc<Mutex<u32>>);

fn record(log: &Log, msg: &Message) -> Result<(), Error> {
    let data: Value = msg.data()?;
    log.lock().unwrap().push(Seen {
        data,
        info: msg.aws_sns_sqs().expect("sns+sqs values").clone(),
        uuid: msg.message_uuid().map(str::to_owned),
    });
    Ok(())
}

/// Publishes as the test's own service (tests run in parallel, each with its services).
async fn publish_as<T: serde::Serialize + ?Sized>(
    service: &str,
    data: &T,
    topic: &str,
    options: PublishOptions,
) -> Result<String, Error> {
    tomodachi::aws_sns_sqs::publish_with(data, topic, options.service(service)).await
}

/// Sends to a queue as the test's own service.
async fn send_message_as<T: serde::Serialize + ?Sized>(
    service: &str,
    data: &T,
    queue: &str,
    options: SendOptions,
) -> Result<String, Error> {
    tomodachi::aws_sns_sqs::send_message_with(data, queue, options.service(service)).await
}

async fn queue_attributes(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
) -> std::collections::HashMap<QueueAttributeName, String> {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default()
}

async fn queue_url(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.get_queue_url()
        .queue_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("queue {name}: {e:?}"))
        .queue_url
        .unwrap()
}

/// Messages in a queue, visible or in flight.
async fn messages_in(sqs: &aws_sdk_sqs::Client, url: &str) -> u64 {
    let a = queue_attributes(sqs, url).await;
    let n = |k: QueueAttributeName| a.get(&k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(QueueAttributeName::ApproximateNumberOfMessages)
        + n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_sequence_attributes_and_filter_policy_as_upstream() {
    let moto = Moto::start().await;
    let mut options = moto.options();
    options.aws_sns_sqs.topic_prefix = "pre-".into();
    options.aws_sns_sqs.queue_name_prefix = "qp-".into();
    let log: Log = Arc::default();
    let svc = Service::builder("awsprobe-0", log.clone())
        .uuid(UUID)
        .options(options)
        .message_envelope(JsonBase)
        .aws_sns_sqs(
            SnsSqsSubscription::topic("test-topic")
                .name("func")
                .filter_policy(json!({"currency": ["SEK"]}))
                .visibility_timeout(45)
                .dead_letter_queue("dlq", 3),
            |log: Arc<Log>, msg: Message| async move { record(&log, &msg) },
        )
        .build();
    let app = App::new().service(svc).start().await.unwrap();

    let sqs = moto.sqs().await;
    let sns = moto.sns().await;
    let url = queue_url(
        &sqs,
        "qp-45b56d76d14276da54c0ef65ca5c604ab9d0301bbebf4d6ad11e91dd496c2975",
    )
    .await;
    let attrs = queue_attributes(&sqs, &url).await;
    assert_eq!(attrs[&QueueAttributeName::VisibilityTimeout], "45");
    let redrive: Value = serde_json::from_str(&attrs[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(
        redrive["deadLetterTargetArn"],
        "arn:aws:sqs:eu-west-1:123456789012:qp-dlq"
    );
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "3"
    );
    let policy: Value = serde_json::from_str(&attrs[&QueueAttributeName::Policy]).unwrap();
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Action"], "SQS:SendMessage");
    assert_eq!(
        statement["Condition"]["ArnEquals"]["aws:SourceArn"],
        "arn:aws:sns:eu-west-1:123456789012:pre-test-topic"
    );
    let dlq = queue_url(&sqs, "qp-dlq").await;
    assert_eq!(
        queue_attributes(&sqs, &dlq).await[&QueueAttributeName::MessageRetentionPeriod],
        "1209600"
    );
    let subs = sns.list_subscriptions().send().await.unwrap();
    let sub = subs.subscriptions().first().expect("one subscription");
    assert_eq!(sub.protocol(), Some("sqs"));
    assert_eq!(
        sub.topic_arn(),
        Some("arn:aws:sns:eu-west-1:123456789012:pre-test-topic")
    );
    let sub_attrs = sns
        .get_subscription_attributes()
        .subscription_arn(sub.subscription_arn().unwrap())
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(sub_attrs["FilterPolicy"], r#"{"currency": ["SEK"]}"#);
    assert_eq!(sub_attrs["RawMessageDelivery"], "false");

    // publish from the running service, with typed attributes; EUR is filtered out
    let bytes: &[u8] = b"xy";
    let attributes = PublishOptions::new()
        .message_attribute("n", 4711)
        .message_attribute("f", 1.5)
        .message_attribute("b", bytes)
        .message_attribute("l", AttributeValue::list([json!("x"), json!(1)]))
        .message_attribute("t", true);
    publish_as(
        "awsprobe-0",
        &json!({"n": 1}),
        "test-topic",
        attributes.clone().message_attribute("currency", "EUR"),
    )
    .await
    .unwrap();
    let id = publish_as(
        "awsprobe-0",
        &json!({"n": 2}),
        "test-topic",
        attributes.message_attribute("currency", "SEK"),
    )
    .await
    .unwrap();
    eventually(20, "the SEK message", || !log.lock().unwrap().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = log.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let s = &seen[0];
    assert_eq!(s.data, json!({"n": 2}));
    assert!(s.uuid.is_some());
    assert_eq!(s.info.topic, "test-topic");
    assert_eq!(s.info.message_type, "Notification");
    assert_eq!(s.info.sns_message_id, id);
    assert!(!s.info.sqs_message_id.is_empty());
    assert!(s.info.message_timestamp.ends_with('Z'));
    assert_eq!(s.info.queue_url, url);
    assert_eq!(s.info.approximate_receive_count, Some(1));
    let a = &s.info.message_attributes;
    assert_eq!(a["currency"], AttributeValue::from("SEK"));
    assert_eq!(a["n"], AttributeValue::Int(4711));
    assert_eq!(a["f"], AttributeValue::Float(1.5));
    assert_eq!(a["b"], AttributeValue::Binary(b"xy".to_vec()));
    assert_eq!(a["l"], AttributeValue::list([json!("x"), json!(1)]));
    assert_eq!(a["t"], AttributeValue::from(true));
    let body: Value = serde_json::from_str(&s.info.raw_message_body).unwrap();
    assert_eq!(body["Type"], "Notification");
    assert_eq!(body["MessageAttributes"]["b"]["Value"], "eHk=");

    assert_eq!(app.stop().await, 0);
    eventually(10, "the handled message deleted", || true).await;
    assert_eq!(messages_in(&sqs, &url).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_message_to_a_queue_only_handler() {
    let moto = Moto::start().await;
    let mut options = moto.options();
    options.aws_sns_sqs.queue_name_prefix = "qp-".into();
    let log: Log = Arc::default();
    let svc = Service::builder("awsprobe-1", log.clone())
        .uuid(UUID)
        .options(options)
        .message_envelope(JsonBase)
        .aws_sns_sqs(
            SnsSqsSubscription::queue("direct").name("direct_handler"),
            |log: Arc<Log>, msg: Message| async move { record(&log, &msg) },
        )
        .build();
    let app = App::new().service(svc).start().await.unwrap();
    let id = send_message_as(
        "awsprobe-1",
        "hello",
        "direct",
        SendOptions::new()
            .message_attribute("k", "v")
            .message_attribute("n", 2),
    )
    .await
    .unwrap();
    eventually(20, "the direct message", || !log.lock().unwrap().is_empty()).await;
    let s = log.lock().unwrap()[0].clone();
    assert_eq!(s.data, json!("hello"));
    assert_eq!(s.info.topic, "");
    assert_eq!(s.info.message_type, "Message");
    assert_eq!(s.info.sns_message_id, "");
    assert_eq!(s.info.sqs_message_id, id);
    assert_eq!(s.info.message_attributes["k"], AttributeValue::from("v"));
    assert_eq!(s.info.message_attributes["n"], AttributeValue::Int(2));
    assert!(s.info.queue_url.ends_with("/123456789012/qp-direct"));
    // the upstream wrapper, key order and separators included
    assert!(
        s.info.raw_message_body.starts_with(&format!(
            r#"{{"Type": "Message", "QueueUrl": "{}", "Version": "0", "Message": ""#,
            s.info.queue_url
        )),
        "{}",
        s.info.raw_message_body
    );
    assert!(s.info.raw_message_body.ends_with(
        r#""MessageAttributes": {"k": {"Type": "String", "Value": "v"}, "n": {"Type": "Number", "Value": "2"}}}"#
    ));

    // a queue that does not exist is an error, and never created
    let err = send_message_as("awsprobe-1", "x", "missing-queue", SendOptions::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("non-existent"), "{err}");
    assert!(send_message_as(
        "awsprobe-1",
        "x",
        "direct",
        SendOptions::new().group_id("g")
    )
    .await
    .unwrap_err()
    .to_string()
    .contains("FIFO"));
    assert_eq!(app.stop().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_topic_and_queue_carry_group_and_deduplication_ids() {
    let moto = Moto::start().await;
    let log: Log = Arc::default();
    let svc = Service::builder("awsprobe-2", log.clone())
        .uuid(UUID)
        .options(moto.options())
        .message_envelope(JsonBase)
        .aws_sns_sqs(
            SnsSqsSubscription::topic("fifo-topic")
                .competing(true)
                .fifo(true),
            |log: Arc<Log>, msg: Message| async move { record(&log, &msg) },
        )
        .build();
    let app = App::new().service(svc).start().await.unwrap();
    let sqs = moto.sqs().await;
    let url = queue_url(
        &sqs,
        "657c31b3d26801811742ee09555f12946200883b6250d91d113b7b639c91fe33.fifo",
    )
    .await;
    let attrs = queue_attributes(&sqs, &url).await;
    assert_eq!(attrs[&QueueAttributeName::FifoQueue], "true");
    assert_eq!(
        attrs[&QueueAttributeName::ContentBasedDeduplication],
        "false"
    );
    for (n, group, dedup) in [(1, "g1", "d1"), (2, "g1", "d2")] {
        publish_as(
            "awsprobe-2",
            &json!({"n": n}),
            "fifo-topic",
            PublishOptions::new()
                .group_id(group)
                .deduplication_id(dedup),
        )
        .await
        .unwrap();
    }
    eventually(20, "two FIFO messages", || log.lock().unwrap().len() == 2).await;
    let seen = log.lock().unwrap().clone();
    assert_eq!(seen[0].data, json!({"n": 1}), "in order");
    assert_eq!(seen[1].data, json!({"n": 2}));
    assert_eq!(seen[0].info.message_group_id.as_deref(), Some("g1"));
    assert_eq!(seen[0].info.message_deduplication_id.as_deref(), Some("d1"));
    assert_eq!(seen[0].info.topic, "fifo-topic.fifo");
    assert_eq!(app.stop().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_subscriptions_get_the_message_text() {
    let moto = Moto::start().await;
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let svc = Service::builder("raw-probe-3", seen.clone())
        .options(moto.options())
        .aws_sns_sqs(
            SnsSqsSubscription::topic("raw-topic").raw(),
            |seen: Arc<Calls>, msg: Message| async move {
                let text: String = msg.data()?;
                seen.lock().unwrap().push(text);
                Ok::<_, Error>(())
            },
        )
        .build();
    let app = App::new().service(svc).start().await.unwrap();
    publish_as(
        "raw-probe-3",
        "plain text",
        "raw-topic",
        PublishOptions::new(),
    )
    .await
    .unwrap();
    eventually(20, "the raw message", || !seen.lock().unwrap().is_empty()).await;
    assert_eq!(seen.lock().unwrap()[0], "plain text");
    assert_eq!(app.stop().await, 0);
}

/// Polls the messages in a queue (visible or in flight) every 250 ms, up to `tries` times,
/// until there are `want`; returns the last count.
async fn settle_count(sqs: &aws_sdk_sqs::Client, url: &str, want: u64, tries: u32) -> u64 {
    let mut n = messages_in(sqs, url).await;
    for _ in 1..tries {
        if n == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        n = messages_in(sqs, url).await;
    }
    n
}

/// A handler that fails is redelivered after the visibility timeout (the receive count grows)
/// and lands in the dead-letter queue after `max_receive_count`; nothing is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_handlers_are_redelivered_then_dead_lettered() {
    let moto = Moto::start().await;
    let counts: Arc<Mutex<Vec<Option<u32>>>> = Arc::default();
    let svc = Service::builder("failing-4", counts.clone())
        .options(moto.options())
        .message_envelope(JsonBase)
        .aws_sns_sqs(
            SnsSqsSubscription::topic("fail-topic")
                .queue_name("fail-queue")
                .visibility_timeout(1)
                .dead_letter_queue("fail-dlq", 2),
            |counts: Arc<Arc<Mutex<Vec<Option<u32>>>>>, msg: Message| async move {
                counts
                    .lock()
                    .unwrap()
                    .push(msg.aws_sns_sqs().unwrap().approximate_receive_count);
                Err::<(), _>(Error::msg("always fails"))
            },
        )
        .build();
    let app = App::new().service(svc).start().await.unwrap();
    publish_as(
        "failing-4",
        &json!({"poison": true}),
        "fail-topic",
        PublishOptions::new(),
    )
    .await
    .unwrap();
    let sqs = moto.sqs().await;
    let dlq = queue_url(&sqs, "fail-dlq").await;
    eventually(30, "the message in the dead-letter queue", || {
        counts.lock().unwrap().len() >= 2
    })
    .await;
    let mut in_dlq = 0;
    for _ in 0..60 {
        in_dlq = messages_in(&sqs, &dlq).await;
        if in_dlq == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(in_dlq, 1, "receive counts: {:?}", counts.lock().unwrap());
    assert_eq!(&counts.lock().unwrap()[..2], &[Some(1), Some(2)]);
    assert_eq!(app.stop().await, 0);
}

/// Bodies that are not JSON, lack the notification's `Message`, or carry a broken envelope
/// are logged and left for the dead-letter queue; the consumer keeps going.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_bodies_go_to_the_dead_letter_queue() {
    let moto = Moto::start().await;
    let log: Log = Arc::default();
    let svc = Service::builder("bad-bodies-6", log.clone())
        .options(moto.options())
        .message_envelope(JsonBase)
        .aws_sns_sqs(
            SnsSqsSubscription::topic("bad-topic")
                .queue_name("bad-queue")
                .visibility_timeout(1)
                .dead_letter_queue("bad-dlq", 1),
            |log: Arc<Log>, msg: Message| async move { record(&log, &msg) },
        )
        .build();
    let app = App::new().service(svc).start().await.unwrap();
    let sqs = moto.sqs().await;
    let url = queue_url(&sqs, "bad-queue").await;
    for body in [
        "not json at all",
        r#"{"Type": "Notification"}"#,
        r#"{"Type": "Notification", "Message": "{broken envelope"}"#,
        "[1, 2]",
    ] {
        sqs.send_message()
            .queue_url(&url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    publish_as(
        "bad-bodies-6",
        &json!({"good": true}),
        "bad-topic",
        PublishOptions::new(),
    )
    .await
    .unwrap();
    eventually(20, "the good message", || !log.lock().unwrap().is_empty()).await;
    let dlq = queue_url(&sqs, "bad-dlq").await;
    let n = settle_count(&sqs, &dlq, 4, 80).await;
    assert_eq!(n, 4, "every bad body in the dead-letter queue");
    assert_eq!(log.lock().unwrap().len(), 1);
    assert_eq!(app.stop().await, 0);
}

/// When each delivery came, with its receive count.
type Deliveries = Arc<Mutex<Vec<(std::time::Instant, Option<u32>)>>>;

/// Without a dead-letter queue, a handler that always fails is not redelivered forever at the
/// queue's pace: each failure doubles the time before the next delivery (visibility timeout
/// 1 s: deliveries at about 0, 1, 3 and 7 s), and the receive count is logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_handlers_without_a_dead_letter_queue_back_off() {
    let moto = Moto::start().await;
    let seen: Deliveries = Arc::default();
    let svc = Service::builder("backoff-1", seen.clone())
        .options(moto.options())
        .message_envelope(JsonBase)
        .aws_sns_sqs(
            SnsSqsSubscription::queue("backoff-queue").visibility_timeout(1),
            |seen: Arc<Deliveries>, msg: Message| async move {
                let count = msg.aws_sns_sqs().unwrap().approximate_receive_count;
                seen.lock()
                    .unwrap()
                    .push((std::time::Instant::now(), count));
                Err::<(), _>(Error::msg("always fails"))
            },
        )
        .build();
    let app = App::new().service(svc).start().await.unwrap();
    send_message_as(
        "backoff-1",
        &json!({"poison": true}),
        "backoff-queue",
        SendOptions::new(),
    )
    .await
    .unwrap();
    eventually(30, "four deliveries", || seen.lock().unwrap().len() >= 4).await;
    let seen = seen.lock().unwrap().clone();
    let counts: Vec<Option<u32>> = seen.iter().map(|(_, c)| *c).collect();
    assert_eq!(&counts[..4], &[Some(1), Some(2), Some(3), Some(4)]);
    let gaps: Vec<f64> = seen
        .windows(2)
        .map(|w| (w[1].0 - w[0].0).as_secs_f64())
        .collect();
    // 1 s, then 2 s, then 4 s (the long poll and moto add a little to each).
    assert!(gaps[0] >= 0.8 && gaps[0] < 2.0, "gaps {gaps:?}");
    assert!(gaps[1] >= 1.8 && gaps[1] < 3.5, "gaps {gaps:?}");
    assert!(gaps[2] >= 3.8 && gaps[2] < 6.0, "gaps {gaps:?}");
    assert_eq!(app.stop().await, 0);
}

/// Without a dead-letter queue, a body that cannot be parsed is deleted (as upstream), not
/// redelivered forever; the consumer keeps going.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_bodies_without_a_dead_letter_queue_are_deleted() {
    let moto = Moto::start().await;
    let log: Log = Arc::default();
    let svc = Service::builder("bad-bodies-7", log.clone())
        .options(moto.options())
        .message_envelope(JsonBase)
        .aws_sns_sqs(
            SnsSqsSubscription::queue("bad-queue-no-dlq").visibility_timeout(1),
            |log: Arc<Log>, msg: Message| async move { record(&log, &msg) },
        )
        .build();
    let app = App::new().service(svc).start().await.unwrap();
    let sqs = moto.sqs().await;
    let url = queue_url(&sqs, "bad-queue-no-dlq").await;
    for body in ["not json at all", r#"{"Type": "Notification"}"#] {
        sqs.send_message()
            .queue_url(&url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    send_message_as(
        "bad-bodies-7",
        &json!({"good": true}),
        "bad-queue-no-dlq",
        SendOptions::new(),
    )
    .await
    .unwrap();
    eventually(20, "the good message", || !log.lock().unwrap().is_empty()).await;
    let n = settle_count(&sqs, &url, 0, 40).await;
    assert_eq!(n, 0, "the bad bodies are deleted");
    assert_eq!(log.lock().unwrap().len(), 1);
    assert_eq!(app.stop().await, 0);
}

/// The emulator restarts (losing every topic, queue and subscription): the consumer sets its
/// subscription up again and handles what is published afterwards, without a process restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_recovers_after_an_emulator_restart() {
    let mut moto = Moto::start().await;
    let log: Log = Arc::default();
    let svc = Service::builder("restart-7", log.clone())
        .options(moto.options())
        .message_envelope(JsonBase)
        .aws_sns_sqs(
            SnsSqsSubscription::topic("restart-topic").competing(true),
            |log: Arc<Log>, msg: Message| async move { record(&log, &msg) },
        )
        .build();
    let app = App::new().service(svc).start().await.unwrap();
    const N: u64 = 6;
    for n in 0..N / 2 {
        publish_as(
            "restart-7",
            &json!({"n": n}),
            "restart-topic",
            PublishOptions::new(),
        )
        .await
        .unwrap();
    }
    eventually(20, "the first half", || {
        log.lock().unwrap().len() as u64 == N / 2
    })
    .await;
    moto.restart().await;
    // the consumer sets up the queue, topic and subscription again
    let sqs = moto.sqs().await;
    let mut ready = false;
    for _ in 0..200 {
        let subs = moto.sns().await.list_subscriptions().send().await.unwrap();
        if !subs.subscriptions().is_empty() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "the subscription was not set up again");
    for n in N / 2..N {
        publish_as(
            "restart-7",
            &json!({"n": n}),
            "restart-topic",
            PublishOptions::new(),
        )
        .await
        .unwrap();
    }
    eventually(30, "every message", || {
        log.lock().unwrap().len() as u64 >= N
    })
    .await;
    let mut seen: Vec<u64> = log
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.data["n"].as_u64().unwrap())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen, (0..N).collect::<Vec<_>>());
    drop(sqs);
    assert_eq!(app.stop().await, 0);
}

/// A stop lets running handlers finish; their messages are deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_and_deletes_in_flight_messages() {
    let moto = Moto::start().await;
    let done: Arc<Mutex<Vec<u64>>> = Arc::default();
    let started: Arc<Mutex<u32>> = Arc::default();
    let state = (done.clone(), started.clone());
    let svc = Service::builder("draining-8", state)
        .options(moto.options())
        .message_envelope(JsonBase)
        .aws_sns_sqs(
            SnsSqsSubscription::queue("drain-queue"),
            |s: Arc<Draining>, msg: Message| async move {
                *s.1.lock().unwrap() += 1;
                tokio::time::sleep(Duration::from_millis(1500)).await;
                let data: Value = msg.data()?;
                s.0.lock().unwrap().push(data["n"].as_u64().unwrap());
                Ok::<_, Error>(())
            },
        )
        .build();
    let app = App::new().service(svc).start().await.unwrap();
    for n in 0..3 {
        send_message_as(
            "draining-8",
            &json!({"n": n}),
            "drain-queue",
            SendOptions::new(),
        )
        .await
        .unwrap();
    }
    eventually(20, "a handler running", || *started.lock().unwrap() > 0).await;
    let in_flight = *started.lock().unwrap() as usize;
    assert_eq!(app.stop().await, 0);
    assert_eq!(
        done.lock().unwrap().len(),
        in_flight,
        "running handlers finished"
    );
    let sqs = moto.sqs().await;
    let url = queue_url(&sqs, "drain-queue").await;
    assert_eq!(
        messages_in(&sqs, &url).await,
        3 - in_flight as u64,
        "handled messages deleted, the rest still queued"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_fails_clearly_on_bad_subscriptions() {
    let moto = Moto::start().await;
    let svc = Service::builder("bad-9", ())
        .options(moto.options())
        .aws_sns_sqs(
            SnsSqsSubscription::topic("t")
                .queue_name("q")
                .competing(false),
            |_s: Arc<()>, _m: Message| async {},
        )
        .build();
    let err = App::new().service(svc).start().await.err().unwrap();
    assert_eq!(
        err.to_string(),
        "AWS SQS queue with predefined queue name must be competing"
    );
    let svc = Service::builder("bad-9", ())
        .options(moto.options())
        .aws_sns_sqs(
            SnsSqsSubscription::topic("test.topic"),
            |_s: Arc<()>, _m: Message| async {},
        )
        .build();
    let err = App::new().service(svc).start().await.err().unwrap();
    assert!(err.to_string().contains("may only contain"), "{err}");
    let svc = Service::builder("bad-9", ())
        .options(moto.options())
        .aws_sns_sqs(
            SnsSqsSubscription::queue("plain-queue").fifo(true),
            |_s: Arc<()>, _m: Message| async {},
        )
        .build();
    let err = App::new().service(svc).start().await.err().unwrap();
    assert!(err.to_string().contains("queue"), "{err}");
}

mod macros {
    use std::sync::OnceLock;

    use tomodachi::http::Extension;

    use super::*;

    static ENDPOINT: OnceLock<tomodachi::Options> = OnceLock::new();

    fn macro_options() -> tomodachi::Options {
        ENDPOINT
            .get()
            .cloned()
            .expect("the test sets the endpoint first")
    }

    #[derive(Clone)]
    struct Stamp(u32);

    async fn stamp(_s: Arc<MacroSnsSqs>, mut msg: Message, next: MessageNext) -> Result<(), Error> {
        msg.extensions_mut().insert(Stamp(7));
        next.run(msg).await
    }

    #[derive(Default)]
    struct MacroSnsSqs {
        seen: Mutex<Vec<Value>>,
    }

    #[tomodachi::service(
        name = "sns-sqs-macro",
        options = macro_options(),
        message_envelope = JsonBase,
        message_middleware = [stamp]
    )]
    impl MacroSnsSqs {
        #[aws_sns_sqs(
            "macro-topic",
            competing = true,
            filter_policy = json!({"kind": ["order"]}),
            visibility_timeout = 30,
            dead_letter_queue_name = "macro-dlq",
            max_receive_count = 3
        )]
        #[allow(clippy::too_many_arguments)]
        async fn on_order(
            &self,
            data: Value,
            topic: String,
            message_attributes: tomodachi::aws_sns_sqs::MessageAttributes,
            message_type: String,
            approximate_receive_count: Option<u32>,
            sns_message_id: String,
            message_uuid: Option<String>,
            stamp: Extension<Stamp>,
        ) -> tomodachi::Result<()> {
            self.seen.lock().unwrap().push(json!({
                "data": data,
                "topic": topic,
                "kind": message_attributes["kind"].to_json(),
                "message_type": message_type,
                "count": approximate_receive_count,
                "sns_id_set": !sns_message_id.is_empty(),
                "uuid_set": message_uuid.is_some(),
                "stamp": stamp.0 .0,
            }));
            Ok(())
        }

        #[aws_sns_sqs(queue_name = "macro-queue", message_envelope = None)]
        async fn on_raw(&self, data: String, queue_url: String, message_group_id: Option<String>) {
            self.seen.lock().unwrap().push(json!({
                "raw": data,
                "queue": queue_url.rsplit('/').next(),
                "group": message_group_id,
            }));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn aws_sns_sqs_attribute_resolves_arguments_by_name_and_type() {
        let moto = Moto::start().await;
        let _ = ENDPOINT.set(moto.options());
        let running = App::new()
            .service(MacroSnsSqs::default())
            .start()
            .await
            .unwrap();
        let svc = tomodachi::get_service::<MacroSnsSqs>(Some("sns-sqs-macro")).unwrap();
        let as_svc = PublishOptions::new().service("sns-sqs-macro");
        for kind in ["other", "order"] {
            tomodachi::aws_sns_sqs::publish_with(
                &json!({"id": 42}),
                "macro-topic",
                as_svc.clone().message_attribute("kind", kind),
            )
            .await
            .unwrap();
        }
        tomodachi::aws_sns_sqs::send_message_with(
            "plain text",
            "macro-queue",
            SendOptions::new().service("sns-sqs-macro").raw(),
        )
        .await
        .unwrap();
        eventually(20, "both handlers", || svc.seen.lock().unwrap().len() >= 2).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let seen = svc.seen.lock().unwrap().clone();
        assert_eq!(
            seen.len(),
            2,
            "the filter policy drops kind=other: {seen:?}"
        );
        let order = seen.iter().find(|v| v.get("data").is_some()).unwrap();
        assert_eq!(
            *order,
            json!({
                "data": {"id": 42}, "topic": "macro-topic", "kind": "order",
                "message_type": "Notification", "count": 1, "sns_id_set": true,
                "uuid_set": true, "stamp": 7
            })
        );
        let raw = seen.iter().find(|v| v.get("raw").is_some()).unwrap();
        assert_eq!(
            *raw,
            json!({"raw": "plain text", "queue": "macro-queue", "group": null})
        );
        let sqs = moto.sqs().await;
        let dlq = queue_url(&sqs, "macro-dlq").await;
        assert!(!dlq.is_empty());
        assert_eq!(running.stop().await, 0);
    }
}

/// The examples as processes, configured with a `-c` file pointing at the emulator.
mod examples {
    use std::io::{BufRead, BufReader};
    use std::path::PathBuf;
    use std::process::{Command, Stdio};

    use super::examples_bin::example_bin;
    use super::*;

    fn config_file(moto: &Moto) -> PathBuf {
        let path = std::env::temp_dir().join(format!("aws-moto-{}.json", uuid::Uuid::new_v4()));
        let config = json!({"options": {
            "aws_sns_sqs": {"region_name": moto::REGION, "aws_access_key_id": "testing",
                            "aws_secret_access_key": "testing"},
            "aws_endpoint_urls": {"sns": moto.url(), "sqs": moto.url(), "sts": moto.url()}
        }});
        std::fs::write(&path, config.to_string()).unwrap();
        path
    }

    /// Runs an example until `done` holds for its log lines, then SIGTERMs it: exit code 0.
    async fn run_until(name: &str, config: &std::path::Path, done: impl Fn(&[String]) -> bool) {
        run_with_env(name, config, &[], done).await
    }

    /// [`run_until`] with `env` set on top of an environment without the test's `AWS_*`
    /// variables, instance metadata or home directory, so only `env` and the `-c` file count.
    async fn run_with_env(
        name: &str,
        config: &std::path::Path,
        env: &[(&str, &str)],
        done: impl Fn(&[String]) -> bool,
    ) {
        let mut command = Command::new(example_bin(name));
        for (key, _) in std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))) {
            if key.starts_with("AWS_") {
                command.env_remove(key);
            }
        }
        let mut child = command
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("HOME", std::env::temp_dir().join("no-such-home"))
            .envs(env.iter().copied())
            .args(["-c", config.to_str().unwrap(), "--logger", "json"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn example");
        let stderr = child.stderr.take().unwrap();
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut ok = false;
        for _ in 0..600 {
            if done(&lines.lock().unwrap()) {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let status = child.wait().unwrap();
        assert!(ok, "{name} did not get there: {:#?}", lines.lock().unwrap());
        assert_eq!(status.code(), Some(0), "{:#?}", lines.lock().unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_aws_example_republishes_what_it_receives() {
        let moto = Moto::start().await;
        // an observer queue on the topic the example republishes to
        let sqs = moto.sqs().await;
        let sns = moto.sns().await;
        let topic = sns
            .create_topic()
            .name("another-example-topic")
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        let observer = sqs
            .create_queue()
            .queue_name("observer")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let observer_arn =
            queue_attributes(&sqs, &observer).await[&QueueAttributeName::QueueArn].clone();
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(observer_arn)
            .send()
            .await
            .unwrap();
        let config = config_file(&moto);
        let sqs2 = sqs.clone();
        let observer2 = observer.clone();
        let got: Arc<Mutex<Option<Value>>> = Arc::default();
        let got2 = got.clone();
        let watcher = tokio::spawn(async move {
            loop {
                let out = sqs2
                    .receive_message()
                    .queue_url(&observer2)
                    .wait_time_seconds(1)
                    .send()
                    .await
                    .unwrap();
                if let Some(m) = out.messages().first() {
                    let body: Value = serde_json::from_str(m.body().unwrap()).unwrap();
                    let envelope: Value =
                        serde_json::from_str(body["Message"].as_str().unwrap()).unwrap();
                    *got2.lock().unwrap() = Some(envelope);
                    return;
                }
            }
        });
        run_until("aws_sns_sqs_service", &config, |_| {
            got.lock().unwrap().is_some()
        })
        .await;
        watcher.abort();
        let envelope = got.lock().unwrap().clone().unwrap();
        assert_eq!(envelope["service"]["name"], "aws-example");
        assert_eq!(envelope["metadata"]["topic"], "another-example-topic");
        assert_eq!(envelope["data"], json!({"hello": "world"}));
        // the example's own queue
        queue_url(&sqs, "example-queue").await;
        let _ = std::fs::remove_file(config);
    }

    /// Without credentials or a region in the options, the standard AWS chain gives them: the
    /// environment, else a profile's shared config and credentials files; options win over
    /// both. The proxy in front of moto reads the key and region each call is signed with.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn credentials_and_region_come_from_the_standard_aws_chain() {
        use super::aws_proxy::AwsProxy;

        let moto = Moto::start().await;
        let proxy = AwsProxy::start(moto.port).await;
        let dir = std::env::temp_dir().join(format!("aws-chain-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let endpoints = json!({"sns": proxy.url(), "sqs": proxy.url(), "sts": proxy.url()});
        let endpoints_only = dir.join("endpoints.json");
        std::fs::write(
            &endpoints_only,
            json!({"options": {"aws_endpoint_urls": endpoints}}).to_string(),
        )
        .unwrap();
        let with_options = dir.join("with-options.json");
        std::fs::write(
            &with_options,
            json!({"options": {
                "aws_sns_sqs": {"region_name": "eu-west-1", "aws_access_key_id": "AKIDOPTIONS",
                                "aws_secret_access_key": "testing"},
                "aws_endpoint_urls": endpoints
            }})
            .to_string(),
        )
        .unwrap();
        let credentials = dir.join("credentials");
        std::fs::write(
            &credentials,
            "[chain-test]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = testing\n",
        )
        .unwrap();
        let profile_config = dir.join("config");
        std::fs::write(
            &profile_config,
            "[profile chain-test]\nregion = ap-south-1\n",
        )
        .unwrap();
        let from_env = [
            ("AWS_ACCESS_KEY_ID", "AKIDENVIRONMENT"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "eu-north-1"),
        ];
        let from_profile = [
            ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
            ("AWS_CONFIG_FILE", profile_config.to_str().unwrap()),
            ("AWS_PROFILE", "chain-test"),
        ];
        type Case<'a> = (
            &'a std::path::Path,
            &'a [(&'a str, &'a str)],
            (&'a str, &'a str),
        );
        let cases: [Case; 3] = [
            (
                &endpoints_only,
                &from_env,
                ("AKIDENVIRONMENT", "eu-north-1"),
            ),
            (
                &endpoints_only,
                &from_profile,
                ("AKIDPROFILE", "ap-south-1"),
            ),
            (&with_options, &from_env, ("AKIDOPTIONS", "eu-west-1")),
        ];
        for (config, env, (key, region)) in cases {
            proxy.clear();
            // consuming: the whole setup sequence went through
            run_with_env("aws_sns_sqs_service", config, env, |_| {
                !proxy.calls_of("ReceiveMessage").is_empty()
            })
            .await;
            let calls = proxy.calls();
            assert!(calls.len() > 5, "{calls:?}");
            for call in calls {
                assert_eq!(
                    (call.access_key_id.as_str(), call.region.as_str()),
                    (key, region),
                    "{} signed with other credentials",
                    call.action
                );
            }
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_fifo_example_handles_its_messages_in_order() {
        let moto = Moto::start().await;
        let config = config_file(&moto);
        let steps = |lines: &[String]| -> Vec<u64> {
            lines
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|v| v["message"] == "in order")
                .filter_map(|v| {
                    let data: Value = serde_json::from_str(v["data"].as_str()?).ok()?;
                    data["step"].as_u64()
                })
                .collect()
        };
        let seen: Arc<Mutex<Vec<u64>>> = Arc::default();
        let seen2 = seen.clone();
        run_until("aws_sns_sqs_fifo_service", &config, move |lines| {
            *seen2.lock().unwrap() = steps(lines);
            seen2.lock().unwrap().len() >= 3
        })
        .await;
        assert_eq!(*seen.lock().unwrap(), [1, 2, 3], "in publish order");
        let _ = std::fs::remove_file(config);
    }
}

/// A wildcard topic subscribes the queue to every existing matching topic (`*` one level, `#`
/// any), with one queue policy whose source ARN covers them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcard_topics_subscribe_every_matching_topic() {
    let moto = Moto::start().await;
    let sns = moto.sns().await;
    for name in [
        "order___2e_created",
        "order___2e_cancelled",
        "order___2e_created___2e_eu",
        "invoice___2e_created",
    ] {
        sns.create_topic().name(name).send().await.unwrap();
    }
    let log: Log = Arc::default();
    let svc = Service::builder("wildcard", log.clone())
        .options(moto.options())
        .message_envelope(JsonBase)
        .aws_sns_sqs(
            SnsSqsSubscription::topic("order.*").queue_name("orders"),
            |log: Arc<Log>, msg: Message| async move { record(&log, &msg) },
        )
        .build();
    let app = App::new().service(svc).start().await.unwrap();
    let subs = sns.list_subscriptions().send().await.unwrap();
    let mut topics: Vec<&str> = subs
        .subscriptions()
        .iter()
        .filter_map(|s| s.topic_arn()?.rsplit(':').next())
        .collect();
    topics.sort();
    assert_eq!(topics, ["order___2e_cancelled", "order___2e_created"]);
    let sqs = moto.sqs().await;
    let url = queue_url(&sqs, "orders").await;
    let policy: Value =
        serde_json::from_str(&queue_attributes(&sqs, &url).await[&QueueAttributeName::Policy])
            .unwrap();
    assert_eq!(
        policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"],
        "arn:aws:sns:eu-west-1:123456789012:order___2e_c*"
    );
    // a message to one of them reaches the handler with the decoded topic
    let arn = "arn:aws:sns:eu-west-1:123456789012:order___2e_created";
    let envelope = JsonBase
        .build_message(
            &tomodachi::envelope::ServiceIdentity::new("elsewhere", "u"),
            "order.created",
            &tomodachi::envelope::Payload::from_serialize(&json!({"id": 1})).unwrap(),
        )
        .unwrap();
    sns.publish()
        .topic_arn(arn)
        .message(envelope)
        .send()
        .await
        .unwrap();
    eventually(20, "the order", || !log.lock().unwrap().is_empty()).await;
    assert_eq!(log.lock().unwrap()[0].info.topic, "order.created");
    assert_eq!(app.stop().await, 0);
}

/// A user-defined envelope on a handler and on sends; `send_message` to a queue URL and to a
/// queue ARN, one with `DelaySeconds`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_envelopes_and_sends_by_url_and_arn_with_a_delay() {
    use tomodachi::envelope::{EnvelopeError, ParsedMessage, Payload, ServiceIdentity};

    /// `{"tagged": <service name>, "data": <data>}`; anything else is not a message of it.
    struct Tagged;
    impl Envelope for Tagged {
        fn name(&self) -> &str {
            "Tagged"
        }
        fn build_message(
            &self,
            service: &ServiceIdentity<'_>,
            _topic: &str,
            data: &Payload,
        ) -> Result<String, EnvelopeError> {
            let data = data.deserialize::<Value>()?;
            Ok(json!({"tagged": service.name, "data": data}).to_string())
        }
        fn parse_message(&self, payload: &str) -> Result<ParsedMessage, EnvelopeError> {
            let message: Value = serde_json::from_str(payload)
                .map_err(|e| EnvelopeError::parse(format!("not JSON: {e}")))?;
            if !message["tagged"].is_string() {
                return Err(EnvelopeError::parse("not a tagged message"));
            }
            let data = Payload::Json(message["data"].clone());
            Ok(ParsedMessage::new(message, data))
        }
    }

    type Arrivals = Arc<Mutex<Vec<(Value, Value, std::time::Instant)>>>;
    let moto = Moto::start().await;
    let arrivals: Arrivals = Arc::default();
    let svc = Service::builder("awsprobe-tagged", arrivals.clone())
        .options(moto.options())
        .message_envelope(JsonBase)
        .aws_sns_sqs(
            SnsSqsSubscription::queue("tagged-queue").envelope(Tagged),
            |arrivals: Arc<Arrivals>, msg: Message| async move {
                let data: Value = msg.data()?;
                let message = msg.message().clone();
                arrivals
                    .lock()
                    .unwrap()
                    .push((data, message, std::time::Instant::now()));
                Ok::<_, Error>(())
            },
        )
        .build();
    let app = App::new().service(svc).start().await.unwrap();
    let sqs = moto.sqs().await;
    let url = queue_url(&sqs, "tagged-queue").await;
    let arn = queue_attributes(&sqs, &url).await[&QueueAttributeName::QueueArn].clone();
    let sent = std::time::Instant::now();
    send_message_as(
        "awsprobe-tagged",
        &json!({"via": "url"}),
        &url,
        SendOptions::new().envelope(Tagged).delay_seconds(2),
    )
    .await
    .unwrap();
    send_message_as(
        "awsprobe-tagged",
        &json!({"via": "arn"}),
        &arn,
        SendOptions::new().envelope(Tagged),
    )
    .await
    .unwrap();
    eventually(20, "both messages", || arrivals.lock().unwrap().len() >= 2).await;
    let arrivals = arrivals.lock().unwrap().clone();
    let (first, second) = (&arrivals[0], &arrivals[1]);
    assert_eq!(first.0, json!({"via": "arn"}), "the undelayed one first");
    assert_eq!(second.0, json!({"via": "url"}));
    assert_eq!(
        second.1["tagged"], "awsprobe-tagged",
        "parsed by the handler's envelope"
    );
    assert!(
        second.2.duration_since(sent) >= Duration::from_millis(1900),
        "DelaySeconds=2 held it back: {:?}",
        second.2.duration_since(sent)
    );
    assert_eq!(app.stop().await, 0);
}

/// KMS options reach the queue and topic attributes (`""` disables encryption).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_options_are_applied_to_queues_and_topics() {
    let moto = Moto::start().await;
    let mut options = moto.options();
    options.aws_sns_sqs.sqs_kms_master_key_id = Some("alias/tomodachi-sqs".into());
    options.aws_sns_sqs.sqs_kms_data_key_reuse_period = Some(600);
    options.aws_sns_sqs.sns_kms_master_key_id = Some("alias/tomodachi-sns".into());
    let svc = Service::builder("kms", ())
        .options(options)
        .aws_sns_sqs(
            SnsSqsSubscription::topic("kms-topic").queue_name("kms-queue"),
            |_s: Arc<()>, _m: Message| async {},
        )
        .build();
    let app = App::new().service(svc).start().await.unwrap();
    let sqs = moto.sqs().await;
    let url = queue_url(&sqs, "kms-queue").await;
    let attrs = queue_attributes(&sqs, &url).await;
    assert_eq!(
        attrs
            .get(&QueueAttributeName::KmsMasterKeyId)
            .map(String::as_str),
        Some("alias/tomodachi-sqs")
    );
    assert_eq!(
        attrs
            .get(&QueueAttributeName::KmsDataKeyReusePeriodSeconds)
            .map(String::as_str),
        Some("600")
    );
    let sns = moto.sns().await;
    let topic = sns
        .get_topic_attributes()
        .topic_arn("arn:aws:sns:eu-west-1:123456789012:kms-topic")
        .send()
        .await
        .unwrap();
    assert_eq!(
        topic
            .attributes()
            .and_then(|a| a.get("KmsMasterKeyId"))
            .map(String::as_str),
        Some("alias/tomodachi-sns")
    );
    assert_eq!(app.stop().await, 0);
}

/// The redrive policy: set with a dead-letter queue, left alone when the handler says nothing,
/// removed with `no_dead_letter_queue()` (upstream's `dead_letter_queue_name=None`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_policies_are_set_left_alone_and_removed() {
    let moto = Moto::start().await;
    let sqs = moto.sqs().await;
    let redrive = |sub: SnsSqsSubscription| {
        let options = moto.options();
        async move {
            let svc = Service::builder("redrive", ())
                .options(options)
                .aws_sns_sqs(sub, |_s: Arc<()>, _m: Message| async {})
                .build();
            let app = App::new().service(svc).start().await.unwrap();
            assert_eq!(app.stop().await, 0);
        }
    };
    let current = || async {
        let url = queue_url(&sqs, "redrive-queue").await;
        queue_attributes(&sqs, &url)
            .await
            .get(&QueueAttributeName::RedrivePolicy)
            .cloned()
            .filter(|p| !p.is_empty() && p != "{}")
    };
    redrive(SnsSqsSubscription::queue("redrive-queue").dead_letter_queue("redrive-dlq", 2)).await;
    let set = current().await.expect("a redrive policy");
    assert!(set.contains("redrive-dlq"), "{set}");
    redrive(SnsSqsSubscription::queue("redrive-queue")).await;
    assert_eq!(current().await, Some(set), "left alone");
    redrive(SnsSqsSubscription::queue("redrive-queue").no_dead_letter_queue()).await;
    assert_eq!(current().await, None, "removed");
}

/// AWS calls of a running service failing: a fault-injecting proxy in front of the real moto
/// answers chosen calls with throttling errors, 503s or dropped connections.
mod faults {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::aws_proxy::{AwsProxy, Call, Fault};
    use super::*;

    /// Options with every AWS endpoint at the proxy.
    fn proxied(moto: &Moto, proxy: &AwsProxy) -> tomodachi::Options {
        let mut o = moto.options();
        o.aws_endpoint_urls.sns = Some(proxy.url());
        o.aws_endpoint_urls.sqs = Some(proxy.url());
        o.aws_endpoint_urls.sts = Some(proxy.url());
        o
    }

    /// (answered with a fault, forwarded) calls of `action`.
    fn outcomes(calls: &[Call], action: &str) -> (usize, usize) {
        let of = calls.iter().filter(|c| c.action == action);
        let faulted = of.clone().filter(|c| c.fault.is_some()).count();
        (faulted, of.count() - faulted)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn throttled_and_failed_calls_are_retried_as_upstream() {
        let moto = Moto::start().await;
        let proxy = AwsProxy::start(moto.port).await;
        let log: Log = Arc::default();
        let svc = Service::builder("aws-retries-0", log.clone())
            .options(proxied(&moto, &proxy))
            .message_envelope(JsonBase)
            .aws_sns_sqs(
                SnsSqsSubscription::topic("retry-topic").queue_name("retry-queue"),
                |log: Arc<Log>, msg: Message| async move { record(&log, &msg) },
            )
            .build();
        let app = App::new().service(svc).start().await.unwrap();

        // the consumer's calls fail for a while: receives (more often than one call's
        // attempts), and the first deletion once (one message: DeleteMessage, several:
        // DeleteMessageBatch)
        proxy.fail("ReceiveMessage", &[Fault::Unavailable; 4]);
        proxy.fail("DeleteMessage", &[Fault::Throttle]);
        proxy.fail("DeleteMessageBatch", &[Fault::Throttle]);
        // Publish: throttled, then a 503, then through
        proxy.fail("Publish", &[Fault::Throttle, Fault::Unavailable]);
        publish_as(
            "aws-retries-0",
            &json!({"n": 1}),
            "retry-topic",
            PublishOptions::new(),
        )
        .await
        .expect("published on the third attempt");
        assert_eq!(outcomes(&proxy.calls(), "Publish"), (2, 1));
        // SendMessage: throttled, then the connection dropped, then through
        proxy.fail("SendMessage", &[Fault::Throttle, Fault::Drop]);
        send_message_as(
            "aws-retries-0",
            &json!({"n": 2}),
            "retry-queue",
            SendOptions::new(),
        )
        .await
        .expect("sent on the third attempt");
        assert_eq!(outcomes(&proxy.calls(), "SendMessage"), (2, 1));

        eventually(40, "both messages handled", || {
            log.lock().unwrap().len() >= 2
        })
        .await;
        let sqs = moto.sqs().await;
        let url = queue_url(&sqs, "retry-queue").await;
        let mut left = u64::MAX;
        for _ in 0..40 {
            left = messages_in(&sqs, &url).await;
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert_eq!(left, 0, "deleted after the throttled deletion was retried");
        let calls = proxy.calls();
        assert_eq!(
            outcomes(&calls, "ReceiveMessage").0,
            4,
            "every receive fault met"
        );
        assert!(
            outcomes(&calls, "ReceiveMessage").1 >= 2,
            "and receiving went on"
        );
        assert!(
            outcomes(&calls, "DeleteMessage").0 + outcomes(&calls, "DeleteMessageBatch").0 >= 1,
            "a deletion failed once"
        );
        let mut data: Vec<Value> = log.lock().unwrap().iter().map(|s| s.data.clone()).collect();
        data.sort_by_key(|v| v["n"].as_u64());
        assert_eq!(
            data,
            [json!({"n": 1}), json!({"n": 2})],
            "each handled once"
        );

        // a call failing every time: 3 attempts in all, then a clear error
        let before = proxy.calls_of("Publish").len();
        proxy.fail("Publish", &[Fault::Unavailable; 3]);
        let err = publish_as(
            "aws-retries-0",
            &json!({"n": 3}),
            "retry-topic",
            PublishOptions::new(),
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Unable to publish message [sns] on AWS ("),
            "{err}"
        );
        assert_eq!(proxy.calls_of("Publish").len() - before, 3);
        let before = proxy.calls_of("SendMessage").len();
        proxy.fail("SendMessage", &[Fault::Throttle; 3]);
        let err = send_message_as("aws-retries-0", "x", "retry-queue", SendOptions::new())
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Unable to send message [sqs] on AWS ("),
            "{err}"
        );
        assert_eq!(proxy.calls_of("SendMessage").len() - before, 3);
        assert_eq!(app.stop().await, 0);
    }

    /// `max_number_of_consumed_messages` is each ReceiveMessage's `MaxNumberOfMessages`
    /// (outside 1..=10: 10; FIFO queues: 1), and so bounds the handler's concurrency.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn max_number_of_consumed_messages_bounds_each_receive() {
        #[derive(Default)]
        struct Running {
            now: AtomicUsize,
            max: AtomicUsize,
            done: AtomicUsize,
        }
        let moto = Moto::start().await;
        let proxy = AwsProxy::start(moto.port).await;
        let running: Arc<Running> = Arc::default();
        let svc = Service::builder("aws-bounded-0", running.clone())
            .options(proxied(&moto, &proxy))
            .message_envelope(JsonBase)
            .aws_sns_sqs(
                SnsSqsSubscription::topic("bounded-topic")
                    .queue_name("bounded-queue")
                    .max_number_of_consumed_messages(2),
                |r: Arc<Arc<Running>>, _msg: Message| async move {
                    let now = r.now.fetch_add(1, Ordering::SeqCst) + 1;
                    r.max.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    r.now.fetch_sub(1, Ordering::SeqCst);
                    r.done.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, Error>(())
                },
            )
            .aws_sns_sqs(
                SnsSqsSubscription::topic("unbounded-topic")
                    .queue_name("unbounded-queue")
                    .max_number_of_consumed_messages(11),
                |_: Arc<Arc<Running>>, _msg: Message| async move { Ok::<_, Error>(()) },
            )
            .aws_sns_sqs(
                SnsSqsSubscription::topic("bounded-fifo-topic")
                    .queue_name("bounded-fifo-queue.fifo")
                    .fifo(true)
                    .max_number_of_consumed_messages(5),
                |_: Arc<Arc<Running>>, _msg: Message| async move { Ok::<_, Error>(()) },
            )
            .build();
        let app = App::new().service(svc).start().await.unwrap();
        for n in 0..6 {
            send_message_as(
                "aws-bounded-0",
                &json!({"n": n}),
                "bounded-queue",
                SendOptions::new(),
            )
            .await
            .unwrap();
        }
        eventually(30, "six messages", || {
            running.done.load(Ordering::SeqCst) >= 6
        })
        .await;
        let max = running.max.load(Ordering::SeqCst);
        assert!((1..=2).contains(&max), "at most 2 at a time, saw {max}");

        let asked = |queue: &str| -> Vec<u64> {
            proxy
                .calls_of("ReceiveMessage")
                .iter()
                .filter_map(|c| serde_json::from_str::<Value>(&c.body).ok())
                .filter(|b| b["QueueUrl"].as_str().is_some_and(|u| u.ends_with(queue)))
                .filter_map(|b| b["MaxNumberOfMessages"].as_u64())
                .collect()
        };
        for (queue, n) in [
            ("/bounded-queue", 2),
            ("/unbounded-queue", 10),
            ("/bounded-fifo-queue.fifo", 1),
        ] {
            let asked = asked(queue);
            assert!(!asked.is_empty(), "no receive from {queue}");
            assert!(asked.iter().all(|&m| m == n), "{queue}: {asked:?}");
        }
        assert_eq!(app.stop().await, 0);
    }
}
