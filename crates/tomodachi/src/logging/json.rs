//! The JSON line writer (Python `json.dumps` separators, `ensure_ascii` escaping).

use super::limits::{field_reserve, prefix_at_most, render_within_cap, value_budget, LogLimits};
use super::value::{push_f64, push_i64, push_timestamp, push_u64, FieldValue};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Bytes that cannot be copied verbatim into an `ensure_ascii` JSON string.
const ESCAPE: [bool; 256] = {
    let mut table = [true; 256];
    let mut b = 0x20;
    while b < 0x7f {
        table[b] = b == b'"' as usize || b == b'\\' as usize;
        b += 1;
    }
    table
};

/// Appends `s` as a JSON string literal, escaped like Python's `json.dumps` with
/// `ensure_ascii=True`: `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, every other character
/// outside printable ASCII as `\uXXXX` (lower-case hex, UTF-16 surrogate pairs above U+FFFF).
pub(super) fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut run = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if !ESCAPE[usize::from(b)] {
            i += 1;
            continue;
        }
        out.push_str(&s[run..i]);
        if b < 0x80 {
            match b {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                b'\n' => out.push_str("\\n"),
                b'\r' => out.push_str("\\r"),
                b'\t' => out.push_str("\\t"),
                0x08 => out.push_str("\\b"),
                0x0c => out.push_str("\\f"),
                _ => push_unicode_escape(out, u16::from(b)),
            }
            i += 1;
        } else {
            let Some(ch) = s[i..].chars().next() else {
                break;
            };
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                push_unicode_escape(out, *unit);
            }
            i += ch.len_utf8();
        }
        run = i;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// Appends one character of a JSON string, escaped as [`push_json_str`] does.
fn push_json_char(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        ' '..='~' => out.push(c),
        _ => {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                push_unicode_escape(out, *unit);
            }
        }
    }
}

/// Appends `s` as a JSON string literal like [`push_json_str`], with at most `field_cap` bytes
/// of `s` and about `budget` bytes of output; a cut string ends with `\u2026(+N bytes)`.
pub(super) fn push_json_str_capped(out: &mut String, s: &str, field_cap: usize, budget: usize) {
    // An escaped character takes at most 6 bytes per byte of input.
    if s.len() <= field_cap && s.len().saturating_mul(6) <= budget {
        push_json_str(out, s);
        return;
    }
    let head = prefix_at_most(s, field_cap);
    let start = out.len();
    out.push('"');
    let mut written = head.len();
    for (i, c) in head.char_indices() {
        if out.len() - start >= budget {
            written = i;
            break;
        }
        push_json_char(out, c);
    }
    if written < s.len() {
        out.push_str("\\u2026(+");
        push_u64(out, (s.len() - written) as u64);
        out.push_str(" bytes)");
    }
    out.push('"');
}

fn push_unicode_escape(out: &mut String, unit: u16) {
    out.push_str("\\u");
    for shift in [12u16, 8, 4, 0] {
        out.push(char::from(HEX[usize::from((unit >> shift) & 0xf)]));
    }
}

/// Appends `value` as a JSON value (strings capped as [`push_json_str_capped`]).
pub(super) fn push_json_value(
    out: &mut String,
    value: &FieldValue<'_>,
    field_cap: usize,
    budget: usize,
) {
    match *value {
        FieldValue::Str(s) => push_json_str_capped(out, s, field_cap, budget),
        FieldValue::Int(v) => push_i64(out, v),
        FieldValue::UInt(v) => push_u64(out, v),
        FieldValue::Float(v) => push_f64(out, v, true),
        FieldValue::Bool(v) => out.push_str(if v { "true" } else { "false" }),
        FieldValue::Null => out.push_str("null"),
    }
}

