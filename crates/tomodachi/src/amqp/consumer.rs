//! Consuming: queue declaration and binding as upstream, handler dispatch with at-least-once
//! delivery, reconnection after broker restarts, and a graceful drain.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use super::link::{Chan, Conn, Consumer, Delivery};
use super::publisher::Publisher;
use super::{AmqpDelivery, ResolvedSubscription};
use crate::error::Error;
use crate::message::{parse_body_off_worker, FailurePolicy, Message, Verdict};
use crate::options::AmqpOptions;
use crate::transport::{BoxFuture, DeclaredTransport, RunningTransport};

/// The AMQP transport's tasks in the execution context.
static TASKS: crate::transport::TaskCounter = crate::transport::TaskCounter::new(
    "amqp",
    &[("lapin_version", env!("TOMODACHI_LAPIN_VERSION"))],
);

/// The header carrying tomodachi's delivery attempt count on retried messages.
pub const ATTEMPT_HEADER: &str = "x-tomodachi-attempt";

/// How long the start phase waits for the broker before the service fails to start.
const START_PATIENCE: Duration = Duration::from_secs(10);

/// Everything a delivery needs, shared by all deliveries of a service.
pub(crate) struct Consuming {
    pub(crate) options: AmqpOptions,
    /// `options.envelope.max_inflated_size`.
    pub(crate) inflate_limit: usize,
    pub(crate) subscriptions: Vec<ResolvedSubscription>,
    pub(crate) policy: FailurePolicy,
    pub(crate) publisher: Arc<Publisher>,
    /// OpenTelemetry `CONSUMER` spans, when the service is instrumented.
    #[cfg(feature = "opentelemetry")]
    pub(crate) telemetry: Option<Arc<crate::telemetry::Tracing>>,
}

/// A running consumer set; stopping cancels the consumers and awaits running handlers.
pub(crate) struct RunningAmqp {
    stop_tx: watch::Sender<bool>,
    supervisor: tokio::task::JoinHandle<()>,
}

/// Connected, with every exchange and queue declared and bound; not consuming yet.
pub(crate) struct DeclaredAmqp {
    consuming: Arc<Consuming>,
    conn: Conn,
    channel: Chan,
}

impl DeclaredTransport for DeclaredAmqp {
    fn start(self: Box<Self>) -> BoxFuture<'static, Result<Box<dyn RunningTransport>, Error>> {
        Box::pin(async move {
            let Self {
                consuming,
                conn,
                channel,
            } = *self;
            let consumers = consume(&consuming, &channel).await?;
            TASKS.enable();
            for sub in &consuming.subscriptions {
                tracing::debug!(target: "tomodachi.amqp", queue = %sub.queue,
                    routing_key = %sub.routing_key, handler = %sub.chain.name, "consuming");
            }
            let session = Session {
                conn,
                channel,
                consumers,
            };
            let (stop_tx, stop_rx) = watch::channel(false);
            let supervisor = tokio::spawn(supervise(consuming, session, stop_rx));
            Ok(Box::new(RunningAmqp {
                stop_tx,
                supervisor,
            }) as Box<dyn RunningTransport>)
        })
    }
}

impl RunningTransport for RunningAmqp {
    fn stop(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let _ = self.stop_tx.send(true);
            let _ = self.supervisor.await;
        })
    }
}

/// One live connection with its consumers.
struct Session {
    conn: Conn,
    channel: Chan,
    consumers: Vec<(usize, Consumer)>,
}

fn x_expires(queue_ttl: u64) -> FieldTable {
    let mut args = FieldTable::default();
    if queue_ttl > 0 {
        let ms = queue_ttl.saturating_mul(1000);
        // pamqp sends the smallest fitting signed type: `I` (i32) for the default 86400000
        let value = match i32::try_from(ms) {
            Ok(v) => AMQPValue::LongInt(v),
            Err(_) => AMQPValue::LongLongInt(i64::try_from(ms).unwrap_or(i64::MAX)),
        };
        args.insert("x-expires".into(), value);
    }
    args
}

