//! The transport's lifecycle: connect and declare streams and durable consumers, pull and
//! handle messages, settle each [`Verdict`], drain on stop.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, AckKind};
use futures_util::StreamExt;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;
use tomodachi::envelope::SharedEnvelope;
use tomodachi::message::{
    parse_body_off_worker, validate_envelope, FailurePolicy, HandlerChain, Message, Verdict,
};
use tomodachi::transport::{
    BoxFuture, DeclaredTransport, RunningTransport, TaskCounter, Transport, TransportContext,
};
use tomodachi::Error;

use crate::naming::{dead_letter_subject, durable_name, stream_name};
use crate::{NatsConfig, NatsDelivery, NatsTransport, NATS_URL_ENV};

/// The execution context's `nats_*` counters.
static TASKS: TaskCounter = TaskCounter::new("nats", &[]);

/// How long one pull request waits for messages before the stream sends the next one.
const PULL_EXPIRES: Duration = Duration::from_secs(30);

/// How often the server tells an idle pull request that it is alive (missed twice: an error).
const PULL_HEARTBEAT: Duration = Duration::from_secs(5);

/// How long a failed message waits before its next delivery: 100 ms doubled per delivery,
/// at most 3.2 s.
pub(crate) fn retry_delay(delivered: u32) -> Duration {
    Duration::from_millis(100u64 << delivered.saturating_sub(1).min(5))
}

/// One subscription, resolved for this service instance.
struct Subscription {
    chain: HandlerChain,
    subject: Arc<str>,
    stream: Arc<str>,
    durable: Arc<str>,
    dead_letter_subject: String,
    envelope: Option<SharedEnvelope>,
    max_deliver: u32,
    max_in_flight: usize,
    ack_wait: Duration,
    consumer: jetstream::consumer::Consumer<pull::Config>,
}

/// What every consuming task shares.
struct Shared {
    ctx: TransportContext,
    client: async_nats::Client,
    js: jetstream::Context,
    policy: FailurePolicy,
    inflate_limit: usize,
}

impl Transport for NatsTransport {
    fn name(&self) -> &'static str {
        "nats"
    }

    fn describe(&self, ctx: &TransportContext) -> Vec<tomodachi::transport::Description> {
        crate::describe::describe(self, ctx)
    }

    fn declare(
        self: Box<Self>,
        ctx: TransportContext,
    ) -> BoxFuture<'static, Result<Box<dyn DeclaredTransport>, Error>> {
        Box::pin(async move {
            let config = NatsConfig::from_options(ctx.options())?;
            let env = std::env::var(NATS_URL_ENV).ok();
            let servers = config.resolved_servers(env.as_deref());
            let client = connect(&config, &servers, ctx.service_name()).await?;
            let js = jetstream::new(client.clone());
            let prefix = config.name_prefix_value();
            let mut subscriptions = Vec::with_capacity(self.handlers.len());
            for def in self.handlers {
                let s = def.subscription;
                let name = s.name.clone().unwrap_or_else(|| s.subject.clone());
                let envelope = s.envelope.resolve(ctx.envelope());
                validate_envelope(envelope.as_ref(), "NATS", &name)?;
                let stream = stream_name(&s.subject, prefix);
                let durable = durable_name(ctx.service_name(), &name, &s.subject, prefix);
                let dead_letter_subject = s
                    .dead_letter_subject
                    .clone()
                    .unwrap_or_else(|| dead_letter_subject(&s.subject, &durable));
                ensure_stream(&js, &stream, &s.subject).await?;
                ensure_stream(
                    &js,
                    &stream_name(&dead_letter_subject, prefix),
                    &dead_letter_subject,
                )
                .await?;
                let consumer = ensure_consumer(&js, &stream, &durable, &s).await?;
                subscriptions.push(Subscription {
                    chain: HandlerChain::new(&ctx, name, "tomodachi.nats", def.handler),
                    subject: s.subject.into(),
                    stream: stream.into(),
                    durable: durable.into(),
                    dead_letter_subject,
                    envelope,
                    max_deliver: s.max_deliver,
                    max_in_flight: s.max_in_flight,
                    ack_wait: s.ack_wait,
                    consumer,
                });
            }
            crate::register_client(&ctx, client.clone());
            TASKS.enable();
            Ok(Box::new(DeclaredNats {
                shared: Arc::new(Shared {
                    policy: ctx.failure_policy(),
                    inflate_limit: ctx.options().envelope.inflate_limit(),
                    ctx,
                    client,
                    js,
                }),
                subscriptions,
            }) as Box<dyn DeclaredTransport>)
        })
    }
}

