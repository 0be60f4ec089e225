//! Messages as message handlers and `message_middleware` see them, for every message transport
//! (AMQP and AWS SNS+SQS): the parsed envelope, the transport's own values (read-only) and
//! extensions that middlewares can add for the handler.
//!
//! The pipeline is shared by the transports ([`HandlerChain`]): parse the body with the
//! subscription's envelope, drop duplicates, run the middlewares and the handler, and turn what
//! happened into one [`Verdict`] (acknowledge, retry, dead-letter, discard) that each transport
//! carries out in its own terms. A transport's own values (AMQP routing key and properties, SQS
//! receipt and attributes, ...) travel with the message as a typed value:
//! [`Message::transport`].

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use http::Extensions;
use serde_json::Value;

#[doc(hidden)]
pub mod bench;
mod builder;
mod extract;
mod recent;
#[cfg(any(feature = "amqp", feature = "aws"))]
mod setters;

#[cfg(feature = "protobuf")]
pub use crate::envelope::Proto;
use crate::envelope::{ParsedMessage, Payload, SharedEnvelope};
use crate::error::Error;
pub use crate::extension::Extension;
use crate::transport::{BoxFuture, TransportContext};
pub use crate::verdict::Verdict;
pub use extract::{Data, FromMessage, MessageHandlerFn, Metadata};
pub(crate) use recent::RecentMessages;
#[cfg(any(feature = "amqp", feature = "aws"))]
pub(crate) use setters::{envelope_setters, handler_name_setter, service_setter};

/// What happens to a message whose handler failed.
///
/// ```
/// use tomodachi::message::FailurePolicy;
/// assert_eq!(FailurePolicy::default(), FailurePolicy::Retry);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// Redeliver it: AMQP retries up to the subscription's `max_attempts`, then dead-letters;
    /// SQS leaves the message for redelivery after the visibility timeout (the queue's redrive
    /// policy moves it to its dead-letter queue after `max_receive_count`). The default.
    #[default]
    Retry,
    /// Drop the message after logging the error, as upstream tomodachi does.
    Drop,
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
#[derive(Clone)]
pub struct Message {
    parsed: Arc<ParsedMessage>,
    handler: Arc<str>,
    transport: Arc<dyn Any + Send + Sync>,
    extensions: Extensions,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("parsed", &self.parsed)
            .field("handler", &self.handler)
            .finish_non_exhaustive()
    }
}

impl Message {
    /// A message for `handler`, parsed by an envelope, with the delivering transport's own
    /// values (`AmqpDelivery`, `SqsDelivery`, or a type of your transport).
    ///
    /// ```
    /// use tomodachi::envelope::{Envelope, Raw};
    /// use tomodachi::message::Message;
    ///
    /// #[derive(Debug)]
    /// struct Subject(String);
    ///
    /// let parsed = Raw.parse_message("hello").unwrap();
    /// let message = Message::new(parsed, "on_hello", Subject("greetings".into()));
    /// assert_eq!(message.transport::<Subject>().unwrap().0, "greetings");
    /// assert_eq!(message.data::<String>().unwrap(), "hello");
    /// ```
    pub fn new(
        parsed: ParsedMessage,
        handler: impl Into<Arc<str>>,
        transport: impl Any + Send + Sync,
    ) -> Self {
        Self {
            parsed: Arc::new(parsed),
            handler: handler.into(),
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

    /// The payload decoded as the protobuf message `T` (the data of a `ProtobufBase`
    /// subscription); data that is not a `T` is an error that dead-letters the message.
    ///
    /// ```
    /// # fn demo(message: &tomodachi::message::Message) -> tomodachi::Result<()> {
    /// #[derive(Clone, PartialEq, prost::Message)]
    /// struct Person {
    ///     #[prost(string, tag = "1")]
    ///     id: String,
    /// }
    /// let person: Person = message.proto()?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "protobuf")]
    pub fn proto<T: prost::Message + Default>(&self) -> Result<T, Error> {
        crate::envelope::Proto::<T>::from_payload(&self.parsed.data)
            .map(|p| p.0)
            .map_err(|e| {
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
        self.parsed.message()
    }

    /// A top-level key of the parsed message (`metadata`, `service`, ...).
    pub fn envelope_value(&self, key: &str) -> Option<&Value> {
        self.parsed.message().get(key)
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

    /// The delivering transport's own values, if they are a `T` (`AmqpDelivery` for
    /// RabbitMQ, `SqsDelivery` for SNS+SQS); middlewares can read but not change them.
    pub fn transport<T: Any>(&self) -> Option<&T> {
        self.transport.downcast_ref::<T>()
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

/// A message handler with its service, type-erased (see [`MessageHandlerFn`]).
#[derive(Clone)]
pub struct MessageHandler(pub(crate) ErasedMessageHandler);

impl std::fmt::Debug for MessageHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MessageHandler")
    }
}

impl MessageHandler {
    /// Erases `handler`, which will receive `state` with each message.
    pub fn new<S, H, Args>(state: Arc<S>, handler: H) -> Self
    where
        S: Send + Sync + 'static,
        H: MessageHandlerFn<S, Args>,
    {
        Self(erase_message_handler(state, handler))
    }
}

pub(crate) type ErasedMessageHandler =
    Arc<dyn Fn(Message) -> BoxFuture<'static, MessageResult> + Send + Sync>;
pub(crate) type ErasedMessageMiddleware =
    Arc<dyn Fn(Message, MessageNext) -> BoxFuture<'static, MessageResult> + Send + Sync>;

/// What the handler itself decided (`None` until it ran), whatever the middlewares report.
type HandlerVerdict = Arc<Mutex<Option<Verdict>>>;

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
    outcome: HandlerVerdict,
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
        outcome: HandlerVerdict,
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
                    *o = Some(match &result {
                        Ok(()) => Verdict::Ack,
                        Err(e) => e.verdict(),
                    });
                }
                result
            }
        }
    }
}

