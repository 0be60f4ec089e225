//! The RabbitMQ / AMQP 0-9-1 transport, wire-compatible with Python tomodachi: the same
//! exchange, queue and binding declarations, queue names, routing-key encoding and envelopes.
//!
//! Handlers are registered on a [`ServiceBuilder`](crate::ServiceBuilder) (or with `#[amqp]`):
//!
//! ```no_run
//! use std::sync::Arc;
//! use tomodachi::amqp::AmqpSubscription;
//! use tomodachi::envelope::JsonBase;
//! use tomodachi::message::Message;
//!
//! struct Orders;
//!
//! let service = tomodachi::Service::builder("orders", Orders)
//!     .message_envelope(JsonBase)
//!     .amqp(AmqpSubscription::new("order.created"), |_s: Arc<Orders>, msg: Message| async move {
//!         let order: serde_json::Value = msg.data()?;
//!         tomodachi::amqp::publish(&order, "order.seen").await
//!     })
//!     .build();
//! ```
//!
//! **Delivery is at-least-once.** A message is acknowledged only after its handler (and the
//! message middlewares) succeeded. A failed or panicking handler's message is published again to
//! its queue with an attempt counter (header `x-tomodachi-attempt`) after a short backoff; after
//! `max_attempts` (default 5) it moves to the dead-letter queue `<queue>.dlq`, which is declared
//! on first use without touching the main queue's declaration (so Python instances can still
//! declare it). Messages that cannot be decoded go to the dead-letter queue at once. A handler
//! returns [`Error::discard`](crate::Error::discard) to drop a message on purpose, and
//! [`FailurePolicy::Drop`] restores upstream's drop-on-error behaviour.
//!
//! **Queue names and `competing`** follow upstream's code: without `queue_name` and without
//! `competing`, a subscription is *non-competing* — its queue is
//! `sha256(routing_key + handler + service uuid)`, unique to this instance. Pass
//! `competing(true)` (or a `queue_name`) to share one queue among instances of a service. Two
//! different services never share a queue by accident.

mod builder;
mod connection;
mod consumer;
mod link;
mod naming;
mod publisher;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::envelope::SharedEnvelope;
use crate::error::Error;
use crate::message::{
    build_body, EnvelopeChoice, FromMessage, HandlerChain, Message, MessageHandler,
};
use crate::transport::{
    BoxFuture, ChannelDescription, DeclaredTransport, Description, MessageDescription,
    ServerDescription, Transport, TransportContext,
};

pub use consumer::ATTEMPT_HEADER;
/// The AMQP basic properties of a delivery (lapin's type).
pub use lapin::BasicProperties;
pub use naming::{decode_routing_key, encode_routing_key, is_competing, queue_name};

pub use crate::message::FailurePolicy;

/// An AMQP subscription: upstream's `@amqp(routing_key, exchange_name=..., competing=...,
/// queue_name=..., message_envelope=...)`.
///
/// ```
/// use tomodachi::amqp::AmqpSubscription;
/// let sub = AmqpSubscription::new("example.topic").competing(true).max_attempts(3);
/// assert_eq!(sub.routing_key(), "example.topic");
/// ```
#[derive(Clone)]
pub struct AmqpSubscription {
    routing_key: String,
    exchange_name: Option<String>,
    competing: Option<bool>,
    queue_name: Option<String>,
    envelope: EnvelopeChoice,
    name: Option<String>,
    max_attempts: u32,
    serial: bool,
    data_schema: Option<serde_json::Value>,
    description: Option<String>,
}

impl std::fmt::Debug for AmqpSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpSubscription")
            .field("routing_key", &self.routing_key)
            .field("exchange_name", &self.exchange_name)
            .field("competing", &self.competing)
            .field("queue_name", &self.queue_name)
            .finish_non_exhaustive()
    }
}

impl AmqpSubscription {
    /// Subscribes to `routing_key` (topic patterns with `*` and `#` work) on the default
    /// exchange (`options.amqp.exchange_name`, `amq.topic`).
    pub fn new(routing_key: impl Into<String>) -> Self {
        Self {
            routing_key: routing_key.into(),
            exchange_name: None,
            competing: None,
            queue_name: None,
            envelope: EnvelopeChoice::ServiceDefault,
            name: None,
            max_attempts: 5,
            serial: false,
            data_schema: None,
            description: None,
        }
    }

    /// Binds on this exchange (a topic exchange, declared unless it is `amq.topic`).
    pub fn exchange_name(mut self, exchange: impl Into<String>) -> Self {
        self.exchange_name = Some(exchange.into());
        self
    }

