//! Consuming: the setup sequence in the start phase, then one long-polling receive loop per
//! handler (after `started_service`), SNS notification unwrapping, at-least-once deletion,
//! recovery from lost queues and connection errors, and a graceful drain.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::Value;
use tokio::sync::watch;

use super::attributes::{self, AttributeValue, MessageAttributes, WireValue};
use super::body::{self, DRAIN_MARKER};
use super::clients::{self, AwsClients};
use super::setup::{self, call, SubscriptionSpec};
use super::{naming, DeadLetter, SnsSqsDelivery, SnsSqsHandlerDef};
use crate::envelope::SharedEnvelope;
use crate::error::Error;
use crate::message::{parse_body_off_worker, FailurePolicy, HandlerChain, Message, Verdict};
use crate::options::AwsSnsSqsOptions;

/// The SNS+SQS transport's tasks in the execution context.
static TASKS: crate::transport::TaskCounter = crate::transport::TaskCounter::new(
    "aws_sns_sqs",
    &[
        ("aws_sdk_sns_version", env!("TOMODACHI_AWS_SDK_SNS_VERSION")),
        ("aws_sdk_sqs_version", env!("TOMODACHI_AWS_SDK_SQS_VERSION")),
    ],
);
use crate::transport::{
    BoxFuture, DeclaredTransport, RunningTransport, StartPhase, Transport, TransportContext,
};

const TARGET: &str = "tomodachi.aws_sns_sqs";

/// Long-poll wait of each `ReceiveMessage` (upstream: 20 s).
const WAIT_TIME_SECONDS: i32 = 20;

/// A handler's subscription with its names worked out for one service instance.
struct Subscription {
    chain: HandlerChain,
    topic: Option<String>,
    queue_name: String,
    fifo: bool,
    filter_policy: Option<Value>,
    visibility_timeout: Option<u32>,
    dead_letter: DeadLetter,
    max_messages: i32,
    envelope: Option<SharedEnvelope>,
    /// `options.envelope.max_inflated_size`.
    inflate_limit: usize,
}

impl Subscription {
    fn spec(&self) -> SubscriptionSpec<'_> {
        SubscriptionSpec {
            topic: self.topic.as_deref(),
            queue_name: &self.queue_name,
            fifo: self.fifo,
            filter_policy: self.filter_policy.as_ref(),
            visibility_timeout: self.visibility_timeout,
            dead_letter: &self.dead_letter,
        }
    }
}

/// Everything the receive loops share.
struct Consuming {
    info: TransportContext,
    clients: AwsClients,
    options: AwsSnsSqsOptions,
    policy: FailurePolicy,
    subscriptions: Vec<Subscription>,
    /// OpenTelemetry `CONSUMER` spans, when the service is instrumented.
    #[cfg(feature = "opentelemetry")]
    telemetry: Option<Arc<crate::telemetry::Tracing>>,
}

/// A service's SNS+SQS handlers as a [`Transport`]: declaring runs upstream's setup sequence
/// (topics, queues, policies, subscriptions) with the other transports, so a failure aborts
/// the start; the receive loops start after `started_service`, as upstream.
#[derive(Default)]
pub(crate) struct SnsSqsTransport {
    pub(crate) handlers: Vec<SnsSqsHandlerDef>,
}

impl Transport for SnsSqsTransport {
    fn name(&self) -> &'static str {
        "aws_sns_sqs"
    }

    fn phase(&self) -> StartPhase {
        StartPhase::AfterStarted
    }

    fn describe(&self, ctx: &TransportContext) -> Vec<crate::transport::Description> {
        super::describe::describe(&self.handlers, ctx)
    }

    fn declare(
        self: Box<Self>,
        ctx: TransportContext,
    ) -> BoxFuture<'static, Result<Box<dyn DeclaredTransport>, Error>> {
        Box::pin(async move {
            let consuming = prepare(ctx, self.handlers).await?;
            let mut queues = Vec::with_capacity(consuming.subscriptions.len());
            for sub in &consuming.subscriptions {
                let queue = setup::subscribe(&consuming.clients, &consuming.options, &sub.spec())
                    .await
                    .inspect_err(|_| {
                        clients::forget(&consuming.info.name, &consuming.info.uuid);
                    })?;
                tracing::debug!(target: TARGET, queue_url = %queue.url, handler = &*sub.chain.name,
                    topic = sub.topic.as_deref().unwrap_or(""), "consuming");
                queues.push(queue);
            }
            TASKS.enable();
            Ok(Box::new(Declared {
                consuming: Arc::new(consuming),
                queues,
            }) as Box<dyn DeclaredTransport>)
        })
    }
}

