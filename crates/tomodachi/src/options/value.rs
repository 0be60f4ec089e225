//! JSON value conversion helpers shared by the option sections.

use serde_json::Value;

use super::error::OptionsError;

/// Longest rendering of a given value inside an error message.
const MAX_SHOWN: usize = 60;

/// Describes a JSON value for error messages: its JSON type and (shortened) value.
pub(super) fn describe(value: &Value) -> String {
    let kind = match value {
        Value::Null => return "null".to_string(),
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let mut shown = value.to_string();
    if shown.chars().count() > MAX_SHOWN {
        shown = shown.chars().take(MAX_SHOWN).collect::<String>() + "…";
    }
    format!("{kind} {shown}")
}

/// Renders a value the way Python's `str()` would (used in upstream error texts).
pub(super) fn py_str(value: &Value) -> String {
    match value {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Builds an [`OptionsError::InvalidType`].
pub(super) fn type_error(key: &str, expected: &'static str, value: &Value) -> OptionsError {
    OptionsError::InvalidType {
        key: key.to_string(),
        expected,
        got: describe(value),
    }
}

/// Builds the upstream `Bad value for <section> option <name>: <value>` error.
pub(super) fn bad_value(key: &str, value: &Value) -> OptionsError {
    let (section, name) = key.rsplit_once('.').unwrap_or(("", key));
    OptionsError::InvalidValue {
        key: key.to_string(),
        message: format!("Bad value for {section} option {name}: {}", py_str(value)),
    }
}

/// A non-negative integer, also accepting floats without a fractional part (`8080.0`).
pub(super) fn as_whole_u64(value: &Value) -> Option<u64> {
    if let Some(n) = value.as_u64() {
        return Some(n);
    }
    let f = value.as_f64()?;
    // u64::MAX as f64 rounds up to 2^64, hence the strict comparison.
    if f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64 {
        // Truncation cannot happen: `f` is whole and in range.
        Some(f as u64)
    } else {
        None
    }
}

/// A string (null is rejected).
pub(super) fn string(key: &str, value: &Value) -> Result<String, OptionsError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        other => Err(type_error(key, "a string", other)),
    }
}

/// A string; null becomes `null_as`.
pub(super) fn string_or(key: &str, value: &Value, null_as: &str) -> Result<String, OptionsError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(null_as.to_string()),
        other => Err(type_error(key, "a string or null", other)),
    }
}

/// A nullable string.
pub(super) fn opt_string(key: &str, value: &Value) -> Result<Option<String>, OptionsError> {
    match value {
        Value::String(s) => Ok(Some(s.clone())),
        Value::Null => Ok(None),
        other => Err(type_error(key, "a string or null", other)),
    }
}

/// A boolean; null counts as `false` (Python truthiness).
pub(super) fn boolean(key: &str, value: &Value) -> Result<bool, OptionsError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Null => Ok(false),
        other => Err(type_error(key, "a boolean", other)),
    }
}

/// An integer in `0..=65535`.
pub(super) fn u16_value(
    key: &str,
    value: &Value,
    expected: &'static str,
) -> Result<u16, OptionsError> {
    as_whole_u64(value)
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| type_error(key, expected, value))
}

/// A non-negative integer.
pub(super) fn u64_value(
    key: &str,
    value: &Value,
    expected: &'static str,
) -> Result<u64, OptionsError> {
    as_whole_u64(value).ok_or_else(|| type_error(key, expected, value))
}

/// A list of strings; null becomes an empty list.
pub(super) fn string_list(key: &str, value: &Value) -> Result<Vec<String>, OptionsError> {
    const EXPECTED: &str = "a list of strings (or null)";
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                _ => Err(type_error(key, EXPECTED, value)),
            })
            .collect(),
        other => Err(type_error(key, EXPECTED, other)),
    }
}

/// A non-negative number of seconds; null and `false` are `None`, `true` and negative values
/// give the upstream `Bad value for …` error.
pub(super) fn opt_seconds(key: &str, value: &Value) -> Result<Option<f64>, OptionsError> {
    match value {
        Value::Null | Value::Bool(false) => Ok(None),
        Value::Bool(true) => Err(bad_value(key, value)),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.is_finite() && f >= 0.0 => Ok(Some(f)),
            _ => Err(bad_value(key, value)),
        },
        other => Err(type_error(
            key,
            "a non-negative number of seconds (or null/false)",
            other,
        )),
    }
}

/// A non-negative integer; null and `false` are `None`, `true` gives the upstream
/// `Bad value for …` error.
pub(super) fn opt_count(key: &str, value: &Value) -> Result<Option<u64>, OptionsError> {
    match value {
        Value::Null | Value::Bool(false) => Ok(None),
        Value::Bool(true) => Err(bad_value(key, value)),
        Value::Number(_) => as_whole_u64(value)
            .map(Some)
            .ok_or_else(|| bad_value(key, value)),
        other => Err(type_error(
            key,
            "a non-negative integer (or null/false)",
            other,
        )),
    }
}

/// A JSON number for a float, written as an integer when it has no fractional part
/// (so `30.0` shows as `30`, as upstream's ints do).
pub(super) fn number_value(f: f64) -> Value {
    if f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64 {
        // Whole and in range, so the cast is exact.
        Value::from(f as u64)
    } else {
        Value::from(f)
    }
}

/// A nullable float as JSON.
pub(super) fn opt_number_value(f: Option<f64>) -> Value {
    f.map_or(Value::Null, number_value)
}
