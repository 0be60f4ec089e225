//! An in-memory AMQP 0-9-1 broker that behaves like RabbitMQ for the subset of the protocol
//! tomodachi's AMQP transport uses, so consumer and publisher logic can be tested without a
//! broker, deterministically and under tokio's paused time.
//!
//! [`MemoryBroker`] is the broker (a cheap `Clone` handle; clones share one broker),
//! [`MemoryChannel`] a channel on it with the lapin `Channel` operations the transport calls,
//! [`MemoryConsumer`] a consumer's delivery stream and [`MemoryDelivery`] one delivery with its
//! [`MemoryAcker`]. Errors are [`AmqpError`]s whose `Display` and `Debug` are exactly lapin's
//! for the same failure against RabbitMQ (they wrap a [`lapin::Error`]; convert with `into()`).
//!
//! # Emulated, as RabbitMQ does it
//!
//! * Exchanges: the default exchange `""` (routes to the queue named by the routing key) and
//!   the pre-declared `amq.topic`; `exchange_declare` of `topic`, `direct` and `fanout`
//!   exchanges, with RabbitMQ's equivalence checks (`type`, then `durable`), the refusal of
//!   the default exchange and of new `amq.*` names (also for queues). Topic routing uses
//!   [`topic_matches`]. A message that no queue binds is dropped
//!   (as without `mandatory`); a queue bound several ways gets one copy.
//! * Queues: `queue_declare` returning `(ready message count, consumer count)`, with the
//!   equivalence checks of `durable` and `x-expires` (integers compare by value, whatever their
//!   AMQP type); `queue_bind` (`NOT_FOUND` for a missing exchange, checked first, or queue;
//!   `ACCESS_REFUSED` on the default exchange); `queue_purge` (ready messages only) and
//!   `queue_delete` (idempotent; cancels the queue's consumers, whose streams end).
//! * Consumers: round-robin among a queue's consumers; a consumer gets at most the per-consumer
//!   prefetch (`basic_qos(n, global = false)`, as set on the channel when it started consuming)
//!   unacknowledged deliveries, and a channel at most its `basic_qos(n, global = true)` limit
//!   (RabbitMQ's meaning of `global`); 0 is unlimited. Delivery tags count from 1 per channel.
//! * Acknowledgements: `ack`; `nack`/`reject` with `requeue` put the message back at its
//!   original position in the queue (verified: a requeued message is delivered before later
//!   ones) flagged `redelivered`; without `requeue` the message is dropped. Acking an unknown
//!   (or already acked) tag through the channel closes the channel with
//!   `PRECONDITION_FAILED - unknown delivery tag N`; a [`MemoryAcker`] is single-use like
//!   lapin's (a second use, or a use after its channel closed, returns `Ok(false)`).
//! * `basic_cancel` ends the consumer's stream; its unacknowledged deliveries stay on the
//!   channel and can still be acked (RabbitMQ's behaviour, verified). Closing a channel (or a
//!   channel error, or [`MemoryBroker::disconnect_all`]) requeues the channel's unacknowledged
//!   messages as redelivered.
//! * Channel errors: a failed operation closes its channel as RabbitMQ does; the channel's
//!   consumer streams yield the error and end, and later operations fail with lapin's
//!   `invalid channel state: Closed (<method>)` (`Error` after a connection drop).
//! * Introspection for assertions: [`MemoryBroker::published`], [`MemoryBroker::queue_depth`],
//!   [`MemoryBroker::queues`], [`MemoryBroker::bindings`], [`MemoryBroker::wait_idle`].
//!
//! # Not emulated
//!
//! * Dead-lettering (`x-dead-letter-exchange`), `x-message-ttl`, `x-max-length` and other
//!   queue arguments: stored nowhere, not compared, never acted on (the library does its own
//!   dead-letter queues by publishing). `x-expires` is compared on redeclaration but queues
//!   never expire.
//! * `headers` exchanges (declarable, route nothing); other types are refused with
//!   `COMMAND_INVALID - unknown exchange type 'x'` (RabbitMQ's text; a connection error
//!   there, a channel error here). Exchange-to-exchange
//!   bindings, `queue_unbind`, `exchange_delete`, `alternate-exchange`, `mandatory` returns,
//!   `basic_get`, `basic_recover`, transactions, priorities, exclusive/auto-delete queues and
//!   consumers, `no_ack` consumers, consumer tags chosen by the client, server-named queues
//!   (an empty queue name is refused with an emulator-specific `NOT_IMPLEMENTED` error).
//! * Connections: every channel stands alone (a channel error closes only that channel; a
//!   hard error is reported on the channel that caused it); [`MemoryBroker::channel`] always
//!   succeeds, also after [`MemoryBroker::disconnect_all`] (a reconnect). Heartbeats, flow
//!   control, frame sizes and publisher-confirm nacks do not exist here: a publish either
//!   routes (an implicit confirm) or fails.
//! * Publishing to a missing exchange fails the publish call itself (what lapin reports from
//!   the confirm with publisher confirms enabled, which is how the library publishes).
//! * One virtual host, `/`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll};

use futures_util::Stream;
use lapin::protocol::{AMQPError, AMQPErrorKind, AMQPHardError, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, ChannelState, ExchangeKind};
use tokio::sync::{mpsc, watch};

use super::topic::topic_matches;

/// RabbitMQ's texts for the emulated failures, as lapin 4.12.3 displays them. Each was
/// recorded by a throwaway test connecting lapin to a real RabbitMQ
/// (`amqp://guest:guest@127.0.0.1:5672/%2f`), performing the operation and printing the
/// error's `Display` (the channel-closed texts after the broker had closed the channel; the
/// `CONNECTION_FORCED` text after `rabbitmqctl close_connection <pid> "kit simulated drop"`).
/// The unit tests assert that the broker produces exactly these.
#[cfg(test)]
mod verified {
    /// Publishing (with confirms) to the missing exchange `nope`: the confirm's error.
    pub(super) const NO_EXCHANGE: &str =
        "protocol error: AMQP soft error: NOT-FOUND: NOT_FOUND - no exchange 'nope' in vhost '/'";
    /// `queue_declare` on a channel the broker closed.
    pub(super) const CLOSED_QUEUE_DECLARE: &str = "invalid channel state: Closed (queue.declare)";
    /// `basic_publish` on a channel the broker closed.
    pub(super) const CLOSED_BASIC_PUBLISH: &str = "invalid channel state: Closed (basic.publish)";
    /// `close` on a channel the broker closed.
    pub(super) const CLOSED_CHANNEL_CLOSE: &str = "invalid channel state: Closed (channel.close)";
    /// `queue_declare` on a channel of a connection the broker closed.
    pub(super) const ERROR_QUEUE_DECLARE: &str = "invalid channel state: Error (queue.declare)";
    /// Redeclaring the topic exchange `kit-x` as `direct`.
    pub(super) const EXCHANGE_TYPE: &str = "protocol error: AMQP soft error: PRECONDITION-FAILED: \
        PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'kit-x' in vhost '/': \
        received 'direct' but current is 'topic'";
    /// Redeclaring the durable exchange `kit-x` as not durable.
    pub(super) const EXCHANGE_DURABLE: &str = "protocol error: AMQP soft error: \
        PRECONDITION-FAILED: PRECONDITION_FAILED - inequivalent arg 'durable' for exchange \
        'kit-x' in vhost '/': received 'false' but current is 'true'";
    /// Declaring the new exchange `amq.kitfoo`.
    pub(super) const EXCHANGE_RESERVED: &str = "protocol error: AMQP soft error: ACCESS-REFUSED: \
        ACCESS_REFUSED - exchange name 'amq.kitfoo' contains reserved prefix 'amq.*'";
    /// Declaring the default exchange, or binding a queue to it.
    pub(super) const DEFAULT_EXCHANGE: &str = "protocol error: AMQP soft error: ACCESS-REFUSED: \
        ACCESS_REFUSED - operation not permitted on the default exchange";
    /// Redeclaring the durable queue `kit-q` (x-expires 86400000) as not durable.
    pub(super) const QUEUE_DURABLE: &str = "protocol error: AMQP soft error: PRECONDITION-FAILED: \
        PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'kit-q' in vhost '/': \
        received 'false' but current is 'true'";
    /// Redeclaring `kit-q` (x-expires 86400000 as a signed 32-bit int) without x-expires.
    pub(super) const QUEUE_EXPIRES_MISSING: &str = "protocol error: AMQP soft error: \
        PRECONDITION-FAILED: PRECONDITION_FAILED - inequivalent arg 'x-expires' for queue \
        'kit-q' in vhost '/': received none but current is the value '86400000' of type \
        'signedint'";
    /// Redeclaring `kit-q` with x-expires 1000.
    pub(super) const QUEUE_EXPIRES_DIFFERENT: &str = "protocol error: AMQP soft error: \
        PRECONDITION-FAILED: PRECONDITION_FAILED - inequivalent arg 'x-expires' for queue \
        'kit-q' in vhost '/': received '1000' but current is '86400000'";
    /// Redeclaring `kit-q2` (no arguments) with x-expires 1000.
    pub(super) const QUEUE_EXPIRES_ADDED: &str = "protocol error: AMQP soft error: \
        PRECONDITION-FAILED: PRECONDITION_FAILED - inequivalent arg 'x-expires' for queue \
        'kit-q2' in vhost '/': received the value '1000' of type 'signedint' but current is \
        none";
    /// Binding `kit-q` to the missing exchange `kit-missing-x` (also when the queue is missing).
    pub(super) const BIND_NO_EXCHANGE: &str = "protocol error: AMQP soft error: NOT-FOUND: \
        NOT_FOUND - no exchange 'kit-missing-x' in vhost '/'";
    /// Binding the missing queue `kit-missing-q`; also consuming from or purging it.
    pub(super) const NO_QUEUE: &str = "protocol error: AMQP soft error: NOT-FOUND: \
        NOT_FOUND - no queue 'kit-missing-q' in vhost '/'";
    /// Declaring the new queue `amq.kitq`.
    pub(super) const QUEUE_RESERVED: &str = "protocol error: AMQP soft error: ACCESS-REFUSED: \
        ACCESS_REFUSED - queue name 'amq.kitq' contains reserved prefix 'amq.*'";
    /// Declaring the exchange `kit-custom` of the unknown type `x-kit-nonexistent`.
    pub(super) const UNKNOWN_TYPE: &str = "protocol error: AMQP hard error: COMMAND-INVALID: \
        COMMAND_INVALID - unknown exchange type 'x-kit-nonexistent'";
    /// A consumer's stream after acking delivery tag 1 twice with `basic_ack`.
    pub(super) const UNKNOWN_TAG: &str = "protocol error: AMQP soft error: PRECONDITION-FAILED: \
        PRECONDITION_FAILED - unknown delivery tag 1";
    /// A consumer's stream after `rabbitmqctl close_connection <pid> "kit simulated drop"`.
    pub(super) const CONNECTION_FORCED: &str = "protocol error: AMQP hard error: \
        CONNECTION-FORCED: CONNECTION_FORCED - kit simulated drop";
}

