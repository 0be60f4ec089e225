//! Python's non-finite JSON numbers: `json.dumps` writes `NaN`, `Infinity` and `-Infinity`
//! (not JSON, but what a Python tomodachi service sends when its data holds such a float).
//! serde_json has no value for them (it writes a non-finite `f64` as `null`), so a document that
//! does not parse is given a second chance with those literals, outside strings, read as `null`.

/// `text` with every `NaN`, `Infinity` and `-Infinity` literal outside JSON strings replaced
/// by `null`; `None` when there is none (the text failed to parse for another reason).
pub(crate) fn nulls_for_non_finite(text: &str) -> Option<String> {
    const LITERALS: [&str; 3] = ["-Infinity", "Infinity", "NaN"];
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0; // bytes of `text` already in `out`
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1, // the escaped byte is never a quote that ends the string
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        let found = LITERALS.iter().find(|lit| {
            bytes[i..].starts_with(lit.as_bytes())
                // a whole token: not the start of a longer name
                && !bytes
                    .get(i + lit.len())
                    .is_some_and(|next| next.is_ascii_alphanumeric() || *next == b'_')
        });
        match found {
            Some(lit) => {
                let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
                out.push_str(&text[copied..i]);
                out.push_str("null");
                i += lit.len();
                copied = i;
            }
            None => i += 1,
        }
    }
    let mut out = out?;
    out.push_str(&text[copied..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_outside_strings_become_null() {
        assert_eq!(
            nulls_for_non_finite(r#"{"a": NaN, "b": [Infinity, -Infinity, 1.5], "c": "NaN"}"#)
                .as_deref(),
            Some(r#"{"a": null, "b": [null, null, 1.5], "c": "NaN"}"#)
        );
        assert_eq!(nulls_for_non_finite("NaN").as_deref(), Some("null"));
        assert_eq!(
            nulls_for_non_finite(r#"{"k\"NaN": -Infinity}"#).as_deref(),
            Some(r#"{"k\"NaN": null}"#),
            "an escaped quote does not end the string"
        );
        assert_eq!(
            nulls_for_non_finite(r#"["\\", NaN]"#).as_deref(),
            Some(r#"["\\", null]"#),
            "an escaped backslash does not escape the quote after it"
        );
        assert_eq!(nulls_for_non_finite(r#"{"a": "Infinity and NaN"}"#), None);
        assert_eq!(nulls_for_non_finite(r#"{"a": 1"#), None);
        assert_eq!(nulls_for_non_finite("NaNa"), None, "not a whole token");
        assert_eq!(
            nulls_for_non_finite("[NaN,NaN]").as_deref(),
            Some("[null,null]")
        );
        // multi-byte text around the literals is kept whole
        assert_eq!(
            nulls_for_non_finite(r#"{"友達": NaN, "ö": "é"}"#).as_deref(),
            Some(r#"{"友達": null, "ö": "é"}"#)
        );
    }
}
