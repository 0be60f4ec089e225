//! Messages as message handlers and `message_middleware` see them, for every message transport
//! (AMQP now, AWS SNS+SQS next): the parsed envelope, the transport's own values (read-only)
//! and extensions that middlewares can add for the handler.

use std::future::Future;
use std::sync::{Arc, Mutex};

use http::Extensions;
use serde_json::Value;

use crate::envelope::{ParsedMessage, Payload};
use crate::error::{Error, Intent};
use crate::http::handler::BoxFuture;

/// Values the AMQP transport provides with each message (upstream's transport keywords).
#[derive(Debug, Clone)]
pub struct AmqpInfo {
    /// The subscription's routing key as written on the handler (unprefixed, may hold
    /// wildcards): upstream's `routing_key`.
    pub routing_key: String,
    /// The subscription's exchange: upstream's `exchange_name`.
    pub exchange_name: String,
    /// The routing key the message was actually published with (prefix and encoding as on the
    /// wire). Upstream does not expose it.
    pub delivery_routing_key: String,
    /// Whether the broker marked the delivery as redelivered.
    pub redelivered: bool,
    /// The AMQP basic properties of the delivery (upstream's `properties`).
    pub properties: lapin::BasicProperties,
    /// 1 for the first delivery; counts tomodachi's retries of this message.
    pub attempt: u32,
}

/// The transport a message came from, with that transport's values.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TransportInfo {
    /// RabbitMQ.
    Amqp(AmqpInfo),
}

/// A received message.
///
/// ```
/// # fn demo(message: &tomodachi::message::Message) -> tomodachi::Result<()> {
/// #[derive(serde::Deserialize)]
/// struct Order { id: u64 }
/// let order: Order = message.data()?;          // the envelope's payload
/// let uuid = message.message_uuid();           // Option<&str>
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Message {
    parsed: Arc<ParsedMessage>,
    handler: Arc<str>,
    transport: Arc<TransportInfo>,
    extensions: Extensions,
}

impl Message {
    pub(crate) fn new(parsed: ParsedMessage, handler: Arc<str>, transport: TransportInfo) -> Self {
        Self {
            parsed: Arc::new(parsed),
            handler,
            transport: Arc::new(transport),
            extensions: Extensions::new(),
        }
    }

    /// The payload deserialized into `T`; a payload of another shape is an error that
    /// dead-letters the message (it would fail the same way on every retry).
    pub fn data<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        self.parsed.data.deserialize().map_err(|e| {
            Error::undecodable(format!(
                "unable to decode the message data for handler {}: {e}",
                self.handler
            ))
        })
    }

    /// The payload as decoded by the envelope.
    pub fn payload(&self) -> &Payload {
        &self.parsed.data
    }

    /// The whole parsed message (JsonBase: `{"service", "metadata", "data"}`; raw: the body).
    pub fn message(&self) -> &Value {
        &self.parsed.message
    }

    /// A top-level key of the parsed message (`metadata`, `service`, ...).
    pub fn envelope_value(&self, key: &str) -> Option<&Value> {
        self.parsed.message.get(key)
    }

    /// The envelope's message uuid (`None` without an envelope).
    pub fn message_uuid(&self) -> Option<&str> {
        self.parsed.message_uuid.as_deref()
    }

    /// The envelope's timestamp (epoch seconds).
    pub fn timestamp(&self) -> Option<f64> {
        self.parsed.timestamp
    }

    /// The handler this message is for.
    pub fn handler(&self) -> &str {
        &self.handler
    }

    /// The transport's values; middlewares can read but not change them.
    pub fn transport(&self) -> &TransportInfo {
        &self.transport
    }

    /// The AMQP values, for messages from RabbitMQ.
    pub fn amqp(&self) -> Option<&AmqpInfo> {
        match &*self.transport {
            TransportInfo::Amqp(a) => Some(a),
        }
    }

    /// Values added by middlewares.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Mutable extensions, for middlewares handing values to the handler.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// A middleware value by type; missing is an error.
    pub fn extension<T: Clone + Send + Sync + 'static>(&self) -> Result<T, Error> {
        self.extensions.get::<T>().cloned().ok_or_else(|| {
            Error::msg(format!(
                "missing message extension {}",
                std::any::type_name::<T>()
            ))
        })
    }
}

