//! The console line writer (structlog `ConsoleRenderer` layout) and the `python` format.

use super::color::{level_style, BLUE, BRIGHT, CYAN, DIM, MAGENTA, RESET};
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

/// Appends `s` padded with spaces to `width` characters.
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

/// Appends a value the way structlog's console renderer does: strings bare, everything
/// else Python-repr'd.
fn push_repr(out: &mut String, key: &str, value: &FieldValue<'_>) {
    match *value {
        FieldValue::Str(s) => {
            if !s.is_empty() && !s.starts_with('<') && QUOTE_KEYS.contains(&key) {
                out.push('<');
                out.push_str(s);
                out.push('>');
            } else {
                out.push_str(s);
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
pub(super) fn push_console_line<'a, I>(
    out: &mut String,
    color: bool,
    level: &str,
    message: &str,
    logger: &str,
    fields: I,
) where
    I: IntoIterator<Item = (&'a str, FieldValue<'a>)>,
{
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
    style(out, color, BRIGHT);
    push_padded(out, message, MESSAGE_WIDTH);
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
        push_repr(out, key, &value);
        style(out, color, RESET);
    }
    let trimmed = out[line_start..].trim_end_matches(' ').len();
    out.truncate(line_start + trimmed);
    if let Some(exception) = exception {
        out.push('\n');
        push_repr(out, "exception", &exception);
    }
    out.push('\n');
}

/// Appends one `python`-format record (with a trailing `\n`): the stdlib format
/// `%(asctime)s [%(levelname)-9s] %(message)-30s [%(name)s]`.
pub(super) fn push_python_line(out: &mut String, level: &str, message: &str, logger: &str) {
    push_timestamp(out);
    out.push_str(" [");
    push_padded(out, level, LEVEL_WIDTH);
    out.push_str("] ");
    push_padded(out, message, MESSAGE_WIDTH);
    out.push_str(" [");
    out.push_str(logger);
    out.push_str("]\n");
}
