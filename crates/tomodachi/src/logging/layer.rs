//! The `tracing_subscriber::Layer` rendering events in the tomodachi formats.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::console::{push_console_line, push_python_line};
use super::format::LogFormat;
use super::json::push_json_record;
use super::level::record_level_name;
use super::limits::LogLimits;
use super::value::FieldValue;
use super::writer::StderrWriter;

/// Buffers above this capacity are released after use instead of being kept per thread.
const MAX_RETAINED_CAPACITY: usize = 64 * 1024;

/// A [`Layer`] writing every event as one tomodachi log line (console, JSON or python
/// format) to a [`MakeWriter`] (stderr by default), with a single write call per record.
///
/// The logger name is the event's target; the fields of the enclosing spans (outermost
/// first) form the bound context and precede the event's own fields; a key bound again
/// further in keeps its first position and takes the innermost value.
///
/// ```
/// use tomodachi::logging::{CaptureWriter, LogFormat, TomodachiLayer};
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let capture = CaptureWriter::new();
/// let subscriber = tracing_subscriber::registry()
///     .with(TomodachiLayer::new(LogFormat::Json, false, capture.clone()));
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!(target: "tomodachi.service", service = "probe", "initializing service instance");
/// });
/// assert!(capture.contents().ends_with(
///     "\"logger\": \"tomodachi.service\", \"level\": \"info\", \
///      \"message\": \"initializing service instance\", \"service\": \"probe\"}\n"
/// ));
/// ```
#[derive(Debug, Clone)]
pub struct TomodachiLayer<W = StderrWriter> {
    format: LogFormat,
    color: bool,
    make_writer: W,
    limits: Option<LogLimits>,
}

impl TomodachiLayer<StderrWriter> {
    /// A layer writing to stderr (locked once per record).
    pub fn stderr(format: LogFormat, color: bool) -> Self {
        Self::new(format, color, StderrWriter)
    }
}

