//! One scenario suite, run over the real RabbitMQ and over `tomodachi::testing`'s in-memory
//! broker: each scenario records what the service's handlers saw and what ended up in
//! dead-letter queues, and the two records must be identical (and as expected). This is the
//! proof that a test written against the kit tells the truth about the real broker.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lapin::options::{
    BasicGetOptions, BasicPublishOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use serde_json::{json, Value};
use tomodachi::amqp::{AmqpDelivery, AmqpSubscription};
use tomodachi::envelope::{Envelope, JsonBase, Payload, ServiceIdentity};
use tomodachi::message::{Data, Extension, Message};
use tomodachi::testing::{TestApp, TestKit};
use tomodachi::{App, Error, RunningApp, Service};

use crate::support::eventually::eventually;

const RABBIT: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Where a scenario runs.
enum Bus {
    Rabbit(lapin::Connection),
    Kit(TestKit),
}

enum Started {
    /// An app on the real broker or emulator.
    Real(RunningApp),
    Kit(TestApp),
}

impl Started {
    async fn stop(self) {
        match self {
            Started::Real(r) => assert_eq!(r.stop().await, 0),
            Started::Kit(k) => assert_eq!(k.stop().await, 0),
        }
    }
}

/// Starts `services` in `kit`, or as an `App` on the real broker or emulator.
async fn start_on(kit: Option<&TestKit>, services: Vec<Service>) -> Started {
    match kit {
        Some(kit) => Started::Kit(kit.start_all(services).await.expect("starts in the kit")),
        None => {
            let mut app = App::new();
            for s in services {
                app = app.service(s);
            }
            Started::Real(app.start().await.expect("starts against the real broker"))
        }
    }
}

/// Waits up to `secs` until `done` holds (the kit: until every delivery is settled, then
/// checks).
async fn settle_on(kit: Option<&TestKit>, secs: u64, what: &str, done: impl FnMut() -> bool) {
    if let Some(kit) = kit {
        tokio::time::timeout(Duration::from_secs(secs), kit.settle())
            .await
            .expect("the kit settles");
        eventually(5, what, done).await;
    } else {
        eventually(secs, what, done).await;
    }
}

/// What a scenario observed: one line per handled message or dead letter, sorted.
type Record = Arc<Mutex<Vec<String>>>;

fn lines(record: &Record) -> Vec<String> {
    let mut lines = record.lock().unwrap().clone();
    lines.sort();
    lines
}

impl Bus {
    async fn rabbit() -> Self {
        let conn = lapin::Connection::connect(RABBIT, lapin::ConnectionProperties::default())
            .await
            .expect("RabbitMQ must run on 127.0.0.1:5672 (scripts/test-env.sh starts it)");
        Bus::Rabbit(conn)
    }

    fn kit() -> Self {
        Bus::Kit(TestKit::new())
    }

    fn as_kit(&self) -> Option<&TestKit> {
        match self {
            Bus::Rabbit(_) => None,
            Bus::Kit(kit) => Some(kit),
        }
    }

    async fn start(&self, services: Vec<Service>) -> Started {
        start_on(self.as_kit(), services).await
    }

    /// Publishes a body on `amq.topic` as a peer service would.
    async fn publish_raw(&self, routing_key: &str, body: &[u8]) {
        match self {
            Bus::Rabbit(conn) => {
                let ch = conn.create_channel().await.unwrap();
                ch.confirm_select(Default::default()).await.unwrap();
                ch.basic_publish(
                    "amq.topic".into(),
                    routing_key.into(),
                    BasicPublishOptions::default(),
                    body,
                    lapin::BasicProperties::default(),
                )
                .await
                .unwrap()
                .await
                .unwrap();
                let _ = ch.close(200, "done".into()).await;
            }
            Bus::Kit(kit) => kit
                .amqp()
                .basic_publish("amq.topic", routing_key, body.to_vec(), Default::default())
                .unwrap(),
        }
    }

    async fn publish(&self, routing_key: &str, data: Value) {
        self.publish_raw(routing_key, json_base(routing_key, &data).as_bytes())
            .await;
    }

    async fn settle(&self, what: &str, done: impl FnMut() -> bool) {
        settle_on(self.as_kit(), 30, what, done).await
    }

