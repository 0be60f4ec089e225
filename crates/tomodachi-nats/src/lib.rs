//! A NATS JetStream transport for [tomodachi] services, built only on tomodachi's
//! public transport seam ([`tomodachi::transport`]) and message pipeline
//! ([`tomodachi::message`]).
//!
//! Handlers are the same message handlers as AMQP's: an async function of the service and any
//! [`FromMessage`] extractors (`Data<T>`, `Message`, [`NatsDelivery`], ...). The service's envelope (JsonBase, raw, custom), its message
//! middlewares and duplicate suppression apply as for every message transport.
//!
//! ```no_run
//! use std::sync::Arc;
//! use tomodachi::envelope::JsonBase;
//! use tomodachi::message::Data;
//! use tomodachi_nats::{NatsConfig, NatsServiceBuilderExt, NatsSubscription};
//!
//! #[derive(serde::Deserialize)]
//! struct Order { id: u64 }
//!
//! let service = tomodachi::Service::builder("orders", ())
//!     .message_envelope(JsonBase)
//!     .nats_config(NatsConfig::new().servers(["nats://127.0.0.1:4222"]))
//!     .nats(NatsSubscription::new("orders.created"), |_s: Arc<()>, Data(order): Data<Order>| async move {
//!         tomodachi_nats::publish(&serde_json::json!({"id": order.id}), "orders.seen").await
//!     })
//!     .build();
//! ```
//!
//! **At start** (in [`Transport::declare`](tomodachi::transport::Transport::declare)) the
//! transport connects (an unreachable server is an error naming it), and for each subscription
//! gets or creates its stream ([`stream_name`]: one per subject, shared by every service that
//! subscribes to it), the stream of its dead-letter subject, and its durable pull consumer
//! ([`durable_name`]: one per service and handler, so instances of a service compete for its
//! messages) with explicit acks and `max_deliver`.
//!
//! **Delivery is at-least-once.** A message is acknowledged after its handler succeeded. A
//! failed handler's message is `nak`ed with a growing delay (100 ms, 200 ms, ... up to 3.2 s);
//! its last allowed delivery (`max_deliver`, default 5) that fails is published to the
//! dead-letter subject ([`dead_letter_subject`], or
//! [`NatsSubscription::dead_letter_subject`]) and terminated, with a log line. A message that
//! cannot be decoded is dead-lettered at once. [`FailurePolicy::Drop`](tomodachi::message::FailurePolicy)
//! acknowledges failed messages after logging instead.
//!
//! **On stop** the transport stops pulling, lets in-flight handlers finish and settle their
//! messages, flushes the acknowledgements and closes the connection.

#![deny(missing_docs)]

mod config;
mod consumer;
mod describe;
mod naming;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tomodachi::message::{
    build_body, EnvelopeChoice, FromMessage, Message, MessageHandler, MessageHandlerFn,
};
use tomodachi::transport::TransportContext;
use tomodachi::{Error, ServiceBuilder};

pub use config::{register_options, NatsConfig, DEFAULT_SERVER, NATS_URL_ENV, OPTIONS_SECTION};
pub use naming::{dead_letter_subject, durable_name, stream_name};

/// A JetStream subscription: a subject (with `*` and `>` wildcards) consumed through a durable
/// pull consumer shared by the service's instances.
///
/// ```
/// use tomodachi_nats::NatsSubscription;
/// let sub = NatsSubscription::new("orders.*").name("on_order").max_deliver(3);
/// assert_eq!(sub.subject(), "orders.*");
/// ```
#[derive(Clone)]
pub struct NatsSubscription {
    subject: String,
    name: Option<String>,
    envelope: EnvelopeChoice,
    max_deliver: u32,
    dead_letter_subject: Option<String>,
    max_in_flight: usize,
    ack_wait: std::time::Duration,
    data_schema: Option<serde_json::Value>,
}

impl std::fmt::Debug for NatsSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsSubscription")
            .field("subject", &self.subject)
            .field("name", &self.name)
            .field("max_deliver", &self.max_deliver)
            .field("dead_letter_subject", &self.dead_letter_subject)
            .field("ack_wait", &self.ack_wait)
            .finish_non_exhaustive()
    }
}

