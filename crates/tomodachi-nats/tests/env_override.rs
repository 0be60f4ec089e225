//! `TOMODACHI_NATS_URL` overrides the configured servers. Its own test binary: it changes the
//! process environment, which every other test's start reads.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use common::{eventually, unique, TestNats};
use tomodachi::{App, ServiceBuilder};
use tomodachi_nats::{NatsConfig, NatsServiceBuilderExt, NatsSubscription, NATS_URL_ENV};

#[tokio::test]
async fn the_environment_overrides_the_configured_servers() {
    let nats = TestNats::start().await;
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    // the only test of this binary: nothing else reads the environment meanwhile
    std::env::set_var(NATS_URL_ENV, &nats.url);
    let subject = unique("env");
    let handled = Arc::new(AtomicU32::new(0));
    let service = ServiceBuilder::from_arc("env-override", handled.clone())
        .nats_config(NatsConfig::new().servers([format!("nats://127.0.0.1:{dead_port}")]))
        .nats(
            NatsSubscription::new(&subject).raw(),
            |n: Arc<AtomicU32>, text: tomodachi::message::Data<String>| async move {
                assert_eq!(text.0, "hello");
                n.fetch_add(1, Ordering::SeqCst);
            },
        )
        .build();
    let app = App::new()
        .service(service)
        .start()
        .await
        .expect("started on the server from the environment");
    let js = async_nats::jetstream::new(nats.client().await);
    js.publish(subject.clone(), "hello".into())
        .await
        .expect("published")
        .await
        .expect("stored");
    eventually("handled", || handled.load(Ordering::SeqCst) == 1).await;
    assert_eq!(app.stop().await, 0);
    std::env::remove_var(NATS_URL_ENV);
}