/// Erases a [`MessageHandlerFn`] with its service.
pub(crate) fn erase_message_handler<S, H, Args>(state: Arc<S>, handler: H) -> ErasedMessageHandler
where
    S: Send + Sync + 'static,
    H: MessageHandlerFn<S, Args>,
{
    Arc::new(move |message| handler.call(state.clone(), message))
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

/// Which envelope a subscription or a publish uses: the field a transport's subscription and
/// publish-options builders keep for their `envelope(..)` and `raw()` setters, resolved
/// against the service's `message_envelope` when the service starts.
///
/// ```
/// use std::sync::Arc;
/// use tomodachi::envelope::{JsonBase, SharedEnvelope};
/// use tomodachi::message::EnvelopeChoice;
///
/// let service_default: SharedEnvelope = Arc::new(JsonBase);
/// assert!(EnvelopeChoice::ServiceDefault.resolve(Some(&service_default)).is_some());
/// assert!(EnvelopeChoice::Raw.resolve(Some(&service_default)).is_none());
/// let custom = EnvelopeChoice::custom(tomodachi::envelope::Raw);
/// assert_eq!(custom.resolve(None).map(|e| e.name().to_owned()).as_deref(), Some("Raw"));
/// ```
#[derive(Clone, Default)]
pub enum EnvelopeChoice {
    /// The service's `message_envelope` (raw when the service has none).
    #[default]
    ServiceDefault,
    /// No envelope: the body is the payload text.
    Raw,
    /// This envelope.
    Custom(SharedEnvelope),
}

impl std::fmt::Debug for EnvelopeChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnvelopeChoice::ServiceDefault => f.write_str("ServiceDefault"),
            EnvelopeChoice::Raw => f.write_str("Raw"),
            EnvelopeChoice::Custom(e) => f.debug_tuple("Custom").field(&e.name()).finish(),
        }
    }
}

impl EnvelopeChoice {
    /// [`EnvelopeChoice::Custom`] of `envelope`.
    pub fn custom(envelope: impl crate::envelope::Envelope) -> Self {
        EnvelopeChoice::Custom(Arc::new(envelope))
    }

    /// The envelope to use, given the service's `message_envelope` (`None`: raw).
    pub fn resolve(&self, service_default: Option<&SharedEnvelope>) -> Option<SharedEnvelope> {
        match self {
            EnvelopeChoice::ServiceDefault => service_default.cloned(),
            EnvelopeChoice::Raw => None,
            EnvelopeChoice::Custom(e) => Some(e.clone()),
        }
    }
}