/// Connects, declares exchanges and queues and binds them, as upstream (the QoS, exchange,
/// queue and binding declarations of Python tomodachi's AMQP transport).
async fn declare_session(c: &Consuming, patience: Duration) -> Result<(Conn, Chan), Error> {
    let conn = c.publisher.backend().connect(&c.options, patience).await?;
    let channel = conn.channel().await?;
    let qos = &c.options.qos;
    channel.qos(qos.queue_prefetch_count, false).await?;
    channel.qos(qos.global_prefetch_count, true).await?;
    for sub in &c.subscriptions {
        if !sub.exchange.is_empty() && sub.exchange != "amq.topic" {
            channel
                .declare_topic_exchange(&sub.exchange)
                .await
                .map_err(|e| {
                    Error::msg(format!(
                        "Unable to declare exchange [amqp] \"{}\": {e}",
                        sub.exchange
                    ))
                })?;
        }
        let consumer_count = channel
            .declare_queue(&sub.queue, x_expires(c.options.queue_ttl))
            .await
            .map_err(|e| {
                Error::msg(format!(
                    "Unable to declare queue [amqp] \"{}\": {e}",
                    sub.queue
                ))
            })?;
        if !sub.competing && consumer_count >= 1 {
            let msg = format!(
                "Max consumers (1) for queue [amqp] \"{}\" has been reached",
                sub.queue
            );
            tracing::warn!(target: "tomodachi.amqp", "{msg}");
            return Err(Error::msg(msg));
        }
        let bind_exchange = if sub.exchange.is_empty() {
            "amq.topic"
        } else {
            &sub.exchange
        };
        channel
            .bind(&sub.queue, bind_exchange, &sub.wire_routing_key)
            .await?;
    }
    Ok((conn, channel))
}

/// Starts a consumer on every subscription's queue.
async fn consume(c: &Consuming, channel: &Chan) -> Result<Vec<(usize, Consumer)>, Error> {
    let mut consumers = Vec::with_capacity(c.subscriptions.len());
    for (index, sub) in c.subscriptions.iter().enumerate() {
        consumers.push((index, channel.consume(&sub.queue).await?));
    }
    Ok(consumers)
}

/// Declares and consumes again (after a reconnect).
async fn open_session(c: &Consuming, patience: Duration) -> Result<Session, Error> {
    let (conn, channel) = declare_session(c, patience).await?;
    let consumers = consume(c, &channel).await?;
    Ok(Session {
        conn,
        channel,
        consumers,
    })
}

/// Connects and declares everything (the declare phase); consuming starts with
/// [`DeclaredAmqp`]'s start.
pub(crate) async fn declare(consuming: Consuming) -> Result<DeclaredAmqp, Error> {
    let consuming = Arc::new(consuming);
    let (conn, channel) = declare_session(&consuming, START_PATIENCE).await?;
    Ok(DeclaredAmqp {
        consuming,
        conn,
        channel,
    })
}

async fn stop_requested(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await.map(|_| ());
}

