//! A JSON writer that produces exactly what Python's `json.dumps(value)` (all defaults)
//! produces, so that text sizes and bytes match Python tomodachi.
//!
//! The rules of `json.dumps` with default arguments:
//!
//! * separators `", "` between items and `": "` between key and value, no newlines;
//! * `ensure_ascii=True`: `"` `\` `\n` `\r` `\t` `\b` `\f` get their short escapes, every other
//!   character outside `' '..='~'` becomes `\uXXXX` (lowercase hex), characters above U+FFFF a
//!   UTF-16 surrogate pair (`"😀"` → `"\ud83d\ude00"`); `/` is not escaped;
//! * floats as `float.__repr__`: shortest round-trip digits, positional notation when the
//!   decimal exponent is in `-4..16` (always with a fractional part: `1.0`,
//!   `1000000000000000.0`, `0.0001`), otherwise scientific with a signed, at least two-digit
//!   exponent (`1e+16`, `1e-05`, `1.5e+300`); non-finite values as `NaN`, `Infinity`,
//!   `-Infinity`;
//! * integers in decimal; object keys in insertion order (the workspace enables
//!   `serde_json/preserve_order`).
//!
//! Limitation: `serde_json::Value` holds integers only up to 64 bits (`u64` / `i64`); larger
//! integers parsed from text become floats, where Python would keep them exact.

use serde_json::{Number, Value};

/// Serialises `value` exactly like Python's `json.dumps(value)`.
///
/// ```
/// use serde_json::json;
/// use tomodachi::envelope::to_python_json;
///
/// let v = json!({"name": "åäö", "n": [1, 2.5, 1e16, 1e-5, null, true], "e": "😀"});
/// assert_eq!(
///     to_python_json(&v),
///     r#"{"name": "\u00e5\u00e4\u00f6", "n": [1, 2.5, 1e+16, 1e-05, null, true], "e": "\ud83d\ude00"}"#
/// );
/// ```
pub fn to_python_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// Formats a float exactly like Python's `json.dumps(x)`: `float.__repr__` for finite values
/// and `NaN` / `Infinity` / `-Infinity` otherwise.
///
/// ```
/// use tomodachi::envelope::python_float_repr;
///
/// assert_eq!(python_float_repr(1.0), "1.0");
/// assert_eq!(python_float_repr(0.1), "0.1");
/// assert_eq!(python_float_repr(1e16), "1e+16");
/// assert_eq!(python_float_repr(1e15), "1000000000000000.0");
/// assert_eq!(python_float_repr(1e-5), "1e-05");
/// assert_eq!(python_float_repr(1795330604.854375), "1795330604.854375");
/// ```
pub fn python_float_repr(x: f64) -> String {
    let mut out = String::new();
    write_f64(&mut out, x);
    out
}

/// Appends the `json.dumps` form of `value` to `out`.
pub(crate) fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(out, key);
                out.push_str(": ");
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

fn write_number(out: &mut String, n: &Number) {
    if let Some(u) = n.as_u64() {
        out.push_str(&u.to_string());
    } else if let Some(i) = n.as_i64() {
        out.push_str(&i.to_string());
    } else if let Some(f) = n.as_f64() {
        write_f64(out, f);
    } else {
        // Only reachable with serde_json's `arbitrary_precision`: the number's own text.
        out.push_str(&n.to_string());
    }
}

