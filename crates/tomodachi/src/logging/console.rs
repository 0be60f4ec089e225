//! The console line writer (structlog `ConsoleRenderer` layout) and the `python` format.

use super::color::{level_style, BLUE, BRIGHT, CYAN, DIM, MAGENTA, RESET};
use super::limits::{field_reserve, prefix_at_most, push_cut_marker, value_budget, LogLimits};
use super::value::{push_f64, push_i64, push_timestamp, push_u64, FieldValue};

/// Width the level name is padded to (the longest structlog level name, `exception`).
const LEVEL_WIDTH: usize = 9;
/// Width the message is padded to.
const MESSAGE_WIDTH: usize = 30;

/// Keys whose (string) values are wrapped in `<…>` on the console.
const QUOTE_KEYS: [&str; 6] = [
    "tb_location",
    "error_location",
    "tb_filename",
    "co_filename",
    "co_location",
    "error_filename",
];

/// ASCII bytes that make a console value need quotes (logfmt): space and control
/// characters, `=`, `"` and DEL. Non-ASCII bytes are looked at per character.
const NEEDS_QUOTES: [bool; 128] = {
    let mut table = [false; 128];
    let mut b = 0;
    while b < 128 {
        table[b] = b <= 0x20 || b == b'=' as usize || b == b'"' as usize || b == 0x7f;
        b += 1;
    }
    table
};

/// Whether `c` is written as an escape sequence: control characters (C0, DEL, C1) and the
/// Unicode line and paragraph separators.
fn is_escaped(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// Whether a console value must be quoted so that a logfmt reader can tell it apart.
fn needs_quotes(s: &str) -> bool {
    if s.is_ascii() {
        return s.bytes().any(|b| NEEDS_QUOTES[usize::from(b)]);
    }
    s.chars()
        .any(|c| c == '=' || c == '"' || c.is_whitespace() || is_escaped(c))
}

/// Appends `c` escaped: `\n`, `\r`, `\t`, else `\u00XX` / `\uXXXX`.
fn push_char_escape(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let v = u32::from(c);
            out.push_str("\\u");
            for shift in [12u32, 8, 4, 0] {
                out.push(char::from(HEX[((v >> shift) & 0xf) as usize]));
            }
        }
    }
}

/// How the characters of a value are written.
#[derive(Clone, Copy, PartialEq)]
enum Escaping {
    /// Inside `"…"`: quotes and backslashes too.
    Quoted,
    /// Bare (the message column): control characters only.
    Controls,
    /// A traceback block: control characters other than line breaks and tabs.
    Block,
}

/// Appends the characters of `s` escaped per `mode` while the output since `start` stays within
/// `budget` bytes; returns how many bytes of `s` were written.
fn push_escaped(out: &mut String, s: &str, mode: Escaping, start: usize, budget: usize) -> usize {
    for (i, c) in s.char_indices() {
        if out.len() - start >= budget {
            return i;
        }
        match c {
            '"' | '\\' if mode == Escaping::Quoted => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\t' if mode == Escaping::Block => out.push(c),
            c if is_escaped(c) => push_char_escape(out, c),
            c => out.push(c),
        }
    }
    s.len()
}

/// Appends a string value: bare when it needs no quotes, else quoted and escaped as logfmt
/// does. At most `field_cap` bytes of `s` and about `budget` bytes of output are written; a cut
/// value is quoted and ends with the `…(+N bytes)` marker.
pub(super) fn push_console_str(out: &mut String, s: &str, field_cap: usize, budget: usize) {
    let head = prefix_at_most(s, field_cap);
    if head.len() == s.len() && head.len() <= budget && !needs_quotes(head) {
        out.push_str(head);
        return;
    }
    let start = out.len();
    out.push('"');
    let written = push_escaped(out, head, Escaping::Quoted, start, budget);
    if written < s.len() {
        push_cut_marker(out, s.len() - written);
    }
    out.push('"');
}

/// Appends `s` with control characters escaped (message column, traceback block), cut to
/// `field_cap` bytes of `s` and about `budget` bytes of output; returns the number of
/// characters written (for padding).
fn push_bare(out: &mut String, s: &str, mode: Escaping, field_cap: usize, budget: usize) -> usize {
    let start = out.len();
    let head = prefix_at_most(s, field_cap);
    let keeps = |c: char| mode == Escaping::Block && (c == '\n' || c == '\t');
    let clean = if head.is_ascii() {
        !head
            .bytes()
            .any(|b| (b < 0x20 || b == 0x7f) && !keeps(char::from(b)))
    } else {
        !head.chars().any(|c| is_escaped(c) && !keeps(c))
    };
    let plain = clean && head.len() == s.len() && head.len() <= budget;
    let written = if plain {
        out.push_str(head);
        head.len()
    } else {
        push_escaped(out, head, mode, start, budget)
    };
    if written < s.len() {
        push_cut_marker(out, s.len() - written);
    }
    let text = &out[start..];
    if text.is_ascii() {
        text.len()
    } else {
        text.chars().count()
    }
}

/// Appends `s` (escaped and capped as [`push_bare`]) padded with spaces to `width` characters.
fn push_padded_message(out: &mut String, s: &str, width: usize, field_cap: usize, budget: usize) {
    let len = push_bare(out, s, Escaping::Controls, field_cap, budget);
    for _ in len..width {
        out.push(' ');
    }
}

