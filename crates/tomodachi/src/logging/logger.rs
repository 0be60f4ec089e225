//! Upstream's contextual logger (`tomodachi.get_logger()`, `.bind(**kv)`): a named logger with
//! bound fields, the bindings of a name kept for the running handler's task.

use std::sync::{Arc, Mutex};

use tracing::Level;

use super::context::CONTEXT;
use super::FieldValue;

/// The `tracing` target of a [`Logger`]'s records; the formatters and the OTLP log export show
/// the logger's own name instead.
pub(crate) const LOGGER_TARGET: &str = "tomodachi.logger";

/// An owned field value bound to a [`Logger`].
#[derive(Debug, Clone, PartialEq)]
pub enum BoundValue {
    /// A string.
    Str(Arc<str>),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// No value (`null` / `None`).
    Null,
}

impl BoundValue {
    /// The value as the formatters take it.
    pub fn as_field(&self) -> FieldValue<'_> {
        match self {
            BoundValue::Str(s) => FieldValue::Str(s),
            BoundValue::Int(v) => FieldValue::Int(*v),
            BoundValue::UInt(v) => FieldValue::UInt(*v),
            BoundValue::Float(v) => FieldValue::Float(*v),
            BoundValue::Bool(v) => FieldValue::Bool(*v),
            BoundValue::Null => FieldValue::Null,
        }
    }
}

impl From<FieldValue<'_>> for BoundValue {
    fn from(v: FieldValue<'_>) -> Self {
        match v {
            FieldValue::Str(s) => BoundValue::Str(Arc::from(s)),
            FieldValue::Int(v) => BoundValue::Int(v),
            FieldValue::UInt(v) => BoundValue::UInt(v),
            FieldValue::Float(v) => BoundValue::Float(v),
            FieldValue::Bool(v) => BoundValue::Bool(v),
            FieldValue::Null => BoundValue::Null,
        }
    }
}

impl From<String> for BoundValue {
    fn from(v: String) -> Self {
        BoundValue::Str(Arc::from(v))
    }
}

macro_rules! bound_from {
    ($($t:ty),*) => {
        $(
            impl From<$t> for BoundValue {
                fn from(v: $t) -> Self {
                    FieldValue::from(v).into()
                }
            }
        )*
    };
}

bound_from!(&str, &String, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64, bool);

/// The fields bound to a logger name, in binding order.
pub(crate) type Fields = Arc<Vec<(Arc<str>, BoundValue)>>;

/// The loggers bound in a handler's task (part of its [`HandlerContext`](super::HandlerContext));
/// a clone is a snapshot.
#[derive(Default)]
pub(crate) struct BoundLoggers(Mutex<Vec<(Arc<str>, Fields)>>);

impl Clone for BoundLoggers {
    fn clone(&self) -> Self {
        let bound = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        BoundLoggers(Mutex::new(bound))
    }
}

impl BoundLoggers {
    fn get(&self, name: &str) -> Option<Fields> {
        let bound = self.0.lock().unwrap_or_else(|p| p.into_inner());
        bound
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, f)| f.clone())
    }

    fn set(&self, name: &Arc<str>, fields: &Fields) {
        let mut bound = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match bound.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = fields.clone(),
            None => bound.push((name.clone(), fields.clone())),
        }
    }
}

/// A logger with a name and bound fields, upstream's `tomodachi.get_logger()`: its records go
/// through the library's formatters (and the OTLP log export, for `tomodachi*` names) with the
/// logger's name, the handler's context, the bound fields, then the record's own fields.
///
/// Made by [`get_logger`]. Cheap to clone.
///
/// ```
/// use tomodachi::logging::{build_subscriber, get_logger, CaptureWriter, FieldValue, LogFormat, LogLevel, LoggingConfig};
///
/// let capture = CaptureWriter::new();
/// let config = LoggingConfig { format: LogFormat::Json, level: LogLevel::Info, color: false };
/// tracing::subscriber::with_default(build_subscriber(&config, capture.clone()), || {
///     let logger = get_logger("orders").bind("order_id", 17);
///     logger.info("order received");
///     logger.log(tracing::Level::WARN, "slow", &[("elapsed", FieldValue::Float(1.5))]);
/// });
/// let out = capture.contents();
/// assert!(out.contains(r#""logger": "orders", "level": "info", "message": "order received", "order_id": 17}"#));
/// assert!(out.contains(r#""message": "slow", "order_id": 17, "elapsed": 1.5}"#));
/// ```
#[derive(Debug, Clone)]
pub struct Logger {
    name: Arc<str>,
    fields: Fields,
}

/// The record a [`Logger`] is emitting, read by the layers while it is dispatched.
pub(crate) struct Emit {
    pub(crate) name: Arc<str>,
    pub(crate) fields: Fields,
    pub(crate) extra: Vec<(Arc<str>, BoundValue)>,
}

thread_local! {
    static EMITTING: std::cell::RefCell<Option<Arc<Emit>>> = const { std::cell::RefCell::new(None) };
}

/// The [`Logger`] record being dispatched on this thread (for events of [`LOGGER_TARGET`]).
pub(crate) fn emitting() -> Option<Arc<Emit>> {
    EMITTING
        .try_with(|e| e.try_borrow().ok().and_then(|e| e.clone()))
        .ok()
        .flatten()
}

