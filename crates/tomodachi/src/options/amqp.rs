//! `options.amqp.*` and `options.amqp.qos.*` – the AMQP (RabbitMQ) transport options.

use serde_json::Value;

use super::error::OptionsError;
use super::value;

/// `options.amqp.qos.*` – prefetch limits.
///
/// ```
/// use tomodachi::options::AmqpQosOptions;
///
/// let qos = AmqpQosOptions::default();
/// assert_eq!((qos.queue_prefetch_count, qos.global_prefetch_count), (100, 400));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmqpQosOptions {
    /// Per-consumer prefetch (`basic.qos` with `global=false`). Default `100`.
    pub queue_prefetch_count: u16,
    /// Per-channel prefetch (`basic.qos` with `global=true`). Default `400`.
    pub global_prefetch_count: u16,
}

impl Default for AmqpQosOptions {
    fn default() -> Self {
        Self {
            queue_prefetch_count: 100,
            global_prefetch_count: 400,
        }
    }
}

impl AmqpQosOptions {
    /// The keys of the section, in upstream `asdict()` order.
    pub const KEYS: &'static [&'static str] = &["queue_prefetch_count", "global_prefetch_count"];

    /// The section's values in `asdict()` order.
    pub(super) fn entries(&self) -> Vec<(&'static str, Value)> {
        vec![
            (
                "queue_prefetch_count",
                Value::from(self.queue_prefetch_count),
            ),
            (
                "global_prefetch_count",
                Value::from(self.global_prefetch_count),
            ),
        ]
    }

    /// Sets one canonical key of the section (`full` is the dotted key used in errors).
    pub(super) fn set_key(&mut self, key: &str, full: &str, v: &Value) -> Result<(), OptionsError> {
        const EXPECTED: &str = "an integer between 0 and 65535";
        match key {
            "queue_prefetch_count" => {
                self.queue_prefetch_count = value::u16_value(full, v, EXPECTED)?
            }
            "global_prefetch_count" => {
                self.global_prefetch_count = value::u16_value(full, v, EXPECTED)?
            }
            _ => return Err(super::unknown_key(full)),
        }
        Ok(())
    }
}

/// `options.amqp.*` – broker connection and naming settings.
///
/// ```
/// use tomodachi::options::{AmqpOptions, AmqpQosOptions, Options};
///
/// let options = Options {
///     amqp: AmqpOptions {
///         host: "rabbitmq.local".into(),
///         qos: AmqpQosOptions { queue_prefetch_count: 10, ..Default::default() },
///         ..Default::default()
///     },
///     ..Default::default()
/// };
/// assert_eq!(options.get("amqp.qos.queue_prefetch_count").unwrap(), 10);
/// assert_eq!(options.get("amqp.port").unwrap(), 5672);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmqpOptions {
    /// Broker host. Default `"127.0.0.1"`.
    pub host: String,
    /// Broker port (not changed automatically when `ssl` is on). Default `5672`.
    pub port: u16,
    /// Username. Default `"guest"`.
    pub login: String,
    /// Password. Default `"guest"`.
    pub password: String,
    /// Exchange used for subscriptions and publishing. Default `"amq.topic"`.
    pub exchange_name: String,
    /// Prepended to routing keys. Default `""` (JSON `null` → `""`).
    pub routing_key_prefix: String,
    /// Prepended to queue names. Default `""` (JSON `null` → `""`).
    pub queue_name_prefix: String,
    /// Virtual host. Default `"/"`.
    pub virtualhost: String,
    /// Use TLS. Default `false`.
    pub ssl: bool,
    /// Heartbeat seconds negotiated with the broker. Default `60`.
    pub heartbeat: u16,
    /// Queue expiry (`x-expires`) in seconds; `0` (JSON `0`/`null`) disables. Default `86400`.
    pub queue_ttl: u64,
    /// Prefetch limits.
    pub qos: AmqpQosOptions,
}

impl Default for AmqpOptions {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_string(),
            port: 5672,
            login: "guest".to_string(),
            password: "guest".to_string(),
            exchange_name: "amq.topic".to_string(),
            routing_key_prefix: String::new(),
            queue_name_prefix: String::new(),
            virtualhost: "/".to_string(),
            ssl: false,
            heartbeat: 60,
            queue_ttl: 86400,
            qos: AmqpQosOptions::default(),
        }
    }
}

impl AmqpOptions {
    /// The keys of the section, in upstream `asdict()` order (`qos` is a sub-section).
    pub const KEYS: &'static [&'static str] = &[
        "host",
        "port",
        "login",
        "password",
        "exchange_name",
        "routing_key_prefix",
        "queue_name_prefix",
        "virtualhost",
        "ssl",
        "heartbeat",
        "queue_ttl",
        "qos",
    ];

    /// The section's leaf values (without `qos`) in `asdict()` order.
    pub(super) fn entries(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("host", Value::from(self.host.clone())),
            ("port", Value::from(self.port)),
            ("login", Value::from(self.login.clone())),
            ("password", Value::from(self.password.clone())),
            ("exchange_name", Value::from(self.exchange_name.clone())),
            (
                "routing_key_prefix",
                Value::from(self.routing_key_prefix.clone()),
            ),
            (
                "queue_name_prefix",
                Value::from(self.queue_name_prefix.clone()),
            ),
            ("virtualhost", Value::from(self.virtualhost.clone())),
            ("ssl", Value::from(self.ssl)),
            ("heartbeat", Value::from(self.heartbeat)),
            ("queue_ttl", Value::from(self.queue_ttl)),
        ]
    }

    /// Sets one canonical leaf key of the section (`full` is the dotted key used in errors).
    pub(super) fn set_key(&mut self, key: &str, full: &str, v: &Value) -> Result<(), OptionsError> {
        match key {
            "host" => self.host = value::string(full, v)?,
            "port" => self.port = value::u16_value(full, v, "an integer between 0 and 65535")?,
            "login" => self.login = value::string(full, v)?,
            "password" => self.password = value::string(full, v)?,
            "exchange_name" => self.exchange_name = value::string(full, v)?,
            "routing_key_prefix" => self.routing_key_prefix = value::string_or(full, v, "")?,
            "queue_name_prefix" => self.queue_name_prefix = value::string_or(full, v, "")?,
            "virtualhost" => self.virtualhost = value::string(full, v)?,
            "ssl" => self.ssl = value::boolean(full, v)?,
            "heartbeat" => {
                self.heartbeat =
                    value::u16_value(full, v, "an integer number of seconds (0-65535)")?
            }
            "queue_ttl" => {
                self.queue_ttl = match v {
                    Value::Null => 0,
                    _ => value::u64_value(
                        full,
                        v,
                        "a non-negative integer number of seconds (0 or null = no expiry)",
                    )?,
                }
            }
            _ => return Err(super::unknown_key(full)),
        }
        Ok(())
    }
}
