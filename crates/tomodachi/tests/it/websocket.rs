//! Websockets over real sockets, with a real websocket client (tokio-tungstenite): the
//! builder API, limits, logs, middlewares, the graceful stop, and the Python tomodachi twin of
//! `examples/websocket_service.rs` answering the same script as the Rust example.

use crate::support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use support::eventually::eventually;
use support::{get, test_options};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tomodachi::http::{
    HandlerResult, HttpRequest, Next, WebSocket, WebSocketCallbacks, WebSocketRoute,
};
use tomodachi::{App, Error, Service};

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[derive(Default)]
struct Chat {
    opened: AtomicU64,
    closed: Arc<AtomicU64>,
}

/// `"<room>: <text>"` for every text message; counts opened sockets and close callbacks.
async fn room_echo(
    chat: Arc<Chat>,
    websocket: WebSocket,
    request: HttpRequest,
) -> WebSocketCallbacks {
    chat.opened.fetch_add(1, Ordering::SeqCst);
    let room = request.param("room").unwrap_or_default().to_owned();
    let closed = chat.closed.clone();
    WebSocketCallbacks::new()
        .on_text(move |text: String| {
            let websocket = websocket.clone();
            let answer = format!("{room}: {text}");
            async move { websocket.send_text(answer).await }
        })
        .on_close(move || async move {
            closed.fetch_add(1, Ordering::SeqCst);
        })
}

fn chat_service(chat: Arc<Chat>) -> Service {
    Service::builder("chat", ())
        .options(test_options())
        .websocket(
            r"/websocket/(?P<room>[^/]+?)",
            move |_s: Arc<()>, websocket: WebSocket, request: HttpRequest| {
                room_echo(chat.clone(), websocket, request)
            },
        )
        // binary messages opted in: echoed back reversed
        .websocket(r"/binary", |_s: Arc<()>, websocket: WebSocket| async move {
            WebSocketCallbacks::new().on_binary(move |data: Bytes| {
                let websocket = websocket.clone();
                async move {
                    let mut v = data.to_vec();
                    v.reverse();
                    websocket.send_binary(v).await
                }
            })
        })
        .websocket_route(
            WebSocketRoute::new(r"/small")
                .max_frame_size(1024)
                .max_message_size(4096),
            |_s: Arc<()>, websocket: WebSocket| async move {
                WebSocketCallbacks::new().on_text(move |text: String| {
                    let websocket = websocket.clone();
                    async move { websocket.send_text(text.len().to_string()).await }
                })
            },
        )
        .websocket(r"/fails", |_s: Arc<()>, _websocket: WebSocket| async {
            Err::<WebSocketCallbacks, _>(Error::msg("no sockets today"))
        })
        .build()
}

async fn connect(addr: SocketAddr, path: &str) -> Client {
    let (client, response) = tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
        .await
        .expect("websocket handshake");
    assert_eq!(response.status(), 101);
    client
}

