//! Interop with the real Python tomodachi (PyPI 0.29, in `.venv` from `scripts/test-env.sh`)
//! over a real SNS+SQS emulator (moto): Python publishes → Rust handles (message attributes,
//! filter policy), Rust publishes → Python handles.

use crate::support::eventually;
use crate::support::python;

use crate::support::moto;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventually::eventually;
use python::PyService;
use serde_json::{json, Value};
use tomodachi::aws_sns_sqs::{AttributeValue, PublishOptions, SnsSqsSubscription};
use tomodachi::envelope::JsonBase;
use tomodachi::message::Message;
use tomodachi::{App, Error, Service};

/// The SNS+SQS interop service: consumes `topic_in` and, with `topic_out`, publishes that many
/// messages to it once started.
fn py_service(endpoint: &str, topic_in: &str, topic_out: Option<(&str, u32)>) -> PyService {
    let mut env = vec![
        ("SVC_NAME", "python-interop".to_owned()),
        ("AWS_ENDPOINT", endpoint.to_owned()),
        ("TOPIC_IN", topic_in.to_owned()),
    ];
    if let Some((topic, count)) = topic_out {
        env.push(("TOPIC_OUT", topic.to_owned()));
        env.push(("PUBLISH_COUNT", count.to_string()));
    }
    PyService::start("sns_sqs_interop.py", &env)
}

type Log = Arc<Mutex<Vec<(Value, String, tomodachi::aws_sns_sqs::MessageAttributes)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_rust_exchange_messages_over_sns_sqs() {
    let moto = moto::Moto::start().await;
    let log: Log = Arc::default();
    // Rust consumes what Python publishes (only source=python passes the filter policy)
    let svc = Service::builder("rust-interop", log.clone())
        .options(moto.options())
        .message_envelope(JsonBase)
        .aws_sns_sqs(
            SnsSqsSubscription::topic("interop-py-to-rs")
                .competing(true)
                .filter_policy(json!({"source": ["python"]})),
            |log: Arc<Log>, msg: Message| async move {
                let data: Value = msg.data()?;
                let info = msg.aws_sns_sqs().unwrap();
                log.lock().unwrap().push((
                    data,
                    info.topic.clone(),
                    info.message_attributes.clone(),
                ));
                Ok::<_, Error>(())
            },
        )
        .build();
    let app = App::new().service(svc).start().await.unwrap();

    const COUNT: u32 = 3;
    let py = py_service(
        &moto.url(),
        "interop-rs-to-py",
        Some(("interop-py-to-rs", COUNT)),
    );
    py.wait_ready().await;
    eventually(60, "Python's messages in Rust", || {
        log.lock().unwrap().len() == COUNT as usize
    })
    .await;
    let mut got = log.lock().unwrap().clone();
    got.sort_by_key(|(d, _, _)| d["i"].as_u64());
    for (n, (data, topic, attributes)) in got.iter().enumerate() {
        assert_eq!(data, &json!({"i": n, "from": "python", "text": "友達"}));
        assert_eq!(topic, "interop-py-to-rs");
        assert_eq!(attributes["source"], AttributeValue::from("python"));
        assert_eq!(attributes["n"], AttributeValue::Int(n as i64));
        assert_eq!(
            attributes["tags"],
            AttributeValue::list([json!("a"), json!(1)])
        );
    }

    // Rust publishes to Python; the filter policy lets only source=rust through
    let bytes: &[u8] = b"\x00\x01bin";
    for (i, source) in [(0, "rust"), (1, "elsewhere"), (2, "rust")] {
        tomodachi::aws_sns_sqs::publish_with(
            &json!({"i": i, "from": "rust"}),
            "interop-rs-to-py",
            PublishOptions::new()
                .service("rust-interop")
                .message_attribute("source", source)
                .message_attribute("amount", 1338.42)
                .message_attribute("raw", bytes),
        )
        .await
        .unwrap();
    }
    eventually(60, "Rust's messages in Python", || py.received().len() == 2).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut received = py.received();
    assert_eq!(received.len(), 2, "{received:?}");
    received.sort_by_key(|r| r["data"]["i"].as_u64());
    assert_eq!(received[0]["data"], json!({"i": 0, "from": "rust"}));
    assert_eq!(received[1]["data"], json!({"i": 2, "from": "rust"}));
    assert_eq!(received[0]["topic"], "interop-rs-to-py");
    assert_eq!(received[0]["message_type"], "Notification");
    assert_eq!(received[0]["attributes"]["source"], "rust");
    assert_eq!(received[0]["attributes"]["amount"], 1338.42);
    assert_eq!(
        received[0]["attributes"]["raw"],
        json!({"bytes": "AAFiaW4="})
    );
    assert_eq!(app.stop().await, 0);
}
