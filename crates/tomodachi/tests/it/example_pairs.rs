//! The examples that exist twice, with the attributes and with the plain builder API, behave
//! the same (run through `tomodachi::testing`).

use std::time::Duration;

use serde_json::json;
use tomodachi::testing::TestKit;
use tomodachi::{IntoService, Service};

#[allow(dead_code)]
#[path = "../../../../examples/sleepy_sheep.rs"]
mod sleepy_sheep;
#[allow(dead_code)]
#[path = "../../../../examples/sleepy_sheep_builder.rs"]
mod sleepy_sheep_builder;

#[allow(dead_code)]
#[path = "../../../../examples/amqp_service.rs"]
mod amqp_service;
#[allow(dead_code)]
#[path = "../../../../examples/amqp_service_builder.rs"]
mod amqp_service_builder;

/// What a client sees of the sleepy sheep service.
async fn sheep_session(service: Service) -> Vec<(u16, String)> {
    let kit = TestKit::new();
    let app = kit.start(service).await.unwrap();
    let http = app.http();
    let mut seen = Vec::new();
    for request in [
        http.get("/sheep"),
        http.post("/sheep"),
        http.post("/sheep"),
        http.get("/sheep"),
        http.get("/sheep/"),
        http.put("/sheep"),
    ] {
        let res = request.send().await;
        seen.push((res.status().as_u16(), res.text()));
    }
    assert_eq!(app.stop().await, 0);
    seen
}

#[tokio::test(start_paused = true)]
async fn sleepy_sheep_macro_and_builder_forms_answer_alike() {
    let with_macros = sheep_session(sleepy_sheep::SleepySheep::default().into_service()).await;
    let with_builder = sheep_session(sleepy_sheep_builder::service()).await;
    assert_eq!(with_macros, with_builder);
    assert_eq!(
        with_macros,
        [
            (200, "0".to_owned()),
            (200, "1".to_owned()),
            (200, "2".to_owned()),
            (200, "2".to_owned()),
            (404, "Not Found".to_owned()),
            (405, "Method Not Allowed".to_owned()),
        ]
    );
    let a = sleepy_sheep::SleepySheep::default().into_service();
    let b = sleepy_sheep_builder::service();
    assert_eq!(a.name(), b.name());
    assert_eq!(a.options().http.port, b.options().http.port);
}

/// What the AMQP example republishes for three messages.
async fn amqp_session(service: Service) -> Vec<serde_json::Value> {
    let kit = TestKit::new();
    let app = kit.start(service).await.unwrap();
    for data in [json!({"n": 1}), json!("two"), json!([3])] {
        kit.publish_amqp("example.topic", &data).unwrap();
    }
    tokio::time::timeout(Duration::from_secs(10), kit.settle())
        .await
        .unwrap();
    assert_eq!(app.stop().await, 0);
    kit.amqp_messages("example.response")
}

#[tokio::test]
async fn amqp_example_macro_and_builder_forms_republish_alike() {
    let with_macros = amqp_session(amqp_service::AmqpExample.into_service()).await;
    let with_builder = amqp_session(amqp_service_builder::service()).await;
    assert_eq!(with_macros, with_builder);
    assert_eq!(with_macros, [json!({"n": 1}), json!("two"), json!([3])]);
}