/// The only virtual host.
const VHOST: &str = "/";

/// The reason [`MemoryBroker::disconnect_all`] gives: RabbitMQ's on a broker shutdown (from
/// RabbitMQ's source; the `CONNECTION_FORCED - <reason>` form itself was verified with
/// `rabbitmqctl close_connection`).
const SHUTDOWN_REASON: &str = "broker forced connection closure with reason 'shutdown'";

/// An AMQP failure, displayed (and debug-printed) exactly as lapin reports the same failure
/// against RabbitMQ, e.g. `protocol error: AMQP soft error: NOT-FOUND: NOT_FOUND - no exchange
/// 'nope' in vhost '/'` or `invalid channel state: Closed (basic.publish)`.
///
/// It wraps the equivalent [`lapin::Error`]; `lapin::Error::from(error)` unwraps it.
#[derive(Clone, PartialEq)]
pub struct AmqpError(lapin::Error);

impl AmqpError {
    fn soft(kind: AMQPSoftError, text: String) -> Self {
        Self::protocol(AMQPErrorKind::Soft(kind), text)
    }

    fn hard(kind: AMQPHardError, text: String) -> Self {
        Self::protocol(AMQPErrorKind::Hard(kind), text)
    }

    fn protocol(kind: AMQPErrorKind, text: String) -> Self {
        Self(lapin::ErrorKind::ProtocolError(AMQPError::new(kind, text.into())).into())
    }

    fn channel_state(state: ChannelState, method: &'static str) -> Self {
        Self(lapin::ErrorKind::InvalidChannelState(state, method).into())
    }

    /// The AMQP reply code (404 `NOT_FOUND`, 406 `PRECONDITION_FAILED`, 403 `ACCESS_REFUSED`,
    /// 320 `CONNECTION_FORCED`, ...) of a protocol error; `None` for a channel-state error.
    pub fn reply_code(&self) -> Option<u16> {
        self.amqp().map(AMQPError::get_id)
    }

    /// The broker's reply text of a protocol error (`NOT_FOUND - no exchange 'x' in vhost
    /// '/'`); `None` for a channel-state error.
    pub fn reply_text(&self) -> Option<&str> {
        self.amqp().map(|e| e.get_message().as_str())
    }

    /// Whether this is a channel-level (soft) protocol error: the broker closed the channel.
    pub fn is_channel_error(&self) -> bool {
        self.0.is_amqp_soft_error()
    }

    /// Whether this is a connection-level (hard) protocol error: the connection was closed.
    pub fn is_connection_error(&self) -> bool {
        self.0.is_amqp_hard_error()
    }

    /// The equivalent lapin error.
    pub fn as_lapin(&self) -> &lapin::Error {
        &self.0
    }

    fn amqp(&self) -> Option<&AMQPError> {
        match self.0.kind() {
            lapin::ErrorKind::ProtocolError(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for AmqpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for AmqpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl std::error::Error for AmqpError {}

impl From<AmqpError> for lapin::Error {
    fn from(error: AmqpError) -> Self {
        error.0
    }
}

fn not_found_exchange(name: &str) -> AmqpError {
    AmqpError::soft(
        AMQPSoftError::NOTFOUND,
        format!("NOT_FOUND - no exchange '{name}' in vhost '{VHOST}'"),
    )
}

fn not_found_queue(name: &str) -> AmqpError {
    AmqpError::soft(
        AMQPSoftError::NOTFOUND,
        format!("NOT_FOUND - no queue '{name}' in vhost '{VHOST}'"),
    )
}

fn default_exchange_refused() -> AmqpError {
    AmqpError::soft(
        AMQPSoftError::ACCESSREFUSED,
        "ACCESS_REFUSED - operation not permitted on the default exchange".to_owned(),
    )
}

fn reserved_name(what: &str, name: &str) -> AmqpError {
    AmqpError::soft(
        AMQPSoftError::ACCESSREFUSED,
        format!("ACCESS_REFUSED - {what} name '{name}' contains reserved prefix 'amq.*'"),
    )
}

fn inequivalent(arg: &str, what: &str, name: &str, detail: &str) -> AmqpError {
    AmqpError::soft(
        AMQPSoftError::PRECONDITIONFAILED,
        format!(
            "PRECONDITION_FAILED - inequivalent arg '{arg}' for {what} '{name}' in vhost \
             '{VHOST}': {detail}"
        ),
    )
}

fn unknown_delivery_tag(tag: u64) -> AmqpError {
    AmqpError::soft(
        AMQPSoftError::PRECONDITIONFAILED,
        format!("PRECONDITION_FAILED - unknown delivery tag {tag}"),
    )
}

fn kind_name(kind: &ExchangeKind) -> &str {
    match kind {
        ExchangeKind::Custom(name) => name,
        ExchangeKind::Direct => "direct",
        ExchangeKind::Fanout => "fanout",
        ExchangeKind::Headers => "headers",
        ExchangeKind::Topic => "topic",
    }
}

/// An integer argument's value, whatever its AMQP type (RabbitMQ compares them by value).
fn integer(value: &AMQPValue) -> Option<i128> {
    Some(match value {
        AMQPValue::ShortShortInt(v) => i128::from(*v),
        AMQPValue::ShortShortUInt(v) => i128::from(*v),
        AMQPValue::ShortInt(v) => i128::from(*v),
        AMQPValue::ShortUInt(v) => i128::from(*v),
        AMQPValue::LongInt(v) => i128::from(*v),
        AMQPValue::LongUInt(v) => i128::from(*v),
        AMQPValue::LongLongInt(v) => i128::from(*v),
        _ => return None,
    })
}

/// An argument value as RabbitMQ prints it in an inequivalence message.
fn render(value: &AMQPValue) -> String {
    match integer(value) {
        Some(n) => n.to_string(),
        None => format!("{value:?}"),
    }
}

/// RabbitMQ's name of an argument's AMQP field type.
fn type_name(value: &AMQPValue) -> &'static str {
    match value {
        AMQPValue::Boolean(_) => "bool",
        AMQPValue::ShortShortInt(_) => "byte",
        AMQPValue::ShortShortUInt(_) => "unsignedbyte",
        AMQPValue::ShortInt(_) => "short",
        AMQPValue::ShortUInt(_) => "unsignedshort",
        AMQPValue::LongInt(_) => "signedint",
        AMQPValue::LongUInt(_) => "unsignedint",
        AMQPValue::LongLongInt(_) => "long",
        AMQPValue::Float(_) => "float",
        AMQPValue::Double(_) => "double",
        AMQPValue::DecimalValue(_) => "decimal",
        AMQPValue::ShortString(_) | AMQPValue::LongString(_) => "longstr",
        AMQPValue::FieldArray(_) => "array",
        AMQPValue::Timestamp(_) => "timestamp",
        AMQPValue::FieldTable(_) => "table",
        AMQPValue::ByteArray(_) => "binary",
        AMQPValue::Void => "void",
    }
}

/// The `x-expires` comparison of a queue redeclaration: `None` when equivalent, else the
/// detail of RabbitMQ's message.
fn expires_mismatch(received: Option<&AMQPValue>, current: Option<&AMQPValue>) -> Option<String> {
    match (received, current) {
        (None, None) => None,
        (None, Some(c)) => Some(format!(
            "received none but current is the value '{}' of type '{}'",
            render(c),
            type_name(c)
        )),
        (Some(r), None) => Some(format!(
            "received the value '{}' of type '{}' but current is none",
            render(r),
            type_name(r)
        )),
        (Some(r), Some(c)) => {
            let same = match (integer(r), integer(c)) {
                (Some(a), Some(b)) => a == b,
                _ => r == c,
            };
            (!same).then(|| format!("received '{}' but current is '{}'", render(r), render(c)))
        }
    }
}

/// A message as published, recorded by [`MemoryBroker::published`].
#[derive(Clone, Debug, PartialEq)]
pub struct PublishedMessage {
    /// The exchange it was published to (`""` is the default exchange).
    pub exchange: String,
    /// Its routing key.
    pub routing_key: String,
    /// Its body.
    pub body: Vec<u8>,
    /// Its properties (headers, content type, ...).
    pub properties: BasicProperties,
    /// The queues it was routed to, in name order (empty: dropped as unroutable).
    pub routed_to: Vec<String>,
}

/// A queue's binding, as listed by [`MemoryBroker::bindings`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The exchange the queue is bound to.
    pub exchange: String,
    /// The binding's routing key (a pattern for a topic exchange).
    pub routing_key: String,
}

/// One delivery to a [`MemoryConsumer`], like lapin's `Delivery`.
#[derive(Debug)]
pub struct MemoryDelivery {
    /// The delivery tag: per channel, counting from 1.
    pub delivery_tag: u64,
    /// The exchange the message was published to.
    pub exchange: String,
    /// The routing key it was published with.
    pub routing_key: String,
    /// Whether it was delivered before and requeued (nack/reject with requeue, or its
    /// channel closed before it was acknowledged).
    pub redelivered: bool,
    /// Its properties.
    pub properties: BasicProperties,
    /// Its body.
    pub data: Vec<u8>,
    /// Acknowledges this delivery.
    pub acker: MemoryAcker,
}

/// Settles one delivery, like lapin's `Acker`: single-use, and a no-op once its channel has
/// closed. Each method returns `Ok(true)` when it settled the delivery and `Ok(false)` when
/// the acker was already used or its channel is closed (the message then was, or will be,
/// requeued by the broker).
#[derive(Clone)]
pub struct MemoryAcker {
    broker: Weak<Inner>,
    channel: u64,
    delivery_tag: u64,
    used: Arc<AtomicBool>,
}

impl fmt::Debug for MemoryAcker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryAcker")
            .field("channel", &self.channel)
            .field("delivery_tag", &self.delivery_tag)
            .field("used", &self.used.load(Ordering::SeqCst))
            .finish()
    }
}