/// Checks a subscription's envelope when its service starts
/// ([`Envelope::validate_subscription`](crate::envelope::Envelope::validate_subscription));
/// raw mode (`None`) always passes. The error names the transport and the handler.
///
/// ```
/// use std::sync::Arc;
/// use tomodachi::envelope::{JsonBase, SharedEnvelope};
/// use tomodachi::message::validate_envelope;
///
/// let envelope: SharedEnvelope = Arc::new(JsonBase);
/// assert!(validate_envelope(Some(&envelope), "NATS", "on_order").is_ok());
/// assert!(validate_envelope(None, "NATS", "on_order").is_ok());
/// ```
pub fn validate_envelope(
    envelope: Option<&SharedEnvelope>,
    transport: &str,
    handler: &str,
) -> Result<(), Error> {
    match envelope {
        Some(envelope) => envelope.validate_subscription().map_err(|e| {
            Error::msg(format!(
                "invalid message envelope {} for the {transport} handler {handler}: {e}",
                envelope.name()
            ))
        }),
        None => Ok(()),
    }
}

/// Builds the body of an outgoing message: `data` in the envelope (as `info`'s service, for
/// `topic`), or `data` itself without an envelope (it must serialize to a string). What every
/// transport's publish helpers use. `data` is anything serialisable, a
/// [`Payload`], or (feature `protobuf`) a [`Proto`](crate::envelope::Proto) message.
///
/// ```
/// use tomodachi::envelope::JsonBase;
/// use tomodachi::transport::TransportContext;
///
/// let ctx = TransportContext::new("orders", "5d0b530f-5c44-4981-b01f-342801bd48f5", Default::default());
/// let envelope: tomodachi::envelope::SharedEnvelope = std::sync::Arc::new(JsonBase);
/// let body = tomodachi::message::build_body(&ctx, Some(&envelope), "order.created", &serde_json::json!({"id": 1})).unwrap();
/// assert!(body.contains(r#""name": "orders""#));
/// assert_eq!(tomodachi::message::build_body(&ctx, None, "t", "plain").unwrap(), "plain");
/// ```
pub fn build_body<T: crate::envelope::ToPayload + ?Sized>(
    info: &TransportContext,
    envelope: Option<&SharedEnvelope>,
    topic: &str,
    data: &T,
) -> Result<String, Error> {
    let payload = data.to_payload().map_err(Error::new)?;
    match envelope {
        Some(envelope) => envelope
            .build_message(
                &crate::envelope::ServiceIdentity {
                    name: &info.name,
                    uuid: &info.uuid,
                },
                topic,
                &payload,
            )
            .map_err(Error::new),
        None => match payload {
            Payload::Text(t) => Ok(t),
            Payload::Json(serde_json::Value::String(t)) => Ok(t),
            _ => Err(Error::msg("a message without an envelope must be a string")),
        },
    }
}

/// Parses a message body with a subscription's envelope (`None`: raw, the body is the
/// payload). A body that does not parse is an error whose verdict is
/// [`Verdict::DeadLetter`]: it would fail the same way on every delivery.
///
/// ```
/// use tomodachi::message::{parse_body, Verdict};
/// assert_eq!(parse_body(None, "hello").unwrap().data.deserialize::<String>().unwrap(), "hello");
/// let envelope: tomodachi::envelope::SharedEnvelope = std::sync::Arc::new(tomodachi::envelope::JsonBase);
/// assert!(matches!(parse_body(Some(&envelope), "{").unwrap_err().verdict(), Verdict::DeadLetter(_)));
/// ```
pub fn parse_body(envelope: Option<&SharedEnvelope>, body: &str) -> Result<ParsedMessage, Error> {
    match envelope {
        Some(env) => env
            .parse_message(body)
            .map_err(|e| Error::undecodable(format!("unable to parse the envelope: {e}"))),
        None => crate::envelope::Envelope::parse_message(&crate::envelope::Raw, body)
            .map_err(|e| Error::undecodable(e.to_string())),
    }
}

/// Bodies at least this long are parsed on tokio's blocking pool by [`parse_body_off_worker`]
/// instead of a runtime worker: a large (or compressed) body takes milliseconds to decode,
/// during which a worker would serve nothing else.
pub const PARSE_OFF_WORKER_ABOVE: usize = 64 * 1024;

