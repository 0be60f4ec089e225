//! The SQS queue policy that lets SNS topics send to a queue, and the redrive policy of a
//! dead-letter queue, as upstream writes and compares them.

use serde_json::{json, Value};

/// A fresh statement id as upstream makes it: a uuid4 followed by the epoch milliseconds as
/// digits (e.g. `a85d40d2-9a15-45c6-b68b-d75dbc458a1c1795331500075`).
pub fn new_statement_id() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4(),
        chrono::Utc::now().timestamp_millis()
    )
}

/// The longest common character prefix of several strings.
fn common_prefix(strings: &[String]) -> &str {
    let Some(first) = strings.first() else {
        return "";
    };
    let mut len = first.len();
    for other in &strings[1..] {
        let shared = first
            .char_indices()
            .zip(other.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, a), _)| i + a.len_utf8());
        len = len.min(shared);
    }
    &first[..len]
}

/// The policy's `aws:SourceArn`: the one topic ARN, or for several ARNs (a wildcard
/// subscription) their longest common character prefix followed by `*`.
///
/// `queue_policy` (the option `aws_sns_sqs.queue_policy`) replaces it in both cases, and for
/// several ARNs `wildcard_queue_policy` wins over `queue_policy`; empty option values do not
/// count, as upstream tests them for truthiness.
///
/// Upstream appends the `*` only where the ARNs differ: when one ARN is a prefix of all others
/// (topics `order` and `order-created` matched by `order#`) it writes the shortest ARN without
/// `*`, a policy that denies the longer topics. This always appends the `*`.
pub fn source_arn(
    topic_arns: &[String],
    queue_policy: Option<&str>,
    wildcard_queue_policy: Option<&str>,
) -> String {
    let queue_policy = queue_policy.filter(|p| !p.is_empty());
    let wildcard_queue_policy = wildcard_queue_policy.filter(|p| !p.is_empty());
    if topic_arns.len() > 1 {
        if let Some(p) = wildcard_queue_policy.or(queue_policy) {
            return p.to_owned();
        }
        return format!("{}*", common_prefix(topic_arns));
    }
    if let Some(p) = queue_policy {
        return p.to_owned();
    }
    topic_arns.first().cloned().unwrap_or_default()
}

/// The queue policy document, keys in upstream's order:
/// `{"Version": "2012-10-17", "Id": "<queue_arn>/SQSDefaultPolicy", "Statement": [{"Sid": ..,
/// "Effect": "Allow", "Principal": "*", "Action": "SQS:SendMessage", "Resource": <queue_arn>,
/// "Condition": {"ArnEquals": {"aws:SourceArn": <source_arn>}}}]}`.
pub fn queue_policy(queue_arn: &str, source_arn: &str, sid: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Id": format!("{queue_arn}/SQSDefaultPolicy"),
        "Statement": [{
            "Sid": sid,
            "Effect": "Allow",
            "Principal": "*",
            "Action": "SQS:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}}
        }]
    })
}

/// The statements with their `Sid` removed (upstream sets them to `""`, which compares the
/// same); a single statement object counts as a list of one.
fn statements_without_sid(policy: &Value) -> Option<Vec<Value>> {
    let list = match policy.get("Statement")? {
        Value::Array(list) => list.clone(),
        one => vec![one.clone()],
    };
    Some(
        list.into_iter()
            .map(|mut s| {
                if let Some(m) = s.as_object_mut() {
                    m.remove("Sid");
                }
                s
            })
            .collect(),
    )
}

/// Whether the queue's `Policy` must be set: there is no current policy (missing, empty,
/// `{}` or not JSON), or its statements differ from the desired ones when `Sid` is ignored.
/// Objects compare regardless of key order.
pub fn policy_needs_update(current: Option<&str>, desired: &Value) -> bool {
    let Some(current) = current.and_then(|c| serde_json::from_str::<Value>(c).ok()) else {
        return true;
    };
    if current.as_object().is_none_or(|m| m.is_empty()) {
        return true;
    }
    statements_without_sid(&current).unwrap_or_default()
        != statements_without_sid(desired).unwrap_or_default()
}

/// The redrive policy object `{"deadLetterTargetArn": .., "maxReceiveCount": n}`.
pub fn redrive_policy(dead_letter_target_arn: &str, max_receive_count: u32) -> Value {
    json!({"deadLetterTargetArn": dead_letter_target_arn, "maxReceiveCount": max_receive_count})
}

/// Top-level numbers given as text (some services return `"maxReceiveCount": "3"`) compare as
/// numbers.
fn normalized(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s
                            .trim()
                            .parse::<i64>()
                            .map(Value::from)
                            .unwrap_or(Value::String(s)),
                        other => other,
                    };
                    (k, v)
                })
                .collect(),
        ),
        other => other,
    }
}