    /// Whether instances of the service share one queue (see the module docs for the default).
    pub fn competing(mut self, competing: bool) -> Self {
        self.competing = Some(competing);
        self
    }

    /// Consumes this queue (prefixed with `options.amqp.queue_name_prefix`); implies competing.
    pub fn queue_name(mut self, queue: impl Into<String>) -> Self {
        self.queue_name = Some(queue.into());
        self
    }

    crate::message::envelope_setters!(
        envelope: "Parses messages with this envelope instead of the service's.",
        raw: "No envelope: the handler gets the body text.",
    );

    crate::message::handler_name_setter!();

    crate::transport::data_schema_setters!(
        "tomodachi::amqp::AmqpSubscription::new(\"order.created\")"
    );

    /// Deliveries of a failing message before it is dead-lettered (at least 1; default 5).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Handles this subscription's messages strictly one at a time, in delivery order
    /// (upstream's behaviour). By default deliveries are handled concurrently, up to the
    /// prefetch count (`options.amqp.qos.queue_prefetch_count`).
    pub fn serial(mut self, serial: bool) -> Self {
        self.serial = serial;
        self
    }

    /// The routing key as given.
    pub fn routing_key(&self) -> &str {
        &self.routing_key
    }
}

/// What the AMQP transport delivers with each message (upstream's transport keywords),
/// reachable from a handler as [`Message::amqp`] or `message.transport::<AmqpDelivery>()`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AmqpDelivery {
    /// The subscription's routing key as written on the handler (unprefixed, may hold
    /// wildcards): upstream's `routing_key`.
    pub routing_key: String,
    /// The subscription's exchange: upstream's `exchange_name`.
    pub exchange_name: String,
    /// The routing key the message was actually published with (prefix and encoding as on the
    /// wire). Upstream does not expose it.
    pub delivery_routing_key: String,
    /// The delivery tag on the consumer's channel.
    pub delivery_tag: u64,
    /// Whether the broker marked the delivery as redelivered.
    pub redelivered: bool,
    /// The AMQP basic properties of the delivery (upstream's `properties`).
    pub properties: lapin::BasicProperties,
    /// 1 for the first delivery; counts tomodachi's retries of this message.
    pub attempt: u32,
}

impl FromMessage for AmqpDelivery {
    fn from_message(message: &Message) -> Result<Self, Error> {
        message
            .amqp()
            .cloned()
            .ok_or_else(|| Error::msg("not an AMQP message"))
    }
}

impl Message {
    /// The AMQP values, for messages from RabbitMQ.
    pub fn amqp(&self) -> Option<&AmqpDelivery> {
        self.transport::<AmqpDelivery>()
    }
}

/// A registered handler.
pub(crate) struct AmqpHandlerDef {
    pub(crate) subscription: AmqpSubscription,
    pub(crate) handler: MessageHandler,
}

/// A subscription with its names worked out for one service instance.
pub(crate) struct ResolvedSubscription {
    pub(crate) chain: HandlerChain,
    pub(crate) routing_key: String,
    pub(crate) wire_routing_key: String,
    pub(crate) exchange: String,
    pub(crate) queue: String,
    pub(crate) competing: bool,
    pub(crate) envelope: Option<SharedEnvelope>,
    pub(crate) max_attempts: u32,
    pub(crate) serial: bool,
}

/// A service's AMQP handlers as a [`Transport`]: declaring connects and declares every
/// exchange, queue and binding; starting consumes (with HTTP, before `started_service`).
#[derive(Default)]
pub(crate) struct AmqpTransport {
    pub(crate) handlers: Vec<AmqpHandlerDef>,
}