/// Every topic, queue and subscription set up; the receive loops not started yet.
struct Declared {
    consuming: Arc<Consuming>,
    queues: Vec<setup::QueueState>,
}

impl DeclaredTransport for Declared {
    fn start(self: Box<Self>) -> BoxFuture<'static, Result<Box<dyn RunningTransport>, Error>> {
        Box::pin(async move {
            let mut declared = *self;
            let consuming = declared.consuming.clone();
            let queues = std::mem::take(&mut declared.queues);
            let (stop_tx, stop_rx) = watch::channel(false);
            let tracker = tokio_util::task::TaskTracker::new();
            for (index, queue) in queues.into_iter().enumerate() {
                tracker.spawn(receive_loop(
                    consuming.clone(),
                    index,
                    queue,
                    stop_rx.clone(),
                ));
            }
            tracker.close();
            Ok(Box::new(Receiving {
                stop_tx,
                tracker,
                consuming,
            }) as Box<dyn RunningTransport>)
        })
    }
}

impl Drop for Declared {
    fn drop(&mut self) {
        // never started (another transport failed): release the clients; once started, the
        // receive loops hold the other references
        if Arc::strong_count(&self.consuming) == 1 {
            clients::forget(&self.consuming.info.name, &self.consuming.info.uuid);
        }
    }
}

/// Running receive loops; stopping lets every loop finish the batch it is handling.
struct Receiving {
    stop_tx: watch::Sender<bool>,
    tracker: tokio_util::task::TaskTracker,
    consuming: Arc<Consuming>,
}

impl RunningTransport for Receiving {
    fn stop(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            tracing::debug!(target: TARGET, "draining sqs receiver loop");
            let _ = self.stop_tx.send(true);
            if tokio::time::timeout(Duration::from_secs(2), self.tracker.wait())
                .await
                .is_err()
            {
                tracing::warn!(target: TARGET, task_count = self.tracker.len(), "awaiting running tasks");
                self.tracker.wait().await;
            }
            clients::forget(&self.consuming.info.name, &self.consuming.info.uuid);
        })
    }
}

async fn prepare(info: TransportContext, defs: Vec<SnsSqsHandlerDef>) -> Result<Consuming, Error> {
    let policy = info.failure_policy();
    let options = info.options.aws_sns_sqs.clone();
    let mut subscriptions = Vec::with_capacity(defs.len());
    for def in defs {
        let s = def.subscription;
        let name = s
            .name
            .clone()
            .or_else(|| s.topic.clone())
            .or_else(|| s.queue_name.clone())
            .unwrap_or_else(|| "aws_sns_sqs".to_owned());
        if s.topic.is_none() && s.queue_name.is_none() {
            return Err(Error::msg(format!(
                "AWS SNS+SQS handler {name} needs a topic or a queue_name"
            )));
        }
        let envelope = s.envelope.resolve(info.envelope.as_ref());
        crate::message::validate_envelope(envelope.as_ref(), "AWS SNS+SQS", &name)?;
        let queue_name = naming::queue_name(
            s.topic.as_deref(),
            &name,
            &info.uuid,
            s.competing,
            s.queue_name.as_deref(),
            &options.queue_name_prefix,
            s.fifo,
        )
        .map_err(Error::msg)?;
        subscriptions.push(Subscription {
            chain: HandlerChain::new(&info, name, "tomodachi.aws_sns_sqs", def.handler),
            topic: s.topic,
            queue_name,
            fifo: s.fifo,
            filter_policy: s.filter_policy,
            visibility_timeout: s.visibility_timeout,
            dead_letter: s.dead_letter,
            max_messages: if (1..=10).contains(&s.max_number_of_consumed_messages) {
                s.max_number_of_consumed_messages
            } else {
                10
            },
            envelope,
            inflate_limit: info.options.envelope.inflate_limit(),
        });
    }
    let clients = clients::for_service(&info).await?;
    Ok(Consuming {
        #[cfg(feature = "opentelemetry")]
        telemetry: crate::telemetry::of(&info),
        info,
        clients,
        options,
        policy,
        subscriptions,
    })
}