/// The outcome of a message handler or middleware.
pub type MessageResult = Result<(), Error>;

pub(crate) type ErasedMessageHandler =
    Arc<dyn Fn(Message) -> BoxFuture<MessageResult> + Send + Sync>;
pub(crate) type ErasedMessageMiddleware =
    Arc<dyn Fn(Message, MessageNext) -> BoxFuture<MessageResult> + Send + Sync>;

/// What the handler itself did, whatever the middlewares report: whether it ran, and its
/// error's intent and text if it failed.
#[derive(Debug, Default, Clone)]
pub(crate) struct HandlerOutcome {
    pub(crate) ran: bool,
    pub(crate) failure: Option<(Intent, String)>,
}

/// The rest of the `message_middleware` chain, ending in the handler.
///
/// ```
/// use std::sync::Arc;
/// use tomodachi::message::{Message, MessageNext, MessageResult};
///
/// #[derive(Clone)]
/// struct Tenant(String);
///
/// async fn tenant<S>(_service: Arc<S>, mut message: Message, next: MessageNext) -> MessageResult {
///     let tenant = message.message_uuid().unwrap_or("none").to_owned();
///     message.extensions_mut().insert(Tenant(tenant));
///     next.run(message).await
/// }
/// ```
pub struct MessageNext {
    middlewares: Arc<[ErasedMessageMiddleware]>,
    index: usize,
    handler: ErasedMessageHandler,
    outcome: Arc<Mutex<HandlerOutcome>>,
}

impl std::fmt::Debug for MessageNext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageNext")
            .field(
                "remaining_middlewares",
                &(self.middlewares.len() - self.index),
            )
            .finish()
    }
}

impl MessageNext {
    pub(crate) fn new(
        middlewares: Arc<[ErasedMessageMiddleware]>,
        handler: ErasedMessageHandler,
        outcome: Arc<Mutex<HandlerOutcome>>,
    ) -> Self {
        Self {
            middlewares,
            index: 0,
            handler,
            outcome,
        }
    }

    /// Runs the remaining middlewares and the handler.
    pub async fn run(mut self, message: Message) -> MessageResult {
        match self.middlewares.get(self.index).cloned() {
            Some(middleware) => {
                self.index += 1;
                middleware(message, self).await
            }
            None => {
                let result = (self.handler)(message).await;
                if let Ok(mut o) = self.outcome.lock() {
                    // Kept so an error a middleware swallows still decides the message's fate.
                    o.ran = true;
                    o.failure = result.as_ref().err().map(|e| (e.intent(), e.to_string()));
                }
                result
            }
        }
    }
}

/// Erases `Fn(Arc<S>, Message) -> impl Future<Output = impl HookOutput>`.
pub(crate) fn erase_message_handler<S, H, Fut, O>(state: Arc<S>, handler: H) -> ErasedMessageHandler
where
    S: Send + Sync + 'static,
    H: Fn(Arc<S>, Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = O> + Send + 'static,
    O: crate::HookOutput,
{
    Arc::new(move |message| {
        let fut = handler(state.clone(), message);
        Box::pin(async move { fut.await.into_result() })
    })
}

/// Erases `Fn(Arc<S>, Message, MessageNext) -> impl Future<Output = impl HookOutput>`.
pub(crate) fn erase_message_middleware<S, M, Fut, O>(
    state: Arc<S>,
    middleware: M,
) -> ErasedMessageMiddleware
where
    S: Send + Sync + 'static,
    M: Fn(Arc<S>, Message, MessageNext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = O> + Send + 'static,
    O: crate::HookOutput,
{
    Arc::new(move |message, next| {
        let fut = middleware(state.clone(), message, next);
        Box::pin(async move { fut.await.into_result() })
    })
}
