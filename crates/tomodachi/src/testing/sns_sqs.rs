//! An in-memory AWS SNS + SQS, for tests of code that publishes to topics and consumes
//! queues.
//!
//! [`MemorySnsSqs`] is a plain thread-safe data structure (a cheap [`Clone`] handle on shared
//! state) that behaves like SNS and SQS as the AWS documentation describes them and as the
//! `moto` server the project's integration tests use shows them, with the same error codes
//! and texts ([`SnsSqsError`]). Time comes from [`tokio::time::Instant`], so under paused time
//! (`#[tokio::test(start_paused = true)]`) visibility timeouts, delays, long polls and the
//! deduplication window run instantly and deterministically.
//!
//! # Names
//!
//! Everything lives in one account and region, [`ACCOUNT_ID`] in [`REGION`]:
//!
//! * topic ARN `arn:aws:sns:us-east-1:123456789012:<topic>`, subscription ARN
//!   `<topic ARN>:<uuid>`;
//! * queue ARN `arn:aws:sqs:us-east-1:123456789012:<queue>`, queue URL
//!   `https://sqs.us-east-1.amazonaws.com/123456789012/<queue>` (AWS's shape). Any URL whose
//!   path ends in `/123456789012/<queue>` (moto's `http://127.0.0.1:5000/123456789012/<queue>`,
//!   for one) names the same queue.
//!
//! # Emulated
//!
//! * SNS: `CreateTopic` (idempotent; FIFO topics, `ContentBasedDeduplication`), `DeleteTopic`,
//!   `ListTopics`, `Subscribe` (protocol `sqs`; `RawMessageDelivery`, `FilterPolicy` and
//!   `FilterPolicyScope` validated and evaluated with
//!   [`FilterPolicy`]), `SetSubscriptionAttributes`,
//!   `GetSubscriptionAttributes`, `Unsubscribe` and `Publish` (fan-out to every matching
//!   subscription; FIFO group ids, deduplication by id or content within 5 minutes). Non-raw
//!   deliveries are the SNS `Notification` JSON in AWS's text layout and key order
//!   ([`notification_body`]); raw deliveries carry the message as the SQS body and the
//!   message attributes as SQS message attributes.
//! * SQS: `CreateQueue` (idempotent for equal attributes), `GetQueueUrl`,
//!   `GetQueueAttributes`, `SetQueueAttributes`, `SendMessage`, `ReceiveMessage` (long
//!   polling that wakes as soon as a message becomes available), `DeleteMessage`,
//!   `DeleteMessageBatch`, `ChangeMessageVisibility`, `PurgeQueue`, `DeleteQueue`; visibility
//!   timeouts and redelivery with `ApproximateReceiveCount`, redrive to a dead-letter queue,
//!   FIFO ordering per message group with group blocking while a message is in flight,
//!   deduplication (`DeduplicationScope` `queue` or `messageGroup`), delays (per queue and per
//!   message), message retention, `MD5OfBody` and `MD5OfMessageAttributes`.
//! * Introspection for assertions: [`MemorySnsSqs::published`], [`MemorySnsSqs::sent`],
//!   [`MemorySnsSqs::queue_depth`] and [`MemorySnsSqs::wait_until_empty`].
//!
//! # Where AWS and moto differ, this follows AWS
//!
//! * Notification bodies: AWS writes the keys in the documented order with `" : "`
//!   separators and `SignatureVersion` `1`; moto sorts the keys and signs with version `2`.
//! * Deleting with a receipt handle of an earlier receive (the message was received again
//!   since) succeeds without deleting the message, as the `DeleteMessage` documentation
//!   says; moto deletes it.
//! * An unknown receipt handle fails with AWS's text
//!   (`The input receipt handle "…" is not a valid receipt handle.`).
//! * `CreateTopic` for an existing topic with other attributes fails (`Topic already exists
//!   with different attributes`), and so does `Subscribe` for an existing subscription with
//!   other attributes; moto returns the existing one.
//! * A standard queue name with a `.fifo` suffix is rejected; moto creates a standard queue.
//! * A FIFO topic may deliver to standard queues (AWS allows this; FIFO ordering and
//!   deduplication then stop at the topic). A standard topic cannot deliver to a FIFO queue.
//! * FIFO notifications carry `SequenceNumber` after `MessageId` and no signature fields.
//!
//! # Not emulated
//!
//! Other SNS protocols (HTTP, Lambda, e-mail, SMS, mobile), `MessageStructure=json`,
//! `PublishBatch`, `SendMessageBatch`, `ChangeMessageVisibilityBatch`, real signatures
//! (the `Signature` is a stand-in of the right shape), access policies (a queue's `Policy`
//! is stored, never enforced), KMS encryption, tags, permissions, message size limits,
//! several regions or accounts, redrive allow policies and DLQ redrive back to the source,
//! subscription confirmation, the eventual consistency of AWS (attribute changes and
//! deletions take effect at once; a standard queue never delivers a message twice while
//! it is in flight, and returns messages in the order they became visible), and the
//! "recently deleted queue" wait before a name can be reused. `ReceiveMessage` always
//! returns every message attribute and every system attribute.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::filter_policy::{FilterPolicy, FilterPolicyScope, MessageAttribute, MessageAttributes};

/// The region in every ARN and URL.
pub const REGION: &str = "us-east-1";
/// The account id in every ARN and URL (moto's default account).
pub const ACCOUNT_ID: &str = "123456789012";

/// How long SNS FIFO topics and SQS FIFO queues remember a deduplication id.
pub const DEDUPLICATION_WINDOW: Duration = Duration::from_secs(300);

const QUEUE_URL_PREFIX: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/";
const TOPIC_ARN_PREFIX: &str = "arn:aws:sns:us-east-1:123456789012:";
const QUEUE_ARN_PREFIX: &str = "arn:aws:sqs:us-east-1:123456789012:";
const SIGNING_CERT_URL: &str =
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem";
const MAX_VISIBILITY_TIMEOUT: u64 = 43_200;
const MAX_DELAY_SECONDS: u64 = 900;
const MAX_WAIT_TIME_SECONDS: u64 = 20;

/// An SNS or SQS error: AWS's error code and message text.
///
/// ```
/// # use tomodachi::testing::sns_sqs::MemorySnsSqs;
/// let aws = MemorySnsSqs::new();
/// let error = aws.get_queue_url("missing").unwrap_err();
/// assert_eq!(error.code, "AWS.SimpleQueueService.NonExistentQueue");
/// assert_eq!(error.message, "The specified queue does not exist.");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsSqsError {
    /// The AWS error code, e.g. `NotFound`, `InvalidParameter`,
    /// `AWS.SimpleQueueService.NonExistentQueue`, `InvalidParameterValue`.
    pub code: &'static str,
    /// The error message as AWS words it.
    pub message: String,
}

impl SnsSqsError {
    fn new(code: &'static str, message: impl Into<String>) -> SnsSqsError {
        SnsSqsError {
            code,
            message: message.into(),
        }
    }

    fn no_topic() -> SnsSqsError {
        SnsSqsError::new("NotFound", "Topic does not exist")
    }

    fn no_queue() -> SnsSqsError {
        SnsSqsError::new(
            "AWS.SimpleQueueService.NonExistentQueue",
            "The specified queue does not exist.",
        )
    }

    /// SNS's `InvalidParameter`.
    fn sns_invalid(message: impl Into<String>) -> SnsSqsError {
        SnsSqsError::new("InvalidParameter", message)
    }

    /// SQS's `InvalidParameterValue`.
    fn sqs_invalid(message: impl Into<String>) -> SnsSqsError {
        SnsSqsError::new("InvalidParameterValue", message)
    }

    fn missing(parameter: &str) -> SnsSqsError {
        SnsSqsError::new(
            "MissingParameter",
            format!("The request must contain the parameter {parameter}."),
        )
    }

    fn invalid_receipt(handle: &str) -> SnsSqsError {
        SnsSqsError::new(
            "ReceiptHandleIsInvalid",
            format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
        )
    }

    fn attribute_value(name: &str) -> SnsSqsError {
        SnsSqsError::new(
            "InvalidAttributeValue",
            format!("Invalid value for the parameter {name}."),
        )
    }
}

impl fmt::Display for SnsSqsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for SnsSqsError {}

/// The result of every operation.
pub type Result<T> = std::result::Result<T, SnsSqsError>;

/// Topic, subscription or queue attributes by name (values as text, as on the wire).
pub type Attributes = BTreeMap<String, String>;

/// What to publish to a topic (the parameters of SNS `Publish`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Publish {
    /// `Message`: the text to deliver.
    pub message: String,
    /// `Subject` (appears in non-raw notifications).
    pub subject: Option<String>,
    /// `MessageAttributes` (a `Binary` attribute's value is its base64 text).
    pub message_attributes: MessageAttributes,
    /// `MessageGroupId` (required for FIFO topics, rejected for standard ones).
    pub group_id: Option<String>,
    /// `MessageDeduplicationId` (FIFO topics; without it the topic needs
    /// `ContentBasedDeduplication`).
    pub deduplication_id: Option<String>,
}

impl Publish {
    /// A message with no subject, attributes or FIFO parameters.
    pub fn new(message: impl Into<String>) -> Publish {
        Publish {
            message: message.into(),
            ..Publish::default()
        }
    }

    /// Adds a message attribute.
    pub fn attribute(mut self, name: impl Into<String>, value: MessageAttribute) -> Publish {
        self.message_attributes.insert(name.into(), value);
        self
    }

    /// Sets the subject.
    pub fn subject(mut self, subject: impl Into<String>) -> Publish {
        self.subject = Some(subject.into());
        self
    }

    /// Sets the FIFO message group.
    pub fn group_id(mut self, group_id: impl Into<String>) -> Publish {
        self.group_id = Some(group_id.into());
        self
    }

    /// Sets the FIFO deduplication id.
    pub fn deduplication_id(mut self, deduplication_id: impl Into<String>) -> Publish {
        self.deduplication_id = Some(deduplication_id.into());
        self
    }
}

/// What to send to a queue (the parameters of SQS `SendMessage`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendMessage {
    /// `MessageBody`.
    pub body: String,
    /// `MessageAttributes` (a `Binary` attribute's value is its base64 text).
    pub message_attributes: MessageAttributes,
    /// `DelaySeconds` (0..=900; `None`: the queue's `DelaySeconds`). Not for FIFO queues.
    pub delay_seconds: Option<u32>,
    /// `MessageGroupId` (required for FIFO queues).
    pub group_id: Option<String>,
    /// `MessageDeduplicationId` (FIFO queues; without it the queue needs
    /// `ContentBasedDeduplication`).
    pub deduplication_id: Option<String>,
}

impl SendMessage {
    /// A message body with no attributes, delay or FIFO parameters.
    pub fn new(body: impl Into<String>) -> SendMessage {
        SendMessage {
            body: body.into(),
            ..SendMessage::default()
        }
    }

    /// Adds a message attribute.
    pub fn attribute(mut self, name: impl Into<String>, value: MessageAttribute) -> SendMessage {
        self.message_attributes.insert(name.into(), value);
        self
    }

    /// Sets the delivery delay in seconds.
    pub fn delay_seconds(mut self, seconds: u32) -> SendMessage {
        self.delay_seconds = Some(seconds);
        self
    }

    /// Sets the FIFO message group.
    pub fn group_id(mut self, group_id: impl Into<String>) -> SendMessage {
        self.group_id = Some(group_id.into());
        self
    }

    /// Sets the FIFO deduplication id.
    pub fn deduplication_id(mut self, deduplication_id: impl Into<String>) -> SendMessage {
        self.deduplication_id = Some(deduplication_id.into());
        self
    }
}

/// The parameters of SQS `ReceiveMessage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receive {
    /// `MaxNumberOfMessages`: 1..=10.
    pub max_messages: u32,
    /// `WaitTimeSeconds`: how long to wait for a first message (at most 20 s); `None`: the
    /// queue's `ReceiveMessageWaitTimeSeconds`.
    pub wait_time: Option<Duration>,
    /// `VisibilityTimeout` for the received messages; `None`: the queue's.
    pub visibility_timeout: Option<u32>,
}

impl Default for Receive {
    fn default() -> Receive {
        Receive {
            max_messages: 1,
            wait_time: None,
            visibility_timeout: None,
        }
    }
}

impl Receive {
    /// Up to `max_messages` messages, no long poll beyond the queue's default.
    pub fn new(max_messages: u32) -> Receive {
        Receive {
            max_messages,
            ..Receive::default()
        }
    }

    /// Long-polls for up to `wait_time`.
    pub fn wait(mut self, wait_time: Duration) -> Receive {
        self.wait_time = Some(wait_time);
        self
    }

    /// Overrides the queue's visibility timeout for these messages.
    pub fn visibility_timeout(mut self, seconds: u32) -> Receive {
        self.visibility_timeout = Some(seconds);
        self
    }
}

/// A message returned by [`MemorySnsSqs::receive_message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// `MessageId` (the same on every receive of the message).
    pub message_id: String,
    /// `ReceiptHandle`: new on every receive; delete or change visibility with the newest.
    pub receipt_handle: String,
    /// `Body`.
    pub body: String,
    /// `MD5OfBody`: the hex MD5 of the body's UTF-8 bytes.
    pub md5_of_body: String,
    /// `MD5OfMessageAttributes` (AWS's algorithm), `None` without message attributes.
    pub md5_of_message_attributes: Option<String>,
    /// `MessageAttributes` (all of them).
    pub message_attributes: MessageAttributes,
    /// The system `Attributes`: `ApproximateReceiveCount`, `SentTimestamp`,
    /// `ApproximateFirstReceiveTimestamp` (epoch milliseconds), `SenderId`, and for FIFO
    /// queues `MessageGroupId`, `MessageDeduplicationId`, `SequenceNumber`.
    pub attributes: Attributes,
}

impl ReceivedMessage {
    /// `ApproximateReceiveCount` as a number.
    pub fn receive_count(&self) -> u32 {
        self.attributes
            .get("ApproximateReceiveCount")
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }
}

/// One `Publish` call on a topic, as recorded for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedMessage {
    /// The message id `Publish` returned (a duplicate gets its original's id).
    pub message_id: String,
    /// The topic.
    pub topic_arn: String,
    /// `Message`.
    pub message: String,
    /// `Subject`.
    pub subject: Option<String>,
    /// `MessageAttributes`.
    pub message_attributes: MessageAttributes,
    /// `MessageGroupId` (FIFO).
    pub group_id: Option<String>,
    /// The deduplication id used (given, or the content hash) (FIFO).
    pub deduplication_id: Option<String>,
    /// `SequenceNumber` (FIFO).
    pub sequence_number: Option<String>,
    /// The notification `Timestamp` (`2026-12-03T09:30:17.123Z`).
    pub timestamp: String,
    /// Dropped as a duplicate within the deduplication window (not delivered).
    pub duplicate: bool,
    /// The queue ARNs it was delivered to (subscriptions whose filter policy matched).
    pub delivered_to: Vec<String>,
}

/// One message that reached a queue (`SendMessage` or an SNS delivery), as recorded for
/// assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The SQS message id (a duplicate gets its original's id).
    pub message_id: String,
    /// The body.
    pub body: String,
    /// The message attributes.
    pub message_attributes: MessageAttributes,
    /// `MessageGroupId`.
    pub group_id: Option<String>,
    /// The deduplication id used (FIFO).
    pub deduplication_id: Option<String>,
    /// `SentTimestamp` (epoch milliseconds).
    pub sent_timestamp: i64,
    /// The topic it came from (SNS delivery), `None` for `SendMessage`.
    pub topic_arn: Option<String>,
    /// Dropped as a duplicate within the deduplication window.
    pub duplicate: bool,
}

