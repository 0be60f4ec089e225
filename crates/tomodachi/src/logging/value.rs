//! Typed field values and the small number/timestamp writers shared by the renderers.

use std::fmt::Write as _;

/// A typed value of a log field, as rendered by the console and JSON formats.
///
/// In JSON, `Str` becomes a string, `Int`/`UInt`/`Float` numbers, `Bool` `true`/`false` and
/// `Null` `null`. On the console strings are printed bare and the rest Python-repr'd
/// (`5`, `0.5`, `True`, `None`).
///
/// ```
/// use tomodachi::logging::FieldValue;
///
/// let fields = [("status_code", FieldValue::from(200u16)), ("remote_ip", "127.0.0.1".into())];
/// assert_eq!(fields[0].1, FieldValue::UInt(200));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    /// A string.
    Str(&'a str),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A float (`NaN`/`Infinity` in JSON, as Python's `json.dumps` writes them).
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// No value (`null` / `None`).
    Null,
}

impl<'a> From<&'a str> for FieldValue<'a> {
    fn from(v: &'a str) -> Self {
        FieldValue::Str(v)
    }
}

impl<'a> From<&'a String> for FieldValue<'a> {
    fn from(v: &'a String) -> Self {
        FieldValue::Str(v.as_str())
    }
}

macro_rules! from_int {
    ($variant:ident as $target:ty: $($t:ty),*) => {
        $(
            impl From<$t> for FieldValue<'_> {
                fn from(v: $t) -> Self {
                    FieldValue::$variant(<$target>::from(v))
                }
            }
        )*
    };
}

from_int!(Int as i64: i8, i16, i32, i64);
from_int!(UInt as u64: u8, u16, u32, u64);
from_int!(Float as f64: f32, f64);

impl From<usize> for FieldValue<'_> {
    fn from(v: usize) -> Self {
        FieldValue::UInt(v as u64)
    }
}

impl From<isize> for FieldValue<'_> {
    fn from(v: isize) -> Self {
        FieldValue::Int(v as i64)
    }
}

impl From<bool> for FieldValue<'_> {
    fn from(v: bool) -> Self {
        FieldValue::Bool(v)
    }
}

impl<'a, T: Into<FieldValue<'a>>> From<Option<T>> for FieldValue<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(FieldValue::Null, Into::into)
    }
}

/// Appends the decimal digits of `v`.
#[inline]
pub(super) fn push_u64(out: &mut String, v: u64) {
    out.push_str(itoa::Buffer::new().format(v));
}

/// Appends the decimal digits of `v`, with a leading `-` when negative.
#[inline]
pub(super) fn push_i64(out: &mut String, v: i64) {
    out.push_str(itoa::Buffer::new().format(v));
}

/// Appends `v` zero-padded to exactly `width` digits (`v` must fit).
fn push_padded_u32(out: &mut String, v: u32, width: u32) {
    let mut div = 10u32.pow(width.saturating_sub(1));
    while div > 0 {
        out.push(char::from(b'0' + ((v / div) % 10) as u8));
        div /= 10;
    }
}

/// Appends `v` like Python's `repr(float)`; for JSON, non-finite values are written as
/// `NaN`, `Infinity`, `-Infinity` (Python's `json.dumps` default), else `nan`, `inf`, `-inf`.
pub(super) fn push_f64(out: &mut String, v: f64, json: bool) {
    if v.is_nan() {
        out.push_str(if json { "NaN" } else { "nan" });
        return;
    }
    if v.is_infinite() {
        out.push_str(match (json, v > 0.0) {
            (true, true) => "Infinity",
            (true, false) => "-Infinity",
            (false, true) => "inf",
            (false, false) => "-inf",
        });
        return;
    }
    // Rust's `{:?}` is the shortest round-trip form and switches to exponent notation at
    // the same thresholds as Python's repr (< 1e-4 or >= 1e16); only the exponent's
    // spelling differs: Rust `1e16` / `1.5e-7`, Python `1e+16` / `1.5e-07`.
    let start = out.len();
    let _ = write!(out, "{v:?}");
    let Some(e) = out[start..].find('e') else {
        return;
    };
    let mut digits = start + e + 1;
    if out[digits..].starts_with('-') {
        digits += 1;
    } else {
        out.insert(digits, '+');
        digits += 1;
    }
    if out.len() - digits < 2 {
        out.insert(digits, '0');
    }
}

