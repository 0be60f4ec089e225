//! The service binaries as processes: signals, exit codes, flags, env vars, config files and
//! the JSON log output. Uses the example binaries (`cargo build --workspace --examples --bins` first; the test
//! script does that).

use crate::support;
use crate::support::examples;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{get, send};

/// A running example with its stderr collected line by line.
struct Proc {
    child: Child,
    lines: Arc<(Mutex<Vec<String>>, Condvar)>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Proc {
    fn spawn(name: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
        let mut child = examples::example_command(name, args, env)
            .spawn()
            .expect("spawn example");
        let stderr = child.stderr.take().expect("stderr");
        let lines = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let (m, cv) = &*sink;
                m.lock().unwrap().push(line);
                cv.notify_all();
            }
        });
        Proc {
            child,
            lines,
            reader: Some(reader),
        }
    }

    /// Waits for a stderr line containing `needle`.
    fn wait_line(&self, needle: &str, timeout: Duration) -> String {
        let (m, cv) = &*self.lines;
        let deadline = Instant::now() + timeout;
        let mut guard = m.lock().unwrap();
        loop {
            if let Some(l) = guard.iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no line with {needle:?} in:\n{}",
                guard.join("\n")
            );
            guard = cv.wait_timeout(guard, left).unwrap().0;
        }
    }

    fn json_lines(&self) -> Vec<Value> {
        let (m, _) = &*self.lines;
        m.lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    fn all_output(&self) -> String {
        self.lines.0.lock().unwrap().join("\n")
    }

    /// The HTTP address from the JSON `accepting http requests` record.
    fn http_addr(&self) -> SocketAddr {
        let line = self.wait_line("accepting http requests", Duration::from_secs(20));
        let v: Value = serde_json::from_str(&line).expect("json log line");
        let port = v["listen_port"].as_u64().expect("listen_port") as u16;
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok);
    }

    fn wait_exit(&mut self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // all of stderr is read once the reader sees EOF
                if let Some(reader) = self.reader.take() {
                    let _ = reader.join();
                }
                return status.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("process did not exit; output:\n{}", self.all_output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json_service(name: &str, extra: &[&str], env: &[(&str, &str)]) -> Proc {
    let mut args = vec!["--production", "--logger", "json"];
    args.extend_from_slice(extra);
    let mut env = env.to_vec();
    env.push(("HTTP_PORT", "0"));
    Proc::spawn(name, &args, &env)
}

fn write_config(name: &str, body: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("tomodachi-test-{}-{name}", std::process::id()));
    std::fs::write(&path, body).expect("write config");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_50_slow_requests_in_flight_all_get_200_and_exit_0() {
    let mut svc = json_service("sleepy_sheep", &[], &[]);
    let addr = svc.http_addr();
    let requests: Vec<_> = (0..50)
        .map(|_| tokio::spawn(async move { send(addr, "POST", "/sheep", "").await }))
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    svc.signal("TERM");
    let mut counts = Vec::new();
    for r in requests {
        let r = r.await.expect("request task");
        assert_eq!(r.status, 200, "every in-flight request completes");
        counts.push(r.text().parse::<u32>().expect("a count"));
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=50).collect::<Vec<_>>());
    let code = tokio::task::spawn_blocking(move || {
        let code = svc.wait_exit(Duration::from_secs(15));
        (code, svc.all_output())
    })
    .await
    .unwrap();
    assert_eq!(code.0, 0, "{}", code.1);
    assert!(code.1.contains("received termination signal"));
    assert!(code.1.contains("terminated service"));
}

#[tokio::test]
async fn sigint_stops_gracefully_with_exit_code_0() {
    let mut svc = json_service("docker_service", &[], &[]);
    let addr = svc.http_addr();
    assert_eq!(get(addr, "/health").await.status, 200);
    svc.signal("INT");
    assert_eq!(svc.wait_exit(Duration::from_secs(10)), 0);
    assert!(svc.all_output().contains("interrupt signal <ctrl+c>"));
}

#[tokio::test]
async fn json_logs_carry_upstream_records_and_access_log_fields() {
    let mut svc = json_service("docker_service", &[], &[]);
    let addr = svc.http_addr();
    let r = support::raw(
        addr,
        b"GET /nope?q=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: probe/1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), r#"{"error":"not-found"}"#);
    get(addr, "/health").await; // ignore_logging: no access record
    svc.wait_line("\"request_path\": \"/nope\"", Duration::from_secs(5));
    svc.signal("TERM");
    assert_eq!(svc.wait_exit(Duration::from_secs(10)), 0);

    let lines = svc.json_lines();
    let find = |msg: &str| {
        lines
            .iter()
            .find(|v| v["message"] == msg)
            .unwrap_or_else(|| panic!("no {msg:?} record in {lines:?}"))
    };
    let init = find("initializing service instance");
    assert_eq!(init["logger"], "tomodachi.service");
    assert_eq!(init["service"], "example");
    assert!(init["uuid"].as_str().unwrap().len() == 36);
    assert_eq!(find("started service successfully")["state"], "ready");
    assert_eq!(find("terminated service")["state"], "terminated");

    let access: Vec<&Value> = lines
        .iter()
        .filter(|v| v["logger"] == "tomodachi.http.response")
        .collect();
    assert_eq!(access.len(), 1, "health is ignore_logging: {access:?}");
    let rec = access[0];
    let keys: Vec<&str> = rec
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "timestamp",
            "logger",
            "level",
            "message",
            "status_code",
            "remote_ip",
            "request_method",
            "request_path",
            "request_query_string",
            "http_version",
            "response_content_length",
            "user_agent",
            "handler_elapsed_time",
            "request_time"
        ]
    );
    assert_eq!(rec["message"], "");
    assert_eq!(rec["status_code"], 404);
    assert_eq!(rec["remote_ip"], "127.0.0.1");
    assert_eq!(rec["request_query_string"], "q=1");
    assert_eq!(rec["http_version"], "HTTP/1.1");
    assert_eq!(rec["user_agent"], "probe/1");
    let t = rec["request_time"].as_str().unwrap();
    assert!(t.ends_with('s') && t.len() == "0.00000s".len(), "{t}");
}