/// How many messages a queue holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Ready to be received (`ApproximateNumberOfMessages`).
    pub visible: usize,
    /// Received and neither deleted nor visible again
    /// (`ApproximateNumberOfMessagesNotVisible`).
    pub in_flight: usize,
    /// Waiting out a delay (`ApproximateNumberOfMessagesDelayed`).
    pub delayed: usize,
}

impl QueueDepth {
    /// All messages in the queue.
    pub fn total(&self) -> usize {
        self.visible + self.in_flight + self.delayed
    }
}

/// The outcome of [`MemorySnsSqs::delete_message_batch`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchResult {
    /// The ids of the entries that succeeded.
    pub successful: Vec<String>,
    /// The entries that failed: `(id, error)`.
    pub failed: Vec<(String, SnsSqsError)>,
}

/// An in-memory SNS + SQS; see the [module documentation](self).
///
/// ```
/// # use tomodachi::testing::sns_sqs::{MemorySnsSqs, Attributes, Publish, Receive};
/// # use tomodachi::testing::filter_policy::MessageAttribute;
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let aws = MemorySnsSqs::new();
/// let topic = aws.create_topic("orders", &Attributes::new())?;
/// let url = aws.create_queue("billing", &Attributes::new())?;
/// let queue_arn = aws.queue_arn(&url)?;
/// let mut attributes = Attributes::new();
/// attributes.insert("RawMessageDelivery".into(), "true".into());
/// attributes.insert("FilterPolicy".into(), r#"{"event": ["created"]}"#.into());
/// aws.subscribe(&topic, "sqs", &queue_arn, &attributes)?;
///
/// aws.publish(&topic, Publish::new("{\"id\": 1}").attribute("event", MessageAttribute::string("created")))?;
/// aws.publish(&topic, Publish::new("{\"id\": 2}").attribute("event", MessageAttribute::string("deleted")))?;
///
/// let messages = aws.receive_message(&url, Receive::new(10)).await?;
/// assert_eq!(messages.len(), 1);
/// assert_eq!(messages[0].body, "{\"id\": 1}");
/// aws.delete_message(&url, &messages[0].receipt_handle)?;
/// aws.wait_until_empty(&url).await?;
/// assert_eq!(aws.published(&topic).len(), 2);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MemorySnsSqs {
    inner: Arc<Inner>,
}

