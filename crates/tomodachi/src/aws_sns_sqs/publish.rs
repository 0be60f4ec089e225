//! Publishing to SNS topics (upstream `aws_sns_sqs_publish`) and sending straight to SQS
//! queues (upstream `sqs_send_message`), in the service's envelope, with message attributes.

use aws_sdk_sns::primitives::Blob;

use super::attributes::{AttributeValue, MessageAttributes, WireValue};
use super::clients::{self, AwsClients};
use super::naming::{self, QueueRef};
use super::{body, setup};
use crate::error::Error;
use crate::message::{build_body, EnvelopeChoice};
use crate::transport::TransportContext;

const TARGET: &str = "tomodachi.aws_sns_sqs";

/// `message_attribute(..)` and `message_attributes(..)` for the options with a
/// `message_attributes: MessageAttributes` field.
macro_rules! message_attribute_setters {
    () => {
        /// Adds a message attribute (subscriptions' filter policies match on these).
        pub fn message_attribute(
            mut self,
            name: impl Into<String>,
            value: impl Into<AttributeValue>,
        ) -> Self {
            self.message_attributes.insert(name.into(), value.into());
            self
        }

        /// Sets all message attributes.
        pub fn message_attributes(mut self, attributes: MessageAttributes) -> Self {
            self.message_attributes = attributes;
            self
        }
    };
}

/// Overrides for one SNS publish: upstream's `topic_prefix`, `message_envelope`,
/// `message_attributes`, `topic_attributes`, `overwrite_topic_attributes`, `group_id` and
/// `deduplication_id` arguments, and which service publishes.
///
/// ```
/// use tomodachi::aws_sns_sqs::PublishOptions;
/// let options = PublishOptions::new()
///     .message_attribute("currency", "SEK")
///     .message_attribute("amount", 1338)
///     .group_id("orders");
/// ```
#[derive(Clone, Default)]
pub struct PublishOptions {
    topic_prefix: Option<String>,
    envelope: EnvelopeChoice,
    message_attributes: MessageAttributes,
    topic_attributes: Vec<(String, String)>,
    overwrite_topic_attributes: bool,
    group_id: Option<String>,
    deduplication_id: Option<String>,
    service: Option<String>,
}

impl std::fmt::Debug for PublishOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishOptions")
            .field("topic_prefix", &self.topic_prefix)
            .field("message_attributes", &self.message_attributes)
            .field("group_id", &self.group_id)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl PublishOptions {
    /// Defaults: the service's topic prefix and envelope, no attributes.
    pub fn new() -> Self {
        Self::default()
    }
    /// Uses this topic prefix instead of `options.aws_sns_sqs.topic_prefix` (`""` = none).
    pub fn topic_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.topic_prefix = Some(prefix.into());
        self
    }
    crate::message::envelope_setters!(
        envelope: "Builds the message with this envelope.",
        raw: "Sends the payload without an envelope (it must serialize to a string).",
    );
    message_attribute_setters!();
    crate::message::service_setter!();
    /// An SNS topic attribute to create the topic with, if publishing creates it.
    pub fn topic_attribute(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.topic_attributes.push((name.into(), value.into()));
        self
    }
    /// Updates differing attributes of an existing topic (default: leave them, with a warning).
    pub fn overwrite_topic_attributes(mut self, overwrite: bool) -> Self {
        self.overwrite_topic_attributes = overwrite;
        self
    }
    /// Publishes to the FIFO topic (`<topic>.fifo`) in this message group.
    pub fn group_id(mut self, group_id: impl Into<String>) -> Self {
        self.group_id = Some(group_id.into());
        self
    }
    /// The FIFO deduplication id (default: a new uuid4 per message).
    pub fn deduplication_id(mut self, deduplication_id: impl Into<String>) -> Self {
        self.deduplication_id = Some(deduplication_id.into());
        self
    }
}

/// Overrides for one `sqs_send_message`: upstream's `queue_name_prefix`, `message_envelope`,
/// `message_attributes`, `group_id`, `deduplication_id`, `delay_seconds` and
/// `message_body_formatter=None` (here [`SendOptions::raw_body`]).
///
/// ```
/// use tomodachi::aws_sns_sqs::SendOptions;
/// let options = SendOptions::new().delay_seconds(5).message_attribute("kind", "retry");
/// ```
#[derive(Clone, Default)]
pub struct SendOptions {
    queue_name_prefix: Option<String>,
    envelope: EnvelopeChoice,
    message_attributes: MessageAttributes,
    group_id: Option<String>,
    deduplication_id: Option<String>,
    delay_seconds: Option<i32>,
    raw_body: bool,
    service: Option<String>,
}

