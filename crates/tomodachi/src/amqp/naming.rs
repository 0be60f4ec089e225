//! Routing-key encoding and queue naming exactly as upstream, so a Rust and a
//! Python instance of a service declare, bind and compete on the same queues.

use sha2::{Digest, Sha256};

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '_' | '*'
                | '#'
                | ','
                | ';'
                | '.'
                | ':'
                | '<'
                | '>'
                | '!'
                | '"'
                | '%'
                | '&'
                | '/'
                | '('
                | ')'
                | '['
                | ']'
                | '{'
                | '}'
                | '\\'
                | '='
                | '?'
                | '\''
                | '^'
                | '`'
                | '~'
                | '+'
                | '|'
                | '@'
                | '$'
                | ' '
                | '-'
        )
}

/// Encodes a routing key: every character outside upstream's allowed set becomes `___` + the
/// lowercase hex of its UTF-8 bytes + `_`.
///
/// ```
/// use tomodachi::amqp::encode_routing_key;
/// assert_eq!(encode_routing_key("test.topic"), "test.topic");
/// assert_eq!(encode_routing_key("ä"), "___c3a4_");
/// ```
pub fn encode_routing_key(routing_key: &str) -> String {
    let mut out = String::with_capacity(routing_key.len());
    for c in routing_key.chars() {
        if allowed(c) {
            out.push(c);
        } else {
            out.push_str("___");
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("{b:02x}"));
            }
            out.push('_');
        }
    }
    out
}

/// Decodes what [`encode_routing_key`] produced (kept for API parity with upstream).
///
/// ```
/// use tomodachi::amqp::decode_routing_key;
/// assert_eq!(decode_routing_key("___c3a4_.x"), "ä.x");
/// ```
pub fn decode_routing_key(encoded: &str) -> String {
    let bytes = encoded.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    'outer: while i < bytes.len() {
        if bytes[i..].starts_with(b"___") {
            // `___` + 2, 4, 6 or 8 hex digits + `_`
            for len in [8usize, 6, 4, 2] {
                let end = i + 3 + len;
                if end < bytes.len()
                    && bytes[end] == b'_'
                    && bytes[i + 3..end]
                        .iter()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
                {
                    let hex = &encoded[i + 3..end];
                    let decoded: Option<Vec<u8>> = (0..len)
                        .step_by(2)
                        .map(|j| u8::from_str_radix(&hex[j..j + 2], 16).ok())
                        .collect();
                    if let Some(d) = decoded.filter(|d| std::str::from_utf8(d).is_ok()) {
                        out.extend_from_slice(&d);
                        i = end + 1;
                        continue 'outer;
                    }
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `prefix + routing_key`, encoded: what is bound and published on the wire.
pub(crate) fn wire_routing_key(prefix: &str, routing_key: &str) -> String {
    encode_routing_key(&format!("{prefix}{routing_key}"))
}

fn sha256_hex(input: &str) -> String {
    let digest = Sha256::digest(input.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a subscription competes for its queue: an explicit `competing`, else `true` when a
/// `queue_name` is given, else **false** (upstream's code; its README says otherwise).
pub fn is_competing(competing: Option<bool>, queue_name: Option<&str>) -> bool {
    competing.unwrap_or(queue_name.is_some())
}

/// The queue a subscription consumes (upstream formula):
/// - explicit `queue_name`: `queue_name_prefix + queue_name`;
/// - competing: `queue_name_prefix + sha256_hex(encode(routing_key))`;
/// - otherwise: `queue_name_prefix + sha256_hex(encode(routing_key) + handler + service_uuid)`.
///
/// `routing_key` is the unprefixed routing key as written on the handler.
///
/// ```
/// use tomodachi::amqp::queue_name;
/// let uuid = "5d0b530f-5c44-4981-b01f-342801bd48f5";
/// assert_eq!(
///     queue_name("test.topic", "func", uuid, Some(true), None, ""),
///     "540e8e5bc604e4ea618f7e0517a04f030ad1dcbff2e121e9466ddd1c811450bf"
/// );
/// ```
pub fn queue_name(
    routing_key: &str,
    handler: &str,
    service_uuid: &str,
    competing: Option<bool>,
    queue_name: Option<&str>,
    queue_name_prefix: &str,
) -> String {
    if let Some(name) = queue_name {
        return format!("{queue_name_prefix}{name}");
    }
    let encoded = encode_routing_key(routing_key);
    let hash = if is_competing(competing, None) {
        sha256_hex(&encoded)
    } else {
        sha256_hex(&format!("{encoded}{handler}{service_uuid}"))
    };
    format!("{queue_name_prefix}{hash}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "5d0b530f-5c44-4981-b01f-342801bd48f5";

    #[test]
    fn queue_names_match_upstream_test_values() {
        assert_eq!(
            queue_name("test.topic", "func", UUID, None, None, ""),
            "b444917b9b922e8c29235737c7775c823e092c2374d1bfde071d42c637e3b4fd"
        );
        assert_eq!(
            queue_name("test.topic", "func", UUID, Some(false), None, ""),
            "b444917b9b922e8c29235737c7775c823e092c2374d1bfde071d42c637e3b4fd"
        );
        assert_eq!(
            queue_name("test.topic", "func", UUID, Some(true), None, ""),
            "540e8e5bc604e4ea618f7e0517a04f030ad1dcbff2e121e9466ddd1c811450bf"
        );
        assert_eq!(
            queue_name("test.topic", "func", UUID, None, None, "prefix-"),
            "prefix-b444917b9b922e8c29235737c7775c823e092c2374d1bfde071d42c637e3b4fd"
        );
        assert_eq!(
            queue_name("test.topic", "func", UUID, Some(true), None, "prefix-"),
            "prefix-540e8e5bc604e4ea618f7e0517a04f030ad1dcbff2e121e9466ddd1c811450bf"
        );
    }

    #[test]
    fn baseline_bench_queue_name() {
        // ../shared/bench/BASELINE.md: the queue Python tomodachi declared for bench.in
        assert_eq!(
            queue_name(
                "bench.in",
                "on_message",
                "8063750e-c21d-4ec0-8674-2af077628df1",
                None,
                None,
                ""
            ),
            "d1f33e9e451d64caad0a0616e5781b9b559f3908aa70e6cb3939badb561e2f7c"
        );
    }

    #[test]
    fn explicit_queue_names_are_prefixed_not_hashed() {
        assert_eq!(queue_name("x", "f", UUID, None, Some("q"), "p."), "p.q");
        assert!(is_competing(None, Some("q")));
        assert!(!is_competing(Some(false), Some("q")));
        assert!(!is_competing(None, None));
    }

    #[test]
    fn routing_keys_encode_and_decode() {
        assert_eq!(encode_routing_key("test.topic"), "test.topic");
        assert_eq!(encode_routing_key("a#*.b c-d"), "a#*.b c-d");
        assert_eq!(encode_routing_key("ä"), "___c3a4_");
        assert_eq!(encode_routing_key("😀"), "___f09f9880_");
        assert_eq!(encode_routing_key("x\ty"), "x___09_y");
        for s in ["ä.ö", "😀 x", "plain", "a___zz_b"] {
            assert_eq!(decode_routing_key(&encode_routing_key(s)), s);
        }
        assert_eq!(wire_routing_key("pre.", "ä"), "pre.___c3a4_");
    }
}