/// [`parse_body`] as the transports run it for each delivery: compressed envelope data may
/// inflate to at most `inflate_limit` bytes (`options.envelope`'s limit,
/// `ctx.options().envelope.inflate_limit()`), and bodies of [`PARSE_OFF_WORKER_ABOVE`] bytes or
/// more are parsed on tokio's blocking pool. An error dead-letters the message.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tomodachi::message::parse_body_off_worker;
/// let parsed = parse_body_off_worker(None, "hello", usize::MAX).await.unwrap();
/// assert_eq!(parsed.data.deserialize::<String>().unwrap(), "hello");
/// # }
/// ```
pub async fn parse_body_off_worker(
    envelope: Option<&SharedEnvelope>,
    body: &str,
    inflate_limit: usize,
) -> Result<ParsedMessage, Error> {
    use crate::envelope::with_max_inflated_size;
    if body.len() < PARSE_OFF_WORKER_ABOVE {
        return with_max_inflated_size(inflate_limit, || parse_body(envelope, body));
    }
    let envelope = envelope.cloned();
    let body = body.to_owned();
    tokio::task::spawn_blocking(move || {
        with_max_inflated_size(inflate_limit, || parse_body(envelope.as_ref(), &body))
    })
    .await
    .unwrap_or_else(|e| {
        Err(Error::undecodable(format!(
            "unable to parse the envelope: the parser failed ({e})"
        )))
    })
}

/// Decides from the chain's result and what the handler itself did (a middleware that
/// swallows the handler's error does not make the message disappear).
fn decide(result: Result<(), Error>, handler: Option<Verdict>) -> Verdict {
    match (result, handler) {
        (Err(e), _) => e.verdict(),
        (Ok(()), None) => {
            Verdict::Discard("a message middleware returned without calling the handler".into())
        }
        (Ok(()), Some(handler)) => handler,
    }
}

/// The text of a caught panic.
pub(crate) fn panic_text(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned())
}

/// One subscription's handler with the service's message middlewares: the message pipeline
/// a transport runs for each delivery (duplicate suppression, middlewares, handler, verdict).
///
/// ```
/// use std::sync::Arc;
/// use tomodachi::envelope::{Envelope, Raw};
/// use tomodachi::message::{HandlerChain, Message, MessageHandler, Verdict};
/// use tomodachi::transport::TransportContext;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let ctx = TransportContext::new("svc", "uuid-1", Default::default());
/// let handler = MessageHandler::new(Arc::new(()), |_svc: Arc<()>, message: Message| async move {
///     let text: String = message.data()?;
///     if text == "poison" {
///         return Err(tomodachi::Error::dead_letter("poison"));
///     }
///     Ok::<_, tomodachi::Error>(())
/// });
/// let chain = HandlerChain::new(&ctx, "on_text", "example.transport", handler);
/// let deliver = |body: &str| Message::new(Raw.parse_message(body).unwrap(), "on_text", ());
/// assert_eq!(chain.run(deliver("hello")).await, Verdict::Ack);
/// assert_eq!(chain.run(deliver("poison")).await, Verdict::DeadLetter("poison".into()));
/// # }
/// ```
#[derive(Clone)]
pub struct HandlerChain {
    /// The service, for the handler's scope.
    pub(crate) info: Arc<dyn std::any::Any + Send + Sync>,
    pub(crate) name: Arc<str>,
    /// The log context's `type` (`tomodachi.amqp`, `tomodachi.aws_sns_sqs`).
    pub(crate) kind: &'static str,
    pub(crate) middlewares: Arc<[ErasedMessageMiddleware]>,
    pub(crate) handler: ErasedMessageHandler,
    /// The message uuids this handler handled in the last minute.
    pub(crate) recent: Arc<RecentMessages>,
}

/// Why a duplicate is dropped.
pub(crate) const DUPLICATE: &str = "duplicate message already processed in the last minute";

impl HandlerChain {
    /// The pipeline for the handler named `name` of `ctx`'s service, with the service's
    /// message middlewares; `kind` is the `type` field of the handler's log context
    /// (`tomodachi.amqp`, `tomodachi.aws_sns_sqs`, ...).
    pub fn new(
        ctx: &TransportContext,
        name: impl Into<Arc<str>>,
        kind: &'static str,
        handler: MessageHandler,
    ) -> Self {
        Self {
            info: Arc::new(ctx.clone()),
            name: name.into(),
            kind,
            middlewares: ctx.message_middlewares(),
            handler: handler.0,
            recent: Arc::default(),
        }
    }