/// The next message that is not a ping or pong.
async fn next_data(client: &mut Client) -> Message {
    loop {
        match client.next().await {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(m)) => return m,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

/// The close frame's code the server sent.
async fn close_code(client: &mut Client) -> CloseCode {
    loop {
        match client.next().await {
            Some(Ok(Message::Close(Some(frame)))) => return frame.code,
            Some(Ok(Message::Close(None))) => panic!("a close frame without a code"),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn text_is_echoed_with_the_room_binary_is_ignored_ping_is_answered_close_runs_the_callback() {
    let chat = Arc::new(Chat::default());
    let running = App::new()
        .service(chat_service(chat.clone()))
        .start()
        .await
        .unwrap();
    let addr = running.http_addr(0).unwrap();
    let mut ws = connect(addr, "/websocket/lobby").await;
    ws.send(Message::text("hi")).await.unwrap();
    assert_eq!(next_data(&mut ws).await, Message::text("lobby: hi"));

    // a binary message gets no answer: the next answer is the next text's
    ws.send(Message::binary(&b"bytes"[..])).await.unwrap();
    ws.send(Message::text("x")).await.unwrap();
    assert_eq!(next_data(&mut ws).await, Message::text("lobby: x"));

    ws.send(Message::Ping(Bytes::from_static(b"are you there")))
        .await
        .unwrap();
    match ws.next().await {
        Some(Ok(Message::Pong(data))) => assert_eq!(&data[..], b"are you there"),
        other => panic!("expected a pong, got {other:?}"),
    }

    // a percent-encoded room arrives decoded
    let mut ws2 = connect(addr, "/websocket/r%C3%B6%20om").await;
    ws2.send(Message::text("友達")).await.unwrap();
    assert_eq!(next_data(&mut ws2).await, Message::text("rö om: 友達"));

    assert_eq!(chat.closed.load(Ordering::SeqCst), 0);
    ws.close(None).await.unwrap();
    // the server answers the close
    assert!(matches!(ws.next().await, Some(Ok(Message::Close(_)))));
    eventually(10, "the close callback", || {
        chat.closed.load(Ordering::SeqCst) == 1
    })
    .await;
    drop(ws2); // gone without a close frame: the callback runs too
    eventually(10, "the second close callback", || {
        chat.closed.load(Ordering::SeqCst) == 2
    })
    .await;
    assert_eq!(chat.opened.load(Ordering::SeqCst), 2);
    running.stop().await;
}

#[tokio::test]
async fn binary_messages_reach_an_on_binary_callback() {
    let running = App::new()
        .service(chat_service(Arc::default()))
        .start()
        .await
        .unwrap();
    let mut ws = connect(running.http_addr(0).unwrap(), "/binary").await;
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(next_data(&mut ws).await, Message::binary(vec![3u8, 2, 1]));
    // text is ignored there (no on_text)
    ws.send(Message::text("ignored")).await.unwrap();
    ws.send(Message::binary(vec![9u8, 8])).await.unwrap();
    assert_eq!(next_data(&mut ws).await, Message::binary(vec![8u8, 9]));
    running.stop().await;
}

#[tokio::test]
async fn an_oversized_frame_or_message_closes_with_1009_and_bad_utf8_with_1007() {
    let running = App::new()
        .service(chat_service(Arc::default()))
        .start()
        .await
        .unwrap();
    let addr = running.http_addr(0).unwrap();

    // within the limits
    let mut ws = connect(addr, "/small").await;
    ws.send(Message::text("a".repeat(1000))).await.unwrap();
    assert_eq!(next_data(&mut ws).await, Message::text("1000"));

    // one frame over max_frame_size (1024)
    ws.send(Message::text("a".repeat(2000))).await.unwrap();
    assert_eq!(close_code(&mut ws).await, CloseCode::Size);

    // frames within max_frame_size, the message over max_message_size (4096)
    let mut ws = connect(addr, "/small").await;
    let chunk = Bytes::from(vec![b'a'; 1000]);
    ws.send(Message::Frame(Frame::message(
        chunk.clone(),
        OpCode::Data(Data::Text),
        false,
    )))
    .await
    .unwrap();
    for i in 0..4 {
        let frame = Frame::message(chunk.clone(), OpCode::Data(Data::Continue), i == 3);
        if ws.send(Message::Frame(frame)).await.is_err() {
            break; // the server may have closed already
        }
    }
    assert_eq!(close_code(&mut ws).await, CloseCode::Size);

    // a text frame that is not UTF-8
    let mut ws = connect(addr, "/small").await;
    let bad = Frame::message(
        Bytes::from_static(&[0x66, 0xff, 0xfe]),
        OpCode::Data(Data::Text),
        true,
    );
    ws.send(Message::Frame(bad)).await.unwrap();
    assert_eq!(close_code(&mut ws).await, CloseCode::Invalid);

    // the server goes on
    let mut ws = connect(addr, "/small").await;
    ws.send(Message::text("ok")).await.unwrap();
    assert_eq!(next_data(&mut ws).await, Message::text("2"));
    assert_eq!(get(addr, "/nothing").await.status, 404);
    running.stop().await;
}

#[tokio::test]
async fn a_plain_get_on_a_websocket_route_is_200_with_an_empty_body() {
    let running = App::new()
        .service(chat_service(Arc::default()))
        .start()
        .await
        .unwrap();
    let addr = running.http_addr(0).unwrap();
    let r = get(addr, "/websocket/lobby").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "");
    assert_eq!(r.header("server"), Some("tomodachi"));
    // other methods are not routed there
    assert_eq!(
        support::send(addr, "POST", "/websocket/lobby", "")
            .await
            .status,
        405
    );
    running.stop().await;
}

#[tokio::test]
async fn a_failing_handler_closes_with_1011_and_the_server_goes_on() {
    let chat = Arc::new(Chat::default());
    let running = App::new()
        .service(chat_service(chat.clone()))
        .start()
        .await
        .unwrap();
    let addr = running.http_addr(0).unwrap();
    let mut ws = connect(addr, "/fails").await;
    assert_eq!(close_code(&mut ws).await, CloseCode::Error);
    let mut ws = connect(addr, "/websocket/a").await;
    ws.send(Message::text("b")).await.unwrap();
    assert_eq!(next_data(&mut ws).await, Message::text("a: b"));
    running.stop().await;
}

// The upstream record shapes: `open` / `cancelled` / `error` on `tomodachi.http.websocket`,
// `closed` on `tomodachi.http.response` with `total_request_time`, one `websocket_id` per
// connection.
#[tokio::test]
async fn websocket_state_records_are_logged() {
    let (capture, _guard) = support::capture_logs(tomodachi::logging::LogFormat::Json);
    let mut options = test_options();
    options.http.access_log = tomodachi::options::AccessLog::Enabled;
    let chat = Arc::new(Chat::default());
    let svc = {
        let chat = chat.clone();
        Service::builder("chat", ())
            .options(options)
            .websocket(
                r"/websocket/(?P<room>[^/]+?)",
                move |_s: Arc<()>, websocket: WebSocket, request: HttpRequest| {
                    room_echo(chat.clone(), websocket, request)
                },
            )
            .websocket(r"/fails", |_s: Arc<()>, _websocket: WebSocket| async {
                Err::<(), _>(Error::msg("no sockets today"))
            })
            .build()
    };
    let running = App::new().service(svc).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();

    let mut ws = connect(addr, "/websocket/lobby?x=1").await;
    ws.send(Message::text("hi")).await.unwrap();
    next_data(&mut ws).await;
    ws.close(None).await.unwrap();
    eventually(10, "the close callback", || {
        chat.closed.load(Ordering::SeqCst) == 1
    })
    .await;
    assert_eq!(get(addr, "/websocket/lobby").await.status, 200);
    let mut ws = connect(addr, "/fails").await;
    close_code(&mut ws).await;
    let records = || -> Vec<serde_json::Value> {
        capture
            .contents()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter(|r: &serde_json::Value| r.get("websocket_state").is_some())
            .collect()
    };
    eventually(10, "seven websocket_state records", || records().len() == 7).await;
    running.stop().await;

    let records = records();
    let states: Vec<(&str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["websocket_state"].as_str().unwrap(),
                r["logger"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("open", "tomodachi.http.websocket"),
            ("closed", "tomodachi.http.response"),
            ("cancelled", "tomodachi.http.websocket"),
            ("closed", "tomodachi.http.response"),
            ("open", "tomodachi.http.websocket"),
            ("error", "tomodachi.http.websocket"),
            ("closed", "tomodachi.http.response"),
        ]
    );
    let open = &records[0];
    let keys: Vec<&str> = open
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
            "websocket_state",
            "remote_ip",
            "request_path",
            "request_query_string",
            "websocket_id",
            "user_agent"
        ]
    );
    assert_eq!(open["message"], "");
    assert_eq!(open["remote_ip"], "127.0.0.1");
    assert_eq!(open["request_path"], "/websocket/lobby");
    assert_eq!(open["request_query_string"], "x=1");
    assert_eq!(open["websocket_id"], records[1]["websocket_id"]);
    assert_ne!(records[2]["websocket_id"], open["websocket_id"]);
    let total = records[1]["total_request_time"].as_str().unwrap();
    assert!(total.ends_with('s') && total.contains('.'), "{total}");
    assert!(
        capture
            .contents()
            .contains("uncaught exception: no sockets today"),
        "the handler's error is logged"
    );
}

// A middleware runs before the 101: it can refuse the upgrade with its own answer, or hand
// values to the handler.
#[tokio::test]
async fn middlewares_run_before_the_handshake_and_may_refuse_it() {
    #[derive(Clone)]
    struct User(String);
    async fn auth(_s: Arc<()>, mut request: HttpRequest, next: Next) -> HandlerResult {
        match request.query().and_then(|q| q.strip_prefix("user=")) {
            Some(user) => {
                let user = User(user.to_owned());
                request.extensions_mut().insert(user);
                next.run(request).await
            }
            None => Err(Error::http(401)),
        }
    }
    let svc = Service::builder("guarded", ())
        .options(test_options())
        .http_middleware(auth)
        .websocket(
            r"/ws",
            |_s: Arc<()>, websocket: WebSocket, request: HttpRequest| async move {
                let user = request
                    .extensions()
                    .get::<User>()
                    .map(|u| u.0.clone())
                    .unwrap_or_default();
                websocket.send_text(format!("hello {user}")).await
            },
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    match tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401)
        }
        other => panic!("expected a refused handshake, got {other:?}"),
    }
    let mut ws = connect(addr, "/ws?user=ann").await;
    assert_eq!(next_data(&mut ws).await, Message::text("hello ann"));
    running.stop().await;
}