impl MemoryAcker {
    /// Acknowledges the delivery: the message leaves the queue.
    pub async fn ack(&self) -> Result<bool, AmqpError> {
        self.settle(Settle::Ack, "basic.ack")
    }

    /// Negatively acknowledges the delivery: with `requeue` the message goes back to its
    /// position in the queue, flagged redelivered; without, it is dropped.
    pub async fn nack(&self, requeue: bool) -> Result<bool, AmqpError> {
        self.settle(Settle::reject(requeue), "basic.nack")
    }

    /// Rejects the delivery; the same as [`nack`](Self::nack) for a single delivery.
    pub async fn reject(&self, requeue: bool) -> Result<bool, AmqpError> {
        self.settle(Settle::reject(requeue), "basic.reject")
    }

    fn settle(&self, how: Settle, method: &'static str) -> Result<bool, AmqpError> {
        let Some(inner) = self.broker.upgrade() else {
            return Ok(false);
        };
        let broker = MemoryBroker { inner };
        broker.mutate(|state, weak| {
            let open = state
                .channels
                .get(&self.channel)
                .is_some_and(|c| c.state == ChannelState::Connected);
            if !open || self.used.swap(true, Ordering::SeqCst) {
                return Ok(false);
            }
            state.settle(self.channel, self.delivery_tag, false, how, method, weak)?;
            Ok(true)
        })
    }
}

/// A consumer's deliveries, like lapin's `Consumer`: a [`Stream`] of deliveries that yields
/// the error that closed its channel (then ends), and ends when the consumer is cancelled.
#[derive(Debug)]
pub struct MemoryConsumer {
    tag: String,
    queue: String,
    rx: mpsc::UnboundedReceiver<Result<MemoryDelivery, AmqpError>>,
}

impl MemoryConsumer {
    /// The consumer tag (`amq.ctag-...`), for [`MemoryChannel::basic_cancel`].
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The queue it consumes from.
    pub fn queue(&self) -> &str {
        &self.queue
    }
}

impl Stream for MemoryConsumer {
    type Item = Result<MemoryDelivery, AmqpError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().rx.poll_recv(cx)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Settle {
    Ack,
    Requeue,
    Drop,
}

impl Settle {
    fn reject(requeue: bool) -> Self {
        if requeue {
            Self::Requeue
        } else {
            Self::Drop
        }
    }
}

struct Exchange {
    kind: ExchangeKind,
    durable: bool,
}

struct BindingEntry {
    exchange: String,
    queue: String,
    routing_key: String,
}

#[derive(Clone)]
struct Message {
    /// Publish order, which requeued messages keep their place by.
    seq: u64,
    exchange: String,
    routing_key: String,
    data: Vec<u8>,
    properties: BasicProperties,
    redelivered: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct ConsumerRef {
    channel: u64,
    consumer: u64,
}

struct Queue {
    durable: bool,
    expires: Option<AMQPValue>,
    ready: VecDeque<Message>,
    consumers: Vec<ConsumerRef>,
    /// Index in `consumers` of the next consumer in round-robin order.
    next: usize,
}

impl Queue {
    fn requeue(&mut self, mut message: Message) {
        message.redelivered = true;
        let at = self.ready.partition_point(|m| m.seq < message.seq);
        self.ready.insert(at, message);
    }

    fn remove_consumer(&mut self, consumer: ConsumerRef) {
        if let Some(i) = self.consumers.iter().position(|c| *c == consumer) {
            self.consumers.remove(i);
            if self.next > i {
                self.next -= 1;
            }
            if self.next >= self.consumers.len() {
                self.next = 0;
            }
        }
    }
}

struct ConsumerEntry {
    tag: String,
    queue: String,
    prefetch: u16,
    unacked: usize,
    tx: mpsc::UnboundedSender<Result<MemoryDelivery, AmqpError>>,
}

struct Unacked {
    queue: String,
    consumer: u64,
    message: Message,
}

struct Chan {
    state: ChannelState,
    close_reason: Option<AmqpError>,
    last_tag: u64,
    prefetch: u16,
    global_prefetch: u16,
    consumers: BTreeMap<u64, ConsumerEntry>,
    unacked: BTreeMap<u64, Unacked>,
}

impl Chan {
    fn can_take(&self, consumer: u64) -> bool {
        let Some(c) = self.consumers.get(&consumer) else {
            return false;
        };
        self.state == ChannelState::Connected
            && (c.prefetch == 0 || c.unacked < usize::from(c.prefetch))
            && (self.global_prefetch == 0 || self.unacked.len() < usize::from(self.global_prefetch))
    }
}

#[derive(Default)]
struct State {
    exchanges: BTreeMap<String, Exchange>,
    queues: BTreeMap<String, Queue>,
    bindings: Vec<BindingEntry>,
    channels: HashMap<u64, Chan>,
    published: Vec<PublishedMessage>,
    last_channel: u64,
    last_consumer: u64,
    last_seq: u64,
}

impl State {
    fn new() -> Self {
        let mut state = Self::default();
        for (name, kind) in [
            ("", ExchangeKind::Direct),
            ("amq.topic", ExchangeKind::Topic),
        ] {
            state.exchanges.insert(
                name.to_owned(),
                Exchange {
                    kind,
                    durable: true,
                },
            );
        }
        state
    }

    fn exchange_declare(
        &mut self,
        name: &str,
        kind: ExchangeKind,
        durable: bool,
    ) -> Result<(), AmqpError> {
        if name.is_empty() {
            return Err(default_exchange_refused());
        }
        if let Some(current) = self.exchanges.get(name) {
            let (received, existing) = (kind_name(&kind), kind_name(&current.kind));
            if received != existing {
                let detail = format!("received '{received}' but current is '{existing}'");
                return Err(inequivalent("type", "exchange", name, &detail));
            }
            if durable != current.durable {
                let detail = format!("received '{durable}' but current is '{}'", current.durable);
                return Err(inequivalent("durable", "exchange", name, &detail));
            }
            return Ok(());
        }
        if name.starts_with("amq.") {
            return Err(reserved_name("exchange", name));
        }
        if let ExchangeKind::Custom(other) = &kind {
            // a connection error on RabbitMQ (here it closes only the channel)
            return Err(AmqpError::hard(
                AMQPHardError::COMMANDINVALID,
                format!("COMMAND_INVALID - unknown exchange type '{other}'"),
            ));
        }
        self.exchanges
            .insert(name.to_owned(), Exchange { kind, durable });
        Ok(())
    }

    fn queue_declare(
        &mut self,
        name: &str,
        durable: bool,
        arguments: &FieldTable,
    ) -> Result<(u32, u32), AmqpError> {
        if name.is_empty() {
            return Err(AmqpError::hard(
                AMQPHardError::NOTIMPLEMENTED,
                "NOT_IMPLEMENTED - server-named queues are not emulated by MemoryBroker".to_owned(),
            ));
        }
        let expires = arguments.inner().get("x-expires").cloned();
        if let Some(current) = self.queues.get(name) {
            if durable != current.durable {
                let detail = format!("received '{durable}' but current is '{}'", current.durable);
                return Err(inequivalent("durable", "queue", name, &detail));
            }
            if let Some(detail) = expires_mismatch(expires.as_ref(), current.expires.as_ref()) {
                return Err(inequivalent("x-expires", "queue", name, &detail));
            }
            let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
            return Ok((count(current.ready.len()), count(current.consumers.len())));
        }
        if name.starts_with("amq.") {
            return Err(reserved_name("queue", name));
        }
        self.queues.insert(
            name.to_owned(),
            Queue {
                durable,
                expires,
                ready: VecDeque::new(),
                consumers: Vec::new(),
                next: 0,
            },
        );
        Ok((0, 0))
    }

    fn queue_bind(
        &mut self,
        queue: &str,
        exchange: &str,
        routing_key: &str,
    ) -> Result<(), AmqpError> {
        if exchange.is_empty() {
            return Err(default_exchange_refused());
        }
        if !self.exchanges.contains_key(exchange) {
            return Err(not_found_exchange(exchange));
        }
        if !self.queues.contains_key(queue) {
            return Err(not_found_queue(queue));
        }
        let exists = self
            .bindings
            .iter()
            .any(|b| b.queue == queue && b.exchange == exchange && b.routing_key == routing_key);
        if !exists {
            self.bindings.push(BindingEntry {
                exchange: exchange.to_owned(),
                queue: queue.to_owned(),
                routing_key: routing_key.to_owned(),
            });
        }
        Ok(())
    }

    fn queue_purge(&mut self, queue: &str) -> Result<u32, AmqpError> {
        let q = self
            .queues
            .get_mut(queue)
            .ok_or_else(|| not_found_queue(queue))?;
        let purged = q.ready.len();
        q.ready.clear();
        Ok(u32::try_from(purged).unwrap_or(u32::MAX))
    }

    fn queue_delete(&mut self, queue: &str) -> u32 {
        let Some(q) = self.queues.remove(queue) else {
            return 0;
        };
        self.bindings.retain(|b| b.queue != queue);
        for c in &q.consumers {
            // the broker cancels the consumers; dropping the sender ends their streams
            if let Some(chan) = self.channels.get_mut(&c.channel) {
                chan.consumers.remove(&c.consumer);
            }
        }
        u32::try_from(q.ready.len()).unwrap_or(u32::MAX)
    }