impl std::fmt::Debug for SendOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendOptions")
            .field("queue_name_prefix", &self.queue_name_prefix)
            .field("message_attributes", &self.message_attributes)
            .field("group_id", &self.group_id)
            .field("delay_seconds", &self.delay_seconds)
            .field("raw_body", &self.raw_body)
            .finish_non_exhaustive()
    }
}

impl SendOptions {
    /// Defaults: the service's queue prefix and envelope, the tomodachi body wrapper.
    pub fn new() -> Self {
        Self::default()
    }
    /// Uses this queue name prefix instead of `options.aws_sns_sqs.queue_name_prefix`.
    pub fn queue_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.queue_name_prefix = Some(prefix.into());
        self
    }
    crate::message::envelope_setters!(
        envelope: "Builds the message with this envelope.",
        raw: "No envelope inside the tomodachi body wrapper (the payload must be a string).",
    );
    message_attribute_setters!();
    crate::message::service_setter!();
    /// Sends the data itself as the SQS body: no envelope and no tomodachi wrapper (upstream's
    /// `message_body_formatter=None`). tomodachi consumers do not handle such bodies.
    pub fn raw_body(mut self) -> Self {
        self.raw_body = true;
        self
    }
    /// The FIFO message group (required for `.fifo` queues).
    pub fn group_id(mut self, group_id: impl Into<String>) -> Self {
        self.group_id = Some(group_id.into());
        self
    }
    /// The FIFO deduplication id (default: a new uuid4 per message).
    pub fn deduplication_id(mut self, deduplication_id: impl Into<String>) -> Self {
        self.deduplication_id = Some(deduplication_id.into());
        self
    }
    /// Delays the delivery by this many seconds (0..=900).
    pub fn delay_seconds(mut self, seconds: i32) -> Self {
        self.delay_seconds = Some(seconds);
        self
    }
}

async fn service_clients(
    service: Option<&str>,
    what: &str,
) -> Result<(TransportContext, AwsClients), Error> {
    let info = crate::transport::TransportContext::current(service).ok_or_else(|| {
        Error::msg(format!(
            "{what} needs a running service (none is running, or none by that name)"
        ))
    })?;
    let clients = clients::for_service(&info).await?;
    Ok((info, clients))
}

/// Publishes `data` to the SNS topic `topic` from the running service, in its envelope, and
/// returns the SNS message id: upstream `tomodachi.aws_sns_sqs_publish(service, data, topic)`.
///
/// The topic is looked up (created if it does not exist). `data` is anything serialisable, or a
/// `Proto(message)` for a `ProtobufBase` envelope (feature `protobuf`).
///
/// ```no_run
/// # async fn demo() -> tomodachi::Result<()> {
/// let id = tomodachi::aws_sns_sqs::publish(&serde_json::json!({"id": 1}), "order-created").await?;
/// # Ok(()) }
/// ```
pub async fn publish<T: crate::envelope::ToPayload + ?Sized>(
    data: &T,
    topic: &str,
) -> Result<String, Error> {
    publish_with(data, topic, PublishOptions::default()).await
}

fn sns_attributes(
    attributes: &MessageAttributes,
) -> Result<std::collections::HashMap<String, aws_sdk_sns::types::MessageAttributeValue>, Error> {
    attributes
        .iter()
        .map(|(name, value)| {
            let builder =
                aws_sdk_sns::types::MessageAttributeValue::builder().data_type(value.data_type());
            let builder = match value.wire_value() {
                WireValue::String(s) => builder.string_value(s),
                WireValue::Binary(b) => builder.binary_value(Blob::new(b)),
            };
            Ok((name.clone(), builder.build().map_err(Error::new)?))
        })
        .collect()
}

fn sqs_attributes(
    attributes: &MessageAttributes,
) -> Result<std::collections::HashMap<String, aws_sdk_sqs::types::MessageAttributeValue>, Error> {
    attributes
        .iter()
        .map(|(name, value)| {
            let builder =
                aws_sdk_sqs::types::MessageAttributeValue::builder().data_type(value.data_type());
            let builder = match value.wire_value() {
                WireValue::String(s) => builder.string_value(s),
                WireValue::Binary(b) => builder.binary_value(aws_sdk_sqs::primitives::Blob::new(b)),
            };
            Ok((name.clone(), builder.build().map_err(Error::new)?))
        })
        .collect()
}