impl Transport for AmqpTransport {
    fn name(&self) -> &'static str {
        "amqp"
    }

    fn declare(
        self: Box<Self>,
        ctx: TransportContext,
    ) -> BoxFuture<'static, Result<Box<dyn DeclaredTransport>, Error>> {
        Box::pin(async move {
            let consuming = resolve(&ctx, self.handlers);
            for s in &consuming.subscriptions {
                crate::message::validate_envelope(s.envelope.as_ref(), "AMQP", s.chain.name())?;
            }
            let declared = consumer::declare(consuming).await?;
            Ok(Box::new(declared) as Box<dyn DeclaredTransport>)
        })
    }

    /// The broker, and for each handler a channel on its routing key with the exchange and
    /// (for a shared queue) the queue it consumes.
    fn describe(&self, ctx: &TransportContext) -> Vec<Description> {
        let o = &ctx.options().amqp;
        let vhost = if o.virtualhost.is_empty() {
            "/"
        } else {
            &o.virtualhost
        };
        let mut out = vec![Description::Server(
            ServerDescription::new("amqp", "amqp", format!("{}:{}", o.host, o.port))
                .protocol_version("0.9.1")
                .pathname(if vhost.starts_with('/') {
                    vhost.to_owned()
                } else {
                    format!("/{vhost}")
                })
                .description("RabbitMQ"),
        )];
        for d in &self.handlers {
            let s = &d.subscription;
            let name = s.name.clone().unwrap_or_else(|| s.routing_key.clone());
            let exchange = s
                .exchange_name
                .clone()
                .unwrap_or_else(|| o.exchange_name.clone());
            let competing = is_competing(s.competing, s.queue_name.as_deref());
            let binding = serde_json::json!({
                "is": "routingKey",
                "exchange": {
                    "name": exchange, "type": "topic", "durable": true, "autoDelete": false,
                    "vhost": vhost,
                },
                "bindingVersion": "0.3.0",
            });
            let queue_text = if competing {
                let queue = queue_name(
                    &s.routing_key,
                    &name,
                    ctx.service_uuid(),
                    s.competing,
                    s.queue_name.as_deref(),
                    &o.queue_name_prefix,
                );
                // (the AMQP binding has either a routing key with its exchange or a queue, so
                // the queue the routing key is bound to is named in the description)
                format!("the queue `{queue}`, shared by the service's instances")
            } else {
                "a queue of each service instance (named from the routing key, the handler and \
                 the instance's uuid)"
                    .to_owned()
            };
            let envelope = s.envelope.resolve(ctx.envelope());
            out.push(Description::Channel(
                ChannelDescription::new(
                    "amqp",
                    naming::wire_routing_key(&o.routing_key_prefix, &s.routing_key),
                    name,
                )
                .description(format!(
                    "Messages published with the routing key `{}` to the topic exchange `{}`, \
                     consumed from {queue_text}; after {} failed deliveries a message moves to \
                     the queue's `.dlq`.",
                    s.routing_key,
                    binding["exchange"]["name"].as_str().unwrap_or_default(),
                    s.max_attempts
                ))
                .documented(s.description.as_deref())
                .channel_binding("amqp", binding)
                .operation_binding(
                    "amqp",
                    serde_json::json!({"ack": true, "bindingVersion": "0.3.0"}),
                )
                .message(
                    MessageDescription::new()
                        .envelope(envelope.as_ref().map(|e| e.name().to_owned()))
                        .data_schema(s.data_schema.clone()),
                ),
            ));
        }
        out
    }
}

/// Works out each subscription's names for `ctx`'s service instance.
fn resolve(info: &TransportContext, defs: Vec<AmqpHandlerDef>) -> consumer::Consuming {
    let o = info.options.amqp.clone();
    let subscriptions = defs
        .into_iter()
        .map(|d| {
            let s = d.subscription;
            let name = s.name.clone().unwrap_or_else(|| s.routing_key.clone());
            ResolvedSubscription {
                queue: queue_name(
                    &s.routing_key,
                    &name,
                    &info.uuid,
                    s.competing,
                    s.queue_name.as_deref(),
                    &o.queue_name_prefix,
                ),
                competing: is_competing(s.competing, s.queue_name.as_deref()),
                wire_routing_key: naming::wire_routing_key(&o.routing_key_prefix, &s.routing_key),
                exchange: s
                    .exchange_name
                    .clone()
                    .unwrap_or_else(|| o.exchange_name.clone()),
                envelope: s.envelope.resolve(info.envelope.as_ref()),
                routing_key: s.routing_key,
                max_attempts: s.max_attempts,
                serial: s.serial,
                chain: HandlerChain::new(info, name, "tomodachi.amqp", d.handler),
            }
        })
        .collect();
    consumer::Consuming {
        publisher: publisher_for(info),
        inflate_limit: info.options.envelope.inflate_limit(),
        options: o,
        subscriptions,
        policy: info.failure_policy(),
        #[cfg(feature = "opentelemetry")]
        telemetry: crate::telemetry::of(info),
    }
}

/// One publisher (connection with confirms) per service, created on first use.
static PUBLISHERS: Mutex<Option<HashMap<String, Arc<publisher::Publisher>>>> = Mutex::new(None);

fn publisher_for(info: &TransportContext) -> Arc<publisher::Publisher> {
    let backend = link::Backend::of(info);
    // the backend is part of the key: a service of the same name and uuid in the testing kit
    // must not get RabbitMQ's publisher, nor the other way round
    let key = format!("{}/{}/{}", info.name, info.uuid, backend.kind());
    let mut guard = PUBLISHERS.lock().unwrap_or_else(|p| p.into_inner());
    guard
        .get_or_insert_with(HashMap::new)
        .entry(key)
        .or_insert_with(|| {
            Arc::new(publisher::Publisher::new(
                info.options.amqp.clone(),
                backend,
            ))
        })
        .clone()
}

