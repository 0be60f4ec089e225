//! The message pipeline without a broker, for `benches/message_pipeline.rs`: what the AMQP
//! consumer does between receiving a delivery and acknowledging it (envelope parse, the
//! message with its transport values, duplicate admission, the middleware stack and handler in
//! their log and service context, the verdict). Not a public API.

use std::sync::Arc;

use crate::envelope::{JsonBase, SharedEnvelope};
use crate::message::{
    erase_message_handler, erase_message_middleware, parse_body, AmqpInfo, HandlerChain, Message,
    MessageNext, TransportInfo, Verdict,
};
use crate::service::transport::ServiceInfo;

/// A handler chain like a service's `#[amqp]` handler with `middlewares` pass-through message
/// middlewares, its handler deserializing `data` into a small struct.
pub struct Pipeline {
    chain: HandlerChain,
    envelope: SharedEnvelope,
    _stop: tokio::sync::watch::Sender<bool>,
}

#[derive(serde::Deserialize)]
struct Order {
    #[allow(dead_code)]
    seq: u64,
    #[allow(dead_code)]
    text: String,
}

impl Pipeline {
    /// A pipeline with `middlewares` middlewares.
    pub fn new(middlewares: usize) -> Self {
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let envelope: SharedEnvelope = Arc::new(JsonBase);
        let info = ServiceInfo {
            name: Arc::from("bench"),
            uuid: Arc::from("bench-uuid"),
            options: Arc::new(crate::Options::default()),
            clock: crate::schedule::SharedClock::default(),
            stop: stop_rx,
            envelope: Some(envelope.clone()),
        };
        let state = Arc::new(());
        let middlewares: Arc<[_]> = (0..middlewares)
            .map(|_| {
                erase_message_middleware(
                    state.clone(),
                    |_s: Arc<()>, m: Message, next: MessageNext| next.run(m),
                )
            })
            .collect();
        let handler = erase_message_handler(state, |_s: Arc<()>, m: Message| async move {
            m.data::<Order>().map(|_| ())
        });
        Self {
            chain: HandlerChain {
                info,
                name: Arc::from("on_message"),
                kind: "tomodachi.amqp",
                middlewares,
                handler,
                recent: Arc::default(),
            },
            envelope,
            _stop: stop,
        }
    }

    /// Handles one JsonBase body; `true` when it would be acknowledged as handled.
    pub async fn handle(&self, body: &[u8]) -> bool {
        let Ok(text) = std::str::from_utf8(body) else {
            return false;
        };
        let Ok(parsed) = parse_body(Some(&self.envelope), text) else {
            return false;
        };
        let message = Message::new(
            parsed,
            self.chain.name.clone(),
            TransportInfo::Amqp(AmqpInfo {
                routing_key: "bench.in".into(),
                exchange_name: "amq.topic".into(),
                delivery_routing_key: "bench.in".into(),
                redelivered: false,
                properties: lapin::BasicProperties::default(),
                attempt: 1,
            }),
        );
        self.chain.run(message).await == Verdict::Done
    }
}
