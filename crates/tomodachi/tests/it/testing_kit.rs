//! `tomodachi::testing` against the real thing: the in-process HTTP client answers exactly as
//! the server does over TCP, and the kit's clock fires schedules as the real scheduler does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use tomodachi::http::{HttpRequest, Method};
use tomodachi::schedule::{Invocation, ScheduleSpec};
use tomodachi::testing::TestKit;
use tomodachi::{App, Service};

use crate::http_builder::api;
use crate::support::send;

/// Headers whose values the two paths must agree on (the date and length are left out:
/// the date moves, and the kit reports the body itself).
const COMPARED_HEADERS: &[&str] = &[
    "content-type",
    "server",
    "allow",
    "location",
    "connection",
    "x-kind",
    "x-middleware",
];

#[tokio::test]
async fn the_test_client_answers_as_the_server_does_over_tcp() {
    let requests: &[(&str, &str, &str)] = &[
        ("GET", "/", ""),
        ("GET", "/test/", ""),
        ("GET", "/testing", ""),
        ("POST", "/test", "a body"),
        ("DELETE", "/test", ""),
        ("GET", "/items/12", ""),
        ("GET", "/items/twelve", ""),
        ("GET", "/json", ""),
        ("GET", "/forbidden", ""),
        ("GET", "/redirect", ""),
        ("GET", "/fail", ""),
        ("GET", "/panic", ""),
        ("GET", "/bad-charset", ""),
        ("GET", "/whoami", ""),
        ("PUT", "/multi", ""),
        ("HEAD", "/multi", ""),
        ("GET", "/%E5%8F%8B%E9%81%94", ""),
        ("GET", "/%ff", ""),
    ];
    let running = App::new().service(api()).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    let kit = TestKit::new();
    let app = kit.start(api()).await.unwrap();
    for (method, path, body) in requests {
        let tcp = send(addr, method, path, body).await;
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let kit_res = app
            .http()
            .request(method.clone(), path)
            .header("user-agent", "test-client")
            .body(body.to_string())
            .send()
            .await;
        let what = format!("{method} {path}");
        assert_eq!(kit_res.status().as_u16(), tcp.status, "{what}");
        assert_eq!(kit_res.bytes().as_ref(), tcp.body.as_slice(), "{what}");
        for name in COMPARED_HEADERS {
            assert_eq!(kit_res.header(*name), tcp.header(name), "{what}: {name}");
        }
    }
    // a middleware answering on its own
    let res = app
        .http()
        .get("/")
        .header("x-short-circuit", "1")
        .send()
        .await;
    assert_eq!(
        (res.status().as_u16(), res.text().as_str()),
        (418, "short-circuit")
    );
    assert_eq!(app.stop().await, 0);
    assert_eq!(running.stop().await, 0);
}

