//! The console line writer (structlog `ConsoleRenderer` layout) and the `python` format.

use super::color::{level_style, BLUE, BRIGHT, CYAN, DIM, MAGENTA, RESET};
use super::limits::{
    field_reserve, prefix_at_most, push_cut_marker, render_within_cap, value_budget, LogLimits,
};
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

/// Whether `key` is one of [`QUOTE_KEYS`] (they all end in `_location` or `_filename`: most
/// keys are told apart by their last byte).
#[inline]
fn is_quote_key(key: &str) -> bool {
    matches!(key.as_bytes().last(), Some(b'n' | b'e'))
        && (key.ends_with("_location") || key.ends_with("_filename"))
        && QUOTE_KEYS.contains(&key)
}

/// Bytes that are not printable ASCII or that make a value need quotes (logfmt): space and
/// control characters, `=`, `"`, DEL and every non-ASCII byte (looked at per character).
const NOT_BARE: [bool; 256] = {
    let mut table = [true; 256];
    let mut b = 0x21;
    while b < 0x7f {
        table[b] = b == b'=' as usize || b == b'"' as usize;
        b += 1;
    }
    table
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether a word holds a byte below `n` (exact for `n <= 128`).
#[inline(always)]
fn has_below(x: u64, n: u8) -> bool {
    x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS != 0
}

/// Whether a word holds the byte `b`.
#[inline(always)]
fn has_byte(x: u64, b: u8) -> bool {
    let y = x ^ (ONES * u64::from(b));
    y.wrapping_sub(ONES) & !y & HIGHS != 0
}

/// Whether a word holds DEL or a non-ASCII byte.
#[inline(always)]
fn has_del_or_high(x: u64) -> bool {
    (x | x.wrapping_add(ONES)) & HIGHS != 0
}

/// Whether every byte of `s` is printable ASCII other than space, `=` and `"` (eight bytes at a
/// time: this check runs on every value of every console line).
#[inline]
fn is_bare(s: &[u8]) -> bool {
    let mut chunks = s.chunks_exact(8);
    for chunk in &mut chunks {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            return false;
        };
        let x = u64::from_le_bytes(word);
        if has_below(x, 0x21) || has_byte(x, b'=') || has_byte(x, b'"') || has_del_or_high(x) {
            return false;
        }
    }
    !chunks.remainder().iter().any(|&b| NOT_BARE[usize::from(b)])
}

/// Whether every byte of `s` is printable ASCII (space included).
#[inline]
fn is_printable_ascii(s: &[u8]) -> bool {
    let mut chunks = s.chunks_exact(8);
    for chunk in &mut chunks {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            return false;
        };
        let x = u64::from_le_bytes(word);
        if has_below(x, 0x20) || has_del_or_high(x) {
            return false;
        }
    }
    chunks
        .remainder()
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b))
}

/// Whether `c` is written as an escape sequence: control characters (C0, DEL, C1) and the
/// Unicode line and paragraph separators.
fn is_escaped(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// Whether a console value must be quoted so that a logfmt reader can tell it apart.
#[inline]
fn needs_quotes(s: &str) -> bool {
    !is_bare(s.as_bytes()) && needs_quotes_slow(s)
}

#[cold]
#[inline(never)]
fn needs_quotes_slow(s: &str) -> bool {
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
#[inline]
pub(super) fn push_console_str(out: &mut String, s: &str, field_cap: usize, budget: usize) {
    if s.len() <= field_cap && s.len() <= budget && !needs_quotes(s) {
        out.push_str(s);
        return;
    }
    push_quoted(out, s, field_cap, budget);
}

/// The slow path of [`push_console_str`]: quoted, escaped, maybe cut.
#[cold]
#[inline(never)]
fn push_quoted(out: &mut String, s: &str, field_cap: usize, budget: usize) {
    let head = prefix_at_most(s, field_cap);
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
#[inline]
fn push_bare(out: &mut String, s: &str, mode: Escaping, field_cap: usize, budget: usize) -> usize {
    if s.len() <= field_cap && s.len() <= budget && is_printable_ascii(s.as_bytes()) {
        out.push_str(s);
        return s.len();
    }
    push_bare_escaped(out, s, mode, field_cap, budget)
}

/// The slow path of [`push_bare`].
#[cold]
#[inline(never)]
fn push_bare_escaped(
    out: &mut String,
    s: &str,
    mode: Escaping,
    field_cap: usize,
    budget: usize,
) -> usize {
    let start = out.len();
    let head = prefix_at_most(s, field_cap);
    let written = push_escaped(out, head, mode, start, budget);
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
    push_spaces(out, width.saturating_sub(len));
}

/// Appends `n` spaces (one copy, not `n` pushes: every line pads its level and message).
#[inline]
fn push_spaces(out: &mut String, n: usize) {
    const SPACES: &str = "                                ";
    let mut left = n;
    while left > 0 {
        let take = left.min(SPACES.len());
        out.push_str(&SPACES[..take]);
        left -= take;
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
    push_spaces(out, width.saturating_sub(len));
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
            if is_quote_key(key) && !s.is_empty() && !s.starts_with('<') && s.len() <= field_cap {
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
    let line = Line {
        color,
        level,
        message,
        logger,
    };
    render_within_cap(out, fields.into_iter(), limits, |out, fields, reserved| {
        render_console_line(out, &line, fields, limits, reserved)
    });
}

/// The parts of a console record other than its fields.
struct Line<'a> {
    color: bool,
    level: &'a str,
    message: &'a str,
    logger: &'a str,
}

/// Writes one console record, keeping `reserved` bytes of the line cap for the fields.
fn render_console_line<'a, I>(
    out: &mut String,
    line: &Line<'_>,
    fields: I,
    limits: &LogLimits,
    mut reserved: usize,
) where
    I: Iterator<Item = (&'a str, FieldValue<'a>)>,
{
    let Line {
        color,
        level,
        message,
        logger,
    } = *line;
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
        if reserved > 0 {
            reserved = reserved.saturating_sub(field_reserve(key));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-at-a-time checks agree with a byte-by-byte reading for every byte value at
    /// every position of a word, and in the tail.
    #[test]
    fn word_checks_match_byte_checks() {
        let bare = |b: u8| (0x21..0x7f).contains(&b) && b != b'=' && b != b'"';
        let printable = |b: u8| (0x20..0x7f).contains(&b);
        for len in [1usize, 7, 8, 9, 16, 17] {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut s = vec![b'a'; len];
                    s[at] = b;
                    assert_eq!(is_bare(&s), bare(b), "is_bare {b:#x} at {at} of {len}");
                    assert_eq!(
                        is_printable_ascii(&s),
                        printable(b),
                        "is_printable_ascii {b:#x} at {at} of {len}"
                    );
                }
            }
        }
        assert!(is_bare(b""));
        assert!(is_printable_ascii(b""));
    }
}
