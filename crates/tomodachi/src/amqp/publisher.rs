//! Publishing with publisher confirms over a lazily opened, self-healing channel.

use std::time::Duration;

use lapin::BasicProperties;
use tokio::sync::Mutex;

use super::link::{short, Backend, Chan, Conn};
use crate::error::Error;
use crate::options::AmqpOptions;

/// How long a publish keeps retrying through a broker outage before it fails.
const PUBLISH_PATIENCE: Duration = Duration::from_secs(30);

/// How long one attempt waits for its confirm: a channel left half-open by a broker restart
/// may never answer, and the attempt then counts as failed (reconnect, publish again).
const ATTEMPT_PATIENCE: Duration = Duration::from_secs(10);

/// Publishes on its own connection with confirms; reconnects when the channel breaks.
pub(crate) struct Publisher {
    options: AmqpOptions,
    backend: Backend,
    link: Mutex<Option<(Conn, Chan)>>,
}

impl Publisher {
    pub(crate) fn new(options: AmqpOptions, backend: Backend) -> Self {
        Self {
            options,
            backend,
            link: Mutex::new(None),
        }
    }

    /// The broker it publishes to (the consumers of the same service connect to it too).
    pub(crate) fn backend(&self) -> &Backend {
        &self.backend
    }

    async fn channel(&self) -> Result<Chan, Error> {
        let mut link = self.link.lock().await;
        if let Some((conn, ch)) = link.as_ref() {
            if conn.connected() && ch.connected() {
                return Ok(ch.clone());
            }
        }
        let conn = self.backend.connect_once(&self.options).await?;
        let ch = conn.channel().await?;
        ch.confirm_select().await?;
        *link = Some((conn, ch.clone()));
        Ok(ch)
    }

    async fn reset(&self) {
        if let Some((conn, _)) = self.link.lock().await.take() {
            conn.close(200, "reconnecting").await;
        }
    }

    /// Publishes and waits for the broker's confirm, retrying through connection failures
    /// (with backoff) for up to 30 s.
    pub(crate) async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), Error> {
        let exchange = short(exchange, "exchange name")?;
        let routing_key = short(routing_key, "routing key")?;
        let started = tokio::time::Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            let attempt = async {
                let ch = self.channel().await?;
                ch.publish_confirmed(&exchange, &routing_key, body, properties.clone())
                    .await
            };
            let left = PUBLISH_PATIENCE
                .saturating_sub(started.elapsed())
                .max(Duration::from_secs(1));
            let patience = ATTEMPT_PATIENCE.min(left);
            let result = tokio::time::timeout(patience, attempt)
                .await
                .unwrap_or_else(|_| {
                    Err(Error::msg(format!(
                        "no publisher confirm within {} s",
                        patience.as_secs()
                    )))
                });
            match result {
                Ok(()) => return Ok(()),
                Err(e) => {
                    self.reset().await;
                    if started.elapsed() + delay > PUBLISH_PATIENCE {
                        return Err(Error::msg(format!(
                            "unable to publish to [amqp] exchange {:?} with routing key {:?}: {e}",
                            exchange.as_str(),
                            routing_key.as_str()
                        )));
                    }
                    tracing::warn!(target: "tomodachi.amqp", error_message = %e,
                        "publish failed, reconnecting");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// Declares a durable queue without arguments (dead-letter queues), idempotently.
    pub(crate) async fn declare_queue(&self, name: &str) -> Result<(), Error> {
        let ch = self.channel().await?;
        ch.declare_queue(name, lapin::types::FieldTable::default())
            .await
            .map_err(|e| Error::msg(format!("Unable to declare queue [amqp] \"{name}\": {e}")))?;
        Ok(())
    }

    /// Closes the connection (at shutdown).
    pub(crate) async fn close(&self) {
        self.reset().await;
    }
}
