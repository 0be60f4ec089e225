//! Caps on the size of one field value and of one log line (`options.logging.*`).

use std::sync::atomic::{AtomicUsize, Ordering};

/// Default cap on one field value (and on the message), in bytes: 4 KiB.
pub const DEFAULT_MAX_FIELD_LENGTH: usize = 4096;
/// Default cap on one rendered log line, in bytes: 32 KiB.
pub const DEFAULT_MAX_LINE_LENGTH: usize = 32 * 1024;

static MAX_FIELD_LENGTH: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_FIELD_LENGTH);
static MAX_LINE_LENGTH: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_LINE_LENGTH);

/// How long one log record may get, in bytes (`options.logging.max_field_length` and
/// `options.logging.max_line_length`); `0` means unlimited.
///
/// A string value (or message) longer than `max_field_length` bytes is cut at a character
/// boundary and marked with the number of bytes left out, e.g.
/// `message_uuid="8f1a…(+5242880 bytes)"`. Once a line reaches `max_line_length`, the string
/// values still to come are cut the same way, so every key stays on the line. Keys, numbers and
/// the cut markers themselves are never cut. Both the console and the JSON formats apply the
/// caps, to every field: the framework's own (`message_uuid`, `topic`, `request_path`,
/// `user_agent`…) as well as a handler's.
///
/// The caps are process-wide, like the log format: [`set_limits`] changes them, and a service
/// started by [`App`](crate::App) applies its `options.logging` (with several services in one
/// process, the smallest cap of each kind applies).
///
/// ```
/// use tomodachi::logging::LogLimits;
///
/// let limits = LogLimits::default();
/// assert_eq!((limits.max_field_length, limits.max_line_length), (4096, 32768));
/// assert_eq!(LogLimits::UNLIMITED.field_cap(), usize::MAX);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLimits {
    /// Longest string value (or message) kept whole, in bytes; `0` = unlimited.
    pub max_field_length: usize,
    /// Longest line before string values are cut, in bytes; `0` = unlimited.
    pub max_line_length: usize,
}

impl Default for LogLimits {
    fn default() -> Self {
        Self {
            max_field_length: DEFAULT_MAX_FIELD_LENGTH,
            max_line_length: DEFAULT_MAX_LINE_LENGTH,
        }
    }
}

impl LogLimits {
    /// No caps at all.
    pub const UNLIMITED: LogLimits = LogLimits {
        max_field_length: 0,
        max_line_length: 0,
    };

    /// The field cap as a byte count (`usize::MAX` when unlimited).
    pub fn field_cap(&self) -> usize {
        cap(self.max_field_length)
    }

    /// The line cap as a byte count (`usize::MAX` when unlimited).
    pub fn line_cap(&self) -> usize {
        cap(self.max_line_length)
    }

    /// The smaller cap of each kind (`0`, unlimited, is the largest).
    ///
    /// ```
    /// use tomodachi::logging::LogLimits;
    ///
    /// let a = LogLimits { max_field_length: 100, max_line_length: 0 };
    /// let b = LogLimits { max_field_length: 0, max_line_length: 2000 };
    /// assert_eq!(a.min(b), LogLimits { max_field_length: 100, max_line_length: 2000 });
    /// ```
    pub fn min(self, other: LogLimits) -> LogLimits {
        let pick = |a: usize, b: usize| match (a, b) {
            (0, x) | (x, 0) => x,
            (a, b) => a.min(b),
        };
        LogLimits {
            max_field_length: pick(self.max_field_length, other.max_field_length),
            max_line_length: pick(self.max_line_length, other.max_line_length),
        }
    }
}

fn cap(v: usize) -> usize {
    if v == 0 {
        usize::MAX
    } else {
        v
    }
}

/// Sets the process-wide caps used by [`TomodachiLayer`](super::TomodachiLayer)s without limits
/// of their own and by [`render_json_line`](super::render_json_line).
///
/// ```
/// use tomodachi::logging::{limits, set_limits, LogLimits};
///
/// let before = limits();
/// set_limits(LogLimits { max_field_length: 1024, ..before });
/// assert_eq!(limits().max_field_length, 1024);
/// set_limits(before);
/// ```
pub fn set_limits(limits: LogLimits) {
    MAX_FIELD_LENGTH.store(limits.max_field_length, Ordering::Relaxed);
    MAX_LINE_LENGTH.store(limits.max_line_length, Ordering::Relaxed);
}

/// The process-wide caps (see [`set_limits`]).
pub fn limits() -> LogLimits {
    LogLimits {
        max_field_length: MAX_FIELD_LENGTH.load(Ordering::Relaxed),
        max_line_length: MAX_LINE_LENGTH.load(Ordering::Relaxed),
    }
}

/// Bytes kept free for the cut marker and the closing quote after a value.
const MARKER_RESERVE: usize = 40;

/// Bytes kept free on the line for a field still to come: its key, separators and, at worst,
/// a cut marker instead of its value.
pub(super) fn field_reserve(key: &str) -> usize {
    key.len() + 8 + MARKER_RESERVE
}

/// The output budget of the next value: what is left of the line cap after `used` bytes, the
/// `reserved` bytes of the fields after it and its own marker.
pub(super) fn value_budget(line_cap: usize, used: usize, reserved: usize) -> usize {
    line_cap.saturating_sub(used.saturating_add(reserved).saturating_add(MARKER_RESERVE))
}

/// Writes a record with `render(out, fields, reserved)`: once without room kept for the fields
/// to come (`reserved` 0), and, when that came out over the line cap (rare), again keeping that
/// room, so that every key fits.
pub(super) fn render_within_cap<'a, I>(
    out: &mut String,
    fields: I,
    limits: &LogLimits,
    mut render: impl FnMut(&mut String, I, usize),
) where
    I: Iterator<Item = (&'a str, super::FieldValue<'a>)> + Clone,
{
    let start = out.len();
    render(out, fields.clone(), 0);
    if out.len() - start > limits.line_cap() {
        out.truncate(start);
        let reserved = fields.clone().map(|(key, _)| field_reserve(key)).sum();
        render(out, fields, reserved);
    }
}

/// The marker appended to a cut value: `…(+<n> bytes)`.
pub(super) fn push_cut_marker(out: &mut String, left_out: usize) {
    out.push_str("…(+");
    super::value::push_u64(out, left_out as u64);
    out.push_str(" bytes)");
}

/// The longest prefix of `s` of at most `max` bytes ending on a character boundary.
pub(super) fn prefix_at_most(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_end_on_character_boundaries() {
        assert_eq!(prefix_at_most("abc", 5), "abc");
        assert_eq!(prefix_at_most("abc", 2), "ab");
        assert_eq!(prefix_at_most("aé", 2), "a");
        assert_eq!(prefix_at_most("é", 0), "");
    }

    #[test]
    fn the_marker_counts_the_bytes_left_out() {
        let mut out = String::from("ab");
        push_cut_marker(&mut out, 5_242_880);
        assert_eq!(out, "ab…(+5242880 bytes)");
    }
}