/// Opens a record: `{"timestamp": "<now>", "logger": …, "level": …, "message": …`, the message
/// capped by `limits` with `reserved` bytes kept free for the fields to come.
pub(super) fn push_json_head(
    out: &mut String,
    logger: &str,
    level: &str,
    message: &str,
    limits: &LogLimits,
    reserved: usize,
) {
    let start = out.len();
    out.push_str("{\"timestamp\": \"");
    push_timestamp(out);
    out.push_str("\", \"logger\": ");
    push_json_str(out, logger);
    out.push_str(", \"level\": ");
    push_json_str(out, level);
    out.push_str(", \"message\": ");
    let budget = value_budget(limits.line_cap(), out.len() - start, reserved);
    push_json_str_capped(out, message, limits.field_cap(), budget);
}

/// Appends one `, "key": value` member, its string value capped by `limits`: `used` is the
/// length of the record so far and `reserved` the bytes kept free for the fields after it.
pub(super) fn push_json_field(
    out: &mut String,
    key: &str,
    value: &FieldValue<'_>,
    limits: &LogLimits,
    used: usize,
    reserved: usize,
) {
    let start = out.len();
    out.push_str(", ");
    push_json_str(out, key);
    out.push_str(": ");
    let budget = value_budget(limits.line_cap(), used + (out.len() - start), reserved);
    push_json_value(out, value, limits.field_cap(), budget);
}

/// Appends a whole JSON record: head, `fields` in order, tail, within the line cap
/// ([`render_within_cap`]).
pub(super) fn push_json_record<'a, I>(
    out: &mut String,
    logger: &str,
    level: &str,
    message: &str,
    fields: I,
    limits: &LogLimits,
) where
    I: IntoIterator<Item = (&'a str, FieldValue<'a>)>,
    I::IntoIter: Clone,
{
    render_within_cap(out, fields.into_iter(), limits, |out, fields, reserved| {
        render_json_record(out, logger, level, message, fields, limits, reserved)
    });
}

/// Writes one JSON record, keeping `reserved` bytes of the line cap for the fields.
fn render_json_record<'a, I>(
    out: &mut String,
    logger: &str,
    level: &str,
    message: &str,
    fields: I,
    limits: &LogLimits,
    mut reserved: usize,
) where
    I: Iterator<Item = (&'a str, FieldValue<'a>)>,
{
    let line_start = out.len();
    push_json_head(out, logger, level, message, limits, reserved);
    for (key, value) in fields {
        if reserved > 0 {
            reserved = reserved.saturating_sub(field_reserve(key));
        }
        push_json_field(out, key, &value, limits, out.len() - line_start, reserved);
    }
    push_json_tail(out);
}

/// Closes a record and ends the line.
pub(super) fn push_json_tail(out: &mut String) {
    out.push_str("}\n");
}

/// Appends one complete JSON log line (with a trailing `\n`) to `out`, in exactly the form of
/// the `--logger json` records: keys `timestamp` (now, UTC), `logger`, `level`, `message`,
/// then `fields` in the given order (`event_`/`class_` renamed to `event`/`class`).
///
/// This is the writer behind the HTTP access-log file (`options.http.access_log = "<path>"`),
/// usable without `tracing`. Values are capped by the process-wide [`LogLimits`]
/// ([`limits`](super::limits())).
///
/// ```
/// use tomodachi::logging::{render_json_line, FieldValue};
///
/// let mut line = String::new();
/// render_json_line(
///     &mut line,
///     "tomodachi.http.response",
///     "info",
///     "",
///     &[("status_code", FieldValue::Int(200)), ("remote_ip", FieldValue::Str("127.0.0.1"))],
/// );
/// assert!(line.starts_with("{\"timestamp\": \""));
/// assert!(line.ends_with(
///     "\"logger\": \"tomodachi.http.response\", \"level\": \"info\", \"message\": \"\", \
///      \"status_code\": 200, \"remote_ip\": \"127.0.0.1\"}\n"
/// ));
/// ```
pub fn render_json_line(
    out: &mut String,
    logger: &str,
    level: &str,
    message: &str,
    fields: &[(&str, FieldValue<'_>)],
) {
    let renamed = fields
        .iter()
        .map(|(key, value)| (super::rename_key(key), *value));
    push_json_record(out, logger, level, message, renamed, &super::limits());
}
