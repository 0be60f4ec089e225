//! Interop with the real Python tomodachi (PyPI 0.29, in `.venv` from `scripts/test-env.sh`)
//! over a real RabbitMQ: Python publishes → Rust handles, Rust publishes → Python handles, and a
//! Rust and a Python instance of one service compete on one queue.

use crate::support::eventually;
use crate::support::python;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventually::eventually;
use python::PyService;
use tomodachi::amqp::{AmqpSubscription, PublishOptions};
use tomodachi::envelope::JsonBase;
use tomodachi::message::Message;
use tomodachi::{App, Error, Options, Service};

fn options() -> Options {
    let mut o = Options::default();
    o.http.port = 0;
    o.http.host = "127.0.0.1".into();
    o
}

/// The AMQP interop service: consumes `rk_in` (competing or not) and, with `rk_out`, publishes
/// that many messages to it once started.
fn py_service(name: &str, rk_in: &str, competing: bool, rk_out: Option<(&str, u32)>) -> PyService {
    let mut env = vec![
        ("SVC_NAME", name.to_owned()),
        ("RK_IN", rk_in.to_owned()),
        ("COMPETING", if competing { "1" } else { "0" }.to_owned()),
    ];
    if let Some((rk, count)) = rk_out {
        env.push(("RK_OUT", rk.to_owned()));
        env.push(("PUBLISH_COUNT", count.to_string()));
    }
    PyService::start("amqp_interop.py", &env)
}

fn unique(prefix: &str) -> String {
    format!("{prefix}.{}", uuid::Uuid::new_v4().simple())
}

type Seen = Arc<Mutex<Vec<serde_json::Value>>>;

fn collecting_service(name: &str, rk: &str, competing: bool, seen: &Seen) -> Service {
    Service::builder(name.to_owned(), seen.clone())
        .options(options())
        .message_envelope(JsonBase)
        .amqp(
            AmqpSubscription::new(rk)
                .name("on_message")
                .competing(competing),
            |s: Arc<Seen>, msg: Message| async move {
                let data: serde_json::Value = msg.data()?;
                s.lock().unwrap().push(data);
                Ok::<_, Error>(())
            },
        )
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_publishes_and_rust_handles() {
    let rk = unique("interop.py2rs");
    let seen: Seen = Arc::default();
    let running = App::new()
        .service(collecting_service("rust-receiver", &rk, false, &seen))
        .start()
        .await
        .unwrap();
    let py = py_service(
        "python-publisher",
        &unique("unused"),
        false,
        Some((&rk, 10)),
    );
    eventually(30, "10 messages from Python", || {
        seen.lock().unwrap().len() == 10
    })
    .await;
    let got = seen.lock().unwrap().clone();
    let ids: HashSet<i64> = got.iter().map(|d| d["i"].as_i64().unwrap()).collect();
    assert_eq!(ids, (0..10).collect());
    assert!(got
        .iter()
        .all(|d| d["from"] == "python" && d["text"] == "友達"));
    drop(py);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_publishes_and_python_handles() {
    let rk = unique("interop.rs2py");
    let py = py_service("python-receiver", &rk, false, None);
    py.wait_ready().await;
    let running = App::new()
        .service(
            Service::builder("rust-publisher", ())
                .options(options())
                .message_envelope(JsonBase)
                .on_start(|_s| async {}),
        )
        .start()
        .await
        .unwrap();
    for i in 0..10 {
        tomodachi::amqp::publish_with(
            &serde_json::json!({"i": i, "from": "rust", "nested": {"list": [1.5, true, null]}}),
            &rk,
            PublishOptions::new().service("rust-publisher"),
        )
        .await
        .unwrap();
    }
    eventually(30, "10 messages in Python", || py.received().len() == 10).await;
    let got = py.received();
    let ids: HashSet<i64> = got.iter().map(|d| d["i"].as_i64().unwrap()).collect();
    assert_eq!(ids, (0..10).collect());
    assert_eq!(
        got[0]["nested"],
        serde_json::json!({"list": [1.5, true, null]})
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_and_python_instances_compete_on_one_queue() {
    let rk = unique("interop.compete");
    let py = py_service("interop-competitor", &rk, true, None);
    py.wait_ready().await;
    let seen: Seen = Arc::default();
    let running = App::new()
        .service(collecting_service("interop-competitor", &rk, true, &seen))
        .start()
        .await
        .expect("the Rust instance joins the queue Python declared");
    for i in 0..40 {
        tomodachi::amqp::publish_with(
            &serde_json::json!({"i": i}),
            &rk,
            PublishOptions::new().service("interop-competitor"),
        )
        .await
        .unwrap();
    }
    eventually(30, "all 40 handled once", || {
        seen.lock().unwrap().len() + py.received().len() >= 40
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rust: Vec<i64> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|d| d["i"].as_i64().unwrap())
        .collect();
    let python: Vec<i64> = py
        .received()
        .iter()
        .map(|d| d["i"].as_i64().unwrap())
        .collect();
    assert!(
        !rust.is_empty() && !python.is_empty(),
        "rust {rust:?} python {python:?}"
    );
    let mut all: Vec<i64> = rust.iter().chain(python.iter()).copied().collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..40).collect::<Vec<_>>(),
        "each message handled exactly once"
    );
    running.stop().await;
}