impl NatsSubscription {
    /// Subscribes to `subject` (`orders.created`, `orders.*`, `orders.>`).
    pub fn new(subject: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            name: None,
            envelope: EnvelopeChoice::ServiceDefault,
            max_deliver: 5,
            dead_letter_subject: None,
            max_in_flight: 16,
            ack_wait: std::time::Duration::from_secs(30),
            data_schema: None,
        }
    }

    /// The handler name, for logs and the durable consumer's name (default: the subject).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Parses messages with this envelope instead of the service's.
    pub fn envelope(mut self, envelope: impl tomodachi::envelope::Envelope) -> Self {
        self.envelope = EnvelopeChoice::custom(envelope);
        self
    }

    /// No envelope: the handler gets the body text.
    pub fn raw(mut self) -> Self {
        self.envelope = EnvelopeChoice::Raw;
        self
    }

    /// Deliveries of a failing message before it is dead-lettered (at least 1; default 5): the
    /// consumer's `max_deliver`.
    pub fn max_deliver(mut self, deliveries: u32) -> Self {
        self.max_deliver = deliveries.max(1);
        self
    }

    /// Where dead letters go (default: [`dead_letter_subject`]). A stream capturing it is
    /// created at start unless one exists.
    pub fn dead_letter_subject(mut self, subject: impl Into<String>) -> Self {
        self.dead_letter_subject = Some(subject.into());
        self
    }

    /// Messages of this subscription handled at once by one instance (at least 1; default 16).
    pub fn max_in_flight(mut self, messages: usize) -> Self {
        self.max_in_flight = messages.max(1);
        self
    }

    /// How long the server waits for a delivered message's acknowledgement before it delivers
    /// it again (default 30 s; the consumer's `ack_wait`, set when the consumer is created).
    /// A running handler tells the server every half `ack_wait` that it is still working, so
    /// this is how soon a message of a crashed instance is delivered to another one.
    pub fn ack_wait(mut self, wait: std::time::Duration) -> Self {
        self.ack_wait = wait.max(std::time::Duration::from_millis(100));
        self
    }

    /// The JSON Schema of the messages' data (inside the envelope), for the AsyncAPI document
    /// (`tomodachi::apidoc`).
    ///
    /// ```
    /// let sub = tomodachi_nats::NatsSubscription::new("orders.created")
    ///     .data_schema(serde_json::json!({"type": "object", "required": ["id"]}));
    /// ```
    pub fn data_schema(mut self, schema: serde_json::Value) -> Self {
        self.data_schema = Some(schema);
        self
    }

    /// The messages' data is a `T`: its JSON Schema (from `schemars`) goes into the AsyncAPI
    /// document (feature `schemars`; `#[nats(.., schema = T)]`).
    ///
    /// ```
    /// #[derive(schemars::JsonSchema)]
    /// struct Order { id: u64 }
    /// let sub = tomodachi_nats::NatsSubscription::new("orders.created").schema::<Order>();
    /// ```
    #[cfg(feature = "schemars")]
    pub fn schema<T: schemars::JsonSchema>(self) -> Self {
        self.data_schema(tomodachi::apidoc::schema_of::<T>())
    }

    /// The subject as given.
    pub fn subject(&self) -> &str {
        &self.subject
    }
}

/// What the NATS transport delivers with each message, reachable from a handler as an
/// argument or as `message.transport::<NatsDelivery>()`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NatsDelivery {
    /// The subscription's subject as written on the handler (may hold wildcards).
    pub subscription_subject: Arc<str>,
    /// The subject the message was published to.
    pub subject: String,
    /// The stream it is stored in.
    pub stream: Arc<str>,
    /// The durable consumer it was delivered through.
    pub consumer: Arc<str>,
    /// The stream sequence of the message.
    pub stream_sequence: u64,
    /// 1 for the first delivery, counted by the server.
    pub delivered: u32,
    /// The message's NATS headers (the publisher's, and JetStream's such as `Nats-Msg-Id`),
    /// if it has any: the counterpart of AMQP headers and SNS/SQS message attributes (the
    /// handler argument `headers`).
    pub headers: Option<async_nats::HeaderMap>,
}

impl FromMessage for NatsDelivery {
    fn from_message(message: &Message) -> Result<Self, Error> {
        message
            .transport::<NatsDelivery>()
            .cloned()
            .ok_or_else(|| Error::msg("not a NATS message"))
    }
}

/// A registered handler.
struct HandlerDef {
    subscription: NatsSubscription,
    handler: MessageHandler,
}

/// A service's NATS handlers and settings as a tomodachi transport.
#[derive(Default)]
pub struct NatsTransport {
    handlers: Vec<HandlerDef>,
}

impl std::fmt::Debug for NatsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsTransport")
            .field("handlers", &self.handlers.len())
            .finish()
    }
}

/// The NATS methods of [`ServiceBuilder`].
pub trait NatsServiceBuilderExt<S> {
    /// Registers a JetStream message handler for `subscription`. The handler returns `()` or
    /// `Result<(), E>`; the message is acknowledged only after it succeeded.
    fn nats<H, Args>(self, subscription: NatsSubscription, handler: H) -> Self
    where
        H: MessageHandlerFn<S, Args>;

    /// Sets the service's NATS connection settings (default [`NatsConfig::default`]): the
    /// `nats.*` section of its options, which `-c` config files override key by key. A service
    /// that only publishes calls this to get a connection.
    fn nats_config(self, config: NatsConfig) -> Self;
}

impl<S: Send + Sync + 'static> NatsServiceBuilderExt<S> for ServiceBuilder<S> {
    fn nats<H, Args>(mut self, subscription: NatsSubscription, handler: H) -> Self
    where
        H: MessageHandlerFn<S, Args>,
    {
        register_options();
        let handler = MessageHandler::new(self.state().clone(), handler);
        self.transport_mut::<NatsTransport>()
            .handlers
            .push(HandlerDef {
                subscription,
                handler,
            });
        self
    }

    fn nats_config(mut self, config: NatsConfig) -> Self {
        register_options();
        self.transport_mut::<NatsTransport>();
        self.configure(|options| {
            if let Err(e) = options.merge_json(&config.to_options_json()) {
                // the section is registered above: only a bug gets here
                tracing::error!(target: "tomodachi.nats", error_message = %e,
                    "unable to set the nats options");
            }
        })
    }
}