/// Connects to the first server that answers; the error names them all.
async fn connect(
    config: &NatsConfig,
    servers: &[String],
    service: &str,
) -> Result<async_nats::Client, Error> {
    let options = config.connect_options(service)?;
    async_nats::connect_with_options(servers.join(","), options)
        .await
        .map_err(|e| {
            Error::msg(format!(
                "unable to connect to the NATS server {}: {e}",
                servers.join(", ")
            ))
        })
}

/// Gets or creates the stream `name` capturing `subject`. A stream of that name that captures
/// other subjects, or another stream capturing an overlapping subject, is an error naming it.
async fn ensure_stream(js: &jetstream::Context, name: &str, subject: &str) -> Result<(), Error> {
    let failed = |e: &dyn std::fmt::Display| {
        Error::msg(format!(
            "unable to declare the [nats] stream {name:?} for subject {subject:?}: {e}"
        ))
    };
    let created = js
        .get_or_create_stream(jetstream::stream::Config {
            name: name.to_owned(),
            subjects: vec![subject.to_owned()],
            ..Default::default()
        })
        .await;
    let stream = match created {
        Ok(stream) => stream,
        Err(e) => {
            // most often: another stream already captures (part of) the subject
            return Err(match js.stream_by_subject(subject).await {
                Ok(other) if other != name => failed(&format!(
                    "{e} (the stream {other:?} already captures it: remove it, or subscribe \
                     to a subject it does not capture)"
                )),
                _ => failed(&e),
            });
        }
    };
    let subjects = &stream.cached_info().config.subjects;
    if !subjects.iter().any(|s| s == subject) {
        return Err(failed(&format!(
            "a stream of that name exists with other settings (subjects {subjects:?}); \
             remove it or give the service another nats.name_prefix"
        )));
    }
    Ok(())
}

async fn ensure_consumer(
    js: &jetstream::Context,
    stream: &str,
    durable: &str,
    s: &crate::NatsSubscription,
) -> Result<jetstream::consumer::Consumer<pull::Config>, Error> {
    let failed = |e: &dyn std::fmt::Display| {
        Error::msg(format!(
            "unable to declare the [nats] durable consumer {durable:?} on stream {stream:?}: {e}"
        ))
    };
    let stream = js.get_stream(stream).await.map_err(|e| failed(&e))?;
    stream
        .get_or_create_consumer(
            durable,
            pull::Config {
                durable_name: Some(durable.to_owned()),
                filter_subject: s.subject.clone(),
                ack_policy: AckPolicy::Explicit,
                ack_wait: s.ack_wait,
                max_deliver: i64::from(s.max_deliver),
                max_ack_pending: i64::try_from(s.max_in_flight.saturating_mul(4))
                    .unwrap_or(i64::MAX),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| failed(&e))
}

/// Declared: connected, streams and consumers exist; nothing is pulled yet.
struct DeclaredNats {
    shared: Arc<Shared>,
    subscriptions: Vec<Subscription>,
}

impl Drop for DeclaredNats {
    fn drop(&mut self) {
        // dropped without start (another transport failed), or after it moved on: the publish
        // helpers must not find a connection of a service that is not running
        if Arc::strong_count(&self.shared) == 1 {
            crate::unregister_client(&self.shared.ctx);
        }
    }
}

impl DeclaredTransport for DeclaredNats {
    fn start(mut self: Box<Self>) -> BoxFuture<'static, Result<Box<dyn RunningTransport>, Error>> {
        Box::pin(async move {
            let (stop_tx, stop_rx) = watch::channel(false);
            let tasks = TaskTracker::new();
            let pullers = std::mem::take(&mut self.subscriptions)
                .into_iter()
                .map(|sub| {
                    tokio::spawn(pull_loop(
                        self.shared.clone(),
                        Arc::new(sub),
                        tasks.clone(),
                        stop_rx.clone(),
                    ))
                })
                .collect();
            Ok(Box::new(RunningNats {
                shared: self.shared.clone(),
                stop_tx,
                pullers,
                tasks,
            }) as Box<dyn RunningTransport>)
        })
    }
}

struct RunningNats {
    shared: Arc<Shared>,
    stop_tx: watch::Sender<bool>,
    pullers: Vec<JoinHandle<()>>,
    tasks: TaskTracker,
}