    /// The handler's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs the middlewares and the handler for one message inside the service's and the
    /// handler's context; a panic counts as a failure.
    ///
    /// A message whose `message_uuid` this handler handled in the last minute is a duplicate:
    /// it is discarded without running the chain.
    pub async fn run(&self, message: Message) -> Verdict {
        let ticket = match message.message_uuid().filter(|u| !u.is_empty()) {
            Some(uuid) => match self.recent.admit(uuid).await {
                recent::Admission::Duplicate => return Verdict::Discard(DUPLICATE.into()),
                recent::Admission::Handle(ticket) => Some(ticket),
            },
            None => None,
        };
        let verdict = self.run_chain(message).await;
        if let Some(ticket) = ticket {
            ticket.finish(verdict.is_settled());
        }
        verdict
    }

    async fn run_chain(&self, message: Message) -> Verdict {
        let outcome: HandlerVerdict = Arc::default();
        let next = MessageNext::new(
            self.middlewares.clone(),
            self.handler.clone(),
            outcome.clone(),
        );
        let context = crate::logging::HandlerContext::new(self.name.clone(), self.kind)
            .service(self.info.clone());
        let result =
            crate::logging::scope(context, AssertUnwindSafe(next.run(message)).catch_unwind())
                .await
                .unwrap_or_else(|p| {
                    Err(Error::msg(format!("handler panicked: {}", panic_text(p))))
                });
        let handler = outcome.lock().ok().and_then(|mut o| o.take());
        decide(result, handler)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An envelope whose parsing takes 300 ms of blocking work.
    struct SlowEnvelope;

    impl crate::envelope::Envelope for SlowEnvelope {
        fn name(&self) -> &str {
            "slow"
        }

        fn build_message(
            &self,
            _service: &crate::envelope::ServiceIdentity<'_>,
            _topic: &str,
            _data: &Payload,
        ) -> Result<String, crate::envelope::EnvelopeError> {
            Ok(String::new())
        }

        fn parse_message(
            &self,
            payload: &str,
        ) -> Result<ParsedMessage, crate::envelope::EnvelopeError> {
            std::thread::sleep(std::time::Duration::from_millis(300));
            crate::envelope::Envelope::parse_message(&crate::envelope::Raw, payload)
        }
    }

    /// Ticks of a 10 ms interval on the same single-threaded runtime while one body is parsed.
    async fn ticks_while_parsing(len: usize) -> u32 {
        let envelope: SharedEnvelope = std::sync::Arc::new(SlowEnvelope);
        let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counter = ticks.clone();
        let ticker = tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_millis(10));
            loop {
                every.tick().await;
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
        tokio::task::yield_now().await;
        let before = ticks.load(std::sync::atomic::Ordering::Relaxed);
        let body = "x".repeat(len);
        let parsed =
            parse_body_off_worker(Some(&envelope), &body, crate::envelope::MAX_INFLATED_SIZE)
                .await
                .unwrap();
        assert_eq!(parsed.data, Payload::Text(body));
        let during = ticks.load(std::sync::atomic::Ordering::Relaxed) - before;
        ticker.abort();
        during
    }

    /// A large body is parsed off the runtime's worker: other tasks keep running meanwhile;
    /// a small one is parsed inline (the worker is busy for it).
    #[tokio::test(flavor = "current_thread")]
    async fn large_bodies_are_parsed_off_the_worker() {
        assert!(ticks_while_parsing(PARSE_OFF_WORKER_ABOVE).await >= 10);
        assert!(ticks_while_parsing(100).await <= 1);
    }

    #[test]
    fn verdicts() {
        let retry = || Some(Verdict::Retry("boom".into()));
        assert_eq!(decide(Ok(()), Some(Verdict::Ack)), Verdict::Ack);
        assert!(matches!(decide(Ok(()), None), Verdict::Discard(_)));
        assert_eq!(
            decide(Err(Error::msg("boom")), retry()),
            Verdict::Retry("boom".into())
        );
        // a middleware swallowed the handler's error: still retried
        assert_eq!(decide(Ok(()), retry()), Verdict::Retry("boom".into()));
        assert_eq!(
            decide(Err(Error::discard("skip")), None),
            Verdict::Discard("skip".into())
        );
        assert!(matches!(
            decide(Err(Error::undecodable("bad")), None),
            Verdict::DeadLetter(_)
        ));
    }
}
