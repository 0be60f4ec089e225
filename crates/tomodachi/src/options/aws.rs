//! `options.aws_sns_sqs.*` and `options.aws_endpoint_urls.*` – the AWS SNS+SQS transport options.

use serde_json::Value;

use super::error::OptionsError;
use super::value;

/// `options.aws_sns_sqs.*` – credentials, naming prefixes, KMS and queue policy settings
///. `None` means "not set" (the AWS default chain is used for credentials and
/// region).
///
/// ```
/// use tomodachi::options::{AwsSnsSqsOptions, Options};
///
/// let options = Options {
///     aws_sns_sqs: AwsSnsSqsOptions {
///         region_name: Some("eu-west-1".into()),
///         topic_prefix: "dev-".into(),
///         ..Default::default()
///     },
///     ..Default::default()
/// };
/// assert_eq!(options.get("aws_sns_sqs.region_name").unwrap(), "eu-west-1");
/// assert!(options.aws_sns_sqs.aws_access_key_id.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AwsSnsSqsOptions {
    /// AWS region. Default `None`.
    pub region_name: Option<String>,
    /// Access key id. Default `None`.
    pub aws_access_key_id: Option<String>,
    /// Secret access key. Default `None`.
    pub aws_secret_access_key: Option<String>,
    /// Prefix for topic names. Default `""` (JSON `null` → `""`).
    pub topic_prefix: String,
    /// Prefix for queue names. Default `""` (JSON `null` → `""`).
    pub queue_name_prefix: String,
    /// KMS key for SNS topics; `Some("")` (JSON `""` or `false`) disables encryption. Default `None`.
    pub sns_kms_master_key_id: Option<String>,
    /// KMS key for SQS queues; `Some("")` (JSON `""` or `false`) disables encryption. Default `None`.
    pub sqs_kms_master_key_id: Option<String>,
    /// `KmsDataKeyReusePeriodSeconds` for SQS queues (`None`/`0` = leave unchanged). Default `None`.
    pub sqs_kms_data_key_reuse_period: Option<u64>,
    /// Source ARN (pattern) to use in generated queue policies. Default `None`.
    pub queue_policy: Option<String>,
    /// Source ARN pattern for queues subscribed to several topics (wins over `queue_policy`).
    /// Default `None`.
    pub wildcard_queue_policy: Option<String>,
}

impl AwsSnsSqsOptions {
    /// The keys of the section, in upstream `asdict()` order.
    pub const KEYS: &'static [&'static str] = &[
        "region_name",
        "aws_access_key_id",
        "aws_secret_access_key",
        "topic_prefix",
        "queue_name_prefix",
        "sns_kms_master_key_id",
        "sqs_kms_master_key_id",
        "sqs_kms_data_key_reuse_period",
        "queue_policy",
        "wildcard_queue_policy",
    ];

    /// The section's values in `asdict()` order.
    pub(super) fn entries(&self) -> Vec<(&'static str, Value)> {
        let opt = |s: &Option<String>| s.clone().map_or(Value::Null, Value::String);
        vec![
            ("region_name", opt(&self.region_name)),
            ("aws_access_key_id", opt(&self.aws_access_key_id)),
            ("aws_secret_access_key", opt(&self.aws_secret_access_key)),
            ("topic_prefix", Value::from(self.topic_prefix.clone())),
            (
                "queue_name_prefix",
                Value::from(self.queue_name_prefix.clone()),
            ),
            ("sns_kms_master_key_id", opt(&self.sns_kms_master_key_id)),
            ("sqs_kms_master_key_id", opt(&self.sqs_kms_master_key_id)),
            (
                "sqs_kms_data_key_reuse_period",
                self.sqs_kms_data_key_reuse_period
                    .map_or(Value::Null, Value::from),
            ),
            ("queue_policy", opt(&self.queue_policy)),
            ("wildcard_queue_policy", opt(&self.wildcard_queue_policy)),
        ]
    }

    /// Sets one canonical key of the section (`full` is the dotted key used in errors).
    pub(super) fn set_key(&mut self, key: &str, full: &str, v: &Value) -> Result<(), OptionsError> {
        match key {
            "region_name" => self.region_name = value::opt_string(full, v)?,
            "aws_access_key_id" => self.aws_access_key_id = value::opt_string(full, v)?,
            "aws_secret_access_key" => self.aws_secret_access_key = value::opt_string(full, v)?,
            "topic_prefix" => self.topic_prefix = value::string_or(full, v, "")?,
            "queue_name_prefix" => self.queue_name_prefix = value::string_or(full, v, "")?,
            "sns_kms_master_key_id" => self.sns_kms_master_key_id = kms_key(full, v)?,
            "sqs_kms_master_key_id" => self.sqs_kms_master_key_id = kms_key(full, v)?,
            "sqs_kms_data_key_reuse_period" => {
                self.sqs_kms_data_key_reuse_period = value::opt_count(full, v)?
            }
            "queue_policy" => self.queue_policy = value::opt_string(full, v)?,
            "wildcard_queue_policy" => self.wildcard_queue_policy = value::opt_string(full, v)?,
            _ => return Err(super::unknown_key(full)),
        }
        Ok(())
    }
}

/// A KMS key id: string, `null` (unset) or `false` (= `""`, disable encryption).
fn kms_key(full: &str, v: &Value) -> Result<Option<String>, OptionsError> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(false) => Ok(Some(String::new())),
        Value::Bool(true) => Err(value::bad_value(full, v)),
        Value::String(s) => Ok(Some(s.clone())),
        other => Err(value::type_error(
            full,
            "a string, false (disable encryption) or null",
            other,
        )),
    }
}

/// `options.aws_endpoint_urls.*` – endpoint URL overrides per AWS service (e.g. localstack).
/// `None` = the regular AWS endpoint.
///
/// ```
/// use tomodachi::options::Options;
/// use serde_json::json;
///
/// let mut options = Options::default();
/// // The legacy `aws.endpoint_url` key sets all three.
/// options.merge_json(&json!({"aws": {"endpoint_url": "http://localhost:4566"}})).unwrap();
/// assert_eq!(options.aws_endpoint_urls.sts.as_deref(), Some("http://localhost:4566"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AwsEndpointUrls {
    /// SNS endpoint URL. Default `None`.
    pub sns: Option<String>,
    /// SQS endpoint URL. Default `None`.
    pub sqs: Option<String>,
    /// STS endpoint URL. Default `None`.
    pub sts: Option<String>,
}

impl AwsEndpointUrls {
    /// The keys of the section, in upstream `asdict()` order.
    pub const KEYS: &'static [&'static str] = &["sns", "sqs", "sts"];

    /// The section's values in `asdict()` order.
    pub(super) fn entries(&self) -> Vec<(&'static str, Value)> {
        let opt = |s: &Option<String>| s.clone().map_or(Value::Null, Value::String);
        vec![
            ("sns", opt(&self.sns)),
            ("sqs", opt(&self.sqs)),
            ("sts", opt(&self.sts)),
        ]
    }

    /// Sets one canonical key of the section (`full` is the dotted key used in errors).
    pub(super) fn set_key(&mut self, key: &str, full: &str, v: &Value) -> Result<(), OptionsError> {
        match key {
            "sns" => self.sns = value::opt_string(full, v)?,
            "sqs" => self.sqs = value::opt_string(full, v)?,
            "sts" => self.sts = value::opt_string(full, v)?,
            _ => return Err(super::unknown_key(full)),
        }
        Ok(())
    }
}