impl RunningTransport for RunningNats {
    fn stop(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let _ = self.stop_tx.send(true);
            // no new handlers; the streams' buffered messages are naked and their pulls end
            for puller in self.pullers {
                let _ = puller.await;
            }
            // in-flight handlers finish and settle their messages
            self.tasks.close();
            self.tasks.wait().await;
            if let Err(e) = self.shared.client.flush().await {
                tracing::warn!(target: "tomodachi.nats", error_message = %e,
                    "unable to flush the last acknowledgements");
            }
            crate::unregister_client(&self.shared.ctx);
            if let Err(e) = self.shared.client.drain().await {
                tracing::debug!(target: "tomodachi.nats", error_message = %e, "drain failed");
            }
        })
    }
}

/// Consumes one continuous pull stream (one inbox subscription for the consumer's life; the
/// next pull request goes out when half the last one is used), a handler slot taken before
/// each message is read, so at most `max_in_flight` messages run and about as many wait in
/// the stream's buffer. On stop: no new handler starts; what is already buffered is `nak`ed
/// at once for another instance, and dropping the stream ends its pull requests.
async fn pull_loop(
    shared: Arc<Shared>,
    sub: Arc<Subscription>,
    tasks: TaskTracker,
    stop_rx: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(sub.max_in_flight));
    'connect: loop {
        let mut messages = match open_stream(&sub).await {
            Ok(messages) => messages,
            Err(e) => {
                tracing::warn!(target: "tomodachi.nats", consumer = %sub.durable, error_message = %e,
                    "pull failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue 'connect,
                    _ = wait_stop(stop_rx.clone()) => return,
                }
            }
        };
        loop {
            let permit = tokio::select! {
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
                _ = wait_stop(stop_rx.clone()) => return nak_buffered(messages).await,
            };
            let next = tokio::select! {
                next = messages.next() => next,
                _ = wait_stop(stop_rx.clone()) => return nak_buffered(messages).await,
            };
            match next {
                Some(Ok(message)) => {
                    let (shared, sub) = (shared.clone(), sub.clone());
                    tasks.spawn(async move {
                        handle(&shared, &sub, message).await;
                        drop(permit);
                    });
                }
                Some(Err(e)) => {
                    // heartbeats missed while the server is away, a pull request refused: the
                    // stream goes on (it re-pulls after a reconnect) unless it ended itself
                    tracing::warn!(target: "tomodachi.nats", consumer = %sub.durable, error_message = %e,
                        "pull interrupted");
                }
                None => {
                    // the stream ended (its consumer was deleted, ...): open a new one
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue 'connect,
                        _ = wait_stop(stop_rx.clone()) => return,
                    }
                }
            }
        }
    }
}

/// The subscription's continuous pull stream: batches of `max_in_flight` messages, pull
/// requests that expire after [`PULL_EXPIRES`] (so an idle consumer re-pulls that often, and
/// a request the server forgot is replaced soon).
async fn open_stream(
    sub: &Subscription,
) -> Result<pull::Stream, Box<dyn std::error::Error + Send + Sync>> {
    Ok(sub
        .consumer
        .stream()
        .max_messages_per_batch(sub.max_in_flight)
        .expires(PULL_EXPIRES)
        .heartbeat(PULL_HEARTBEAT)
        .messages()
        .await?)
}

/// `nak`s what the stream has already received (without waiting for more) and drops it,
/// which unsubscribes its inbox: the server then delivers the rest elsewhere.
async fn nak_buffered(mut messages: pull::Stream) {
    use futures_util::FutureExt;
    while let Some(Some(Ok(message))) = messages.next().now_or_never() {
        if let Err(e) = message.ack_with(AckKind::Nak(None)).await {
            tracing::debug!(target: "tomodachi.nats", error_message = %e, "nak failed");
        }
    }
}