/// The connections of running services, for the publish helpers: `(name, uuid)` → client.
static CLIENTS: Mutex<Option<HashMap<(String, String), async_nats::Client>>> = Mutex::new(None);

fn register_client(ctx: &TransportContext, client: async_nats::Client) {
    let mut guard = CLIENTS.lock().unwrap_or_else(|p| p.into_inner());
    guard.get_or_insert_with(HashMap::new).insert(
        (ctx.service_name().to_owned(), ctx.service_uuid().to_owned()),
        client,
    );
}

fn unregister_client(ctx: &TransportContext) {
    let mut guard = CLIENTS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(all) = guard.as_mut() {
        all.remove(&(ctx.service_name().to_owned(), ctx.service_uuid().to_owned()));
    }
}

fn client_of(ctx: &TransportContext) -> Option<async_nats::Client> {
    let guard = CLIENTS.lock().unwrap_or_else(|p| p.into_inner());
    guard
        .as_ref()?
        .get(&(ctx.service_name().to_owned(), ctx.service_uuid().to_owned()))
        .cloned()
}

/// Overrides for one publish: the envelope, which service publishes, and whether to wait for
/// a JetStream stream's acknowledgement.
///
/// ```
/// let options = tomodachi_nats::PublishOptions::new().raw().acknowledged();
/// ```
#[derive(Clone, Default)]
pub struct PublishOptions {
    envelope: EnvelopeChoice,
    service: Option<String>,
    acknowledged: bool,
}

impl std::fmt::Debug for PublishOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishOptions")
            .field("service", &self.service)
            .field("acknowledged", &self.acknowledged)
            .finish_non_exhaustive()
    }
}

impl PublishOptions {
    /// Defaults: the service's envelope, a core-NATS publish flushed to the server.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds the message with this envelope.
    pub fn envelope(mut self, envelope: impl tomodachi::envelope::Envelope) -> Self {
        self.envelope = EnvelopeChoice::custom(envelope);
        self
    }

    /// Sends the payload without an envelope (it must serialize to a string).
    pub fn raw(mut self) -> Self {
        self.envelope = EnvelopeChoice::Raw;
        self
    }

    /// Publishes as the running service named `name` (default: the service whose handler is
    /// running, else the most recently started service).
    pub fn service(mut self, name: impl Into<String>) -> Self {
        self.service = Some(name.into());
        self
    }

    /// Publishes through JetStream and waits for the stream's acknowledgement: fails when no
    /// stream captures the subject.
    pub fn acknowledged(mut self) -> Self {
        self.acknowledged = true;
        self
    }
}

/// Publishes `data` to `subject` from the running service, in its envelope (as
/// `tomodachi::amqp::publish` does for AMQP), and flushes it to the server. A stream capturing
/// the subject stores it; core subscribers receive it too.
///
/// ```no_run
/// # async fn demo() -> tomodachi::Result<()> {
/// tomodachi_nats::publish(&serde_json::json!({"id": 1}), "orders.created").await?;
/// # Ok(()) }
/// ```
pub async fn publish<T: tomodachi::envelope::ToPayload + ?Sized>(
    data: &T,
    subject: &str,
) -> Result<(), Error> {
    publish_with(data, subject, PublishOptions::default()).await
}

/// [`publish`] with overrides.
pub async fn publish_with<T: tomodachi::envelope::ToPayload + ?Sized>(
    data: &T,
    subject: &str,
    options: PublishOptions,
) -> Result<(), Error> {
    let ctx = TransportContext::current(options.service.as_deref()).ok_or_else(|| {
        Error::msg("nats publish needs a running service (none is running, or none by that name)")
    })?;
    let client = client_of(&ctx).ok_or_else(|| {
        Error::msg(format!(
            "nats publish: the service {} has no NATS connection (add nats handlers or nats_config)",
            ctx.service_name()
        ))
    })?;
    let body = build_body(
        &ctx,
        options.envelope.resolve(ctx.envelope()).as_ref(),
        subject,
        data,
    )?;
    let failed = |e: &dyn std::fmt::Display| {
        Error::msg(format!(
            "unable to publish to [nats] subject {subject:?}: {e}"
        ))
    };
    if options.acknowledged {
        let js = async_nats::jetstream::new(client);
        js.publish(subject.to_owned(), body.into())
            .await
            .map_err(|e| failed(&e))?
            .await
            .map_err(|e| failed(&e))?;
    } else {
        client
            .publish(subject.to_owned(), body.into())
            .await
            .map_err(|e| failed(&e))?;
        client.flush().await.map_err(|e| failed(&e))?;
    }
    Ok(())
}