/// The logger name of a handler kind (upstream's `service.logger`): `tomodachi.http.handler`,
/// `tomodachi.amqp.handler`, ...
fn handler_logger_name(kind: &str) -> String {
    match kind {
        "tomodachi.http" | "tomodachi.http_error" | "tomodachi.websocket" => {
            "tomodachi.http.handler".to_owned()
        }
        other => format!("{other}.handler"),
    }
}

/// Upstream's `tomodachi.get_logger(name=None)`.
///
/// Without a name: the logger of the running handler (`tomodachi.http.handler`,
/// `tomodachi.amqp.handler`, `tomodachi.awssnssqs.handler`, `tomodachi.schedule.handler`, ...:
/// upstream's `service.logger`), else one named `default`. With a name: that logger. Either
/// way with the fields bound to that name earlier in the same handler (task-local, like
/// upstream's context variable: another request's handler does not see them, and a task
/// started with [`scope`](super::scope) and a clone of [`current`](super::current) gets a
/// snapshot). Outside a handler, bound fields live only in the returned logger.
///
/// ```
/// # async fn demo() {
/// use tomodachi::logging::{get_logger, scope, HandlerContext};
///
/// scope(HandlerContext::new("create_order", "tomodachi.http"), async {
///     get_logger(None).bind("order_id", 17);
///     // later in the same handler: the binding is still there
///     let logger = get_logger(None);
///     assert_eq!(logger.name(), "tomodachi.http.handler");
///     assert!(logger.fields().any(|(k, _)| k == "order_id"));
/// })
/// .await;
/// assert_eq!(get_logger(None).name(), "default");
/// # }
/// ```
pub fn get_logger<'a>(name: impl Into<Option<&'a str>>) -> Logger {
    let name = name.into();
    let found = CONTEXT
        .try_with(|c| {
            let name: Arc<str> = match name {
                Some(n) => Arc::from(n),
                None => Arc::from(handler_logger_name(c.kind)),
            };
            let fields = c.loggers.get(&name).unwrap_or_default();
            Logger { name, fields }
        })
        .ok();
    found.unwrap_or_else(|| Logger {
        name: Arc::from(name.unwrap_or("default")),
        fields: Fields::default(),
    })
}

impl Logger {
    /// The logger's name (the records' `logger`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bound fields, in binding order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, FieldValue<'_>)> {
        self.fields.iter().map(|(k, v)| (&**k, v.as_field()))
    }

    /// This logger with `key` bound to `value` (a key bound again keeps its place and takes
    /// the new value); inside a handler, [`get_logger`] of this name returns it from now on in
    /// this handler's task.
    ///
    /// ```
    /// let logger = tomodachi::logging::get_logger("payments").bind("user", "ann").bind("user", "bo");
    /// use tomodachi::logging::FieldValue;
    /// assert_eq!(logger.fields().collect::<Vec<_>>(), [("user", FieldValue::Str("bo"))]);
    /// ```
    pub fn bind(&self, key: &str, value: impl Into<BoundValue>) -> Logger {
        let mut fields = (*self.fields).clone();
        let value = value.into();
        match fields.iter_mut().find(|(k, _)| &**k == key) {
            Some(slot) => slot.1 = value,
            None => fields.push((Arc::from(key), value)),
        }
        let logger = Logger {
            name: self.name.clone(),
            fields: Arc::new(fields),
        };
        let _ = CONTEXT.try_with(|c| c.loggers.set(&logger.name, &logger.fields));
        logger
    }

    /// Writes a record at `level` with `message` and the record's own `fields` (after the
    /// bound ones). Nothing is done for a level that is filtered out.
    pub fn log(&self, level: Level, message: &str, fields: &[(&str, FieldValue<'_>)]) {
        self.emit(level, false, message, fields);
    }

    fn emit(&self, level: Level, critical: bool, message: &str, fields: &[(&str, FieldValue<'_>)]) {
        macro_rules! dispatch {
            ($lvl:expr) => {
                if tracing::enabled!(target: LOGGER_TARGET, $lvl) {
                    let emit = Arc::new(Emit {
                        name: self.name.clone(),
                        fields: self.fields.clone(),
                        extra: fields
                            .iter()
                            .map(|(k, v)| (Arc::from(*k), BoundValue::from(*v)))
                            .collect(),
                    });
                    let previous = EMITTING.with(|e| e.replace(Some(emit)));
                    if critical {
                        tracing::event!(target: LOGGER_TARGET, $lvl, critical = true, "{}", message);
                    } else {
                        tracing::event!(target: LOGGER_TARGET, $lvl, "{}", message);
                    }
                    EMITTING.with(|e| *e.borrow_mut() = previous);
                }
            };
        }
        match level {
            Level::ERROR => dispatch!(Level::ERROR),
            Level::WARN => dispatch!(Level::WARN),
            Level::INFO => dispatch!(Level::INFO),
            Level::DEBUG => dispatch!(Level::DEBUG),
            Level::TRACE => dispatch!(Level::TRACE),
        }
    }

    /// A `debug` record.
    pub fn debug(&self, message: &str) {
        self.emit(Level::DEBUG, false, message, &[]);
    }

    /// An `info` record.
    pub fn info(&self, message: &str) {
        self.emit(Level::INFO, false, message, &[]);
    }

    /// A `warning` record.
    pub fn warning(&self, message: &str) {
        self.emit(Level::WARN, false, message, &[]);
    }

    /// An `error` record.
    pub fn error(&self, message: &str) {
        self.emit(Level::ERROR, false, message, &[]);
    }

    /// A `critical` record.
    pub fn critical(&self, message: &str) {
        self.emit(Level::ERROR, true, message, &[]);
    }
}