#[tokio::test]
async fn docker_example_serves_context_health_and_json_errors() {
    let svc = json_service("docker_service", &[], &[]);
    let addr = svc.http_addr();
    let r = get(addr, "/").await;
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["data"], "hello world");
    let ctx = &v["execution_context"];
    for key in [
        "tomodachi_version",
        "rust_version",
        "system_platform",
        "process_id",
        "init_timestamp",
        "event_loop",
        "http_enabled",
        "http_current_tasks",
        "http_total_tasks",
    ] {
        assert!(ctx.get(key).is_some(), "{key} missing from {ctx}");
    }
    assert_eq!(ctx["http_current_tasks"], 1);
    let r = send(addr, "POST", "/health", "").await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (405, r#"{"error":"method-not-allowed"}"#)
    );
    let r = get(addr, "/health").await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, r#"{"status":"healthy"}"#)
    );
}

// SIGTERM while websockets are open: every client receives a close frame (1000, normal
// closure), the close callbacks run, and the process exits with 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_sends_open_websockets_a_close_frame_and_exits_0() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::Message;
    let mut svc = json_service("websocket_service", &[], &[]);
    let addr = svc.http_addr();
    let mut clients = Vec::new();
    for room in ["a", "b", "c"] {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/websocket/{room}"))
            .await
            .expect("handshake");
        ws.send(Message::text("hi")).await.unwrap();
        let answer = ws.next().await;
        assert!(
            matches!(&answer, Some(Ok(Message::Text(t))) if t.as_str() == format!("{room}: hi")),
            "{answer:?}"
        );
        clients.push(ws);
    }
    svc.signal("TERM");
    for mut ws in clients {
        let code = loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => break frame.map(|f| f.code),
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        };
        assert_eq!(code, Some(CloseCode::Normal));
        // the client's answer completes the closing handshake
        let _ = ws.close(None).await;
    }
    let (code, records) = tokio::task::spawn_blocking(move || {
        let code = svc.wait_exit(Duration::from_secs(20));
        (code, svc.json_lines())
    })
    .await
    .unwrap();
    assert_eq!(code, 0);
    let closing = records
        .iter()
        .find(|r| r["message"] == "closing websocket connections")
        .expect("the closing record");
    assert_eq!(closing["connection_count"], 3);
    let closed = records
        .iter()
        .filter(|r| r["websocket_state"] == "closed")
        .count();
    assert_eq!(closed, 3);
}

