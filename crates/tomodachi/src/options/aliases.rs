//! Legacy input aliases.
//!
//! Aliases are only consulted for keys that are not canonical option keys, and only when
//! writing (merging / `set`); reading uses canonical keys.

/// All three endpoint URLs.
const ENDPOINTS_ALL: &[&str] = &[
    "aws_endpoint_urls.sns",
    "aws_endpoint_urls.sqs",
    "aws_endpoint_urls.sts",
];
const SNS_ENDPOINT: &[&str] = &["aws_endpoint_urls.sns"];
const SQS_ENDPOINT: &[&str] = &["aws_endpoint_urls.sqs"];
const STS_ENDPOINT: &[&str] = &["aws_endpoint_urls.sts"];
const REGION: &[&str] = &["aws_sns_sqs.region_name"];
const ACCESS_KEY_ID: &[&str] = &["aws_sns_sqs.aws_access_key_id"];
const SECRET_ACCESS_KEY: &[&str] = &["aws_sns_sqs.aws_secret_access_key"];
const KMS_BOTH: &[&str] = &[
    "aws_sns_sqs.sns_kms_master_key_id",
    "aws_sns_sqs.sqs_kms_master_key_id",
];
const SNS_KMS: &[&str] = &["aws_sns_sqs.sns_kms_master_key_id"];
const SQS_KMS: &[&str] = &["aws_sns_sqs.sqs_kms_master_key_id"];
const KMS_REUSE: &[&str] = &["aws_sns_sqs.sqs_kms_data_key_reuse_period"];
const CLIENT_MAX_SIZE: &[&str] = &["http.client_max_size"];

type AliasTable = &'static [(&'static str, &'static [&'static str])];

/// Aliases accepted under the legacy top-level `aws` section and inside `aws_sns_sqs`
/// (relative key → canonical full keys). Canonical `aws_sns_sqs` names are listed too so that
/// `aws.<name>` works; inside `aws_sns_sqs` those are canonical keys and never reach this table.
const AWS_ALIASES: AliasTable = &[
    ("region_name", REGION),
    ("aws_region_name", REGION),
    ("access_key_id", ACCESS_KEY_ID),
    ("aws_access_key_id", ACCESS_KEY_ID),
    ("secret_access_key", SECRET_ACCESS_KEY),
    ("aws_secret_access_key", SECRET_ACCESS_KEY),
    ("endpoint_url", ENDPOINTS_ALL),
    ("aws_endpoint_url", ENDPOINTS_ALL),
    ("endpoint_urls.sns", SNS_ENDPOINT),
    ("endpoint_urls.sqs", SQS_ENDPOINT),
    ("endpoint_urls.sts", STS_ENDPOINT),
    ("aws_sns_endpoint_url", SNS_ENDPOINT),
    ("aws_sqs_endpoint_url", SQS_ENDPOINT),
    ("aws_sts_endpoint_url", STS_ENDPOINT),
    ("sns_endpoint_url", SNS_ENDPOINT),
    ("sqs_endpoint_url", SQS_ENDPOINT),
    ("sts_endpoint_url", STS_ENDPOINT),
    ("topic_prefix", &["aws_sns_sqs.topic_prefix"]),
    ("queue_name_prefix", &["aws_sns_sqs.queue_name_prefix"]),
    ("kms_master_key_id", KMS_BOTH),
    ("aws_kms_master_key_id", KMS_BOTH),
    ("sns_kms_master_key_id", SNS_KMS),
    ("aws_sns_kms_master_key_id", SNS_KMS),
    ("sqs_kms_master_key_id", SQS_KMS),
    ("aws_sqs_kms_master_key_id", SQS_KMS),
    ("kms_data_key_reuse_period", KMS_REUSE),
    ("aws_kms_data_key_reuse_period", KMS_REUSE),
    ("aws_sqs_kms_data_key_reuse_period", KMS_REUSE),
    ("sqs_kms_data_key_reuse_period", KMS_REUSE),
    ("queue_policy", &["aws_sns_sqs.queue_policy"]),
    (
        "wildcard_queue_policy",
        &["aws_sns_sqs.wildcard_queue_policy"],
    ),
];

/// Legacy HTTP keys.
const HTTP_ALIASES: AliasTable = &[
    ("max_buffer_size", CLIENT_MAX_SIZE),
    ("max_upload_size", CLIENT_MAX_SIZE),
];

/// Which alias table applies under which prefix.
const GROUPS: &[(&str, AliasTable)] = &[
    ("http", HTTP_ALIASES),
    ("aws", AWS_ALIASES),
    ("aws_sns_sqs", AWS_ALIASES),
];

/// The canonical keys a legacy alias writes to, if `full` is an alias.
pub(super) fn targets(full: &str) -> Option<&'static [&'static str]> {
    GROUPS.iter().find_map(|(prefix, table)| {
        let rest = full.strip_prefix(prefix)?.strip_prefix('.')?;
        table
            .iter()
            .find(|(alias, _)| *alias == rest)
            .map(|(_, targets)| *targets)
    })
}

/// The next key segments of aliases below `path` (e.g. `aws` → `region_name`, …,
/// `endpoint_urls`, …), deduplicated, in table order. Empty if no alias lives below `path`.
pub(super) fn children(path: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for &(prefix, table) in GROUPS {
        for &(alias, _) in table {
            let rest: &'static str = if path == prefix {
                alias
            } else {
                let below = path
                    .strip_prefix(prefix)
                    .and_then(|p| p.strip_prefix('.'))
                    .and_then(|inner| alias.strip_prefix(inner))
                    .and_then(|r| r.strip_prefix('.'));
                match below {
                    Some(r) => r,
                    None => continue,
                }
            };
            let segment = rest.split('.').next().unwrap_or(rest);
            if !segment.is_empty() && !out.contains(&segment) {
                out.push(segment);
            }
        }
    }
    out
}