async fn wait_stop(mut rx: watch::Receiver<bool>) {
    if rx.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn handle(shared: &Shared, sub: &Subscription, message: jetstream::Message) {
    TASKS.started();
    let numbers = message.reply.as_deref().and_then(ack_numbers).or_else(|| {
        let info = message.info().ok()?;
        Some((
            u64::try_from(info.delivered).unwrap_or(0),
            info.stream_sequence,
        ))
    });
    let (delivered, sequence) = match numbers {
        Some((delivered, sequence)) => (u32::try_from(delivered).unwrap_or(u32::MAX), sequence),
        None => (1, 0),
    };
    let parsed = parse(
        sub.envelope.as_ref(),
        &message.payload,
        shared.inflate_limit,
    )
    .await;
    let verdict = match parsed {
        Err(e) => Verdict::DeadLetter(e.to_string()),
        Ok(parsed) => {
            let delivery = NatsDelivery {
                subscription_subject: sub.subject.clone(),
                subject: message.subject.to_string(),
                stream: sub.stream.clone(),
                consumer: sub.durable.clone(),
                stream_sequence: sequence,
                delivered,
                headers: message.headers.clone(),
            };
            let run = sub
                .chain
                .run(Message::new(parsed, sub.chain.name().to_owned(), delivery));
            with_progress(&message, sub.ack_wait, run).await
        }
    };
    settle(shared, sub, &message, delivered, verdict).await;
    TASKS.finished();
}

/// `(delivered, stream sequence)` from a JetStream message's `$JS.ACK.` reply subject, the two
/// numbers of `Message::info()` a delivery needs, without parsing the rest (timestamps, counts):
/// ADR-15's subjects have 7 tokens after the prefix (`<stream>.<consumer>.<delivered>.<stream
/// seq>.<consumer seq>.<timestamp>.<pending>`) or, with the domain and account hash first, 9 or
/// more. `None` for anything else (the caller then asks `info()`).
fn ack_numbers(reply: &str) -> Option<(u64, u64)> {
    let rest = reply.strip_prefix("$JS.ACK.")?;
    let mut tokens = [""; 6];
    let mut count = 0;
    for token in rest.split('.') {
        if let Some(slot) = tokens.get_mut(count) {
            *slot = token;
        }
        count += 1;
    }
    let at = match count {
        7 => 2,
        n if n >= 9 => 4,
        _ => return None,
    };
    Some((tokens[at].parse().ok()?, tokens[at + 1].parse().ok()?))
}

/// Runs `work` and tells the server the message is still in progress every half `ack_wait`
/// meanwhile, so a handler longer than `ack_wait` is not delivered a second time; a process
/// that dies stops these and the message is delivered again after `ack_wait`.
async fn with_progress<F: std::future::Future<Output = Verdict>>(
    message: &jetstream::Message,
    ack_wait: Duration,
    work: F,
) -> Verdict {
    tokio::pin!(work);
    // most handlers finish on their first poll: no timer for them
    let first = std::future::poll_fn(|cx| {
        std::task::Poll::Ready(std::future::Future::poll(work.as_mut(), cx))
    })
    .await;
    if let std::task::Poll::Ready(verdict) = first {
        return verdict;
    }
    let every = (ack_wait / 2).max(Duration::from_millis(50));
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            verdict = &mut work => return verdict,
            _ = ticks.tick() => {
                if let Err(e) = message.ack_with(AckKind::Progress).await {
                    tracing::debug!(target: "tomodachi.nats", error_message = %e,
                        "in-progress ack failed");
                }
            }
        }
    }
}

/// Parses a body with the subscription's envelope; an error dead-letters the message.
async fn parse(
    envelope: Option<&SharedEnvelope>,
    body: &[u8],
    inflate_limit: usize,
) -> Result<tomodachi::envelope::ParsedMessage, Error> {
    match std::str::from_utf8(body) {
        Ok(text) => parse_body_off_worker(envelope, text, inflate_limit).await,
        Err(e) => Err(Error::undecodable(format!(
            "message body is not UTF-8: {e}"
        ))),
    }
}

/// Acks, naks with a delay, or dead-letters (publish, then terminate) a message.
async fn settle(
    shared: &Shared,
    sub: &Subscription,
    message: &jetstream::Message,
    delivered: u32,
    verdict: Verdict,
) {
    let handler = sub.chain.name();
    let log_failure = |why: &str| {
        tracing::error!(target: "exception", handler, consumer = %sub.durable,
            delivered, "uncaught exception: {why}");
    };
    let kind = match verdict {
        Verdict::Ack => AckKind::Ack,
        Verdict::Discard(why) => {
            tracing::warn!(target: "tomodachi.nats", handler, consumer = %sub.durable,
                reason = %why, "message dropped");
            AckKind::Ack
        }
        Verdict::Retry(why) if shared.policy == FailurePolicy::Drop => {
            log_failure(&why);
            AckKind::Ack
        }
        Verdict::Retry(why) if delivered < sub.max_deliver => {
            log_failure(&why);
            AckKind::Nak(Some(retry_delay(delivered)))
        }
        Verdict::Retry(why) => {
            log_failure(&why);
            dead_letter(
                shared,
                sub,
                message,
                &format!("gave up after {delivered} deliveries: {why}"),
            )
            .await
        }
        Verdict::DeadLetter(why) => {
            log_failure(&why);
            if shared.policy == FailurePolicy::Drop {
                AckKind::Ack
            } else {
                dead_letter(shared, sub, message, &why).await
            }
        }
        // a verdict added to tomodachi later: redeliver rather than lose the message
        _ => AckKind::Nak(Some(retry_delay(delivered))),
    };
    if let Err(e) = message.ack_with(kind).await {
        // the server redelivers it after the ack wait
        tracing::debug!(target: "tomodachi.nats", error_message = %e, "ack failed");
    }
}