// The graceful stop sends every open socket a close frame (1000) and runs the close callbacks
// before the stop returns.
#[tokio::test]
async fn the_graceful_stop_closes_open_websockets_with_a_close_frame() {
    let chat = Arc::new(Chat::default());
    let running = App::new()
        .service(chat_service(chat.clone()))
        .start()
        .await
        .unwrap();
    let addr = running.http_addr(0).unwrap();
    let mut clients = Vec::new();
    for room in ["a", "b", "c"] {
        let mut ws = connect(addr, &format!("/websocket/{room}")).await;
        ws.send(Message::text("hi")).await.unwrap();
        next_data(&mut ws).await;
        clients.push(ws);
    }
    // the clients answer the close frames while the stop waits for them
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut ws| tokio::spawn(async move { close_code(&mut ws).await }))
        .collect();
    assert_eq!(running.stop().await, 0);
    assert_eq!(chat.closed.load(Ordering::SeqCst), 3);
    for reader in readers {
        assert_eq!(reader.await.unwrap(), CloseCode::Normal);
    }
}

// An open websocket keeps its connection's `max_connections` slot: with a limit of one, a
// plain request waits until the socket is closed.
#[tokio::test]
async fn an_open_websocket_counts_against_max_connections() {
    let mut options = test_options();
    options.http.max_connections = 1;
    let chat = Arc::new(Chat::default());
    let svc = {
        let chat = chat.clone();
        Service::builder("limited", ())
            .options(options)
            .websocket(
                r"/websocket/(?P<room>[^/]+?)",
                move |_s: Arc<()>, websocket: WebSocket, request: HttpRequest| {
                    room_echo(chat.clone(), websocket, request)
                },
            )
            .http(
                tomodachi::http::Method::GET,
                r"/plain",
                |_s: Arc<()>| async { "plain" },
            )
            .build()
    };
    let running = App::new().service(svc).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    let mut ws = connect(addr, "/websocket/a").await;
    let plain = tokio::spawn(async move { get(addr, "/plain").await });
    // the socket keeps working meanwhile; the plain request gets no answer
    for i in 0..50 {
        ws.send(Message::text(i.to_string())).await.unwrap();
        assert_eq!(next_data(&mut ws).await, Message::text(format!("a: {i}")));
    }
    assert!(
        !plain.is_finished(),
        "answered while the websocket held the only slot"
    );
    ws.close(None).await.unwrap();
    let r = plain.await.unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "plain"));
    running.stop().await;
}