/// [`publish`] with overrides.
pub async fn publish_with<T: crate::envelope::ToPayload + ?Sized>(
    data: &T,
    topic: &str,
    options: PublishOptions,
) -> Result<String, Error> {
    let (info, clients) =
        service_clients(options.service.as_deref(), "aws_sns_sqs publish").await?;
    let o = &info.options.aws_sns_sqs;
    let message = build_body(
        &info,
        options.envelope.resolve(info.envelope.as_ref()).as_ref(),
        topic,
        data,
    )?;
    let fifo = options.group_id.is_some();
    let prefix = options.topic_prefix.as_deref();
    let resolve_topic = || async {
        match setup::find_topic(&clients, o, topic, fifo, prefix).await? {
            Some(arn) => Ok::<_, Error>(arn),
            None => {
                setup::create_topic(
                    &clients,
                    o,
                    topic,
                    fifo,
                    &options.topic_attributes,
                    options.overwrite_topic_attributes,
                    prefix,
                )
                .await
            }
        }
    };
    let mut topic_arn = resolve_topic().await?;
    // OpenTelemetry: a PRODUCER span, its context in the message attributes (as upstream)
    #[cfg(feature = "opentelemetry")]
    let mut message_attributes = options.message_attributes;
    #[cfg(feature = "opentelemetry")]
    let span = crate::telemetry::of(&info).map(|t| {
        let topic = naming::topic_from_arn(&topic_arn, &o.topic_prefix);
        crate::telemetry::aws_spans::producer(
            &t,
            crate::telemetry::aws_spans::Destination::Topic(&topic),
            &mut message_attributes,
        )
    });
    #[cfg(not(feature = "opentelemetry"))]
    let message_attributes = options.message_attributes;
    let deduplication_id = options.group_id.as_ref().map(|_| {
        options
            .deduplication_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
    });
    // Throttled, failed (5xx) and timed-out calls are retried by the SDK's standard retry mode
    // (3 attempts in all, exponential backoff with jitter: upstream's 3 attempts); this loop
    // only looks a topic up again when a cached ARN no longer exists.
    let mut looked_up_again = false;
    let published = async {
        // in the span: a failure is recorded on it
        let attributes = sns_attributes(&message_attributes)?;
        loop {
            let request = clients
                .sns
                .publish()
                .topic_arn(&topic_arn)
                .message(&message)
                .set_message_attributes(Some(attributes.clone()).filter(|a| !a.is_empty()))
                .set_message_group_id(options.group_id.clone())
                .set_message_deduplication_id(deduplication_id.clone())
                .send();
            let error = match setup::call("Publish", request).await {
                Ok(out) => {
                    return out
                        .message_id()
                        .map(str::to_owned)
                        .ok_or_else(|| Error::msg("SNS Publish returned no MessageId"))
                }
                Err(e) => e,
            };
            if error.is_not_found() && !looked_up_again {
                // a cached ARN after an emulator restart, a deleted topic
                looked_up_again = true;
                setup::forget_topic(&topic_arn);
                topic_arn = resolve_topic().await?;
                continue;
            }
            tracing::warn!(target: TARGET, "Unable to publish message [sns] on AWS ({error})");
            return Err(Error::msg(format!(
                "Unable to publish message [sns] on AWS ({error})"
            )));
        }
    }
    .await;
    #[cfg(feature = "opentelemetry")]
    if let Some(span) = span {
        span.finish(&published);
    }
    published
}

/// Sends `data` straight to an SQS queue (a name, prefixed with
/// `options.aws_sns_sqs.queue_name_prefix`, an ARN or a URL), wrapped as upstream does so
/// tomodachi consumers of the queue handle it, and returns the SQS message id: upstream
/// `tomodachi.sqs_send_message(service, data, queue_name)`. Queues are never created here.
///
/// ```no_run
/// # async fn demo() -> tomodachi::Result<()> {
/// tomodachi::aws_sns_sqs::send_message(&serde_json::json!({"id": 1}), "orders-queue").await?;
/// # Ok(()) }
/// ```
pub async fn send_message<T: crate::envelope::ToPayload + ?Sized>(
    data: &T,
    queue: &str,
) -> Result<String, Error> {
    send_message_with(data, queue, SendOptions::default()).await
}

