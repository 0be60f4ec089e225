//! The message pipeline without a broker, for `benches/message_pipeline.rs`: what the AMQP
//! consumer does between receiving a delivery and acknowledging it (envelope parse, the
//! message with its transport values, duplicate admission, the middleware stack and handler in
//! their log and service context, the verdict). Not a public API.

use std::sync::Arc;

use super::builder::MessageSettings;
use crate::envelope::{JsonBase, SharedEnvelope};
use crate::message::{
    erase_message_middleware, parse_body, HandlerChain, Message, MessageHandler, MessageNext,
    Verdict,
};
use crate::transport::TransportContext;

/// A handler chain like a service's `#[amqp]` handler with `middlewares` pass-through message
/// middlewares, its handler deserializing `data` into a small struct.
pub struct Pipeline {
    chain: HandlerChain,
    envelope: SharedEnvelope,
}

#[derive(serde::Deserialize)]
struct Order {
    seq: u64,
    text: String,
}

impl Pipeline {
    /// A pipeline with `middlewares` middlewares.
    pub fn new(middlewares: usize) -> Self {
        let envelope: SharedEnvelope = Arc::new(JsonBase);
        let state = Arc::new(());
        let middlewares: Arc<[_]> = (0..middlewares)
            .map(|_| {
                erase_message_middleware(
                    state.clone(),
                    |_s: Arc<()>, m: Message, next: MessageNext| next.run(m),
                )
            })
            .collect();
        let mut ctx = TransportContext::new("bench", "bench-uuid", crate::Options::default());
        ctx.envelope = Some(envelope.clone());
        let mut extensions = http::Extensions::new();
        extensions.insert(MessageSettings {
            middlewares,
            ..MessageSettings::default()
        });
        ctx.extensions = Arc::new(extensions);
        let handler = MessageHandler::new(state, |_s: Arc<()>, m: Message| async move {
            m.data::<Order>().map(|o| {
                std::hint::black_box((o.seq, o.text));
            })
        });
        Self {
            chain: HandlerChain::new(&ctx, "on_message", "tomodachi.amqp", handler),
            envelope,
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
        let message = Message::new(parsed, self.chain.name.clone(), delivery());
        self.chain.run(message).await == Verdict::Ack
    }
}

/// The transport values the AMQP consumer attaches to each message.
#[cfg(feature = "amqp")]
fn delivery() -> crate::amqp::AmqpDelivery {
    crate::amqp::AmqpDelivery {
        routing_key: "bench.in".into(),
        exchange_name: "amq.topic".into(),
        delivery_routing_key: "bench.in".into(),
        delivery_tag: 1,
        redelivered: false,
        properties: lapin::BasicProperties::default(),
        attempt: 1,
    }
}

/// Values of the same size as the AMQP consumer's, without lapin.
#[cfg(not(feature = "amqp"))]
fn delivery() -> (String, String, String, u64, bool, u32) {
    (
        "bench.in".into(),
        "amq.topic".into(),
        "bench.in".into(),
        1,
        false,
        1,
    )
}
