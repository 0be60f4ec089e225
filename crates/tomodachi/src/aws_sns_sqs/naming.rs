//! Topic and queue names as upstream derives them: prefixes, `.fifo`,
//! the topic encoding of characters SNS does not allow, generated queue names, validation, and
//! the queue references `sqs_send_message` accepts.

use std::fmt::Write as _;

use regex::Regex;
use sha2::{Digest, Sha256};

/// `prefix + topic`, plus `.fifo` for FIFO topics (upstream `get_topic_name`).
///
/// ```
/// use tomodachi::aws_sns_sqs::topic_name;
/// assert_eq!(topic_name("test-topic", false, "prefix-"), "prefix-test-topic");
/// assert_eq!(topic_name("test-topic", true, ""), "test-topic.fifo");
/// ```
pub fn topic_name(topic: &str, fifo: bool, prefix: &str) -> String {
    let mut name = format!("{prefix}{topic}");
    if fifo && !name.ends_with(".fifo") {
        name.push_str(".fifo");
    }
    name
}

fn is_topic_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '*' | '#' | '-')
}

/// Replaces every character SNS does not allow with `___<utf-8 hex>_`, keeping the dot of a
/// trailing `.fifo` (upstream `encode_topic`).
///
/// ```
/// use tomodachi::aws_sns_sqs::encode_topic;
/// assert_eq!(encode_topic("test.topic"), "test___2e_topic");
/// assert_eq!(encode_topic("test.topic.fifo"), "test___2e_topic.fifo");
/// ```
pub fn encode_topic(name: &str) -> String {
    let (body, suffix) = match name.strip_suffix(".fifo") {
        Some(body) => (body, ".fifo"),
        None => (name, ""),
    };
    let mut out = String::with_capacity(name.len());
    for c in body.chars() {
        if is_topic_char(c) {
            out.push(c);
        } else {
            out.push_str("___");
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "{b:02x}");
            }
            out.push('_');
        }
    }
    out.push_str(suffix);
    out
}

fn encoded_run() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        Regex::new("___([a-f0-9]{2}|[a-f0-9]{4}|[a-f0-9]{6}|[a-f0-9]{8})_")
            .expect("a valid pattern")
    })
}

/// Reverses [`encode_topic`] (upstream `decode_topic`): every `___<2, 4, 6 or 8 hex digits>_`
/// becomes the UTF-8 text of those bytes. A run that is not valid UTF-8 is kept as it is
/// (upstream raises there).
///
/// ```
/// use tomodachi::aws_sns_sqs::decode_topic;
/// assert_eq!(decode_topic("test___2e_topic"), "test.topic");
/// ```
pub fn decode_topic(name: &str) -> String {
    encoded_run()
        .replace_all(name, |caps: &regex::Captures<'_>| {
            let hex = &caps[1];
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
                .collect();
            match String::from_utf8(bytes) {
                Ok(s) => s,
                Err(_) => caps[0].to_owned(),
            }
        })
        .into_owned()
}

/// Upstream strips trailing characters of the set `{'.', 'f', 'i', 'o'}` (not the suffix
/// `.fifo`) before checking the characters.
fn strip_fifo_chars(name: &str) -> &str {
    name.trim_end_matches(['.', 'f', 'i', 'o'])
}