impl fmt::Debug for MemorySnsSqs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("MemorySnsSqs")
            .field("topics", &state.topics.keys().collect::<Vec<_>>())
            .field("queues", &state.queues.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Default for MemorySnsSqs {
    fn default() -> MemorySnsSqs {
        MemorySnsSqs::new()
    }
}

struct Inner {
    state: Mutex<State>,
    /// Woken on every change (a long poll or a [`MemorySnsSqs::wait_until_empty`] then
    /// looks again).
    changed: Notify,
    /// The wall-clock time at `epoch_instant`: timestamps follow tokio's clock from there.
    epoch_wall: chrono::DateTime<chrono::Utc>,
    epoch_instant: Instant,
}

#[derive(Default)]
struct State {
    topics: BTreeMap<String, Topic>,
    /// By subscription ARN, in creation order per topic (the `Vec` in `Topic`).
    subscriptions: HashMap<String, Subscription>,
    queues: BTreeMap<String, Queue>,
    sequence: u64,
}

struct Topic {
    arn: String,
    fifo: bool,
    attributes: Attributes,
    subscriptions: Vec<String>,
    published: Vec<PublishedMessage>,
    deduplication: HashMap<String, (Instant, String)>,
}

struct Subscription {
    arn: String,
    topic_arn: String,
    endpoint: String,
    attributes: Attributes,
    raw: bool,
    filter: Option<FilterPolicy>,
}

struct Queue {
    name: String,
    arn: String,
    fifo: bool,
    attributes: Attributes,
    created: i64,
    last_modified: i64,
    messages: Vec<StoredMessage>,
    sent: Vec<SentMessage>,
    deduplication: HashMap<String, (Instant, String)>,
    /// Every receipt handle ever issued (an old one deletes nothing, an unknown one fails).
    receipts: BTreeSet<String>,
    last_purge: Option<Instant>,
}

#[derive(Clone)]
struct StoredMessage {
    message_id: String,
    body: String,
    message_attributes: MessageAttributes,
    sent_at: Instant,
    sent_timestamp: i64,
    /// Not receivable before (the delay, then the visibility timeout).
    visible_at: Instant,
    receive_count: u32,
    first_receive_timestamp: Option<i64>,
    receipt_handle: Option<String>,
    group_id: Option<String>,
    deduplication_id: Option<String>,
    sequence_number: Option<String>,
}

impl StoredMessage {
    fn in_flight(&self, now: Instant) -> bool {
        self.receive_count > 0 && self.visible_at > now
    }

    fn delayed(&self, now: Instant) -> bool {
        self.receive_count == 0 && self.visible_at > now
    }
}

/// A parsed `RedrivePolicy`.
struct Redrive {
    target_arn: String,
    max_receive_count: u32,
}

impl MemorySnsSqs {
    /// An empty SNS + SQS.
    pub fn new() -> MemorySnsSqs {
        MemorySnsSqs {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                changed: Notify::new(),
                epoch_wall: chrono::Utc::now(),
                epoch_instant: Instant::now(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn changed(&self) {
        self.inner.changed.notify_waiters();
    }

    /// The wall-clock time now, following tokio's clock.
    fn wall(&self, at: Instant) -> chrono::DateTime<chrono::Utc> {
        let elapsed = at.saturating_duration_since(self.inner.epoch_instant);
        self.inner.epoch_wall
            + chrono::Duration::from_std(elapsed).unwrap_or(chrono::Duration::zero())
    }

    fn millis(&self, at: Instant) -> i64 {
        self.wall(at).timestamp_millis()
    }

    // ---------------------------------------------------------------------------------
    // SNS
    // ---------------------------------------------------------------------------------

    /// SNS `CreateTopic`: creates the topic, or returns the ARN of the existing one when the
    /// given attributes equal its attributes (`InvalidParameter` `Invalid parameter:
    /// Attributes Reason: Topic already exists with different attributes` otherwise).
    ///
    /// A FIFO topic needs a name ending in `.fifo` and `FifoTopic=true`;
    /// `ContentBasedDeduplication=true` deduplicates by the SHA-256 of the message. Other
    /// attributes (`DisplayName`, `Policy`, `KmsMasterKeyId`, `SignatureVersion`, ...) are
    /// stored; `SignatureVersion` shows in notifications.
    pub fn create_topic(&self, name: &str, attributes: &Attributes) -> Result<String> {
        let fifo = attributes
            .get("FifoTopic")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let plain = |s: &str| {
            !s.is_empty()
                && s.len() <= 256
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if fifo {
            let valid = name.strip_suffix(".fifo").is_some_and(plain) && name.len() <= 256;
            if !valid {
                return Err(SnsSqsError::sns_invalid("Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long."));
            }
        } else if !plain(name) {
            return Err(SnsSqsError::sns_invalid("Topic names must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long."));
        }
        for (key, value) in attributes {
            if matches!(key.as_str(), "FifoTopic" | "ContentBasedDeduplication") && !is_bool(value)
            {
                return Err(SnsSqsError::sns_invalid(format!(
                    "Invalid parameter: Attributes Reason: {key}: Invalid value [{value}]. Must be true or false."
                )));
            }
        }
        let arn = format!("{TOPIC_ARN_PREFIX}{name}");
        let mut state = self.state();
        if let Some(topic) = state.topics.get(&arn) {
            let same = attributes
                .iter()
                .all(|(k, v)| topic_attribute(topic, k).is_some_and(|now| same_value(&now, v)));
            if !same {
                return Err(SnsSqsError::sns_invalid(
                    "Invalid parameter: Attributes Reason: Topic already exists with different attributes",
                ));
            }
            return Ok(arn);
        }
        let mut stored = attributes.clone();
        if fifo {
            stored.insert("FifoTopic".into(), "true".into());
            stored
                .entry("ContentBasedDeduplication".into())
                .or_insert_with(|| "false".into());
        }
        state.topics.insert(
            arn.clone(),
            Topic {
                arn: arn.clone(),
                fifo,
                attributes: stored,
                subscriptions: Vec::new(),
                published: Vec::new(),
                deduplication: HashMap::new(),
            },
        );
        Ok(arn)
    }

    /// SNS `ListTopics`: every topic ARN, sorted.
    pub fn list_topics(&self) -> Vec<String> {
        self.state().topics.keys().cloned().collect()
    }

    /// SNS `GetTopicAttributes`: the stored attributes plus `TopicArn`, `Owner`,
    /// `SubscriptionsConfirmed` and `SubscriptionsPending`.
    pub fn get_topic_attributes(&self, topic_arn: &str) -> Result<Attributes> {
        let state = self.state();
        let topic = state
            .topics
            .get(topic_arn)
            .ok_or_else(SnsSqsError::no_topic)?;
        let mut out = topic.attributes.clone();
        out.insert("TopicArn".into(), topic.arn.clone());
        out.insert("Owner".into(), ACCOUNT_ID.into());
        out.insert(
            "SubscriptionsConfirmed".into(),
            topic.subscriptions.len().to_string(),
        );
        out.insert("SubscriptionsPending".into(), "0".into());
        Ok(out)
    }

    /// SNS `SetTopicAttributes`. `FifoTopic` cannot be changed.
    pub fn set_topic_attributes(&self, topic_arn: &str, name: &str, value: &str) -> Result<()> {
        let mut state = self.state();
        let topic = state
            .topics
            .get_mut(topic_arn)
            .ok_or_else(SnsSqsError::no_topic)?;
        if name == "FifoTopic" {
            return Err(SnsSqsError::sns_invalid("Invalid parameter: AttributeName"));
        }
        if name == "ContentBasedDeduplication" && !is_bool(value) {
            return Err(SnsSqsError::sns_invalid(format!(
                "Invalid parameter: Attributes Reason: {name}: Invalid value [{value}]. Must be true or false."
            )));
        }
        topic.attributes.insert(name.to_owned(), value.to_owned());
        Ok(())
    }

    /// SNS `DeleteTopic`: the topic and its subscriptions. Deleting a missing topic
    /// succeeds, as in AWS.
    pub fn delete_topic(&self, topic_arn: &str) -> Result<()> {
        let mut state = self.state();
        if let Some(topic) = state.topics.remove(topic_arn) {
            for arn in topic.subscriptions {
                state.subscriptions.remove(&arn);
            }
        }
        Ok(())
    }

    /// SNS `Subscribe` with protocol `sqs` and a queue ARN as endpoint; returns the
    /// subscription ARN (the existing one when the same topic, protocol and endpoint are
    /// subscribed with the same attributes).
    ///
    /// Attributes: `RawMessageDelivery` (`true`/`false`), `FilterPolicy` (JSON, validated
    /// with [`FilterPolicy::parse`]; its error text is the `InvalidParameter` message),
    /// `FilterPolicyScope` (`MessageAttributes`, the default, or `MessageBody`), and the
    /// stored-only `DeliveryPolicy`, `RedrivePolicy`, `SubscriptionRoleArn`. A subscribed
    /// queue that does not exist (yet) is fine; deliveries to it are lost.
    pub fn subscribe(
        &self,
        topic_arn: &str,
        protocol: &str,
        endpoint: &str,
        attributes: &Attributes,
    ) -> Result<String> {
        let mut state = self.state();
        let topic = state
            .topics
            .get(topic_arn)
            .ok_or_else(SnsSqsError::no_topic)?;
        if protocol != "sqs" {
            return Err(SnsSqsError::sns_invalid(format!(
                "Invalid parameter: Protocol Reason: only the sqs protocol is emulated, not {protocol}"
            )));
        }
        let Some(queue_name) = endpoint.strip_prefix(QUEUE_ARN_PREFIX) else {
            return Err(SnsSqsError::sns_invalid(
                "Invalid parameter: SQS endpoint ARN",
            ));
        };
        if !topic.fifo && queue_name.ends_with(".fifo") {
            return Err(SnsSqsError::sns_invalid("Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics"));
        }
        let (raw, filter) = subscription_settings(attributes)?;
        let existing = topic
            .subscriptions
            .iter()
            .filter_map(|arn| state.subscriptions.get(arn))
            .find(|s| s.endpoint == endpoint);
        if let Some(existing) = existing {
            let same = existing.attributes.len() == attributes.len()
                && existing
                    .attributes
                    .iter()
                    .all(|(k, v)| attributes.get(k).is_some_and(|w| same_value(v, w)));
            if same {
                return Ok(existing.arn.clone());
            }
            return Err(SnsSqsError::sns_invalid(
                "Invalid parameter: Attributes Reason: Subscription already exists with different attributes",
            ));
        }
        let arn = format!("{topic_arn}:{}", uuid::Uuid::new_v4());
        state.subscriptions.insert(
            arn.clone(),
            Subscription {
                arn: arn.clone(),
                topic_arn: topic_arn.to_owned(),
                endpoint: endpoint.to_owned(),
                attributes: attributes.clone(),
                raw,
                filter,
            },
        );
        if let Some(topic) = state.topics.get_mut(topic_arn) {
            topic.subscriptions.push(arn.clone());
        }
        Ok(arn)
    }

    /// SNS `SetSubscriptionAttributes`: `RawMessageDelivery`, `FilterPolicy` (an empty value
    /// removes it), `FilterPolicyScope` (the policy is validated again for the new scope),
    /// `DeliveryPolicy`, `RedrivePolicy`, `SubscriptionRoleArn`.
    pub fn set_subscription_attributes(
        &self,
        subscription_arn: &str,
        name: &str,
        value: &str,
    ) -> Result<()> {
        let mut state = self.state();
        let subscription = state
            .subscriptions
            .get_mut(subscription_arn)
            .ok_or_else(|| SnsSqsError::new("NotFound", "Subscription does not exist"))?;
        let mut attributes = subscription.attributes.clone();
        if name == "FilterPolicy" && value.is_empty() {
            attributes.remove("FilterPolicy");
        } else {
            attributes.insert(name.to_owned(), value.to_owned());
        }
        let (raw, filter) = subscription_settings(&attributes)?;
        subscription.attributes = attributes;
        subscription.raw = raw;
        subscription.filter = filter;
        Ok(())
    }

    /// SNS `GetSubscriptionAttributes`: the set attributes plus `SubscriptionArn`,
    /// `TopicArn`, `Protocol`, `Endpoint`, `Owner`, `PendingConfirmation`,
    /// `ConfirmationWasAuthenticated`, `RawMessageDelivery` and (with a filter policy)
    /// `FilterPolicyScope`.
    pub fn get_subscription_attributes(&self, subscription_arn: &str) -> Result<Attributes> {
        let state = self.state();
        let s = state
            .subscriptions
            .get(subscription_arn)
            .ok_or_else(|| SnsSqsError::new("NotFound", "Subscription does not exist"))?;
        let mut out = s.attributes.clone();
        out.insert("SubscriptionArn".into(), s.arn.clone());
        out.insert("TopicArn".into(), s.topic_arn.clone());
        out.insert("Protocol".into(), "sqs".into());
        out.insert("Endpoint".into(), s.endpoint.clone());
        out.insert("Owner".into(), ACCOUNT_ID.into());
        out.insert("PendingConfirmation".into(), "false".into());
        out.insert("ConfirmationWasAuthenticated".into(), "true".into());
        out.insert("RawMessageDelivery".into(), s.raw.to_string());
        if let Some(filter) = &s.filter {
            out.insert("FilterPolicyScope".into(), filter.scope().as_str().into());
        } else {
            out.remove("FilterPolicyScope");
        }
        Ok(out)
    }

    /// SNS `Unsubscribe` (a missing subscription succeeds, as in AWS).
    pub fn unsubscribe(&self, subscription_arn: &str) -> Result<()> {
        let mut state = self.state();
        if let Some(s) = state.subscriptions.remove(subscription_arn) {
            if let Some(topic) = state.topics.get_mut(&s.topic_arn) {
                topic.subscriptions.retain(|a| a != subscription_arn);
            }
        }
        Ok(())
    }

    /// The subscription ARNs of a topic, in subscription order.
    pub fn subscriptions(&self, topic_arn: &str) -> Result<Vec<String>> {
        let state = self.state();
        let topic = state
            .topics
            .get(topic_arn)
            .ok_or_else(SnsSqsError::no_topic)?;
        Ok(topic.subscriptions.clone())
    }

    /// SNS `Publish`: delivers the message to every subscription whose filter policy
    /// matches, and returns the message id.
    ///
    /// FIFO topics need a group id and a deduplication id (or `ContentBasedDeduplication`);
    /// a message with the deduplication id of one published in the last 5 minutes is
    /// accepted (its original's id is returned) but not delivered again. FIFO queues get the
    /// group and deduplication ids along.
    pub fn publish(&self, topic_arn: &str, publish: Publish) -> Result<String> {
        let now = Instant::now();
        let timestamp = iso_millis(self.wall(now));
        let sent_timestamp = self.millis(now);
        let mut state = self.state();
        let state = &mut *state;
        let topic = state
            .topics
            .get_mut(topic_arn)
            .ok_or_else(SnsSqsError::no_topic)?;
        if publish.message.is_empty() {
            return Err(SnsSqsError::sns_invalid("Invalid parameter: Empty message"));
        }
        if publish
            .subject
            .as_ref()
            .is_some_and(|s| s.is_empty() || s.chars().count() > 100)
        {
            return Err(SnsSqsError::sns_invalid("Invalid parameter: Subject"));
        }
        validate_attributes(&publish.message_attributes, true)?;
        let mut deduplication_id = None;
        if topic.fifo {
            if publish.group_id.as_deref().is_none_or(str::is_empty) {
                return Err(SnsSqsError::sns_invalid(
                    "Invalid parameter: The MessageGroupId parameter is required for FIFO topics",
                ));
            }
            deduplication_id = match &publish.deduplication_id {
                Some(id) => Some(id.clone()),
                None if attribute_true(&topic.attributes, "ContentBasedDeduplication") => {
                    Some(sha256_hex(publish.message.as_bytes()))
                }
                None => {
                    return Err(SnsSqsError::sns_invalid("Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"));
                }
            };
        } else if publish.deduplication_id.is_some() {
            return Err(SnsSqsError::sns_invalid("Invalid parameter: MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type"));
        } else if publish.group_id.is_some() {
            return Err(SnsSqsError::sns_invalid("Invalid parameter: MessageGroupId Reason: The request includes MessageGroupId parameter that is not valid for this topic type"));
        }

        let mut record = PublishedMessage {
            message_id: uuid::Uuid::new_v4().to_string(),
            topic_arn: topic_arn.to_owned(),
            message: publish.message.clone(),
            subject: publish.subject.clone(),
            message_attributes: publish.message_attributes.clone(),
            group_id: publish.group_id.clone(),
            deduplication_id: deduplication_id.clone(),
            sequence_number: None,
            timestamp: timestamp.clone(),
            duplicate: false,
            delivered_to: Vec::new(),
        };
        if let Some(id) = &deduplication_id {
            topic
                .deduplication
                .retain(|_, (at, _)| now.saturating_duration_since(*at) < DEDUPLICATION_WINDOW);
            if let Some((_, original)) = topic.deduplication.get(id) {
                record.message_id = original.clone();
                record.duplicate = true;
                topic.published.push(record.clone());
                return Ok(record.message_id);
            }
            topic
                .deduplication
                .insert(id.clone(), (now, record.message_id.clone()));
            state.sequence += 1;
            record.sequence_number = Some(sequence_number(state.sequence));
        }
        let signature_version = topic
            .attributes
            .get("SignatureVersion")
            .cloned()
            .unwrap_or_else(|| "1".into());
        let fifo_topic = topic.fifo;
        let subscriptions: Vec<&Subscription> = topic
            .subscriptions
            .iter()
            .filter_map(|arn| state.subscriptions.get(arn))
            .filter(|s| {
                s.filter.as_ref().is_none_or(|f| {
                    f.matches_message(&publish.message_attributes, &publish.message)
                })
            })
            .collect();
        let mut deliveries = Vec::new();
        for s in subscriptions {
            let (body, attributes) = if s.raw {
                (publish.message.clone(), publish.message_attributes.clone())
            } else {
                let notification = Notification {
                    message_id: &record.message_id,
                    sequence_number: record.sequence_number.as_deref(),
                    topic_arn,
                    subject: publish.subject.as_deref(),
                    message: &publish.message,
                    timestamp: &timestamp,
                    signature_version: (!fifo_topic).then_some(signature_version.as_str()),
                    subscription_arn: &s.arn,
                    message_attributes: &publish.message_attributes,
                };
                (notification_body(&notification), MessageAttributes::new())
            };
            deliveries.push((s.endpoint.clone(), body, attributes));
        }
        for (endpoint, body, attributes) in deliveries {
            let Some(name) = endpoint.strip_prefix(QUEUE_ARN_PREFIX) else {
                continue;
            };
            let Some(queue) = state.queues.get_mut(name) else {
                continue;
            };
            let (group_id, deduplication_id) = if queue.fifo {
                (publish.group_id.clone(), deduplication_id.clone())
            } else {
                (None, None)
            };
            let message = SendMessage {
                body,
                message_attributes: attributes,
                delay_seconds: None,
                group_id,
                deduplication_id,
            };
            enqueue(
                queue,
                &mut state.sequence,
                message,
                now,
                sent_timestamp,
                Some(topic_arn),
            );
            record.delivered_to.push(endpoint);
        }
        if let Some(topic) = state.topics.get_mut(topic_arn) {
            topic.published.push(record.clone());
        }
        self.changed();
        Ok(record.message_id)
    }

    /// Everything published to a topic, in order (duplicates included, marked); empty for
    /// an unknown topic.
    pub fn published(&self, topic_arn: &str) -> Vec<PublishedMessage> {
        self.state()
            .topics
            .get(topic_arn)
            .map(|t| t.published.clone())
            .unwrap_or_default()
    }

    // ---------------------------------------------------------------------------------
    // SQS
    // ---------------------------------------------------------------------------------

    /// SQS `CreateQueue`: creates the queue and returns its URL, or returns the URL of the
    /// existing queue when the given attributes equal its attributes (`QueueAlreadyExists`
    /// otherwise).
    ///
    /// Attributes: `VisibilityTimeout` (default 30), `DelaySeconds` (0),
    /// `MessageRetentionPeriod` (345600), `ReceiveMessageWaitTimeSeconds` (0),
    /// `MaximumMessageSize` (262144), `RedrivePolicy` (`{"deadLetterTargetArn": ..,
    /// "maxReceiveCount": ..}`; the dead-letter queue must exist and be of the same type),
    /// `Policy`, `KmsMasterKeyId`, `KmsDataKeyReusePeriodSeconds`, `SqsManagedSseEnabled`,
    /// and for FIFO queues (name ending in `.fifo` and `FifoQueue=true`)
    /// `ContentBasedDeduplication`, `DeduplicationScope` (`queue`/`messageGroup`) and
    /// `FifoThroughputLimit`.
    pub fn create_queue(&self, name: &str, attributes: &Attributes) -> Result<String> {
        let fifo_requested = attributes
            .get("FifoQueue")
            .map(|v| v.eq_ignore_ascii_case("true"));
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        let fifo = fifo_requested == Some(true);
        if fifo {
            if !(name.len() <= 80 && name.strip_suffix(".fifo").is_some_and(plain)) {
                return Err(SnsSqsError::sqs_invalid(
                    "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.",
                ));
            }
        } else if !(name.len() <= 80 && plain(name)) {
            return Err(SnsSqsError::sqs_invalid(
                "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
            ));
        }
        let now = Instant::now();
        let millis = self.millis(now);
        let mut state = self.state();
        if let Some(queue) = state.queues.get(name) {
            for (key, value) in attributes {
                let wanted = normalize_queue_attribute(key, value)?;
                let current = queue.attributes.get(key).cloned().unwrap_or_default();
                if !same_value(&current, &wanted) {
                    return Err(SnsSqsError::new(
                        "QueueAlreadyExists",
                        "The specified queue already exists.",
                    ));
                }
            }
            return Ok(queue_url(name));
        }
        let mut stored: Attributes = [
            ("DelaySeconds", "0"),
            ("MaximumMessageSize", "262144"),
            ("MessageRetentionPeriod", "345600"),
            ("ReceiveMessageWaitTimeSeconds", "0"),
            ("VisibilityTimeout", "30"),
            ("SqsManagedSseEnabled", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        if fifo {
            stored.insert("FifoQueue".into(), "true".into());
            stored.insert("ContentBasedDeduplication".into(), "false".into());
            stored.insert("DeduplicationScope".into(), "queue".into());
            stored.insert("FifoThroughputLimit".into(), "perQueue".into());
        }
        let mut queue = Queue {
            name: name.to_owned(),
            arn: format!("{QUEUE_ARN_PREFIX}{name}"),
            fifo,
            attributes: stored,
            created: millis / 1000,
            last_modified: millis / 1000,
            messages: Vec::new(),
            sent: Vec::new(),
            deduplication: HashMap::new(),
            receipts: BTreeSet::new(),
            last_purge: None,
        };
        apply_queue_attributes(&state, &mut queue, attributes, true)?;
        state.queues.insert(name.to_owned(), queue);
        Ok(queue_url(name))
    }

    /// SQS `GetQueueUrl`.
    pub fn get_queue_url(&self, name: &str) -> Result<String> {
        if self.state().queues.contains_key(name) {
            Ok(queue_url(name))
        } else {
            Err(SnsSqsError::no_queue())
        }
    }

    /// The queue's ARN (`GetQueueAttributes` `QueueArn`).
    pub fn queue_arn(&self, queue_url: &str) -> Result<String> {
        let mut state = self.state();
        Ok(queue_mut(&mut state, queue_url)?.arn.clone())
    }

    /// SQS `ListQueues`: every queue URL, sorted by name.
    pub fn list_queues(&self) -> Vec<String> {
        self.state().queues.keys().map(|n| queue_url(n)).collect()
    }

    /// SQS `GetQueueAttributes` for the named attributes (`All` for every one): the settable
    /// ones plus `QueueArn`, `ApproximateNumberOfMessages`,
    /// `ApproximateNumberOfMessagesNotVisible`, `ApproximateNumberOfMessagesDelayed`,
    /// `CreatedTimestamp` and `LastModifiedTimestamp`. An unknown name fails with
    /// `InvalidAttributeName`.
    pub fn get_queue_attributes(&self, queue_url: &str, names: &[&str]) -> Result<Attributes> {
        let now = Instant::now();
        let mut state = self.state();
        let queue = queue_mut(&mut state, queue_url)?;
        expire(queue, now);
        let depth = depth(queue, now);
        let mut all = queue.attributes.clone();
        all.insert("QueueArn".into(), queue.arn.clone());
        all.insert(
            "ApproximateNumberOfMessages".into(),
            depth.visible.to_string(),
        );
        all.insert(
            "ApproximateNumberOfMessagesNotVisible".into(),
            depth.in_flight.to_string(),
        );
        all.insert(
            "ApproximateNumberOfMessagesDelayed".into(),
            depth.delayed.to_string(),
        );
        all.insert("CreatedTimestamp".into(), queue.created.to_string());
        all.insert(
            "LastModifiedTimestamp".into(),
            queue.last_modified.to_string(),
        );
        if names.contains(&"All") {
            return Ok(all);
        }
        let mut out = Attributes::new();
        for name in names {
            if !QUEUE_ATTRIBUTES.contains(name) && !COMPUTED_QUEUE_ATTRIBUTES.contains(name) {
                return Err(SnsSqsError::new(
                    "InvalidAttributeName",
                    format!("Unknown Attribute {name}."),
                ));
            }
            if let Some(value) = all.get(*name) {
                out.insert((*name).to_owned(), value.clone());
            }
        }
        Ok(out)
    }

    /// SQS `SetQueueAttributes` (`FifoQueue` cannot be changed; an empty `RedrivePolicy`
    /// or `Policy` removes it).
    pub fn set_queue_attributes(&self, queue_url: &str, attributes: &Attributes) -> Result<()> {
        let millis = self.millis(Instant::now());
        let mut state = self.state();
        let name = queue_mut(&mut state, queue_url)?.name.clone();
        let Some(mut queue) = state.queues.remove(&name) else {
            return Err(SnsSqsError::no_queue());
        };
        let result = apply_queue_attributes(&state, &mut queue, attributes, false);
        if result.is_ok() {
            queue.last_modified = millis / 1000;
        }
        state.queues.insert(name, queue);
        drop(state);
        self.changed();
        result
    }

    /// SQS `SendMessage`: returns the message id.
    ///
    /// FIFO queues need a group id and a deduplication id (or `ContentBasedDeduplication`)
    /// and take no per-message delay; a message whose deduplication id was sent in the last
    /// 5 minutes is accepted (the original's id is returned) and dropped.
    pub fn send_message(&self, queue_url: &str, message: SendMessage) -> Result<String> {
        let now = Instant::now();
        let millis = self.millis(now);
        let mut state = self.state();
        let state = &mut *state;
        let queue = queue_mut_in(&mut state.queues, queue_url)?;
        if message.body.is_empty() {
            return Err(SnsSqsError::missing("MessageBody"));
        }
        validate_attributes(&message.message_attributes, false)?;
        if let Some(delay) = message.delay_seconds {
            if u64::from(delay) > MAX_DELAY_SECONDS {
                return Err(SnsSqsError::sqs_invalid(format!("Value {delay} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.")));
            }
        }
        if queue.fifo {
            if message.group_id.as_deref().is_none_or(str::is_empty) {
                return Err(SnsSqsError::missing("MessageGroupId"));
            }
            if message.deduplication_id.is_none()
                && !attribute_true(&queue.attributes, "ContentBasedDeduplication")
            {
                return Err(SnsSqsError::sqs_invalid("The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"));
            }
            if let Some(delay) = message.delay_seconds.filter(|d| *d > 0) {
                return Err(SnsSqsError::sqs_invalid(format!("Value {delay} for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.")));
            }
        } else if let Some(id) = &message.deduplication_id {
            return Err(SnsSqsError::sqs_invalid(format!("Value {id} for parameter MessageDeduplicationId is invalid. Reason: The request include parameter that is not valid for this queue type.")));
        }
        let id = enqueue(queue, &mut state.sequence, message, now, millis, None);
        self.changed();
        Ok(id)
    }

    /// SQS `ReceiveMessage`: up to `max_messages` messages, waiting up to `wait_time` for a
    /// first one (returns as soon as one is available, empty when the time is up).
    ///
    /// Each received message is invisible for the visibility timeout (then visible again,
    /// with its `ApproximateReceiveCount` raised on the next receive). A message already
    /// received `maxReceiveCount` times is moved to the queue's dead-letter queue instead.
    /// In FIFO queues messages of a group come in order, and a group with a message in
    /// flight is skipped.
    pub async fn receive_message(
        &self,
        queue_url: &str,
        receive: Receive,
    ) -> Result<Vec<ReceivedMessage>> {
        if !(1..=10).contains(&receive.max_messages) {
            return Err(SnsSqsError::sqs_invalid(format!("Value {} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", receive.max_messages)));
        }
        if let Some(wait) = receive.wait_time {
            if wait > Duration::from_secs(MAX_WAIT_TIME_SECONDS) {
                return Err(SnsSqsError::sqs_invalid(format!("Value {} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", wait.as_secs())));
            }
        }
        if let Some(timeout) = receive.visibility_timeout {
            if u64::from(timeout) > MAX_VISIBILITY_TIMEOUT {
                return Err(SnsSqsError::sqs_invalid(format!("Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.")));
            }
        }
        let wait = match receive.wait_time {
            Some(wait) => wait,
            None => {
                let mut state = self.state();
                let queue = queue_mut(&mut state, queue_url)?;
                Duration::from_secs(attribute_u64(
                    &queue.attributes,
                    "ReceiveMessageWaitTimeSeconds",
                ))
            }
        };
        let deadline = Instant::now() + wait;
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now = Instant::now();
            let (messages, next) = self.try_receive(queue_url, &receive, now)?;
            if !messages.is_empty() || now >= deadline {
                return Ok(messages);
            }
            let wake = next.map_or(deadline, |n| n.min(deadline));
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// One receive attempt: the messages, and when the next message becomes visible.
    fn try_receive(
        &self,
        queue_url: &str,
        receive: &Receive,
        now: Instant,
    ) -> Result<(Vec<ReceivedMessage>, Option<Instant>)> {
        let millis = self.millis(now);
        let mut state = self.state();
        let state = &mut *state;
        let queue = queue_mut_in(&mut state.queues, queue_url)?;
        expire(queue, now);
        let visibility = receive.visibility_timeout.map_or_else(
            || attribute_u64(&queue.attributes, "VisibilityTimeout"),
            u64::from,
        );
        let redrive = redrive_policy(&queue.attributes);
        let dlq_name = redrive
            .as_ref()
            .and_then(|r| r.target_arn.strip_prefix(QUEUE_ARN_PREFIX))
            .map(str::to_owned);
        let max_receive_count = redrive.as_ref().map(|r| r.max_receive_count);
        let source_name = queue.name.clone();
        let dlq_exists = dlq_name
            .as_ref()
            .is_some_and(|n| *n != source_name && state_has_queue(&state.queues, n));
        let queue = queue_mut_in(&mut state.queues, queue_url)?;
        let blocked: BTreeSet<String> = if queue.fifo {
            queue
                .messages
                .iter()
                .filter(|m| m.in_flight(now))
                .filter_map(|m| m.group_id.clone())
                .collect()
        } else {
            BTreeSet::new()
        };
        let mut received = Vec::new();
        let mut to_dlq = Vec::new();
        let mut index = 0;
        while index < queue.messages.len() && received.len() < receive.max_messages as usize {
            let message = &mut queue.messages[index];
            if message.visible_at > now
                || message
                    .group_id
                    .as_ref()
                    .is_some_and(|g| queue.fifo && blocked.contains(g))
            {
                index += 1;
                continue;
            }
            if dlq_exists && max_receive_count.is_some_and(|max| message.receive_count >= max) {
                to_dlq.push(queue.messages.remove(index));
                continue;
            }
            message.receive_count += 1;
            message.first_receive_timestamp.get_or_insert(millis);
            message.visible_at = now + Duration::from_secs(visibility);
            let handle = new_receipt_handle();
            message.receipt_handle = Some(handle.clone());
            queue.receipts.insert(handle.clone());
            received.push(received_message(message, handle));
            index += 1;
        }
        let next = queue
            .messages
            .iter()
            .map(|m| m.visible_at)
            .filter(|at| *at > now)
            .min();
        if !to_dlq.is_empty() {
            if let Some(dlq) = dlq_name.and_then(|n| state.queues.get_mut(&n)) {
                for mut message in to_dlq {
                    message.visible_at = now;
                    message.receipt_handle = None;
                    dlq.messages.push(message);
                }
            }
            self.changed();
        }
        if !received.is_empty() {
            self.changed();
        }
        Ok((received, next))
    }

    /// SQS `DeleteMessage` with the receipt handle of the message's latest receive.
    ///
    /// As AWS: a receipt handle from an earlier receive (the message was received again
    /// since) or of an already deleted message succeeds and deletes nothing; a receipt
    /// handle never issued by the queue fails with `ReceiptHandleIsInvalid`.
    pub fn delete_message(&self, queue_url: &str, receipt_handle: &str) -> Result<()> {
        let mut state = self.state();
        let queue = queue_mut(&mut state, queue_url)?;
        let before = queue.messages.len();
        queue
            .messages
            .retain(|m| m.receipt_handle.as_deref() != Some(receipt_handle));
        if queue.messages.len() == before && !queue.receipts.contains(receipt_handle) {
            return Err(SnsSqsError::invalid_receipt(receipt_handle));
        }
        drop(state);
        self.changed();
        Ok(())
    }

    /// SQS `DeleteMessageBatch`: `(id, receipt handle)` entries, 1 to 10 with distinct ids;
    /// each entry succeeds or fails as [`delete_message`](Self::delete_message).
    pub fn delete_message_batch(
        &self,
        queue_url: &str,
        entries: &[(&str, &str)],
    ) -> Result<BatchResult> {
        self.queue_arn(queue_url)?;
        if entries.is_empty() {
            return Err(SnsSqsError::new(
                "AWS.SimpleQueueService.EmptyBatchRequest",
                "There should be at least one DeleteMessageBatchRequestEntry in the request.",
            ));
        }
        if entries.len() > 10 {
            return Err(SnsSqsError::new(
                "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                format!(
                    "Maximum number of entries per request are 10. You have sent {}.",
                    entries.len()
                ),
            ));
        }
        let mut seen = BTreeSet::new();
        for (id, _) in entries {
            if !seen.insert(*id) {
                return Err(SnsSqsError::new(
                    "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
                    format!("Id {id} repeated."),
                ));
            }
        }
        let mut result = BatchResult::default();
        for (id, handle) in entries {
            match self.delete_message(queue_url, handle) {
                Ok(()) => result.successful.push((*id).to_owned()),
                Err(e) => result.failed.push(((*id).to_owned(), e)),
            }
        }
        Ok(result)
    }

    /// SQS `ChangeMessageVisibility`: the in-flight message received with this receipt
    /// handle becomes visible after `visibility_timeout` seconds from now (0: at once).
    pub fn change_message_visibility(
        &self,
        queue_url: &str,
        receipt_handle: &str,
        visibility_timeout: u32,
    ) -> Result<()> {
        if u64::from(visibility_timeout) > MAX_VISIBILITY_TIMEOUT {
            return Err(SnsSqsError::sqs_invalid(format!("Value {visibility_timeout} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.")));
        }
        let now = Instant::now();
        let mut state = self.state();
        let queue = queue_mut(&mut state, queue_url)?;
        let message = queue
            .messages
            .iter_mut()
            .find(|m| m.receipt_handle.as_deref() == Some(receipt_handle));
        match message {
            Some(m) if m.in_flight(now) => {
                m.visible_at = now + Duration::from_secs(u64::from(visibility_timeout));
            }
            _ if queue.receipts.contains(receipt_handle) => {
                return Err(SnsSqsError::sqs_invalid(format!("Value {receipt_handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.")));
            }
            _ => return Err(SnsSqsError::invalid_receipt(receipt_handle)),
        }
        drop(state);
        self.changed();
        Ok(())
    }

    /// SQS `PurgeQueue`: drops every message (at most once every 60 seconds, as AWS).
    pub fn purge_queue(&self, queue_url: &str) -> Result<()> {
        let now = Instant::now();
        let mut state = self.state();
        let queue = queue_mut(&mut state, queue_url)?;
        if let Some(last) = queue.last_purge {
            if now.saturating_duration_since(last) < Duration::from_secs(60) {
                return Err(SnsSqsError::new(
                    "AWS.SimpleQueueService.PurgeQueueInProgress",
                    format!(
                        "Only one PurgeQueue operation on {} is allowed every 60 seconds.",
                        queue.name
                    ),
                ));
            }
        }
        queue.last_purge = Some(now);
        queue.messages.clear();
        drop(state);
        self.changed();
        Ok(())
    }

    /// SQS `DeleteQueue` (its messages go with it; long polls on it fail).
    pub fn delete_queue(&self, queue_url: &str) -> Result<()> {
        let mut state = self.state();
        let name = queue_mut(&mut state, queue_url)?.name.clone();
        state.queues.remove(&name);
        drop(state);
        self.changed();
        Ok(())
    }

    /// Everything that reached a queue (sent or delivered by SNS), in order, duplicates
    /// included and marked; empty for an unknown queue.
    pub fn sent(&self, queue_url: &str) -> Vec<SentMessage> {
        let mut state = self.state();
        queue_mut(&mut state, queue_url)
            .map(|q| q.sent.clone())
            .unwrap_or_default()
    }

    /// How many messages the queue holds: visible, in flight and delayed.
    pub fn queue_depth(&self, queue_url: &str) -> Result<QueueDepth> {
        let now = Instant::now();
        let mut state = self.state();
        let queue = queue_mut(&mut state, queue_url)?;
        expire(queue, now);
        Ok(depth(queue, now))
    }

    /// Waits until the queue holds no message at all (none visible, in flight or delayed):
    /// every message was deleted, purged, moved to a dead-letter queue or expired. Fails if
    /// the queue does not exist or is deleted meanwhile. Bound it with
    /// [`tokio::time::timeout`] when a message might never be deleted.
    pub async fn wait_until_empty(&self, queue_url: &str) -> Result<()> {
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now = Instant::now();
            let next_expiry = {
                let mut state = self.state();
                let queue = queue_mut(&mut state, queue_url)?;
                expire(queue, now);
                if queue.messages.is_empty() {
                    return Ok(());
                }
                let retention = attribute_u64(&queue.attributes, "MessageRetentionPeriod");
                queue
                    .messages
                    .iter()
                    .map(|m| m.sent_at + Duration::from_secs(retention))
                    .min()
            };
            match next_expiry {
                Some(at) => {
                    tokio::select! {
                        _ = notified => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }
}

/// The settable queue attributes.
const QUEUE_ATTRIBUTES: &[&str] = &[
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "Policy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

/// The read-only queue attributes.
const COMPUTED_QUEUE_ATTRIBUTES: &[&str] = &[
    "QueueArn",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
];

fn is_bool(value: &str) -> bool {
    value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false")
}

fn same_value(a: &str, b: &str) -> bool {
    if is_bool(a) && is_bool(b) {
        return a.eq_ignore_ascii_case(b);
    }
    a == b
}

fn attribute_true(attributes: &Attributes, name: &str) -> bool {
    attributes
        .get(name)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn attribute_u64(attributes: &Attributes, name: &str) -> u64 {
    attributes
        .get(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn topic_attribute(topic: &Topic, name: &str) -> Option<String> {
    match name {
        "FifoTopic" => Some(topic.fifo.to_string()),
        "ContentBasedDeduplication" => Some(
            topic
                .attributes
                .get(name)
                .cloned()
                .unwrap_or_else(|| "false".into()),
        ),
        _ => topic.attributes.get(name).cloned(),
    }
}

fn queue_url(name: &str) -> String {
    format!("{QUEUE_URL_PREFIX}{name}")
}

/// The queue name a URL names: its last path segment, after the account id.
fn queue_name_from_url(url: &str) -> Option<&str> {
    let (rest, name) = url.rsplit_once('/')?;
    let account = rest.rsplit('/').next()?;
    (account == ACCOUNT_ID && !name.is_empty()).then_some(name)
}

fn queue_mut<'a>(state: &'a mut State, url: &str) -> Result<&'a mut Queue> {
    queue_mut_in(&mut state.queues, url)
}

fn queue_mut_in<'a>(queues: &'a mut BTreeMap<String, Queue>, url: &str) -> Result<&'a mut Queue> {
    queue_name_from_url(url)
        .and_then(|name| queues.get_mut(name))
        .ok_or_else(SnsSqsError::no_queue)
}

fn state_has_queue(queues: &BTreeMap<String, Queue>, name: &str) -> bool {
    queues.contains_key(name)
}

/// Parses the subscription attributes: raw delivery and the filter policy.
fn subscription_settings(attributes: &Attributes) -> Result<(bool, Option<FilterPolicy>)> {
    for name in attributes.keys() {
        if !matches!(
            name.as_str(),
            "RawMessageDelivery"
                | "FilterPolicy"
                | "FilterPolicyScope"
                | "DeliveryPolicy"
                | "RedrivePolicy"
                | "SubscriptionRoleArn"
                | "ReplayPolicy"
        ) {
            return Err(SnsSqsError::sns_invalid("Invalid parameter: AttributeName"));
        }
    }
    let raw = match attributes.get("RawMessageDelivery") {
        None => false,
        Some(v) if is_bool(v) => v.eq_ignore_ascii_case("true"),
        Some(v) => {
            return Err(SnsSqsError::sns_invalid(format!(
                "Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value [{v}]. Must be true or false."
            )))
        }
    };
    let scope = match attributes.get("FilterPolicyScope") {
        None => FilterPolicyScope::MessageAttributes,
        Some(name) => FilterPolicyScope::from_name(name).ok_or_else(|| {
            SnsSqsError::sns_invalid(format!(
                "Invalid parameter: FilterPolicyScope: Invalid filter policy scope: {name}"
            ))
        })?,
    };
    let filter = match attributes.get("FilterPolicy") {
        None => None,
        Some(text) if text.is_empty() => None,
        Some(text) => {
            let value: Value = serde_json::from_str(text).map_err(|_| {
                SnsSqsError::sns_invalid("Invalid parameter: FilterPolicy: failed to parse JSON.")
            })?;
            let policy = FilterPolicy::parse(&value, scope)
                .map_err(|e| SnsSqsError::new(e.code(), e.message()))?;
            Some(policy)
        }
    };
    Ok((raw, filter))
}

/// Message attribute types: `String`, `Number`, `Binary` (and `String.Array`), each with an
/// optional custom suffix.
fn validate_attributes(attributes: &MessageAttributes, sns: bool) -> Result<()> {
    for (name, attribute) in attributes {
        let base = attribute.data_type.split('.').next().unwrap_or("");
        if !matches!(base, "String" | "Number" | "Binary") {
            let message = format!("The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.");
            return Err(if sns {
                SnsSqsError::sns_invalid(message)
            } else {
                SnsSqsError::sqs_invalid(message)
            });
        }
        if attribute.value.is_empty() {
            let message = format!("The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{}'.", attribute.data_type);
            return Err(if sns {
                SnsSqsError::sns_invalid(message)
            } else {
                SnsSqsError::sqs_invalid(message)
            });
        }
        if base == "Number" && attribute.value.trim().parse::<f64>().is_err() {
            let message = format!("Could not cast message attribute '{name}' value to number.");
            return Err(if sns {
                SnsSqsError::sns_invalid(message)
            } else {
                SnsSqsError::sqs_invalid(message)
            });
        }
    }
    Ok(())
}

/// The canonical stored text of a queue attribute, validated.
fn normalize_queue_attribute(name: &str, value: &str) -> Result<String> {
    let range = |low: u64, high: u64| -> Result<String> {
        match value.trim().parse::<u64>() {
            Ok(n) if (low..=high).contains(&n) => Ok(n.to_string()),
            _ => Err(SnsSqsError::attribute_value(name)),
        }
    };
    match name {
        "DelaySeconds" => range(0, MAX_DELAY_SECONDS),
        "MaximumMessageSize" => range(1024, 1_048_576),
        "MessageRetentionPeriod" => range(60, 1_209_600),
        "ReceiveMessageWaitTimeSeconds" => range(0, MAX_WAIT_TIME_SECONDS),
        "VisibilityTimeout" => range(0, MAX_VISIBILITY_TIMEOUT),
        "KmsDataKeyReusePeriodSeconds" => range(60, 86_400),
        "FifoQueue" | "ContentBasedDeduplication" | "SqsManagedSseEnabled" => {
            if is_bool(value) {
                Ok(value.to_ascii_lowercase())
            } else {
                Err(SnsSqsError::attribute_value(name))
            }
        }
        "DeduplicationScope" => match value {
            "queue" | "messageGroup" => Ok(value.to_owned()),
            _ => Err(SnsSqsError::attribute_value(name)),
        },
        "FifoThroughputLimit" => match value {
            "perQueue" | "perMessageGroupId" => Ok(value.to_owned()),
            _ => Err(SnsSqsError::attribute_value(name)),
        },
        "RedrivePolicy" => {
            if value.is_empty() {
                return Ok(String::new());
            }
            let invalid = |why: &str| {
                SnsSqsError::sqs_invalid(format!(
                    "Value {value} for parameter RedrivePolicy is invalid. Reason: {why}"
                ))
            };
            let parsed: Value = serde_json::from_str(value)
                .map_err(|_| invalid("Redrive policy is not a valid JSON map."))?;
            let Value::Object(map) = parsed else {
                return Err(invalid("Redrive policy is not a valid JSON map."));
            };
            if map.is_empty() {
                return Ok(String::new());
            }
            let target = map
                .get("deadLetterTargetArn")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("Redrive policy does not contain deadLetterTargetArn."))?;
            let count = match map.get("maxReceiveCount") {
                Some(Value::Number(n)) => n.as_u64(),
                Some(Value::String(s)) => s.trim().parse().ok(),
                _ => None,
            };
            let count = match count {
                Some(c) if (1..=1000).contains(&c) => c,
                Some(c) => {
                    return Err(invalid(&format!("Invalid value for maxReceiveCount: {c}, valid values are from 1 to 1000 both inclusive.")))
                }
                None => {
                    return Err(invalid(
                        "Redrive policy does not contain maxReceiveCount.",
                    ))
                }
            };
            let mut out = serde_json::Map::new();
            out.insert("deadLetterTargetArn".into(), target.into());
            out.insert("maxReceiveCount".into(), count.into());
            Ok(Value::Object(out).to_string())
        }
        "Policy" | "RedriveAllowPolicy" | "KmsMasterKeyId" => Ok(value.to_owned()),
        _ => Err(SnsSqsError::new(
            "InvalidAttributeName",
            format!("Unknown Attribute {name}."),
        )),
    }
}

/// Validates and applies attributes to a queue (`creating`: `FifoQueue` may be given).
fn apply_queue_attributes(
    state: &State,
    queue: &mut Queue,
    attributes: &Attributes,
    creating: bool,
) -> Result<()> {
    let mut updated = queue.attributes.clone();
    for (name, value) in attributes {
        let value = normalize_queue_attribute(name, value)?;
        let fifo_only = matches!(
            name.as_str(),
            "ContentBasedDeduplication" | "DeduplicationScope" | "FifoThroughputLimit"
        );
        if fifo_only && !queue.fifo {
            return Err(SnsSqsError::new(
                "InvalidAttributeName",
                format!("Unknown Attribute {name}."),
            ));
        }
        if name == "FifoQueue" {
            if !creating && value != queue.fifo.to_string() {
                return Err(SnsSqsError::new(
                    "InvalidAttributeName",
                    format!("Unknown Attribute {name}."),
                ));
            }
            if !queue.fifo && value == "false" && creating {
                continue;
            }
        }
        if value.is_empty() && matches!(name.as_str(), "RedrivePolicy" | "Policy") {
            updated.remove(name);
            continue;
        }
        if name == "RedrivePolicy" {
            if let Some(redrive) = redrive_policy_text(&value) {
                let target = redrive
                    .target_arn
                    .strip_prefix(QUEUE_ARN_PREFIX)
                    .and_then(|n| state.queues.get(n));
                let invalid = |why: &str| {
                    SnsSqsError::sqs_invalid(format!(
                        "Value {value} for parameter RedrivePolicy is invalid. Reason: {why}"
                    ))
                };
                match target {
                    None => return Err(invalid("Dead letter target does not exist.")),
                    Some(dlq) if dlq.fifo != queue.fifo => {
                        return Err(invalid(
                            "Dead-letter queue must be same type of queue as the source.",
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
        updated.insert(name.clone(), value);
    }
    queue.attributes = updated;
    Ok(())
}

fn redrive_policy(attributes: &Attributes) -> Option<Redrive> {
    attributes
        .get("RedrivePolicy")
        .and_then(|text| redrive_policy_text(text))
}

fn redrive_policy_text(text: &str) -> Option<Redrive> {
    let value: Value = serde_json::from_str(text).ok()?;
    Some(Redrive {
        target_arn: value.get("deadLetterTargetArn")?.as_str()?.to_owned(),
        max_receive_count: u32::try_from(value.get("maxReceiveCount")?.as_u64()?).ok()?,
    })
}

/// Drops messages older than the queue's retention period.
fn expire(queue: &mut Queue, now: Instant) {
    let retention = Duration::from_secs(attribute_u64(&queue.attributes, "MessageRetentionPeriod"));
    queue
        .messages
        .retain(|m| now.saturating_duration_since(m.sent_at) < retention);
}

fn depth(queue: &Queue, now: Instant) -> QueueDepth {
    let mut depth = QueueDepth::default();
    for m in &queue.messages {
        if m.in_flight(now) {
            depth.in_flight += 1;
        } else if m.delayed(now) {
            depth.delayed += 1;
        } else {
            depth.visible += 1;
        }
    }
    depth
}

/// Adds a (validated) message to a queue, deduplicating in FIFO queues; returns its id.
fn enqueue(
    queue: &mut Queue,
    sequence: &mut u64,
    message: SendMessage,
    now: Instant,
    sent_timestamp: i64,
    topic_arn: Option<&str>,
) -> String {
    let mut record = SentMessage {
        message_id: uuid::Uuid::new_v4().to_string(),
        body: message.body.clone(),
        message_attributes: message.message_attributes.clone(),
        group_id: message.group_id.clone(),
        deduplication_id: None,
        sent_timestamp,
        topic_arn: topic_arn.map(str::to_owned),
        duplicate: false,
    };
    let mut sequence_number = None;
    if queue.fifo {
        let id = message
            .deduplication_id
            .clone()
            .unwrap_or_else(|| sha256_hex(message.body.as_bytes()));
        record.deduplication_id = Some(id.clone());
        let key = match queue
            .attributes
            .get("DeduplicationScope")
            .map(String::as_str)
        {
            Some("messageGroup") => format!(
                "{}\u{0}{id}",
                message.group_id.as_deref().unwrap_or_default()
            ),
            _ => id,
        };
        queue
            .deduplication
            .retain(|_, (at, _)| now.saturating_duration_since(*at) < DEDUPLICATION_WINDOW);
        if let Some((_, original)) = queue.deduplication.get(&key) {
            record.message_id = original.clone();
            record.duplicate = true;
            let id = record.message_id.clone();
            queue.sent.push(record);
            return id;
        }
        queue
            .deduplication
            .insert(key, (now, record.message_id.clone()));
        *sequence += 1;
        sequence_number = Some(self::sequence_number(*sequence));
    }
    let delay = match message.delay_seconds {
        Some(d) => u64::from(d),
        None => attribute_u64(&queue.attributes, "DelaySeconds"),
    };
    queue.messages.push(StoredMessage {
        message_id: record.message_id.clone(),
        body: message.body,
        message_attributes: message.message_attributes,
        sent_at: now,
        sent_timestamp,
        visible_at: now + Duration::from_secs(delay),
        receive_count: 0,
        first_receive_timestamp: None,
        receipt_handle: None,
        group_id: message.group_id,
        deduplication_id: record.deduplication_id.clone(),
        sequence_number,
    });
    let id = record.message_id.clone();
    queue.sent.push(record);
    id
}

fn received_message(message: &StoredMessage, receipt_handle: String) -> ReceivedMessage {
    let mut attributes = Attributes::new();
    attributes.insert(
        "ApproximateReceiveCount".into(),
        message.receive_count.to_string(),
    );
    attributes.insert("SentTimestamp".into(), message.sent_timestamp.to_string());
    attributes.insert(
        "ApproximateFirstReceiveTimestamp".into(),
        message
            .first_receive_timestamp
            .unwrap_or(message.sent_timestamp)
            .to_string(),
    );
    attributes.insert("SenderId".into(), ACCOUNT_ID.into());
    if let Some(group) = &message.group_id {
        attributes.insert("MessageGroupId".into(), group.clone());
    }
    if let Some(id) = &message.deduplication_id {
        attributes.insert("MessageDeduplicationId".into(), id.clone());
    }
    if let Some(n) = &message.sequence_number {
        attributes.insert("SequenceNumber".into(), n.clone());
    }
    ReceivedMessage {
        message_id: message.message_id.clone(),
        receipt_handle,
        md5_of_body: md5_hex(message.body.as_bytes()),
        md5_of_message_attributes: md5_of_message_attributes(&message.message_attributes),
        body: message.body.clone(),
        message_attributes: message.message_attributes.clone(),
        attributes,
    }
}

fn new_receipt_handle() -> String {
    let random = format!("{}{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    base64::engine::general_purpose::STANDARD.encode(random.as_bytes())
}

/// A 20-digit FIFO sequence number, increasing.
fn sequence_number(n: u64) -> String {
    format!(
        "{:020}",
        10_000_000_000_000_000_000u64.saturating_add(n.saturating_mul(1000))
    )
}

/// ISO 8601 UTC with milliseconds and `Z`, as SNS writes `Timestamp`.
fn iso_millis(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The fields of an SNS notification delivered to an SQS queue (raw delivery off).
#[derive(Debug, Clone, Copy)]
pub struct Notification<'a> {
    /// `MessageId`: the id `Publish` returned.
    pub message_id: &'a str,
    /// `SequenceNumber` (FIFO topics).
    pub sequence_number: Option<&'a str>,
    /// `TopicArn`.
    pub topic_arn: &'a str,
    /// `Subject`, written only when given.
    pub subject: Option<&'a str>,
    /// `Message`.
    pub message: &'a str,
    /// `Timestamp` (`2026-12-03T09:30:17.123Z`).
    pub timestamp: &'a str,
    /// `SignatureVersion` (`"1"` unless the topic sets it); `None` leaves out the signature
    /// fields (FIFO topics).
    pub signature_version: Option<&'a str>,
    /// The subscription, for `UnsubscribeURL`.
    pub subscription_arn: &'a str,
    /// `MessageAttributes`, written only when there are some.
    pub message_attributes: &'a MessageAttributes,
}

/// The SQS body of a non-raw SNS delivery, in AWS's layout: one key per line, two spaces of
/// indentation, `" : "` between key and value, keys in the order `Type`, `MessageId`,
/// `SequenceNumber` (FIFO), `TopicArn`, `Subject` (when given), `Message`, `Timestamp`,
/// `SignatureVersion`, `Signature`, `SigningCertURL` (not for FIFO topics),
/// `UnsubscribeURL`, `MessageAttributes` (when given; each entry on one line as
/// `"name" : {"Type":"String","Value":"..."}`).
///
/// The `Signature` is a stand-in (base64 of a SHA-256 of the signed fields), not a verifiable
/// signature.
pub fn notification_body(n: &Notification<'_>) -> String {
    let quote = |s: &str| Value::from(s).to_string();
    let mut lines: Vec<String> = Vec::new();
    let mut field = |key: &str, value: &str| {
        lines.push(format!("  {} : {}", quote(key), quote(value)));
    };
    field("Type", "Notification");
    field("MessageId", n.message_id);
    if let Some(seq) = n.sequence_number {
        field("SequenceNumber", seq);
    }
    field("TopicArn", n.topic_arn);
    if let Some(subject) = n.subject {
        field("Subject", subject);
    }
    field("Message", n.message);
    field("Timestamp", n.timestamp);
    if let Some(version) = n.signature_version {
        let mut signed = format!("Message\n{}\nMessageId\n{}\n", n.message, n.message_id);
        if let Some(subject) = n.subject {
            signed.push_str(&format!("Subject\n{subject}\n"));
        }
        signed.push_str(&format!(
            "Timestamp\n{}\nTopicArn\n{}\nType\nNotification\n",
            n.timestamp, n.topic_arn
        ));
        let signature = base64::engine::general_purpose::STANDARD.encode(sha256(signed.as_bytes()));
        field("SignatureVersion", version);
        field("Signature", &signature);
        field("SigningCertURL", SIGNING_CERT_URL);
    }
    field(
        "UnsubscribeURL",
        &format!(
            "https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={}",
            n.subscription_arn
        ),
    );
    if !n.message_attributes.is_empty() {
        let entries: Vec<String> = n
            .message_attributes
            .iter()
            .map(|(name, a)| {
                format!(
                    "    {} : {{\"Type\":{},\"Value\":{}}}",
                    quote(name),
                    quote(&a.data_type),
                    quote(&a.value)
                )
            })
            .collect();
        lines.push(format!(
            "  \"MessageAttributes\" : {{\n{}\n  }}",
            entries.join(",\n")
        ));
    }
    format!("{{\n{}\n}}", lines.join(",\n"))
}

/// AWS's `MD5OfMessageAttributes`: over the attributes sorted by name, each as length-prefixed
/// name, length-prefixed type, a transport byte (1 string, 2 binary) and the length-prefixed
/// value (binary values decoded from base64).
pub fn md5_of_message_attributes(attributes: &MessageAttributes) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    let mut buffer = Vec::new();
    let push = |bytes: &[u8], buffer: &mut Vec<u8>| {
        buffer.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        buffer.extend_from_slice(bytes);
    };
    for (name, a) in attributes {
        push(name.as_bytes(), &mut buffer);
        push(a.data_type.as_bytes(), &mut buffer);
        if a.data_type.starts_with("Binary") {
            buffer.push(2);
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(a.value.as_bytes())
                .unwrap_or_else(|_| a.value.as_bytes().to_vec());
            push(&bytes, &mut buffer);
        } else {
            buffer.push(1);
            push(a.value.as_bytes(), &mut buffer);
        }
    }
    Some(md5_hex(&buffer))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&sha256(data))
}

/// The hex MD5 digest of `data` (`MD5OfBody`).
pub fn md5_hex(data: &[u8]) -> String {
    hex(&md5(data))
}

/// Pads a message for MD5 / SHA-256: `0x80`, zeros, the bit length (little- or big-endian).
fn pad(data: &[u8], big_endian: bool) -> Vec<u8> {
    let mut message = data.to_vec();
    let bits = (data.len() as u64).wrapping_mul(8);
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    if big_endian {
        message.extend_from_slice(&bits.to_be_bytes());
    } else {
        message.extend_from_slice(&bits.to_le_bytes());
    }
    message
}

fn md5(data: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let k: Vec<u32> = (0..64)
        .map(|i: i32| (f64::from(i + 1).sin().abs() * 4_294_967_296.0) as u32)
        .collect();
    let mut h: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    for chunk in pad(data, false).chunks(64) {
        let m: Vec<u32> = chunk
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let [mut a, mut b, mut c, mut d] = h;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        h[0] = h[0].wrapping_add(a);
        h[1] = h[1].wrapping_add(b);
        h[2] = h[2].wrapping_add(c);
        h[3] = h[3].wrapping_add(d);
    }
    let mut out = [0u8; 16];
    for (i, word) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&word.to_le_bytes());
    }
    out
}

fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    for chunk in pad(data, true).chunks(64) {
        let mut w = [0u32; 64];
        for (i, word) in chunk.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (slot, value) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *slot = slot.wrapping_add(value);
        }
    }
    let mut out = [0u8; 32];
    for (i, word) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> Attributes {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// A queue subscribed to a topic; returns the queue URL.
    fn subscribed(aws: &MemorySnsSqs, topic: &str, queue: &str, sub: &[(&str, &str)]) -> String {
        let fifo = queue.ends_with(".fifo");
        let queue_attributes = if fifo {
            attrs(&[("FifoQueue", "true")])
        } else {
            Attributes::new()
        };
        let url = aws.create_queue(queue, &queue_attributes).unwrap();
        let arn = aws.queue_arn(&url).unwrap();
        aws.subscribe(topic, "sqs", &arn, &attrs(sub)).unwrap();
        url
    }

    async fn receive_all(aws: &MemorySnsSqs, url: &str) -> Vec<ReceivedMessage> {
        aws.receive_message(url, Receive::new(10)).await.unwrap()
    }

    /// The key order of the notification moto 5.2.5 delivered, as printed by
    /// `scripts/kit-tables/moto_notification_sample.py` (moto writes the keys sorted).
    const MOTO_NOTIFICATION_KEYS: &[&str] = &[
        "Message",
        "MessageAttributes",
        "MessageId",
        "Signature",
        "SignatureVersion",
        "SigningCertURL",
        "Subject",
        "Timestamp",
        "TopicArn",
        "Type",
        "UnsubscribeURL",
    ];

    /// The key order AWS documents for a notification delivered to SQS.
    const AWS_NOTIFICATION_KEYS: &[&str] = &[
        "Type",
        "MessageId",
        "TopicArn",
        "Subject",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
        "UnsubscribeURL",
        "MessageAttributes",
    ];

    #[test]
    fn names_and_urls() {
        let aws = MemorySnsSqs::new();
        let topic = aws.create_topic("orders", &Attributes::new()).unwrap();
        assert_eq!(topic, "arn:aws:sns:us-east-1:123456789012:orders");
        let url = aws.create_queue("billing", &Attributes::new()).unwrap();
        assert_eq!(
            url,
            "https://sqs.us-east-1.amazonaws.com/123456789012/billing"
        );
        assert_eq!(
            aws.queue_arn(&url).unwrap(),
            "arn:aws:sqs:us-east-1:123456789012:billing"
        );
        // moto-style URLs name the same queue
        assert_eq!(
            aws.queue_arn("http://127.0.0.1:5000/123456789012/billing")
                .unwrap(),
            "arn:aws:sqs:us-east-1:123456789012:billing"
        );
        assert_eq!(aws.get_queue_url("billing").unwrap(), url);
        assert_eq!(aws.list_queues(), vec![url.clone()]);
        assert_eq!(aws.list_topics(), vec![topic.clone()]);
        let sub = aws
            .subscribe(
                &topic,
                "sqs",
                &aws.queue_arn(&url).unwrap(),
                &Attributes::new(),
            )
            .unwrap();
        assert!(sub.starts_with(&format!("{topic}:")));
        assert_eq!(aws.subscriptions(&topic).unwrap(), vec![sub.clone()]);
        let a = aws.get_subscription_attributes(&sub).unwrap();
        assert_eq!(a["RawMessageDelivery"], "false");
        assert_eq!(a["Endpoint"], "arn:aws:sqs:us-east-1:123456789012:billing");
        assert!(!a.contains_key("FilterPolicyScope"));
        assert!(format!("{aws:?}").contains("billing"));
    }

    #[tokio::test(start_paused = true)]
    async fn fan_out_with_filter_policies() {
        let aws = MemorySnsSqs::new();
        let topic = aws.create_topic("events", &Attributes::new()).unwrap();
        let all = subscribed(&aws, &topic, "all", &[]);
        let created = subscribed(
            &aws,
            &topic,
            "created",
            &[(
                "FilterPolicy",
                r#"{"event": ["created"], "n": [{"numeric": [">", 2]}]}"#,
            )],
        );
        let body = subscribed(
            &aws,
            &topic,
            "body",
            &[
                ("FilterPolicy", r#"{"kind": [{"prefix": "order."}]}"#),
                ("FilterPolicyScope", "MessageBody"),
                ("RawMessageDelivery", "true"),
            ],
        );
        aws.publish(
            &topic,
            Publish::new(r#"{"kind": "order.created"}"#)
                .attribute("event", MessageAttribute::string("created"))
                .attribute("n", MessageAttribute::number("3")),
        )
        .unwrap();
        aws.publish(
            &topic,
            Publish::new(r#"{"kind": "user.created"}"#)
                .attribute("event", MessageAttribute::string("created"))
                .attribute("n", MessageAttribute::number("1")),
        )
        .unwrap();
        aws.publish(&topic, Publish::new("not json")).unwrap();

        assert_eq!(receive_all(&aws, &all).await.len(), 3);
        let got = receive_all(&aws, &created).await;
        assert_eq!(got.len(), 1);
        assert!(got[0].body.contains(r#"order.created"#));
        let got = receive_all(&aws, &body).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].body, r#"{"kind": "order.created"}"#);

        let published = aws.published(&topic);
        assert_eq!(published.len(), 3);
        assert_eq!(
            published[0].delivered_to,
            vec![
                "arn:aws:sqs:us-east-1:123456789012:all",
                "arn:aws:sqs:us-east-1:123456789012:created",
                "arn:aws:sqs:us-east-1:123456789012:body",
            ]
        );
        assert_eq!(
            published[1].delivered_to,
            vec!["arn:aws:sqs:us-east-1:123456789012:all"]
        );
        assert_eq!(published[2].message, "not json");
        assert_eq!(aws.sent(&all).len(), 3);
        assert_eq!(aws.sent(&all)[0].topic_arn.as_deref(), Some(topic.as_str()));

        // changing the policy applies to the next publish
        let sub = aws.subscriptions(&topic).unwrap()[1].clone();
        aws.set_subscription_attributes(&sub, "FilterPolicy", r#"{"event": ["deleted"]}"#)
            .unwrap();
        aws.publish(
            &topic,
            Publish::new("x").attribute("event", MessageAttribute::string("deleted")),
        )
        .unwrap();
        assert_eq!(receive_all(&aws, &created).await.len(), 1);
        assert_eq!(
            aws.get_subscription_attributes(&sub).unwrap()["FilterPolicyScope"],
            "MessageAttributes"
        );
        // removing it delivers everything
        aws.set_subscription_attributes(&sub, "FilterPolicy", "")
            .unwrap();
        aws.publish(&topic, Publish::new("y")).unwrap();
        assert_eq!(receive_all(&aws, &created).await.len(), 1);
        // unsubscribed: nothing more
        aws.unsubscribe(&sub).unwrap();
        aws.publish(&topic, Publish::new("z")).unwrap();
        assert!(receive_all(&aws, &created).await.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn non_raw_notification_shape() {
        let aws = MemorySnsSqs::new();
        let topic = aws.create_topic("shape", &Attributes::new()).unwrap();
        let url = subscribed(&aws, &topic, "plain", &[]);
        let id = aws
            .publish(
                &topic,
                Publish::new("{\"hello\": \"wörld\"}\n")
                    .subject("greeting")
                    .attribute("event", MessageAttribute::string("created"))
                    .attribute("count", MessageAttribute::number("3"))
                    .attribute("blob", MessageAttribute::binary("eHk=")),
            )
            .unwrap();
        let got = receive_all(&aws, &url).await;
        assert_eq!(got.len(), 1);
        let m = &got[0];
        // non-raw: no SQS message attributes, everything in the body
        assert!(m.message_attributes.is_empty());
        assert_eq!(m.md5_of_message_attributes, None);
        assert_eq!(m.md5_of_body, md5_hex(m.body.as_bytes()));

        let value: Value = serde_json::from_str(&m.body).unwrap();
        let object = value.as_object().unwrap();
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        assert_eq!(keys, AWS_NOTIFICATION_KEYS);
        assert_eq!(object["Type"], "Notification");
        assert_eq!(object["MessageId"], id.as_str());
        assert_eq!(object["TopicArn"], topic.as_str());
        assert_eq!(object["Subject"], "greeting");
        assert_eq!(object["Message"], "{\"hello\": \"wörld\"}\n");
        assert_eq!(object["SignatureVersion"], "1");
        assert_eq!(
            object["MessageAttributes"],
            serde_json::json!({
                "blob": {"Type": "Binary", "Value": "eHk="},
                "count": {"Type": "Number", "Value": "3"},
                "event": {"Type": "String", "Value": "created"},
            })
        );
        let sub = aws.subscriptions(&topic).unwrap()[0].clone();
        assert_eq!(
            object["UnsubscribeURL"],
            format!(
                "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={sub}"
            )
        );
        let timestamp = object["Timestamp"].as_str().unwrap();
        assert_eq!(timestamp, aws.published(&topic)[0].timestamp);
        assert!(chrono::DateTime::parse_from_rfc3339(timestamp).is_ok());
        assert_eq!(timestamp.len(), "2026-12-03T09:30:17.123Z".len());
        // AWS's text layout
        assert!(m
            .body
            .starts_with("{\n  \"Type\" : \"Notification\",\n  \"MessageId\" : \""));
        assert!(m.body.contains(
            "  \"MessageAttributes\" : {\n    \"blob\" : {\"Type\":\"Binary\",\"Value\":\"eHk=\"},\n"
        ));
        assert!(m.body.ends_with("\"Value\":\"created\"}\n  }\n}"));
        assert!(m
            .body
            .contains(r#""Message" : "{\"hello\": \"wörld\"}\n","#));

        // no subject and no attributes: both keys left out
        aws.publish(&topic, Publish::new("plain")).unwrap();
        let got = receive_all(&aws, &url).await;
        let value: Value = serde_json::from_str(&got[0].body).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let expected: Vec<&str> = AWS_NOTIFICATION_KEYS
            .iter()
            .copied()
            .filter(|k| *k != "Subject" && *k != "MessageAttributes")
            .collect();
        assert_eq!(keys, expected);
    }

    /// Our notification has exactly the keys moto delivered (moto sorts them; the order is
    /// AWS's, checked above).
    #[tokio::test(start_paused = true)]
    async fn notification_keys_match_moto_capture() {
        let aws = MemorySnsSqs::new();
        let topic = aws
            .create_topic("sample-topic", &Attributes::new())
            .unwrap();
        let url = subscribed(&aws, &topic, "sample-plain", &[]);
        aws.publish(
            &topic,
            Publish::new(r#"{"hello": "world"}"#)
                .subject("greeting")
                .attribute("event", MessageAttribute::string("created"))
                .attribute("count", MessageAttribute::number("3")),
        )
        .unwrap();
        let body = receive_all(&aws, &url).await.remove(0).body;
        let value: Value = serde_json::from_str(&body).unwrap();
        let mut keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), MOTO_NOTIFICATION_KEYS.len());
        keys.sort_unstable();
        assert_eq!(keys, MOTO_NOTIFICATION_KEYS);
        assert_eq!(
            value["MessageAttributes"]["event"],
            serde_json::json!({"Type": "String", "Value": "created"})
        );
        // what tomodachi's consumer reads from it
        assert_eq!(value["Message"], r#"{"hello": "world"}"#);
        assert_eq!(
            value["TopicArn"],
            "arn:aws:sns:us-east-1:123456789012:sample-topic"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn raw_delivery() {
        let aws = MemorySnsSqs::new();
        let topic = aws.create_topic("raw", &Attributes::new()).unwrap();
        let url = subscribed(&aws, &topic, "raw", &[("RawMessageDelivery", "true")]);
        aws.publish(
            &topic,
            Publish::new(r#"{"hello": "world"}"#)
                .subject("ignored")
                .attribute("event", MessageAttribute::string("created"))
                .attribute("count", MessageAttribute::number("3")),
        )
        .unwrap();
        let m = receive_all(&aws, &url).await.remove(0);
        assert_eq!(m.body, r#"{"hello": "world"}"#);
        assert_eq!(
            m.message_attributes["event"],
            MessageAttribute::string("created")
        );
        assert_eq!(m.message_attributes["count"], MessageAttribute::number("3"));
        assert!(m.md5_of_message_attributes.is_some());
        assert_eq!(m.receive_count(), 1);
        assert!(m.attributes.contains_key("SentTimestamp"));
        assert!(!m.attributes.contains_key("MessageGroupId"));
    }

    #[test]
    fn digests() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            md5_hex(b"The quick brown fox jumps over the lazy dog"),
            "9e107d9d372bb6826bd81d3542a419d6"
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let long = vec![b'a'; 1000];
        assert_eq!(md5_hex(&long), "cabe45dcc9ae5b66ba86600cca6b8ba8");
        assert_eq!(
            sha256_hex(&long),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
        );
        let mut attributes = MessageAttributes::new();
        attributes.insert("a".into(), MessageAttribute::string("b"));
        // length-prefixed "a", "String", 1, "b"
        let expected = md5_hex(&[
            0, 0, 0, 1, b'a', 0, 0, 0, 6, b'S', b't', b'r', b'i', b'n', b'g', 1, 0, 0, 0, 1, b'b',
        ]);
        assert_eq!(md5_of_message_attributes(&attributes), Some(expected));
    }

    #[tokio::test(start_paused = true)]
    async fn visibility_timeout_and_redelivery() {
        let aws = MemorySnsSqs::new();
        let url = aws
            .create_queue("vis", &attrs(&[("VisibilityTimeout", "10")]))
            .unwrap();
        let id = aws.send_message(&url, SendMessage::new("m")).unwrap();
        let first = receive_all(&aws, &url).await;
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].message_id, id);
        assert_eq!(first[0].receive_count(), 1);
        let sent = first[0].attributes["SentTimestamp"].clone();
        assert_eq!(
            first[0].attributes["ApproximateFirstReceiveTimestamp"],
            sent
        );
        assert_eq!(
            aws.queue_depth(&url).unwrap(),
            QueueDepth {
                visible: 0,
                in_flight: 1,
                delayed: 0
            }
        );
        let a = aws
            .get_queue_attributes(
                &url,
                &[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )
            .unwrap();
        assert_eq!(a["ApproximateNumberOfMessages"], "0");
        assert_eq!(a["ApproximateNumberOfMessagesNotVisible"], "1");

        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(receive_all(&aws, &url).await.is_empty());
        tokio::time::advance(Duration::from_secs(1)).await;
        let second = receive_all(&aws, &url).await;
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].message_id, id);
        assert_eq!(second[0].receive_count(), 2);
        assert_ne!(second[0].receipt_handle, first[0].receipt_handle);
        assert_eq!(second[0].attributes["SentTimestamp"], sent);
        assert_eq!(
            second[0].attributes["ApproximateFirstReceiveTimestamp"],
            sent
        );

        // AWS: the stale receipt handle succeeds and deletes nothing
        aws.delete_message(&url, &first[0].receipt_handle).unwrap();
        assert_eq!(aws.queue_depth(&url).unwrap().total(), 1);
        // a visibility override, then the current handle deletes
        tokio::time::advance(Duration::from_secs(10)).await;
        let third = aws
            .receive_message(&url, Receive::new(1).visibility_timeout(100))
            .await
            .unwrap();
        assert_eq!(third[0].receive_count(), 3);
        tokio::time::advance(Duration::from_secs(50)).await;
        assert!(receive_all(&aws, &url).await.is_empty());
        aws.delete_message(&url, &third[0].receipt_handle).unwrap();
        assert_eq!(aws.queue_depth(&url).unwrap().total(), 0);
        // deleting again succeeds too
        aws.delete_message(&url, &third[0].receipt_handle).unwrap();
        let error = aws.delete_message(&url, "bogus").unwrap_err();
        assert_eq!(error.code, "ReceiptHandleIsInvalid");
        assert_eq!(
            error.message,
            "The input receipt handle \"bogus\" is not a valid receipt handle."
        );
    }

    #[tokio::test(start_paused = true)]
    async fn change_visibility_batch_delete_and_purge() {
        let aws = MemorySnsSqs::new();
        let url = aws.create_queue("ops", &Attributes::new()).unwrap();
        for body in ["a", "b", "c"] {
            aws.send_message(&url, SendMessage::new(body)).unwrap();
        }
        let got = receive_all(&aws, &url).await;
        assert_eq!(
            got.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        aws.change_message_visibility(&url, &got[0].receipt_handle, 0)
            .unwrap();
        aws.change_message_visibility(&url, &got[1].receipt_handle, 100)
            .unwrap();
        tokio::time::advance(Duration::from_secs(30)).await;
        let again = receive_all(&aws, &url).await;
        assert_eq!(
            again.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
            ["a", "c"]
        );
        let result = aws
            .delete_message_batch(
                &url,
                &[
                    ("1", &again[0].receipt_handle),
                    ("2", &again[1].receipt_handle),
                    ("3", "nope"),
                ],
            )
            .unwrap();
        assert_eq!(result.successful, ["1", "2"]);
        assert_eq!(result.failed.len(), 1);
        assert_eq!(result.failed[0].0, "3");
        assert_eq!(result.failed[0].1.code, "ReceiptHandleIsInvalid");
        assert_eq!(
            aws.delete_message_batch(&url, &[]).unwrap_err().code,
            "AWS.SimpleQueueService.EmptyBatchRequest"
        );
        assert_eq!(
            aws.delete_message_batch(&url, &[("x", "a"), ("x", "b")])
                .unwrap_err()
                .message,
            "Id x repeated."
        );
        // a message no longer in flight cannot have its visibility changed
        tokio::time::advance(Duration::from_secs(100)).await;
        let error = aws
            .change_message_visibility(&url, &got[1].receipt_handle, 5)
            .unwrap_err();
        assert_eq!(error.code, "InvalidParameterValue");
        assert!(error
            .message
            .contains("Message does not exist or is not available for visibility timeout change"));
        assert_eq!(
            aws.change_message_visibility(&url, "nope", 5)
                .unwrap_err()
                .code,
            "ReceiptHandleIsInvalid"
        );
        assert_eq!(
            aws.change_message_visibility(&url, &got[1].receipt_handle, 43_201)
                .unwrap_err()
                .code,
            "InvalidParameterValue"
        );

        aws.purge_queue(&url).unwrap();
        assert_eq!(aws.queue_depth(&url).unwrap().total(), 0);
        let error = aws.purge_queue(&url).unwrap_err();
        assert_eq!(error.code, "AWS.SimpleQueueService.PurgeQueueInProgress");
        assert_eq!(
            error.message,
            "Only one PurgeQueue operation on ops is allowed every 60 seconds."
        );
        tokio::time::advance(Duration::from_secs(60)).await;
        aws.purge_queue(&url).unwrap();
        // everything that was sent stays recorded
        assert_eq!(aws.sent(&url).len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn redrive_to_dead_letter_queue() {
        let aws = MemorySnsSqs::new();
        let dlq = aws.create_queue("dlq", &Attributes::new()).unwrap();
        let dlq_arn = aws.queue_arn(&dlq).unwrap();
        let policy = format!(r#"{{"deadLetterTargetArn": "{dlq_arn}", "maxReceiveCount": "2"}}"#);
        let url = aws
            .create_queue(
                "src",
                &attrs(&[("VisibilityTimeout", "5"), ("RedrivePolicy", &policy)]),
            )
            .unwrap();
        assert_eq!(
            aws.get_queue_attributes(&url, &["RedrivePolicy"]).unwrap()["RedrivePolicy"],
            format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":2}}"#)
        );
        let id = aws.send_message(&url, SendMessage::new("poison")).unwrap();
        for expected in 1..=2 {
            let got = receive_all(&aws, &url).await;
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].receive_count(), expected);
            tokio::time::advance(Duration::from_secs(5)).await;
        }
        // the third receive would exceed maxReceiveCount: moved instead
        assert!(receive_all(&aws, &url).await.is_empty());
        assert_eq!(aws.queue_depth(&url).unwrap().total(), 0);
        let moved = receive_all(&aws, &dlq).await;
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].message_id, id);
        assert_eq!(moved[0].body, "poison");
        // the count goes on (as moto shows)
        assert_eq!(moved[0].receive_count(), 3);

        // a long poll that finds only a message to move keeps waiting
        aws.send_message(&url, SendMessage::new("second")).unwrap();
        for _ in 0..2 {
            assert_eq!(receive_all(&aws, &url).await.len(), 1);
            tokio::time::advance(Duration::from_secs(5)).await;
        }
        let got = aws
            .receive_message(&url, Receive::new(1).wait(Duration::from_secs(2)))
            .await
            .unwrap();
        assert!(got.is_empty());
        assert_eq!(aws.queue_depth(&dlq).unwrap().total(), 2);

        // removing the policy
        aws.set_queue_attributes(&url, &attrs(&[("RedrivePolicy", "")]))
            .unwrap();
        assert!(!aws
            .get_queue_attributes(&url, &["All"])
            .unwrap()
            .contains_key("RedrivePolicy"));
    }

    #[tokio::test(start_paused = true)]
    async fn fifo_ordering_and_group_blocking() {
        let aws = MemorySnsSqs::new();
        let url = aws
            .create_queue(
                "orders.fifo",
                &attrs(&[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]),
            )
            .unwrap();
        for (group, body) in [
            ("a", "a1"),
            ("b", "b1"),
            ("a", "a2"),
            ("b", "b2"),
            ("a", "a3"),
        ] {
            aws.send_message(&url, SendMessage::new(body).group_id(group))
                .unwrap();
        }
        // one at a time, as tomodachi receives from FIFO queues
        let first = aws.receive_message(&url, Receive::new(1)).await.unwrap();
        assert_eq!(first[0].body, "a1");
        assert_eq!(first[0].attributes["MessageGroupId"], "a");
        assert_eq!(
            first[0].attributes["MessageDeduplicationId"],
            sha256_hex(b"a1")
        );
        // group a is blocked while a1 is in flight
        let next = receive_all(&aws, &url).await;
        assert_eq!(
            next.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
            ["b1", "b2"]
        );
        assert!(receive_all(&aws, &url).await.is_empty());
        aws.delete_message(&url, &first[0].receipt_handle).unwrap();
        let rest = receive_all(&aws, &url).await;
        assert_eq!(
            rest.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
            ["a2", "a3"]
        );
        let seq: Vec<u128> = [&first[0], &rest[0], &rest[1]]
            .iter()
            .map(|m| m.attributes["SequenceNumber"].parse().unwrap())
            .collect();
        assert!(seq[0] < seq[1] && seq[1] < seq[2]);
        assert_eq!(first[0].attributes["SequenceNumber"].len(), 20);
        // a2 times out: the group stays in order (a2 before a3 again)
        tokio::time::advance(Duration::from_secs(30)).await;
        let again = receive_all(&aws, &url).await;
        assert_eq!(
            again.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
            ["b1", "a2", "b2", "a3"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn deduplication_window() {
        let aws = MemorySnsSqs::new();
        let url = aws
            .create_queue("dedup.fifo", &attrs(&[("FifoQueue", "true")]))
            .unwrap();
        let send = |body: &str, id: &str| {
            aws.send_message(
                &url,
                SendMessage::new(body).group_id("g").deduplication_id(id),
            )
        };
        let first = send("one", "x").unwrap();
        tokio::time::advance(Duration::from_secs(299)).await;
        assert_eq!(send("two", "x").unwrap(), first);
        assert_eq!(aws.queue_depth(&url).unwrap().total(), 1);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_ne!(send("three", "x").unwrap(), first);
        assert_eq!(aws.queue_depth(&url).unwrap().total(), 2);
        let sent = aws.sent(&url);
        assert_eq!(
            sent.iter().map(|s| s.duplicate).collect::<Vec<_>>(),
            [false, true, false]
        );

        // SNS FIFO topic: deduplicated at the topic, ids and group passed to FIFO queues
        let topic = aws
            .create_topic(
                "prices.fifo",
                &attrs(&[("FifoTopic", "true"), ("ContentBasedDeduplication", "true")]),
            )
            .unwrap();
        let fifo = subscribed(&aws, &topic, "prices.fifo", &[]);
        let standard = subscribed(
            &aws,
            &topic,
            "prices-log",
            &[("RawMessageDelivery", "true")],
        );
        let id = aws
            .publish(&topic, Publish::new("p1").group_id("g1"))
            .unwrap();
        assert_eq!(
            aws.publish(&topic, Publish::new("p1").group_id("g2"))
                .unwrap(),
            id
        );
        tokio::time::advance(DEDUPLICATION_WINDOW).await;
        assert_ne!(
            aws.publish(&topic, Publish::new("p1").group_id("g1"))
                .unwrap(),
            id
        );
        let published = aws.published(&topic);
        assert_eq!(published.len(), 3);
        assert!(published[1].duplicate);
        assert!(published[1].delivered_to.is_empty());
        assert!(published[0].sequence_number.is_some());

        let got = receive_all(&aws, &fifo).await;
        // both accepted publishes (one batch may hold several messages of a group)
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].attributes["MessageGroupId"], "g1");
        assert_eq!(got[0].attributes["MessageGroupId"], "g1");
        assert_eq!(
            got[0].attributes["MessageDeduplicationId"],
            sha256_hex(b"p1")
        );
        let value: Value = serde_json::from_str(&got[0].body).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "Type",
                "MessageId",
                "SequenceNumber",
                "TopicArn",
                "Message",
                "Timestamp",
                "UnsubscribeURL"
            ]
        );
        assert_eq!(
            value["SequenceNumber"].as_str(),
            published[0].sequence_number.as_deref()
        );
        let got = receive_all(&aws, &standard).await;
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].body, "p1");
        assert!(!got[0].attributes.contains_key("MessageGroupId"));
    }

    #[tokio::test(start_paused = true)]
    async fn delays() {
        let aws = MemorySnsSqs::new();
        let url = aws
            .create_queue("delayed", &attrs(&[("DelaySeconds", "5")]))
            .unwrap();
        aws.send_message(&url, SendMessage::new("queue delay"))
            .unwrap();
        aws.send_message(&url, SendMessage::new("own delay").delay_seconds(20))
            .unwrap();
        aws.send_message(&url, SendMessage::new("no delay").delay_seconds(0))
            .unwrap();
        assert_eq!(
            aws.queue_depth(&url).unwrap(),
            QueueDepth {
                visible: 1,
                in_flight: 0,
                delayed: 2
            }
        );
        assert_eq!(
            aws.get_queue_attributes(&url, &["ApproximateNumberOfMessagesDelayed"])
                .unwrap()["ApproximateNumberOfMessagesDelayed"],
            "2"
        );
        assert_eq!(receive_all(&aws, &url).await[0].body, "no delay");
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(receive_all(&aws, &url).await[0].body, "queue delay");
        // a long poll wakes when the delay ends
        let start = Instant::now();
        let got = aws
            .receive_message(&url, Receive::new(10).wait(Duration::from_secs(20)))
            .await
            .unwrap();
        assert_eq!(got[0].body, "own delay");
        assert_eq!(start.elapsed(), Duration::from_secs(15));
    }

    #[tokio::test(start_paused = true)]
    async fn long_poll_wakes_on_send_and_times_out() {
        let aws = MemorySnsSqs::new();
        let url = aws.create_queue("poll", &Attributes::new()).unwrap();
        let start = Instant::now();
        let waiting = {
            let aws = aws.clone();
            let url = url.clone();
            tokio::spawn(async move {
                aws.receive_message(&url, Receive::new(10).wait(Duration::from_secs(20)))
                    .await
            })
        };
        tokio::time::sleep(Duration::from_secs(3)).await;
        let topic = aws.create_topic("poll", &Attributes::new()).unwrap();
        aws.subscribe(
            &topic,
            "sqs",
            &aws.queue_arn(&url).unwrap(),
            &attrs(&[("RawMessageDelivery", "true")]),
        )
        .unwrap();
        aws.publish(&topic, Publish::new("wake up")).unwrap();
        let got = waiting.await.unwrap().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].body, "wake up");
        assert_eq!(start.elapsed(), Duration::from_secs(3));

        // nothing arrives: empty after the wait time
        let start = Instant::now();
        let got = aws
            .receive_message(&url, Receive::new(1).wait(Duration::from_secs(20)))
            .await
            .unwrap();
        assert!(got.is_empty());
        assert_eq!(start.elapsed(), Duration::from_secs(20));
        // the queue's ReceiveMessageWaitTimeSeconds is the default wait
        aws.set_queue_attributes(&url, &attrs(&[("ReceiveMessageWaitTimeSeconds", "4")]))
            .unwrap();
        let start = Instant::now();
        assert!(receive_all(&aws, &url).await.is_empty());
        assert_eq!(start.elapsed(), Duration::from_secs(4));

        // a deleted queue ends a long poll with an error
        let waiting = {
            let aws = aws.clone();
            let url = url.clone();
            tokio::spawn(async move {
                aws.receive_message(&url, Receive::new(1).wait(Duration::from_secs(20)))
                    .await
            })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        aws.delete_queue(&url).unwrap();
        let error = waiting.await.unwrap().unwrap_err();
        assert_eq!(error.code, "AWS.SimpleQueueService.NonExistentQueue");
    }

    #[tokio::test(start_paused = true)]
    async fn wait_until_empty_follows_deletes() {
        let aws = MemorySnsSqs::new();
        let url = aws.create_queue("work", &Attributes::new()).unwrap();
        aws.wait_until_empty(&url).await.unwrap();
        aws.send_message(&url, SendMessage::new("job")).unwrap();
        let worker = {
            let aws = aws.clone();
            let url = url.clone();
            tokio::spawn(async move {
                let got = aws
                    .receive_message(&url, Receive::new(1).wait(Duration::from_secs(20)))
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_secs(2)).await;
                aws.delete_message(&url, &got[0].receipt_handle).unwrap();
            })
        };
        let start = Instant::now();
        aws.wait_until_empty(&url).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        worker.await.unwrap();
        // retention expires messages too
        aws.set_queue_attributes(&url, &attrs(&[("MessageRetentionPeriod", "60")]))
            .unwrap();
        aws.send_message(&url, SendMessage::new("old")).unwrap();
        let start = Instant::now();
        aws.wait_until_empty(&url).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(60));
        assert_eq!(
            aws.wait_until_empty("https://sqs.us-east-1.amazonaws.com/123456789012/none")
                .await
                .unwrap_err()
                .code,
            "AWS.SimpleQueueService.NonExistentQueue"
        );
    }

    #[test]
    fn create_is_idempotent() {
        let aws = MemorySnsSqs::new();
        let a = attrs(&[("VisibilityTimeout", "60")]);
        let url = aws.create_queue("q", &a).unwrap();
        assert_eq!(aws.create_queue("q", &a).unwrap(), url);
        assert_eq!(aws.create_queue("q", &Attributes::new()).unwrap(), url);
        assert_eq!(
            aws.create_queue("q", &attrs(&[("VisibilityTimeout", "30")]))
                .unwrap_err(),
            SnsSqsError::new("QueueAlreadyExists", "The specified queue already exists.")
        );
        let fifo = attrs(&[("FifoTopic", "true")]);
        let topic = aws.create_topic("t.fifo", &fifo).unwrap();
        assert_eq!(aws.create_topic("t.fifo", &fifo).unwrap(), topic);
        assert_eq!(
            aws.create_topic("t.fifo", &attrs(&[("FifoTopic", "True")]))
                .unwrap(),
            topic
        );
        let error = aws
            .create_topic(
                "t.fifo",
                &attrs(&[("FifoTopic", "true"), ("ContentBasedDeduplication", "true")]),
            )
            .unwrap_err();
        assert_eq!(error.code, "InvalidParameter");
        assert_eq!(
            error.message,
            "Invalid parameter: Attributes Reason: Topic already exists with different attributes"
        );
        let t = aws.get_topic_attributes(&topic).unwrap();
        assert_eq!(t["FifoTopic"], "true");
        assert_eq!(t["ContentBasedDeduplication"], "false");
        aws.set_topic_attributes(&topic, "ContentBasedDeduplication", "true")
            .unwrap();
        aws.set_topic_attributes(&topic, "DisplayName", "T")
            .unwrap();
        assert_eq!(
            aws.get_topic_attributes(&topic).unwrap()["DisplayName"],
            "T"
        );

        // subscriptions: same attributes, same ARN; other attributes, an error
        let q = aws
            .create_queue("s.fifo", &attrs(&[("FifoQueue", "true")]))
            .unwrap();
        let arn = aws.queue_arn(&q).unwrap();
        let raw = attrs(&[("RawMessageDelivery", "true")]);
        let sub = aws.subscribe(&topic, "sqs", &arn, &raw).unwrap();
        assert_eq!(aws.subscribe(&topic, "sqs", &arn, &raw).unwrap(), sub);
        let error = aws
            .subscribe(&topic, "sqs", &arn, &Attributes::new())
            .unwrap_err();
        assert_eq!(
            error.message,
            "Invalid parameter: Attributes Reason: Subscription already exists with different attributes"
        );
        // deleting a topic drops its subscriptions
        aws.delete_topic(&topic).unwrap();
        assert_eq!(
            aws.get_subscription_attributes(&sub).unwrap_err().code,
            "NotFound"
        );
        aws.delete_topic(&topic).unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn queue_attributes() {
        let aws = MemorySnsSqs::new();
        let url = aws.create_queue("attrs", &Attributes::new()).unwrap();
        let all = aws.get_queue_attributes(&url, &["All"]).unwrap();
        assert_eq!(all["VisibilityTimeout"], "30");
        assert_eq!(all["DelaySeconds"], "0");
        assert_eq!(all["MessageRetentionPeriod"], "345600");
        assert_eq!(all["QueueArn"], "arn:aws:sqs:us-east-1:123456789012:attrs");
        assert_eq!(all["ApproximateNumberOfMessages"], "0");
        assert!(!all.contains_key("FifoQueue"));
        assert!(all.contains_key("CreatedTimestamp"));
        let policy = r#"{"Version": "2012-10-17", "Statement": []}"#;
        aws.set_queue_attributes(
            &url,
            &attrs(&[("VisibilityTimeout", "45"), ("Policy", policy)]),
        )
        .unwrap();
        let some = aws
            .get_queue_attributes(&url, &["VisibilityTimeout", "Policy", "RedrivePolicy"])
            .unwrap();
        assert_eq!(some.len(), 2);
        assert_eq!(some["VisibilityTimeout"], "45");
        assert_eq!(some["Policy"], policy);
        let error = aws.get_queue_attributes(&url, &["Nope"]).unwrap_err();
        assert_eq!(error.code, "InvalidAttributeName");
        assert_eq!(error.message, "Unknown Attribute Nope.");
        let error = aws
            .set_queue_attributes(&url, &attrs(&[("VisibilityTimeout", "43201")]))
            .unwrap_err();
        assert_eq!(
            error,
            SnsSqsError::new(
                "InvalidAttributeValue",
                "Invalid value for the parameter VisibilityTimeout."
            )
        );
        // a failed update changes nothing
        assert_eq!(
            aws.get_queue_attributes(&url, &["VisibilityTimeout"])
                .unwrap()["VisibilityTimeout"],
            "45"
        );
        let fifo = aws
            .create_queue("attrs.fifo", &attrs(&[("FifoQueue", "true")]))
            .unwrap();
        let all = aws.get_queue_attributes(&fifo, &["All"]).unwrap();
        assert_eq!(all["FifoQueue"], "true");
        assert_eq!(all["ContentBasedDeduplication"], "false");
        assert_eq!(all["DeduplicationScope"], "queue");
    }

    #[tokio::test(start_paused = true)]
    async fn errors() {
        let aws = MemorySnsSqs::new();
        let missing_topic = "arn:aws:sns:us-east-1:123456789012:missing";
        let missing_url = "https://sqs.us-east-1.amazonaws.com/123456789012/missing";
        let no_topic = SnsSqsError::new("NotFound", "Topic does not exist");
        let no_queue = SnsSqsError::new(
            "AWS.SimpleQueueService.NonExistentQueue",
            "The specified queue does not exist.",
        );
        assert_eq!(
            aws.publish(missing_topic, Publish::new("m")).unwrap_err(),
            no_topic
        );
        assert_eq!(
            aws.subscribe(
                missing_topic,
                "sqs",
                "arn:aws:sqs:us-east-1:123456789012:q",
                &Attributes::new()
            )
            .unwrap_err(),
            no_topic
        );
        assert_eq!(
            aws.get_topic_attributes(missing_topic).unwrap_err(),
            no_topic
        );
        assert_eq!(aws.subscriptions(missing_topic).unwrap_err(), no_topic);
        assert_eq!(
            aws.send_message(missing_url, SendMessage::new("m"))
                .unwrap_err(),
            no_queue
        );
        assert_eq!(
            aws.receive_message(missing_url, Receive::new(1))
                .await
                .unwrap_err(),
            no_queue
        );
        assert_eq!(aws.delete_message(missing_url, "r").unwrap_err(), no_queue);
        assert_eq!(aws.purge_queue(missing_url).unwrap_err(), no_queue);
        assert_eq!(aws.delete_queue(missing_url).unwrap_err(), no_queue);
        assert_eq!(aws.queue_depth(missing_url).unwrap_err(), no_queue);
        assert_eq!(aws.queue_arn("not a url").unwrap_err(), no_queue);
        assert!(aws.sent(missing_url).is_empty());
        assert!(aws.published(missing_topic).is_empty());
        assert_eq!(
            aws.set_subscription_attributes(
                "arn:aws:sns:us-east-1:123456789012:t:x",
                "RawMessageDelivery",
                "true"
            )
            .unwrap_err(),
            SnsSqsError::new("NotFound", "Subscription does not exist")
        );

        // names
        let e = aws.create_topic("a.fifo", &Attributes::new()).unwrap_err();
        assert_eq!(e.code, "InvalidParameter");
        assert!(e.message.starts_with("Topic names must be made up of"));
        let e = aws
            .create_topic("plain", &attrs(&[("FifoTopic", "true")]))
            .unwrap_err();
        assert!(e
            .message
            .starts_with("Fifo Topic names must end with .fifo"));
        let e = aws.create_queue("q.fifo", &Attributes::new()).unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
        assert_eq!(
            e.message,
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        );
        let e = aws
            .create_queue("q", &attrs(&[("FifoQueue", "true")]))
            .unwrap_err();
        assert!(e.message.contains("must end with .fifo suffix"));
        assert_eq!(
            aws.create_queue("q", &attrs(&[("Bogus", "1")]))
                .unwrap_err()
                .code,
            "InvalidAttributeName"
        );
        assert_eq!(
            aws.create_queue("q", &attrs(&[("ContentBasedDeduplication", "true")]))
                .unwrap_err()
                .code,
            "InvalidAttributeName"
        );

        // subscriptions
        let topic = aws.create_topic("t", &Attributes::new()).unwrap();
        let fifo_queue = aws
            .create_queue("f.fifo", &attrs(&[("FifoQueue", "true")]))
            .unwrap();
        let e = aws
            .subscribe(
                &topic,
                "sqs",
                &aws.queue_arn(&fifo_queue).unwrap(),
                &Attributes::new(),
            )
            .unwrap_err();
        assert_eq!(e.message, "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics");
        let e = aws
            .subscribe(&topic, "sqs", "not-an-arn", &Attributes::new())
            .unwrap_err();
        assert_eq!(e.message, "Invalid parameter: SQS endpoint ARN");
        assert_eq!(
            aws.subscribe(&topic, "http", "http://x", &Attributes::new())
                .unwrap_err()
                .code,
            "InvalidParameter"
        );
        let queue_arn = "arn:aws:sqs:us-east-1:123456789012:later";
        let e = aws
            .subscribe(
                &topic,
                "sqs",
                queue_arn,
                &attrs(&[(
                    "FilterPolicy",
                    r#"{"a": ["x"], "b": ["x"], "c": ["x"], "d": ["x"], "e": ["x"], "f": ["x"]}"#,
                )]),
            )
            .unwrap_err();
        assert_eq!(
            e,
            SnsSqsError::new(
                "InvalidParameter",
                "Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys"
            )
        );
        let e = aws
            .subscribe(
                &topic,
                "sqs",
                queue_arn,
                &attrs(&[("FilterPolicy", r#"{"a": {"b": ["x"]}}"#)]),
            )
            .unwrap_err();
        assert_eq!(
            e.message,
            "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy"
        );
        assert_eq!(
            aws.subscribe(&topic, "sqs", queue_arn, &attrs(&[("FilterPolicy", "{")]))
                .unwrap_err()
                .message,
            "Invalid parameter: FilterPolicy: failed to parse JSON."
        );
        assert_eq!(
            aws.subscribe(&topic, "sqs", queue_arn, &attrs(&[("Bogus", "1")]))
                .unwrap_err()
                .message,
            "Invalid parameter: AttributeName"
        );
        // a nested policy becomes valid with the body scope, and the scope change is checked
        let sub = aws
            .subscribe(
                &topic,
                "sqs",
                queue_arn,
                &attrs(&[
                    ("FilterPolicy", r#"{"a": {"b": ["x"]}}"#),
                    ("FilterPolicyScope", "MessageBody"),
                ]),
            )
            .unwrap();
        let e = aws
            .set_subscription_attributes(&sub, "FilterPolicyScope", "MessageAttributes")
            .unwrap_err();
        assert_eq!(e.code, "InvalidParameter");
        // a subscription to a queue that does not exist loses its deliveries
        aws.publish(&topic, Publish::new(r#"{"a": {"b": "x"}}"#))
            .unwrap();
        assert!(aws.published(&topic)[0].delivered_to.is_empty());

        // publish
        assert_eq!(
            aws.publish(&topic, Publish::new("")).unwrap_err().message,
            "Invalid parameter: Empty message"
        );
        assert!(aws
            .publish(&topic, Publish::new("m").deduplication_id("d"))
            .unwrap_err()
            .message
            .starts_with("Invalid parameter: MessageDeduplicationId"));
        assert_eq!(
            aws.publish(
                &topic,
                Publish::new("m").attribute("x", MessageAttribute {
                    data_type: "Float".into(),
                    value: "1".into()
                })
            )
            .unwrap_err()
            .message,
            "The message attribute 'x' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
        );
        let fifo_topic = aws
            .create_topic("ft.fifo", &attrs(&[("FifoTopic", "true")]))
            .unwrap();
        assert_eq!(
            aws.publish(&fifo_topic, Publish::new("m"))
                .unwrap_err()
                .message,
            "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
        );
        assert_eq!(
            aws.publish(&fifo_topic, Publish::new("m").group_id("g"))
                .unwrap_err()
                .message,
            "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"
        );

        // send and receive
        let url = aws.create_queue("plain", &Attributes::new()).unwrap();
        assert_eq!(
            aws.send_message(&url, SendMessage::new("")).unwrap_err(),
            SnsSqsError::new(
                "MissingParameter",
                "The request must contain the parameter MessageBody."
            )
        );
        assert_eq!(
            aws.send_message(&url, SendMessage::new("m").delay_seconds(901))
                .unwrap_err()
                .message,
            "Value 901 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
        );
        assert_eq!(
            aws.send_message(&fifo_queue, SendMessage::new("m"))
                .unwrap_err(),
            SnsSqsError::new(
                "MissingParameter",
                "The request must contain the parameter MessageGroupId."
            )
        );
        assert_eq!(
            aws.send_message(&fifo_queue, SendMessage::new("m").group_id("g"))
                .unwrap_err()
                .message,
            "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"
        );
        assert!(aws
            .send_message(
                &fifo_queue,
                SendMessage::new("m")
                    .group_id("g")
                    .deduplication_id("d")
                    .delay_seconds(1)
            )
            .unwrap_err()
            .message
            .ends_with("The request include parameter that is not valid for this queue type."));
        assert_eq!(
            aws.receive_message(&url, Receive::new(11)).await.unwrap_err().message,
            "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."
        );
        assert_eq!(
            aws.receive_message(&url, Receive::new(0))
                .await
                .unwrap_err()
                .code,
            "InvalidParameterValue"
        );
        assert_eq!(
            aws.receive_message(&url, Receive::new(1).wait(Duration::from_secs(21)))
                .await
                .unwrap_err()
                .code,
            "InvalidParameterValue"
        );

        // redrive policies
        let e = aws
            .create_queue(
                "src",
                &attrs(&[(
                    "RedrivePolicy",
                    r#"{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:nope", "maxReceiveCount": 3}"#,
                )]),
            )
            .unwrap_err();
        assert!(e
            .message
            .ends_with("Reason: Dead letter target does not exist."));
        let e = aws
            .create_queue(
                "src",
                &attrs(&[(
                    "RedrivePolicy",
                    r#"{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:f.fifo", "maxReceiveCount": 3}"#,
                )]),
            )
            .unwrap_err();
        assert!(e
            .message
            .ends_with("Dead-letter queue must be same type of queue as the source."));
        let e = aws
            .create_queue(
                "src",
                &attrs(&[(
                    "RedrivePolicy",
                    r#"{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:plain", "maxReceiveCount": 0}"#,
                )]),
            )
            .unwrap_err();
        assert!(e.message.contains("Invalid value for maxReceiveCount: 0"));
        let e = aws
            .create_queue(
                "src",
                &attrs(&[("RedrivePolicy", r#"{"maxReceiveCount": 3}"#)]),
            )
            .unwrap_err();
        assert!(e
            .message
            .ends_with("Redrive policy does not contain deadLetterTargetArn."));
        assert!(aws.get_queue_url("src").is_err());

        assert_eq!(
            no_queue.to_string(),
            "AWS.SimpleQueueService.NonExistentQueue: The specified queue does not exist."
        );
    }
}
