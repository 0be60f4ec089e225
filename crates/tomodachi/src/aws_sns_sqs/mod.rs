//! The AWS SNS+SQS transport, wire-compatible with Python tomodachi: the same topic and queue
//! names, queue policies, subscriptions, SNS notification unwrapping, message attributes and
//! envelopes, on the official AWS SDK crates (feature `aws`, on by default).
//!
//! Handlers are registered on a [`ServiceBuilder`] (or with
//! `#[aws_sns_sqs]`):
//!
//! ```no_run
//! use std::sync::Arc;
//! use tomodachi::aws_sns_sqs::SnsSqsSubscription;
//! use tomodachi::envelope::JsonBase;
//! use tomodachi::message::Message;
//!
//! struct Orders;
//!
//! let service = tomodachi::Service::builder("orders", Orders)
//!     .message_envelope(JsonBase)
//!     .aws_sns_sqs(
//!         SnsSqsSubscription::topic("order-created").queue_name("orders-queue"),
//!         |_s: Arc<Orders>, msg: Message| async move {
//!             let order: serde_json::Value = msg.data()?;
//!             tomodachi::aws_sns_sqs::publish(&order, "order-seen").await?;
//!             Ok::<_, tomodachi::Error>(())
//!         },
//!     )
//!     .build();
//! ```
//!
//! **Start-up** follows upstream's sequence for each handler: the queue is looked up or created
//! (FIFO attributes when `fifo`), its dead-letter queue and redrive policy are set up, the topic
//! is created (or, for wildcard topics, matched among the existing ones), the queue policy lets
//! the topic send to the queue, and the queue is subscribed (raw delivery off, so Python and
//! Rust consumers read the same SNS notification bodies), with the filter policy if given.
//! Consuming starts after `started_service`.
//!
//! **Delivery is at-least-once.** A message is deleted only after its handler (and the message
//! middlewares) succeeded. A failed or panicking handler's message is left in the queue: SQS
//! delivers it again after the queue's visibility timeout, and after `max_receive_count`
//! deliveries the redrive policy moves it to the dead-letter queue. On a queue without a redrive
//! policy a failing message is not redelivered forever at that pace: each failed delivery
//! doubles the time before the next one (`ChangeMessageVisibility`, at most 12 hours) and the
//! receive count is logged. Bodies that cannot be decoded are logged and left for the
//! dead-letter queue too, or deleted (as upstream) when the queue has none. A handler returns
//! [`Error::discard`](crate::Error::discard) to delete a message on purpose;
//! [`FailurePolicy::Drop`](crate::message::FailurePolicy::Drop) restores upstream's
//! delete-on-error behaviour.
//!
//! **Queue names and `competing`** follow upstream's code: without `queue_name` and without
//! `competing`, the queue is `sha256(topic + handler + service uuid)`, unique to the instance.

pub mod attributes;
mod body;
mod clients;
mod consumer;
mod describe;
mod naming;
mod policy;
mod publish;
mod setup;

use serde_json::Value;

use crate::error::Error;
use crate::message::{EnvelopeChoice, FromMessage, Message, MessageHandler, MessageHandlerFn};
use crate::ServiceBuilder;

pub use attributes::{AttributeValue, MessageAttributes};
pub use naming::{decode_topic, encode_topic, topic_name};
pub use publish::{
    publish, publish_with, send_message, send_message_with, PublishOptions, SendOptions,
};