/// Appends `float.__repr__(x)` (with `json.dumps`' spelling of non-finite values).
pub(crate) fn write_f64(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("NaN");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if x.is_sign_negative() {
        out.push('-');
    }
    // Python's repr is the shortest digit string that round-trips and, among those, the one
    // nearest to the exact value, ties to even (David Gay's dtoa, mode 0). Rust's `{:e}` finds
    // the shortest length but may break a tie the other way (1394865425023536.25 gives
    // ...536.3, Python ...536.2), so re-round to that many digits with `{:.N$e}`, which
    // rounds the exact value half to even.
    let shortest = format!("{:e}", x.abs());
    let significant = shortest
        .split_once('e')
        .map_or(1, |(m, _)| m.chars().filter(char::is_ascii_digit).count());
    let sci = format!("{:.*e}", significant.saturating_sub(1), x.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let mut digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    // Python's `decpt`: the value is 0.<digits> * 10^decpt.
    let decpt = exponent + 1;
    if decpt <= -4 || decpt > 16 {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        let abs = exponent.unsigned_abs();
        if abs < 10 {
            out.push('0');
        }
        out.push_str(&abs.to_string());
    } else if decpt <= 0 {
        out.push_str("0.");
        for _ in 0..-decpt {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let decpt = decpt as usize;
        if decpt >= digits.len() {
            out.push_str(&digits);
            for _ in digits.len()..decpt {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            out.push_str(&digits[..decpt]);
            out.push('.');
            out.push_str(&digits[decpt..]);
        }
    }
}

/// Appends `s` as a JSON string with Python's `ensure_ascii=True` escaping.
pub(crate) fn write_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    fn push_u16_escape(out: &mut String, unit: u32) {
        out.push_str("\\u");
        for shift in [12, 8, 4, 0] {
            out.push(HEX[((unit >> shift) & 0xf) as usize] as char);
        }
    }

    out.reserve(s.len() + 2);
    out.push('"');
    let mut safe_from = 0;
    for (i, ch) in s.char_indices() {
        let short = match ch {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\u{8}' => "\\b",
            '\u{c}' => "\\f",
            ' '..='~' => continue,
            _ => "",
        };
        out.push_str(&s[safe_from..i]);
        safe_from = i + ch.len_utf8();
        if !short.is_empty() {
            out.push_str(short);
            continue;
        }
        let code = ch as u32;
        if code < 0x1_0000 {
            push_u16_escape(out, code);
        } else {
            let v = code - 0x1_0000;
            push_u16_escape(out, 0xd800 | (v >> 10));
            push_u16_escape(out, 0xdc00 | (v & 0x3ff));
        }
    }
    out.push_str(&s[safe_from..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_follow_python_repr() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (-1.0, "-1.0"),
            (0.1, "0.1"),
            (0.5, "0.5"),
            (123.456, "123.456"),
            (100.0, "100.0"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (1e-5, "1e-05"),
            (1.5e-5, "1.5e-05"),
            (1.5e300, "1.5e+300"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (1795330604.854375, "1795330604.854375"),
            (9007199254740993.0, "9007199254740992.0"),
            // exact value ...536.25: a tie between two 17-digit candidates, Python picks even
            (1394865425023536.0 + 0.25, "1394865425023536.2"),
            (-167581363823776.0 - 0.125, "-167581363823776.12"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (x, expected) in cases {
            assert_eq!(python_float_repr(*x), *expected, "repr of {x:?}");
        }
    }

    #[test]
    fn strings_are_ascii_escaped_like_python() {
        let cases: &[(&str, &str)] = &[
            ("", r#""""#),
            ("plain / text ~", r#""plain / text ~""#),
            ("åäö", r#""\u00e5\u00e4\u00f6""#),
            ("😀", r#""\ud83d\ude00""#),
            ("a\"b\\c", r#""a\"b\\c""#),
            ("\n\r\t\u{8}\u{c}", r#""\n\r\t\b\f""#),
            ("\u{0}\u{1f}\u{7f}\u{80}", r#""\u0000\u001f\u007f\u0080""#),
            (
                "\u{2028}\u{ffff}\u{10ffff}",
                r#""\u2028\uffff\udbff\udfff""#,
            ),
            ("x€y", r#""x\u20acy""#),
        ];
        for (input, expected) in cases {
            let mut out = String::new();
            write_str(&mut out, input);
            assert_eq!(out, *expected, "escaping of {input:?}");
        }
    }

    #[test]
    fn separators_and_structure_follow_python() {
        let v = json!({"z": 1, "a": [1, -2, 3.0, [], {}], "n": null, "t": true, "f": false,
                       "u": u64::MAX, "i": i64::MIN});
        assert_eq!(
            to_python_json(&v),
            r#"{"z": 1, "a": [1, -2, 3.0, [], {}], "n": null, "t": true, "f": false, "u": 18446744073709551615, "i": -9223372036854775808}"#
        );
    }

    #[test]
    fn numbers_parsed_from_text_keep_their_python_form() {
        // What Python prints after json.loads: "1E5" is a float, "-0.0" keeps its sign.
        let v: Value = serde_json::from_str("[1E5, -0.0, 2.50, 10]").unwrap();
        assert_eq!(to_python_json(&v), "[100000.0, -0.0, 2.5, 10]");
    }
}