    fn publish(
        &mut self,
        exchange: &str,
        routing_key: &str,
        data: Vec<u8>,
        properties: BasicProperties,
        weak: &Weak<Inner>,
    ) -> Result<(), AmqpError> {
        let ex = self
            .exchanges
            .get(exchange)
            .ok_or_else(|| not_found_exchange(exchange))?;
        let mut targets: Vec<String> = if exchange.is_empty() {
            self.queues
                .contains_key(routing_key)
                .then(|| routing_key.to_owned())
                .into_iter()
                .collect()
        } else {
            self.bindings
                .iter()
                .filter(|b| b.exchange == exchange)
                .filter(|b| match &ex.kind {
                    ExchangeKind::Topic => topic_matches(&b.routing_key, routing_key),
                    ExchangeKind::Direct => b.routing_key == routing_key,
                    ExchangeKind::Fanout => true,
                    ExchangeKind::Headers | ExchangeKind::Custom(_) => false,
                })
                .map(|b| b.queue.clone())
                .collect()
        };
        targets.sort();
        targets.dedup();
        self.last_seq += 1;
        let message = Message {
            seq: self.last_seq,
            exchange: exchange.to_owned(),
            routing_key: routing_key.to_owned(),
            data,
            properties,
            redelivered: false,
        };
        for target in &targets {
            if let Some(q) = self.queues.get_mut(target) {
                q.ready.push_back(message.clone());
            }
        }
        self.published.push(PublishedMessage {
            exchange: message.exchange,
            routing_key: message.routing_key,
            body: message.data,
            properties: message.properties,
            routed_to: targets,
        });
        self.dispatch(weak);
        Ok(())
    }

    /// Delivers ready messages to consumers with room, round-robin, on every queue.
    fn dispatch(&mut self, weak: &Weak<Inner>) {
        let State {
            queues, channels, ..
        } = self;
        for (name, queue) in queues.iter_mut() {
            while !queue.ready.is_empty() && !queue.consumers.is_empty() {
                let n = queue.consumers.len();
                let Some(index) = (0..n).map(|i| (queue.next + i) % n).find(|&i| {
                    let c = queue.consumers[i];
                    channels
                        .get(&c.channel)
                        .is_some_and(|chan| chan.can_take(c.consumer))
                }) else {
                    break;
                };
                queue.next = (index + 1) % n;
                let target = queue.consumers[index];
                let (Some(chan), Some(message)) =
                    (channels.get_mut(&target.channel), queue.ready.pop_front())
                else {
                    break;
                };
                chan.last_tag += 1;
                let delivery_tag = chan.last_tag;
                if let Some(consumer) = chan.consumers.get_mut(&target.consumer) {
                    consumer.unacked += 1;
                    // a dropped (not cancelled) consumer keeps its deliveries unacked, as lapin
                    let _ = consumer.tx.send(Ok(MemoryDelivery {
                        delivery_tag,
                        exchange: message.exchange.clone(),
                        routing_key: message.routing_key.clone(),
                        redelivered: message.redelivered,
                        properties: message.properties.clone(),
                        data: message.data.clone(),
                        acker: MemoryAcker {
                            broker: weak.clone(),
                            channel: target.channel,
                            delivery_tag,
                            used: Arc::new(AtomicBool::new(false)),
                        },
                    }));
                }
                chan.unacked.insert(
                    delivery_tag,
                    Unacked {
                        queue: name.clone(),
                        consumer: target.consumer,
                        message,
                    },
                );
            }
        }
    }

    /// Acks, requeues or drops one delivery (or, with `multiple`, every one up to it).
    fn settle(
        &mut self,
        channel: u64,
        delivery_tag: u64,
        multiple: bool,
        how: Settle,
        method: &'static str,
        weak: &Weak<Inner>,
    ) -> Result<(), AmqpError> {
        let chan = self.open_channel(channel, method)?;
        let tags: Vec<u64> = if multiple && delivery_tag == 0 {
            chan.unacked.keys().copied().collect()
        } else if chan.unacked.contains_key(&delivery_tag) {
            if multiple {
                chan.unacked
                    .range(..=delivery_tag)
                    .map(|(t, _)| *t)
                    .collect()
            } else {
                vec![delivery_tag]
            }
        } else {
            // asynchronous in AMQP: the call succeeds, the broker closes the channel
            self.close_channel(
                channel,
                ChannelState::Closed,
                Some(unknown_delivery_tag(delivery_tag)),
                weak,
            );
            return Ok(());
        };
        let mut settled = Vec::with_capacity(tags.len());
        for tag in tags {
            if let Some(u) = chan.unacked.remove(&tag) {
                if let Some(c) = chan.consumers.get_mut(&u.consumer) {
                    c.unacked = c.unacked.saturating_sub(1);
                }
                settled.push(u);
            }
        }
        if how == Settle::Requeue {
            for u in settled {
                if let Some(q) = self.queues.get_mut(&u.queue) {
                    q.requeue(u.message);
                }
            }
        }
        self.dispatch(weak);
        Ok(())
    }

    fn open_channel(&mut self, channel: u64, method: &'static str) -> Result<&mut Chan, AmqpError> {
        match self.channels.get_mut(&channel) {
            Some(chan) if chan.state == ChannelState::Connected => Ok(chan),
            Some(chan) => Err(AmqpError::channel_state(chan.state, method)),
            None => Err(AmqpError::channel_state(ChannelState::Closed, method)),
        }
    }

    /// Closes a channel: its consumers' streams yield `error` (if any) and end, and its
    /// unacknowledged messages are requeued as redelivered.
    fn close_channel(
        &mut self,
        channel: u64,
        state: ChannelState,
        error: Option<AmqpError>,
        weak: &Weak<Inner>,
    ) {
        let Some(chan) = self.channels.get_mut(&channel) else {
            return;
        };
        if chan.state != ChannelState::Connected {
            return;
        }
        chan.state = state;
        chan.close_reason = error.clone();
        let consumers = std::mem::take(&mut chan.consumers);
        let unacked = std::mem::take(&mut chan.unacked);
        for (id, consumer) in consumers {
            if let Some(q) = self.queues.get_mut(&consumer.queue) {
                q.remove_consumer(ConsumerRef {
                    channel,
                    consumer: id,
                });
            }
            if let Some(e) = &error {
                let _ = consumer.tx.send(Err(e.clone()));
            }
        }
        for u in unacked.into_values() {
            if let Some(q) = self.queues.get_mut(&u.queue) {
                q.requeue(u.message);
            }
        }
        self.dispatch(weak);
    }

    fn unacked_of(&self, queue: &str) -> usize {
        self.channels
            .values()
            .flat_map(|c| c.unacked.values())
            .filter(|u| u.queue == queue)
            .count()
    }

    fn idle(&self) -> bool {
        let no_unacked = self.channels.values().all(|c| c.unacked.is_empty());
        no_unacked
            && self
                .queues
                .values()
                .all(|q| q.consumers.is_empty() || q.ready.is_empty())
    }
}

struct Inner {
    state: Mutex<State>,
    /// Bumped after every change, for [`MemoryBroker::wait_idle`].
    changes: watch::Sender<u64>,
}

/// An in-memory RabbitMQ: exchanges, queues, bindings, channels and consumers with
/// RabbitMQ's semantics (see the [module documentation](self) for what is emulated).
///
/// A cheap `Clone` handle; all clones share one broker, usable from any thread.
///
/// ```
/// # use tomodachi::testing::amqp::MemoryBroker;
/// # use futures_util::StreamExt;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tomodachi::testing::amqp::AmqpError> {
/// let broker = MemoryBroker::new();
/// broker.queue_declare("orders", true, Default::default())?;
/// broker.queue_bind("orders", "amq.topic", "orders.*")?;
///
/// let channel = broker.channel();
/// channel.basic_qos(10, false).await?;
/// let mut consumer = channel.basic_consume("orders").await?;
///
/// broker.basic_publish("amq.topic", "orders.created", b"{}".to_vec(), Default::default())?;
/// if let Some(delivery) = consumer.next().await {
///     let delivery = delivery?;
///     assert_eq!(delivery.routing_key, "orders.created");
///     delivery.acker.ack().await?;
/// }
///
/// broker.wait_idle().await;
/// assert_eq!(broker.queue_depth("orders"), Some((0, 0)));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryBroker {
    inner: Arc<Inner>,
}

impl fmt::Debug for MemoryBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBroker")
            .field("queues", &self.queues())
            .finish_non_exhaustive()
    }
}

impl Default for MemoryBroker {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryBroker {
    /// A broker with the default exchange `""` and `amq.topic`, and nothing else.
    pub fn new() -> Self {
        let (changes, _) = watch::channel(0);
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::new()),
                changes,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs a change and then wakes [`wait_idle`](Self::wait_idle) waiters.
    fn mutate<T>(&self, f: impl FnOnce(&mut State, &Weak<Inner>) -> T) -> T {
        let weak = Arc::downgrade(&self.inner);
        let out = {
            let mut state = self.lock();
            f(&mut state, &weak)
        };
        self.inner.changes.send_modify(|n| *n = n.wrapping_add(1));
        out
    }

    /// Opens a channel (on a connection of its own; it never fails, also after
    /// [`disconnect_all`](Self::disconnect_all)).
    pub fn channel(&self) -> MemoryChannel {
        let id = self.mutate(|state, _| {
            state.last_channel += 1;
            let id = state.last_channel;
            state.channels.insert(
                id,
                Chan {
                    state: ChannelState::Connected,
                    close_reason: None,
                    last_tag: 0,
                    prefetch: 0,
                    global_prefetch: 0,
                    consumers: BTreeMap::new(),
                    unacked: BTreeMap::new(),
                },
            );
            id
        });
        MemoryChannel {
            broker: self.clone(),
            id,
        }
    }

    /// Declares an exchange, or checks an existing one is equivalent (same kind, then same
    /// durability: else `PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'x' in
    /// vhost '/': received 'direct' but current is 'topic'`). The default exchange and new
    /// `amq.*` names are refused with `ACCESS_REFUSED`.
    pub fn exchange_declare(
        &self,
        name: &str,
        kind: ExchangeKind,
        durable: bool,
    ) -> Result<(), AmqpError> {
        self.mutate(|state, _| state.exchange_declare(name, kind, durable))
    }