async fn stop_requested(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await.map(|_| ());
}

/// Sleeps, or returns `true` early when a stop is requested.
async fn sleep_or_stop(d: Duration, rx: &watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = stop_requested(rx.clone()) => true,
        _ = tokio::time::sleep(d) => false,
    }
}

/// Receives batches from one queue and handles each batch concurrently, until stopped.
///
/// A stop cancels a long poll in progress (a message it had already received becomes visible
/// again after the visibility timeout) and lets a batch being handled finish.
async fn receive_loop(
    c: Arc<Consuming>,
    index: usize,
    mut queue: setup::QueueState,
    stop: watch::Receiver<bool>,
) {
    let sub = &c.subscriptions[index];
    let mut failing = false;
    let mut backoff = Duration::from_secs(1);
    loop {
        if *stop.borrow() {
            break;
        }
        let queue_url = queue.url.clone();
        let n = if queue_url.ends_with(".fifo") {
            1
        } else {
            sub.max_messages
        };
        let request = c
            .clients
            .sqs
            .receive_message()
            .queue_url(&queue_url)
            .wait_time_seconds(WAIT_TIME_SECONDS)
            .max_number_of_messages(n)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::MessageDeduplicationId)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .message_attribute_names("All")
            .send();
        let received = tokio::select! {
            _ = stop_requested(stop.clone()) => break,
            r = call("ReceiveMessage", request) => r,
        };
        match received {
            Ok(out) => {
                if failing {
                    tracing::info!(target: TARGET, "Reconnected - receiving messages");
                    failing = false;
                    backoff = Duration::from_secs(1);
                }
                let messages = out.messages.unwrap_or_default();
                let settled: Vec<String> = futures_util::future::join_all(
                    messages
                        .into_iter()
                        .map(|m| handle_message(&c, sub, &queue, m)),
                )
                .await
                .into_iter()
                .flatten()
                .collect();
                delete_messages(&c, &queue_url, settled).await;
            }
            Err(e) if e.is_missing_queue() => {
                tracing::warn!(target: TARGET, queue_url = %queue_url,
                    "Unable to receive message from queue [sqs] on AWS ({e}) - setting up the subscription again");
                failing = true;
                setup::clear_caches();
                match setup::subscribe(&c.clients, &c.options, &sub.spec()).await {
                    Ok(again) => queue = again,
                    Err(e) => {
                        tracing::warn!(target: TARGET, error_message = %e, "Unable to set up the subscription again");
                        if sleep_or_stop(backoff, &stop).await {
                            break;
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(20));
                    }
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(target: TARGET, queue_url = %queue_url,
                        "Unable to receive message from queue [sqs] on AWS ({e})");
                    failing = true;
                }
                if sleep_or_stop(Duration::from_secs(1), &stop).await {
                    break;
                }
            }
        }
    }
}