fn plain_chars(name: &str) -> bool {
    strip_fifo_chars(name)
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Checks a topic (the raw, unprefixed one) as upstream does before creating or looking it
/// up: at most 256 characters and, after stripping trailing characters of the set
/// `{'.', 'f', 'i', 'o'}`, only `[A-Za-z0-9_-]`.
///
/// Validation runs before encoding, so `test.topic` is rejected even though an encoding
/// exists, while `q.io` passes (upstream strips a character set, not the `.fifo` suffix).
pub fn validate_topic_name(topic: &str) -> Result<(), String> {
    if topic.chars().count() > 256 {
        return Err(format!("Topic name ({topic}) is too long."));
    }
    if !plain_chars(topic) {
        return Err(format!(
            "Topic name ({topic}) may only contain alphanumeric characters, hyphens (-), and underscores (_)."
        ));
    }
    Ok(())
}

/// Checks a queue name as upstream does: at most 80 characters and the same character rule as
/// [`validate_topic_name`].
pub fn validate_queue_name(name: &str) -> Result<(), String> {
    if name.chars().count() > 80 {
        return Err(format!("Queue name ({name}) is too long."));
    }
    if !plain_chars(name) {
        return Err(format!(
            "Queue name ({name}) may only contain alphanumeric characters, hyphens (-), and underscores (_)."
        ));
    }
    Ok(())
}

/// Whether a queue name is an SQS queue ARN (`arn:aws:sqs:` prefix).
pub fn is_queue_arn(name: &str) -> bool {
    name.starts_with("arn:aws:sqs:")
}

fn sha256_hex(input: &str) -> String {
    let digest = Sha256::digest(input.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The queue a handler consumes.
///
/// * `queue_name` given: `prefix + queue_name` (no `.fifo` is added); an `arn:aws:sqs:` ARN
///   is returned unchanged (the caller checks [`is_queue_arn`] and looks it up). A non-empty
///   `queue_name` with `competing == Some(false)` is an error, as upstream.
/// * otherwise `sha256(encoded topic + handler + uuid)` (non-competing: `competing` `None` or
///   `Some(false)`, upstream's default) or `sha256(encoded topic)` (`Some(true)`), with
///   `prefix`, plus `.fifo` for FIFO subscriptions. The topic is the decorator topic without
///   prefix and without an added `.fifo`.
pub fn queue_name(
    topic: Option<&str>,
    handler: &str,
    uuid: &str,
    competing: Option<bool>,
    queue_name: Option<&str>,
    prefix: &str,
    fifo: bool,
) -> Result<String, String> {
    if let Some(name) = queue_name {
        // upstream: `if queue_name and competing_consumer is False`
        if competing == Some(false) && !name.is_empty() {
            return Err("AWS SQS queue with predefined queue name must be competing".into());
        }
        if is_queue_arn(name) {
            return Ok(name.to_owned());
        }
        return Ok(format!("{prefix}{name}"));
    }
    let encoded = encode_topic(topic.unwrap_or_default());
    let hash = if competing == Some(true) {
        sha256_hex(&encoded)
    } else {
        sha256_hex(&format!("{encoded}{handler}{uuid}"))
    };
    let mut name = format!("{prefix}{hash}");
    if fifo && !name.ends_with(".fifo") {
        name.push_str(".fifo");
    }
    Ok(name)
}

/// The topic a handler is told about: the part of the topic ARN after the last `:`, decoded,
/// without the topic prefix (when it starts with it). A FIFO topic keeps `.fifo`.
pub fn topic_from_arn(topic_arn: &str, prefix: &str) -> String {
    let name = decode_topic(topic_arn.rsplit(':').next().unwrap_or(topic_arn));
    match name.strip_prefix(prefix) {
        Some(rest) if !prefix.is_empty() => rest.to_owned(),
        _ => name,
    }
}

/// Whether a topic has wildcards (`*` one level, `#` any levels).
pub fn is_wildcard_topic(topic: &str) -> bool {
    topic.contains('*') || topic.contains('#')
}

/// Any run of characters that does not contain the encoded dot `___2e_`: upstream's
/// `((?!___2e_).)*`, written without look-ahead (the `regex` crate has none) as the
/// complement automaton of that substring.
const ONE_LEVEL: &str =
    "(?:[^_]|_(?:__+2_)*(?:[^_]|_[^_]|__+(?:[^_2]|2[^e_]|2e[^_])))*(?:_(?:__+2_)*(?:_|__+(?:2e?)?)?)?";

/// The pattern a wildcard topic selects existing topic ARNs with: fully matches
/// `arn:aws:sns:<region>:<account>:<P>` where `<P>` is the encoded, prefixed topic name (with
/// `.fifo` for FIFO) in which `*` matches one dot-separated level (a run without an encoded
/// dot) and `#` any run of characters.
///
/// Differences from upstream, both only in corner cases: upstream does not escape the
/// encoded name, so the `.` of `.fifo` matches any character there (a FIFO pattern also
/// selects a standard topic named `…fifo`); and upstream's look-ahead also rejects a `*` match
/// whose end starts an encoded dot completed by the literal text after it.
pub fn wildcard_topic_regex(topic: &str, fifo: bool, prefix: &str) -> Regex {
    let encoded = encode_topic(&topic_name(topic, fifo, prefix));
    let mut pattern = String::from("^arn:aws:sns:[^:]+:[^:]+:");
    let mut literal = String::new();
    for c in encoded.chars() {
        match c {
            '*' | '#' => {
                pattern.push_str(&regex::escape(&literal));
                literal.clear();
                pattern.push_str(if c == '*' { ONE_LEVEL } else { ".*" });
            }
            c => literal.push(c),
        }
    }
    pattern.push_str(&regex::escape(&literal));
    pattern.push('$');
    Regex::new(&pattern).unwrap_or_else(|_| {
        // only escaped literals and fixed groups: cannot fail short of the size limit;
        // then match no ARN at all
        Regex::new("^$").expect("a valid pattern")
    })
}

/// A queue reference as `sqs_send_message`, dead-letter settings and lookups accept it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueRef {
    /// A queue name, already prefixed: resolve with `GetQueueUrl(QueueName)`.
    Name(String),
    /// An SQS ARN: `GetQueueUrl(QueueName=name, QueueOwnerAWSAccountId=account)`, the owner
    /// omitted (`None`) for an all-zero account id.
    Arn {
        /// The owner account id (`None` when all zeros).
        account: Option<String>,
        /// The queue name (never prefixed).
        name: String,
    },
    /// A queue URL (`http://` or `https://`), used as is.
    Url(String),
}

/// Parses a queue reference; plain names get `prefix`. An ARN is split as upstream does (the
/// last two `:`-separated parts are the account id and the name); an empty or non-numeric
/// account id or an empty name is an error `Invalid SQS ARN (<arn>)`.
pub fn queue_ref(reference: &str, prefix: &str) -> Result<QueueRef, String> {
    if reference.starts_with("http://") || reference.starts_with("https://") {
        return Ok(QueueRef::Url(reference.to_owned()));
    }
    if is_queue_arn(reference) {
        let mut parts = reference.rsplit(':');
        let name = parts.next().unwrap_or_default();
        let account = parts.next().unwrap_or_default();
        if account.is_empty() || !account.chars().all(|c| c.is_ascii_digit()) || name.is_empty() {
            return Err(format!("Invalid SQS ARN ({reference})"));
        }
        let account = (!account.chars().all(|c| c == '0')).then(|| account.to_owned());
        return Ok(QueueRef::Arn {
            account,
            name: name.to_owned(),
        });
    }
    Ok(QueueRef::Name(format!("{prefix}{reference}")))
}

/// `x` ↔ `x.fifo`: the name `sqs_send_message` checks to warn about a FIFO/standard mix-up.
pub fn toggled_fifo_name(name: &str) -> String {
    match name.strip_suffix(".fifo") {
        Some(base) => base.to_owned(),
        None => format!("{name}.fifo"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "5d0b530f-5c44-4981-b01f-342801bd48f5";
    const TOO_MANY_CHARS: &str =
        "may only contain alphanumeric characters, hyphens (-), and underscores (_).";

    fn arn(name: &str) -> String {
        format!("arn:aws:sns:eu-west-1:123456789012:{name}")
    }

    #[test]
    fn topic_names() {
        assert_eq!(topic_name("test-topic", false, ""), "test-topic");
        assert_eq!(
            topic_name("test-topic", false, "prefix-"),
            "prefix-test-topic"
        );
        assert_eq!(topic_name("test-topic", true, ""), "test-topic.fifo");
        assert_eq!(
            topic_name("test-topic", true, "prefix-"),
            "prefix-test-topic.fifo"
        );
        // `.fifo` is not added twice
        assert_eq!(topic_name("t.fifo", true, ""), "t.fifo");
        assert_eq!(topic_name("t.fifo", false, "p-"), "p-t.fifo");
        // the SNS topic actually created
        assert_eq!(
            encode_topic(&topic_name("test.topic", true, "pre-")),
            "pre-test___2e_topic.fifo"
        );
    }

    #[test]
    fn encoding_vectors() {
        assert_eq!(encode_topic("test.topic"), "test___2e_topic");
        assert_eq!(encode_topic("test.topic.fifo"), "test___2e_topic.fifo");
        assert_eq!(encode_topic("ä.b#*c.fifo"), "___c3a4____2e_b#*c.fifo");
        // checked against Python tomodachi 0.29
        assert_eq!(encode_topic("test-topic"), "test-topic");
        assert_eq!(encode_topic("A_z-0*#"), "A_z-0*#");
        assert_eq!(encode_topic(".fifo"), ".fifo");
        assert_eq!(encode_topic("a.fifo.fifo"), "a___2e_fifo.fifo");
        assert_eq!(encode_topic("a.fifox"), "a___2e_fifox");
        assert_eq!(encode_topic("a/b c"), "a___2f_b___20_c");
        assert_eq!(encode_topic("友達.x"), "___e58f8b____e98194____2e_x");
        assert_eq!(encode_topic("😀"), "___f09f9880_");
        assert_eq!(encode_topic("a_.b"), "a____2e_b");
        assert_eq!(encode_topic(""), "");
    }

    #[test]
    fn decoding() {
        for s in [
            "test.topic",
            "test.topic.fifo",
            "ä.b#*c.fifo",
            "a/b c",
            "友達.x",
            "😀",
            "a_.b",
            ".fifo",
            "a.fifo.fifo",
            "",
        ] {
            assert_eq!(decode_topic(&encode_topic(s)), s, "{s}");
        }
        // checked against Python tomodachi 0.29
        assert_eq!(decode_topic("___c3a4_"), "ä");
        assert_eq!(decode_topic("___2E_"), "___2E_");
        assert_eq!(decode_topic("____2e_"), "_.");
        assert_eq!(decode_topic("___2e__2e_"), "._2e_");
        assert_eq!(decode_topic("___e58f8b__"), "友_");
        assert_eq!(decode_topic("x___2e"), "x___2e");
        assert_eq!(decode_topic("plain-topic"), "plain-topic");
        // not UTF-8: kept (upstream raises UnicodeDecodeError)
        assert_eq!(decode_topic("___c3_"), "___c3_");
    }

    #[test]
    fn topic_validation() {
        assert_eq!(validate_topic_name("test-topic"), Ok(()));
        assert_eq!(validate_topic_name("test-topic.fifo"), Ok(()));
        assert_eq!(validate_topic_name("Test_Topic-1"), Ok(()));
        assert_eq!(
            validate_topic_name("test.topic"),
            Err(format!("Topic name (test.topic) {TOO_MANY_CHARS}"))
        );
        assert_eq!(
            validate_topic_name("a b.fifo"),
            Err(format!("Topic name (a b.fifo) {TOO_MANY_CHARS}"))
        );
        assert!(validate_topic_name("ä").is_err());
        assert!(validate_topic_name("order.*").is_err());
        // upstream strips trailing characters of a set, not the suffix `.fifo`
        for quirk in ["q.io", "fifo", ".", ".fifo.", "", "x.of.if"] {
            assert_eq!(validate_topic_name(quirk), Ok(()), "{quirk}");
        }
        assert_eq!(validate_topic_name(&"a".repeat(256)), Ok(()));
        assert_eq!(
            validate_topic_name(&"a".repeat(257)),
            Err(format!("Topic name ({}) is too long.", "a".repeat(257)))
        );
        // the length is counted in characters, and checked first
        assert_eq!(
            validate_topic_name(&"ä".repeat(256)),
            Err(format!("Topic name ({}) {TOO_MANY_CHARS}", "ä".repeat(256)))
        );
        assert!(validate_topic_name(&"ä".repeat(257))
            .unwrap_err()
            .ends_with("is too long."));
    }

    #[test]
    fn queue_validation() {
        assert_eq!(validate_queue_name(&"a".repeat(80)), Ok(()));
        assert_eq!(
            validate_queue_name(&"a".repeat(81)),
            Err(format!("Queue name ({}) is too long.", "a".repeat(81)))
        );
        assert_eq!(validate_queue_name("a.fifo"), Ok(()));
        assert_eq!(validate_queue_name("q.io"), Ok(()));
        assert_eq!(
            validate_queue_name("a b"),
            Err(format!("Queue name (a b) {TOO_MANY_CHARS}"))
        );
        assert_eq!(
            validate_queue_name(&"ä".repeat(80)),
            Err(format!("Queue name ({}) {TOO_MANY_CHARS}", "ä".repeat(80)))
        );
        let generated = queue_name(Some("test-topic"), "func", UUID, None, None, "", true).unwrap();
        assert_eq!(validate_queue_name(&generated), Ok(()));
    }

    #[test]
    fn generated_queue_names() {
        let q = |topic, func, competing, prefix, fifo| {
            queue_name(Some(topic), func, UUID, competing, None, prefix, fifo).unwrap()
        };
        const NON_COMPETING: &str =
            "45b56d76d14276da54c0ef65ca5c604ab9d0301bbebf4d6ad11e91dd496c2975";
        const COMPETING: &str = "c6fb053c1b70aabd10bfefd087166b532b7c79ed12d24f2d43a9999c724797fd";
        // `competing` omitted and `competing=False` are both non-competing
        assert_eq!(q("test-topic", "func", None, "", false), NON_COMPETING);
        assert_eq!(
            q("test-topic", "func", Some(false), "", false),
            NON_COMPETING
        );
        assert_ne!(q("test-topic", "other", None, "", false), NON_COMPETING);
        // competing: the handler does not matter
        assert_eq!(q("test-topic", "func", Some(true), "", false), COMPETING);
        assert_eq!(q("test-topic", "other", Some(true), "", false), COMPETING);
        assert_eq!(
            q("test-topic", "func", None, "prefix-", false),
            format!("prefix-{NON_COMPETING}")
        );
        assert_eq!(
            q("test-topic", "func", Some(true), "prefix-", false),
            format!("prefix-{COMPETING}")
        );
        assert_eq!(
            q("test-topic.fifo", "func", None, "", true),
            "ad38a445b6b80e599dfff888caf6806f300ad3f565a8906b38176003b913f893.fifo"
        );
        assert_eq!(
            q("test-topic.fifo", "func", Some(true), "", true),
            "1183df5a6172224209951ac7251ea9bdab277dbe988cde334fd30f84144cafeb.fifo"
        );
        assert_eq!(
            q("test-topic.fifo", "func", Some(true), "prefix-", true),
            "prefix-1183df5a6172224209951ac7251ea9bdab277dbe988cde334fd30f84144cafeb.fifo"
        );
        // the hash of the unprefixed topic, then the queue prefix
        assert_eq!(
            q("test-topic", "func", None, "qp-", false),
            format!("qp-{NON_COMPETING}")
        );
        assert_eq!(
            q("fifo-topic", "func", Some(true), "", true),
            "657c31b3d26801811742ee09555f12946200883b6250d91d113b7b639c91fe33.fifo"
        );
        // the topic is hashed encoded (checked against Python tomodachi 0.29)
        assert_eq!(
            q("order.*", "func", Some(true), "", false),
            "e87a8976eab957d76c3943efa233ff87f29beeba85fe1e16ef376b13f74ec158"
        );
        assert_eq!(
            q("ä.b", "func", None, "", false),
            "7531ff85607f3e4ec103e84c569023495984038855553e9f8d2192e32ca4b7f2"
        );
        // no topic: the empty string is hashed
        assert_eq!(
            queue_name(None, "func", UUID, None, None, "", false).unwrap(),
            "ba0c6e3af89cd8eed8822812757d0acf8462ef0cd5fcaade370d2f3ebdf0b337"
        );
    }

    #[test]
    fn given_queue_names() {
        assert_eq!(
            queue_name(Some("t"), "f", UUID, None, Some("direct"), "qp-", false),
            Ok("qp-direct".to_owned())
        );
        assert_eq!(
            queue_name(Some("t"), "f", UUID, Some(true), Some("direct"), "", false),
            Ok("direct".to_owned())
        );
        // no `.fifo` is added to a given name
        assert_eq!(
            queue_name(Some("t"), "f", UUID, None, Some("direct"), "qp-", true),
            Ok("qp-direct".to_owned())
        );
        assert_eq!(
            queue_name(Some("t"), "f", UUID, Some(false), Some("q"), "", false),
            Err("AWS SQS queue with predefined queue name must be competing".to_owned())
        );
        let arn = "arn:aws:sqs:eu-west-1:123456789012:q";
        assert_eq!(
            queue_name(None, "f", UUID, None, Some(arn), "qp-", false),
            Ok(arn.to_owned())
        );
        assert_eq!(
            queue_name(None, "f", UUID, Some(false), Some(arn), "qp-", false),
            Err("AWS SQS queue with predefined queue name must be competing".to_owned())
        );
        assert!(is_queue_arn(arn));
        assert!(!is_queue_arn("arn:aws:sns:eu-west-1:123456789012:q"));
        assert!(!is_queue_arn("q"));
    }

    #[test]
    fn topics_from_arns() {
        let encoded = arn("pre-test___2e_topic");
        assert_eq!(topic_from_arn(&encoded, "pre-"), "test.topic");
        assert_eq!(topic_from_arn(&encoded, ""), "pre-test.topic");
        assert_eq!(topic_from_arn(&encoded, "other-"), "pre-test.topic");
        assert_eq!(topic_from_arn(&arn("pre-test-topic"), "pre-"), "test-topic");
        assert_eq!(
            topic_from_arn(&arn("fifo-topic.fifo"), ""),
            "fifo-topic.fifo"
        );
        assert_eq!(
            topic_from_arn(&arn("pre-fifo-topic.fifo"), "pre-"),
            "fifo-topic.fifo"
        );
        assert_eq!(topic_from_arn(&arn("___c3a4_"), ""), "ä");
        // the prefix is compared with the decoded name
        assert_eq!(topic_from_arn(&arn("p___2e_x"), "p."), "x");
        assert_eq!(topic_from_arn("no-colons", ""), "no-colons");
    }

    #[test]
    fn wildcard_topics() {
        assert!(is_wildcard_topic("a.*"));
        assert!(is_wildcard_topic("#"));
        assert!(is_wildcard_topic("a*b"));
        assert!(!is_wildcard_topic("a.b"));

        let re = wildcard_topic_regex("order.*", false, "");
        assert!(re.is_match(&arn("order___2e_created")));
        assert!(!re.is_match(&arn("order___2e_created___2e_eu")));
        assert!(!re.is_match(&arn("orders___2e_created")));
        assert!(re.is_match(&format!("{}x", arn("order___2e_created"))));
        assert!(!re.is_match(&format!("x{}", arn("order___2e_created"))));
        assert!(!re.is_match("arn:aws:sqs:eu-west-1:123456789012:order___2e_created"));
        let re = wildcard_topic_regex("order.#", false, "pre-");
        assert!(re.is_match(&arn("pre-order___2e_created___2e_eu")));
        assert!(re.is_match(&arn("pre-order___2e_")));
        assert!(!re.is_match(&arn("order___2e_created")));
        let re = wildcard_topic_regex("order-*", true, "");
        assert!(re.is_match(&arn("order-x.fifo")));
        assert!(!re.is_match(&arn("order-x")));
        // upstream's unescaped `.` of `.fifo` would select this standard topic too
        assert!(!re.is_match(&arn("order-xfifo")));
        // only the encoded name counts: the raw `.` in `.fifo` is not a level separator
        let re = wildcard_topic_regex("*", false, "");
        assert!(re.is_match(&arn("x.fifo")));
    }

    #[test]
    fn long_wildcard_patterns_compile() {
        let topic = vec!["*"; 128].join(".");
        let re = wildcard_topic_regex(&topic, true, "pre-");
        let name = vec!["x"; 128].join(".");
        assert!(re.is_match(&arn(&encode_topic(&topic_name(&name, true, "pre-")))));
        assert!(!re.is_match(&arn(&encode_topic(&topic_name(&name, false, "pre-")))));
    }

    /// Which of these topics upstream's pattern selects, computed with Python tomodachi 0.29.
    #[test]
    fn wildcard_topics_as_upstream() {
        let topics = [
            "order.created",
            "order.created.eu",
            "orders.created",
            "order.",
            "order._",
            "order.created_",
            "order.a__",
            "order.x_.y",
            "order.created.fifo",
            "pre-order.created.eu",
            "pre-order..eu",
            "a_b",
            "a_.b",
            "a__",
            "x",
            "x.y",
            "_",
            "pre-x",
            "order",
            "order-created",
            "order.created_.eu",
            "a____",
            "order.__",
            "x__",
        ];
        let cases: [(&str, bool, &str, &[&str]); 9] = [
            (
                "order.*",
                false,
                "",
                &[
                    "order.created",
                    "order.",
                    "order._",
                    "order.created_",
                    "order.a__",
                    "order.created.fifo",
                    "order.__",
                ],
            ),
            ("*.created", false, "", &["order.created", "orders.created"]),
            (
                "order.#",
                false,
                "",
                &[
                    "order.created",
                    "order.created.eu",
                    "order.",
                    "order._",
                    "order.created_",
                    "order.a__",
                    "order.x_.y",
                    "order.created.fifo",
                    "order.created_.eu",
                    "order.__",
                ],
            ),
            (
                "#",
                false,
                "pre-",
                &["pre-order.created.eu", "pre-order..eu", "pre-x"],
            ),
            ("order.*", true, "", &["order.created.fifo"]),
            (
                "order.*.eu",
                false,
                "pre-",
                &["pre-order.created.eu", "pre-order..eu"],
            ),
            ("a_*", false, "", &["a_b", "a__", "a____"]),
            (
                "*",
                false,
                "",
                &[
                    "a_b",
                    "a__",
                    "x",
                    "_",
                    "pre-x",
                    "order",
                    "order-created",
                    "a____",
                    "x__",
                ],
            ),
            (
                "order#",
                false,
                "",
                &[
                    "order.created",
                    "order.created.eu",
                    "orders.created",
                    "order.",
                    "order._",
                    "order.created_",
                    "order.a__",
                    "order.x_.y",
                    "order.created.fifo",
                    "order",
                    "order-created",
                    "order.created_.eu",
                    "order.__",
                ],
            ),
        ];
        for (topic, fifo, prefix, expected) in cases {
            let re = wildcard_topic_regex(topic, fifo, prefix);
            let selected: Vec<&str> = topics
                .iter()
                .copied()
                .filter(|t| re.is_match(&arn(&encode_topic(t))))
                .collect();
            assert_eq!(selected, expected, "{topic} fifo={fifo} prefix={prefix}");
        }
    }

    /// `*` matches exactly the runs without `___2e_`: every string up to 7 characters over
    /// the characters that matter.
    #[test]
    fn one_level_is_the_complement_of_an_encoded_dot() {
        let re = Regex::new(&format!("^{ONE_LEVEL}$")).unwrap();
        let alphabet = ['_', '2', 'e', 'a'];
        let mut strings = vec![String::new()];
        let mut checked = 0;
        for _ in 0..=7 {
            let mut next = Vec::new();
            for s in &strings {
                assert_eq!(re.is_match(s), !s.contains("___2e_"), "{s:?}");
                checked += 1;
                for c in alphabet {
                    next.push(format!("{s}{c}"));
                }
            }
            strings = next;
        }
        assert!(checked > 20_000);
        assert!(re.is_match("order___2f_created__"));
        assert!(!re.is_match("x______2e_y"));
    }

    #[test]
    fn queue_references() {
        assert_eq!(queue_ref("q", "p-"), Ok(QueueRef::Name("p-q".into())));
        assert_eq!(queue_ref("q.fifo", ""), Ok(QueueRef::Name("q.fifo".into())));
        assert_eq!(
            queue_ref("arn:aws:sqs:eu-west-1:123456789012:q", "p-"),
            Ok(QueueRef::Arn {
                account: Some("123456789012".into()),
                name: "q".into()
            })
        );
        assert_eq!(
            queue_ref("arn:aws:sqs:eu-west-1:000000000000:q", ""),
            Ok(QueueRef::Arn {
                account: None,
                name: "q".into()
            })
        );
        for bad in [
            "arn:aws:sqs:eu-west-1:abc:q",
            "arn:aws:sqs:eu-west-1::q",
            "arn:aws:sqs:eu-west-1:123456789012:",
            "arn:aws:sqs:q",
        ] {
            assert_eq!(
                queue_ref(bad, ""),
                Err(format!("Invalid SQS ARN ({bad})")),
                "{bad}"
            );
        }
        assert_eq!(
            queue_ref("http://localhost:5000/123456789012/q", "p-"),
            Ok(QueueRef::Url("http://localhost:5000/123456789012/q".into()))
        );
        assert_eq!(
            queue_ref(
                "https://sqs.eu-west-1.amazonaws.com/123456789012/q.fifo",
                "p-"
            ),
            Ok(QueueRef::Url(
                "https://sqs.eu-west-1.amazonaws.com/123456789012/q.fifo".into()
            ))
        );
    }

    #[test]
    fn toggled_fifo_names() {
        assert_eq!(toggled_fifo_name("a"), "a.fifo");
        assert_eq!(toggled_fifo_name("a.fifo"), "a");
        assert_eq!(toggled_fifo_name("qp-direct"), "qp-direct.fifo");
    }
}
