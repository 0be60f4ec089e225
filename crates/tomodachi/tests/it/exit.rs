//! `tomodachi::exit(code)` stops every running app in the process with that exit code;
//! `set_exit_code` and the service attributes config files set. `exit` is kept in
//! its own test binary because it reaches every app of the process.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use tomodachi::http::{HttpRequest, Method};
use tomodachi::{App, Service};

#[tokio::test]
async fn exit_from_a_handler_stops_the_service_with_that_code() {
    let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let svc = Service::builder("exiter", stopped.clone())
        .options(support::test_options())
        .http(
            Method::POST,
            r"/exit/(?P<code>\d+)",
            |_s: Arc<Arc<std::sync::atomic::AtomicBool>>, r: HttpRequest| async move {
                let code: i32 = r.parse_param("code")?;
                tomodachi::exit(Some(code));
                Ok::<_, tomodachi::Error>("bye")
            },
        )
        .on_stop(|s| async move { s.store(true, std::sync::atomic::Ordering::SeqCst) })
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    let waiter = tokio::spawn(running.wait());
    let r = support::send(addr, "POST", "/exit/3", "").await;
    assert_eq!(
        r.text(),
        "bye",
        "the request that called exit still gets its response"
    );
    let code = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("stops")
        .unwrap();
    assert_eq!(code, 3);
    assert!(
        stopped.load(std::sync::atomic::Ordering::SeqCst),
        "stop_service ran"
    );
}

#[tokio::test]
async fn set_exit_code_in_a_handler_is_the_code_of_a_later_stop() {
    let svc = Service::builder("exit-code-setter", ())
        .options(support::test_options())
        .http(
            Method::POST,
            r"/code/(?P<code>\d+)",
            |_s: Arc<()>, r: HttpRequest| async move {
                let code: i32 = r.parse_param("code")?;
                tomodachi::set_exit_code(code);
                Ok::<_, tomodachi::Error>("set")
            },
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    assert_eq!(
        support::send(addr, "POST", "/code/128", "").await.text(),
        "set"
    );
    // still running: the code only waits for the stop
    assert_eq!(support::get(addr, "/nothing").await.status, 404);
    assert_eq!(running.stop().await, 128);
}

/// Custom attributes: set in code, merged with a config file's other top-level keys by
/// upstream's rule, read by handlers.
#[tokio::test]
async fn config_file_attributes_reach_the_handlers() {
    let config = tomodachi::options::ConfigFile::from_json_str(
        "attributes.json",
        r#"{"options": {"http": {"port": 0}}, "greeting": "hej", "tags": ["from-config"],
            "limits": {"burst": 5}, "only_in_config": 42}"#,
    )
    .unwrap();
    let svc = Service::builder("attributes", ())
        .options(support::test_options())
        .attribute("greeting", "")
        .attribute("tags", ["from-code"])
        .attribute("limits", serde_json::json!({"rate": 1}))
        .attribute("untouched", true)
        .http(Method::GET, r"/attributes", |_s: Arc<()>| async {
            let all: Vec<serde_json::Value> = [
                "greeting",
                "tags",
                "limits",
                "only_in_config",
                "untouched",
                "missing",
            ]
            .iter()
            .map(|k| tomodachi::service_attribute::<serde_json::Value>(k).unwrap_or_default())
            .collect();
            let n: Option<u32> = tomodachi::service_attribute("only_in_config");
            let wrong_type: Option<u32> = tomodachi::service_attribute("greeting");
            format!("{} {n:?} {wrong_type:?}", serde_json::Value::Array(all))
        })
        .build();
    let running = App::new()
        .config(config)
        .service(svc)
        .start()
        .await
        .unwrap();
    let addr = running.http_addr(0).unwrap();
    assert_eq!(
        support::get(addr, "/attributes").await.text(),
        r#"["hej",["from-code","from-config"],{"rate":1,"burst":5},42,true,null] Some(42) None"#
    );
    running.stop().await;
}