/// The transport values of one received SQS message.
fn message_info(
    queue_url: &str,
    message: &aws_sdk_sqs::types::Message,
    notification: &body::Notification,
    topic_prefix: &str,
) -> SnsSqsDelivery {
    let system = |name: MessageSystemAttributeName| {
        message
            .attributes()
            .and_then(|a| a.get(&name))
            .map(String::to_owned)
    };
    let sns = notification.is_sns_notification();
    let message_attributes = match message.message_attributes() {
        Some(own) => own
            .iter()
            .filter_map(|(name, value)| {
                let wire = match (value.string_value(), value.binary_value()) {
                    (Some(s), _) => WireValue::String(s.to_owned()),
                    (None, Some(b)) => WireValue::Binary(b.as_ref().to_vec()),
                    (None, None) => return None,
                };
                AttributeValue::decode(value.data_type(), wire).map(|v| (name.clone(), v))
            })
            .collect::<MessageAttributes>(),
        None => notification
            .message_attributes
            .as_ref()
            .map(attributes::decode_body_attributes)
            .unwrap_or_default(),
    };
    SnsSqsDelivery {
        topic: match (&notification.topic_arn, sns) {
            (Some(arn), true) => naming::topic_from_arn(arn, topic_prefix),
            _ => String::new(),
        },
        message_type: notification.kind.clone().unwrap_or_default(),
        sns_message_id: if sns {
            notification.message_id.clone().unwrap_or_default()
        } else {
            String::new()
        },
        sqs_message_id: message.message_id().unwrap_or_default().to_owned(),
        message_timestamp: notification.timestamp.clone().unwrap_or_default(),
        message_attributes,
        approximate_receive_count: system(MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|n| n.parse().ok())
            .filter(|n| *n > 0),
        message_deduplication_id: system(MessageSystemAttributeName::MessageDeduplicationId),
        message_group_id: system(MessageSystemAttributeName::MessageGroupId),
        queue_url: queue_url.to_owned(),
        receipt_handle: message.receipt_handle().unwrap_or_default().to_owned(),
        raw_message_body: message.body().unwrap_or_default().to_owned(),
    }
}

/// The first 1000 characters of a body, for logs.
fn excerpt(body: &str) -> &str {
    match body.char_indices().nth(1000) {
        Some((i, _)) => &body[..i],
        None => body,
    }
}

async fn handle_message(
    c: &Consuming,
    sub: &Subscription,
    queue: &setup::QueueState,
    message: aws_sdk_sqs::types::Message,
) -> Option<String> {
    TASKS.started();
    let queue_url = queue.url.as_str();
    let raw = message.body().unwrap_or_default();
    let verdict = match body::unwrap_body(raw) {
        Err(e) => {
            tracing::warn!(target: TARGET, handler = &*sub.chain.name, queue_url = %queue_url,
                sqs_message_id = message.message_id().unwrap_or_default(),
                message_body = excerpt(raw), "unsupported format of message body ({e})");
            unparsable(queue, format!("unsupported format of message body: {e}"))
        }
        Ok(notification) if notification.message.as_deref() == Some(DRAIN_MARKER) => {
            Verdict::Discard("drain marker".into())
        }
        Ok(notification) => match notification.payload() {
            None => {
                tracing::warn!(target: TARGET, handler = &*sub.chain.name, queue_url = %queue_url,
                    sqs_message_id = message.message_id().unwrap_or_default(),
                    message_body = excerpt(raw), "message body has no Message to handle");
                unparsable(queue, "message body has no Message".into())
            }
            Some(payload) => {
                match parse_body_off_worker(sub.envelope.as_ref(), payload, sub.inflate_limit).await
                {
                    Err(e) => unparsable(queue, e.to_string()),
                    Ok(parsed) => {
                        let info = message_info(
                            queue_url,
                            &message,
                            &notification,
                            &c.options.topic_prefix,
                        );
                        process(c, sub, Message::new(parsed, sub.chain.name.clone(), info)).await
                    }
                }
            }
        },
    };
    let settled = settle(c, sub, queue, &message, verdict);
    if let Settled::BackOff(seconds) = settled {
        back_off(c, queue_url, &message, seconds).await;
    }
    TASKS.finished();
    (settled == Settled::Delete).then(|| message.receipt_handle.unwrap_or_default())
}

/// Runs the handler chain, inside its OpenTelemetry span when the service is instrumented.
async fn process(c: &Consuming, sub: &Subscription, message: Message) -> Verdict {
    #[cfg(feature = "opentelemetry")]
    if let Some(t) = &c.telemetry {
        let cx = message.transport::<SnsSqsDelivery>().map(|delivery| {
            crate::telemetry::aws_spans::consumer(
                t,
                delivery,
                &c.options.queue_name_prefix,
                &sub.chain.name,
            )
        });
        if let Some(cx) = cx {
            // boxed: the uninstrumented path's future does not grow
            return Box::pin(crate::telemetry::aws_spans::process(
                cx,
                sub.chain.run(message),
            ))
            .await;
        }
    }
    #[cfg(not(feature = "opentelemetry"))]
    let _ = c;
    sub.chain.run(message).await
}