/// What the SNS+SQS transport delivers with each message (upstream's transport keywords),
/// reachable from a handler as [`Message::aws_sns_sqs`] or
/// `message.transport::<SnsSqsDelivery>()`.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SnsSqsDelivery {
    /// The topic the message was published to (decoded, without the topic prefix; a FIFO
    /// topic keeps `.fifo`), `""` for messages sent straight to the queue.
    pub topic: String,
    /// `Notification` for SNS deliveries, `Message` for `sqs_send_message`.
    pub message_type: String,
    /// The SNS message id (`""` unless an SNS notification).
    pub sns_message_id: String,
    /// The SQS message id.
    pub sqs_message_id: String,
    /// The notification's timestamp (ISO 8601), `""` if none.
    pub message_timestamp: String,
    /// The message attributes (the SQS message's own, else the notification's).
    pub message_attributes: MessageAttributes,
    /// How often SQS has delivered the message (`None` if unknown).
    pub approximate_receive_count: Option<u32>,
    /// The FIFO deduplication id.
    pub message_deduplication_id: Option<String>,
    /// The FIFO message group id.
    pub message_group_id: Option<String>,
    /// The URL of the queue the message came from.
    pub queue_url: String,
    /// The receipt handle of this delivery.
    pub receipt_handle: String,
    /// The SQS body as received (the SNS notification JSON).
    pub raw_message_body: String,
}

/// The dead-letter setting of a subscription (upstream's `dead_letter_queue_name` and
/// `max_receive_count`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum DeadLetter {
    /// Neither given: the queue's redrive policy is left as it is.
    #[default]
    Untouched,
    /// Explicitly none: the redrive policy is removed.
    Remove,
    /// Move messages to this queue (name or ARN) after this many receives.
    Queue {
        name: String,
        max_receive_count: u32,
    },
}

/// An SNS+SQS subscription: upstream's `@aws_sns_sqs(topic, competing=..., queue_name=...,
/// filter_policy=..., visibility_timeout=..., dead_letter_queue_name=..., max_receive_count=...,
/// fifo=..., max_number_of_consumed_messages=..., message_envelope=...)`.
///
/// ```
/// use tomodachi::aws_sns_sqs::SnsSqsSubscription;
/// let sub = SnsSqsSubscription::topic("example-topic")
///     .queue_name("example-queue")
///     .filter_policy(serde_json::json!({"currency": ["SEK"]}))
///     .visibility_timeout(45)
///     .dead_letter_queue("example-dlq", 3);
/// assert_eq!(sub.topic_name(), Some("example-topic"));
/// ```
#[derive(Clone)]
pub struct SnsSqsSubscription {
    topic: Option<String>,
    queue_name: Option<String>,
    competing: Option<bool>,
    filter_policy: Option<Value>,
    visibility_timeout: Option<u32>,
    dead_letter: DeadLetter,
    fifo: bool,
    max_number_of_consumed_messages: i32,
    envelope: EnvelopeChoice,
    name: Option<String>,
    data_schema: Option<Value>,
    description: Option<String>,
}

impl std::fmt::Debug for SnsSqsSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnsSqsSubscription")
            .field("topic", &self.topic)
            .field("queue_name", &self.queue_name)
            .field("competing", &self.competing)
            .field("fifo", &self.fifo)
            .finish_non_exhaustive()
    }
}

impl SnsSqsSubscription {
    fn empty() -> Self {
        Self {
            topic: None,
            queue_name: None,
            competing: None,
            filter_policy: None,
            visibility_timeout: None,
            dead_letter: DeadLetter::Untouched,
            fifo: false,
            max_number_of_consumed_messages: 10,
            envelope: EnvelopeChoice::ServiceDefault,
            name: None,
            data_schema: None,
            description: None,
        }
    }

    /// Subscribes to an SNS topic (`*` matches one dot-separated level and `#` any run of
    /// levels among the existing topics).
    pub fn topic(topic: impl Into<String>) -> Self {
        Self {
            topic: Some(topic.into()),
            ..Self::empty()
        }
    }

    /// Consumes an SQS queue without a topic (messages sent with [`send_message`]); the name
    /// gets `options.aws_sns_sqs.queue_name_prefix`, an `arn:aws:sqs:` ARN is used as is.
    pub fn queue(queue_name: impl Into<String>) -> Self {
        Self {
            queue_name: Some(queue_name.into()),
            ..Self::empty()
        }
    }

    /// Consumes this queue (prefixed with `options.aws_sns_sqs.queue_name_prefix`, or an ARN);
    /// implies competing.
    pub fn queue_name(mut self, queue: impl Into<String>) -> Self {
        self.queue_name = Some(queue.into());
        self
    }