    /// Declares a queue, or checks an existing one is equivalent (`durable`, then
    /// `x-expires`); returns its ready message count and its consumer count.
    pub fn queue_declare(
        &self,
        name: &str,
        durable: bool,
        arguments: FieldTable,
    ) -> Result<(u32, u32), AmqpError> {
        self.mutate(|state, _| state.queue_declare(name, durable, &arguments))
    }

    /// Binds a queue to an exchange with a routing key (a pattern for a topic exchange).
    /// Fails with `NOT_FOUND` for a missing exchange (checked first) or queue.
    pub fn queue_bind(
        &self,
        queue: &str,
        exchange: &str,
        routing_key: &str,
    ) -> Result<(), AmqpError> {
        self.mutate(|state, _| state.queue_bind(queue, exchange, routing_key))
    }

    /// Deletes a queue with its bindings, cancelling its consumers (their streams end);
    /// returns how many ready messages it held. Deleting a missing queue returns 0.
    pub fn queue_delete(&self, queue: &str) -> u32 {
        self.mutate(|state, _| state.queue_delete(queue))
    }

    /// Removes a queue's ready messages (not the unacknowledged ones); returns how many.
    pub fn queue_purge(&self, queue: &str) -> Result<u32, AmqpError> {
        self.mutate(|state, _| state.queue_purge(queue))
    }

    /// Publishes a message: routes it to every queue a binding of the exchange matches (the
    /// default exchange `""`: to the queue named `routing_key`); unroutable messages are
    /// dropped. A missing exchange fails with `NOT_FOUND - no exchange 'x' in vhost '/'`.
    pub fn basic_publish(
        &self,
        exchange: &str,
        routing_key: &str,
        body: Vec<u8>,
        properties: BasicProperties,
    ) -> Result<(), AmqpError> {
        self.mutate(|state, weak| state.publish(exchange, routing_key, body, properties, weak))
    }

    /// Drops every connection, as a broker restart or network failure does: every open
    /// channel closes, consumer streams yield `CONNECTION_FORCED - broker forced connection
    /// closure with reason 'shutdown'` and end, unacknowledged messages are requeued as
    /// redelivered, and operations on the old channels fail with `invalid channel state:
    /// Error (...)`. Exchanges, queues, bindings and messages survive.
    pub fn disconnect_all(&self) {
        self.disconnect_all_with_reason(SHUTDOWN_REASON);
    }

    /// [`disconnect_all`](Self::disconnect_all) with `CONNECTION_FORCED - <reason>`, like
    /// `rabbitmqctl close_connection <connection> <reason>`.
    pub fn disconnect_all_with_reason(&self, reason: &str) {
        let error = AmqpError::hard(
            AMQPHardError::CONNECTIONFORCED,
            format!("CONNECTION_FORCED - {reason}"),
        );
        self.mutate(|state, weak| {
            let mut open: Vec<u64> = state
                .channels
                .iter()
                .filter(|(_, c)| c.state == ChannelState::Connected)
                .map(|(id, _)| *id)
                .collect();
            open.sort_unstable();
            for id in open {
                state.close_channel(id, ChannelState::Error, Some(error.clone()), weak);
            }
        });
    }

    /// Every message published so far, accepted by an exchange, in publish order.
    pub fn published(&self) -> Vec<PublishedMessage> {
        self.lock().published.clone()
    }

    /// A queue's `(ready, unacknowledged)` message counts; `None` if it does not exist.
    pub fn queue_depth(&self, queue: &str) -> Option<(usize, usize)> {
        let state = self.lock();
        let ready = state.queues.get(queue)?.ready.len();
        Some((ready, state.unacked_of(queue)))
    }

    /// How many consumers a queue has; `None` if it does not exist.
    pub fn consumer_count(&self, queue: &str) -> Option<usize> {
        self.lock().queues.get(queue).map(|q| q.consumers.len())
    }

    /// The names of all queues, sorted.
    pub fn queues(&self) -> Vec<String> {
        self.lock().queues.keys().cloned().collect()
    }

    /// The names of all exchanges (with `""` and `amq.topic`), sorted.
    pub fn exchanges(&self) -> Vec<String> {
        self.lock().exchanges.keys().cloned().collect()
    }

    /// A queue's bindings in the order they were made (without the implicit binding to the
    /// default exchange).
    pub fn bindings(&self, queue: &str) -> Vec<Binding> {
        self.lock()
            .bindings
            .iter()
            .filter(|b| b.queue == queue)
            .map(|b| Binding {
                exchange: b.exchange.clone(),
                routing_key: b.routing_key.clone(),
            })
            .collect()
    }

    /// Whether every queue with consumers has no ready messages and no channel has
    /// unacknowledged deliveries.
    pub fn is_idle(&self) -> bool {
        self.lock().idle()
    }

    /// Resolves once the broker [is idle](Self::is_idle): every delivery was settled and no
    /// consumed queue has messages waiting. It waits for changes (no polling or sleeping), so
    /// it is safe under tokio's paused time; it waits forever if consumers never settle.
    pub async fn wait_idle(&self) {
        let mut changes = self.inner.changes.subscribe();
        loop {
            if self.is_idle() {
                return;
            }
            if changes.changed().await.is_err() {
                return;
            }
        }
    }
}

/// A channel on a [`MemoryBroker`], with the lapin `Channel` operations tomodachi's AMQP
/// transport uses. A failed operation closes the channel, as RabbitMQ does; later operations
/// fail with `invalid channel state: Closed (<method>)`.
#[derive(Clone)]
pub struct MemoryChannel {
    broker: MemoryBroker,
    id: u64,
}

impl fmt::Debug for MemoryChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryChannel")
            .field("id", &self.id)
            .field("status", &self.status())
            .finish()
    }
}

impl MemoryChannel {
    /// Runs an operation on the open channel; its failure closes the channel.
    fn op<T>(
        &self,
        method: &'static str,
        f: impl FnOnce(&mut State, &Weak<Inner>) -> Result<T, AmqpError>,
    ) -> Result<T, AmqpError> {
        self.broker.mutate(|state, weak| {
            state.open_channel(self.id, method)?;
            let out = f(state, weak);
            if let Err(e) = &out {
                let closed = if e.is_connection_error() {
                    ChannelState::Error
                } else {
                    ChannelState::Closed
                };
                state.close_channel(self.id, closed, Some(e.clone()), weak);
            }
            out
        })
    }

    /// The channel's number (unique within its broker).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// `Connected`, `Closed` (closed by the client or by a channel error) or `Error` (its
    /// connection was dropped).
    pub fn status(&self) -> ChannelState {
        self.broker
            .lock()
            .channels
            .get(&self.id)
            .map_or(ChannelState::Closed, |c| c.state)
    }

    /// The error the broker closed the channel with, if it did.
    pub fn close_reason(&self) -> Option<AmqpError> {
        self.broker
            .lock()
            .channels
            .get(&self.id)
            .and_then(|c| c.close_reason.clone())
    }

    /// Sets the prefetch limit: with `global = false` for each consumer started afterwards on
    /// this channel, with `global = true` for the whole channel (RabbitMQ's meaning); 0 is
    /// unlimited.
    pub async fn basic_qos(&self, prefetch_count: u16, global: bool) -> Result<(), AmqpError> {
        self.op("basic.qos", |state, weak| {
            if let Some(chan) = state.channels.get_mut(&self.id) {
                if global {
                    chan.global_prefetch = prefetch_count;
                } else {
                    chan.prefetch = prefetch_count;
                }
            }
            state.dispatch(weak);
            Ok(())
        })
    }

    /// Starts a consumer on a queue (`NOT_FOUND - no queue 'q' in vhost '/'` if missing).
    pub async fn basic_consume(&self, queue: &str) -> Result<MemoryConsumer, AmqpError> {
        self.op("basic.consume", |state, weak| {
            let prefetch = state.channels.get(&self.id).map_or(0, |c| c.prefetch);
            state.last_consumer += 1;
            let id = state.last_consumer;
            let q = state
                .queues
                .get_mut(queue)
                .ok_or_else(|| not_found_queue(queue))?;
            q.consumers.push(ConsumerRef {
                channel: self.id,
                consumer: id,
            });
            let tag = format!("amq.ctag-memory-{id:013}");
            let (tx, rx) = mpsc::unbounded_channel();
            if let Some(chan) = state.channels.get_mut(&self.id) {
                chan.consumers.insert(
                    id,
                    ConsumerEntry {
                        tag: tag.clone(),
                        queue: queue.to_owned(),
                        prefetch,
                        unacked: 0,
                        tx,
                    },
                );
            }
            state.dispatch(weak);
            Ok(MemoryConsumer {
                tag,
                queue: queue.to_owned(),
                rx,
            })
        })
    }

    /// Cancels a consumer: its stream ends after the deliveries already sent. Its
    /// unacknowledged deliveries stay on the channel and can still be settled (they are
    /// requeued if the channel closes first). An unknown tag is ignored, as by RabbitMQ.
    pub async fn basic_cancel(&self, consumer_tag: &str) -> Result<(), AmqpError> {
        self.op("basic.cancel", |state, weak| {
            let Some(chan) = state.channels.get_mut(&self.id) else {
                return Ok(());
            };
            let Some(id) = chan
                .consumers
                .iter()
                .find(|(_, c)| c.tag == consumer_tag)
                .map(|(id, _)| *id)
            else {
                return Ok(());
            };
            if let Some(consumer) = chan.consumers.remove(&id) {
                if let Some(q) = state.queues.get_mut(&consumer.queue) {
                    q.remove_consumer(ConsumerRef {
                        channel: self.id,
                        consumer: id,
                    });
                }
            }
            state.dispatch(weak);
            Ok(())
        })
    }

    /// Closes the channel: its consumer streams end and its unacknowledged messages are
    /// requeued as redelivered. Closing a closed channel fails, as with lapin.
    pub async fn close(&self) -> Result<(), AmqpError> {
        self.broker.mutate(|state, weak| {
            state.open_channel(self.id, "channel.close")?;
            state.close_channel(self.id, ChannelState::Closed, None, weak);
            Ok(())
        })
    }

    /// [`MemoryBroker::exchange_declare`] on this channel.
    pub async fn exchange_declare(
        &self,
        name: &str,
        kind: ExchangeKind,
        durable: bool,
    ) -> Result<(), AmqpError> {
        self.op("exchange.declare", |state, _| {
            state.exchange_declare(name, kind, durable)
        })
    }