    /// Takes every message from `queue` (a dead-letter queue): body, then the tomodachi headers.
    async fn drain_queue(&self, queue: &str) -> Vec<String> {
        let mut out = Vec::new();
        match self {
            Bus::Rabbit(conn) => {
                let ch = conn.create_channel().await.unwrap();
                let passive = QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                };
                if ch
                    .queue_declare(queue.into(), passive, FieldTable::default())
                    .await
                    .is_ok()
                {
                    while let Some(m) = ch
                        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
                        .await
                        .unwrap()
                    {
                        out.push(dead_letter_line(&m.delivery.data, &m.delivery.properties));
                    }
                    let _ = ch
                        .queue_delete(queue.into(), QueueDeleteOptions::default())
                        .await;
                }
                let _ = ch.close(200, "done".into()).await;
            }
            Bus::Kit(kit) => {
                for m in kit.amqp().published() {
                    if m.exchange.is_empty() && m.routing_key == queue {
                        out.push(dead_letter_line(&m.body, &m.properties));
                    }
                }
            }
        }
        out.sort();
        out
    }
}

fn json_base(topic: &str, data: &Value) -> String {
    JsonBase
        .build_message(
            &ServiceIdentity::new("scenario-peer", "00000000-0000-4000-8000-00000000000a"),
            topic,
            &Payload::from_serialize(data).unwrap(),
        )
        .unwrap()
}

fn dead_letter_line(body: &[u8], properties: &lapin::BasicProperties) -> String {
    let header = |name: &str| match properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(name).cloned())
    {
        Some(AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        Some(AMQPValue::LongInt(n)) => n.to_string(),
        Some(other) => format!("{other:?}"),
        None => "-".into(),
    };
    let body = String::from_utf8_lossy(body);
    let data = JsonBase
        .parse_message(&body)
        .ok()
        .and_then(|p| p.data.deserialize::<Value>().ok())
        .map_or_else(|| format!("raw {body}"), |d| d.to_string());
    format!(
        "dlq {data} attempt={} handler={} error={}",
        header("x-tomodachi-attempt"),
        header("x-tomodachi-handler"),
        header("x-tomodachi-error")
    )
}

fn prefix() -> String {
    format!("scn{}", uuid::Uuid::new_v4().simple())
}

/// Runs `scenario` on both buses and returns the two records, which must be equal.
async fn on_both<F, Fut>(scenario: F) -> Vec<String>
where
    F: Fn(Bus, String) -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    let real = scenario(Bus::rabbit().await, prefix()).await;
    let kit = scenario(Bus::kit(), prefix()).await;
    assert_eq!(kit, real, "the kit and RabbitMQ saw different things");
    real
}