/// A body that cannot be parsed: left for the dead-letter queue when the queue has one;
/// without one it is deleted, as upstream does (it would come back forever).
fn unparsable(queue: &setup::QueueState, why: String) -> Verdict {
    if queue.redrive {
        Verdict::DeadLetter(why)
    } else {
        Verdict::Discard(format!(
            "{why} (no dead-letter queue: deleted, as upstream)"
        ))
    }
}

/// What becomes of a handled message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    /// Deleted from the queue.
    Delete,
    /// Left for redelivery after the visibility timeout (and the dead-letter queue).
    Keep,
    /// Left for redelivery after this many seconds: a failing message on a queue without a
    /// dead-letter queue is redelivered less and less often instead of forever at the same pace.
    BackOff(u32),
}

/// The longest visibility timeout SQS allows (12 hours).
const MAX_VISIBILITY_TIMEOUT: u32 = 43_200;

/// The visibility timeout after the `receive_count`th failed delivery: the queue's timeout
/// doubled for each delivery after the first, at most 12 hours.
fn back_off_seconds(visibility_timeout: u32, receive_count: u32) -> u32 {
    let doublings = receive_count.saturating_sub(1).min(16);
    visibility_timeout
        .max(1)
        .saturating_mul(1 << doublings)
        .min(MAX_VISIBILITY_TIMEOUT)
}

/// Makes a failed message invisible for `seconds` (`ChangeMessageVisibility`).
async fn back_off(
    c: &Consuming,
    queue_url: &str,
    message: &aws_sdk_sqs::types::Message,
    seconds: u32,
) {
    let Some(receipt_handle) = message.receipt_handle() else {
        return;
    };
    let request = c
        .clients
        .sqs
        .change_message_visibility()
        .queue_url(queue_url)
        .receipt_handle(receipt_handle)
        .visibility_timeout(i32::try_from(seconds).unwrap_or(i32::MAX))
        .send();
    if let Err(e) = call("ChangeMessageVisibility", request).await {
        tracing::warn!(target: TARGET, queue_url = %queue_url, error_message = %e,
            "unable to delay the redelivery of a failed message");
    }
}

/// Whether to delete the message, or leave it for redelivery (and eventually the dead-letter
/// queue).
fn settle(
    c: &Consuming,
    sub: &Subscription,
    queue: &setup::QueueState,
    message: &aws_sdk_sqs::types::Message,
    verdict: Verdict,
) -> Settled {
    let name = &*sub.chain.name;
    let queue_url = queue.url.as_str();
    let sqs_message_id = message.message_id().unwrap_or_default();
    let log_failure = |why: &str| {
        tracing::error!(target: "exception", handler = name, queue_url = %queue_url,
            sqs_message_id = sqs_message_id, "uncaught exception: {why}");
    };
    match verdict {
        Verdict::Ack => Settled::Delete,
        Verdict::Discard(why) => {
            if why != "drain marker" {
                tracing::warn!(target: TARGET, handler = name, queue_url = %queue_url,
                    sqs_message_id = sqs_message_id, reason = %why, "message dropped");
            }
            Settled::Delete
        }
        Verdict::Retry(why) | Verdict::DeadLetter(why) => {
            log_failure(&why);
            if c.policy == FailurePolicy::Drop {
                return Settled::Delete;
            }
            let receive_count = message
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|n| n.parse::<u32>().ok())
                .unwrap_or(1);
            if queue.redrive {
                tracing::info!(target: TARGET, handler = name, queue_url = %queue_url,
                    sqs_message_id = sqs_message_id, receive_count = receive_count,
                    "message left in the queue for redelivery after its visibility timeout");
                Settled::Keep
            } else {
                let seconds = back_off_seconds(queue.visibility_timeout, receive_count);
                tracing::warn!(target: TARGET, handler = name, queue_url = %queue_url,
                    sqs_message_id = sqs_message_id, receive_count = receive_count,
                    next_delivery_in_seconds = seconds,
                    "message failed again and the queue has no dead-letter queue; its redelivery backs off");
                Settled::BackOff(seconds)
            }
        }
    }
}

