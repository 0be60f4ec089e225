//! Messages as message handlers and `message_middleware` see them, for every message transport
//! (AMQP and AWS SNS+SQS): the parsed envelope, the transport's own values (read-only) and
//! extensions that middlewares can add for the handler.
//!
//! The pipeline is shared by the transports: parse the body with the subscription's envelope,
//! run the middlewares and the handler, and turn what happened into one [`Verdict`]-like
//! decision (acknowledge/delete, retry, dead-letter, drop) that each transport carries out in
//! its own terms.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use http::Extensions;
use serde_json::Value;

#[doc(hidden)]
pub mod bench;
mod recent;
mod setters;

use crate::envelope::{ParsedMessage, Payload, SharedEnvelope};
use crate::error::{Error, Intent};
use crate::http::handler::BoxFuture;
use crate::service::transport::ServiceInfo;
pub(crate) use recent::RecentMessages;
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
    /// AWS SNS+SQS.
    #[cfg(feature = "aws")]
    AwsSnsSqs(crate::aws_sns_sqs::SnsSqsInfo),
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
            #[cfg(feature = "aws")]
            _ => None,
        }
    }

    /// The SNS+SQS values, for messages from an SQS queue.
    #[cfg(feature = "aws")]
    pub fn aws_sns_sqs(&self) -> Option<&crate::aws_sns_sqs::SnsSqsInfo> {
        match &*self.transport {
            TransportInfo::AwsSnsSqs(a) => Some(a),
            _ => None,
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

/// Which envelope a subscription or a publish uses.
#[derive(Clone, Default)]
pub(crate) enum EnvelopeChoice {
    /// The service's `message_envelope` (raw when the service has none).
    #[default]
    ServiceDefault,
    /// No envelope: the body is the payload text.
    Raw,
    /// This envelope.
    Custom(SharedEnvelope),
}

impl EnvelopeChoice {
    pub(crate) fn resolve(
        &self,
        service_default: Option<&SharedEnvelope>,
    ) -> Option<SharedEnvelope> {
        match self {
            EnvelopeChoice::ServiceDefault => service_default.cloned(),
            EnvelopeChoice::Raw => None,
            EnvelopeChoice::Custom(e) => Some(e.clone()),
        }
    }
}

/// Builds the body of an outgoing message: `data` in the envelope (as `info`'s service, for
/// `topic`), or `data` itself without an envelope (it must serialize to a string).
pub(crate) fn build_body<T: serde::Serialize + ?Sized>(
    info: &ServiceInfo,
    envelope: Option<&SharedEnvelope>,
    topic: &str,
    data: &T,
) -> Result<String, Error> {
    let payload = Payload::from_serialize(data).map_err(Error::new)?;
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

/// Parses a message body with a subscription's envelope (`None`: raw, the body is the payload).
/// A body that does not parse is [`Error::undecodable`].
pub(crate) fn parse_body(
    envelope: Option<&SharedEnvelope>,
    body: &str,
) -> Result<ParsedMessage, Error> {
    match envelope {
        Some(env) => env
            .parse_message(body)
            .map_err(|e| Error::undecodable(format!("unable to parse the envelope: {e}"))),
        None => crate::envelope::Envelope::parse_message(&crate::envelope::Raw, body)
            .map_err(|e| Error::undecodable(e.to_string())),
    }
}

/// What a transport does with a message once its handler chain ran.
#[derive(Debug, PartialEq)]
pub(crate) enum Verdict {
    /// Handled: acknowledge (AMQP) or delete (SQS).
    Done,
    /// The handler failed: redeliver it.
    Retry(String),
    /// It can never be handled (undecodable): dead-letter it without retrying.
    DeadLetter(String),
    /// Drop it on purpose ([`Error::discard`], or a middleware that did not call the handler).
    Discard(String),
}

impl Verdict {
    /// Decides from the chain's result and what the handler itself did (a middleware that
    /// swallows the handler's error does not make the message disappear).
    pub(crate) fn from_outcome(result: Result<(), Error>, outcome: HandlerOutcome) -> Self {
        let failure = match result {
            Err(e) => Some((e.intent(), e.to_string())),
            Ok(()) => outcome.failure,
        };
        match failure {
            None if !outcome.ran => {
                Verdict::Discard("a message middleware returned without calling the handler".into())
            }
            None => Verdict::Done,
            Some((Intent::Discard, why)) => Verdict::Discard(why),
            Some((Intent::Undecodable, why)) => Verdict::DeadLetter(why),
            Some((Intent::Retry, why)) => Verdict::Retry(why),
        }
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

/// One subscription's handler with the service's middlewares, as a transport runs them.
#[derive(Clone)]
pub(crate) struct HandlerChain {
    pub(crate) info: ServiceInfo,
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
    /// Runs the middlewares and the handler for one message inside the service's and the
    /// handler's context; a panic counts as a failure.
    ///
    /// A message whose `message_uuid` this handler handled in the last minute is a duplicate:
    /// it is dropped without running the chain.
    pub(crate) async fn run(&self, message: Message) -> Verdict {
        let ticket = match message.message_uuid().filter(|u| !u.is_empty()) {
            Some(uuid) => match self.recent.admit(uuid).await {
                recent::Admission::Duplicate => return Verdict::Discard(DUPLICATE.into()),
                recent::Admission::Handle(ticket) => Some(ticket),
            },
            None => None,
        };
        let verdict = self.run_chain(message).await;
        if let Some(ticket) = ticket {
            ticket.finish(matches!(verdict, Verdict::Done | Verdict::Discard(_)));
        }
        verdict
    }

    async fn run_chain(&self, message: Message) -> Verdict {
        let outcome = Arc::new(Mutex::new(HandlerOutcome::default()));
        let next = MessageNext::new(
            self.middlewares.clone(),
            self.handler.clone(),
            outcome.clone(),
        );
        let context = crate::logging::HandlerContext {
            handler: self.name.clone(),
            kind: self.kind,
            status_code: None,
        };
        let result = crate::service::registry::scope(
            self.info.clone(),
            crate::logging::scope(context, AssertUnwindSafe(next.run(message)).catch_unwind()),
        )
        .await
        .unwrap_or_else(|p| Err(Error::msg(format!("handler panicked: {}", panic_text(p)))));
        let outcome = outcome.lock().map(|o| o.clone()).unwrap_or_default();
        Verdict::from_outcome(result, outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ran(failure: Option<(Intent, &str)>) -> HandlerOutcome {
        HandlerOutcome {
            ran: true,
            failure: failure.map(|(i, s)| (i, s.to_owned())),
        }
    }

    #[test]
    fn verdicts() {
        assert_eq!(Verdict::from_outcome(Ok(()), ran(None)), Verdict::Done);
        assert!(matches!(
            Verdict::from_outcome(Ok(()), HandlerOutcome::default()),
            Verdict::Discard(_)
        ));
        assert_eq!(
            Verdict::from_outcome(Err(Error::msg("boom")), ran(Some((Intent::Retry, "boom")))),
            Verdict::Retry("boom".into())
        );
        // a middleware swallowed the handler's error: still retried
        assert_eq!(
            Verdict::from_outcome(Ok(()), ran(Some((Intent::Retry, "boom")))),
            Verdict::Retry("boom".into())
        );
        assert_eq!(
            Verdict::from_outcome(
                Err(Error::discard("skip")),
                ran(Some((Intent::Discard, "skip")))
            ),
            Verdict::Discard("skip".into())
        );
        assert!(matches!(
            Verdict::from_outcome(Err(Error::undecodable("bad")), ran(None)),
            Verdict::DeadLetter(_)
        ));
    }
}
