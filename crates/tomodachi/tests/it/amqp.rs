//! The AMQP transport against a real RabbitMQ (127.0.0.1:5672, guest/guest; `scripts/test.sh`
//! starts it). A missing broker fails these tests; it never skips them.

use crate::support::eventually;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventually::eventually;
use lapin::options::{BasicGetOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use tomodachi::amqp::AmqpSubscription;
use tomodachi::envelope::JsonBase;
use tomodachi::message::{Message, MessageNext};
use tomodachi::{App, Error, Options, Service};

fn unique(prefix: &str) -> String {
    format!("{prefix}.{}", uuid::Uuid::new_v4().simple())
}

fn options() -> Options {
    let mut o = Options::default();
    o.http.port = 0;
    o.http.host = "127.0.0.1".into();
    o
}

async fn broker() -> lapin::Connection {
    lapin::Connection::connect(
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        lapin::ConnectionProperties::default(),
    )
    .await
    .expect("RabbitMQ must run on 127.0.0.1:5672 (scripts/test-env.sh starts it)")
}

/// Reads one message from `queue` without consuming it for good (passive declare first).
async fn get_one(queue: &str) -> Option<lapin::message::BasicGetMessage> {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        },
        FieldTable::default(),
    )
    .await
    .ok()?;
    let msg = ch
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap();
    let _ = conn.close(200, "done".into()).await;
    msg
}

