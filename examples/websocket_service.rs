//! Websockets: a chat-room echo on `/websocket/<room>` (every text message `t` is answered
//! with `"<room>: <t>"`), a close callback counting closed sockets, and `GET /stats` with
//! `{"opened": <sockets accepted>, "closed": <close callbacks run>}`. Binary messages are
//! ignored, as upstream. Port 9703 unless `HTTP_PORT` or a `-c` config file says otherwise.
//!
//! ```sh
//! cargo run --example websocket_service
//! websocat ws://127.0.0.1:9703/websocket/lobby    # type "hi", get "lobby: hi"
//! curl http://127.0.0.1:9703/stats                 # {"opened":1,"closed":0}
//! ```
//!
//! `crates/tomodachi/tests/python/websocket_service.py` is the same service in Python
//! tomodachi.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::json;
use tomodachi::prelude::*;

#[derive(Default)]
struct WebsocketService {
    opened: AtomicU64,
    // shared with the close callbacks, which outlive the handler call
    closed: Arc<AtomicU64>,
}

fn options() -> Options {
    let mut options = Options::default();
    options.http.port = std::env::var("HTTP_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(9703);
    options
}

#[tomodachi::service(name = "websocket-service", options = options())]
impl WebsocketService {
    // `room` is the named group; `websocket` sends on the socket
    #[websocket(r"/websocket/(?P<room>[^/]+?)")]
    async fn chat(&self, websocket: WebSocket, room: String) -> WebSocketCallbacks {
        self.opened.fetch_add(1, Ordering::SeqCst);
        let closed = self.closed.clone();
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

    #[http(GET, r"/stats")]
    async fn stats(&self) -> Json<serde_json::Value> {
        Json(json!({
            "opened": self.opened.load(Ordering::SeqCst),
            "closed": self.closed.load(Ordering::SeqCst),
        }))
    }
}

tomodachi::main!(WebsocketService);