/// Runs sessions until stopped, reconnecting (and re-subscribing) whenever the connection is
/// lost. Handler tasks are tracked so a stop can await them.
async fn supervise(c: Arc<Consuming>, first: Session, stop_rx: watch::Receiver<bool>) {
    let tasks = TaskTracker::new();
    // serial subscriptions: one worker each, fed in delivery order
    let mut serial: Vec<Option<tokio::sync::mpsc::UnboundedSender<Delivery>>> =
        Vec::with_capacity(c.subscriptions.len());
    for (index, sub) in c.subscriptions.iter().enumerate() {
        serial.push(sub.serial.then(|| {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let c = c.clone();
            tasks.spawn(async move {
                while let Some(delivery) = rx.recv().await {
                    handle_delivery(c.clone(), index, delivery).await;
                }
            });
            tx
        }));
    }
    let mut session = Some(first);
    loop {
        let Some(Session {
            conn,
            channel,
            consumers,
        }) = session.take()
        else {
            // reconnect with backoff, until it works or a stop arrives
            tokio::select! {
                _ = stop_requested(stop_rx.clone()) => break,
                s = open_session(&c, Duration::from_secs(3600)) => match s {
                    Ok(s) => {
                        tracing::info!(target: "tomodachi.amqp", "reconnected to the broker");
                        session = Some(s);
                    }
                    Err(e) => {
                        tracing::warn!(target: "tomodachi.amqp", error_message = %e, "resubscribe failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
            continue;
        };
        let tags: Vec<String> = consumers.iter().map(|(_, c)| c.tag()).collect();
        let mut deliveries = futures_util::stream::select_all(
            consumers
                .into_iter()
                .map(|(index, consumer)| consumer.map(move |d| (index, d))),
        );
        let stopped = loop {
            tokio::select! {
                _ = stop_requested(stop_rx.clone()) => break true,
                next = deliveries.next() => match next {
                    Some((index, Ok(delivery))) => match serial.get(index) {
                        Some(Some(worker)) => {
                            let _ = worker.send(delivery);
                        }
                        _ => {
                            // boxed: the task holds a pointer instead of the whole state
                            // machine, which spawning would otherwise copy several times
                            tasks.spawn(Box::pin(handle_delivery(c.clone(), index, delivery)));
                        }
                    },
                    Some((_, Err(e))) => {
                        tracing::warn!(target: "tomodachi.amqp", error_message = %e,
                            "connection to the broker lost; reconnecting");
                        break false;
                    }
                    None => {
                        tracing::warn!(target: "tomodachi.amqp", "consumers were cancelled; reconnecting");
                        break false;
                    }
                }
            }
        };
        if stopped {
            // no new deliveries; running handlers finish and ack on the open channel
            for tag in tags {
                channel.cancel(&tag).await;
            }
            drop(deliveries);
            serial.clear();
            tasks.close();
            tasks.wait().await;
            channel.close(200, "service stopping").await;
            conn.close(200, "service stopping").await;
            break;
        }
        drop(deliveries);
        conn.close(320, "reconnecting").await;
    }
    serial.clear();
    tasks.close();
    tasks.wait().await;
    c.publisher.close().await;
}

fn attempt_of(properties: &BasicProperties) -> u32 {
    properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(ATTEMPT_HEADER))
        .and_then(|v| match v {
            AMQPValue::LongInt(n) => u32::try_from(*n).ok(),
            AMQPValue::LongLongInt(n) => u32::try_from(*n).ok(),
            AMQPValue::ShortInt(n) => u32::try_from(*n).ok(),
            AMQPValue::LongUInt(n) => Some(*n),
            _ => None,
        })
        .unwrap_or(1)
}

fn with_header(properties: &BasicProperties, key: &str, value: AMQPValue) -> BasicProperties {
    let mut headers = properties.headers().clone().unwrap_or_default();
    headers.insert(key.into(), value);
    properties.clone().with_headers(headers)
}

async fn handle_delivery(c: Arc<Consuming>, index: usize, delivery: Delivery) {
    let sub = &c.subscriptions[index];
    TASKS.started();
    let attempt = attempt_of(delivery.properties());
    let parsed = match std::str::from_utf8(delivery.data()) {
        Ok(body) => parse_body_off_worker(sub.envelope.as_ref(), body, c.inflate_limit).await,
        Err(e) => Err(Error::undecodable(format!(
            "message body is not UTF-8: {e}"
        ))),
    };
    let verdict = match parsed {
        Err(e) => Verdict::DeadLetter(e.to_string()),
        Ok(parsed) => {
            let message = Message::new(
                parsed,
                sub.chain.name.clone(),
                AmqpDelivery {
                    routing_key: sub.routing_key.clone(),
                    exchange_name: sub.exchange.clone(),
                    delivery_routing_key: delivery.routing_key().to_owned(),
                    delivery_tag: delivery.delivery_tag(),
                    redelivered: delivery.redelivered(),
                    properties: delivery.properties().clone(),
                    attempt,
                },
            );
            process(&c, sub, &delivery, message).await
        }
    };
    settle(&c, sub, &delivery, attempt, verdict).await;
    TASKS.finished();
}

/// Runs the handler chain, inside its OpenTelemetry span when the service is instrumented.
async fn process(
    c: &Consuming,
    sub: &ResolvedSubscription,
    delivery: &Delivery,
    message: Message,
) -> Verdict {
    #[cfg(feature = "opentelemetry")]
    if let Some(t) = &c.telemetry {
        // boxed: the uninstrumented path's future does not grow
        return Box::pin(crate::telemetry::amqp_spans::consume(
            t,
            &sub.routing_key,
            &sub.exchange,
            sub.chain.name(),
            delivery.properties(),
            sub.chain.run(message),
        ))
        .await;
    }
    #[cfg(not(feature = "opentelemetry"))]
    let _ = (c, delivery);
    sub.chain.run(message).await
}

/// Acks, retries, dead-letters or drops a delivery. A retry or dead-letter is published (with
/// a confirm) before the original is acked, so a crash in between duplicates, never loses.
async fn settle(
    c: &Consuming,
    sub: &ResolvedSubscription,
    delivery: &Delivery,
    attempt: u32,
    verdict: Verdict,
) {
    let log_failure = |why: &str| {
        tracing::error!(target: "exception", handler = &*sub.chain.name, queue = %sub.queue,
            attempt = attempt, "uncaught exception: {why}");
    };
    let settled = match verdict {
        Verdict::Ack => Ok(()),
        Verdict::Discard(why) => {
            tracing::warn!(target: "tomodachi.amqp", handler = &*sub.chain.name, queue = %sub.queue,
                reason = %why, "message dropped");
            Ok(())
        }
        Verdict::Retry(why) if c.policy == FailurePolicy::Drop => {
            log_failure(&why);
            Ok(())
        }
        Verdict::Retry(why) if attempt < sub.max_attempts => {
            log_failure(&why);
            let backoff = Duration::from_millis(100u64 << attempt.min(5));
            tokio::time::sleep(backoff).await;
            let properties = with_header(
                delivery.properties(),
                ATTEMPT_HEADER,
                AMQPValue::LongInt(i32::try_from(attempt + 1).unwrap_or(i32::MAX)),
            );
            // back to the same queue through the default exchange
            c.publisher
                .publish("", &sub.queue, delivery.data(), properties)
                .await
        }
        Verdict::Retry(why) => {
            log_failure(&why);
            dead_letter(
                c,
                sub,
                delivery,
                attempt,
                &format!("gave up after {attempt} attempts: {why}"),
            )
            .await
        }
        Verdict::DeadLetter(why) => {
            log_failure(&why);
            if c.policy == FailurePolicy::Drop {
                Ok(())
            } else {
                dead_letter(c, sub, delivery, attempt, &why).await
            }
        }
    };
    let acked = match settled {
        Ok(()) => delivery.ack().await,
        Err(e) => {
            tracing::error!(target: "tomodachi.amqp", handler = &*sub.chain.name, error_message = %e,
                "unable to retry or dead-letter the message; it is requeued");
            delivery.requeue().await
        }
    };
    if let Err(e) = acked {
        // The channel is gone: the broker redelivers the message.
        tracing::debug!(target: "tomodachi.amqp", error_message = %e, "ack failed");
    }
}

/// The dead-letter queue of a queue: `<queue>.dlq`, declared on first use (durable, no expiry,
/// never a change to the main queue's declaration).
pub(crate) fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dlq")
}

async fn dead_letter(
    c: &Consuming,
    sub: &ResolvedSubscription,
    delivery: &Delivery,
    attempt: u32,
    why: &str,
) -> Result<(), Error> {
    let dlq = dead_letter_queue(&sub.queue);
    c.publisher.declare_queue(&dlq).await?;
    let mut properties = with_header(
        delivery.properties(),
        "x-tomodachi-error",
        AMQPValue::LongString(why.into()),
    );
    properties = with_header(
        &properties,
        ATTEMPT_HEADER,
        AMQPValue::LongInt(i32::try_from(attempt).unwrap_or(i32::MAX)),
    );
    properties = with_header(
        &properties,
        "x-tomodachi-handler",
        AMQPValue::LongString(sub.chain.name.as_bytes().into()),
    );
    properties = with_header(
        &properties,
        "x-tomodachi-queue",
        AMQPValue::LongString(sub.queue.as_bytes().into()),
    );
    properties = with_header(
        &properties,
        "x-tomodachi-routing-key",
        AMQPValue::LongString(delivery.routing_key().as_bytes().into()),
    );
    c.publisher
        .publish("", &dlq, delivery.data(), properties)
        .await?;
    tracing::warn!(target: "tomodachi.amqp", handler = &*sub.chain.name, queue = %sub.queue,
        dead_letter_queue = %dlq, reason = %why, "message moved to the dead-letter queue");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_come_from_the_header() {
        let p = BasicProperties::default();
        assert_eq!(attempt_of(&p), 1);
        let p = with_header(&p, ATTEMPT_HEADER, AMQPValue::LongInt(3));
        assert_eq!(attempt_of(&p), 3);
    }

    #[test]
    fn x_expires_is_a_signed_32_bit_integer_by_default() {
        let args = x_expires(86400);
        assert_eq!(
            args.inner().get("x-expires"),
            Some(&AMQPValue::LongInt(86_400_000))
        );
        assert!(x_expires(0).inner().is_empty());
    }
}