type Seen = Arc<Mutex<Vec<serde_json::Value>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_and_consume_with_json_base() {
    let rk = unique("test.json");
    let seen: Seen = Arc::default();
    let svc = Service::builder("amqp-roundtrip", seen.clone())
        .options(options())
        .message_envelope(JsonBase)
        .amqp(
            AmqpSubscription::new(rk.clone()).name("on_message"),
            |s: Arc<Seen>, msg: Message| async move {
                let data: serde_json::Value = msg.data()?;
                assert_eq!(msg.amqp().unwrap().attempt, 1);
                assert!(msg.message_uuid().unwrap().len() == 73);
                s.lock().unwrap().push(data);
                Ok::<_, Error>(())
            },
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    for i in 0..5 {
        tomodachi::amqp::publish_with(
            &serde_json::json!({"i": i, "text": "友達"}),
            &rk,
            tomodachi::amqp::PublishOptions::new().service("amqp-roundtrip"),
        )
        .await
        .unwrap();
    }
    eventually(30, "5 messages", || seen.lock().unwrap().len() == 5).await;
    let mut got: Vec<i64> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|v| v["i"].as_i64().unwrap())
        .collect();
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2, 3, 4]);
    assert_eq!(seen.lock().unwrap()[0]["text"], "友達");
    assert_eq!(running.stop().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_declaration_matches_upstream() {
    let rk = unique("test.naming");
    let uuid = "5d0b530f-5c44-4981-b01f-342801bd48f5";
    let svc = Service::builder("amqp-naming", ())
        .options(options())
        .uuid(uuid)
        .amqp(
            AmqpSubscription::new(rk.clone()).name("func"),
            |_s: Arc<()>, _m: Message| async {},
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let queue = tomodachi::amqp::queue_name(&rk, "func", uuid, None, None, "");
    // the queue exists, durable, with x-expires = 86400000
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let q = ch
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("the upstream-named queue was declared");
    assert_eq!(q.consumer_count(), 1);
    // declaring it again the way Python does (durable, x-expires as a signed 32-bit int) is
    // accepted: the arguments match
    let mut args = FieldTable::default();
    args.insert(
        "x-expires".into(),
        lapin::types::AMQPValue::LongInt(86_400_000),
    );
    ch.queue_declare(
        queue.as_str().into(),
        QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        },
        args,
    )
    .await
    .expect("same declaration as Python tomodachi");
    let _ = conn.close(200, "done".into()).await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_handler_is_retried_then_succeeds() {
    let rk = unique("test.retry");
    let attempts = Arc::new(AtomicU32::new(0));
    let svc = Service::builder("amqp-retry", attempts.clone())
        .options(options())
        .amqp(
            AmqpSubscription::new(rk.clone()),
            |a: Arc<Arc<AtomicU32>>, msg: Message| async move {
                let n = a.fetch_add(1, Ordering::SeqCst) + 1;
                assert_eq!(msg.amqp().unwrap().attempt, n);
                if n < 3 {
                    return Err(Error::msg("not yet"));
                }
                assert_eq!(msg.data::<String>()?, "raw body");
                Ok(())
            },
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    tomodachi::amqp::publish_with(
        "raw body",
        &rk,
        tomodachi::amqp::PublishOptions::new()
            .raw()
            .service("amqp-retry"),
    )
    .await
    .unwrap();
    eventually(30, "three attempts", || {
        attempts.load(Ordering::SeqCst) >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(attempts.load(Ordering::SeqCst), 3, "acked after success");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_end_in_the_dead_letter_queue() {
    let rk = unique("test.poison");
    let uuid = uuid::Uuid::new_v4().to_string();
    let attempts = Arc::new(AtomicU32::new(0));
    let svc = Service::builder("amqp-poison", attempts.clone())
        .options(options())
        .uuid(uuid.clone())
        .message_envelope(JsonBase)
        .amqp(
            AmqpSubscription::new(rk.clone()).name("h").max_attempts(2),
            |a: Arc<Arc<AtomicU32>>, msg: Message| async move {
                if msg.data::<serde_json::Value>()? == serde_json::json!("poison") {
                    a.fetch_add(1, Ordering::SeqCst);
                    return Err(Error::msg("cannot handle poison"));
                }
                Ok(())
            },
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let dlq = format!(
        "{}.dlq",
        tomodachi::amqp::queue_name(&rk, "h", &uuid, None, None, "")
    );
    let as_poison = tomodachi::amqp::PublishOptions::new().service("amqp-poison");
    tomodachi::amqp::publish_with(&"poison", &rk, as_poison.clone())
        .await
        .unwrap();
    // an undecodable body (not a JsonBase envelope) goes straight to the dead-letter queue
    tomodachi::amqp::publish_with(&"not an envelope", &rk, as_poison.raw())
        .await
        .unwrap();
    eventually(30, "two attempts", || attempts.load(Ordering::SeqCst) == 2).await;
    let mut dead = Vec::new();
    for _ in 0..100 {
        if let Some(m) = get_one(&dlq).await {
            dead.push(m);
        }
        if dead.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(dead.len(), 2, "both messages are dead-lettered, not lost");
    let bodies: Vec<String> = dead
        .iter()
        .map(|m| String::from_utf8_lossy(&m.delivery.data).into_owned())
        .collect();
    assert!(bodies.iter().any(|b| b == "not an envelope"), "{bodies:?}");
    assert!(
        bodies.iter().any(|b| b.contains("\"poison\"")),
        "{bodies:?}"
    );
    let headers = dead[0].delivery.properties.headers().clone().unwrap();
    assert!(headers.inner().contains_key("x-tomodachi-error"));
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    running.stop().await;
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let _ = ch
        .queue_delete(dlq.as_str().into(), Default::default())
        .await;
    let _ = conn.close(200, "done".into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_waits_for_running_handlers_then_stop_service() {
    let rk = unique("test.drain");
    let trail: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let t = trail.clone();
    let svc = Service::builder("amqp-drain", trail.clone())
        .options(options())
        .amqp(
            AmqpSubscription::new(rk.clone()).raw(),
            |t: Arc<Arc<Mutex<Vec<&'static str>>>>, _m: Message| async move {
                t.lock().unwrap().push("handler started");
                tokio::time::sleep(Duration::from_millis(700)).await;
                t.lock().unwrap().push("handler finished");
            },
        )
        .on_stop(move |_s| async move { t.lock().unwrap().push("stop_service") })
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    tomodachi::amqp::publish_with(
        "x",
        &rk,
        tomodachi::amqp::PublishOptions::new()
            .raw()
            .service("amqp-drain"),
    )
    .await
    .unwrap();
    eventually(30, "the handler to start", || {
        !trail.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(running.stop().await, 0);
    assert_eq!(
        *trail.lock().unwrap(),
        ["handler started", "handler finished", "stop_service"]
    );
}

#[tokio::test]
async fn an_unreachable_broker_fails_the_start_clearly() {
    let mut o = options();
    o.amqp.port = 54321;
    let svc = Service::builder("amqp-down", ())
        .options(o)
        .amqp(
            AmqpSubscription::new("x"),
            |_s: Arc<()>, _m: Message| async {},
        )
        .build();
    let started = std::time::Instant::now();
    let err = App::new().service(svc).start().await.err().unwrap();
    assert!(
        err.to_string()
            .starts_with("Unable to connect [amqp] to 127.0.0.1:54321"),
        "{err}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "retried with backoff first"
    );
}

mod with_macros {
    use super::*;
    use tomodachi::http::Extension;

    #[derive(Default)]
    struct MacroAmqp {
        seen: Mutex<Vec<serde_json::Value>>,
    }

    #[derive(serde::Deserialize)]
    struct Order {
        id: u32,
    }

    #[derive(Clone)]
    struct Stamp(u32);

    async fn stamp(
        _s: Arc<MacroAmqp>,
        mut msg: Message,
        next: MessageNext,
    ) -> tomodachi::Result<()> {
        msg.extensions_mut().insert(Stamp(7));
        next.run(msg).await
    }

    fn macro_options() -> Options {
        options()
    }

    #[tomodachi::service(
        name = "amqp-macro",
        options = macro_options(),
        message_envelope = JsonBase,
        message_middleware = [stamp]
    )]
    impl MacroAmqp {
        #[amqp("test.macro.orders")]
        #[allow(clippy::too_many_arguments)]
        async fn on_order(
            &self,
            data: Order,
            message_uuid: Option<String>,
            routing_key: String,
            exchange_name: String,
            metadata: serde_json::Value,
            message: &Message,
            stamp: Extension<Stamp>,
        ) -> tomodachi::Result<()> {
            self.seen.lock().unwrap().push(serde_json::json!({
                "id": data.id,
                "uuid_len": message_uuid.map(|u| u.len()),
                "routing_key": routing_key,
                "exchange_name": exchange_name,
                "topic": metadata["topic"],
                "attempt": message.amqp().unwrap().attempt,
                "stamp": stamp.0 .0,
            }));
            Ok(())
        }

        #[amqp("test.macro.raw", message_envelope = None, competing = true, max_attempts = 1)]
        async fn on_raw(&self, data: String) {
            self.seen
                .lock()
                .unwrap()
                .push(serde_json::json!({ "raw": data }));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn amqp_attribute_resolves_arguments_by_name_and_type() {
        let running = App::new()
            .service(MacroAmqp::default())
            .start()
            .await
            .unwrap();
        let svc = tomodachi::get_service::<MacroAmqp>(Some("amqp-macro")).unwrap();
        let as_svc = tomodachi::amqp::PublishOptions::new().service("amqp-macro");
        tomodachi::amqp::publish_with(
            &serde_json::json!({"id": 42}),
            "test.macro.orders",
            as_svc.clone(),
        )
        .await
        .unwrap();
        tomodachi::amqp::publish_with("plain text", "test.macro.raw", as_svc.raw())
            .await
            .unwrap();
        eventually(30, "both handlers", || svc.seen.lock().unwrap().len() >= 2).await;
        let seen = svc.seen.lock().unwrap().clone();
        let order = seen.iter().find(|v| v.get("id").is_some()).unwrap();
        assert_eq!(
            *order,
            serde_json::json!({
                "id": 42, "uuid_len": 73, "routing_key": "test.macro.orders",
                "exchange_name": "amq.topic", "topic": "test.macro.orders", "attempt": 1, "stamp": 7
            })
        );
        assert!(seen.iter().any(|v| v["raw"] == "plain text"));
        running.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_exchange_and_prefixes() {
    let exchange = unique("tomodachi-test-exchange");
    let rk = unique("test.prefixed");
    let seen: Seen = Arc::default();
    let mut o = options();
    o.amqp.routing_key_prefix = "pre.".into();
    o.amqp.queue_name_prefix = "qp-".into();
    let svc = Service::builder("amqp-prefix", seen.clone())
        .options(o)
        .amqp(
            AmqpSubscription::new(rk.clone())
                .exchange_name(exchange.clone())
                .queue_name("explicit")
                .raw(),
            |s: Arc<Seen>, m: Message| async move {
                let info = m.amqp().unwrap();
                s.lock().unwrap().push(serde_json::json!({
                    "body": m.data::<String>()?,
                    "routing_key": info.routing_key,
                    "delivery_routing_key": info.delivery_routing_key,
                    "exchange": info.exchange_name,
                }));
                Ok::<_, Error>(())
            },
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    // the exchange was declared (topic, durable) and the explicit queue is prefixed
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    ch.exchange_declare(
        exchange.as_str().into(),
        lapin::ExchangeKind::Topic,
        lapin::options::ExchangeDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .expect("exchange declared");
    ch.queue_declare(
        "qp-explicit".into(),
        QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        },
        FieldTable::default(),
    )
    .await
    .expect("queue_name_prefix + queue_name");
    let _ = conn.close(200, "done".into()).await;
    tomodachi::amqp::publish_with(
        "hi",
        &rk,
        tomodachi::amqp::PublishOptions::new()
            .raw()
            .exchange_name(exchange.clone())
            .service("amqp-prefix"),
    )
    .await
    .unwrap();
    eventually(30, "the prefixed message", || {
        !seen.lock().unwrap().is_empty()
    })
    .await;
    let got = seen.lock().unwrap()[0].clone();
    assert_eq!(got["body"], "hi");
    assert_eq!(
        got["routing_key"],
        rk.as_str(),
        "the subscription's key, unprefixed"
    );
    assert_eq!(got["delivery_routing_key"], format!("pre.{rk}"));
    assert_eq!(got["exchange"], exchange.as_str());
    running.stop().await;
    // clean up the queue and exchange this test made
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let _ = ch
        .queue_delete("qp-explicit".into(), Default::default())
        .await;
    let _ = ch
        .exchange_delete(exchange.as_str().into(), Default::default())
        .await;
    let _ = conn.close(200, "done".into()).await;
}

/// Deliveries are handled concurrently by default; `serial(true)` handles them one at a time
/// in delivery order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serial_subscriptions_handle_one_message_at_a_time_in_order() {
    #[derive(Default)]
    struct Probe {
        running: AtomicU32,
        max_running: AtomicU32,
        order: Mutex<Vec<i64>>,
    }
    type Shared = Arc<Probe>;
    async fn probe(p: Arc<Shared>, msg: Message) -> Result<(), Error> {
        let data: serde_json::Value = msg.data()?;
        let now = p.running.fetch_add(1, Ordering::SeqCst) + 1;
        p.max_running.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(30)).await;
        p.order.lock().unwrap().push(data["i"].as_i64().unwrap());
        p.running.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
    for serial in [true, false] {
        let rk = unique("test.serial");
        let name = format!("amqp-serial-{serial}");
        let p = Arc::new(Probe::default());
        let svc = Service::builder(name.clone(), p.clone())
            .options(options())
            .message_envelope(JsonBase)
            .amqp(AmqpSubscription::new(rk.clone()).serial(serial), probe)
            .build();
        let running = App::new().service(svc).start().await.unwrap();
        for i in 0..10 {
            tomodachi::amqp::publish_with(
                &serde_json::json!({ "i": i }),
                &rk,
                tomodachi::amqp::PublishOptions::new().service(name.clone()),
            )
            .await
            .unwrap();
        }
        eventually(30, "10 messages", || p.order.lock().unwrap().len() == 10).await;
        assert_eq!(running.stop().await, 0);
        if serial {
            assert_eq!(p.max_running.load(Ordering::SeqCst), 1);
            assert_eq!(*p.order.lock().unwrap(), (0..10).collect::<Vec<_>>());
        } else {
            assert!(
                p.max_running.load(Ordering::SeqCst) > 1,
                "concurrent by default"
            );
        }
    }
}

/// The consumer's channel carries `options.amqp.qos` (per-consumer and global prefetch), as
/// RabbitMQ reports it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_channels_use_the_qos_options() {
    let rk = unique("test.qos");
    let mut o = options();
    // values no other test uses, to find our channel among the broker's
    o.amqp.qos.queue_prefetch_count = 37;
    o.amqp.qos.global_prefetch_count = 211;
    let svc = Service::builder("amqp-qos", ())
        .options(o)
        .amqp(
            AmqpSubscription::new(rk),
            |_s: Arc<()>, _m: Message| async {},
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let out = std::process::Command::new("rabbitmqctl")
        .args([
            "list_channels",
            "prefetch_count",
            "global_prefetch_count",
            "consumer_count",
            "--formatter",
            "json",
        ])
        .output()
        .expect("rabbitmqctl (installed with rabbitmq-server)");
    let channels: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        channels.iter().any(|c| c["prefetch_count"] == 37
            && c["global_prefetch_count"] == 211
            && c["consumer_count"] == 1),
        "{channels:?}"
    );
    assert_eq!(running.stop().await, 0);
}

/// `options.envelope.max_inflated_size` is each service's own: a compressed message inflating
/// past it is rejected (dead-lettered, never handled) with a line naming the option, while a
/// service with the default cap handles the same message.
#[tokio::test]
async fn the_inflate_cap_is_an_option_named_when_hit() {
    let (capture, _guard) = crate::support::capture_logs(tomodachi::logging::LogFormat::Console);
    let rk = unique("test.inflate");
    let handled: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let service = |name: &'static str, cap: Option<u64>| {
        let mut o = options();
        if let Some(cap) = cap {
            o.envelope.max_inflated_size = cap;
        }
        Service::builder(name, handled.clone())
            .options(o)
            .message_envelope(JsonBase)
            .amqp(
                AmqpSubscription::new(rk.clone()).name("on_big"),
                move |s: Arc<Arc<Mutex<Vec<&'static str>>>>,
                      data: tomodachi::message::Data<String>| async move {
                    assert_eq!(data.0.len(), 2 << 20);
                    s.lock().unwrap().push(name);
                },
            )
            .build()
    };
    let capped = App::new()
        .service(service("inflate-capped", Some(1 << 20)))
        .start()
        .await
        .unwrap();
    let default = App::new()
        .service(service("inflate-default", None))
        .start()
        .await
        .unwrap();
    // 2 MiB of text: compressed (base64_gzip_json) to a few KiB on the wire
    tomodachi::amqp::publish_with(
        &"x".repeat(2 << 20),
        &rk,
        tomodachi::amqp::PublishOptions::new().service("inflate-default"),
    )
    .await
    .unwrap();
    eventually(20, "the default service handles it", || {
        handled.lock().unwrap().contains(&"inflate-default")
    })
    .await;
    eventually(20, "the capped service rejects it", || {
        capture
            .contents()
            .contains("inflates to more than 1048576 bytes (options.envelope.max_inflated_size)")
    })
    .await;
    assert_eq!(*handled.lock().unwrap(), ["inflate-default"]);
    capped.stop().await;
    default.stop().await;
}