    /// [`MemoryBroker::queue_declare`] on this channel.
    pub async fn queue_declare(
        &self,
        name: &str,
        durable: bool,
        arguments: FieldTable,
    ) -> Result<(u32, u32), AmqpError> {
        self.op("queue.declare", |state, _| {
            state.queue_declare(name, durable, &arguments)
        })
    }

    /// [`MemoryBroker::queue_bind`] on this channel.
    pub async fn queue_bind(
        &self,
        queue: &str,
        exchange: &str,
        routing_key: &str,
    ) -> Result<(), AmqpError> {
        self.op("queue.bind", |state, _| {
            state.queue_bind(queue, exchange, routing_key)
        })
    }

    /// [`MemoryBroker::queue_delete`] on this channel.
    pub async fn queue_delete(&self, queue: &str) -> Result<u32, AmqpError> {
        self.op("queue.delete", |state, _| Ok(state.queue_delete(queue)))
    }

    /// [`MemoryBroker::queue_purge`] on this channel.
    pub async fn queue_purge(&self, queue: &str) -> Result<u32, AmqpError> {
        self.op("queue.purge", |state, _| state.queue_purge(queue))
    }

    /// [`MemoryBroker::basic_publish`] on this channel, as with publisher confirms: a
    /// missing exchange fails the call and closes the channel.
    pub async fn basic_publish(
        &self,
        exchange: &str,
        routing_key: &str,
        body: Vec<u8>,
        properties: BasicProperties,
    ) -> Result<(), AmqpError> {
        self.op("basic.publish", |state, weak| {
            state.publish(exchange, routing_key, body, properties, weak)
        })
    }

    /// Acknowledges a delivery by tag (with `multiple`, every one up to it; tag 0 with
    /// `multiple` is all). An unknown or already settled tag closes the channel with
    /// `PRECONDITION_FAILED - unknown delivery tag N` (the call itself succeeds, as AMQP's
    /// acks are asynchronous).
    pub async fn basic_ack(&self, delivery_tag: u64, multiple: bool) -> Result<(), AmqpError> {
        self.broker.mutate(|state, weak| {
            state.settle(
                self.id,
                delivery_tag,
                multiple,
                Settle::Ack,
                "basic.ack",
                weak,
            )
        })
    }

    /// Negatively acknowledges by tag, like [`basic_ack`](Self::basic_ack); with `requeue`
    /// the messages go back to their positions, flagged redelivered, else they are dropped.
    pub async fn basic_nack(
        &self,
        delivery_tag: u64,
        multiple: bool,
        requeue: bool,
    ) -> Result<(), AmqpError> {
        self.broker.mutate(|state, weak| {
            let how = Settle::reject(requeue);
            state.settle(self.id, delivery_tag, multiple, how, "basic.nack", weak)
        })
    }