/// Appends `s` padded with spaces to `width` characters (trusted text: level names).
fn push_padded(out: &mut String, s: &str, width: usize) {
    out.push_str(s);
    let len = if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    };
    for _ in len..width {
        out.push(' ');
    }
}

#[inline]
fn style(out: &mut String, color: bool, code: &str) {
    if color {
        out.push_str(code);
    }
}

/// Appends a value the way structlog's console renderer does: strings bare (quoted and
/// escaped when they would not read back as one value), everything else Python-repr'd.
fn push_repr(out: &mut String, key: &str, value: &FieldValue<'_>, field_cap: usize, budget: usize) {
    match *value {
        FieldValue::Str(s) => {
            if !s.is_empty()
                && !s.starts_with('<')
                && s.len() <= field_cap
                && QUOTE_KEYS.contains(&key)
            {
                let wrapped = format!("<{s}>");
                push_console_str(out, &wrapped, usize::MAX, budget);
            } else {
                push_console_str(out, s, field_cap, budget);
            }
        }
        FieldValue::Int(v) => push_i64(out, v),
        FieldValue::UInt(v) => push_u64(out, v),
        FieldValue::Float(v) => push_f64(out, v, false),
        FieldValue::Bool(v) => out.push_str(if v { "True" } else { "False" }),
        FieldValue::Null => out.push_str("None"),
    }
}

/// Appends one console record (with a trailing `\n`):
/// `<timestamp> [<level:9>] <message:30> [<logger>] key=value …`.
///
/// As in structlog, the columns are joined by single spaces and trailing spaces of the line
/// are stripped (so the message padding only survives when something follows it). A field
/// named `exception` is printed on its own line after the record, like a traceback.
///
/// Values that would not read back as one `key=value` pair are quoted and escaped (logfmt);
/// control characters never reach the output raw. `limits` caps the message, every string
/// value and the line (see [`LogLimits`]).
pub(super) fn push_console_line<'a, I>(
    out: &mut String,
    color: bool,
    level: &str,
    message: &str,
    logger: &str,
    fields: I,
    limits: &LogLimits,
) where
    I: IntoIterator<Item = (&'a str, FieldValue<'a>)>,
    I::IntoIter: Clone,
{
    let fields = fields.into_iter();
    let line_start = out.len();
    style(out, color, DIM);
    push_timestamp(out);
    style(out, color, RESET);
    out.push_str(" [");
    if color {
        out.push_str(level_style(level));
        out.push_str(BRIGHT);
    }
    push_padded(out, level, LEVEL_WIDTH);
    style(out, color, RESET);
    out.push_str("] ");
    let field_cap = limits.field_cap();
    let line_cap = limits.line_cap();
    let mut reserved = if line_cap == usize::MAX {
        0
    } else {
        fields.clone().map(|(key, _)| field_reserve(key)).sum()
    };
    style(out, color, BRIGHT);
    let budget = value_budget(line_cap, out.len() - line_start + logger.len(), reserved);
    push_padded_message(out, message, MESSAGE_WIDTH, field_cap, budget);
    style(out, color, RESET);
    if !logger.is_empty() {
        out.push_str(" [");
        if color {
            out.push_str(RESET);
            out.push_str(BRIGHT);
            out.push_str(BLUE);
        }
        out.push_str(logger);
        style(out, color, RESET);
        out.push(']');
        style(out, color, RESET);
    }
    let mut exception = None;
    for (key, value) in fields {
        reserved = reserved.saturating_sub(field_reserve(key));
        if key == "exception" {
            exception = Some(value);
            continue;
        }
        out.push(' ');
        style(out, color, CYAN);
        out.push_str(key);
        style(out, color, RESET);
        out.push('=');
        style(out, color, MAGENTA);
        let budget = value_budget(line_cap, out.len() - line_start, reserved);
        push_repr(out, key, &value, field_cap, budget);
        style(out, color, RESET);
    }
    let trimmed = out[line_start..].trim_end_matches(' ').len();
    out.truncate(line_start + trimmed);
    if let Some(exception) = exception {
        out.push('\n');
        let budget = value_budget(line_cap, out.len() - line_start, 0);
        match exception {
            FieldValue::Str(s) => {
                push_bare(out, s, Escaping::Block, field_cap, budget);
            }
            other => push_repr(out, "exception", &other, field_cap, budget),
        }
    }
    out.push('\n');
}

/// Appends one `python`-format record (with a trailing `\n`): the stdlib format
/// `%(asctime)s [%(levelname)-9s] %(message)-30s [%(name)s]`, the message escaped and capped as
/// in the console format.
pub(super) fn push_python_line(
    out: &mut String,
    level: &str,
    message: &str,
    logger: &str,
    limits: &LogLimits,
) {
    push_timestamp(out);
    out.push_str(" [");
    push_padded(out, level, LEVEL_WIDTH);
    out.push_str("] ");
    push_padded_message(
        out,
        message,
        MESSAGE_WIDTH,
        limits.field_cap(),
        limits.line_cap(),
    );
    out.push_str(" [");
    out.push_str(logger);
    out.push_str("]\n");
}
