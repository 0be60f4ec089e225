//! The ProtobufBase envelope end to end: `examples/protobuf_service.rs` over the real RabbitMQ
//! and moto, compared with the same service in Python tomodachi (`tests/python/
//! protobuf_service.py`, PyPI 0.29 with protobuf, from `.venv`): Rust builds what Python parses
//! and the other way round, including a Person above the compression threshold; undecodable
//! messages are dead-lettered; the builder API and the attributes in the testing kit; a
//! subscription without a message type fails the start.

use crate::support::eventually::eventually;
use crate::support::moto::Moto;
use crate::support::python::PyService;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost::Message as _;
use serde_json::{json, Value};
use tomodachi::amqp::AmqpSubscription;
use tomodachi::aws_sns_sqs::{AttributeValue, MessageAttributes, SnsSqsSubscription};
use tomodachi::envelope::{Envelope, JsonBase, Payload, Proto, ProtobufBase, ServiceIdentity};
use tomodachi::message::{Message, Metadata};
use tomodachi::testing::TestKit;
use tomodachi::{App, Error, IntoService, Options, Service};

#[allow(dead_code)]
#[path = "../../../../examples/protobuf_service.rs"]
mod protobuf_example;

use protobuf_example::Person;

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// The Persons each side gets: a plain one, one with default fields, and one whose encoding
/// is above the compression threshold (60000 bytes).
fn persons() -> Vec<Person> {
    vec![
        Person {
            id: "p-1".into(),
            first_name: "Åsa".into(),
            last_name: "Ñandú 友達".into(),
            age: 42,
            tags: vec!["a".into(), "b".into()],
        },
        Person {
            id: "p-2".into(),
            age: -7,
            ..Person::default()
        },
        big_person(),
    ]
}

fn big_person() -> Person {
    let person = Person {
        id: "p-big".into(),
        first_name: "Big".into(),
        last_name: "Tags".into(),
        age: 1,
        tags: (0..8000).map(|i| format!("tag-{i:05}")).collect(),
    };
    assert!(person.encoded_len() > ProtobufBase::COMPRESSION_THRESHOLD);
    person
}

/// One republished Person as the observer saw it.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    person: Person,
    metadata: Value,
    service: Value,
    attributes: Option<MessageAttributes>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// What is compared between the Rust example and its Python twin: the Persons, and of the
/// envelope everything but the message uuid and the time.
fn answers(log: &Log) -> Vec<(Person, Value, Value, Option<MessageAttributes>)> {
    let mut seen = log.lock().unwrap().clone();
    seen.sort_by(|a, b| a.person.id.cmp(&b.person.id));
    seen.into_iter()
        .map(|s| {
            let m = &s.metadata;
            assert!(m["message_uuid"].as_str().is_some_and(
                |u| u.len() == 73 && u.starts_with(s.service["uuid"].as_str().unwrap())
            ));
            assert!(m["timestamp"].as_f64().unwrap() > 1.7e9);
            (
                s.person,
                json!([m["protocol_version"], m["topic"], m["data_encoding"]]),
                s.service["name"].clone(),
                s.attributes,
            )
        })
        .collect()
}

/// Moto's options with a topic and queue prefix of the test's own: the process caches topic
/// ARNs by name, so two tests in one process must not use the same topic names on their
/// emulators.
fn moto_options(moto: &Moto, prefix: &str) -> Options {
    let mut o = moto.options();
    o.aws_sns_sqs.topic_prefix = prefix.to_owned();
    o.aws_sns_sqs.queue_name_prefix = prefix.to_owned();
    o
}

fn expected_envelope(topic: &str, encoding: &str) -> Value {
    json!(["tomodachi-protobuf-base--1.0.0", topic, encoding])
}

/// The observer's handler: records each republished Person with its envelope.
async fn record(log: Arc<Log>, Proto(person): Proto<Person>, msg: Message) -> Result<(), Error> {
    log.lock().unwrap().push(Seen {
        person,
        metadata: msg.envelope_value("metadata").cloned().unwrap_or_default(),
        service: msg.envelope_value("service").cloned().unwrap_or_default(),
        attributes: msg.aws_sns_sqs().map(|d| d.message_attributes.clone()),
    });
    Ok(())
}

