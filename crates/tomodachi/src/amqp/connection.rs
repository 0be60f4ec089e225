//! Connecting to RabbitMQ from `options.amqp`, with retries and upstream's error text.

use std::time::Duration;

use lapin::{Connection, ConnectionProperties};

use crate::error::Error;
use crate::options::AmqpOptions;

/// The AMQP URI for the options (login, password and vhost percent-encoded).
pub(crate) fn uri(o: &AmqpOptions) -> String {
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let scheme = if o.ssl { "amqps" } else { "amqp" };
    format!(
        "{scheme}://{}:{}@{}:{}/{}?heartbeat={}",
        enc(&o.login),
        enc(&o.password),
        o.host,
        o.port,
        enc(&o.virtualhost),
        o.heartbeat
    )
}

/// One connection attempt; a failure carries upstream's message
/// (`Unable to connect [amqp] to host:port (reason)`).
pub(crate) async fn connect_once(o: &AmqpOptions) -> Result<Connection, Error> {
    Connection::connect(&uri(o), ConnectionProperties::default())
        .await
        .map_err(|e| {
            Error::msg(format!(
                "Unable to connect [amqp] to {}:{} ({e})",
                o.host, o.port
            ))
        })
}

/// Connects, retrying with exponential backoff (0.25 s doubling up to 5 s) until `deadline`
/// has passed; each failed attempt is logged as a warning.
pub(crate) async fn connect(o: &AmqpOptions, patience: Duration) -> Result<Connection, Error> {
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(250);
    loop {
        match connect_once(o).await {
            Ok(conn) => return Ok(conn),
            Err(e) => {
                tracing::warn!(target: "tomodachi.amqp", "{e}");
                if started.elapsed() + delay > patience {
                    return Err(e);
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_encodes_credentials_and_vhost() {
        let mut o = AmqpOptions::default();
        assert_eq!(
            uri(&o),
            "amqp://guest:guest@127.0.0.1:5672/%2F?heartbeat=60"
        );
        o.login = "a@b".into();
        o.password = "p/w:".into();
        o.virtualhost = "prod".into();
        o.ssl = true;
        o.port = 5671;
        assert_eq!(
            uri(&o),
            "amqps://a%40b:p%2Fw%3A@127.0.0.1:5671/prod?heartbeat=60"
        );
    }

    #[tokio::test]
    async fn an_unreachable_broker_is_a_clear_error() {
        let o = AmqpOptions {
            port: 54321,
            ..AmqpOptions::default()
        };
        let err = connect(&o, Duration::from_millis(300)).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Unable to connect [amqp] to 127.0.0.1:54321 ("),
            "{err}"
        );
    }
}
