//! `tomodachi::exit(code)` stops every running app in the process with that exit code. Kept in
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