/// Deletes a batch's handled messages: one `DeleteMessage` for one message, else one
/// `DeleteMessageBatch` (upstream deletes one by one; a batch costs a tenth of the requests).
/// Retried on connection errors and timeouts (up to 4 attempts).
async fn delete_messages(c: &Consuming, queue_url: &str, mut receipt_handles: Vec<String>) {
    receipt_handles.retain(|h| {
        if h.is_empty() {
            tracing::warn!(target: TARGET, queue_url = %queue_url, "no receipt handle: the message cannot be deleted");
        }
        !h.is_empty()
    });
    if receipt_handles.is_empty() {
        return;
    }
    let entries: Vec<aws_sdk_sqs::types::DeleteMessageBatchRequestEntry> = receipt_handles
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(h)
                .build()
                .ok()
        })
        .collect();
    for attempt in 1..=4 {
        let request: crate::transport::BoxFuture<'static, Result<(), DeleteError>> =
            if receipt_handles.len() == 1 {
                let fut = c
                    .clients
                    .sqs
                    .delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(&receipt_handles[0])
                    .send();
                Box::pin(async move { fut.await.map(|_| ()).map_err(DeleteError::from) })
            } else {
                let fut = c
                    .clients
                    .sqs
                    .delete_message_batch()
                    .queue_url(queue_url)
                    .set_entries(Some(entries.clone()))
                    .send();
                Box::pin(async move {
                    let out = fut.await.map_err(DeleteError::from)?;
                    for failed in out.failed() {
                        tracing::warn!(target: TARGET, "Unable to delete message [sqs] on AWS ({}: {})",
                            failed.code(), failed.message().unwrap_or_default());
                    }
                    Ok(())
                })
            };
        match tokio::time::timeout(Duration::from_secs(12), request).await {
            Ok(Ok(())) => return,
            Ok(Err(DeleteError::Service(why))) => {
                tracing::warn!(target: TARGET, "Unable to delete message [sqs] on AWS ({why})");
                return;
            }
            Ok(Err(DeleteError::Transport(why))) if attempt == 4 => {
                tracing::warn!(target: TARGET, "Unable to delete message [sqs] on AWS ({why})");
            }
            Err(_) if attempt == 4 => {
                tracing::warn!(target: TARGET, "Unable to delete message [sqs] on AWS (timed out)");
            }
            _ => tokio::time::sleep(Duration::from_millis(100 * attempt)).await,
        }
    }
}

/// Why a delete failed: the service refused it (not retried) or it did not get through.
enum DeleteError {
    Service(String),
    Transport(String),
}

impl<E, R> From<aws_sdk_sqs::error::SdkError<E, R>> for DeleteError
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    fn from(e: aws_sdk_sqs::error::SdkError<E, R>) -> Self {
        match &e {
            aws_sdk_sqs::error::SdkError::ServiceError(_) => {
                DeleteError::Service(clients::error_text(&e))
            }
            _ => DeleteError::Transport(clients::error_text(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_stop_at_1000_characters() {
        let long = "ä".repeat(1500);
        assert_eq!(excerpt(&long).chars().count(), 1000);
        assert_eq!(excerpt("short"), "short");
    }

    #[test]
    fn failed_deliveries_back_off_up_to_twelve_hours() {
        assert_eq!(back_off_seconds(30, 1), 30);
        assert_eq!(back_off_seconds(30, 2), 60);
        assert_eq!(back_off_seconds(30, 5), 480);
        assert_eq!(back_off_seconds(30, 20), MAX_VISIBILITY_TIMEOUT);
        assert_eq!(back_off_seconds(30, u32::MAX), MAX_VISIBILITY_TIMEOUT);
        // A zero visibility timeout still backs off from a second.
        assert_eq!(back_off_seconds(0, 1), 1);
        assert_eq!(back_off_seconds(0, 4), 8);
    }
}