/// Whether the queue's `RedrivePolicy` must be set: the current one (JSON text; missing, empty
/// or unparsable = `{}`) differs from the desired one. `maxReceiveCount` as `"3"` and as `3`
/// are the same (upstream compares them as different and rewrites the policy).
pub fn redrive_needs_update(current: Option<&str>, desired: &Value) -> bool {
    let current = current
        .filter(|c| !c.trim().is_empty())
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
        .unwrap_or_else(|| json!({}));
    normalized(current) != normalized(desired.clone())
}

/// A policy document as Python's `json.dumps` writes it (the text upstream sets).
pub fn policy_text(value: &Value) -> String {
    crate::envelope::to_python_json(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUEUE_ARN: &str =
        "arn:aws:sqs:eu-west-1:123456789012:qp-45b56d76d14276da54c0ef65ca5c604ab9d0301bbebf4d6ad11e91dd496c2975";
    const TOPIC_ARN: &str = "arn:aws:sns:eu-west-1:123456789012:pre-test-topic";
    const SID: &str = "a85d40d2-9a15-45c6-b68b-d75dbc458a1c1795331500075";

    fn arns(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The policy of upstream's own test, as Python's `json.dumps` writes it.
    #[test]
    fn queue_policy_text_as_upstream() {
        let p = queue_policy(QUEUE_ARN, TOPIC_ARN, SID);
        assert_eq!(
            policy_text(&p),
            concat!(
                r#"{"Version": "2012-10-17", "Id": "arn:aws:sqs:eu-west-1:123456789012:qp-45b56d76d14276da54c0ef65ca5c604ab9d0301bbebf4d6ad11e91dd496c2975/SQSDefaultPolicy", "#,
                r#""Statement": [{"Sid": "a85d40d2-9a15-45c6-b68b-d75dbc458a1c1795331500075", "Effect": "Allow", "Principal": "*", "#,
                r#""Action": "SQS:SendMessage", "Resource": "arn:aws:sqs:eu-west-1:123456789012:qp-45b56d76d14276da54c0ef65ca5c604ab9d0301bbebf4d6ad11e91dd496c2975", "#,
                r#""Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:eu-west-1:123456789012:pre-test-topic"}}}]}"#
            )
        );
    }

    #[test]
    fn statement_ids() {
        let sid = new_statement_id();
        assert!(uuid::Uuid::parse_str(&sid[..36]).is_ok(), "{sid}");
        assert!(sid.len() >= 36 + 13, "{sid}");
        assert!(sid[36..].chars().all(|c| c.is_ascii_digit()), "{sid}");
        assert_ne!(new_statement_id()[..36], sid[..36]);
    }

    #[test]
    fn policy_updates_ignore_the_sid() {
        let desired = queue_policy(QUEUE_ARN, TOPIC_ARN, SID);
        let same = queue_policy(QUEUE_ARN, TOPIC_ARN, "another-sid");
        assert!(!policy_needs_update(Some(&policy_text(&same)), &desired));
        assert!(!policy_needs_update(Some(&policy_text(&desired)), &desired));
        // AWS's compact text with keys in another order
        let compact = format!(
            r#"{{"Id":"{QUEUE_ARN}/SQSDefaultPolicy","Version":"2012-10-17","Statement":[{{"Condition":{{"ArnEquals":{{"aws:SourceArn":"{TOPIC_ARN}"}}}},"Resource":"{QUEUE_ARN}","Action":"SQS:SendMessage","Principal":"*","Effect":"Allow","Sid":"x"}}]}}"#
        );
        assert!(!policy_needs_update(Some(&compact), &desired));
        // a statement without a Sid, and a single statement object
        let mut no_sid = same.clone();
        no_sid["Statement"][0]
            .as_object_mut()
            .unwrap()
            .remove("Sid");
        assert!(!policy_needs_update(Some(&policy_text(&no_sid)), &desired));
        let mut single = same.clone();
        single["Statement"] = same["Statement"][0].clone();
        assert!(!policy_needs_update(Some(&policy_text(&single)), &desired));
    }

    #[test]
    fn policy_updates() {
        let desired = queue_policy(QUEUE_ARN, TOPIC_ARN, SID);
        assert!(policy_needs_update(None, &desired));
        assert!(policy_needs_update(Some(""), &desired));
        assert!(policy_needs_update(Some("{}"), &desired));
        assert!(policy_needs_update(Some("not json"), &desired));
        assert!(policy_needs_update(Some("[]"), &desired));
        assert!(policy_needs_update(
            Some(r#"{"Version": "2012-10-17"}"#),
            &desired
        ));
        let other_topic = queue_policy(QUEUE_ARN, "arn:aws:sns:eu-west-1:123456789012:x", SID);
        assert!(policy_needs_update(
            Some(&policy_text(&other_topic)),
            &desired
        ));
        let other_queue = queue_policy("arn:aws:sqs:eu-west-1:123456789012:q", TOPIC_ARN, SID);
        assert!(policy_needs_update(
            Some(&policy_text(&other_queue)),
            &desired
        ));
        // another statement too: the policy is replaced
        let mut more = desired.clone();
        let extra = more["Statement"][0].clone();
        more["Statement"].as_array_mut().unwrap().push(extra);
        assert!(policy_needs_update(Some(&policy_text(&more)), &desired));
        // only the statements count (upstream compares nothing else)
        let mut other_id = desired.clone();
        other_id["Id"] = "x".into();
        assert!(!policy_needs_update(
            Some(&policy_text(&other_id)),
            &desired
        ));
    }

    #[test]
    fn source_arns() {
        let one = arns(&["arn:aws:sns:r:1:order-created"]);
        assert_eq!(source_arn(&one, None, None), one[0]);
        assert_eq!(source_arn(&one, Some("arn:x"), None), "arn:x");
        // the wildcard override is only for several topics
        assert_eq!(source_arn(&one, None, Some("arn:w")), one[0]);
        assert_eq!(source_arn(&one, Some("arn:x"), Some("arn:w")), "arn:x");
        assert_eq!(source_arn(&one, Some(""), Some("")), one[0]);

        let two = arns(&[
            "arn:aws:sns:r:1:order-created",
            "arn:aws:sns:r:1:order-cancelled",
        ]);
        assert_eq!(source_arn(&two, None, None), "arn:aws:sns:r:1:order-c*");
        assert_eq!(source_arn(&two, Some("arn:x"), None), "arn:x");
        assert_eq!(source_arn(&two, None, Some("arn:w")), "arn:w");
        assert_eq!(source_arn(&two, Some("arn:x"), Some("arn:w")), "arn:w");
        assert_eq!(
            source_arn(&two, Some(""), Some("")),
            "arn:aws:sns:r:1:order-c*"
        );

        let three = arns(&[
            "arn:aws:sns:eu-west-1:123456789012:order___2e_created",
            "arn:aws:sns:eu-west-1:123456789012:order___2e_cancelled",
            "arn:aws:sns:eu-west-1:123456789012:order___2e_shipped",
        ]);
        assert_eq!(
            source_arn(&three, None, None),
            "arn:aws:sns:eu-west-1:123456789012:order___2e_*"
        );
        let regions = arns(&["arn:aws:sns:eu-west-1:1:t", "arn:aws:sns:us-east-1:1:t"]);
        assert_eq!(source_arn(&regions, None, None), "arn:aws:sns:*");
        // one ARN a prefix of the other (upstream: no `*`)
        let nested = arns(&["arn:aws:sns:r:1:order", "arn:aws:sns:r:1:order-created"]);
        assert_eq!(source_arn(&nested, None, None), "arn:aws:sns:r:1:order*");
        assert_eq!(source_arn(&[], None, None), "");
        assert_eq!(common_prefix(&arns(&["åb", "åc"])), "å");
    }

    #[test]
    fn redrive_policy_text_as_upstream() {
        let r = redrive_policy("arn:aws:sqs:eu-west-1:123456789012:qp-dlq", 3);
        assert_eq!(
            policy_text(&r),
            r#"{"deadLetterTargetArn": "arn:aws:sqs:eu-west-1:123456789012:qp-dlq", "maxReceiveCount": 3}"#
        );
    }

    #[test]
    fn redrive_updates() {
        let r = redrive_policy("arn:aws:sqs:eu-west-1:123456789012:qp-dlq", 3);
        assert!(!redrive_needs_update(Some(&policy_text(&r)), &r));
        // moto and AWS return other spellings of the same policy
        for same in [
            r#"{"deadLetterTargetArn": "arn:aws:sqs:eu-west-1:123456789012:qp-dlq", "maxReceiveCount": "3"}"#,
            r#"{"deadLetterTargetArn":"arn:aws:sqs:eu-west-1:123456789012:qp-dlq","maxReceiveCount":3}"#,
            r#"{"maxReceiveCount": 3, "deadLetterTargetArn": "arn:aws:sqs:eu-west-1:123456789012:qp-dlq"}"#,
        ] {
            assert!(!redrive_needs_update(Some(same), &r), "{same}");
        }
        assert!(redrive_needs_update(None, &r));
        assert!(redrive_needs_update(Some(""), &r));
        assert!(redrive_needs_update(
            Some(&policy_text(&redrive_policy(
                "arn:aws:sqs:eu-west-1:123456789012:qp-dlq",
                4
            ))),
            &r
        ));
        assert!(redrive_needs_update(
            Some(&policy_text(&redrive_policy(
                "arn:aws:sqs:eu-west-1:123456789012:other",
                3
            ))),
            &r
        ));
        // removing: desired `{}`
        let remove = json!({});
        assert!(!redrive_needs_update(None, &remove));
        assert!(!redrive_needs_update(Some(""), &remove));
        assert!(!redrive_needs_update(Some("{}"), &remove));
        assert!(redrive_needs_update(Some(&policy_text(&r)), &remove));
        assert_eq!(policy_text(&remove), "{}");
    }
}
