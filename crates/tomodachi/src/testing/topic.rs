//! RabbitMQ topic-exchange routing-key matching.
//!
//! [`topic_matches`] decides whether a message published to a topic exchange with a
//! given routing key is routed to a queue bound with a given binding pattern, with the
//! exact semantics of RabbitMQ's topic exchange:
//!
//! * Both the pattern and the routing key are split into *words* at every `.`. Words
//!   may be empty: `a..b` is the three words `a`, `""`, `b`; `a.` is `a`, `""`; `.` is
//!   two empty words.
//! * The empty string is **zero** words (not one empty word). So the empty routing key
//!   is matched by the patterns `""`, `#`, `#.#`, ... but *not* by `*`, while `*.*`
//!   matches the routing key `.` (two empty words).
//! * A pattern word `*` matches exactly one word (which may be empty).
//! * A pattern word `#` matches zero or more words, so `#` matches every routing key,
//!   `a.#` matches `a`, and `#.a` and `a.#.b` match `a` and `a.b` respectively.
//! * Any other pattern word matches only the identical word, byte for byte and
//!   case-sensitively. `*` and `#` are only wildcards as whole words: `a*` and `#a` are
//!   literal words, and a routing key containing a literal `*` or `#` word is matched
//!   by a pattern containing the same literal word (as well as by the wildcards).
//!
//! These rules were recorded against a real RabbitMQ broker by
//! `scripts/kit-tables/rabbitmq_topic_table.py`; the unit tests assert every row of the
//! table it wrote (`tests/data/rabbitmq_topic_table.json`).

/// Splits a pattern or routing key into words the way RabbitMQ does: at every `.`, with
/// the empty string being zero words.
fn words(s: &str) -> Vec<&str> {
    if s.is_empty() {
        Vec::new()
    } else {
        s.split('.').collect()
    }
}

/// Returns whether a topic exchange routes a message published with `routing_key` to a
/// queue bound with the binding pattern `pattern`.
///
/// See the [module documentation](self) for the exact rules (empty words, the empty
/// routing key, `*` and `#`).
///
/// ```
/// # use tomodachi::testing::topic::topic_matches;
/// assert!(topic_matches("orders.*.created", "orders.eu.created"));
/// assert!(topic_matches("orders.#", "orders"));
/// assert!(topic_matches("#", ""));
/// assert!(!topic_matches("*", ""));
/// ```
pub fn topic_matches(pattern: &str, routing_key: &str) -> bool {
    let pattern = words(pattern);
    let key = words(routing_key);
    // `reachable[j]`: the pattern words consumed so far can match the first `j` key words.
    let mut reachable = vec![false; key.len() + 1];
    reachable[0] = true;
    for word in &pattern {
        match *word {
            "#" => {
                // Zero or more words: once a prefix is reachable, every longer one is.
                let mut seen = false;
                for slot in reachable.iter_mut() {
                    seen |= *slot;
                    *slot = seen;
                }
            }
            literal_or_star => {
                for j in (0..key.len()).rev() {
                    reachable[j + 1] =
                        reachable[j] && (literal_or_star == "*" || literal_or_star == key[j]);
                }
                reachable[0] = false;
            }
        }
        if !reachable.iter().any(|r| *r) {
            return false;
        }
    }
    reachable[key.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = include_str!("../../tests/data/rabbitmq_topic_table.json");

    #[test]
    fn matches_every_row_recorded_from_rabbitmq() {
        let rows: serde_json::Value = serde_json::from_str(TABLE).unwrap();
        let rows = rows.as_array().unwrap();
        assert!(rows.len() > 300, "table unexpectedly small: {}", rows.len());
        let mut failures = Vec::new();
        for row in rows {
            let pattern = row["pattern"].as_str().unwrap();
            let key = row["routing_key"].as_str().unwrap();
            let expected = row["matches"].as_bool().unwrap();
            if topic_matches(pattern, key) != expected {
                failures.push(format!(
                    "pattern {pattern:?} key {key:?}: expected {expected}"
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} mismatches:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn empty_routing_key_is_zero_words() {
        assert!(topic_matches("", ""));
        assert!(topic_matches("#", ""));
        assert!(topic_matches("#.#", ""));
        assert!(!topic_matches("*", ""));
        assert!(!topic_matches("#.*", ""));
        assert!(!topic_matches("", "a"));
    }

    #[test]
    fn empty_words_are_words() {
        assert!(topic_matches("*.*", "."));
        assert!(!topic_matches("*", "."));
        assert!(topic_matches("a.*.b", "a..b"));
        assert!(topic_matches("a.*", "a."));
        assert!(topic_matches("*.a", ".a"));
        assert!(topic_matches("#.", "a.."));
    }

    #[test]
    fn hash_matches_zero_or_more_words() {
        assert!(topic_matches("a.#", "a"));
        assert!(topic_matches("a.#", "a.b.c"));
        assert!(topic_matches("#.b", "b"));
        assert!(topic_matches("a.#.b", "a.b"));
        assert!(topic_matches("a.#.b", "a.x.y.b"));
        assert!(!topic_matches("a.#.b", "a.b.c"));
        assert!(topic_matches("#.a.#", "x.a.y"));
        assert!(!topic_matches("*.#.*", "a"));
    }

    #[test]
    fn wildcards_only_as_whole_words() {
        assert!(topic_matches("a*", "a*"));
        assert!(!topic_matches("a*", "ab"));
        assert!(!topic_matches("#a", "xa"));
        assert!(topic_matches("a.#", "a.#"));
        assert!(topic_matches("*", "#"));
        assert!(!topic_matches("a", "A"));
    }

    #[test]
    fn many_hashes_stay_fast() {
        let pattern = vec!["#"; 200].join(".") + ".z";
        let key = vec!["a"; 255].join(".");
        assert!(!topic_matches(&pattern, &key));
        assert!(topic_matches(&pattern, &(key + ".z")));
    }
}