impl<W> TomodachiLayer<W>
where
    W: for<'w> MakeWriter<'w> + 'static,
{
    /// A layer writing records in `format` to writers made by `make_writer`; `color` enables
    /// ANSI colours in the console format (ignored by the other formats).
    pub fn new(format: LogFormat, color: bool, make_writer: W) -> Self {
        Self {
            format,
            color,
            make_writer,
            limits: None,
        }
    }

    /// Caps the records of this layer with `limits` instead of the process-wide
    /// [`limits`](super::limits()).
    ///
    /// ```
    /// use tomodachi::logging::{CaptureWriter, LogFormat, LogLimits, TomodachiLayer};
    /// use tracing_subscriber::layer::SubscriberExt;
    ///
    /// let capture = CaptureWriter::new();
    /// let limits = LogLimits { max_field_length: 8, max_line_length: 0 };
    /// let subscriber = tracing_subscriber::registry()
    ///     .with(TomodachiLayer::new(LogFormat::Console, false, capture.clone()).with_limits(limits));
    /// tracing::subscriber::with_default(subscriber, || {
    ///     tracing::info!(target: "t", message_uuid = "0123456789abcdef", "message received");
    /// });
    /// assert!(capture.contents().ends_with(" message_uuid=\"01234567…(+8 bytes)\"\n"));
    /// ```
    pub fn with_limits(mut self, limits: LogLimits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// The output format of this layer.
    pub fn format(&self) -> LogFormat {
        self.format
    }

    /// Whether this layer writes ANSI colours.
    pub fn color(&self) -> bool {
        self.color && self.format == LogFormat::Console
    }

    fn uses_fields(&self) -> bool {
        matches!(self.format, LogFormat::Console | LogFormat::Json)
    }

    fn render<S>(&self, scratch: &mut Scratch, event: &Event<'_>, ctx: &Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        scratch.clear();
        // a `log` crate record (through `LogTracer`): its own target and level
        let normalized = tracing_log::NormalizeEvent::normalized_metadata(event);
        let metadata = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let with_fields = self.uses_fields();
        if with_fields {
            super::context::with_current(|bound| {
                scratch.put_str("handler", &bound.handler);
                scratch.put_str("type", bound.kind);
                if let Some(status) = bound.status_code {
                    scratch.put("status_code", Val::UInt(u64::from(status)));
                }
            });
            if let Some(scope) = ctx.event_scope(event) {
                for span in scope.from_root() {
                    let extensions = span.extensions();
                    if let Some(fields) = extensions.get::<SpanFields>() {
                        for (key, value) in &fields.0 {
                            scratch.push_stored(key, value);
                        }
                    }
                }
            }
        }
        // a `Logger`'s record: its name, its bound fields, its own fields
        let emit = if metadata.target() == super::logger::LOGGER_TARGET {
            super::logger::emitting()
        } else {
            None
        };
        if let (true, Some(emit)) = (with_fields, &emit) {
            for (key, value) in emit.fields.iter().chain(emit.extra.iter()) {
                scratch.put_dyn(key, value.as_field());
            }
        }
        let mut visitor = EventVisitor {
            scratch: &mut *scratch,
            is_error: *metadata.level() == Level::ERROR,
            with_fields,
        };
        event.record(&mut visitor);
        #[cfg(feature = "opentelemetry")]
        if with_fields {
            if let Some(ids) = crate::telemetry::log_ids::current() {
                scratch.put_trace_ids(&ids);
            }
        }

        let Scratch {
            out,
            arena,
            fields,
            message,
            critical,
            ..
        } = scratch;
        let level = if *critical {
            "critical"
        } else {
            record_level_name(metadata.level())
        };
        let message = message
            .and_then(|(start, end)| arena.get(start..end))
            .unwrap_or("");
        let logger = emit.as_ref().map_or(metadata.target(), |e| &e.name);
        let values = fields
            .iter()
            .map(|entry| (entry.key.get(arena), entry.val.get(arena)));
        let limits = self.limits.unwrap_or_else(super::limits);
        match self.format {
            LogFormat::Json => push_json_record(out, logger, level, message, values, &limits),
            LogFormat::Console => {
                push_console_line(out, self.color, level, message, logger, values, &limits)
            }
            LogFormat::Python => push_python_line(out, level, message, logger, &limits),
            LogFormat::Disabled => return,
        }
        let mut writer = self.make_writer.make_writer_for(metadata);
        let _ = writer.write_all(out.as_bytes());
    }
}

impl<S, W> Layer<S> for TomodachiLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !self.uses_fields() {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        // Another TomodachiLayer on the same registry may have stored them already.
        if extensions.get_mut::<SpanFields>().is_some() {
            return;
        }
        let mut fields = SpanFields(Vec::new());
        attrs.record(&mut fields);
        if !fields.0.is_empty() {
            extensions.insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if !self.uses_fields() {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<SpanFields>() {
            values.record(fields);
            return;
        }
        let mut fields = SpanFields(Vec::new());
        values.record(&mut fields);
        if !fields.0.is_empty() {
            extensions.insert(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if self.format == LogFormat::Disabled {
            return;
        }
        let rendered = SCRATCH.try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => {
                self.render(&mut scratch, event, &ctx);
                scratch.shrink();
            }
            // Re-entered (a field's Debug impl logged): use a fresh buffer.
            Err(_) => self.render(&mut Scratch::default(), event, &ctx),
        });
        if rendered.is_err() {
            // Thread-local storage is being torn down.
            self.render(&mut Scratch::default(), event, &ctx);
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Per-thread buffers reused for every record.
#[derive(Default)]
struct Scratch {
    /// The rendered line.
    out: String,
    /// Text of string fields and the message, referenced by range.
    arena: String,
    /// The merged field list: span context (outermost first), then event fields.
    fields: Vec<Entry>,
    /// Range of the message in `arena`.
    message: Option<(usize, usize)>,
    /// The event carried `critical = true` at ERROR level.
    critical: bool,
    /// One bit per key length (modulo 64) in `fields`: a key whose bit is clear is new, and
    /// is pushed without looking through the fields.
    key_lengths: u64,
}

impl Scratch {
    fn clear(&mut self) {
        self.out.clear();
        self.arena.clear();
        self.fields.clear();
        self.message = None;
        self.critical = false;
        self.key_lengths = 0;
    }

    /// Marks a key of `len` bytes as present; whether one of that length may already be.
    #[inline]
    fn note_key_length(&mut self, len: usize) -> bool {
        let bit = 1u64 << (len % 64);
        let seen = self.key_lengths & bit != 0;
        self.key_lengths |= bit;
        seen
    }

    fn shrink(&mut self) {
        if self.out.capacity() > MAX_RETAINED_CAPACITY {
            self.out = String::new();
        }
        if self.arena.capacity() > MAX_RETAINED_CAPACITY {
            self.arena = String::new();
        }
    }

    /// Adds or replaces (keeping the first position, like a Python dict) a field.
    #[inline]
    fn put(&mut self, key: &'static str, val: Val) {
        if !self.note_key_length(key.len()) {
            self.fields.push(Entry {
                key: Key::Static(key),
                val,
            });
            return;
        }
        let arena = &self.arena;
        if let Some(entry) = self
            .fields
            .iter_mut()
            .find(|entry| entry.key.is(key, arena))
        {
            entry.val = val;
        } else {
            self.fields.push(Entry {
                key: Key::Static(key),
                val,
            });
        }
    }

    /// [`put`](Self::put) with a key known at run time (a [`Logger`](super::Logger)'s).
    fn put_dyn(&mut self, key: &str, value: FieldValue<'_>) {
        let key = super::rename_key(key);
        let val = match value {
            FieldValue::Str(s) => {
                let start = self.arena.len();
                self.arena.push_str(s);
                Val::Str(start, self.arena.len())
            }
            FieldValue::Int(v) => Val::Int(v),
            FieldValue::UInt(v) => Val::UInt(v),
            FieldValue::Float(v) => Val::Float(v),
            FieldValue::Bool(v) => Val::Bool(v),
            FieldValue::Null => Val::Null,
        };
        let seen = self.note_key_length(key.len());
        let arena = &self.arena;
        let existing = if seen {
            self.fields
                .iter_mut()
                .find(|entry| entry.key.is(key, arena))
        } else {
            None
        };
        if let Some(entry) = existing {
            entry.val = val;
        } else {
            let start = self.arena.len();
            self.arena.push_str(key);
            let end = self.arena.len();
            self.fields.push(Entry {
                key: Key::Arena(start, end),
                val,
            });
        }
    }

    fn put_str(&mut self, key: &'static str, value: &str) {
        let start = self.arena.len();
        self.arena.push_str(value);
        self.put(key, Val::Str(start, self.arena.len()));
    }

    /// Upstream's trace ids (Python `hex()`: `0x`, lower case, no zero padding), after the
    /// record's own fields.
    #[cfg(feature = "opentelemetry")]
    fn put_trace_ids(&mut self, ids: &crate::telemetry::log_ids::TraceIds) {
        let mut hex = |key: &'static str, value: u128| {
            const DIGITS: &[u8; 16] = b"0123456789abcdef";
            let start = self.arena.len();
            self.arena.push_str("0x");
            let nibbles = (128 - value.leading_zeros()).div_ceil(4).max(1);
            for i in (0..nibbles).rev() {
                let digit = ((value >> (i * 4)) & 0xf) as usize;
                self.arena.push(char::from(DIGITS[digit]));
            }
            let end = self.arena.len();
            self.put(key, Val::Str(start, end));
        };
        hex("span_id", u128::from(ids.span_id));
        hex("trace_id", ids.trace_id);
        if let Some(parent) = ids.parent_span_id {
            hex("parent_span_id", u128::from(parent));
        }
    }

    fn push_stored(&mut self, key: &'static str, value: &Stored) {
        match value {
            Stored::Str(s) => self.put_str(key, s),
            Stored::Int(v) => self.put(key, Val::Int(*v)),
            Stored::UInt(v) => self.put(key, Val::UInt(*v)),
            Stored::Float(v) => self.put(key, Val::Float(*v)),
            Stored::Bool(v) => self.put(key, Val::Bool(*v)),
        }
    }
}

/// A field of the record being rendered.
struct Entry {
    key: Key,
    val: Val,
}

/// A field name: the call site's, or (a [`Logger`](super::Logger)'s) in the scratch arena.
#[derive(Clone, Copy)]
enum Key {
    Static(&'static str),
    Arena(usize, usize),
}

impl Key {
    /// Whether this is `key` (the length first: most keys differ in it).
    #[inline]
    fn is(&self, key: &str, arena: &str) -> bool {
        match *self {
            Key::Static(s) => s.len() == key.len() && s == key,
            Key::Arena(start, end) => {
                end - start == key.len() && arena.get(start..end) == Some(key)
            }
        }
    }

    #[inline]
    fn get<'a>(&self, arena: &'a str) -> &'a str {
        match *self {
            Key::Static(s) => s,
            Key::Arena(start, end) => arena.get(start..end).unwrap_or(""),
        }
    }
}

/// A field value; strings live in the scratch arena.
#[derive(Clone, Copy)]
enum Val {
    Str(usize, usize),
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    Null,
}

impl Val {
    fn get<'a>(&self, arena: &'a str) -> FieldValue<'a> {
        match *self {
            Val::Str(start, end) => FieldValue::Str(arena.get(start..end).unwrap_or("")),
            Val::Int(v) => FieldValue::Int(v),
            Val::UInt(v) => FieldValue::UInt(v),
            Val::Float(v) => FieldValue::Float(v),
            Val::Bool(v) => FieldValue::Bool(v),
            Val::Null => FieldValue::Null,
        }
    }
}

/// The field name as rendered, or `None` for names the record header owns
/// (`timestamp`, `logger`, `level`, `message`), which are dropped from span context.
fn field_key(field: &Field) -> Option<&'static str> {
    let name = field.name();
    // Only names starting with one of these letters are dropped, renamed or unprefixed: the
    // others (most) are looked at no further.
    let name = match name.as_bytes() {
        [b'r', b'#', ..] => name.get(2..).unwrap_or(name),
        [b't' | b'l' | b'm' | b'e' | b'c', ..] => name,
        _ => return Some(name),
    };
    match name {
        "timestamp" | "logger" | "level" | "message" => None,
        // the call site of a `log` crate record (`LogTracer`), shown as the logger name
        "log.target" | "log.module_path" | "log.file" | "log.line" => None,
        _ => Some(super::rename_key(name)),
    }
}

