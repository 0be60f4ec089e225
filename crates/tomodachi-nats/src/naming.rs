//! Stream, durable consumer and dead-letter names, worked out from the service and the
//! subscription as the AMQP transport works out its queue names: stable across restarts and
//! instances, so every instance of a service binds the same durable consumer and they compete.

use sha2::{Digest, Sha256};

/// The first 8 bytes of `sha256(input)` as hex: what keeps two sanitised names apart.
fn short_hash(input: &str) -> String {
    Sha256::digest(input.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `name` with every character JetStream does not allow in a stream or consumer name (`.`,
/// `*`, `>`, whitespace, path separators, ...) replaced by `_`.
fn sanitise(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Whether a subject holds a `*` or `>` wildcard token.
pub(crate) fn has_wildcards(subject: &str) -> bool {
    subject.split('.').any(|t| t == "*" || t == ">")
}

/// The stream a subscription's subject is stored in: `prefix + subject (sanitised) + "-" +
/// hash(subject)`. It depends on the subject only, so every service subscribing to the same
/// subject shares one stream (each with its own durable consumer).
///
/// ```
/// assert_eq!(
///     tomodachi_nats::stream_name("orders.created", ""),
///     "orders_created-18d455b750919e20"
/// );
/// assert!(tomodachi_nats::stream_name("orders.*", "test-").starts_with("test-orders__-"));
/// ```
pub fn stream_name(subject: &str, prefix: &str) -> String {
    format!("{prefix}{}-{}", sanitise(subject), short_hash(subject))
}

/// The durable consumer of a handler: `prefix + service + "-" + handler + "-" + hash(service,
/// handler, subject)`, service and handler sanitised. Instances of one service share it (they compete for its
/// messages); two services, or two handlers of a service, never do.
///
/// ```
/// let a = tomodachi_nats::durable_name("orders", "on_created", "orders.created", "");
/// assert!(a.starts_with("orders-on_created-"));
/// assert_ne!(a, tomodachi_nats::durable_name("billing", "on_created", "orders.created", ""));
/// ```
pub fn durable_name(service: &str, handler: &str, subject: &str, prefix: &str) -> String {
    format!(
        "{prefix}{}-{}-{}",
        sanitise(service),
        sanitise(handler),
        short_hash(&format!("{service}\n{handler}\n{subject}"))
    )
}

/// The default dead-letter subject of a subscription: `<subject>.dlq`, or, for a subject with
/// wildcards (whose stream could capture its own `.dlq` subject), `dlq.<durable>`.
///
/// ```
/// assert_eq!(tomodachi_nats::dead_letter_subject("orders.created", "d"), "orders.created.dlq");
/// assert_eq!(tomodachi_nats::dead_letter_subject("orders.>", "d"), "dlq.d");
/// ```
pub fn dead_letter_subject(subject: &str, durable: &str) -> String {
    if has_wildcards(subject) {
        format!("dlq.{durable}")
    } else {
        format!("{subject}.dlq")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_jetstream_names() {
        for subject in ["a.b", "a.*", "a.>", "ä b/c\\d"] {
            let s = stream_name(subject, "p-");
            let d = durable_name("svc.x", "h y", subject, "p-");
            for name in [s, d] {
                assert!(
                    name.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                    "{name}"
                );
                assert!(name.starts_with("p-"));
            }
        }
    }

    #[test]
    fn sanitised_lookalikes_stay_apart() {
        assert_ne!(stream_name("a.b", ""), stream_name("a_b", ""));
        assert_ne!(
            durable_name("s", "a.b", "x", ""),
            durable_name("s", "a_b", "x", "")
        );
    }

    #[test]
    fn wildcards() {
        assert!(has_wildcards("a.*.c"));
        assert!(has_wildcards(">"));
        assert!(!has_wildcards("a.b*"));
    }
}
