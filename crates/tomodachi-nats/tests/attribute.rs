//! `#[nats(...)]` in `#[tomodachi::service]`: the attribute registers the handler through the
//! crate's builder extension with the same options, against a real nats-server.

mod common;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_nats::jetstream;
use common::{eventually, unique, TestNats};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tomodachi::envelope::JsonBase;
use tomodachi::envelope::SharedEnvelope;
use tomodachi::transport::TransportContext;
use tomodachi::{App, IntoService, Options};
use tomodachi_nats::NatsDelivery;

/// What the handlers saw.
#[derive(Default)]
struct Seen {
    orders: Mutex<Vec<(Value, String, u32, String)>>,
    raw: Mutex<Vec<String>>,
    failures: Mutex<u32>,
}

/// The raw subject's data, for the AsyncAPI document (`schema = RawText`).
#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
struct RawText(String);

#[derive(Default)]
struct Orders {
    seen: Arc<Seen>,
}

/// The server of the running test, for the service's options.
static SERVER: OnceLock<String> = OnceLock::new();

fn options() -> Options {
    tomodachi_nats::register_options();
    Options::default()
        .with("http.port", 0)
        .and_then(|o| {
            o.with(
                "nats.servers",
                json!([SERVER.get().expect("set by the test")]),
            )
        })
        .expect("valid options")
}

#[tomodachi::service(name = "nats-attribute", message_envelope = JsonBase, options = options())]
impl Orders {
    // the subjects are fixed at compile time: each run uses its own server (see `start`)
    #[nats("attr.orders.created")]
    async fn on_order(
        &self,
        data: Value,
        subject: String,
        delivered: u32,
        d: NatsDelivery,
        headers: Option<async_nats::HeaderMap>,
    ) {
        // by name, the delivery's headers (none: the test publishes without)
        assert!(headers.is_none());
        self.seen
            .orders
            .lock()
            .unwrap()
            .push((data, subject, delivered, d.consumer.to_string()));
    }

    #[nats("attr.raw", name = "raw_text", message_envelope = None, max_in_flight = 1, schema = RawText)]
    async fn on_raw(&self, data: String) {
        self.seen.raw.lock().unwrap().push(data);
    }

    #[nats(
        "attr.poison",
        max_deliver = 2,
        dead_letter_subject = "attr.poison.dead",
        ack_wait = Duration::from_secs(5)
    )]
    async fn on_poison(&self) -> tomodachi::Result<()> {
        *self.seen.failures.lock().unwrap() += 1;
        Err(tomodachi::Error::msg("always fails"))
    }
}

async fn send(nats: &TestNats, subject: &str, body: String) {
    let js = jetstream::new(nats.client().await);
    js.publish(subject.to_owned(), body.into())
        .await
        .expect("published")
        .await
        .expect("stored");
}

#[tokio::test]
async fn the_attribute_registers_nats_handlers_with_their_options() {
    // its own server: the attribute's subjects are literals, shared by every run
    let nats = TestNats::start_own().await;
    SERVER.set(nats.url.clone()).expect("one test");
    let seen = Arc::new(Seen::default());
    let service = Orders { seen: seen.clone() }.into_service();
    // `schema = RawText`: the data's schema in the AsyncAPI document
    let doc = tomodachi::apidoc::asyncapi([&service]);
    assert_eq!(doc["components"]["schemas"]["RawText"]["type"], "string");
    let client = nats.client().await;
    let mut dead = client
        .subscribe("attr.poison.dead")
        .await
        .expect("subscribe");
    client.flush().await.expect("flush");
    let app = App::new().service(service).start().await.expect("started");

    let sender = TransportContext::new("sender", &unique("uuid"), Default::default());
    let envelope: SharedEnvelope = Arc::new(JsonBase);
    let body = tomodachi::message::build_body(
        &sender,
        Some(&envelope),
        "attr.orders.created",
        &json!({"id": 7}),
    )
    .expect("a body");
    send(&nats, "attr.orders.created", body).await;
    send(&nats, "attr.raw", "plain text".to_owned()).await;
    send(&nats, "attr.poison", "{}".to_owned()).await;

    eventually("the order handled", || {
        !seen.orders.lock().unwrap().is_empty()
    })
    .await;
    eventually("the raw text handled", || {
        !seen.raw.lock().unwrap().is_empty()
    })
    .await;
    let dead_letter = tokio::time::timeout(Duration::from_secs(20), dead.next())
        .await
        .expect("a dead letter in time")
        .expect("a dead letter");
    assert_eq!(&dead_letter.payload[..], b"{}");
    {
        let orders = seen.orders.lock().unwrap();
        assert_eq!(orders[0].0, json!({"id": 7}));
        assert_eq!(orders[0].1, "attr.orders.created");
        assert_eq!(orders[0].2, 1);
        // the handler name is the method name (in the durable consumer's name)
        assert_eq!(
            orders[0].3,
            tomodachi_nats::durable_name("nats-attribute", "on_order", "attr.orders.created", "")
        );
    }
    assert_eq!(*seen.raw.lock().unwrap(), ["plain text"]);
    assert_eq!(*seen.failures.lock().unwrap(), 2, "max_deliver = 2");
    // name = "raw_text" names the durable consumer; max_in_flight = 1 bounds its ack pending
    let js = jetstream::new(client.clone());
    let mut consumer: jetstream::consumer::PullConsumer = js
        .get_stream(tomodachi_nats::stream_name("attr.raw", ""))
        .await
        .expect("stream")
        .get_consumer(&tomodachi_nats::durable_name(
            "nats-attribute",
            "raw_text",
            "attr.raw",
            "",
        ))
        .await
        .expect("the consumer named by `name`");
    let info = consumer.info().await.expect("info");
    assert_eq!(info.config.max_ack_pending, 4);
    let mut poison: jetstream::consumer::PullConsumer = js
        .get_stream(tomodachi_nats::stream_name("attr.poison", ""))
        .await
        .expect("stream")
        .get_consumer(&tomodachi_nats::durable_name(
            "nats-attribute",
            "on_poison",
            "attr.poison",
            "",
        ))
        .await
        .expect("consumer");
    let info = poison.info().await.expect("info");
    assert_eq!(info.config.ack_wait, Duration::from_secs(5));
    assert_eq!(info.config.max_deliver, 2);
    assert_eq!(app.stop().await, 0);
}
