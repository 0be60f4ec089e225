//! Request paths as the router sees them.

use std::borrow::Cow;

/// Percent-decodes a request path for routing, keeping `%2F` encoded (upstream "path_safe").
/// `None` when the decoded path is not UTF-8.
pub(crate) fn decode_path(raw: &str) -> Option<Cow<'_, str>> {
    if !raw.contains('%') {
        return Some(Cow::Borrowed(raw));
    }
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(pos) = rest.find("%2F").or_else(|| rest.find("%2f")) {
        out.extend(percent_encoding::percent_decode_str(&rest[..pos]));
        out.extend_from_slice(b"%2F");
        rest = &rest[pos + 3..];
    }
    out.extend(percent_encoding::percent_decode_str(rest));
    String::from_utf8(out).ok().map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_paths_do_not_decode() {
        assert!(decode_path("/x/%ff%fe").is_none());
        assert_eq!(decode_path("/plain").unwrap(), "/plain");
        assert_eq!(decode_path("/p/a%2Fb%20c").unwrap(), "/p/a%2Fb c");
    }
}
