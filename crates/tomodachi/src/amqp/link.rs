//! The broker operations the AMQP transport uses — connect, declare, bind, consume, settle,
//! publish with confirms — on lapin (RabbitMQ) or, under the testing kit, on its in-memory
//! broker. Everything above this module (naming, declarations, retries, dead-lettering,
//! reconnects, the drain) is the same code for both.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions,
    BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, ExchangeKind};

use super::connection;
use crate::error::Error;
use crate::options::AmqpOptions;
use crate::transport::TransportContext;

/// A name or routing key as AMQP's short string; over 255 bytes is an error, not a panic.
pub(crate) fn short(s: &str, what: &str) -> Result<ShortString, Error> {
    ShortString::try_new(s).map_err(|e| Error::msg(format!("invalid AMQP {what} {s:?}: {e}")))
}

/// Which broker a service's AMQP transport talks to.
#[derive(Clone)]
pub(crate) enum Backend {
    /// RabbitMQ through lapin, from `options.amqp`.
    Lapin,
    /// The testing kit's broker (a context extension the kit sets).
    #[cfg(feature = "testing")]
    Memory(crate::testing::amqp::MemoryBroker),
}

impl Backend {
    /// The backend for `ctx`'s service.
    pub(crate) fn of(ctx: &TransportContext) -> Self {
        #[cfg(feature = "testing")]
        if let Some(broker) = ctx.extension::<crate::testing::amqp::MemoryBroker>() {
            return Backend::Memory(broker.clone());
        }
        let _ = ctx;
        Backend::Lapin
    }

    /// Which backend it is, for keys and logs.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Backend::Lapin => "lapin",
            #[cfg(feature = "testing")]
            Backend::Memory(_) => "memory",
        }
    }

    /// Connects, retrying with backoff for up to `patience` (RabbitMQ).
    pub(crate) async fn connect(&self, o: &AmqpOptions, patience: Duration) -> Result<Conn, Error> {
        match self {
            Backend::Lapin => connection::connect(o, patience).await.map(Conn::Lapin),
            #[cfg(feature = "testing")]
            Backend::Memory(broker) => Ok(Conn::Memory(broker.clone())),
        }
    }

    /// One connection attempt.
    pub(crate) async fn connect_once(&self, o: &AmqpOptions) -> Result<Conn, Error> {
        match self {
            Backend::Lapin => connection::connect_once(o).await.map(Conn::Lapin),
            #[cfg(feature = "testing")]
            Backend::Memory(broker) => Ok(Conn::Memory(broker.clone())),
        }
    }
}

/// A connection.
// one per session, created once: its size does not matter
#[allow(clippy::large_enum_variant)]
pub(crate) enum Conn {
    Lapin(lapin::Connection),
    #[cfg(feature = "testing")]
    Memory(crate::testing::amqp::MemoryBroker),
}

impl Conn {
    /// Opens a channel.
    pub(crate) async fn channel(&self) -> Result<Chan, Error> {
        match self {
            Conn::Lapin(conn) => conn
                .create_channel()
                .await
                .map(Chan::Lapin)
                .map_err(Error::new),
            #[cfg(feature = "testing")]
            Conn::Memory(broker) => Ok(Chan::Memory(broker.channel())),
        }
    }

    /// Whether the connection is still up.
    pub(crate) fn connected(&self) -> bool {
        match self {
            Conn::Lapin(conn) => conn.status().connected(),
            #[cfg(feature = "testing")]
            Conn::Memory(_) => true,
        }
    }

    /// Closes the connection (its channels with it).
    pub(crate) async fn close(&self, code: u16, text: &str) {
        match self {
            Conn::Lapin(conn) => {
                let _ = conn.close(code, text.into()).await;
            }
            #[cfg(feature = "testing")]
            Conn::Memory(_) => {}
        }
    }
}

/// A channel.
#[derive(Clone)]
pub(crate) enum Chan {
    Lapin(lapin::Channel),
    #[cfg(feature = "testing")]
    Memory(crate::testing::amqp::MemoryChannel),
}

