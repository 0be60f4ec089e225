//! A broker restart mid-stream (`rabbitmqctl stop_app` / `start_app`): the consumer and the
//! publisher recover without a process restart and every published message is handled at
//! least once. Its own test binary: it restarts the broker under every connection.

use std::collections::HashSet;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tomodachi::amqp::{AmqpSubscription, PublishOptions};
use tomodachi::message::Message;
use tomodachi::{App, Error, Options, Service};

fn rabbitmqctl(args: &[&str]) {
    let ok = Command::new("rabbitmqctl")
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("rabbitmqctl is installed with rabbitmq-server")
        .success();
    assert!(ok, "rabbitmqctl {args:?} failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_is_handled_across_a_broker_restart() {
    const N: i64 = 150;
    let rk = format!("test.restart.{}", uuid::Uuid::new_v4().simple());
    let seen: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let mut options = Options::default();
    options.http.port = 0;
    let svc = Service::builder("amqp-restart", seen.clone())
        .options(options)
        .amqp(
            AmqpSubscription::new(rk.clone()).competing(true),
            |s: Arc<Arc<Mutex<HashSet<i64>>>>, msg: Message| async move {
                let i: i64 = msg.data()?;
                tokio::time::sleep(Duration::from_millis(5)).await;
                s.lock().unwrap().insert(i);
                Ok::<_, Error>(())
            },
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();

    let publish_rk = rk.clone();
    let publisher = tokio::spawn(async move {
        for i in 0..N {
            tomodachi::amqp::publish_with(
                &i.to_string(),
                &publish_rk,
                PublishOptions::new()
                    .raw()
                    .persistent()
                    .service("amqp-restart"),
            )
            .await
            .unwrap_or_else(|e| panic!("publish {i} failed: {e}"));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    tokio::task::spawn_blocking(|| {
        rabbitmqctl(&["stop_app"]);
        std::thread::sleep(Duration::from_secs(1));
        rabbitmqctl(&["start_app"]);
        rabbitmqctl(&["await_startup"]);
    })
    .await
    .unwrap();
    publisher.await.expect("every publish eventually succeeded");
    for _ in 0..1200 {
        if seen.lock().unwrap().len() == N as usize {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = seen.lock().unwrap().clone();
    let missing: Vec<i64> = (0..N).filter(|i| !seen.contains(i)).collect();
    assert!(missing.is_empty(), "never handled: {missing:?}");
    assert_eq!(running.stop().await, 0);
}