#[tokio::test]
async fn a_body_over_client_max_size_is_refused_as_over_tcp() {
    let kit = TestKit::new();
    let svc = Service::builder("small", ())
        .configure(|o| o.http.client_max_size = 1024)
        .http(
            Method::POST,
            "/",
            |_s: Arc<()>, r: HttpRequest| async move { r.body().len().to_string() },
        );
    let app = kit.start(svc).await.expect("starts");
    let ok = app.http().post("/").body(vec![b'x'; 1024]).send().await;
    assert_eq!((ok.status().as_u16(), ok.text().as_str()), (200, "1024"));
    let refused = app.http().post("/").body(vec![b'x'; 1025]).send().await;
    assert_eq!(refused.status().as_u16(), 413);
    assert_eq!(
        refused.text(),
        "Maximum request body size 1024 exceeded, actual body size 1025"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_stopped_service_answers_503() {
    let kit = TestKit::new();
    let svc =
        Service::builder("gone", ()).http(Method::GET, "/", |_s: Arc<()>, _r: HttpRequest| async {
            "x"
        });
    let app = kit.start(svc).await.unwrap();
    let client = app.http();
    assert_eq!(client.get("/").send().await.status().as_u16(), 200);
    app.stop().await;
    assert_eq!(client.get("/").send().await.status().as_u16(), 503);
}

/// Fires of a crontab schedule in Europe/Stockholm across the spring-forward gap, driven by
/// the kit's clock: the same instants the real scheduler's tests pin down.
#[tokio::test(start_paused = true)]
async fn the_clock_fires_schedules_at_their_instants_across_dst() {
    // 2026-03-29T00:29:30Z = 01:29:30 CET; at 02:00 local time the clocks jump to 03:00 CEST
    let start = UNIX_EPOCH + Duration::from_secs(1_774_744_170);
    let kit = TestKit::starting_at(start);
    let fires: Arc<Mutex<Vec<String>>> = Arc::default();
    let svc = Service::builder("dst", fires.clone()).schedule(
        "every_half_hour",
        ScheduleSpec::interval("*/30 * * * *").timezone("Europe/Stockholm"),
        |f: Arc<Arc<Mutex<Vec<String>>>>, run: Invocation| async move {
            f.lock().unwrap().push(run.invocation_time);
        },
    );
    let app = kit.start(svc).await.unwrap();
    kit.advance(Duration::from_secs(2 * 3600)).await;
    assert_eq!(
        *fires.lock().unwrap(),
        [
            "2026-03-29T00:30:00Z", // 01:30 CET
            "2026-03-29T01:00:00Z", // 03:00 CEST (02:00 does not exist)
            "2026-03-29T01:30:00Z",
            "2026-03-29T02:00:00Z",
        ]
    );
    app.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_hour_of_a_minutely_schedule_fires_sixty_times() {
    let kit = TestKit::starting_at(UNIX_EPOCH + Duration::from_secs(1_800_000_030));
    let count = Arc::new(AtomicU64::new(0));
    let svc = Service::builder("minutely", count.clone()).schedule(
        "tick",
        ScheduleSpec::interval("minutely"),
        |c: Arc<Arc<AtomicU64>>, _run: Invocation| async move {
            c.fetch_add(1, Ordering::SeqCst);
        },
    );
    let app = kit.start(svc).await.unwrap();
    kit.advance(Duration::from_secs(3600)).await;
    assert_eq!(count.load(Ordering::SeqCst), 60);
    app.stop().await;
}

/// Publishing from an HTTP handler or a scheduled function publishes as that handler's
/// service, also when another service of the same process started later.
#[tokio::test(start_paused = true)]
async fn handlers_publish_as_their_own_service() {
    use tomodachi::envelope::{Envelope, JsonBase};

    // half a minute past a full minute: the 61 s below cross exactly one minute boundary
    // (`TestKit::new()` starts at the wall clock, where 61 s can cross two)
    let kit = TestKit::starting_at(
        std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_630),
    );
    let publisher = Service::builder("publisher-a", ())
        .message_envelope(JsonBase)
        .http(Method::POST, "/publish", |_s: Arc<()>| async {
            tomodachi::amqp::publish(&"from http", "who.published").await
        })
        .schedule(
            "tick",
            ScheduleSpec::interval("minutely"),
            |_s: Arc<()>, _run: Invocation| async {
                tomodachi::amqp::publish(&"from schedule", "who.published").await
            },
        )
        .build();
    let later = Service::builder("started-later-b", ())
        .message_envelope(JsonBase)
        .http(Method::GET, "/", |_s: Arc<()>| async { "b" })
        .build();
    let app = kit.start_all([publisher, later]).await.unwrap();
    let res = app.http_of("publisher-a").post("/publish").send().await;
    assert_eq!(res.status(), 200, "{}", res.text());
    kit.advance(Duration::from_secs(61)).await;
    let senders: Vec<(String, String)> = kit
        .amqp()
        .published()
        .iter()
        .map(|m| {
            let parsed = JsonBase
                .parse_message(std::str::from_utf8(&m.body).unwrap())
                .unwrap();
            (
                parsed.message()["service"]["name"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                parsed.data.deserialize::<String>().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        senders,
        [
            ("publisher-a".to_owned(), "from http".to_owned()),
            ("publisher-a".to_owned(), "from schedule".to_owned()),
        ]
    );
    app.stop().await;
}

/// The execution context is an extractor for HTTP and message handlers.
#[tokio::test]
async fn the_execution_context_is_an_argument() {
    use tomodachi::amqp::AmqpSubscription;
    use tomodachi::ExecutionContext;

    let kit = TestKit::new();
    let seen: Arc<std::sync::Mutex<Vec<serde_json::Value>>> = Arc::default();
    let svc = Service::builder("ctx-args", seen.clone())
        .http(
            Method::GET,
            "/ctx",
            |_s: Arc<Arc<std::sync::Mutex<Vec<serde_json::Value>>>>,
             ExecutionContext(ctx): ExecutionContext| async move {
                ctx["tomodachi_version"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            },
        )
        .amqp(
            AmqpSubscription::new("ctx.args"),
            |s: Arc<Arc<std::sync::Mutex<Vec<serde_json::Value>>>>,
             ExecutionContext(ctx): ExecutionContext| async move {
                s.lock().unwrap().push(ctx["amqp_enabled"].clone());
            },
        );
    let app = kit.start(svc).await.unwrap();
    let res = app.http().get("/ctx").send().await;
    assert_eq!(res.text(), env!("CARGO_PKG_VERSION"));
    kit.publish_amqp("ctx.args", "x").unwrap();
    kit.settle().await;
    assert_eq!(*seen.lock().unwrap(), [serde_json::json!(true)]);
    app.stop().await;
}