// The macro form: `#[websocket]` with `websocket`, `request` and a named group by name.
mod macro_form {
    use super::*;

    #[derive(Default)]
    pub(super) struct Rooms;

    #[tomodachi::service(name = "rooms", options = test_options())]
    impl Rooms {
        #[websocket(r"/rooms/(?P<room>[^/]+)/(?P<n>\d+)", max_message_size = 64)]
        async fn room(&self, websocket: WebSocket, room: String, n: u32) -> WebSocketCallbacks {
            WebSocketCallbacks::new().on_text(move |text: String| {
                let (websocket, room) = (websocket.clone(), room.clone());
                async move { websocket.send_text(format!("{room}#{n}: {text}")).await }
            })
        }

        #[ws(r"/agent", name = "agent")]
        async fn agent(&self, request: HttpRequest, websocket: WebSocket) -> Result<(), Error> {
            let agent = request.header("user-agent").unwrap_or("none").to_owned();
            websocket.send_text(agent).await
        }
    }

    #[tokio::test]
    async fn the_websocket_attribute_is_sugar_for_the_builder() {
        let running = App::new().service(Rooms).start().await.unwrap();
        let addr = running.http_addr(0).unwrap();
        let mut ws = connect(addr, "/rooms/lobby/7").await;
        ws.send(Message::text("hi")).await.unwrap();
        assert_eq!(next_data(&mut ws).await, Message::text("lobby#7: hi"));
        ws.send(Message::text("x".repeat(65))).await.unwrap();
        assert_eq!(close_code(&mut ws).await, CloseCode::Size);
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{addr}/agent").into_client_request().unwrap();
        request
            .headers_mut()
            .insert("user-agent", "parity-client/1".parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(next_data(&mut ws).await, Message::text("parity-client/1"));
        running.stop().await;
    }
}

/// One run of the parity script against a service at `addr`: the answers, in order.
async fn parity_script(addr: SocketAddr) -> Vec<String> {
    let mut out = Vec::new();
    let mut a = connect(addr, "/websocket/lobby").await;
    let mut b = connect(addr, "/websocket/r%C3%B6%C3%B6m%201").await;
    for text in ["hi", "", "友達 🎉", "a b c"] {
        a.send(Message::text(text)).await.unwrap();
        out.push(format!("a {:?}", next_data(&mut a).await));
    }
    b.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    b.send(Message::text("after binary")).await.unwrap();
    out.push(format!("b {:?}", next_data(&mut b).await));
    b.send(Message::Ping(Bytes::from_static(b"p")))
        .await
        .unwrap();
    out.push(format!("b {:?}", b.next().await.map(|m| m.ok())));
    b.send(Message::text("x".repeat(3000))).await.unwrap();
    match next_data(&mut b).await {
        Message::Text(t) => out.push(format!("b len {}", t.len())),
        other => out.push(format!("b {other:?}")),
    }
    // the server's answer to a close frame: its code (aiohttp answers a close without a code
    // with 1000, tungstenite echoes it without one, so the script sends 1000)
    for (name, ws) in [("a", &mut a), ("b", &mut b)] {
        ws.close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        }))
        .await
        .unwrap();
        let code = match ws.next().await {
            Some(Ok(Message::Close(frame))) => format!("{:?}", frame.map(|f| f.code)),
            other => format!("{other:?}"),
        };
        out.push(format!("{name} close {code}"));
    }
    let plain = get(addr, "/websocket/lobby").await;
    out.push(format!("plain GET {} {:?}", plain.status, plain.text()));
    // both close callbacks have run once the stats say so
    let mut stats = String::new();
    for _ in 0..200 {
        stats = get(addr, "/stats").await.text();
        let v: serde_json::Value = serde_json::from_str(&stats).unwrap_or_default();
        if v["closed"] == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let v: serde_json::Value = serde_json::from_str(&stats).unwrap_or_default();
    out.push(format!(
        "stats opened={} closed={}",
        v["opened"], v["closed"]
    ));
    out
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

// The Python tomodachi twin of the example and the Rust example answer the same script of
// frames with the same answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_answers_like_its_python_tomodachi_twin() {
    let port = free_port();
    let py = support::python::PyService::start(
        "websocket_service.py",
        &[("HTTP_PORT", port.to_string())],
    );
    py.wait_ready().await;
    let python = parity_script(SocketAddr::from(([127, 0, 0, 1], port))).await;
    drop(py);

    let port = free_port();
    let mut rust = std::process::Command::new(support::examples::example_bin("websocket_service"))
        .args(["--production"])
        .env("HTTP_PORT", port.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the example");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let answers = parity_script(addr).await;
    let _ = rust.kill();
    let _ = rust.wait();

    assert_eq!(answers, python);
    assert_eq!(answers[0], r#"a Text(Utf8Bytes(b"lobby: hi"))"#);
    assert_eq!(answers.last().unwrap(), "stats opened=2 closed=2");
}
