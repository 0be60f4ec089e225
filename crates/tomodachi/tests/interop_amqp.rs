//! Interop with the real Python tomodachi (PyPI 0.29, in `.venv` from `scripts/test-env.sh`)
//! over a real RabbitMQ: Python publishes → Rust handles, Rust publishes → Python handles, and a
//! Rust and a Python instance of one service compete on one queue.

#[path = "support/python.rs"]
mod python;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tomodachi::amqp::{AmqpSubscription, PublishOptions};
use tomodachi::envelope::JsonBase;
use tomodachi::message::Message;
use tomodachi::{App, Error, Options, Service};

/// A running Python tomodachi service; killed on drop.
struct PyService {
    child: Child,
    out: PathBuf,
}

impl PyService {
    fn start(name: &str, rk_in: &str, competing: bool, rk_out: Option<(&str, u32)>) -> PyService {
        let dir = std::env::temp_dir().join(format!("tomodachi-interop-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("received.jsonl");
        let service = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/amqp_interop.py");
        std::fs::copy(&service, dir.join("amqp_interop.py")).unwrap();
        let python = python::python();
        let tomodachi_cli = python.parent().unwrap().join("tomodachi");
        let mut cmd = Command::new(tomodachi_cli);
        cmd.current_dir(&dir)
            .args(["run", "amqp_interop.py", "--production"])
            .env("SVC_NAME", name)
            .env("RK_IN", rk_in)
            .env("OUT_FILE", &out)
            .env("COMPETING", if competing { "1" } else { "0" })
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((rk, count)) = rk_out {
            cmd.env("RK_OUT", rk)
                .env("PUBLISH_COUNT", count.to_string());
        }
        let child = cmd.spawn().expect("start the Python service");
        PyService { child, out }
    }

    async fn wait_ready(&self) {
        let ready = self.out.with_extension("jsonl.ready");
        for _ in 0..600 {
            if ready.exists() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the Python service did not start");
    }

    fn received(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for PyService {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn options() -> Options {
    let mut o = Options::default();
    o.http.port = 0;
    o.http.host = "127.0.0.1".into();
    o
}

fn unique(prefix: &str) -> String {
    format!("{prefix}.{}", uuid::Uuid::new_v4().simple())
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..600 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
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
    let py = PyService::start(
        "python-publisher",
        &unique("unused"),
        false,
        Some((&rk, 10)),
    );
    eventually("10 messages from Python", || {
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
    let py = PyService::start("python-receiver", &rk, false, None);
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
    eventually("10 messages in Python", || py.received().len() == 10).await;
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
    let py = PyService::start("interop-competitor", &rk, true, None);
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
    eventually("all 40 handled once", || {
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