mod amqp {
    use super::*;
    use lapin::options::{BasicGetOptions, QueueDeclareOptions};
    use lapin::types::FieldTable;
    use tomodachi::amqp::PublishOptions;

    /// The AMQP routing key prefix of the test; the example's SNS+SQS half talks to `moto`.
    fn options(prefix: &str, moto: &Moto) -> Options {
        let mut o = moto_options(moto, &prefix.replace('.', "-"));
        o.amqp.routing_key_prefix = prefix.to_owned();
        o
    }

    /// The test's publisher and the observer of the answers, named `name` (tests run in one
    /// process: publishes pick their service by name).
    fn observer(name: &str, prefix: &str, moto: &Moto, log: &Log) -> Service {
        Service::builder(name.to_owned(), log.clone())
            .options(options(prefix, moto))
            .message_envelope(ProtobufBase::new())
            .amqp(
                AmqpSubscription::new("example.protobuf.response")
                    .name("on_response")
                    .envelope(ProtobufBase::of::<Person>()),
                record,
            )
            .build()
    }

    async fn publish_persons(observer: &str) {
        for person in persons() {
            tomodachi::amqp::publish_with(
                &Proto(person),
                "example.protobuf",
                PublishOptions::new().service(observer),
            )
            .await
            .unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_rust_example_and_python_tomodachi_answer_alike_over_rabbitmq() {
        let prefix = format!("{}.", unique("pb"));
        let moto = Moto::start().await;
        let log: Log = Arc::default();
        let observer = App::new()
            .service(observer("protobuf-observer-amqp", &prefix, &moto, &log))
            .start()
            .await
            .unwrap();

        // the Rust example: Rust → Rust
        let example = App::new()
            .service(protobuf_example::builder().options(options(&prefix, &moto)))
            .start()
            .await
            .unwrap();
        publish_persons("protobuf-observer-amqp").await;
        eventually(30, "the Rust example's 3 answers", || {
            log.lock().unwrap().len() == 3
        })
        .await;
        example.stop().await;
        let rust = answers(&log);
        log.lock().unwrap().clear();

        // the Python twin: Rust → Python → Rust
        let py = PyService::start("protobuf_service.py", &[("AMQP_PREFIX", prefix.clone())]);
        py.wait_ready().await;
        publish_persons("protobuf-observer-amqp").await;
        eventually(60, "the Python service's 3 answers", || {
            log.lock().unwrap().len() == 3
        })
        .await;
        let python = answers(&log);

        assert_eq!(rust, python);
        let mut expected = persons();
        expected.sort_by(|a, b| a.id.cmp(&b.id));
        let topic = "example.protobuf.response";
        let got: Vec<_> = rust.iter().map(|a| a.0.clone()).collect();
        assert_eq!(got, expected);
        assert_eq!(rust[0].1, expected_envelope(topic, "proto"));
        assert_eq!(rust[1].1, expected_envelope(topic, "proto"));
        assert_eq!(rust[2].1, expected_envelope(topic, "gzip_proto"));
        assert_eq!(rust[0].2, "example-protobuf");

        // and Python decoded what Rust built, the compressed Person too
        let mut received = py.received();
        received.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        assert_eq!(
            received,
            [
                json!({"transport": "amqp", "id": "p-1", "tags": 2, "data_encoding": "proto", "attributes": null}),
                json!({"transport": "amqp", "id": "p-2", "tags": 0, "data_encoding": "proto", "attributes": null}),
                json!({"transport": "amqp", "id": "p-big", "tags": 8000, "data_encoding": "gzip_proto", "attributes": null}),
            ]
        );
        drop(py);
        observer.stop().await;
    }

    async fn broker() -> lapin::Connection {
        lapin::Connection::connect(
            "amqp://guest:guest@127.0.0.1:5672/%2f",
            lapin::ConnectionProperties::default(),
        )
        .await
        .expect("RabbitMQ must run on 127.0.0.1:5672 (scripts/test-env.sh starts it)")
    }

    /// Takes every message from `queue` (empty when it does not exist).
    async fn drain(queue: &str) -> Vec<lapin::message::BasicGetMessage> {
        let conn = broker().await;
        let ch = conn.create_channel().await.unwrap();
        let mut got = Vec::new();
        if ch
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .is_ok()
        {
            while let Some(m) = ch
                .basic_get(queue.into(), BasicGetOptions { no_ack: true })
                .await
                .unwrap()
            {
                got.push(m);
            }
        }
        let _ = conn.close(200, "done".into()).await;
        got
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn undecodable_protobuf_is_dead_lettered_and_the_example_keeps_going() {
        let prefix = format!("{}.", unique("pb-bad"));
        let moto = Moto::start().await;
        let uuid = uuid::Uuid::new_v4().to_string();
        let log: Log = Arc::default();
        let app = App::new()
            .service(observer("protobuf-observer-bad", &prefix, &moto, &log))
            .service(
                protobuf_example::builder()
                    .options(options(&prefix, &moto))
                    .uuid(uuid.clone()),
            )
            .start()
            .await
            .unwrap();
        let as_observer = || PublishOptions::new().service("protobuf-observer-bad");
        // not base64 at all
        tomodachi::amqp::publish_with(
            &"{\"not\": \"protobuf\"}",
            "example.protobuf",
            as_observer().raw(),
        )
        .await
        .unwrap();
        // a valid envelope whose data is not a Person
        tomodachi::amqp::publish_with(
            &Payload::Bytes(bytes::Bytes::from_static(b"\x0a\x20truncated")),
            "example.protobuf",
            as_observer(),
        )
        .await
        .unwrap();
        // then a good one
        tomodachi::amqp::publish_with(
            &Proto(persons().remove(0)),
            "example.protobuf",
            as_observer(),
        )
        .await
        .unwrap();
        eventually(30, "the good Person's answer", || {
            log.lock().unwrap().len() == 1
        })
        .await;
        assert_eq!(log.lock().unwrap()[0].person, persons()[0]);

        let dlq = format!(
            "{}.dlq",
            tomodachi::amqp::queue_name(
                "example.protobuf",
                "on_amqp_person",
                &uuid,
                None,
                None,
                ""
            )
        );
        let mut dead = Vec::new();
        for _ in 0..100 {
            dead.extend(drain(&dlq).await);
            if dead.len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(dead.len(), 2, "both bad messages are dead-lettered");
        let mut errors: Vec<String> = dead
            .iter()
            .map(|m| {
                let headers = m.delivery.properties.headers().clone().unwrap();
                match headers.inner().get("x-tomodachi-error") {
                    Some(lapin::types::AMQPValue::LongString(s)) => s.to_string(),
                    other => panic!("x-tomodachi-error: {other:?}"),
                }
            })
            .collect();
        errors.sort();
        assert_eq!(
            errors,
            [
                "unable to parse the envelope: ProtobufBase data (data_encoding \"proto\") is not \
                 a valid `it::protobuf::protobuf_example::Person` protobuf message: failed to \
                 decode Protobuf message: Person.id: buffer underflow",
                "unable to parse the envelope: ProtobufBase message is not valid base64: Invalid \
                 padding",
            ]
        );
        assert_eq!(app.stop().await, 0);
        let conn = broker().await;
        let ch = conn.create_channel().await.unwrap();
        let _ = ch
            .queue_delete(dlq.as_str().into(), Default::default())
            .await;
        let _ = conn.close(200, "done".into()).await;
    }
}

mod sns_sqs {
    use super::*;
    use tomodachi::aws_sns_sqs::PublishOptions;

    fn observer(moto: &Moto, prefix: &str, log: &Log) -> Service {
        Service::builder("protobuf-observer-sns", log.clone())
            .options(moto_options(moto, prefix))
            .message_envelope(ProtobufBase::new())
            .aws_sns_sqs(
                SnsSqsSubscription::topic("example-protobuf-response")
                    .queue_name("protobuf-observer-queue")
                    .name("on_response")
                    .envelope(ProtobufBase::of::<Person>()),
                record,
            )
            .build()
    }

    /// The plain Person and the compressed one (moto is slow: few messages).
    fn sns_persons() -> Vec<Person> {
        let mut all = persons();
        all.remove(1);
        all
    }

    async fn publish_persons() {
        for (n, person) in sns_persons().into_iter().enumerate() {
            tomodachi::aws_sns_sqs::publish_with(
                &Proto(person),
                "example-protobuf",
                PublishOptions::new()
                    .service("protobuf-observer-sns")
                    .message_attribute("source", "test")
                    .message_attribute("n", n as i64),
            )
            .await
            .unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_rust_example_and_python_tomodachi_answer_alike_over_sns_sqs() {
        let moto = Moto::start().await;
        let prefix = format!("{}-", unique("pb"));
        let log: Log = Arc::default();
        let observer = App::new()
            .service(observer(&moto, &prefix, &log))
            .start()
            .await
            .unwrap();

        let example = App::new()
            .service(protobuf_example::builder().options(moto_options(&moto, &prefix)))
            .start()
            .await
            .unwrap();
        publish_persons().await;
        eventually(60, "the Rust example's 2 answers", || {
            log.lock().unwrap().len() == 2
        })
        .await;
        assert_eq!(example.stop().await, 0);
        let rust = answers(&log);
        log.lock().unwrap().clear();

        let py = PyService::start(
            "protobuf_service.py",
            &[("AWS_ENDPOINT", moto.url()), ("AWS_PREFIX", prefix.clone())],
        );
        py.wait_ready().await;
        publish_persons().await;
        eventually(90, "the Python service's 2 answers", || {
            log.lock().unwrap().len() == 2
        })
        .await;
        let python = answers(&log);

        assert_eq!(rust, python);
        let got: Vec<_> = rust.iter().map(|a| a.0.clone()).collect();
        let mut expected = sns_persons();
        expected.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(got, expected);
        let topic = "example-protobuf-response";
        assert_eq!(rust[0].1, expected_envelope(topic, "proto"));
        assert_eq!(rust[1].1, expected_envelope(topic, "gzip_proto"));
        for (n, answer) in rust.iter().enumerate() {
            let attributes = answer.3.as_ref().expect("SNS+SQS attributes");
            assert_eq!(attributes["source"], AttributeValue::from("test"));
            assert_eq!(attributes["n"], AttributeValue::Int(n as i64));
        }

        let mut received = py.received();
        received.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        assert_eq!(
            received,
            [
                json!({"transport": "sns", "id": "p-1", "tags": 2, "data_encoding": "proto", "attributes": {"source": "test", "n": 0}}),
                json!({"transport": "sns", "id": "p-big", "tags": 8000, "data_encoding": "gzip_proto", "attributes": {"source": "test", "n": 1}}),
            ]
        );
        drop(py);
        assert_eq!(observer.stop().await, 0);
    }
}

/// The attributes, in the testing kit: `Proto<T>` by name (`data`) and by type, the message
/// type from `message_envelope`, republishing a `Proto`.
mod with_attributes {
    use super::*;

    #[derive(Default)]
    pub struct People;

    fn options() -> Options {
        let mut o = Options::default();
        o.http.port = 0;
        o
    }

    #[tomodachi::service(name = "people", options = options(), message_envelope = ProtobufBase::new())]
    impl People {
        #[amqp("person.in", message_envelope = ProtobufBase::of::<Person>())]
        async fn on_person(
            &self,
            data: Proto<Person>,
            person: Proto<Person>,
            metadata: Value,
            message_uuid: String,
        ) -> tomodachi::Result<()> {
            assert_eq!(data, person);
            assert_eq!(metadata["data_encoding"], "proto");
            assert!(!message_uuid.is_empty());
            let Proto(mut person) = person;
            person.age += 1;
            tomodachi::amqp::publish(&Proto(person), "person.out").await
        }

        /// Upstream's form: `message_envelope=ProtobufBase, proto_class=Person`.
        #[amqp("person.upstream-form", message_envelope = ProtobufBase, proto_class = Person)]
        async fn on_upstream_form(&self, data: Proto<Person>) -> tomodachi::Result<()> {
            tomodachi::amqp::publish(&data, "person.upstream-out").await
        }

        /// With upstream's `validator=`: only adults reach the handler.
        #[amqp("person.validated", proto_class = Person, validator = adults_only)]
        async fn on_validated(&self, data: Proto<Person>) -> tomodachi::Result<()> {
            tomodachi::amqp::publish(&data, "person.validated-out").await
        }
    }

    fn adults_only(person: &Person) -> Result<(), String> {
        if person.age >= 18 {
            Ok(())
        } else {
            Err(format!("{} is not an adult", person.id))
        }
    }

    #[tokio::test]
    async fn proto_class_and_validator_as_upstream_writes_them() {
        let kit = TestKit::new();
        let app = kit.start(People.into_service()).await.unwrap();
        let identity = ServiceIdentity::new("peer", "0e7b2f57-8d4a-4b8a-a0bb-8b0a5f1d2c3e");
        for (routing_key, person) in [
            ("person.upstream-form", persons().remove(0)),
            ("person.validated", persons().remove(0)),
            ("person.validated", persons().remove(1)),
        ] {
            let body = ProtobufBase::new()
                .build_message(&identity, routing_key, &Proto(person).payload())
                .unwrap();
            kit.amqp()
                .basic_publish(
                    "amq.topic",
                    routing_key,
                    body.into_bytes(),
                    Default::default(),
                )
                .unwrap();
        }
        // not a Person at all: rejected by the proto_class check, never handled
        let body = tomodachi::envelope::JsonBase
            .build_message(
                &identity,
                "person.upstream-form",
                &tomodachi::envelope::ToPayload::to_payload(&serde_json::json!({"x": 1})).unwrap(),
            )
            .unwrap();
        kit.amqp()
            .basic_publish(
                "amq.topic",
                "person.upstream-form",
                body.into_bytes(),
                Default::default(),
            )
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), kit.settle())
            .await
            .unwrap();
        let ids = |routing_key: &str| -> Vec<String> {
            kit.amqp()
                .published()
                .into_iter()
                .filter(|m| m.routing_key == routing_key)
                .map(|m| {
                    let parsed = ProtobufBase::of::<Person>()
                        .parse_message(std::str::from_utf8(&m.body).unwrap())
                        .unwrap();
                    Proto::<Person>::from_payload(&parsed.data).unwrap().0.id
                })
                .collect()
        };
        assert_eq!(ids("person.upstream-out"), ["p-1"]);
        assert_eq!(
            ids("person.validated-out"),
            ["p-1"],
            "p-2 (age -7) is rejected"
        );
        assert_eq!(app.stop().await, 0);
    }

    #[tokio::test]
    async fn attribute_handlers_take_and_publish_protobuf_messages() {
        let kit = TestKit::new();
        let app = kit.start(People.into_service()).await.unwrap();
        let body = ProtobufBase::new()
            .build_message(
                &ServiceIdentity::new("peer", "0e7b2f57-8d4a-4b8a-a0bb-8b0a5f1d2c3e"),
                "person.in",
                &Proto(persons().remove(0)).payload(),
            )
            .unwrap();
        kit.amqp()
            .basic_publish(
                "amq.topic",
                "person.in",
                body.into_bytes(),
                Default::default(),
            )
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), kit.settle())
            .await
            .unwrap();
        let out: Vec<Person> = kit
            .amqp()
            .published()
            .into_iter()
            .filter(|m| m.routing_key == "person.out")
            .map(|m| {
                let parsed = ProtobufBase::of::<Person>()
                    .parse_message(std::str::from_utf8(&m.body).unwrap())
                    .unwrap();
                assert_eq!(parsed.message()["service"]["name"], "people");
                assert_eq!(parsed.message()["metadata"]["topic"], "person.out");
                Proto::<Person>::from_payload(&parsed.data).unwrap().0
            })
            .collect();
        let mut expected = persons().remove(0);
        expected.age += 1;
        assert_eq!(out, [expected]);
        assert_eq!(app.stop().await, 0);
    }
}

/// The plain builder API in the testing kit: a bad body is dead-lettered (not handed to the
/// handler), `Message::proto` and `Metadata` work, a ProtobufBase subscription needs a message
/// type, and publishing JSON through ProtobufBase is a clear error.
mod builder_api {
    use super::*;

    type Got = Arc<Mutex<Vec<(Person, Value)>>>;

    fn service(got: &Got) -> Service {
        let mut o = Options::default();
        o.http.port = 0;
        Service::builder("builder-people", got.clone())
            .options(o)
            .uuid("6a1f3c2e-6f7d-4a55-9b0e-1e2d3c4b5a69")
            .message_envelope(ProtobufBase::new())
            .amqp(
                AmqpSubscription::new("person.in")
                    .name("on_person")
                    .envelope(ProtobufBase::validated(|p: &Person| {
                        if p.id.is_empty() {
                            Err("a Person needs an id")
                        } else {
                            Ok(())
                        }
                    })),
                |got: Arc<Got>, msg: Message, Metadata(metadata): Metadata| async move {
                    let person: Person = msg.proto()?;
                    got.lock().unwrap().push((person, metadata));
                    Ok::<_, Error>(())
                },
            )
            .build()
    }

    #[tokio::test]
    async fn bad_bodies_are_dead_lettered_and_good_ones_handled() {
        let got: Got = Arc::default();
        let kit = TestKit::new();
        let app = kit.start(service(&got)).await.unwrap();
        let peer = ServiceIdentity::new("peer", "0e7b2f57-8d4a-4b8a-a0bb-8b0a5f1d2c3e");
        let build = |payload: Payload| {
            ProtobufBase::new()
                .build_message(&peer, "person.in", &payload)
                .unwrap()
        };
        let json_body = JsonBase
            .build_message_with(
                &peer,
                "person.in",
                &Payload::Json(json!({"id": "x"})),
                "3d2c1b0a-9f8e-4d7c-b6a5-948372615a0b",
                1795330604.854375,
            )
            .unwrap();
        for body in [
            "%%% not base64 %%%".to_owned(),
            json_body,
            build(Payload::Bytes(bytes::Bytes::from_static(b"\xff\xff\xff"))),
            // decodes, but the validator rejects it
            build(Proto(Person::default()).payload()),
            build(Proto(big_person()).payload()),
        ] {
            kit.amqp()
                .basic_publish(
                    "amq.topic",
                    "person.in",
                    body.into_bytes(),
                    Default::default(),
                )
                .unwrap();
        }
        tokio::time::timeout(Duration::from_secs(10), kit.settle())
            .await
            .unwrap();
        let got = got.lock().unwrap().clone();
        assert_eq!(got.len(), 1, "only the good Person reaches the handler");
        assert_eq!(got[0].0, big_person());
        assert_eq!(got[0].1["data_encoding"], "gzip_proto");
        let queue = tomodachi::amqp::queue_name(
            "person.in",
            "on_person",
            "6a1f3c2e-6f7d-4a55-9b0e-1e2d3c4b5a69",
            None,
            None,
            "",
        );
        assert_eq!(
            kit.amqp().queue_depth(&format!("{queue}.dlq")).map(|d| d.0),
            Some(4),
            "the four bad bodies are dead-lettered"
        );
        assert_eq!(app.stop().await, 0);
    }

    #[tokio::test]
    async fn a_subscription_without_a_message_type_fails_the_start() {
        let kit = TestKit::new();
        let svc = Service::builder("no-proto-class", ())
            .message_envelope(ProtobufBase::new())
            .amqp(AmqpSubscription::new("person.in"), |_s: Arc<()>| async {})
            .build();
        let Err(err) = kit.start(svc).await else {
            panic!("the start fails")
        };
        let text = err.to_string();
        assert!(text.contains("No proto_class defined"), "{text}");
        assert!(text.contains("ProtobufBase"), "{text}");

        // the same for SNS+SQS
        let kit = TestKit::new();
        let svc = Service::builder("no-proto-class-sns", ())
            .message_envelope(ProtobufBase::new())
            .aws_sns_sqs(SnsSqsSubscription::topic("people"), |_s: Arc<()>| async {})
            .build();
        let Err(err) = kit.start(svc).await else {
            panic!("the start fails")
        };
        assert!(err.to_string().contains("No proto_class defined"), "{err}");
    }

    #[tokio::test]
    async fn publishing_json_through_protobuf_base_is_a_clear_error() {
        let kit = TestKit::new();
        let svc = Service::builder("json-into-protobuf", ())
            .message_envelope(ProtobufBase::new())
            .on_start(|_s| async {});
        let app = kit.start(svc).await.unwrap();
        let err = tomodachi::amqp::publish_with(
            &json!({"id": 1}),
            "person.in",
            tomodachi::amqp::PublishOptions::new().service("json-into-protobuf"),
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string().contains("publish a `Proto(message)`"),
            "{err}"
        );
        assert_eq!(app.stop().await, 0);
    }
}

/// Builds and parses next to the real Python `ProtobufBase` (run as `python -c`): the same
/// bodies byte for byte (compressed ones the same after decompressing), and each side parses
/// what the other built.
mod python_parity {
    use super::*;
    use base64::Engine as _;
    use std::io::Write;
    use std::process::{Command, Stdio};

    const PERSON_CLASS: &str = r#"
import asyncio, json, sys, time, types, uuid
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from tomodachi.envelope import ProtobufBase
F = descriptor_pb2.FieldDescriptorProto
fdp = descriptor_pb2.FileDescriptorProto(name="person.proto", package="example", syntax="proto3")
m = fdp.message_type.add(name="Person")
for n, i, t in [("id", 1, F.TYPE_STRING), ("first_name", 2, F.TYPE_STRING), ("last_name", 3, F.TYPE_STRING), ("age", 4, F.TYPE_INT32)]:
    m.field.add(name=n, number=i, type=t, label=F.LABEL_OPTIONAL)
m.field.add(name="tags", number=5, type=F.TYPE_STRING, label=F.LABEL_REPEATED)
pool = descriptor_pool.DescriptorPool()
pool.Add(fdp)
Person = message_factory.GetMessageClass(pool.FindMessageTypeByName("example.Person"))
inp = json.loads(sys.stdin.read())
"#;

    fn run_python(script: &str, input: &Value) -> Value {
        let mut child = Command::new(crate::support::python::python())
            .arg("-c")
            .arg(format!("{PERSON_CLASS}\n{script}"))
            .env("PYTHONIOENCODING", "utf-8")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run python");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "python failed (is protobuf installed in .venv? `. scripts/test-env.sh`):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    struct Case {
        service: (&'static str, &'static str),
        topic: &'static str,
        person: Person,
    }

    const UUID4: &str = "3d2c1b0a-9f8e-4d7c-b6a5-948372615a0b";
    const TIMESTAMP: f64 = 1795330604.854375;

    fn cases() -> Vec<Case> {
        let mut cases: Vec<Case> = persons()
            .into_iter()
            .map(|person| Case {
                service: ("parity-service", "9b1c4a7e-52f0-4d3e-8a61-1f0e2d3c4b5a"),
                topic: "parity.topic",
                person,
            })
            .collect();
        cases.push(Case {
            service: ("", ""),
            topic: "",
            person: Person::default(),
        });
        cases.push(Case {
            service: ("åäö-service", "u"),
            topic: "topic/with ünicode",
            person: Person {
                id: "x".repeat(60000),
                ..Person::default()
            },
        });
        cases
    }

    fn person_json(p: &Person) -> Value {
        json!({"id": p.id, "first_name": p.first_name, "last_name": p.last_name, "age": p.age, "tags": p.tags})
    }

    fn rust_body(case: &Case) -> String {
        ProtobufBase::new()
            .build_message_with(
                &ServiceIdentity::new(case.service.0, case.service.1),
                case.topic,
                &Proto(case.person.clone()).payload(),
                UUID4,
                TIMESTAMP,
            )
            .unwrap()
    }

    fn envelope_parts(body: &str) -> (Value, Vec<u8>) {
        let parsed = ProtobufBase::new().parse_message(body).unwrap();
        let mut message = parsed.message().clone();
        let Payload::Bytes(data) = parsed.data else {
            panic!("bytes")
        };
        message["data"] = Value::Null;
        (message, data.to_vec())
    }

    fn inflate(data: &[u8]) -> Vec<u8> {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn rust_builds_what_python_builds() {
        const SCRIPT: &str = r#"
uuid.uuid4 = lambda: uuid.UUID("3d2c1b0a-9f8e-4d7c-b6a5-948372615a0b")
time.time = lambda: 1795330604.854375
out = []
for c in inp:
    svc = types.SimpleNamespace(name=c["name"], uuid=c["uuid"])
    out.append(asyncio.run(ProtobufBase.build_message(svc, c["topic"], Person(**c["person"]))))
print(json.dumps(out))
"#;
        let cases = cases();
        let input: Vec<Value> = cases
            .iter()
            .map(|c| json!({"name": c.service.0, "uuid": c.service.1, "topic": c.topic, "person": person_json(&c.person)}))
            .collect();
        let python = run_python(SCRIPT, &json!(input));
        for (case, py) in cases.iter().zip(python.as_array().unwrap()) {
            let py = py.as_str().unwrap();
            let rust = rust_body(case);
            if case.person.encoded_len() <= ProtobufBase::COMPRESSION_THRESHOLD {
                assert_eq!(rust, py, "{}", case.person.id);
            } else {
                // zlib implementations may compress differently: same envelope, same message
                let (rust_message, rust_data) = envelope_parts(&rust);
                let (py_message, py_data) = envelope_parts(py);
                assert_eq!(rust_message, py_message);
                assert_eq!(rust_message["metadata"]["data_encoding"], "gzip_proto");
                assert_eq!(inflate(&rust_data), inflate(&py_data));
                assert_eq!(inflate(&rust_data), case.person.encode_to_vec());
            }
        }
    }

    #[test]
    fn each_side_parses_what_the_other_built() {
        const SCRIPT: &str = r#"
out = []
for body in inp["bodies"]:
    message, message_uuid, timestamp = asyncio.run(ProtobufBase.parse_message(body, proto_class=Person))
    p = message["data"]
    out.append({"person": {"id": p.id, "first_name": p.first_name, "last_name": p.last_name, "age": p.age, "tags": list(p.tags)},
                "metadata": message["metadata"], "service": message["service"]})
built = []
for c in inp["persons"]:
    svc = types.SimpleNamespace(name="python-side", uuid="5d0b530f-5c44-4981-b01f-342801bd48f5")
    built.append(asyncio.run(ProtobufBase.build_message(svc, "from.python", Person(**c))))
print(json.dumps({"parsed": out, "built": built}))
"#;
        let cases = cases();
        let bodies: Vec<String> = cases.iter().map(rust_body).collect();
        let persons: Vec<Value> = cases.iter().map(|c| person_json(&c.person)).collect();
        let out = run_python(SCRIPT, &json!({"bodies": bodies, "persons": persons}));
        for (case, parsed) in cases.iter().zip(out["parsed"].as_array().unwrap()) {
            assert_eq!(parsed["person"], person_json(&case.person));
            assert_eq!(parsed["metadata"]["topic"], case.topic);
            assert_eq!(parsed["metadata"]["timestamp"], TIMESTAMP);
            assert_eq!(
                parsed["metadata"]["message_uuid"],
                format!("{}.{UUID4}", case.service.1)
            );
            assert_eq!(parsed["service"]["name"], case.service.0);
        }
        for (case, body) in cases.iter().zip(out["built"].as_array().unwrap()) {
            let body = body.as_str().unwrap();
            assert!(base64::engine::general_purpose::STANDARD
                .decode(body)
                .is_ok());
            let parsed = ProtobufBase::of::<Person>().parse_message(body).unwrap();
            assert_eq!(
                Proto::<Person>::from_payload(&parsed.data).unwrap().0,
                case.person
            );
            assert_eq!(parsed.message()["metadata"]["topic"], "from.python");
            assert_eq!(parsed.message()["service"]["name"], "python-side");
            assert_eq!(
                parsed.message()["metadata"]["data_encoding"],
                if case.person.encoded_len() > ProtobufBase::COMPRESSION_THRESHOLD {
                    "gzip_proto"
                } else {
                    "proto"
                }
            );
        }
    }
}