    /// Rejects one delivery by tag, like [`basic_nack`](Self::basic_nack) without `multiple`.
    pub async fn basic_reject(&self, delivery_tag: u64, requeue: bool) -> Result<(), AmqpError> {
        self.broker.mutate(|state, weak| {
            let how = Settle::reject(requeue);
            state.settle(self.id, delivery_tag, false, how, "basic.reject", weak)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{FutureExt, StreamExt};
    use std::time::Duration;

    fn expires(ms: i32) -> FieldTable {
        let mut t = FieldTable::default();
        t.insert("x-expires".into(), AMQPValue::LongInt(ms));
        t
    }

    fn body(d: &MemoryDelivery) -> &str {
        std::str::from_utf8(&d.data).unwrap()
    }

    /// The next delivery already sent to the consumer, without waiting.
    fn ready(c: &mut MemoryConsumer) -> Option<Result<MemoryDelivery, AmqpError>> {
        c.next().now_or_never().flatten()
    }

    fn nothing_ready(c: &mut MemoryConsumer) -> bool {
        c.next().now_or_never().is_none()
    }

    fn publish(b: &MemoryBroker, exchange: &str, key: &str, body: &str) {
        b.basic_publish(
            exchange,
            key,
            body.as_bytes().to_vec(),
            BasicProperties::default(),
        )
        .unwrap();
    }

    fn queue(b: &MemoryBroker, name: &str) {
        b.queue_declare(name, true, FieldTable::default()).unwrap();
    }

    #[test]
    fn topic_routing_follows_bindings() {
        let b = MemoryBroker::new();
        b.exchange_declare("events", ExchangeKind::Topic, true)
            .unwrap();
        for q in ["one", "all", "created", "twice"] {
            queue(&b, q);
        }
        b.queue_bind("one", "events", "orders.*").unwrap();
        b.queue_bind("all", "events", "orders.#").unwrap();
        b.queue_bind("created", "events", "#.created").unwrap();
        b.queue_bind("twice", "events", "orders.#").unwrap();
        b.queue_bind("twice", "events", "#").unwrap();
        b.queue_bind("twice", "events", "#").unwrap();
        publish(&b, "events", "orders.eu.created", "a");
        publish(&b, "events", "orders.new", "b");
        publish(&b, "events", "orders", "c");
        publish(&b, "events", "users.created", "d");
        let routed: Vec<Vec<String>> = b.published().into_iter().map(|p| p.routed_to).collect();
        assert_eq!(
            routed,
            vec![
                vec!["all", "created", "twice"],
                vec!["all", "one", "twice"],
                vec!["all", "twice"],
                vec!["created", "twice"],
            ]
        );
        assert_eq!(b.queue_depth("all"), Some((3, 0)));
        assert_eq!(b.queue_depth("twice"), Some((4, 0)), "one copy per queue");
        assert_eq!(b.bindings("twice").len(), 2, "duplicate bindings collapse");
        assert_eq!(
            b.bindings("one"),
            vec![Binding {
                exchange: "events".into(),
                routing_key: "orders.*".into()
            }]
        );
        // amq.topic is pre-declared
        b.queue_bind("one", "amq.topic", "x.*").unwrap();
        publish(&b, "amq.topic", "x.y", "e");
        assert_eq!(b.queue_depth("one"), Some((2, 0)));
        // an unroutable message is dropped but recorded
        b.exchange_declare("unbound", ExchangeKind::Topic, true)
            .unwrap();
        publish(&b, "unbound", "nobody", "f");
        assert_eq!(
            b.published().last().unwrap().routed_to,
            Vec::<String>::new()
        );
    }

    #[test]
    fn direct_and_fanout_exchanges() {
        let b = MemoryBroker::new();
        b.exchange_declare("d", ExchangeKind::Direct, true).unwrap();
        b.exchange_declare("f", ExchangeKind::Fanout, false)
            .unwrap();
        queue(&b, "q1");
        queue(&b, "q2");
        b.queue_bind("q1", "d", "a.*").unwrap();
        b.queue_bind("q2", "d", "a.b").unwrap();
        b.queue_bind("q1", "f", "ignored").unwrap();
        b.queue_bind("q2", "f", "").unwrap();
        publish(&b, "d", "a.b", "1");
        publish(&b, "d", "a.*", "2");
        publish(&b, "f", "whatever", "3");
        let routed: Vec<Vec<String>> = b.published().into_iter().map(|p| p.routed_to).collect();
        assert_eq!(routed, vec![vec!["q2"], vec!["q1"], vec!["q1", "q2"]]);
    }

    #[tokio::test]
    async fn the_default_exchange_routes_by_queue_name() {
        let b = MemoryBroker::new();
        queue(&b, "orders");
        let mut props = BasicProperties::default().with_content_type("application/json".into());
        props = props.with_message_id("m-1".into());
        b.basic_publish("", "orders", b"{}".to_vec(), props.clone())
            .unwrap();
        publish(&b, "", "missing", "dropped");
        assert_eq!(b.queue_depth("orders"), Some((1, 0)));
        assert_eq!(b.queues(), vec!["orders"]);
        let published = b.published();
        assert_eq!(published.len(), 2);
        assert_eq!(published[0].properties, props);
        assert!(published[1].routed_to.is_empty());

        let ch = b.channel();
        let mut c = ch.basic_consume("orders").await.unwrap();
        let d = ready(&mut c).unwrap().unwrap();
        assert_eq!(
            (d.exchange.as_str(), d.routing_key.as_str()),
            ("", "orders")
        );
        assert_eq!(d.delivery_tag, 1);
        assert!(!d.redelivered);
        assert_eq!(d.properties, props);
        // binding to (or declaring) the default exchange is refused
        let err = b.queue_bind("orders", "", "x").unwrap_err();
        assert_eq!(err.to_string(), verified::DEFAULT_EXCHANGE);
        let err = b
            .exchange_declare("", ExchangeKind::Direct, true)
            .unwrap_err();
        assert_eq!(err.to_string(), verified::DEFAULT_EXCHANGE);
        assert_eq!(err.reply_code(), Some(403));
    }

    #[tokio::test]
    async fn competing_consumers_take_turns() {
        let b = MemoryBroker::new();
        queue(&b, "work");
        let (ch1, ch2) = (b.channel(), b.channel());
        let mut c1 = ch1.basic_consume("work").await.unwrap();
        let mut c2 = ch2.basic_consume("work").await.unwrap();
        assert_ne!(c1.tag(), c2.tag());
        assert_eq!(
            b.queue_declare("work", true, FieldTable::default())
                .unwrap(),
            (0, 2)
        );
        for i in 1..=6 {
            publish(&b, "", "work", &i.to_string());
        }
        let got1: Vec<String> = std::iter::from_fn(|| ready(&mut c1))
            .map(|d| body(&d.unwrap()).to_owned())
            .collect();
        let got2: Vec<String> = std::iter::from_fn(|| ready(&mut c2))
            .map(|d| body(&d.unwrap()).to_owned())
            .collect();
        assert_eq!(got1, vec!["1", "3", "5"]);
        assert_eq!(got2, vec!["2", "4", "6"]);
        assert_eq!(b.queue_depth("work"), Some((0, 6)));
    }

    #[tokio::test]
    async fn the_per_consumer_prefetch_limit_is_respected() {
        let b = MemoryBroker::new();
        queue(&b, "q");
        for i in 1..=5 {
            publish(&b, "", "q", &i.to_string());
        }
        let ch = b.channel();
        ch.basic_qos(2, false).await.unwrap();
        let mut c = ch.basic_consume("q").await.unwrap();
        let d1 = ready(&mut c).unwrap().unwrap();
        let d2 = ready(&mut c).unwrap().unwrap();
        assert!(nothing_ready(&mut c));
        assert_eq!(b.queue_depth("q"), Some((3, 2)));
        assert_eq!(
            b.queue_declare("q", true, FieldTable::default()).unwrap(),
            (3, 1)
        );
        assert!(d1.acker.ack().await.unwrap());
        let d3 = ready(&mut c).unwrap().unwrap();
        assert_eq!((body(&d2), body(&d3)), ("2", "3"));
        assert_eq!(d3.delivery_tag, 3);
        assert!(nothing_ready(&mut c));
        // a later per-consumer qos applies to later consumers only
        ch.basic_qos(1, false).await.unwrap();
        assert!(nothing_ready(&mut c));
        let mut c2 = ch.basic_consume("q").await.unwrap();
        assert_eq!(body(&ready(&mut c2).unwrap().unwrap()), "4");
        assert!(nothing_ready(&mut c2));
        assert_eq!(b.queue_depth("q"), Some((1, 3)));
    }

    #[tokio::test]
    async fn the_global_prefetch_limit_is_shared_by_the_channel() {
        let b = MemoryBroker::new();
        queue(&b, "a");
        queue(&b, "b");
        let ch = b.channel();
        ch.basic_qos(10, false).await.unwrap();
        ch.basic_qos(3, true).await.unwrap();
        let mut ca = ch.basic_consume("a").await.unwrap();
        let mut cb = ch.basic_consume("b").await.unwrap();
        for i in 0..4 {
            publish(&b, "", "a", &format!("a{i}"));
            publish(&b, "", "b", &format!("b{i}"));
        }
        let a: Vec<MemoryDelivery> = std::iter::from_fn(|| ready(&mut ca))
            .map(Result::unwrap)
            .collect();
        let bb: Vec<MemoryDelivery> = std::iter::from_fn(|| ready(&mut cb))
            .map(Result::unwrap)
            .collect();
        assert_eq!(a.len() + bb.len(), 3);
        let (ra, ua) = b.queue_depth("a").unwrap();
        let (rb, ub) = b.queue_depth("b").unwrap();
        assert_eq!((ra + rb, ua + ub), (5, 3));
        a.first().or(bb.first()).unwrap().acker.ack().await.unwrap();
        let more = ready(&mut ca).or_else(|| ready(&mut cb));
        assert!(more.is_some());
        assert!(nothing_ready(&mut ca) && nothing_ready(&mut cb));
        // raising the limit delivers at once
        ch.basic_qos(0, true).await.unwrap();
        assert_eq!(
            b.queue_depth("a").unwrap().0 + b.queue_depth("b").unwrap().0,
            0
        );
    }

    #[tokio::test]
    async fn nack_and_reject_requeue_or_drop() {
        let b = MemoryBroker::new();
        queue(&b, "q");
        for m in ["m1", "m2", "m3"] {
            publish(&b, "", "q", m);
        }
        let ch = b.channel();
        ch.basic_qos(2, false).await.unwrap();
        let mut c = ch.basic_consume("q").await.unwrap();
        let d1 = ready(&mut c).unwrap().unwrap();
        let d2 = ready(&mut c).unwrap().unwrap();
        // requeued at its original position: before m3
        assert!(d1.acker.nack(true).await.unwrap());
        let again = ready(&mut c).unwrap().unwrap();
        assert_eq!(
            (body(&again), again.redelivered, again.delivery_tag),
            ("m1", true, 3)
        );
        assert!(d2.acker.reject(true).await.unwrap());
        let d2b = ready(&mut c).unwrap().unwrap();
        assert_eq!((body(&d2b), d2b.redelivered), ("m2", true));
        // without requeue the message is gone
        assert!(again.acker.nack(false).await.unwrap());
        assert!(d2b.acker.reject(false).await.unwrap());
        let d3 = ready(&mut c).unwrap().unwrap();
        assert_eq!((body(&d3), d3.redelivered), ("m3", false));
        assert!(d3.acker.ack().await.unwrap());
        assert_eq!(b.queue_depth("q"), Some((0, 0)));
        // an acker is single-use
        assert!(!d3.acker.ack().await.unwrap());
        assert!(!d3.acker.nack(true).await.unwrap());
        assert_eq!(ch.status(), ChannelState::Connected);
    }

    #[tokio::test]
    async fn acking_a_tag_twice_closes_the_channel() {
        let b = MemoryBroker::new();
        queue(&b, "q");
        publish(&b, "", "q", "a");
        publish(&b, "", "q", "b");
        let ch = b.channel();
        ch.basic_qos(1, false).await.unwrap();
        let mut c = ch.basic_consume("q").await.unwrap();
        let d = ready(&mut c).unwrap().unwrap();
        ch.basic_ack(d.delivery_tag, false).await.unwrap();
        let d2 = ready(&mut c).unwrap().unwrap();
        assert_eq!(d2.delivery_tag, 2);
        ch.basic_ack(1, false).await.unwrap(); // asynchronous: the broker closes the channel
        let err = ready(&mut c).unwrap().unwrap_err();
        assert_eq!(err.to_string(), verified::UNKNOWN_TAG);
        assert_eq!(
            format!("{err:?}"),
            "Error { kind: ProtocolError(AMQPError { kind: Soft(PRECONDITIONFAILED), message: \
             ShortString(\"PRECONDITION_FAILED - unknown delivery tag 1\") }), notifier: None }"
        );
        assert!(ready(&mut c).is_none(), "the stream ends");
        assert_eq!(ch.status(), ChannelState::Closed);
        assert_eq!(ch.close_reason(), Some(err));
        // the unacked delivery was requeued; the acker is poisoned
        assert_eq!(b.queue_depth("q"), Some((1, 0)));
        assert!(!d2.acker.ack().await.unwrap());
        let err = ch
            .queue_declare("q", true, FieldTable::default())
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), verified::CLOSED_QUEUE_DECLARE);
        assert_eq!(err.reply_code(), None);
        let err = ch.close().await.unwrap_err();
        assert_eq!(err.to_string(), verified::CLOSED_CHANNEL_CLOSE);
        // an unknown tag (nack) closes a channel too
        let ch = b.channel();
        ch.basic_nack(7, false, true).await.unwrap();
        assert_eq!(
            ch.close_reason().unwrap().reply_text(),
            Some("PRECONDITION_FAILED - unknown delivery tag 7")
        );
    }

    #[tokio::test]
    async fn multiple_acks_settle_everything_up_to_the_tag() {
        let b = MemoryBroker::new();
        queue(&b, "q");
        for i in 0..4 {
            publish(&b, "", "q", &i.to_string());
        }
        let ch = b.channel();
        let mut c = ch.basic_consume("q").await.unwrap();
        let all: Vec<MemoryDelivery> = std::iter::from_fn(|| ready(&mut c))
            .map(Result::unwrap)
            .collect();
        assert_eq!(all.len(), 4);
        ch.basic_ack(2, true).await.unwrap();
        assert_eq!(b.queue_depth("q"), Some((0, 2)));
        ch.basic_nack(0, true, true).await.unwrap();
        let again: Vec<u64> = std::iter::from_fn(|| ready(&mut c))
            .map(|d| d.unwrap().delivery_tag)
            .collect();
        assert_eq!(again, vec![5, 6]);
    }

    #[tokio::test]
    async fn cancel_ends_the_stream_and_keeps_deliveries_ackable() {
        let b = MemoryBroker::new();
        queue(&b, "q");
        for m in ["a", "b", "c"] {
            publish(&b, "", "q", m);
        }
        let ch = b.channel();
        ch.basic_qos(2, false).await.unwrap();
        let mut c = ch.basic_consume("q").await.unwrap();
        let da = ready(&mut c).unwrap().unwrap();
        let db = ready(&mut c).unwrap().unwrap();
        ch.basic_cancel(c.tag()).await.unwrap();
        ch.basic_cancel("no-such-tag").await.unwrap();
        assert!(ready(&mut c).is_none(), "the stream ends");
        assert_eq!(b.consumer_count("q"), Some(0));
        assert_eq!(b.queue_depth("q"), Some((1, 2)));
        // RabbitMQ keeps them unacked on the channel: still ackable
        assert!(da.acker.ack().await.unwrap());
        assert_eq!(b.queue_depth("q"), Some((1, 1)));
        // closing the channel requeues the rest as redelivered
        ch.close().await.unwrap();
        assert!(!db.acker.ack().await.unwrap());
        assert_eq!(b.queue_depth("q"), Some((2, 0)));
        let err = ch.basic_consume("q").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid channel state: Closed (basic.consume)"
        );
        let mut c2 = b.channel().basic_consume("q").await.unwrap();
        let d = ready(&mut c2).unwrap().unwrap();
        assert_eq!((body(&d), d.redelivered, d.delivery_tag), ("b", true, 1));
        let d = ready(&mut c2).unwrap().unwrap();
        assert_eq!((body(&d), d.redelivered), ("c", false));
    }