/// Publishes the message to the dead-letter subject (waiting for its stream's acknowledgement)
/// and answers `Term`; if that fails, `Nak` so it is delivered again.
async fn dead_letter(
    shared: &Shared,
    sub: &Subscription,
    message: &jetstream::Message,
    why: &str,
) -> AckKind {
    let mut headers = message.headers.clone().unwrap_or_default();
    headers.insert("x-tomodachi-error", one_line(why).as_str());
    headers.insert("x-tomodachi-handler", sub.chain.name());
    headers.insert("x-tomodachi-consumer", &*sub.durable);
    headers.insert("x-tomodachi-subject", message.subject.as_str());
    let published = async {
        shared
            .js
            .publish_with_headers(
                sub.dead_letter_subject.clone(),
                headers,
                message.payload.clone(),
            )
            .await
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())
    };
    match published.await {
        Ok(_) => {
            tracing::warn!(target: "tomodachi.nats", handler = sub.chain.name(), consumer = %sub.durable,
                dead_letter_subject = %sub.dead_letter_subject, reason = %why,
                "message moved to the dead-letter subject");
            AckKind::Term
        }
        Err(e) => {
            tracing::error!(target: "tomodachi.nats", handler = sub.chain.name(), error_message = %e,
                "unable to dead-letter the message; it is delivered again");
            AckKind::Nak(Some(Duration::from_secs(1)))
        }
    }
}

/// A header value on one line.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_and_are_capped() {
        assert_eq!(retry_delay(1), Duration::from_millis(100));
        assert_eq!(retry_delay(2), Duration::from_millis(200));
        assert_eq!(retry_delay(6), Duration::from_millis(3200));
        assert_eq!(retry_delay(60), Duration::from_millis(3200));
        assert_eq!(retry_delay(0), Duration::from_millis(100));
    }

    #[tokio::test]
    async fn a_body_that_is_not_utf8_is_dead_lettered() {
        let envelope: SharedEnvelope = Arc::new(tomodachi::envelope::Raw);
        let text = parse(Some(&envelope), b"hello", usize::MAX)
            .await
            .expect("parsed");
        assert_eq!(text.data.deserialize::<String>().expect("text"), "hello");
        let not_utf8 = parse(None, &[0xff, 0xfe], usize::MAX).await;
        assert!(matches!(
            not_utf8.map(|_| ()).map_err(|e| e.verdict()),
            Err(Verdict::DeadLetter(_))
        ));
    }

    #[test]
    fn ack_subjects_give_the_delivery_count_and_stream_sequence() {
        // ADR-15: the original form, and the one with domain and account hash (+ a token)
        let v1 = "$JS.ACK.ORDERS.worker.3.1042.977.1733300000000000000.12";
        assert_eq!(ack_numbers(v1), Some((3, 1042)));
        let v2 = "$JS.ACK.hub.ACCHASH.ORDERS.worker.1.7.7.1733300000000000000.0";
        assert_eq!(ack_numbers(v2), Some((1, 7)));
        let v2_token = "$JS.ACK.hub.ACCHASH.ORDERS.worker.2.8.8.1733300000000000000.0.x9Yz";
        assert_eq!(ack_numbers(v2_token), Some((2, 8)));
        // anything else: left to `info()`
        assert_eq!(ack_numbers("_INBOX.abc"), None);
        assert_eq!(ack_numbers("$JS.ACK.ORDERS.worker.3"), None);
        assert_eq!(ack_numbers("$JS.ACK.ORDERS.worker.x.1.1.1.1"), None);
        assert_eq!(ack_numbers("$JS.ACK.a.b.c.d.e.f.g.h"), None);
    }

    #[test]
    fn header_values_stay_on_one_line() {
        assert_eq!(one_line("a\nb\r\nc"), "a b  c");
    }
}
