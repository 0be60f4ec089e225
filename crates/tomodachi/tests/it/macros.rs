//! `#[tomodachi::service]` end to end: every argument and return form the macro supports,
//! served by a real server on an ephemeral loopback port.

use crate::support;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use support::{get, raw, send, test_options};
use tomodachi::http::{
    Extension, HandlerResult, HeaderMap, HeaderValue, HttpRequest, HttpResponse, IntoResponse,
    Json, Next, Query,
};
use tomodachi::{App, Error, RunningApp};

type Trail = Arc<Mutex<Vec<&'static str>>>;

#[derive(Default)]
struct Zoo {
    trail: Trail,
}

impl Zoo {
    fn record(&self, what: &'static str) {
        self.trail.lock().unwrap().push(what);
    }
}

fn zoo_options() -> tomodachi::Options {
    test_options()
}

/// What the middleware hands to handlers.
#[derive(Clone)]
struct Caller(String);

async fn caller_mw(_zoo: Arc<Zoo>, mut request: HttpRequest, next: Next) -> HandlerResult {
    let caller = request.header("x-caller").unwrap_or("anonymous").to_owned();
    request.extensions_mut().insert(Caller(caller));
    let mut response = next.run(request).await?;
    response
        .headers_mut()
        .insert("x-mw", HeaderValue::from_static("caller"));
    Ok(response)
}

#[derive(Deserialize, Serialize)]
struct Sheep {
    name: String,
    count: u32,
}

#[derive(Deserialize)]
struct Page {
    page: u32,
    #[serde(default)]
    q: String,
}

#[tomodachi::service(name = "macro-zoo", options = zoo_options(), http_middleware = [caller_mw])]
impl Zoo {
    // --- the request itself ---------------------------------------------------------------
    #[http(GET, r"/request")]
    async fn owned_request(&self, request: HttpRequest) -> String {
        format!(
            "{} {} {:?}",
            request.method(),
            request.path(),
            request.query()
        )
    }

    #[http(GET, r"/request-ref/?")]
    async fn borrowed_request(&self, request: &HttpRequest) -> String {
        format!("ref {}", request.path())
    }

    // --- named groups ---------------------------------------------------------------------
    #[http(GET, r"/groups/(?P<name>[^/]+)/(?P<n>[^/]+)/(?P<tail>[a-z]+)")]
    async fn groups(&self, name: String, n: u32, tail: &str) -> String {
        format!("name={name} n={n} tail={tail}")
    }

    #[http(GET, r"/opt(?:/(?P<x>\d+))?")]
    async fn optional_group(&self, x: Option<String>) -> String {
        format!("x={x:?}")
    }

    #[http(GET, r"/before/(?P<id>\d+)")]
    async fn group_before_request(&self, id: u64, request: HttpRequest) -> String {
        format!("id={id} path={}", request.path())
    }

    // --- extractors -----------------------------------------------------------------------
    #[http(POST, r"/json")]
    async fn json(&self, Json(sheep): Json<Sheep>) -> Json<Sheep> {
        Json(Sheep {
            name: sheep.name.to_uppercase(),
            count: sheep.count + 1,
        })
    }

    #[http(GET, r"/query")]
    async fn query(&self, Query(page): Query<Page>) -> String {
        format!("page={} q={}", page.page, page.q)
    }

    #[http(GET, r"/whoami")]
    async fn whoami(&self, Extension(caller): Extension<Caller>, headers: HeaderMap) -> String {
        let agent = headers.get("user-agent").and_then(|v| v.to_str().ok());
        format!("{} via {}", caller.0, agent.unwrap_or("-"))
    }

    #[http(POST, r"/bytes")]
    async fn bytes(&self, body: Bytes) -> (u16, String) {
        (
            201,
            format!("{} bytes, first {:?}", body.len(), body.first()),
        )
    }