/// Appends the current UTC time as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
///
/// The calendar part changes once a second: it is kept per thread and reused while the second
/// is the same, so a record costs a clock read and six digits.
pub(super) fn push_timestamp(out: &mut String) {
    push_timestamp_at(out, std::time::SystemTime::now());
}

/// Appends `now` as [`push_timestamp`] does (the calendar part from the per-thread cache).
pub(super) fn push_timestamp_at(out: &mut String, now: std::time::SystemTime) {
    let Ok(since_epoch) = now.duration_since(std::time::UNIX_EPOCH) else {
        push_timestamp_of(out, &chrono::DateTime::<chrono::Utc>::from(now));
        return;
    };
    let (secs, micros) = (since_epoch.as_secs(), since_epoch.subsec_micros());
    let cached = SECOND.try_with(|cell| {
        let mut second = cell.get();
        if second.secs != secs || second.len == 0 {
            second = Second::of(secs);
            cell.set(second);
        }
        match second.prefix() {
            Some(prefix) => {
                out.push_str(prefix);
                push_padded_u32(out, micros, 6);
                out.push('Z');
                true
            }
            None => false,
        }
    });
    if cached != Ok(true) {
        push_timestamp_of(out, &chrono::DateTime::<chrono::Utc>::from(now));
    }
}

/// `YYYY-MM-DDTHH:MM:SS.` of one second since the epoch.
#[derive(Clone, Copy)]
struct Second {
    secs: u64,
    text: [u8; 20],
    /// 0 when the second has no four-digit year (not cached).
    len: u8,
}

impl Second {
    fn of(secs: u64) -> Self {
        let mut second = Second {
            secs,
            text: [0; 20],
            len: 0,
        };
        let time = i64::try_from(secs)
            .ok()
            .and_then(|secs| chrono::DateTime::<chrono::Utc>::from_timestamp(secs, 0));
        if let Some(time) = time {
            let mut text = String::with_capacity(32);
            push_timestamp_of(&mut text, &time);
            // `YYYY-MM-DDTHH:MM:SS.000000Z`: keep up to the dot
            if text.len() == 27 {
                second.text.copy_from_slice(&text.as_bytes()[..20]);
                second.len = 20;
            }
        }
        second
    }

    fn prefix(&self) -> Option<&str> {
        std::str::from_utf8(self.text.get(..usize::from(self.len))?)
            .ok()
            .filter(|s| !s.is_empty())
    }
}

thread_local! {
    static SECOND: std::cell::Cell<Second> = const {
        std::cell::Cell::new(Second { secs: 0, text: [0; 20], len: 0 })
    };
}

/// Appends `t` as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (Python's
/// `isoformat(timespec="microseconds")` with `+00:00` replaced by `Z`).
pub(super) fn push_timestamp_of(out: &mut String, t: &chrono::DateTime<chrono::Utc>) {
    use chrono::{Datelike, Timelike};
    let t = t.naive_utc();
    let year = t.year();
    match u32::try_from(year) {
        Ok(y) if y <= 9999 => push_padded_u32(out, y, 4),
        _ => {
            let _ = write!(out, "{year:04}");
        }
    }
    out.push('-');
    push_padded_u32(out, t.month(), 2);
    out.push('-');
    push_padded_u32(out, t.day(), 2);
    out.push('T');
    push_padded_u32(out, t.hour(), 2);
    out.push(':');
    push_padded_u32(out, t.minute(), 2);
    out.push(':');
    push_padded_u32(out, t.second(), 2);
    out.push('.');
    // A leap second is represented with nanosecond >= 1e9; keep six digits.
    push_padded_u32(out, (t.nanosecond() % 1_000_000_000) / 1_000, 6);
    out.push('Z');
}