    #[tokio::test]
    async fn disconnect_all_drops_every_channel() {
        let b = MemoryBroker::new();
        queue(&b, "q");
        publish(&b, "", "q", "x");
        let ch = b.channel();
        let mut c = ch.basic_consume("q").await.unwrap();
        let d = ready(&mut c).unwrap().unwrap();
        b.disconnect_all_with_reason("kit simulated drop");
        let err = ready(&mut c).unwrap().unwrap_err();
        assert_eq!(err.to_string(), verified::CONNECTION_FORCED);
        assert!(err.is_connection_error() && !err.is_channel_error());
        assert_eq!(err.reply_code(), Some(320));
        assert!(ready(&mut c).is_none(), "the stream ends");
        assert_eq!(ch.status(), ChannelState::Error);
        assert!(!d.acker.ack().await.unwrap());
        let err = ch
            .queue_declare("q", true, FieldTable::default())
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), verified::ERROR_QUEUE_DECLARE);
        assert_eq!(b.queue_depth("q"), Some((1, 0)));
        assert_eq!(b.consumer_count("q"), Some(0));
        // reconnecting: a new channel gets the message again
        let ch = b.channel();
        let mut c = ch.basic_consume("q").await.unwrap();
        let d = ready(&mut c).unwrap().unwrap();
        assert!(d.redelivered);
        b.disconnect_all();
        let err = ready(&mut c).unwrap().unwrap_err();
        assert_eq!(
            err.reply_text(),
            Some("CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'")
        );
    }

    #[tokio::test]
    async fn publishing_to_a_missing_exchange_closes_the_channel() {
        let b = MemoryBroker::new();
        let err = b
            .basic_publish("nope", "rk", b"x".to_vec(), BasicProperties::default())
            .unwrap_err();
        assert_eq!(err.to_string(), verified::NO_EXCHANGE);
        assert_eq!(
            format!("{err:?}"),
            "Error { kind: ProtocolError(AMQPError { kind: Soft(NOTFOUND), message: \
             ShortString(\"NOT_FOUND - no exchange 'nope' in vhost '/'\") }), notifier: None }"
        );
        assert_eq!(
            lapin::Error::from(err.clone()).to_string(),
            verified::NO_EXCHANGE
        );
        assert!(b.published().is_empty());

        queue(&b, "q");
        let ch = b.channel();
        let mut c = ch.basic_consume("q").await.unwrap();
        let err = ch
            .basic_publish("nope", "rk", b"x".to_vec(), BasicProperties::default())
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), verified::NO_EXCHANGE);
        assert!(err.is_channel_error());
        assert_eq!(err.reply_code(), Some(404));
        assert_eq!(ready(&mut c).unwrap().unwrap_err(), err);
        assert!(ready(&mut c).is_none());
        assert_eq!(ch.status(), ChannelState::Closed);
        let err = ch
            .basic_publish("", "q", b"x".to_vec(), BasicProperties::default())
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), verified::CLOSED_BASIC_PUBLISH);
        assert_eq!(
            ch.basic_qos(1, false).await.unwrap_err().to_string(),
            "invalid channel state: Closed (basic.qos)"
        );
        assert_eq!(
            ch.basic_ack(1, false).await.unwrap_err().to_string(),
            "invalid channel state: Closed (basic.ack)"
        );
        assert_eq!(b.queue_depth("q"), Some((0, 0)));
    }

    #[tokio::test]
    async fn exchange_redeclarations_must_be_equivalent() {
        let b = MemoryBroker::new();
        b.exchange_declare("kit-x", ExchangeKind::Topic, true)
            .unwrap();
        b.exchange_declare("kit-x", ExchangeKind::Topic, true)
            .unwrap();
        let err = b
            .exchange_declare("kit-x", ExchangeKind::Direct, true)
            .unwrap_err();
        assert_eq!(err.to_string(), verified::EXCHANGE_TYPE);
        assert_eq!(err.reply_code(), Some(406));
        let err = b
            .exchange_declare("kit-x", ExchangeKind::Topic, false)
            .unwrap_err();
        assert_eq!(err.to_string(), verified::EXCHANGE_DURABLE);
        // the type is checked first
        let err = b
            .exchange_declare("kit-x", ExchangeKind::Fanout, false)
            .unwrap_err();
        assert!(err
            .to_string()
            .contains("received 'fanout' but current is 'topic'"));
        // amq.topic exists; other amq.* names are reserved
        b.exchange_declare("amq.topic", ExchangeKind::Topic, true)
            .unwrap();
        let err = b
            .exchange_declare("amq.topic", ExchangeKind::Direct, true)
            .unwrap_err();
        assert!(err.to_string().contains("exchange 'amq.topic'"));
        let err = b
            .exchange_declare("amq.kitfoo", ExchangeKind::Topic, true)
            .unwrap_err();
        assert_eq!(err.to_string(), verified::EXCHANGE_RESERVED);
        let custom = ExchangeKind::Custom("x-kit-nonexistent".into());
        let err = b.exchange_declare("kit-custom", custom, false).unwrap_err();
        assert_eq!(err.to_string(), verified::UNKNOWN_TYPE);
        assert!(err.is_connection_error());
        assert_eq!(b.exchanges(), vec!["", "amq.topic", "kit-x"]);
        // on a channel, the failure closes it
        let ch = b.channel();
        let err = ch
            .exchange_declare("kit-x", ExchangeKind::Direct, true)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), verified::EXCHANGE_TYPE);
        assert_eq!(ch.status(), ChannelState::Closed);
    }

    #[tokio::test]
    async fn queue_redeclarations_must_be_equivalent() {
        let b = MemoryBroker::new();
        assert_eq!(
            b.queue_declare("kit-q", true, expires(86_400_000)).unwrap(),
            (0, 0)
        );
        let err = b
            .queue_declare("kit-q", false, expires(86_400_000))
            .unwrap_err();
        assert_eq!(err.to_string(), verified::QUEUE_DURABLE);
        let err = b
            .queue_declare("kit-q", true, FieldTable::default())
            .unwrap_err();
        assert_eq!(err.to_string(), verified::QUEUE_EXPIRES_MISSING);
        let err = b.queue_declare("kit-q", true, expires(1000)).unwrap_err();
        assert_eq!(err.to_string(), verified::QUEUE_EXPIRES_DIFFERENT);
        // the same value with another integer type is equivalent
        let mut wide = FieldTable::default();
        wide.insert("x-expires".into(), AMQPValue::LongLongInt(86_400_000));
        b.queue_declare("kit-q", true, wide).unwrap();
        b.queue_declare("kit-q2", true, FieldTable::default())
            .unwrap();
        let err = b.queue_declare("kit-q2", true, expires(1000)).unwrap_err();
        assert_eq!(err.to_string(), verified::QUEUE_EXPIRES_ADDED);
        let err = b
            .queue_declare("amq.kitq", true, FieldTable::default())
            .unwrap_err();
        assert_eq!(err.to_string(), verified::QUEUE_RESERVED);
        let ch = b.channel();
        let err = ch
            .queue_declare("kit-q", false, FieldTable::default())
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), verified::QUEUE_DURABLE);
        assert_eq!(ch.status(), ChannelState::Closed);
    }

    #[tokio::test]
    async fn missing_exchanges_and_queues_are_not_found() {
        let b = MemoryBroker::new();
        queue(&b, "kit-q");
        let err = b.queue_bind("kit-q", "kit-missing-x", "a.b").unwrap_err();
        assert_eq!(err.to_string(), verified::BIND_NO_EXCHANGE);
        let err = b
            .queue_bind("kit-missing-q", "kit-missing-x", "a.b")
            .unwrap_err();
        assert_eq!(err.to_string(), verified::BIND_NO_EXCHANGE);
        let err = b
            .queue_bind("kit-missing-q", "amq.topic", "a.b")
            .unwrap_err();
        assert_eq!(err.to_string(), verified::NO_QUEUE);
        let err = b.queue_purge("kit-missing-q").unwrap_err();
        assert_eq!(err.to_string(), verified::NO_QUEUE);
        let err = b
            .channel()
            .basic_consume("kit-missing-q")
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), verified::NO_QUEUE);
        assert_eq!(b.queue_delete("kit-missing-q"), 0);
    }

    #[tokio::test]
    async fn purge_and_delete() {
        let b = MemoryBroker::new();
        queue(&b, "q");
        b.queue_bind("q", "amq.topic", "#").unwrap();
        for i in 0..3 {
            publish(&b, "amq.topic", "k", &i.to_string());
        }
        let ch = b.channel();
        ch.basic_qos(1, false).await.unwrap();
        let mut c = ch.basic_consume("q").await.unwrap();
        let d = ready(&mut c).unwrap().unwrap();
        assert_eq!(ch.queue_purge("q").await.unwrap(), 2);
        assert_eq!(b.queue_depth("q"), Some((0, 1)));
        publish(&b, "amq.topic", "k", "late");
        assert_eq!(ch.queue_delete("q").await.unwrap(), 1);
        assert!(ready(&mut c).is_none(), "the broker cancelled the consumer");
        assert_eq!(b.queue_depth("q"), None);
        assert!(b.bindings("q").is_empty());
        assert!(
            d.acker.nack(true).await.unwrap(),
            "settling an orphan is fine"
        );
        assert!(b.queues().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn wait_idle_waits_for_every_delivery_to_settle() {
        let b = MemoryBroker::new();
        queue(&b, "q");
        queue(&b, "unconsumed");
        publish(&b, "", "unconsumed", "stays");
        assert!(b.is_idle(), "queues without consumers do not count");
        let ch = b.channel();
        ch.basic_qos(1, false).await.unwrap();
        let mut c = ch.basic_consume("q").await.unwrap();
        let worker = tokio::spawn(async move {
            let mut seen = 0;
            while let Some(Ok(d)) = c.next().await {
                tokio::time::sleep(Duration::from_secs(5)).await;
                if !d.redelivered {
                    d.acker.nack(true).await.unwrap();
                } else {
                    d.acker.ack().await.unwrap();
                }
                seen += 1;
            }
            seen
        });
        for i in 0..3 {
            publish(&b, "", "q", &i.to_string());
        }
        assert!(b.wait_idle().now_or_never().is_none());
        let started = tokio::time::Instant::now();
        b.wait_idle().await;
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        assert_eq!(b.queue_depth("q"), Some((0, 0)));
        ch.close().await.unwrap();
        assert_eq!(worker.await.unwrap(), 6);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_broker_is_shared_across_threads() {
        let b = MemoryBroker::new();
        queue(&b, "q");
        let ch = b.channel();
        let mut c = ch.basic_consume("q").await.unwrap();
        let publisher = {
            let b = b.clone();
            tokio::spawn(async move {
                for i in 0..100 {
                    publish(&b, "", "q", &i.to_string());
                }
            })
        };
        for i in 0..100 {
            let d = c.next().await.unwrap().unwrap();
            assert_eq!(body(&d), i.to_string());
            d.acker.ack().await.unwrap();
        }
        publisher.await.unwrap();
        b.wait_idle().await;
        assert_eq!(b.published().len(), 100);
    }
}