// Upstream's README HTTP example, route for route.
#[tokio::test]
async fn http_service_example_is_upstreams_readme_example() {
    let cfg = write_config("http-port.json", r#"{"options": {"http": {"port": 0}}}"#);
    let svc = json_service("http_service", &["-c", cfg.to_str().unwrap()], &[]);
    let addr = svc.http_addr();
    for (path, status, body) in [
        ("/resource/1234", 200, "id = 1234"),
        ("/resource/1234/", 200, "id = 1234"),
        ("/resource/", 404, "error 404"),
        ("/health", 200, "Healthy"),
        ("/health/", 404, "error 404"),
        ("/nothing-here", 404, "error 404"),
    ] {
        let r = get(addr, path).await;
        assert_eq!((r.status, r.text().as_str()), (status, body), "{path}");
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(r.header("server"), Some("tomodachi"));
    }
    let started = svc
        .json_lines()
        .into_iter()
        .find(|r| r["message"] == "initializing service instance")
        .expect("the service's first line");
    assert_eq!(started["service"], "http-example");
}

#[tokio::test]
async fn http_features_example() {
    let cfg = write_config("http-port.json", r#"{"options": {"http": {"port": 0}}}"#);
    let svc = json_service("http_features", &["-c", cfg.to_str().unwrap()], &[]);
    let addr = svc.http_addr();
    let r = get(addr, "/example/1234").await;
    assert_eq!(r.text(), "友達 (id: 1234)");
    assert_eq!(get(addr, "/health").await.text(), "healthy");
    let r = get(addr, "/response").await;
    assert_eq!(r.header("content-type"), Some("application/json"));
    let r = get(addr, "/nothing-here").await;
    assert_eq!((r.status, r.text().as_str()), (404, "error 404"));
}

#[tokio::test]
async fn config_files_merge_into_the_options_key_by_key() {
    let a = write_config(
        "a.json",
        r#"{"options": {"http": {"server_header": "first"}}}"#,
    );
    let b = write_config(
        "b.json",
        r#"{"uuid": "11111111-2222-3333-4444-555555555555", "options": {"http.server_header": "second", "http": {"access_log": false}}}"#,
    );
    let svc = json_service(
        "docker_service",
        &["-c", a.to_str().unwrap(), b.to_str().unwrap()],
        &[],
    );
    let addr = svc.http_addr();
    let r = get(addr, "/").await;
    assert_eq!(r.header("server"), Some("second"), "later file wins");
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8"),
        "options set in code and not in the files are kept"
    );
    let init = svc.wait_line("initializing service instance", Duration::from_secs(5));
    assert!(
        init.contains("11111111-2222-3333-4444-555555555555"),
        "{init}"
    );
    assert!(!svc.all_output().contains("tomodachi.http.response"));
}

#[test]
fn bad_config_files_and_flags_are_clear_errors_with_exit_code_2() {
    let unknown = write_config("unknown.json", r#"{"options": {"http": {"prot": 1}}}"#);
    let mut p = Proc::spawn("docker_service", &["-c", unknown.to_str().unwrap()], &[]);
    assert_eq!(p.wait_exit(Duration::from_secs(10)), 2);
    let out = p.all_output();
    assert!(out.contains(unknown.to_str().unwrap()), "{out}");
    assert!(out.contains("http.prot"), "{out}");

    let badtype = write_config(
        "badtype.json",
        r#"{"options": {"http": {"port": "eighty"}}}"#,
    );
    let mut p = Proc::spawn("docker_service", &["-c", badtype.to_str().unwrap()], &[]);
    assert_eq!(p.wait_exit(Duration::from_secs(10)), 2);
    assert!(p.all_output().contains("http.port"), "{}", p.all_output());

    let badjson = write_config("bad.json", "{\"options\": ");
    let mut p = Proc::spawn("docker_service", &["-c", badjson.to_str().unwrap()], &[]);
    assert_eq!(p.wait_exit(Duration::from_secs(10)), 2);
    assert!(
        p.all_output().contains("invalid JSON format"),
        "{}",
        p.all_output()
    );

    let mut p = Proc::spawn("docker_service", &["-c", "/nonexistent/x.json"], &[]);
    assert_eq!(p.wait_exit(Duration::from_secs(10)), 2);
    assert!(p.all_output().contains("/nonexistent/x.json"));

    let mut p = Proc::spawn("docker_service", &["--log-level", "loud"], &[]);
    assert_eq!(p.wait_exit(Duration::from_secs(10)), 2);
    assert!(p.all_output().contains("Invalid log level: 'loud'"));

    let mut p = Proc::spawn(
        "docker_service",
        &["--logger", "json"],
        &[("TOMODACHI_LOGGER", "console")],
    );
    assert_eq!(p.wait_exit(Duration::from_secs(10)), 2);
    assert!(p.all_output().contains("differs from env TOMODACHI_LOGGER"));

    let mut p = Proc::spawn("docker_service", &["--bogus"], &[]);
    assert_eq!(p.wait_exit(Duration::from_secs(10)), 2);
}

#[test]
fn invalid_options_fail_the_start_with_exit_code_1() {
    let cfg = write_config(
        "ka.json",
        r#"{"options": {"http": {"port": 0, "max_keepalive_requests": 3}}}"#,
    );
    let mut p = Proc::spawn(
        "docker_service",
        &[
            "--production",
            "--logger",
            "json",
            "-c",
            cfg.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(p.wait_exit(Duration::from_secs(10)), 1);
    assert!(
        p.all_output().contains("keep-alive must be enabled"),
        "{}",
        p.all_output()
    );
}

#[test]
fn env_vars_select_logger_and_level() {
    let mut p = Proc::spawn(
        "docker_service",
        &[],
        &[
            ("TOMODACHI_LOGGER", "json"),
            ("TOMODACHI_LOG_LEVEL", "warning"),
            ("TOMODACHI_PRODUCTION", "1"),
            ("HTTP_PORT", "0"),
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    p.signal("TERM");
    assert_eq!(p.wait_exit(Duration::from_secs(10)), 0);
    let out = p.all_output();
    // info records are filtered out at warning level; the signal warning is JSON
    assert!(!out.contains("initializing service instance"), "{out}");
    let warn: Value = serde_json::from_str(
        out.lines()
            .find(|l| l.contains("received termination signal"))
            .expect("signal record"),
    )
    .unwrap();
    assert_eq!(warn["level"], "warning");
    assert_eq!(warn["logger"], "tomodachi.signal");
    assert_eq!(warn["signal"], "SIGTERM");
}

#[test]
fn console_logger_is_the_default() {
    let mut p = Proc::spawn("docker_service", &["--production"], &[("HTTP_PORT", "0")]);
    let line = p.wait_line("accepting http requests", Duration::from_secs(20));
    assert!(
        line.contains("[info     ] accepting http requests"),
        "{line}"
    );
    assert!(line.contains("[tomodachi.http]"), "{line}");
    assert!(
        !line.contains('\u{1b}'),
        "NO_COLOR: no ANSI escapes: {line:?}"
    );
    p.signal("TERM");
    assert_eq!(p.wait_exit(Duration::from_secs(10)), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_example_republishes_to_example_response() {
    use std::sync::Arc;
    use tomodachi::amqp::AmqpSubscription;
    use tomodachi::message::Message;

    let mut svc = json_service("amqp_service", &[], &[]);
    svc.wait_line("started service successfully", Duration::from_secs(30));
    // a JsonBase listener on example.response and a publisher to example.topic
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let mut o = tomodachi::Options::default();
    o.http.port = 0;
    let listener = tomodachi::Service::builder("amqp-example-probe", seen.clone())
        .options(o)
        .message_envelope(tomodachi::envelope::JsonBase)
        .amqp(
            AmqpSubscription::new("example.response"),
            |s: Arc<Arc<Mutex<Vec<Value>>>>, m: Message| async move {
                s.lock().unwrap().push(m.data::<Value>()?);
                Ok::<_, tomodachi::Error>(())
            },
        )
        .build();
    let running = tomodachi::App::new()
        .service(listener)
        .start()
        .await
        .unwrap();
    let token = uuid::Uuid::new_v4().to_string();
    tomodachi::amqp::publish_with(
        &serde_json::json!({"token": token}),
        "example.topic",
        tomodachi::amqp::PublishOptions::new().service("amqp-example-probe"),
    )
    .await
    .unwrap();
    for _ in 0..200 {
        if seen.lock().unwrap().iter().any(|d| d["token"] == token) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        seen.lock().unwrap().iter().any(|d| d["token"] == token),
        "republished: {}",
        svc.all_output()
    );
    running.stop().await;
    svc.signal("TERM");
    assert_eq!(
        tokio::task::spawn_blocking(move || svc.wait_exit(Duration::from_secs(15)))
            .await
            .unwrap(),
        0
    );
}

// A client that sent half a request head and stalls does not hold a SIGTERM: its connection
// is closed at once, on a new connection as after earlier requests on a kept-alive one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_connections_with_a_stalled_half_head_at_once() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut svc = json_service(
        "hello",
        &[],
        &[("HTTP_KEEPALIVE_TIMEOUT", "30"), ("HTTP_ACCESS_LOG", "0")],
    );
    let addr = svc.http_addr();
    // Half a head on a new connection.
    let mut fresh = tokio::net::TcpStream::connect(addr).await.unwrap();
    fresh
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Sta")
        .await
        .unwrap();
    // Half a head after a complete request on a kept-alive connection.
    let mut kept = tokio::net::TcpStream::connect(addr).await.unwrap();
    kept.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let first = support::read_response(&mut kept, false).await.unwrap();
    assert_eq!(first.status, 200);
    kept.write_all(b"GET / HTTP/1.1\r\nHost: loc")
        .await
        .unwrap();
    // The last real request.
    assert_eq!(get(addr, "/").await.status, 200);
    let last_request = Instant::now();
    tokio::time::sleep(Duration::from_millis(100)).await;
    svc.signal("TERM");
    let (code, output) = tokio::task::spawn_blocking(move || {
        let code = svc.wait_exit(Duration::from_secs(40));
        (code, svc.all_output())
    })
    .await
    .unwrap();
    let elapsed = last_request.elapsed();
    assert_eq!(code, 0, "{output}");
    assert!(
        elapsed < Duration::from_secs(1),
        "exited {elapsed:?} after the last request:\n{output}"
    );
    for stream in [&mut fresh, &mut kept] {
        let mut rest = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(1), stream.read_to_end(&mut rest)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "the stalled connection is closed without an answer: {read:?} {rest:?}"
        );
    }
}

// 64 keep-alive clients send requests back to back when SIGTERM comes: every request that
// was sent on an open connection is answered (the answers during the drain say
// `Connection: close`), none is lost, and the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_keep_alive_load_loses_no_request() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use tokio::io::AsyncWriteExt;

    let mut svc = json_service(
        "hello",
        &[],
        &[("HTTP_KEEPALIVE_TIMEOUT", "30"), ("HTTP_ACCESS_LOG", "0")],
    );
    let addr = svc.http_addr();
    let sent = Arc::new(AtomicU64::new(0));
    let answered = Arc::new(AtomicU64::new(0));
    let closed_by_server = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..64)
        .map(|_| {
            let (sent, answered, closed, stop) = (
                sent.clone(),
                answered.clone(),
                closed_by_server.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                let mut lost = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if stream
                        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                        .await
                        .is_err()
                    {
                        break;
                    }
                    sent.fetch_add(1, Ordering::Relaxed);
                    match support::read_response(&mut stream, false).await {
                        Some(resp) => {
                            assert_eq!(resp.status, 200);
                            answered.fetch_add(1, Ordering::Relaxed);
                            if resp.header("connection") == Some("close") {
                                closed.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                        }
                        None => {
                            lost += 1;
                            break;
                        }
                    }
                }
                lost
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(sent.load(Ordering::Relaxed) > 64, "the clients are busy");
    svc.signal("TERM");
    let mut lost = 0;
    for client in clients {
        lost += tokio::time::timeout(Duration::from_secs(20), client)
            .await
            .expect("every client ends")
            .expect("client task");
    }
    stop.store(true, Ordering::Relaxed);
    let (code, output) = tokio::task::spawn_blocking(move || {
        let code = svc.wait_exit(Duration::from_secs(40));
        (code, svc.all_output())
    })
    .await
    .unwrap();
    let (sent, answered) = (
        sent.load(Ordering::Relaxed),
        answered.load(Ordering::Relaxed),
    );
    assert_eq!(
        lost, 0,
        "{lost} of {sent} requests lost ({answered} answered)"
    );
    assert_eq!(sent, answered);
    assert_eq!(closed_by_server.load(Ordering::Relaxed), 64);
    assert_eq!(code, 0, "{output}");
}

/// The peak resident memory of a process, from `/proc/<pid>/status` (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

// Ten 90 MiB uploads to a path without a route are answered 404 without being read: the
// service's peak memory stays small (it took 828 MB when bodies were read before routing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unroutable_uploads_do_not_grow_the_service() {
    use tokio::io::AsyncWriteExt;

    let svc = json_service("hello", &[], &[("HTTP_ACCESS_LOG", "0")]);
    let addr = svc.http_addr();
    let before = peak_rss_kib(svc.child.id());
    let uploads: Vec<_> = (0..10)
        .map(|_| {
            tokio::spawn(async move {
                let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                let size = 90 * 1024 * 1024;
                let head =
                    format!("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n");
                stream.write_all(head.as_bytes()).await.unwrap();
                let chunk = vec![b'x'; 64 * 1024];
                let (mut rd, mut wr) = stream.into_split();
                let writer = tokio::spawn(async move {
                    let mut sent = 0;
                    while sent < size {
                        if wr.write_all(&chunk).await.is_err() {
                            break;
                        }
                        sent += chunk.len();
                    }
                });
                let mut answer = Vec::new();
                let _ = tokio::time::timeout(
                    Duration::from_secs(20),
                    tokio::io::AsyncReadExt::read_to_end(&mut rd, &mut answer),
                )
                .await;
                writer.abort();
                String::from_utf8_lossy(&answer).into_owned()
            })
        })
        .collect();
    for upload in uploads {
        let answer = upload.await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 404"), "{answer:?}");
    }
    let peak = peak_rss_kib(svc.child.id());
    assert!(
        peak < before + 32 * 1024,
        "peak RSS grew from {before} KiB to {peak} KiB"
    );
}

#[test]
fn an_unresolvable_http_host_fails_the_start_saying_why() {
    let cfg = write_config(
        "badhost.json",
        r#"{"options": {"http": {"host": "nonexistent.invalid", "port": 0}}}"#,
    );
    let mut p = Proc::spawn(
        "hello",
        &[
            "--production",
            "--logger",
            "json",
            "-c",
            cfg.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(p.wait_exit(Duration::from_secs(20)), 1);
    let aborting = p
        .json_lines()
        .into_iter()
        .find(|r| r["state"] == "aborting")
        .unwrap_or_else(|| panic!("no aborting record in {}", p.all_output()));
    let reason = aborting["error_message"].as_str().unwrap_or_default();
    assert!(
        reason.contains("unable to resolve http host \"nonexistent.invalid\""),
        "{aborting}"
    );
}

/// Polls the chaos fixture's `GET /count` every 200 ms for up to 30 s until it answers
/// `want`; returns the last answer.
async fn count_reaches(addr: SocketAddr, want: &str) -> String {
    let mut count = String::new();
    for _ in 0..150 {
        count = get(addr, "/count").await.text();
        if count == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    count
}

// Chaos, short form: `kill -9` of a service in the middle of a handler. RabbitMQ requeues the
// unacknowledged message and the restarted service (same uuid, so the same queue) handles it:
// handled once more, nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_handler_loses_no_amqp_message() {
    use tomodachi::envelope::{Envelope, JsonBase, Payload, ServiceIdentity};

    let routing_key = format!("chaos.{}", uuid::Uuid::new_v4().simple());
    let uuid = uuid::Uuid::new_v4().to_string();
    let cfg = write_config(
        &format!("chaos-{uuid}.json"),
        &format!(r#"{{"uuid": "{uuid}"}}"#),
    );
    let cfg = cfg.to_str().unwrap().to_owned();
    let mut first = json_service(
        "amqp_slow_count",
        &["-c", &cfg],
        &[("ROUTING_KEY", &routing_key), ("HANDLER_SLEEP_MS", "60000")],
    );
    first.http_addr();

    let body = JsonBase
        .build_message(
            &ServiceIdentity::new("chaos-sender", "c0"),
            &routing_key,
            &Payload::from_serialize(&serde_json::json!({"n": 1})).unwrap(),
        )
        .unwrap();
    support::publish_raw_amqp(&routing_key, body.as_bytes()).await;

    let handling = first.wait_line("handling", Duration::from_secs(20));
    let first_uuid = serde_json::from_str::<Value>(&handling).unwrap()["message_uuid"].clone();
    first.signal("KILL");
    let code = first.wait_exit(Duration::from_secs(10));
    assert_ne!(code, 0, "killed");

    let mut second = json_service(
        "amqp_slow_count",
        &["-c", &cfg],
        &[("ROUTING_KEY", &routing_key), ("HANDLER_SLEEP_MS", "0")],
    );
    let addr = second.http_addr();
    let count = count_reaches(addr, "1").await;
    assert_eq!(
        count, "1",
        "the message is handled by the restarted service"
    );
    let redelivered = second.wait_line("handling", Duration::from_secs(5));
    assert_eq!(
        serde_json::from_str::<Value>(&redelivered).unwrap()["message_uuid"],
        first_uuid
    );
    second.signal("TERM");
    assert_eq!(second.wait_exit(Duration::from_secs(15)), 0);
}

// Chaos, short form, SQS: `kill -9` mid-handler; the message becomes visible again after the
// queue's visibility timeout (2 s) and the restarted service handles it: nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_handler_loses_no_sqs_message() {
    use crate::support::moto::{Moto, REGION};

    let moto = Moto::start().await;
    let uuid = uuid::Uuid::new_v4().to_string();
    let config = serde_json::json!({"uuid": uuid, "options": {
        "aws_sns_sqs": {"region_name": REGION, "aws_access_key_id": "testing",
                        "aws_secret_access_key": "testing"},
        "aws_endpoint_urls": {"sns": moto.url(), "sqs": moto.url(), "sts": moto.url()}
    }});
    let cfg = write_config(&format!("chaos-sqs-{uuid}.json"), &config.to_string());
    let cfg = cfg.to_str().unwrap().to_owned();
    let env = |sleep: &'static str| vec![("SQS_QUEUE", "chaos-queue"), ("HANDLER_SLEEP_MS", sleep)];
    let mut first = json_service("amqp_slow_count", &["-c", &cfg], &env("60000"));
    first.http_addr();

    let sqs = moto.sqs().await;
    let url = sqs
        .get_queue_url()
        .queue_name("chaos-queue")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let body = serde_json::json!({"Type": "Notification", "Message": tomodachi::envelope::Envelope::build_message(
        &tomodachi::envelope::JsonBase,
        &tomodachi::envelope::ServiceIdentity::new("chaos-sender", "c0"),
        "chaos-queue",
        &tomodachi::envelope::Payload::from_serialize(&serde_json::json!({"n": 1})).unwrap(),
    ).unwrap()});
    sqs.send_message()
        .queue_url(&url)
        .message_body(body.to_string())
        .send()
        .await
        .unwrap();

    let handling = first.wait_line("handling", Duration::from_secs(30));
    let first_uuid = serde_json::from_str::<Value>(&handling).unwrap()["message_uuid"].clone();
    first.signal("KILL");
    assert_ne!(first.wait_exit(Duration::from_secs(10)), 0, "killed");

    let mut second = json_service("amqp_slow_count", &["-c", &cfg], &env("0"));
    let addr = second.http_addr();
    let count = count_reaches(addr, "1").await;
    assert_eq!(
        count, "1",
        "the message is handled by the restarted service"
    );
    let redelivered = second.wait_line("handling", Duration::from_secs(5));
    assert_eq!(
        serde_json::from_str::<Value>(&redelivered).unwrap()["message_uuid"],
        first_uuid
    );
    second.signal("TERM");
    assert_eq!(second.wait_exit(Duration::from_secs(30)), 0);
}