/// [`send_message`] with overrides.
pub async fn send_message_with<T: crate::envelope::ToPayload + ?Sized>(
    data: &T,
    queue: &str,
    options: SendOptions,
) -> Result<String, Error> {
    let fifo_queue = queue.ends_with(".fifo");
    match (fifo_queue, options.group_id.is_some()) {
        (false, true) => {
            return Err(fifo_mismatch(
                "group_id cannot be used with a non-FIFO queue",
            ))
        }
        (true, false) => return Err(fifo_mismatch("a FIFO queue requires a group_id")),
        _ => {}
    }
    let (info, clients) = service_clients(options.service.as_deref(), "sqs_send_message").await?;
    let prefix = options
        .queue_name_prefix
        .as_deref()
        .unwrap_or(&info.options.aws_sns_sqs.queue_name_prefix);
    let reference = naming::queue_ref(queue, prefix).map_err(Error::msg)?;
    let Some(queue_url) = setup::resolve_queue(&clients, &reference).await? else {
        if let QueueRef::Name(name) = &reference {
            let toggled = naming::toggled_fifo_name(name);
            if let Ok(Some(_)) = setup::queue_url(&clients, &toggled, None).await {
                if toggled.ends_with(".fifo") {
                    tracing::warn!(target: TARGET, "A FIFO queue exists with the '.fifo' prefixed queue name - verify configuration");
                } else {
                    tracing::warn!(target: TARGET, "A standard queue exists with the queue name without the '.fifo' suffix - verify configuration");
                }
            }
        }
        let msg = "Cannot send message to non-existent (AWS.SimpleQueueService.NonExistentQueue) SQS queue";
        tracing::warn!(target: TARGET, queue = queue, "{msg}");
        return Err(Error::msg(format!("{msg}: {queue}")));
    };
    let message_body = if options.raw_body {
        build_body(&info, None, "", data)?
    } else {
        let enveloped = build_body(
            &info,
            options.envelope.resolve(info.envelope.as_ref()).as_ref(),
            "",
            data,
        )?;
        body::sqs_message_body(
            &queue_url,
            &enveloped,
            chrono::Utc::now(),
            &options.message_attributes,
        )
    };
    // OpenTelemetry: a PRODUCER span, its context in the message attributes (as upstream: after
    // the body was built, so the body wrapper's attributes are the caller's)
    #[cfg(feature = "opentelemetry")]
    let mut message_attributes = options.message_attributes;
    #[cfg(feature = "opentelemetry")]
    let span = crate::telemetry::of(&info).map(|t| {
        let queue_name = crate::telemetry::aws_spans::queue_name_without_prefix(
            &queue_url,
            &info.options.aws_sns_sqs.queue_name_prefix,
        );
        crate::telemetry::aws_spans::producer(
            &t,
            crate::telemetry::aws_spans::Destination::Queue(queue_name),
            &mut message_attributes,
        )
    });
    #[cfg(not(feature = "opentelemetry"))]
    let message_attributes = options.message_attributes;
    let deduplication_id = options.group_id.as_ref().map(|_| {
        options
            .deduplication_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
    });
    let attributes = match sqs_attributes(&message_attributes) {
        Ok(a) => a,
        Err(e) => {
            #[cfg(feature = "opentelemetry")]
            if let Some(span) = span {
                span.failed(&e);
            }
            return Err(e);
        }
    };
    // retried by the SDK's standard retry mode, as Publish
    let request = clients
        .sqs
        .send_message()
        .queue_url(&queue_url)
        .message_body(&message_body)
        .set_message_attributes(Some(attributes).filter(|a| !a.is_empty()))
        .set_message_group_id(options.group_id.clone())
        .set_message_deduplication_id(deduplication_id)
        .set_delay_seconds(options.delay_seconds)
        .send();
    let sent = match setup::call("SendMessage", request).await {
        Ok(out) => out
            .message_id()
            .map(str::to_owned)
            .ok_or_else(|| Error::msg("SQS SendMessage returned no MessageId")),
        Err(error) => {
            tracing::warn!(target: TARGET, "Unable to send message [sqs] on AWS ({error})");
            Err(Error::msg(format!(
                "Unable to send message [sqs] on AWS ({error})"
            )))
        }
    };
    #[cfg(feature = "opentelemetry")]
    if let Some(span) = span {
        span.finish(&sent);
    }
    sent
}

fn fifo_mismatch(why: &str) -> Error {
    let msg = format!(
        "Bad combination of SQS.SendMessage request parameter - FIFO related arguments ({why})"
    );
    tracing::warn!(target: TARGET, "{msg}");
    Error::msg(msg)
}