/// A handler that records `<handler> <routing key without the scenario prefix> <data>`.
fn recording(
    name: &'static str,
) -> impl Fn(Arc<Record>, Data<Value>, AmqpDelivery) -> std::future::Ready<()> + Send + Sync + 'static
{
    move |r: Arc<Record>, Data(data): Data<Value>, delivery: AmqpDelivery| {
        let key = delivery
            .delivery_routing_key
            .split_once('.')
            .map_or("", |(_, k)| k)
            .to_owned();
        r.lock().unwrap().push(format!("{name} {key} {data}"));
        std::future::ready(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_routing_matches_rabbitmq() {
    let seen = on_both(|bus, p| async move {
        let record: Record = Arc::default();
        let svc = Service::builder("scenario-routing", record.clone())
            .message_envelope(JsonBase)
            .amqp(
                AmqpSubscription::new(format!("{p}.orders.*")).name("orders"),
                recording("orders"),
            )
            .amqp(
                AmqpSubscription::new(format!("{p}.audit.#")).name("audit"),
                recording("audit"),
            )
            .amqp(
                AmqpSubscription::new(format!("{p}.#.deleted")).name("deleted"),
                recording("deleted"),
            )
            .amqp(
                AmqpSubscription::new(format!("{p}.exact")).name("exact"),
                recording("exact"),
            )
            .build();
        let started = bus.start(vec![svc]).await;
        let keys = [
            "orders.created",
            "orders.eu.created",
            "orders",
            "audit",
            "audit.a.b.c",
            "user.deleted",
            "orders.deleted",
            "exact",
            "exactly",
            "..",
        ];
        for (i, key) in keys.iter().enumerate() {
            bus.publish(&format!("{p}.{key}"), json!(i)).await;
        }
        let expected = 7;
        let r = record.clone();
        bus.settle("routed messages", move || {
            r.lock().unwrap().len() >= expected
        })
        .await;
        started.stop().await;
        lines(&record)
    })
    .await;
    assert_eq!(
        seen,
        [
            "audit audit 3",
            "audit audit.a.b.c 4",
            "deleted orders.deleted 6",
            "deleted user.deleted 5",
            "exact exact 7",
            "orders orders.created 0",
            "orders orders.deleted 6",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_then_dead_letters_like_rabbitmq() {
    let seen = on_both(|bus, p| async move {
        let record: Record = Arc::default();
        let uuid = uuid::Uuid::new_v4().to_string();
        let svc = Service::builder("scenario-retry", record.clone())
            .uuid(uuid.clone())
            .message_envelope(JsonBase)
            .amqp(
                AmqpSubscription::new(format!("{p}.work"))
                    .name("work")
                    .max_attempts(3),
                |r: Arc<Record>, Data(data): Data<Value>, delivery: AmqpDelivery| async move {
                    let attempt = delivery.attempt;
                    r.lock()
                        .unwrap()
                        .push(format!("work {data} attempt {attempt}"));
                    match data.as_str() {
                        Some("flaky") if attempt < 2 => Err(Error::msg("flaky failed")),
                        Some("poison") => Err(Error::msg("poison failed")),
                        Some("hopeless") => Err(Error::dead_letter("hopeless")),
                        Some("skip") => Err(Error::discard("skipped")),
                        _ => Ok(()),
                    }
                },
            )
            .build();
        let started = bus.start(vec![svc]).await;
        for data in ["ok", "flaky", "poison", "hopeless", "skip"] {
            bus.publish(&format!("{p}.work"), json!(data)).await;
        }
        bus.publish_raw(&format!("{p}.work"), b"not an envelope")
            .await;
        let r = record.clone();
        // ok 1 + flaky 2 + poison 3 + hopeless 1 + skip 1
        bus.settle("every attempt", move || r.lock().unwrap().len() >= 8)
            .await;
        started.stop().await;
        let queue =
            tomodachi::amqp::queue_name(&format!("{p}.work"), "work", &uuid, None, None, "");
        let mut seen = lines(&record);
        seen.extend(bus.drain_queue(&format!("{queue}.dlq")).await);
        seen
    })
    .await;
    assert_eq!(seen.len(), 11, "{seen:#?}");
    assert!(
        seen.contains(&"work \"flaky\" attempt 2".to_owned()),
        "{seen:#?}"
    );
    assert!(
        seen.contains(
            &"dlq \"poison\" attempt=3 handler=work error=gave up after 3 attempts: poison failed"
                .to_owned()
        ),
        "{seen:#?}"
    );
    assert!(
        seen.contains(&"dlq \"hopeless\" attempt=1 handler=work error=hopeless".to_owned()),
        "{seen:#?}"
    );
    assert!(
        seen.iter().any(|l| l.starts_with(
            "dlq raw not an envelope attempt=1 handler=work error=unable to parse the envelope"
        )),
        "{seen:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_and_competing_consumers_like_rabbitmq() {
    let seen = on_both(|bus, p| async move {
        let record: Record = Arc::default();
        let relay = {
            let p = p.clone();
            Service::builder("scenario-relay", record.clone())
                    .message_envelope(JsonBase)
                    .amqp(
                        AmqpSubscription::new(format!("{p}.in")).name("relay"),
                        move |_r: Arc<Record>, Data(data): Data<Value>| {
                            let out = format!("{p}.out");
                            async move {
                                tomodachi::amqp::publish(&json!({"relayed": data}), &out).await
                            }
                        },
                    )
                    .build()
        };
        let worker = |n: u32| {
            Service::builder(format!("scenario-worker-{n}"), record.clone())
                .message_envelope(JsonBase)
                .amqp(
                    AmqpSubscription::new(format!("{p}.out"))
                        .name("worker")
                        .queue_name(format!("{p}-workers")),
                    |r: Arc<Record>, message: Message| async move {
                        let data: Value = message.data()?;
                        r.lock().unwrap().push(format!("handled {data}"));
                        Ok::<_, Error>(())
                    },
                )
                .build()
        };
        let started = bus.start(vec![relay, worker(1), worker(2)]).await;
        for i in 0..10 {
            bus.publish(&format!("{p}.in"), json!(i)).await;
        }
        let r = record.clone();
        bus.settle("ten relayed messages", move || {
            r.lock().unwrap().len() >= 10
        })
        .await;
        started.stop().await;
        if let Bus::Rabbit(conn) = &bus {
            let ch = conn.create_channel().await.unwrap();
            let _ = ch
                .queue_delete(
                    format!("{p}-workers").as_str().into(),
                    QueueDeleteOptions::default(),
                )
                .await;
        }
        lines(&record)
    })
    .await;
    let mut expected: Vec<String> = (0..10)
        .map(|i| format!("handled {{\"relayed\":{i}}}"))
        .collect();
    expected.sort();
    assert_eq!(
        seen, expected,
        "each message handled exactly once by one of the workers"
    );
}

// ------------------------------------------------------------------------------------------
// AWS SNS+SQS: the same suite over a real moto server and over the kit. moto costs 15-100 ms
// of CPU per SNS->SQS message: a handful of messages each.

use crate::support::moto::Moto;
use tomodachi::aws_sns_sqs::{AttributeValue, PublishOptions, SnsSqsDelivery, SnsSqsSubscription};

enum SnsBus {
    Moto(Moto),
    Kit(TestKit),
}

impl SnsBus {
    fn options(&self) -> tomodachi::Options {
        match self {
            SnsBus::Moto(moto) => moto.options(),
            SnsBus::Kit(_) => tomodachi::Options::default(),
        }
    }

    fn as_kit(&self) -> Option<&TestKit> {
        match self {
            SnsBus::Moto(_) => None,
            SnsBus::Kit(kit) => Some(kit),
        }
    }

    async fn start(&self, service: Service) -> Started {
        start_on(self.as_kit(), vec![service]).await
    }

    async fn settle(&self, what: &str, done: impl FnMut() -> bool) {
        settle_on(self.as_kit(), 60, what, done).await
    }

    /// The bodies waiting in the queue named `queue` (a dead-letter queue), as JsonBase data.
    async fn queue_data(&self, queue: &str) -> Vec<String> {
        let mut out = Vec::new();
        match self {
            SnsBus::Moto(moto) => {
                let sqs = moto.sqs().await;
                let url = sqs
                    .get_queue_url()
                    .queue_name(queue)
                    .send()
                    .await
                    .unwrap()
                    .queue_url
                    .unwrap();
                let received = sqs
                    .receive_message()
                    .queue_url(url)
                    .max_number_of_messages(10)
                    .wait_time_seconds(1)
                    .send()
                    .await
                    .unwrap();
                for m in received.messages.unwrap_or_default() {
                    out.push(sns_body_data(m.body.as_deref().unwrap_or_default()));
                }
            }
            SnsBus::Kit(kit) => {
                let memory = kit.sns_sqs();
                let url = memory.get_queue_url(queue).unwrap();
                let received = memory
                    .receive_message(&url, tomodachi::testing::sns_sqs::Receive::new(10))
                    .await
                    .unwrap();
                for m in received {
                    out.push(sns_body_data(&m.body));
                }
            }
        }
        out.sort();
        out
    }
}

/// The JsonBase data inside an SNS notification body (or the body itself).
fn sns_body_data(body: &str) -> String {
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|n| n["Message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.to_owned());
    JsonBase
        .parse_message(&message)
        .ok()
        .and_then(|p| p.data.deserialize::<Value>().ok())
        .map_or(message, |d| d.to_string())
}

async fn on_both_sns<F, Fut>(scenario: F) -> Vec<String>
where
    F: Fn(SnsBus, String) -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    let real = scenario(SnsBus::Moto(Moto::start().await), prefix()).await;
    let kit = scenario(SnsBus::Kit(TestKit::new()), prefix()).await;
    assert_eq!(kit, real, "the kit and moto saw different things");
    real
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_fan_out_and_filter_policies_like_moto() {
    let seen = on_both_sns(|bus, p| async move {
        let record: Record = Arc::default();
        let topic = format!("{p}-events");
        let handler = |name: &'static str| {
            move |r: Arc<Record>, Data(data): Data<Value>, delivery: SnsSqsDelivery| {
                let kind = match delivery.message_attributes.get("kind") {
                    Some(AttributeValue::String(k)) => k.clone(),
                    _ => "-".into(),
                };
                r.lock().unwrap().push(format!(
                    "{name} {data} kind={kind} topic_ok={}",
                    delivery.topic.ends_with("-events")
                ));
                std::future::ready(())
            }
        };
        let svc = Service::builder("scenario-sns", record.clone())
            .options(bus.options())
            .message_envelope(JsonBase)
            .aws_sns_sqs(
                SnsSqsSubscription::topic(topic.clone()).name("all"),
                handler("all"),
            )
            .aws_sns_sqs(
                SnsSqsSubscription::topic(topic.clone())
                    .name("only_a")
                    .filter_policy(json!({"kind": ["a"]})),
                handler("only_a"),
            )
            .aws_sns_sqs(
                SnsSqsSubscription::topic(topic.clone())
                    .name("big")
                    .filter_policy(json!({"n": [{"numeric": [">", 5]}]})),
                handler("big"),
            )
            .build();
        let started = bus.start(svc).await;
        for (i, (kind, n)) in [("a", 1), ("b", 9), ("a", 10)].into_iter().enumerate() {
            tomodachi::aws_sns_sqs::publish_with(
                &json!(i),
                &topic,
                PublishOptions::new()
                    .service("scenario-sns")
                    .message_attribute("kind", kind)
                    .message_attribute("n", AttributeValue::Int(n)),
            )
            .await
            .unwrap();
        }
        let r = record.clone();
        // all: 3, only_a: 2, big: 2
        bus.settle("fanned-out messages", move || r.lock().unwrap().len() >= 7)
            .await;
        started.stop().await;
        lines(&record)
    })
    .await;
    assert_eq!(
        seen,
        [
            "all 0 kind=a topic_ok=true",
            "all 1 kind=b topic_ok=true",
            "all 2 kind=a topic_ok=true",
            "big 1 kind=b topic_ok=true",
            "big 2 kind=a topic_ok=true",
            "only_a 0 kind=a topic_ok=true",
            "only_a 2 kind=a topic_ok=true",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_redelivery_and_redrive_like_moto() {
    let seen = on_both_sns(|bus, p| async move {
        let record: Record = Arc::default();
        let topic = format!("{p}-work");
        let dlq = format!("{p}-work-dlq");
        let svc = Service::builder("scenario-sqs", record.clone())
            .options(bus.options())
            .message_envelope(JsonBase)
            .aws_sns_sqs(
                SnsSqsSubscription::topic(topic.clone())
                    .name("work")
                    .queue_name(format!("{p}-work-queue"))
                    .visibility_timeout(1)
                    .dead_letter_queue(dlq.clone(), 2),
                |r: Arc<Record>, Data(data): Data<Value>, delivery: SnsSqsDelivery| async move {
                    let receive = delivery.approximate_receive_count.unwrap_or(0);
                    r.lock()
                        .unwrap()
                        .push(format!("work {data} receive {receive}"));
                    match data.as_str() {
                        Some("flaky") if receive < 2 => Err(Error::msg("flaky failed")),
                        Some("poison") => Err(Error::msg("poison failed")),
                        Some("skip") => Err(Error::discard("skipped")),
                        _ => Ok(()),
                    }
                },
            )
            .build();
        let started = bus.start(svc).await;
        for data in ["ok", "flaky", "poison", "skip"] {
            tomodachi::aws_sns_sqs::publish_with(
                &json!(data),
                &topic,
                PublishOptions::new().service("scenario-sqs"),
            )
            .await
            .unwrap();
        }
        let r = record.clone();
        // ok 1 + flaky 2 + poison 2 (then redriven) + skip 1
        bus.settle("every receive", move || r.lock().unwrap().len() >= 6)
            .await;
        // the poison message moves to the DLQ on the receive after its second failure
        let dead = loop {
            let dead = bus.queue_data(&dlq).await;
            if !dead.is_empty() {
                break dead;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        started.stop().await;
        let mut seen = lines(&record);
        seen.extend(dead.into_iter().map(|d| format!("dlq {d}")));
        seen
    })
    .await;
    assert_eq!(
        seen,
        [
            "work \"flaky\" receive 1",
            "work \"flaky\" receive 2",
            "work \"ok\" receive 1",
            "work \"poison\" receive 1",
            "work \"poison\" receive 2",
            "work \"skip\" receive 1",
            "dlq \"poison\"",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
    );
}

// ------------------------------------------------------------------------------------------
// Bad input: refused by the kit exactly as by the real systems.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_filter_policy_is_refused_like_moto() {
    let seen = on_both_sns(|bus, p| async move {
        let svc = Service::builder("scenario-bad-policy", ())
            .options(bus.options())
            .aws_sns_sqs(
                SnsSqsSubscription::topic(format!("{p}-t"))
                    .name("h")
                    .filter_policy(json!({"a": [{"exists": "yes"}]})),
                |_s: Arc<()>, _m: Message| async {},
            )
            .build();
        let err = match &bus {
            SnsBus::Moto(_) => App::new().service(svc).start().await.err(),
            SnsBus::Kit(kit) => kit.start(svc).await.err(),
        };
        vec![err.expect("the start fails").to_string()]
    })
    .await;
    assert!(
        seen[0].contains(
            "Invalid parameter: FilterPolicy: exists match pattern must be either true or false."
        ),
        "{seen:?}"
    );
}

/// The error of publishing to an exchange that does not exist (after the publisher's 30 s of
/// retries).
async fn publish_to_missing_exchange(bus: Bus, p: String) -> String {
    let svc = Service::builder(format!("scenario-publisher-{p}"), ())
        .amqp(
            AmqpSubscription::new(format!("{p}.unused")),
            |_s: Arc<()>, _m: Message| async {},
        )
        .build();
    let started = bus.start(vec![svc]).await;
    let err = tomodachi::amqp::publish_with(
        &json!("x"),
        "some.key",
        tomodachi::amqp::PublishOptions::new()
            .exchange_name(format!("{p}-missing"))
            .service(format!("scenario-publisher-{p}")),
    )
    .await
    .expect_err("a missing exchange fails the publish");
    started.stop().await;
    err.to_string().replace(&p, "<p>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_to_a_missing_exchange_fails_like_rabbitmq() {
    let p = prefix();
    let real = publish_to_missing_exchange(Bus::rabbit().await, p.clone()).await;
    // the kit under paused time: the publisher's 30 s of retries take no real time
    let kit = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap()
            .block_on(publish_to_missing_exchange(Bus::kit(), p))
    })
    .join()
    .unwrap();
    assert_eq!(kit, real);
    assert_eq!(
        real,
        "unable to publish to [amqp] exchange \"<p>-missing\" with routing key \"some.key\": \
         protocol error: AMQP soft error: NOT-FOUND: NOT_FOUND - no exchange '<p>-missing' in vhost '/'"
    );
}

// ------------------------------------------------------------------------------------------
// The message pipeline (middlewares, verdicts, failure policies, duplicate suppression) is one
// piece of code for every message transport: one suite, run over each transport on its real
// broker and in the kit.

#[derive(Clone)]
struct Tag(&'static str);

/// Where the pipeline suite runs.
enum PipelineTarget {
    Amqp(Bus),
    Sns(SnsBus),
}

impl PipelineTarget {
    fn options(&self) -> tomodachi::Options {
        match self {
            PipelineTarget::Amqp(_) => tomodachi::Options::default(),
            PipelineTarget::Sns(bus) => bus.options(),
        }
    }

    /// Subscribes `handler` to this target's source `name` (a routing key or an SQS queue).
    fn subscribe<H, Args>(
        &self,
        builder: tomodachi::ServiceBuilder<Record>,
        name: &str,
        handler: H,
    ) -> tomodachi::ServiceBuilder<Record>
    where
        H: tomodachi::message::MessageHandlerFn<Record, Args>,
    {
        match self {
            PipelineTarget::Amqp(_) => {
                builder.amqp(AmqpSubscription::new(name).queue_name(name), handler)
            }
            PipelineTarget::Sns(_) => builder.aws_sns_sqs(
                SnsSqsSubscription::queue(name).visibility_timeout(1),
                handler,
            ),
        }
    }

    fn as_kit(&self) -> Option<&TestKit> {
        match self {
            PipelineTarget::Amqp(bus) => bus.as_kit(),
            PipelineTarget::Sns(bus) => bus.as_kit(),
        }
    }

    async fn start(&self, services: Vec<Service>) -> Started {
        start_on(self.as_kit(), services).await
    }

    /// Sends `body` as it is to `name`, as the service `service`.
    async fn send_raw(&self, service: &str, name: &str, body: &str) {
        match self {
            PipelineTarget::Amqp(_) => tomodachi::amqp::publish_with(
                body,
                name,
                tomodachi::amqp::PublishOptions::new()
                    .raw()
                    .service(service),
            )
            .await
            .unwrap(),
            PipelineTarget::Sns(_) => {
                tomodachi::aws_sns_sqs::send_message_with(
                    body,
                    name,
                    tomodachi::aws_sns_sqs::SendOptions::new()
                        .raw()
                        .service(service),
                )
                .await
                .unwrap();
            }
        }
    }

    /// Messages left in the queue `name` (none: each was acknowledged or deleted, duplicates
    /// too); the queue is deleted.
    async fn messages_left(&self, name: &str) -> u64 {
        match self {
            PipelineTarget::Amqp(Bus::Rabbit(conn)) => {
                let ch = conn.create_channel().await.unwrap();
                let passive = QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                };
                let queue = ch
                    .queue_declare(name.into(), passive, FieldTable::default())
                    .await
                    .unwrap();
                let _ = ch
                    .queue_delete(name.into(), QueueDeleteOptions::default())
                    .await;
                u64::from(queue.message_count())
            }
            PipelineTarget::Amqp(Bus::Kit(kit)) => kit
                .amqp()
                .queue_depth(name)
                .map_or(0, |(ready, unacked)| (ready + unacked) as u64),
            PipelineTarget::Sns(SnsBus::Moto(moto)) => {
                let sqs = moto.sqs().await;
                let url = sqs
                    .get_queue_url()
                    .queue_name(name)
                    .send()
                    .await
                    .unwrap()
                    .queue_url
                    .unwrap();
                let attributes = sqs
                    .get_queue_attributes()
                    .queue_url(url)
                    .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
                    .send()
                    .await
                    .unwrap()
                    .attributes
                    .unwrap_or_default();
                [
                    aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
                    aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                ]
                .iter()
                .filter_map(|a| attributes.get(a)?.parse::<u64>().ok())
                .sum()
            }
            PipelineTarget::Sns(SnsBus::Kit(kit)) => {
                let url = kit.sns_sqs().get_queue_url(name).unwrap();
                kit.sns_sqs()
                    .queue_depth(&url)
                    .map_or(0, |d| d.total() as u64)
            }
        }
    }

    /// Waits for `done`, then long enough for a wrong retry or redelivery to show.
    async fn settle(&self, what: &str, done: impl FnMut() -> bool) {
        settle_on(self.as_kit(), 60, what, done).await;
        if self.as_kit().is_none() {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

async fn pipeline_suite(target: PipelineTarget, p: String) -> Vec<String> {
    let record: Record = Arc::default();
    let handler = |service: &'static str| {
        move |r: Arc<Record>, Extension(tag): Extension<Tag>, message: Message| async move {
            let data: Value = message.data()?;
            let kind = data["kind"].as_str().unwrap_or_default().to_owned();
            let n = {
                let mut r = r.lock().unwrap();
                let n = r
                    .iter()
                    .filter(|l| l.starts_with(&format!("{service} {kind} ")))
                    .count()
                    + 1;
                r.push(format!("{service} {kind} {n} tag={}", tag.0));
                n
            };
            match kind.as_str() {
                "discard" => Err(Error::discard("not for us")),
                "flaky" if n == 1 => Err(Error::msg("first attempt fails")),
                "fail" => Err(Error::msg("always fails")),
                _ => Ok(()),
            }
        }
    };
    // tags every message, and swallows the handler's error: the message must not get lost
    let swallowing =
        |_r: Arc<Record>, mut message: Message, next: tomodachi::message::MessageNext| async move {
            message.extensions_mut().insert(Tag("from-middleware"));
            let _ = next.run(message).await;
            Ok::<_, Error>(())
        };
    let retrying_name = format!("{p}-verdicts");
    let dropping_name = format!("{p}-dropping");
    let retrying = target
        .subscribe(
            Service::builder("pipeline-verdicts", record.clone())
                .options(target.options())
                .message_envelope(JsonBase)
                .message_middleware(swallowing),
            &retrying_name,
            handler("verdicts"),
        )
        .build();
    let dropping = target
        .subscribe(
            Service::builder("pipeline-dropping", record.clone())
                .options(target.options())
                .message_envelope(JsonBase)
                .message_failure_policy(tomodachi::message::FailurePolicy::Drop)
                .message_middleware(swallowing),
            &dropping_name,
            handler("dropping"),
        )
        .build();
    let started = target.start(vec![retrying, dropping]).await;
    for kind in ["ok", "discard", "flaky"] {
        target
            .send_raw(
                "pipeline-verdicts",
                &retrying_name,
                &json_base(&retrying_name, &json!({"kind": kind})),
            )
            .await;
    }
    // one message delivered twice (the same message_uuid): handled once
    let duplicate = json_base(&retrying_name, &json!({"kind": "dup"}));
    for _ in 0..2 {
        target
            .send_raw("pipeline-verdicts", &retrying_name, &duplicate)
            .await;
    }
    target
        .send_raw(
            "pipeline-dropping",
            &dropping_name,
            &json_base(&dropping_name, &json!({"kind": "fail"})),
        )
        .await;
    let r = record.clone();
    target
        .settle("every handler call", move || r.lock().unwrap().len() >= 6)
        .await;
    started.stop().await;
    let mut seen = lines(&record);
    for queue in [&retrying_name, &dropping_name] {
        seen.push(format!(
            "left in a queue: {}",
            target.messages_left(queue).await
        ));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_behaves_alike_on_every_transport() {
    let expected: Vec<String> = [
        "dropping fail 1 tag=from-middleware",
        "verdicts discard 1 tag=from-middleware",
        "verdicts dup 1 tag=from-middleware",
        "verdicts flaky 1 tag=from-middleware",
        "verdicts flaky 2 tag=from-middleware",
        "verdicts ok 1 tag=from-middleware",
        "left in a queue: 0",
        "left in a queue: 0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let targets = [
        (
            "amqp on rabbitmq",
            PipelineTarget::Amqp(Bus::rabbit().await),
        ),
        ("amqp in the kit", PipelineTarget::Amqp(Bus::kit())),
        (
            "sns+sqs on moto",
            PipelineTarget::Sns(SnsBus::Moto(Moto::start().await)),
        ),
        (
            "sns+sqs in the kit",
            PipelineTarget::Sns(SnsBus::Kit(TestKit::new())),
        ),
    ];
    for (what, target) in targets {
        assert_eq!(pipeline_suite(target, prefix()).await, expected, "{what}");
    }
}

/// A service of one name and uuid first in the kit, then on RabbitMQ, in one process: each
/// publishes to its own broker (publishers are cached per service and per backend).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kit_and_rabbitmq_never_share_a_publisher() {
    let uuid = uuid::Uuid::new_v4().to_string();
    let name = format!("scenario-same-identity-{uuid}");
    let service = || {
        Service::builder(name.clone(), ())
            .uuid(uuid.clone())
            .amqp(
                AmqpSubscription::new(format!("{uuid}.unused")),
                |_s: Arc<()>, _m: Message| async {},
            )
            .build()
    };
    let publish = || {
        tomodachi::amqp::publish_with(
            "x",
            "scenario.identity",
            tomodachi::amqp::PublishOptions::new().raw().service(&name),
        )
    };
    let kit = Bus::kit();
    let started = kit.start(vec![service()]).await;
    publish().await.unwrap();
    started.stop().await;
    let real = Bus::rabbit().await;
    let started = real.start(vec![service()]).await;
    publish().await.unwrap();
    started.stop().await;
    let Bus::Kit(kit) = kit else { unreachable!() };
    assert_eq!(
        kit.amqp().published().len(),
        1,
        "the second publish went to RabbitMQ"
    );
}