    // --- return forms ---------------------------------------------------------------------
    #[http(GET, r"/static")]
    async fn static_str(&self) -> &'static str {
        "static"
    }

    #[http(GET, r"/tuple3")]
    async fn tuple3(&self) -> (u16, &str, [(&str, &str); 1]) {
        (202, "accepted", [("X-Kind", "tuple")])
    }

    #[http(GET, r"/borrowed-str")]
    async fn borrowed_str(&self) -> &str {
        "elided lifetime"
    }

    #[http(GET, r"/impl")]
    async fn impl_trait(&self) -> impl IntoResponse {
        (203, "impl")
    }

    #[http(GET, r"/response")]
    async fn response(&self) -> HttpResponse {
        HttpResponse::text("teapot")
            .status(418)
            .header("X-Response", "built")
    }

    #[http(GET, r"/guarded/(?P<who>[a-z]+)")]
    async fn guarded(&self, who: String) -> Result<String, Error> {
        if who == "root" {
            return Err(Error::http(403));
        }
        Ok(format!("welcome {who}"))
    }

    #[http(GET, r"/boom")]
    async fn boom(&self) -> Result<String, Error> {
        Err(Error::msg("boom"))
    }

    #[http(POST, r"/unit")]
    async fn unit(&self) {
        self.record("unit");
    }

    // --- methods --------------------------------------------------------------------------
    #[http(GET, r"/a")]
    #[http(POST, r"/b")]
    async fn stacked(&self, request: &HttpRequest) -> String {
        format!("stacked {} {}", request.method(), request.path())
    }

    #[http([GET, PUT], r"/multi")]
    async fn multi(&self, request: HttpRequest) -> String {
        format!("multi {}", request.method())
    }

    #[http("post", r"/lower")]
    async fn lower(&self) -> &'static str {
        "lower"
    }

    // --- ignore_logging -------------------------------------------------------------------
    #[http(GET, r"/quiet", ignore_logging = true)]
    async fn quiet(&self) -> &'static str {
        "quiet"
    }

    #[http(GET, r"/quiet-200", ignore_logging = [200])]
    async fn quiet_200(&self) -> &'static str {
        "quiet 200"
    }

    // --- error handlers -------------------------------------------------------------------
    #[http_error(status_code = 404)]
    async fn not_found(&self, status_code: u16, request: HttpRequest) -> String {
        format!("error {status_code}: {}", request.path())
    }

    #[http_error(status_code = 500)]
    async fn server_error(&self, request: &HttpRequest, status_code: u32) -> String {
        format!("error {status_code} at {}", request.path())
    }

    // --- hooks ----------------------------------------------------------------------------
    async fn start_service(&self) {
        self.record("start_service");
    }

    async fn started_service(&self) -> tomodachi::Result<()> {
        self.record("started_service");
        Ok(())
    }

    async fn stopping_service(&self) {
        self.record("stopping_service");
    }

    async fn stop_service(&self) -> tomodachi::Result<()> {
        self.record("stop_service");
        Ok(())
    }
}

/// A service whose `start_service` fails.
struct Broken;

#[tomodachi::service(name = "macro-broken", options = zoo_options())]
impl Broken {
    #[http(GET, r"/")]
    async fn index(&self) -> &'static str {
        "never served"
    }

    async fn start_service(&self) -> Result<(), Error> {
        Err(Error::msg("broken on purpose"))
    }
}

async fn start_zoo() -> (RunningApp, std::net::SocketAddr, Trail) {
    let zoo = Zoo::default();
    let trail = zoo.trail.clone();
    let running = App::new().service(zoo).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    (running, addr, trail)
}

fn status_text(r: &support::Resp) -> (u16, String) {
    (r.status, r.text())
}