/// The bound context of a span: its fields in declaration/record order.
struct SpanFields(Vec<(&'static str, Stored)>);

/// An owned span field value.
enum Stored {
    Str(String),
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
}

impl SpanFields {
    fn put(&mut self, field: &Field, value: Stored) {
        let Some(key) = field_key(field) else {
            return;
        };
        if let Some(slot) = self.0.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            self.0.push((key, value));
        }
    }
}

impl Visit for SpanFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Stored::Float(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Stored::Int(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Stored::UInt(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        match i64::try_from(value) {
            Ok(v) => self.put(field, Stored::Int(v)),
            Err(_) => self.put(field, Stored::Str(value.to_string())),
        }
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        match u64::try_from(value) {
            Ok(v) => self.put(field, Stored::UInt(v)),
            Err(_) => self.put(field, Stored::Str(value.to_string())),
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Stored::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Stored::Str(value.to_owned()));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Stored::Str(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Stored::Str(format!("{value:?}")));
    }
}

/// Collects an event's message and fields into the scratch buffers.
struct EventVisitor<'s> {
    scratch: &'s mut Scratch,
    is_error: bool,
    with_fields: bool,
}

impl EventVisitor<'_> {
    fn key(&self, field: &Field) -> Option<&'static str> {
        if self.with_fields {
            field_key(field)
        } else {
            None
        }
    }

    fn put(&mut self, field: &Field, val: Val) {
        if let Some(key) = self.key(field) {
            self.scratch.put(key, val);
        }
    }

    /// Writes a string value into the arena: as the message, a field, or not at all.
    fn put_with(&mut self, field: &Field, write: impl FnOnce(&mut String)) {
        let is_message = field.name() == "message";
        let key = self.key(field);
        if !is_message && key.is_none() {
            return;
        }
        let start = self.scratch.arena.len();
        write(&mut self.scratch.arena);
        let end = self.scratch.arena.len();
        if is_message {
            self.scratch.message = Some((start, end));
        } else if let Some(key) = key {
            self.scratch.put(key, Val::Str(start, end));
        }
    }
}

impl Visit for EventVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Val::Float(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Val::Int(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Val::UInt(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        match i64::try_from(value) {
            Ok(v) => self.put(field, Val::Int(v)),
            Err(_) => self.put_with(field, |arena| {
                let _ = write!(arena, "{value}");
            }),
        }
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        match u64::try_from(value) {
            Ok(v) => self.put(field, Val::UInt(v)),
            Err(_) => self.put_with(field, |arena| {
                let _ = write!(arena, "{value}");
            }),
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.is_error && value && field.name() == "critical" {
            self.scratch.critical = true;
            return;
        }
        self.put(field, Val::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put_with(field, |arena| arena.push_str(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put_with(field, |arena| {
            let _ = write!(arena, "{value}");
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put_with(field, |arena| {
            let _ = write!(arena, "{value:?}");
        });
    }
}