    /// Whether instances of the service share one queue (see the module docs for the default).
    pub fn competing(mut self, competing: bool) -> Self {
        self.competing = Some(competing);
        self
    }

    /// The subscription's SNS filter policy (a JSON object).
    pub fn filter_policy(mut self, policy: Value) -> Self {
        self.filter_policy = Some(policy);
        self
    }

    /// The queue's visibility timeout in seconds (1..=43200; applied when it differs).
    pub fn visibility_timeout(mut self, seconds: u32) -> Self {
        self.visibility_timeout = Some(seconds);
        self
    }

    /// Moves messages to the dead-letter queue `queue` (a name, prefixed and created as
    /// needed, or an ARN) after `max_receive_count` deliveries.
    pub fn dead_letter_queue(mut self, queue: impl Into<String>, max_receive_count: u32) -> Self {
        self.dead_letter = DeadLetter::Queue {
            name: queue.into(),
            max_receive_count,
        };
        self
    }

    /// Removes the queue's redrive policy (upstream's `dead_letter_queue_name=None`).
    pub fn no_dead_letter_queue(mut self) -> Self {
        self.dead_letter = DeadLetter::Remove;
        self
    }

    /// A FIFO topic and queue (`.fifo` names; one message at a time per queue).
    pub fn fifo(mut self, fifo: bool) -> Self {
        self.fifo = fifo;
        self
    }

    /// Messages fetched per receive and handled concurrently (1..=10, default 10; values out
    /// of range mean 10, as upstream).
    pub fn max_number_of_consumed_messages(mut self, n: i32) -> Self {
        self.max_number_of_consumed_messages = n;
        self
    }

    crate::message::envelope_setters!(
        envelope: "Parses messages with this envelope instead of the service's.",
        raw: "No envelope: the handler gets the notification's `Message` text.",
    );

    crate::message::handler_name_setter!();

    crate::transport::data_schema_setters!(
        "tomodachi::aws_sns_sqs::SnsSqsSubscription::topic(\"order-created\")"
    );

    /// The topic as given.
    pub fn topic_name(&self) -> Option<&str> {
        self.topic.as_deref()
    }
}

/// A registered handler.
pub(crate) struct SnsSqsHandlerDef {
    pub(crate) subscription: SnsSqsSubscription,
    pub(crate) handler: MessageHandler,
}

impl FromMessage for SnsSqsDelivery {
    fn from_message(message: &Message) -> Result<Self, Error> {
        message
            .aws_sns_sqs()
            .cloned()
            .ok_or_else(|| Error::msg("not an SNS+SQS message"))
    }
}

impl FromMessage for MessageAttributes {
    fn from_message(message: &Message) -> Result<Self, Error> {
        message
            .aws_sns_sqs()
            .map(|d| d.message_attributes.clone())
            .ok_or_else(|| Error::msg("not an SNS+SQS message"))
    }
}

impl Message {
    /// The SNS+SQS values, for messages from an SQS queue.
    pub fn aws_sns_sqs(&self) -> Option<&SnsSqsDelivery> {
        self.transport::<SnsSqsDelivery>()
    }
}

impl<S: Send + Sync + 'static> ServiceBuilder<S> {
    /// Registers an AWS SNS+SQS message handler (upstream `@aws_sns_sqs`). The handler
    /// returns `()` or `Result<(), E>`; the message is deleted only after it succeeded.
    ///
    /// The handler takes the service and any [`FromMessage`](crate::message::FromMessage)
    /// arguments: [`Message`], `Data<T>`, [`SnsSqsDelivery`], [`MessageAttributes`],
    /// `Extension<T>`, ...
    pub fn aws_sns_sqs<H, Args>(mut self, subscription: SnsSqsSubscription, handler: H) -> Self
    where
        H: MessageHandlerFn<S, Args>,
    {
        let handler = MessageHandler::new(self.state.clone(), handler);
        self.transport_mut::<consumer::SnsSqsTransport>()
            .handlers
            .push(SnsSqsHandlerDef {
                subscription,
                handler,
            });
        self
    }
}