#[tokio::test]
async fn service_attributes_name_options_and_middleware() {
    let svc = tomodachi::IntoService::into_service(Zoo::default());
    assert_eq!(svc.name(), "macro-zoo");
    assert_eq!(svc.options().http.port, 0, "options = zoo_options()");
    assert_eq!(svc.options().http.host, "127.0.0.1");

    let (running, addr, _) = start_zoo().await;
    let r = get(addr, "/static").await;
    assert_eq!(status_text(&r), (200, "static".into()));
    assert_eq!(r.header("x-mw"), Some("caller"));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(running.stop().await, 0);
}

#[tokio::test]
async fn request_arguments_owned_and_borrowed() {
    let (running, addr, _) = start_zoo().await;
    assert_eq!(
        status_text(&get(addr, "/request?a=1").await),
        (200, r#"GET /request Some("a=1")"#.into())
    );
    assert_eq!(
        status_text(&get(addr, "/request-ref/").await),
        (200, "ref /request-ref/".into())
    );
    running.stop().await;
}

#[tokio::test]
async fn named_groups_by_type() {
    let (running, addr, _) = start_zoo().await;
    assert_eq!(
        status_text(&get(addr, "/groups/dolly/7/wool").await),
        (200, "name=dolly n=7 tail=wool".into())
    );
    // percent-decoded String group
    assert_eq!(
        get(addr, "/groups/a%20b/0/x").await.text(),
        "name=a b n=0 tail=x"
    );
    // u32 that does not parse, or overflows: 400
    assert_eq!(
        status_text(&get(addr, "/groups/dolly/seven/wool").await),
        (400, "Bad Request".into())
    );
    assert_eq!(get(addr, "/groups/dolly/4294967296/wool").await.status, 400);
    assert_eq!(get(addr, "/groups/dolly/-1/wool").await.status, 400);

    // optional group
    assert_eq!(get(addr, "/opt").await.text(), "x=None");
    assert_eq!(get(addr, "/opt/42").await.text(), r#"x=Some("42")"#);
    assert_eq!(get(addr, "/opt/").await.status, 404);

    // a group declared before `request`
    assert_eq!(
        status_text(&get(addr, "/before/12").await),
        (200, "id=12 path=/before/12".into())
    );
    running.stop().await;
}

#[tokio::test]
async fn extractors_json_query_extension_headers_bytes() {
    let (running, addr, _) = start_zoo().await;

    let r = send(addr, "POST", "/json", r#"{"name": "dolly", "count": 1}"#).await;
    assert_eq!(
        status_text(&r),
        (200, r#"{"name":"DOLLY","count":2}"#.into())
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(send(addr, "POST", "/json", "not json").await.status, 400);
    assert_eq!(
        send(addr, "POST", "/json", r#"{"name": "x"}"#).await.status,
        400
    );

    assert_eq!(
        get(addr, "/query?page=3&q=wool").await.text(),
        "page=3 q=wool"
    );
    assert_eq!(get(addr, "/query?page=4").await.text(), "page=4 q=");
    assert_eq!(get(addr, "/query?page=x").await.status, 400);
    assert_eq!(get(addr, "/query").await.status, 400);

    // Extension<Caller> from the middleware, HeaderMap from the request
    assert_eq!(
        get(addr, "/whoami").await.text(),
        "anonymous via test-client"
    );
    let r = raw(
        addr,
        b"GET /whoami HTTP/1.1\r\nHost: x\r\nX-Caller: shepherd\r\nUser-Agent: curl\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_text(&r), (200, "shepherd via curl".into()));

    // Bytes body, (u16, String) return
    let r = send(addr, "POST", "/bytes", "abc").await;
    assert_eq!(status_text(&r), (201, "3 bytes, first Some(97)".into()));
    let r = send(addr, "POST", "/bytes", "").await;
    assert_eq!(status_text(&r), (201, "0 bytes, first None".into()));
    running.stop().await;
}

#[tokio::test]
async fn return_forms() {
    let (running, addr, trail) = start_zoo().await;

    let r = get(addr, "/tuple3").await;
    assert_eq!(status_text(&r), (202, "accepted".into()));
    assert_eq!(r.header("x-kind"), Some("tuple"));

    assert_eq!(
        status_text(&get(addr, "/borrowed-str").await),
        (200, "elided lifetime".into())
    );
    assert_eq!(status_text(&get(addr, "/impl").await), (203, "impl".into()));

    let r = get(addr, "/response").await;
    assert_eq!(status_text(&r), (418, "teapot".into()));
    assert_eq!(r.header("x-response"), Some("built"));
    assert_eq!(r.header("x-mw"), Some("caller"));

    assert_eq!(
        status_text(&get(addr, "/guarded/dolly").await),
        (200, "welcome dolly".into())
    );
    // Error::http(403) keeps its status; there is no 403 handler
    assert_eq!(
        status_text(&get(addr, "/guarded/root").await),
        (403, "Forbidden".into())
    );

    // () is an empty 200
    let r = send(addr, "POST", "/unit", "").await;
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert!(trail.lock().unwrap().contains(&"unit"));
    running.stop().await;
}

#[tokio::test]
async fn methods_stacked_lists_and_strings() {
    let (running, addr, _) = start_zoo().await;

    assert_eq!(
        status_text(&get(addr, "/a").await),
        (200, "stacked GET /a".into())
    );
    assert_eq!(
        status_text(&send(addr, "POST", "/b", "").await),
        (200, "stacked POST /b".into())
    );
    let r = send(addr, "POST", "/a", "").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET,HEAD"));
    let r = get(addr, "/b").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));

    assert_eq!(get(addr, "/multi").await.text(), "multi GET");
    assert_eq!(send(addr, "PUT", "/multi", "").await.text(), "multi PUT");
    let r = send(addr, "POST", "/multi", "").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET,HEAD,PUT"));

    assert_eq!(
        status_text(&send(addr, "POST", "/lower", "").await),
        (200, "lower".into())
    );
    let r = get(addr, "/lower").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));

    assert_eq!(
        status_text(&get(addr, "/quiet").await),
        (200, "quiet".into())
    );
    assert_eq!(
        status_text(&get(addr, "/quiet-200").await),
        (200, "quiet 200".into())
    );
    running.stop().await;
}

#[tokio::test]
async fn error_handlers_get_status_code_and_request() {
    let (running, addr, _) = start_zoo().await;
    let r = get(addr, "/nothing/here").await;
    assert_eq!(status_text(&r), (404, "error 404: /nothing/here".into()));
    assert_eq!(r.header("x-mw"), Some("caller"));
    let r = get(addr, "/boom").await;
    assert_eq!(status_text(&r), (500, "error 500 at /boom".into()));
    // the service keeps serving
    assert_eq!(get(addr, "/static").await.text(), "static");
    running.stop().await;
}

#[tokio::test]
async fn hooks_run_in_order() {
    let (running, addr, trail) = start_zoo().await;
    assert_eq!(*trail.lock().unwrap(), ["start_service", "started_service"]);
    assert_eq!(send(addr, "POST", "/unit", "").await.status, 200);
    assert_eq!(running.stop().await, 0);
    assert_eq!(
        *trail.lock().unwrap(),
        [
            "start_service",
            "started_service",
            "unit",
            "stopping_service",
            "stop_service"
        ]
    );
}

#[tokio::test]
async fn a_failing_start_service_fails_the_start() {
    let err = App::new().service(Broken).start().await.err().unwrap();
    assert_eq!(err.to_string(), "broken on purpose");

    // next to a healthy service: that one is started, then stopped again, never `started`
    let zoo = Zoo::default();
    let trail = zoo.trail.clone();
    let err = App::new()
        .service(zoo)
        .service(Broken)
        .start()
        .await
        .err()
        .unwrap();
    assert_eq!(err.to_string(), "broken on purpose");
    assert_eq!(
        *trail.lock().unwrap(),
        ["start_service", "stopping_service", "stop_service"]
    );
}