/// Overrides for one publish: upstream's `exchange_name`, `routing_key_prefix` and
/// `message_envelope` arguments, and which service publishes.
///
/// ```
/// use tomodachi::amqp::PublishOptions;
/// let options = PublishOptions::new().exchange_name("events").routing_key_prefix("");
/// ```
#[derive(Clone, Default)]
pub struct PublishOptions {
    exchange_name: Option<String>,
    routing_key_prefix: Option<String>,
    envelope: EnvelopeChoice,
    service: Option<String>,
    persistent: bool,
}

impl std::fmt::Debug for PublishOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishOptions")
            .field("exchange_name", &self.exchange_name)
            .field("routing_key_prefix", &self.routing_key_prefix)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl PublishOptions {
    /// Defaults: the service's exchange, prefix and envelope.
    pub fn new() -> Self {
        Self::default()
    }
    /// Publishes to this exchange.
    pub fn exchange_name(mut self, exchange: impl Into<String>) -> Self {
        self.exchange_name = Some(exchange.into());
        self
    }
    /// Uses this routing-key prefix instead of `options.amqp.routing_key_prefix` (`""` = none).
    pub fn routing_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.routing_key_prefix = Some(prefix.into());
        self
    }
    crate::message::envelope_setters!(
        envelope: "Builds the message with this envelope.",
        raw: "Sends the payload without an envelope (it must serialize to a string).",
    );
    crate::message::service_setter!();
    /// Marks the message persistent (delivery mode 2), so it survives a broker restart while
    /// it waits in a durable queue. Upstream publishes transient messages; Python consumers
    /// handle both.
    pub fn persistent(mut self) -> Self {
        self.persistent = true;
        self
    }
}

/// Publishes `data` with `routing_key` from the running service, in its envelope, and waits for
/// the broker's confirm: upstream `tomodachi.amqp_publish(service, data, routing_key)`.
///
/// Like upstream, the message has no properties (no content type, not persistent). `data` is
/// anything serialisable, or a `Proto(message)` for a `ProtobufBase` envelope (feature
/// `protobuf`).
///
/// ```no_run
/// # async fn demo() -> tomodachi::Result<()> {
/// tomodachi::amqp::publish(&serde_json::json!({"id": 1}), "order.created").await?;
/// # Ok(()) }
/// ```
pub async fn publish<T: crate::envelope::ToPayload + ?Sized>(
    data: &T,
    routing_key: &str,
) -> Result<(), Error> {
    publish_with(data, routing_key, PublishOptions::default()).await
}

/// [`publish`] with overrides.
pub async fn publish_with<T: crate::envelope::ToPayload + ?Sized>(
    data: &T,
    routing_key: &str,
    options: PublishOptions,
) -> Result<(), Error> {
    let info = crate::transport::TransportContext::current(options.service.as_deref()).ok_or_else(
        || {
            Error::msg(
                "amqp publish needs a running service (none is running, or none by that name)",
            )
        },
    )?;
    let o = &info.options.amqp;
    let body = build_body(
        &info,
        options.envelope.resolve(info.envelope.as_ref()).as_ref(),
        routing_key,
        data,
    )?;
    let prefix = options
        .routing_key_prefix
        .as_deref()
        .unwrap_or(&o.routing_key_prefix);
    let exchange = options.exchange_name.as_deref().unwrap_or(&o.exchange_name);
    let exchange = if exchange.is_empty() {
        "amq.topic"
    } else {
        exchange
    };
    let properties = if options.persistent {
        lapin::BasicProperties::default().with_delivery_mode(2)
    } else {
        lapin::BasicProperties::default()
    };
    // OpenTelemetry: a PRODUCER span, its context in the `headers` property (as upstream)
    #[cfg(feature = "opentelemetry")]
    let (span, properties) = match crate::telemetry::of(&info) {
        Some(t) => {
            let (span, properties) =
                crate::telemetry::amqp_spans::producer(&t, exchange, routing_key, properties);
            (Some(span), properties)
        }
        None => (None, properties),
    };
    let published = publisher_for(&info)
        .publish(
            exchange,
            &naming::wire_routing_key(prefix, routing_key),
            body.as_bytes(),
            properties,
        )
        .await;
    #[cfg(feature = "opentelemetry")]
    if let Some(span) = span {
        span.finish(&published);
    }
    published
}