impl Chan {
    /// Whether the channel is still open.
    pub(crate) fn connected(&self) -> bool {
        match self {
            Chan::Lapin(ch) => ch.status().connected(),
            #[cfg(feature = "testing")]
            Chan::Memory(ch) => ch.status() == lapin::ChannelState::Connected,
        }
    }

    /// Turns publisher confirms on (the in-memory broker always confirms).
    pub(crate) async fn confirm_select(&self) -> Result<(), Error> {
        match self {
            Chan::Lapin(ch) => ch
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(Error::new),
            #[cfg(feature = "testing")]
            Chan::Memory(_) => Ok(()),
        }
    }

    pub(crate) async fn qos(&self, prefetch_count: u16, global: bool) -> Result<(), Error> {
        match self {
            Chan::Lapin(ch) => ch
                .basic_qos(prefetch_count, BasicQosOptions { global })
                .await
                .map_err(Error::new),
            #[cfg(feature = "testing")]
            Chan::Memory(ch) => ch
                .basic_qos(prefetch_count, global)
                .await
                .map_err(Error::new),
        }
    }

    /// Declares a durable topic exchange.
    pub(crate) async fn declare_topic_exchange(&self, name: &str) -> Result<(), Error> {
        match self {
            Chan::Lapin(ch) => ch
                .exchange_declare(
                    short(name, "exchange name")?,
                    ExchangeKind::Topic,
                    ExchangeDeclareOptions {
                        durable: true,
                        ..ExchangeDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await
                .map_err(Error::new),
            #[cfg(feature = "testing")]
            Chan::Memory(ch) => ch
                .exchange_declare(name, ExchangeKind::Topic, true)
                .await
                .map_err(Error::new),
        }
    }

    /// Declares a durable queue; returns its consumer count.
    pub(crate) async fn declare_queue(
        &self,
        name: &str,
        arguments: FieldTable,
    ) -> Result<u32, Error> {
        match self {
            Chan::Lapin(ch) => ch
                .queue_declare(
                    short(name, "queue name")?,
                    QueueDeclareOptions {
                        durable: true,
                        ..QueueDeclareOptions::default()
                    },
                    arguments,
                )
                .await
                .map(|q| q.consumer_count())
                .map_err(Error::new),
            #[cfg(feature = "testing")]
            Chan::Memory(ch) => ch
                .queue_declare(name, true, arguments)
                .await
                .map(|(_, consumers)| consumers)
                .map_err(Error::new),
        }
    }

    pub(crate) async fn bind(
        &self,
        queue: &str,
        exchange: &str,
        routing_key: &str,
    ) -> Result<(), Error> {
        match self {
            Chan::Lapin(ch) => ch
                .queue_bind(
                    short(queue, "queue name")?,
                    short(exchange, "exchange name")?,
                    short(routing_key, "routing key")?,
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(Error::new),
            #[cfg(feature = "testing")]
            Chan::Memory(ch) => ch
                .queue_bind(queue, exchange, routing_key)
                .await
                .map_err(Error::new),
        }
    }

    pub(crate) async fn consume(&self, queue: &str) -> Result<Consumer, Error> {
        match self {
            Chan::Lapin(ch) => ch
                .basic_consume(
                    short(queue, "queue name")?,
                    ShortString::from(""),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map(Consumer::Lapin)
                .map_err(Error::new),
            #[cfg(feature = "testing")]
            Chan::Memory(ch) => ch
                .basic_consume(queue)
                .await
                .map(Consumer::Memory)
                .map_err(Error::new),
        }
    }

    pub(crate) async fn cancel(&self, tag: &str) {
        match self {
            Chan::Lapin(ch) => {
                let _ = ch
                    .basic_cancel(ShortString::from(tag), BasicCancelOptions::default())
                    .await;
            }
            #[cfg(feature = "testing")]
            Chan::Memory(ch) => {
                let _ = ch.basic_cancel(tag).await;
            }
        }
    }

    /// Publishes and waits for the broker's confirm (a nack is an error).
    pub(crate) async fn publish_confirmed(
        &self,
        exchange: &ShortString,
        routing_key: &ShortString,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), Error> {
        match self {
            Chan::Lapin(ch) => {
                let confirm = ch
                    .basic_publish(
                        exchange.clone(),
                        routing_key.clone(),
                        BasicPublishOptions::default(),
                        body,
                        properties,
                    )
                    .await
                    .map_err(Error::new)?
                    .await
                    .map_err(Error::new)?;
                if confirm.is_nack() {
                    return Err(Error::msg("the broker refused the message (nack)"));
                }
                Ok(())
            }
            #[cfg(feature = "testing")]
            Chan::Memory(ch) => ch
                .basic_publish(
                    exchange.as_str(),
                    routing_key.as_str(),
                    body.to_vec(),
                    properties,
                )
                .await
                .map_err(Error::new),
        }
    }

    pub(crate) async fn close(&self, code: u16, text: &str) {
        match self {
            Chan::Lapin(ch) => {
                let _ = ch.close(code, text.into()).await;
            }
            #[cfg(feature = "testing")]
            Chan::Memory(ch) => {
                let _ = ch.close().await;
            }
        }
    }
}

/// A consumer's stream of deliveries.
pub(crate) enum Consumer {
    Lapin(lapin::Consumer),
    #[cfg(feature = "testing")]
    Memory(crate::testing::amqp::MemoryConsumer),
}

impl Consumer {
    /// The consumer tag, to cancel it.
    pub(crate) fn tag(&self) -> String {
        match self {
            Consumer::Lapin(c) => c.tag().as_str().to_owned(),
            #[cfg(feature = "testing")]
            Consumer::Memory(c) => c.tag().to_owned(),
        }
    }
}

impl Stream for Consumer {
    type Item = Result<Delivery, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.get_mut() {
            Consumer::Lapin(c) => Pin::new(c)
                .poll_next(cx)
                .map(|d| d.map(|d| d.map(Delivery::Lapin).map_err(Error::new))),
            #[cfg(feature = "testing")]
            Consumer::Memory(c) => Pin::new(c)
                .poll_next(cx)
                .map(|d| d.map(|d| d.map(Delivery::Memory).map_err(Error::new))),
        }
    }
}

/// One delivery.
pub(crate) enum Delivery {
    Lapin(lapin::message::Delivery),
    #[cfg(feature = "testing")]
    Memory(crate::testing::amqp::MemoryDelivery),
}

impl Delivery {
    pub(crate) fn data(&self) -> &[u8] {
        match self {
            Delivery::Lapin(d) => &d.data,
            #[cfg(feature = "testing")]
            Delivery::Memory(d) => &d.data,
        }
    }

    pub(crate) fn properties(&self) -> &BasicProperties {
        match self {
            Delivery::Lapin(d) => &d.properties,
            #[cfg(feature = "testing")]
            Delivery::Memory(d) => &d.properties,
        }
    }

    pub(crate) fn routing_key(&self) -> &str {
        match self {
            Delivery::Lapin(d) => d.routing_key.as_str(),
            #[cfg(feature = "testing")]
            Delivery::Memory(d) => &d.routing_key,
        }
    }

    pub(crate) fn redelivered(&self) -> bool {
        match self {
            Delivery::Lapin(d) => d.redelivered,
            #[cfg(feature = "testing")]
            Delivery::Memory(d) => d.redelivered,
        }
    }

    pub(crate) fn delivery_tag(&self) -> u64 {
        match self {
            Delivery::Lapin(d) => d.delivery_tag,
            #[cfg(feature = "testing")]
            Delivery::Memory(d) => d.delivery_tag,
        }
    }

    pub(crate) async fn ack(&self) -> Result<(), Error> {
        match self {
            Delivery::Lapin(d) => d
                .acker
                .ack(BasicAckOptions::default())
                .await
                .map(|_| ())
                .map_err(Error::new),
            #[cfg(feature = "testing")]
            Delivery::Memory(d) => d.acker.ack().await.map(|_| ()).map_err(Error::new),
        }
    }

    /// Returns the message to its queue.
    pub(crate) async fn requeue(&self) -> Result<(), Error> {
        match self {
            Delivery::Lapin(d) => d
                .acker
                .nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                })
                .await
                .map(|_| ())
                .map_err(Error::new),
            #[cfg(feature = "testing")]
            Delivery::Memory(d) => d.acker.nack(true).await.map(|_| ()).map_err(Error::new),
        }
    }
}
