//! The AWS SDK clients on a [`MemorySnsSqs`]: an in-process HTTP connector that answers the
//! requests of `aws-sdk-sns`, `aws-sdk-sqs` and `aws-sdk-sts` from the in-memory SNS+SQS, so
//! code written against the SDK (the real `aws_sns_sqs` transport included) runs unchanged,
//! with no socket, no emulator and no network.
//!
//! # Plugging it in
//!
//! Give the SDK config the client of [`sdk_http_client`], a region (`us-east-1`, as in every
//! ARN and URL of [`MemorySnsSqs`]) and static credentials (any key and secret: requests are
//! signed by the SDK and never checked). Endpoint URLs are not needed; the connector ignores
//! the host and tells the services apart by the request itself.
//!
//! ```text
//! use tomodachi::testing::aws_wire::sdk_http_client;
//!
//! let broker = MemorySnsSqs::new();
//! // either through the loader the transport uses ...
//! let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
//!     .region(aws_config::Region::new("us-east-1"))
//!     .credentials_provider(aws_sdk_sqs::config::Credentials::new(
//!         "AKIDTESTKIT", "secret", None, None, "tomodachi testing",
//!     ))
//!     .http_client(sdk_http_client(broker.clone()))
//!     .load()
//!     .await;
//! // ... or with the ready-made config
//! let config = tomodachi::testing::aws_wire::sdk_config(broker.clone());
//! let sqs = aws_sdk_sqs::Client::new(&config);
//! ```
//!
//! Set the credentials explicitly: without them the SDK's default chain would ask the
//! instance metadata service through this connector, which answers it with an error.
//!
//! # The wire
//!
//! * **SNS** speaks the AWS Query protocol: a form-encoded `POST` body (`Action=CreateTopic&
//!   Version=2010-03-31&Name=..&Attributes.entry.1.key=..`) answered with XML
//!   (`<CreateTopicResponse><CreateTopicResult>..`); errors are `<ErrorResponse>` documents
//!   with SNS's code (`NotFound` with status 404, `InvalidParameter` with 400, ...), which
//!   the SDK turns into its typed errors (`NotFoundException`, `InvalidParameterException`)
//!   with the message of [`MemorySnsSqs`].
//! * **SQS** speaks AWS JSON 1.0: the action in the `X-Amz-Target: AmazonSQS.<Action>`
//!   header, JSON bodies both ways; errors are `{"__type": "com.amazonaws.sqs#<Shape>",
//!   "message": ..}` with status 400 and the `x-amzn-query-error: <code>;Sender` header,
//!   from which the SDK takes the error code, so the codes are SQS's query codes
//!   (`AWS.SimpleQueueService.NonExistentQueue` comes out as the SDK's `QueueDoesNotExist`
//!   error with that code).
//! * **STS** `GetCallerIdentity` (Query protocol) answers account [`ACCOUNT_ID`].
//!
//! Supported actions:
//!
//! * SNS: `CreateTopic`, `ListTopics` (pages of [`LIST_TOPICS_PAGE_SIZE`] with `NextToken`),
//!   `GetTopicAttributes`, `SetTopicAttributes`, `DeleteTopic`, `Subscribe`,
//!   `GetSubscriptionAttributes`, `SetSubscriptionAttributes`, `Unsubscribe`, `Publish`
//!   (`MessageAttributes`, `Subject`, `MessageGroupId`, `MessageDeduplicationId`,
//!   `MessageStructure=json` with an `sqs` or `default` entry).
//! * SQS: `CreateQueue`, `GetQueueUrl`, `ListQueues`, `GetQueueAttributes`,
//!   `SetQueueAttributes`, `SendMessage`, `ReceiveMessage` (an asynchronous long poll through
//!   [`MemorySnsSqs::receive_message`]; the returned system and message attributes are the
//!   requested ones), `DeleteMessage`, `DeleteMessageBatch`, `ChangeMessageVisibility`,
//!   `PurgeQueue`, `DeleteQueue`.
//! * STS: `GetCallerIdentity`.
//!
//! Anything else fails with an error naming the action: SNS and STS with `InvalidAction`,
//! SQS with `AWS.SimpleQueueService.UnsupportedOperation`.
//!
//! `SendMessage` answers no `SequenceNumber` for FIFO queues (`Publish` does for FIFO
//! topics). Connect and read timeouts of the SDK config do not apply: a long poll lasts as
//! long as its `WaitTimeSeconds`, on tokio's clock (instant under paused time).

use std::collections::BTreeMap;
use std::time::Duration;

use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::filter_policy::{MessageAttribute, MessageAttributes};
use super::sns_sqs::{
    md5_hex, md5_of_message_attributes, Attributes, MemorySnsSqs, Publish, Receive,
    ReceivedMessage, SendMessage, SnsSqsError, ACCOUNT_ID, REGION,
};

/// How many topics one `ListTopics` page holds (as AWS).
pub const LIST_TOPICS_PAGE_SIZE: usize = 100;

const SNS_XMLNS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";
const STS_XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
const STS_VERSION: &str = "2011-06-15";
const SQS_TARGET_PREFIX: &str = "AmazonSQS.";
const SQS_CONTENT_TYPE: &str = "application/x-amz-json-1.0";
const SQS_QUERY_PREFIX: &str = "AWS.SimpleQueueService.";

/// An SDK HTTP client answering every request from `broker`; give it to the SDK config
/// (`.http_client(..)` of `aws_config::ConfigLoader`, `aws_config::SdkConfig::builder()` or a
/// service's `Config::builder()`). See the [module documentation](self).
pub fn sdk_http_client(broker: MemorySnsSqs) -> SharedHttpClient {
    SharedHttpClient::new(MemoryAwsConnector::new(broker))
}

/// An `SdkConfig` for clients on `broker`: region `us-east-1`, static test credentials, the
/// latest behavior version and [`sdk_http_client`]. Build clients with
/// `aws_sdk_sns::Client::new(&config)` or `aws_sdk_sqs::config::Builder::from(&config)`.
pub fn sdk_config(broker: MemorySnsSqs) -> aws_config::SdkConfig {
    let credentials = aws_sdk_sqs::config::Credentials::new(
        "AKIDTOMODACHITESTKIT",
        "tomodachi-testing-secret",
        None,
        None,
        "tomodachi testing",
    );
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_sqs::config::SharedCredentialsProvider::new(
            credentials,
        ))
        .http_client(sdk_http_client(broker))
        .build()
}

/// The in-process connector: an SDK [`HttpClient`] and [`HttpConnector`] whose every request
/// is decoded and answered from a [`MemorySnsSqs`].
#[derive(Debug, Clone)]
pub struct MemoryAwsConnector {
    broker: MemorySnsSqs,
}

impl MemoryAwsConnector {
    /// A connector answering from `broker` (a handle on shared state: tests keep a clone to
    /// inspect it).
    pub fn new(broker: MemorySnsSqs) -> MemoryAwsConnector {
        MemoryAwsConnector { broker }
    }

    /// The in-memory SNS+SQS this connector answers from.
    pub fn broker(&self) -> &MemorySnsSqs {
        &self.broker
    }
}

impl HttpConnector for MemoryAwsConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let broker = self.broker.clone();
        HttpConnectorFuture::new(async move { Ok(answer(&broker, request).await) })
    }
}

impl HttpClient for MemoryAwsConnector {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("tomodachi-memory-sns-sqs", None))
    }
}

/// Decodes one request and answers it.
async fn answer(broker: &MemorySnsSqs, request: HttpRequest) -> HttpResponse {
    let target = request.headers().get("x-amz-target").map(str::to_owned);
    let Some(body) = request.body().bytes().map(<[u8]>::to_vec) else {
        let error = SnsSqsError {
            code: "InvalidRequest",
            message: "The in-memory AWS connector takes only in-memory request bodies.".into(),
        };
        return match target {
            Some(_) => sqs_error(&error),
            None => query_error(SNS_XMLNS, &error),
        };
    };
    match target {
        Some(target) => match target.strip_prefix(SQS_TARGET_PREFIX) {
            Some(action) => match sqs_action(broker, action, &body).await {
                Ok(value) => sqs_response(&value),
                Err(error) => sqs_error(&error),
            },
            None => sqs_error(&SnsSqsError {
                code: "UnknownOperationException",
                message: format!("The in-memory AWS connector does not serve {target}."),
            }),
        },
        None => query_request(broker, &body),
    }
}

// -------------------------------------------------------------------------------------
// AWS Query protocol (SNS, STS)
// -------------------------------------------------------------------------------------

/// The form parameters of a Query request.
struct Params(BTreeMap<String, String>);

impl Params {
    fn parse(body: &[u8]) -> Result<Params, SnsSqsError> {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .map(|pairs| Params(pairs.into_iter().collect()))
            .map_err(|e| SnsSqsError {
                code: "MalformedQueryString",
                message: format!("The request body is not a valid form: {e}"),
            })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn required(&self, name: &str) -> Result<&str, SnsSqsError> {
        self.get(name).ok_or_else(|| missing(name))
    }

    /// A map parameter: `<prefix>.entry.N.<key>` and `<prefix>.entry.N.<value>`, N from 1.
    fn map(&self, prefix: &str, key: &str, value: &str) -> Attributes {
        let mut out = Attributes::new();
        for n in 1.. {
            let Some(k) = self.get(&format!("{prefix}.entry.{n}.{key}")) else {
                break;
            };
            let v = self
                .get(&format!("{prefix}.entry.{n}.{value}"))
                .unwrap_or_default();
            out.insert(k.to_owned(), v.to_owned());
        }
        out
    }

    /// SNS `MessageAttributes`: `MessageAttributes.entry.N.Name` and
    /// `MessageAttributes.entry.N.Value.{DataType,StringValue,BinaryValue}`.
    fn message_attributes(&self) -> Result<MessageAttributes, SnsSqsError> {
        let mut out = MessageAttributes::new();
        for n in 1.. {
            let entry = format!("MessageAttributes.entry.{n}");
            let Some(name) = self.get(&format!("{entry}.Name")) else {
                break;
            };
            let data_type = self
                .get(&format!("{entry}.Value.DataType"))
                .ok_or_else(|| sns_invalid(format!("Invalid parameter: MessageAttributes Reason: The message attribute '{name}' must contain non-empty message attribute type.")))?;
            let value = self
                .get(&format!("{entry}.Value.StringValue"))
                .or_else(|| self.get(&format!("{entry}.Value.BinaryValue")))
                .ok_or_else(|| sns_invalid(format!("Invalid parameter: MessageAttributes Reason: The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{data_type}'.")))?;
            out.insert(
                name.to_owned(),
                MessageAttribute {
                    data_type: data_type.to_owned(),
                    value: value.to_owned(),
                },
            );
        }
        Ok(out)
    }
}

fn missing(name: &str) -> SnsSqsError {
    SnsSqsError {
        code: "MissingParameter",
        message: format!("The request must contain the parameter {name}."),
    }
}

fn sns_invalid(message: impl Into<String>) -> SnsSqsError {
    SnsSqsError {
        code: "InvalidParameter",
        message: message.into(),
    }
}

fn invalid_action(action: &str, service: &str) -> SnsSqsError {
    SnsSqsError {
        code: "InvalidAction",
        message: format!("The action {action} is not supported by the in-memory {service}."),
    }
}

fn query_request(broker: &MemorySnsSqs, body: &[u8]) -> HttpResponse {
    let params = match Params::parse(body) {
        Ok(params) => params,
        Err(error) => return query_error(SNS_XMLNS, &error),
    };
    let Some(action) = params.get("Action") else {
        return query_error(SNS_XMLNS, &missing("Action"));
    };
    let (xmlns, result) = if params.get("Version") == Some(STS_VERSION) {
        (STS_XMLNS, sts_action(action))
    } else {
        (SNS_XMLNS, sns_action(broker, action, &params))
    };
    match result {
        Ok(result) => query_response(xmlns, action, result.as_deref()),
        Err(error) => query_error(xmlns, &error),
    }
}

/// STS: the caller is the account's root.
fn sts_action(action: &str) -> Result<Option<String>, SnsSqsError> {
    match action {
        "GetCallerIdentity" => {
            let mut xml = String::new();
            element(&mut xml, "Arn", &format!("arn:aws:iam::{ACCOUNT_ID}:root"));
            element(&mut xml, "UserId", ACCOUNT_ID);
            element(&mut xml, "Account", ACCOUNT_ID);
            Ok(Some(xml))
        }
        other => Err(invalid_action(other, "STS")),
    }
}

/// One SNS action: the inner XML of its `<Action>Result` element (`None`: no result).
fn sns_action(
    broker: &MemorySnsSqs,
    action: &str,
    p: &Params,
) -> Result<Option<String>, SnsSqsError> {
    let mut xml = String::new();
    match action {
        "CreateTopic" => {
            let arn =
                broker.create_topic(p.required("Name")?, &p.map("Attributes", "key", "value"))?;
            element(&mut xml, "TopicArn", &arn);
        }
        "ListTopics" => {
            let topics = broker.list_topics();
            let start = match p.get("NextToken").filter(|t| !t.is_empty()) {
                None => 0,
                Some(token) => {
                    let after = base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(token)
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .ok_or_else(|| sns_invalid("Invalid parameter: NextToken"))?;
                    topics.partition_point(|arn| *arn <= after)
                }
            };
            let page = topics
                .get(start..)
                .unwrap_or_default()
                .iter()
                .take(LIST_TOPICS_PAGE_SIZE);
            xml.push_str("<Topics>");
            let mut last = None;
            for arn in page {
                xml.push_str("<member>");
                element(&mut xml, "TopicArn", arn);
                xml.push_str("</member>");
                last = Some(arn);
            }
            xml.push_str("</Topics>");
            if let Some(last) = last.filter(|l| topics.last() != Some(*l)) {
                let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last);
                element(&mut xml, "NextToken", &token);
            }
        }
        "GetTopicAttributes" => {
            let attributes = broker.get_topic_attributes(p.required("TopicArn")?)?;
            attributes_xml(&mut xml, &attributes);
        }
        "SetTopicAttributes" => {
            broker.set_topic_attributes(
                p.required("TopicArn")?,
                p.required("AttributeName")?,
                p.get("AttributeValue").unwrap_or_default(),
            )?;
            return Ok(None);
        }
        "DeleteTopic" => {
            broker.delete_topic(p.required("TopicArn")?)?;
            return Ok(None);
        }
        "Subscribe" => {
            // confirmed at once (same account, protocol sqs): the ARN is always returned
            let arn = broker.subscribe(
                p.required("TopicArn")?,
                p.required("Protocol")?,
                p.get("Endpoint").unwrap_or_default(),
                &p.map("Attributes", "key", "value"),
            )?;
            element(&mut xml, "SubscriptionArn", &arn);
        }
        "GetSubscriptionAttributes" => {
            let attributes = broker.get_subscription_attributes(p.required("SubscriptionArn")?)?;
            attributes_xml(&mut xml, &attributes);
        }
        "SetSubscriptionAttributes" => {
            broker.set_subscription_attributes(
                p.required("SubscriptionArn")?,
                p.required("AttributeName")?,
                p.get("AttributeValue").unwrap_or_default(),
            )?;
            return Ok(None);
        }
        "Unsubscribe" => {
            broker.unsubscribe(p.required("SubscriptionArn")?)?;
            return Ok(None);
        }
        "Publish" => {
            let topic_arn = match p.get("TopicArn").or_else(|| p.get("TargetArn")) {
                Some(arn) => arn,
                None if p.get("PhoneNumber").is_some() => {
                    return Err(sns_invalid(
                        "Invalid parameter: PhoneNumber Reason: SMS is not emulated",
                    ))
                }
                None => return Err(sns_invalid("Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter")),
            };
            let message = match p.get("MessageStructure") {
                None => p.required("Message")?.to_owned(),
                Some("json") => structured_message(p.required("Message")?)?,
                Some(other) => {
                    return Err(sns_invalid(format!(
                        "Invalid parameter: MessageStructure Reason: {other} is not a valid value"
                    )))
                }
            };
            let publish = Publish {
                message,
                subject: p.get("Subject").map(str::to_owned),
                message_attributes: p.message_attributes()?,
                group_id: p.get("MessageGroupId").map(str::to_owned),
                deduplication_id: p.get("MessageDeduplicationId").map(str::to_owned),
            };
            let fifo = publish.group_id.is_some();
            let id = broker.publish(topic_arn, publish)?;
            element(&mut xml, "MessageId", &id);
            if fifo {
                let sequence = broker
                    .published(topic_arn)
                    .into_iter()
                    .rev()
                    .find(|m| m.message_id == id)
                    .and_then(|m| m.sequence_number);
                if let Some(sequence) = sequence {
                    element(&mut xml, "SequenceNumber", &sequence);
                }
            }
        }
        other => return Err(invalid_action(other, "SNS")),
    }
    Ok(Some(xml))
}

/// `MessageStructure=json`: the `sqs` entry, else the required `default` entry.
fn structured_message(message: &str) -> Result<String, SnsSqsError> {
    let no_default = || {
        sns_invalid("Invalid parameter: Message Structure - No default entry in JSON message body")
    };
    let Ok(Value::Object(entries)) = serde_json::from_str::<Value>(message) else {
        return Err(sns_invalid(
            "Invalid parameter: Message Structure - JSON message body failed to parse",
        ));
    };
    if !matches!(entries.get("default"), Some(Value::String(_))) {
        return Err(no_default());
    }
    match entries.get("sqs").or_else(|| entries.get("default")) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(no_default()),
    }
}

fn attributes_xml(xml: &mut String, attributes: &Attributes) {
    xml.push_str("<Attributes>");
    for (key, value) in attributes {
        xml.push_str("<entry>");
        element(xml, "key", key);
        element(xml, "value", value);
        xml.push_str("</entry>");
    }
    xml.push_str("</Attributes>");
}

fn query_response(xmlns: &str, action: &str, result: Option<&str>) -> HttpResponse {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut xml = format!("<{action}Response xmlns=\"{xmlns}\">");
    if let Some(result) = result {
        xml.push_str(&format!("<{action}Result>{result}</{action}Result>"));
    }
    xml.push_str("<ResponseMetadata>");
    element(&mut xml, "RequestId", &request_id);
    xml.push_str(&format!("</ResponseMetadata></{action}Response>"));
    response(http::StatusCode::OK, "text/xml", &request_id, xml)
}

fn query_error(xmlns: &str, error: &SnsSqsError) -> HttpResponse {
    let request_id = uuid::Uuid::new_v4().to_string();
    let status = match error.code {
        "NotFound" | "ResourceNotFound" => http::StatusCode::NOT_FOUND,
        "AuthorizationError" => http::StatusCode::FORBIDDEN,
        _ => http::StatusCode::BAD_REQUEST,
    };
    let mut xml = format!("<ErrorResponse xmlns=\"{xmlns}\"><Error>");
    element(&mut xml, "Type", "Sender");
    element(&mut xml, "Code", error.code);
    element(&mut xml, "Message", &error.message);
    xml.push_str("</Error>");
    element(&mut xml, "RequestId", &request_id);
    xml.push_str("</ErrorResponse>");
    response(status, "text/xml", &request_id, xml)
}

/// Appends `<name>value</name>` with the value XML-escaped.
fn element(xml: &mut String, name: &str, value: &str) {
    xml.push('<');
    xml.push_str(name);
    xml.push('>');
    for c in value.chars() {
        match c {
            '&' => xml.push_str("&amp;"),
            '<' => xml.push_str("&lt;"),
            '>' => xml.push_str("&gt;"),
            '"' => xml.push_str("&quot;"),
            '\'' => xml.push_str("&apos;"),
            '\r' => xml.push_str("&#xD;"),
            c => xml.push(c),
        }
    }
    xml.push_str("</");
    xml.push_str(name);
    xml.push('>');
}

// -------------------------------------------------------------------------------------
// AWS JSON 1.0 (SQS)
// -------------------------------------------------------------------------------------

fn sqs_invalid(message: impl Into<String>) -> SnsSqsError {
    SnsSqsError {
        code: "InvalidParameterValue",
        message: message.into(),
    }
}

fn no_queue() -> SnsSqsError {
    SnsSqsError {
        code: "AWS.SimpleQueueService.NonExistentQueue",
        message: "The specified queue does not exist.".into(),
    }
}

/// A required string member.
fn string<'a>(input: &'a Value, name: &str) -> Result<&'a str, SnsSqsError> {
    optional_string(input, name)?.ok_or_else(|| missing(name))
}

fn optional_string<'a>(input: &'a Value, name: &str) -> Result<Option<&'a str>, SnsSqsError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(sqs_invalid(format!(
            "Value {other} for parameter {name} is invalid. Reason: must be a string."
        ))),
    }
}

/// An optional non-negative integer member.
fn optional_u32(input: &Value, name: &str) -> Result<Option<u32>, SnsSqsError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                sqs_invalid(format!(
                    "Value {value} for parameter {name} is invalid. Reason: must be a non-negative integer."
                ))
            }),
    }
}

fn string_list(input: &Value, name: &str) -> Vec<String> {
    input
        .get(name)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn string_map(input: &Value, name: &str) -> Result<Attributes, SnsSqsError> {
    let Some(map) = input.get(name).and_then(Value::as_object) else {
        return Ok(Attributes::new());
    };
    map.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            other => Err(sqs_invalid(format!(
                "Value {other} for parameter {name}.{k} is invalid. Reason: must be a string."
            ))),
        })
        .collect()
}

/// SQS `MessageAttributes`: `{"name": {"DataType": .., "StringValue" | "BinaryValue": ..}}`
/// (a binary value stays in its base64 text, as [`MessageAttribute`] holds it).
fn sqs_message_attributes(input: &Value) -> Result<MessageAttributes, SnsSqsError> {
    let Some(map) = input.get("MessageAttributes").and_then(Value::as_object) else {
        return Ok(MessageAttributes::new());
    };
    let mut out = MessageAttributes::new();
    for (name, value) in map {
        let data_type = optional_string(value, "DataType")?.ok_or_else(|| {
            sqs_invalid(format!(
                "The message attribute '{name}' must contain non-empty message attribute type."
            ))
        })?;
        let text = match optional_string(value, "StringValue")? {
            Some(s) => s,
            None => optional_string(value, "BinaryValue")?.ok_or_else(|| {
                sqs_invalid(format!("The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{data_type}'."))
            })?,
        };
        out.insert(
            name.clone(),
            MessageAttribute {
                data_type: data_type.to_owned(),
                value: text.to_owned(),
            },
        );
    }
    Ok(out)
}

fn message_attribute_json(attribute: &MessageAttribute) -> Value {
    if attribute.data_type.starts_with("Binary") {
        json!({"DataType": attribute.data_type, "BinaryValue": attribute.value})
    } else {
        json!({"DataType": attribute.data_type, "StringValue": attribute.value})
    }
}

/// Whether `name` is selected by `ReceiveMessage`'s `MessageAttributeNames` (`All`, `.*`,
/// a `prefix.*` or the name itself).
fn attribute_requested(requested: &[String], name: &str) -> bool {
    requested.iter().any(|r| {
        r == "All"
            || r == ".*"
            || r == name
            || r.strip_suffix(".*").is_some_and(|prefix| {
                name.strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('.'))
            })
    })
}

fn received_json(
    message: ReceivedMessage,
    system_names: &[String],
    attribute_names: &[String],
) -> Value {
    let mut out = Map::new();
    out.insert("MessageId".into(), message.message_id.into());
    out.insert("ReceiptHandle".into(), message.receipt_handle.into());
    out.insert("MD5OfBody".into(), message.md5_of_body.into());
    out.insert("Body".into(), message.body.into());
    let all_system = system_names.iter().any(|n| n == "All");
    let system: Map<String, Value> = message
        .attributes
        .into_iter()
        .filter(|(k, _)| all_system || system_names.contains(k))
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    if !system.is_empty() {
        out.insert("Attributes".into(), Value::Object(system));
    }
    let selected: MessageAttributes = message
        .message_attributes
        .into_iter()
        .filter(|(k, _)| attribute_requested(attribute_names, k))
        .collect();
    if let Some(md5) = md5_of_message_attributes(&selected) {
        out.insert("MD5OfMessageAttributes".into(), md5.into());
        let attributes: Map<String, Value> = selected
            .iter()
            .map(|(k, v)| (k.clone(), message_attribute_json(v)))
            .collect();
        out.insert("MessageAttributes".into(), Value::Object(attributes));
    }
    Value::Object(out)
}

/// One SQS action: its JSON output.
async fn sqs_action(
    broker: &MemorySnsSqs,
    action: &str,
    body: &[u8],
) -> Result<Value, SnsSqsError> {
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| SnsSqsError {
            code: "SerializationException",
            message: format!("The request body is not valid JSON: {e}"),
        })?
    };
    let out = match action {
        "CreateQueue" => {
            let url = broker.create_queue(
                string(&input, "QueueName")?,
                &string_map(&input, "Attributes")?,
            )?;
            json!({ "QueueUrl": url })
        }
        "GetQueueUrl" => {
            let name = string(&input, "QueueName")?;
            let owner = optional_string(&input, "QueueOwnerAWSAccountId")?;
            if owner.is_some_and(|o| o != ACCOUNT_ID) {
                return Err(no_queue());
            }
            json!({ "QueueUrl": broker.get_queue_url(name)? })
        }
        "ListQueues" => {
            let prefix = optional_string(&input, "QueueNamePrefix")?.unwrap_or_default();
            let urls: Vec<String> = broker
                .list_queues()
                .into_iter()
                .filter(|url| {
                    url.rsplit('/')
                        .next()
                        .is_some_and(|name| name.starts_with(prefix))
                })
                .collect();
            if urls.is_empty() {
                json!({})
            } else {
                json!({ "QueueUrls": urls })
            }
        }
        "GetQueueAttributes" => {
            let names = string_list(&input, "AttributeNames");
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let attributes = broker.get_queue_attributes(string(&input, "QueueUrl")?, &names)?;
            if attributes.is_empty() {
                json!({})
            } else {
                json!({ "Attributes": attributes })
            }
        }
        "SetQueueAttributes" => {
            broker.set_queue_attributes(
                string(&input, "QueueUrl")?,
                &string_map(&input, "Attributes")?,
            )?;
            json!({})
        }
        "SendMessage" => {
            let message = SendMessage {
                body: string(&input, "MessageBody")?.to_owned(),
                message_attributes: sqs_message_attributes(&input)?,
                delay_seconds: optional_u32(&input, "DelaySeconds")?,
                group_id: optional_string(&input, "MessageGroupId")?.map(str::to_owned),
                deduplication_id: optional_string(&input, "MessageDeduplicationId")?
                    .map(str::to_owned),
            };
            let md5_body = md5_hex(message.body.as_bytes());
            let md5_attributes = md5_of_message_attributes(&message.message_attributes);
            let id = broker.send_message(string(&input, "QueueUrl")?, message)?;
            let mut out = json!({ "MessageId": id, "MD5OfMessageBody": md5_body });
            if let (Some(md5), Value::Object(map)) = (md5_attributes, &mut out) {
                map.insert("MD5OfMessageAttributes".into(), md5.into());
            }
            out
        }
        "ReceiveMessage" => {
            let queue_url = string(&input, "QueueUrl")?;
            let receive = Receive {
                max_messages: optional_u32(&input, "MaxNumberOfMessages")?.unwrap_or(1),
                wait_time: optional_u32(&input, "WaitTimeSeconds")?
                    .map(|s| Duration::from_secs(u64::from(s))),
                visibility_timeout: optional_u32(&input, "VisibilityTimeout")?,
            };
            let mut system_names = string_list(&input, "AttributeNames");
            system_names.extend(string_list(&input, "MessageSystemAttributeNames"));
            let attribute_names = string_list(&input, "MessageAttributeNames");
            let messages = broker.receive_message(queue_url, receive).await?;
            let messages: Vec<Value> = messages
                .into_iter()
                .map(|m| received_json(m, &system_names, &attribute_names))
                .collect();
            if messages.is_empty() {
                json!({})
            } else {
                json!({ "Messages": messages })
            }
        }
        "DeleteMessage" => {
            broker.delete_message(
                string(&input, "QueueUrl")?,
                string(&input, "ReceiptHandle")?,
            )?;
            json!({})
        }
        "DeleteMessageBatch" => {
            let queue_url = string(&input, "QueueUrl")?;
            let entries = input
                .get("Entries")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let entries = entries
                .iter()
                .map(|e| Ok((string(e, "Id")?, string(e, "ReceiptHandle")?)))
                .collect::<Result<Vec<(&str, &str)>, SnsSqsError>>()?;
            let result = broker.delete_message_batch(queue_url, &entries)?;
            let successful: Vec<Value> = result
                .successful
                .iter()
                .map(|id| json!({ "Id": id }))
                .collect();
            let failed: Vec<Value> = result
                .failed
                .iter()
                .map(|(id, e)| {
                    json!({ "Id": id, "SenderFault": true, "Code": e.code, "Message": e.message })
                })
                .collect();
            json!({ "Successful": successful, "Failed": failed })
        }
        "ChangeMessageVisibility" => {
            let timeout = optional_u32(&input, "VisibilityTimeout")?
                .ok_or_else(|| missing("VisibilityTimeout"))?;
            broker.change_message_visibility(
                string(&input, "QueueUrl")?,
                string(&input, "ReceiptHandle")?,
                timeout,
            )?;
            json!({})
        }
        "PurgeQueue" => {
            broker.purge_queue(string(&input, "QueueUrl")?)?;
            json!({})
        }
        "DeleteQueue" => {
            broker.delete_queue(string(&input, "QueueUrl")?)?;
            json!({})
        }
        other => {
            return Err(SnsSqsError {
                code: "AWS.SimpleQueueService.UnsupportedOperation",
                message: format!("The action {other} is not supported by the in-memory SQS."),
            })
        }
    };
    Ok(out)
}

fn sqs_response(value: &Value) -> HttpResponse {
    let request_id = uuid::Uuid::new_v4().to_string();
    response(
        http::StatusCode::OK,
        SQS_CONTENT_TYPE,
        &request_id,
        value.to_string(),
    )
}

/// The JSON error shape of an SQS query error code.
fn sqs_error_shape(code: &str) -> &str {
    match code {
        "AWS.SimpleQueueService.NonExistentQueue" => "QueueDoesNotExist",
        "QueueAlreadyExists" => "QueueNameExists",
        "AWS.SimpleQueueService.QueueDeletedRecently" => "QueueDeletedRecently",
        other => other.strip_prefix(SQS_QUERY_PREFIX).unwrap_or(other),
    }
}

fn sqs_error(error: &SnsSqsError) -> HttpResponse {
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "__type": format!("com.amazonaws.sqs#{}", sqs_error_shape(error.code)),
        "message": error.message,
    });
    let mut response = response(
        http::StatusCode::BAD_REQUEST,
        SQS_CONTENT_TYPE,
        &request_id,
        body.to_string(),
    );
    response
        .headers_mut()
        .insert("x-amzn-query-error", format!("{};Sender", error.code));
    response
}

fn response(
    status: http::StatusCode,
    content_type: &'static str,
    request_id: &str,
    body: String,
) -> HttpResponse {
    let length = body.len().to_string();
    let mut response = HttpResponse::new(status.into(), body.into());
    let headers = response.headers_mut();
    headers.insert("content-type", content_type);
    headers.insert("content-length", length);
    headers.insert("x-amzn-requestid", request_id.to_owned());
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::types::{
        DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
    };

    struct Clients {
        broker: MemorySnsSqs,
        sns: aws_sdk_sns::Client,
        sqs: aws_sdk_sqs::Client,
        sts: aws_sdk_sts::Client,
    }

    fn clients() -> Clients {
        let broker = MemorySnsSqs::new();
        let config = sdk_config(broker.clone());
        Clients {
            sns: aws_sdk_sns::Client::new(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            broker,
        }
    }

    fn sns_attribute(data_type: &str, value: &str) -> aws_sdk_sns::types::MessageAttributeValue {
        let builder = aws_sdk_sns::types::MessageAttributeValue::builder().data_type(data_type);
        let builder = if data_type == "Binary" {
            builder.binary_value(aws_sdk_sns::primitives::Blob::new(value.as_bytes()))
        } else {
            builder.string_value(value)
        };
        builder.build().expect("attribute")
    }

    async fn queue_arn(c: &Clients, url: &str) -> String {
        c.sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("GetQueueAttributes")
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .expect("QueueArn")
    }

    #[tokio::test]
    async fn topic_queue_subscribe_publish_receive_delete() {
        let c = clients();
        let topic = c
            .sns
            .create_topic()
            .name("orders")
            .send()
            .await
            .expect("CreateTopic")
            .topic_arn()
            .map(str::to_owned)
            .expect("arn");
        assert_eq!(topic, "arn:aws:sns:us-east-1:123456789012:orders");
        let raw_url = c
            .sqs
            .create_queue()
            .queue_name("raw")
            .send()
            .await
            .expect("CreateQueue")
            .queue_url()
            .map(str::to_owned)
            .expect("url");
        let wrapped_url = c
            .sqs
            .create_queue()
            .queue_name("wrapped")
            .attributes(QueueAttributeName::VisibilityTimeout, "45")
            .send()
            .await
            .expect("CreateQueue")
            .queue_url()
            .map(str::to_owned)
            .expect("url");
        let raw_arn = queue_arn(&c, &raw_url).await;
        let wrapped_arn = queue_arn(&c, &wrapped_url).await;
        assert_eq!(raw_arn, "arn:aws:sqs:us-east-1:123456789012:raw");

        let raw_sub = c
            .sns
            .subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(&raw_arn)
            .attributes("RawMessageDelivery", "true")
            .attributes("FilterPolicy", r#"{"event": ["created"]}"#)
            .return_subscription_arn(true)
            .send()
            .await
            .expect("Subscribe")
            .subscription_arn()
            .map(str::to_owned)
            .expect("subscription arn");
        assert!(raw_sub.starts_with(&format!("{topic}:")));
        c.sns
            .subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(&wrapped_arn)
            .send()
            .await
            .expect("Subscribe");
        let attributes = c
            .sns
            .get_subscription_attributes()
            .subscription_arn(&raw_sub)
            .send()
            .await
            .expect("GetSubscriptionAttributes");
        let attributes = attributes.attributes().expect("attributes");
        assert_eq!(attributes["RawMessageDelivery"], "true");
        assert_eq!(attributes["FilterPolicy"], r#"{"event": ["created"]}"#);
        c.sns
            .set_subscription_attributes()
            .subscription_arn(&raw_sub)
            .attribute_name("FilterPolicyScope")
            .attribute_value("MessageAttributes")
            .send()
            .await
            .expect("SetSubscriptionAttributes");

        // values that need XML and JSON escaping both ways
        let body = "{\"id\": 1, \"text\": \"<&>'\\\"\\r\\n\u{e5}\"}";
        let published = c
            .sns
            .publish()
            .topic_arn(&topic)
            .message(body)
            .message_attributes("event", sns_attribute("String", "created"))
            .message_attributes("amount", sns_attribute("Number", "1338"))
            .message_attributes("blob", sns_attribute("Binary", "xy<&>"))
            .send()
            .await
            .expect("Publish");
        let message_id = published.message_id().expect("id").to_owned();
        assert!(published.sequence_number().is_none());
        c.sns
            .publish()
            .topic_arn(&topic)
            .message("filtered out")
            .message_attributes("event", sns_attribute("String", "deleted"))
            .send()
            .await
            .expect("Publish");
        assert_eq!(c.broker.published(&topic)[0].message, body);

        // raw: the message is the body, the attributes are SQS message attributes
        let out = c
            .sqs
            .receive_message()
            .queue_url(&raw_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .expect("ReceiveMessage");
        let messages = out.messages();
        assert_eq!(messages.len(), 1);
        let m = &messages[0];
        assert_eq!(m.body(), Some(body));
        assert_eq!(m.md5_of_body(), Some(md5_hex(body.as_bytes()).as_str()));
        let attributes = m.message_attributes().expect("message attributes");
        assert_eq!(attributes["event"].string_value(), Some("created"));
        assert_eq!(attributes["amount"].data_type(), "Number");
        assert_eq!(attributes["amount"].string_value(), Some("1338"));
        assert_eq!(
            attributes["blob"].binary_value().map(|b| b.as_ref()),
            Some(&b"xy<&>"[..])
        );
        assert!(m.md5_of_message_attributes().is_some());
        let system = m.attributes().expect("system attributes");
        assert_eq!(
            system.get(&MessageSystemAttributeName::ApproximateReceiveCount),
            Some(&"1".to_owned())
        );
        assert_eq!(system.len(), 1, "only the requested system attributes");
        c.sqs
            .delete_message()
            .queue_url(&raw_url)
            .receipt_handle(m.receipt_handle().expect("handle"))
            .send()
            .await
            .expect("DeleteMessage");

        // non-raw: both messages, as SNS notifications, no SQS message attributes
        let out = c
            .sqs
            .receive_message()
            .queue_url(&wrapped_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .send()
            .await
            .expect("ReceiveMessage");
        let messages = out.messages();
        assert_eq!(messages.len(), 2);
        let notification: Value =
            serde_json::from_str(messages[0].body().expect("body")).expect("notification");
        assert_eq!(notification["Type"], "Notification");
        assert_eq!(notification["MessageId"], message_id.as_str());
        assert_eq!(notification["TopicArn"], topic.as_str());
        assert_eq!(notification["Message"], body);
        assert_eq!(notification["MessageAttributes"]["amount"]["Value"], "1338");
        assert!(messages[0].message_attributes().is_none());
        assert!(messages[0].attributes().is_none(), "none requested");
        for m in messages {
            c.sqs
                .delete_message()
                .queue_url(&wrapped_url)
                .receipt_handle(m.receipt_handle().expect("handle"))
                .send()
                .await
                .expect("DeleteMessage");
        }
        assert_eq!(c.broker.queue_depth(&raw_url).expect("depth").total(), 0);
        assert_eq!(
            c.broker.queue_depth(&wrapped_url).expect("depth").total(),
            0
        );

        // what the transport reads back from queues and topics
        let out = c
            .sqs
            .get_queue_attributes()
            .queue_url(&wrapped_url)
            .attribute_names(QueueAttributeName::Policy)
            .attribute_names(QueueAttributeName::VisibilityTimeout)
            .attribute_names(QueueAttributeName::KmsMasterKeyId)
            .send()
            .await
            .expect("GetQueueAttributes");
        let attributes = out.attributes().expect("attributes");
        assert_eq!(attributes[&QueueAttributeName::VisibilityTimeout], "45");
        assert!(!attributes.contains_key(&QueueAttributeName::Policy));
        let policy = r#"{"Version": "2012-10-17", "Statement": [{"Sid": "a&b"}]}"#;
        c.sqs
            .set_queue_attributes()
            .queue_url(&wrapped_url)
            .attributes(QueueAttributeName::Policy, policy)
            .attributes(QueueAttributeName::VisibilityTimeout, "60")
            .send()
            .await
            .expect("SetQueueAttributes");
        let attributes = c
            .broker
            .get_queue_attributes(&wrapped_url, &["Policy", "VisibilityTimeout"])
            .expect("attributes");
        assert_eq!(attributes["Policy"], policy);
        assert_eq!(attributes["VisibilityTimeout"], "60");
        c.sns
            .set_topic_attributes()
            .topic_arn(&topic)
            .attribute_name("DisplayName")
            .attribute_value("<Orders & co>")
            .send()
            .await
            .expect("SetTopicAttributes");
        let out = c
            .sns
            .get_topic_attributes()
            .topic_arn(&topic)
            .send()
            .await
            .expect("GetTopicAttributes");
        let attributes = out.attributes().expect("attributes");
        assert_eq!(attributes["DisplayName"], "<Orders & co>");
        assert_eq!(attributes["TopicArn"], topic);
        assert_eq!(attributes["SubscriptionsConfirmed"], "2");

        // the existing topic with other attributes: the text the transport looks for
        let error = c
            .sns
            .create_topic()
            .name("orders")
            .attributes("DisplayName", "other")
            .send()
            .await
            .expect_err("different attributes");
        let error = error.into_service_error();
        assert!(error.is_invalid_parameter_exception(), "{error:?}");
        assert!(aws_sdk_sns::error::ProvideErrorMetadata::message(&error)
            .expect("message")
            .contains("already exists with different attributes"));
    }

    #[tokio::test]
    async fn fifo_topic_and_queue() {
        let c = clients();
        let topic = c
            .sns
            .create_topic()
            .name("orders.fifo")
            .attributes("FifoTopic", "true")
            .attributes("ContentBasedDeduplication", "false")
            .send()
            .await
            .expect("CreateTopic")
            .topic_arn()
            .map(str::to_owned)
            .expect("arn");
        let url = c
            .sqs
            .create_queue()
            .queue_name("billing.fifo")
            .attributes(QueueAttributeName::FifoQueue, "true")
            .attributes(QueueAttributeName::ContentBasedDeduplication, "false")
            .attributes(QueueAttributeName::DeduplicationScope, "messageGroup")
            .attributes(QueueAttributeName::FifoThroughputLimit, "perMessageGroupId")
            .send()
            .await
            .expect("CreateQueue")
            .queue_url()
            .map(str::to_owned)
            .expect("url");
        assert!(url.ends_with("/123456789012/billing.fifo"));
        let arn = queue_arn(&c, &url).await;
        c.sns
            .subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(&arn)
            .send()
            .await
            .expect("Subscribe");

        let first = c
            .sns
            .publish()
            .topic_arn(&topic)
            .message("one")
            .message_group_id("g")
            .message_deduplication_id("d1")
            .send()
            .await
            .expect("Publish");
        assert!(first.sequence_number().is_some());
        let again = c
            .sns
            .publish()
            .topic_arn(&topic)
            .message("one")
            .message_group_id("g")
            .message_deduplication_id("d1")
            .send()
            .await
            .expect("Publish");
        assert_eq!(again.message_id(), first.message_id(), "deduplicated");
        // without a group id: SNS's error text through the SDK
        let error = c
            .sns
            .publish()
            .topic_arn(&topic)
            .message("x")
            .message_deduplication_id("d2")
            .send()
            .await
            .expect_err("no group id")
            .into_service_error();
        assert!(error.is_invalid_parameter_exception(), "{error:?}");
        c.sqs
            .send_message()
            .queue_url(&url)
            .message_body("two")
            .message_group_id("g")
            .message_deduplication_id("s1")
            .send()
            .await
            .expect("SendMessage");

        let receive = || {
            c.sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(1)
                .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
                .message_system_attribute_names(MessageSystemAttributeName::MessageDeduplicationId)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .send()
        };
        let out = receive().await.expect("ReceiveMessage");
        let m = &out.messages()[0];
        let notification: Value = serde_json::from_str(m.body().expect("body")).expect("json");
        assert_eq!(notification["Message"], "one");
        let system = m.attributes().expect("attributes");
        assert_eq!(system[&MessageSystemAttributeName::MessageGroupId], "g");
        assert_eq!(
            system[&MessageSystemAttributeName::MessageDeduplicationId],
            "d1"
        );
        // the group is blocked while its message is in flight
        assert!(receive()
            .await
            .expect("ReceiveMessage")
            .messages()
            .is_empty());
        c.sqs
            .delete_message()
            .queue_url(&url)
            .receipt_handle(m.receipt_handle().expect("handle"))
            .send()
            .await
            .expect("DeleteMessage");
        let out = receive().await.expect("ReceiveMessage");
        assert_eq!(out.messages()[0].body(), Some("two"));

        // FIFO queue without a group id: SQS's error code through the SDK
        let error = c
            .sqs
            .send_message()
            .queue_url(&url)
            .message_body("x")
            .send()
            .await
            .expect_err("no group id");
        assert_eq!(
            aws_sdk_sqs::error::ProvideErrorMetadata::code(&error),
            Some("MissingParameter")
        );
    }

    #[tokio::test]
    async fn a_rejected_filter_policy_is_the_sdk_error_with_the_sns_message() {
        let c = clients();
        let topic = c
            .broker
            .create_topic("t", &Attributes::new())
            .expect("topic");
        let url = c
            .broker
            .create_queue("q", &Attributes::new())
            .expect("queue");
        let arn = c.broker.queue_arn(&url).expect("arn");
        let policy = r#"{"amount": [{"numeric": [">", "x"]}]}"#;
        let expected = c
            .broker
            .subscribe(
                &topic,
                "sqs",
                &arn,
                &[("FilterPolicy".to_owned(), policy.to_owned())].into(),
            )
            .expect_err("invalid policy");
        let error = c
            .sns
            .subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(&arn)
            .attributes("FilterPolicy", policy)
            .send()
            .await
            .expect_err("invalid policy");
        let error = error.into_service_error();
        assert!(error.is_invalid_parameter_exception(), "{error:?}");
        let meta = aws_sdk_sns::error::ProvideErrorMetadata::meta(&error);
        assert_eq!(meta.code(), Some(expected.code));
        assert_eq!(meta.message(), Some(expected.message.as_str()));
        assert!(c.broker.subscriptions(&topic).expect("subs").is_empty());
    }

    #[tokio::test]
    async fn missing_queues_and_topics_are_the_sdk_errors_the_transport_matches() {
        let c = clients();
        let error = c
            .sqs
            .get_queue_url()
            .queue_name("missing")
            .send()
            .await
            .expect_err("missing queue");
        assert_eq!(
            aws_sdk_sqs::error::ProvideErrorMetadata::code(&error),
            Some("AWS.SimpleQueueService.NonExistentQueue")
        );
        let error = error.into_service_error();
        assert!(error.is_queue_does_not_exist(), "{error:?}");
        assert_eq!(
            aws_sdk_sqs::error::ProvideErrorMetadata::message(&error),
            Some("The specified queue does not exist.")
        );

        let url = c
            .broker
            .create_queue("q", &Attributes::new())
            .expect("queue");
        let error = c
            .sqs
            .get_queue_url()
            .queue_name("q")
            .queue_owner_aws_account_id("999999999999")
            .send()
            .await
            .expect_err("other account");
        assert!(error.into_service_error().is_queue_does_not_exist());
        c.broker.delete_queue(&url).expect("delete");
        let error = c
            .sqs
            .receive_message()
            .queue_url(&url)
            .send()
            .await
            .expect_err("deleted queue")
            .into_service_error();
        assert!(error.is_queue_does_not_exist(), "{error:?}");

        let error = c
            .sns
            .get_topic_attributes()
            .topic_arn("arn:aws:sns:us-east-1:123456789012:nope")
            .send()
            .await
            .expect_err("missing topic");
        let raw = error.raw_response().map(|r| r.status().as_u16());
        assert_eq!(raw, Some(404));
        let error = error.into_service_error();
        assert!(error.is_not_found_exception(), "{error:?}");
        assert_eq!(
            aws_sdk_sns::error::ProvideErrorMetadata::code(&error),
            Some("NotFound")
        );
        let error = c
            .sns
            .publish()
            .topic_arn("arn:aws:sns:us-east-1:123456789012:nope")
            .message("x")
            .send()
            .await
            .expect_err("missing topic")
            .into_service_error();
        assert!(error.is_not_found_exception(), "{error:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_poll_wakes_on_a_send() {
        let c = clients();
        let url = c
            .broker
            .create_queue("q", &Attributes::new())
            .expect("queue");
        let started = tokio::time::Instant::now();
        let poll = tokio::spawn(
            c.sqs
                .receive_message()
                .queue_url(&url)
                .wait_time_seconds(20)
                .max_number_of_messages(10)
                .send(),
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(!poll.is_finished());
        c.sqs
            .send_message()
            .queue_url(&url)
            .message_body("hello")
            .send()
            .await
            .expect("SendMessage");
        let out = poll.await.expect("join").expect("ReceiveMessage");
        assert_eq!(out.messages().len(), 1);
        assert_eq!(out.messages()[0].body(), Some("hello"));
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(3) && waited < Duration::from_secs(4),
            "{waited:?}"
        );

        // nothing comes: empty after the full wait
        let started = tokio::time::Instant::now();
        let out = c
            .sqs
            .receive_message()
            .queue_url(&url)
            .wait_time_seconds(20)
            .send()
            .await
            .expect("ReceiveMessage");
        assert!(out.messages().is_empty());
        assert!(started.elapsed() >= Duration::from_secs(20));
    }

    #[tokio::test]
    async fn list_topics_pages() {
        let c = clients();
        for n in 0..(2 * LIST_TOPICS_PAGE_SIZE + 50) {
            c.broker
                .create_topic(&format!("topic-{n:04}"), &Attributes::new())
                .expect("topic");
        }
        let mut all = Vec::new();
        let mut pages = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let out = c
                .sns
                .list_topics()
                .set_next_token(next.take())
                .send()
                .await
                .expect("ListTopics");
            pages.push(out.topics().len());
            all.extend(
                out.topics()
                    .iter()
                    .filter_map(|t| t.topic_arn())
                    .map(str::to_owned),
            );
            match out.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => break,
            }
        }
        assert_eq!(pages, [100, 100, 50]);
        assert_eq!(all, c.broker.list_topics());

        let error = c
            .sns
            .list_topics()
            .next_token("!!not a token")
            .send()
            .await
            .expect_err("bad token")
            .into_service_error();
        assert!(error.is_invalid_parameter_exception(), "{error:?}");
    }

    #[tokio::test]
    async fn delete_message_batch() {
        let c = clients();
        let url = c
            .broker
            .create_queue("q", &Attributes::new())
            .expect("queue");
        for n in 0..3 {
            c.sqs
                .send_message()
                .queue_url(&url)
                .message_body(format!("m{n}"))
                .send()
                .await
                .expect("SendMessage");
        }
        let out = c
            .sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("ReceiveMessage");
        assert_eq!(out.messages().len(), 3);
        let mut entries: Vec<DeleteMessageBatchRequestEntry> = out
            .messages()
            .iter()
            .take(2)
            .enumerate()
            .map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle().expect("handle"))
                    .build()
                    .expect("entry")
            })
            .collect();
        entries.push(
            DeleteMessageBatchRequestEntry::builder()
                .id("bogus")
                .receipt_handle("not-a-handle")
                .build()
                .expect("entry"),
        );
        let out = c
            .sqs
            .delete_message_batch()
            .queue_url(&url)
            .set_entries(Some(entries))
            .send()
            .await
            .expect("DeleteMessageBatch");
        let mut ok: Vec<&str> = out.successful().iter().map(|s| s.id()).collect();
        ok.sort_unstable();
        assert_eq!(ok, ["0", "1"]);
        assert_eq!(out.failed().len(), 1);
        assert_eq!(out.failed()[0].id(), "bogus");
        assert_eq!(out.failed()[0].code(), "ReceiptHandleIsInvalid");
        assert!(out.failed()[0].sender_fault());
        let depth = c.broker.queue_depth(&url).expect("depth");
        assert_eq!(depth.total(), 1);

        let error = c
            .sqs
            .delete_message_batch()
            .queue_url(&url)
            .set_entries(Some(Vec::new()))
            .send()
            .await
            .expect_err("empty batch")
            .into_service_error();
        assert!(error.is_empty_batch_request(), "{error:?}");
    }

    #[tokio::test]
    async fn sts_caller_identity_and_unsupported_actions() {
        let c = clients();
        let identity = c
            .sts
            .get_caller_identity()
            .send()
            .await
            .expect("GetCallerIdentity");
        assert_eq!(identity.account(), Some(ACCOUNT_ID));

        let error = c
            .sns
            .list_subscriptions()
            .send()
            .await
            .expect_err("unsupported");
        assert_eq!(
            aws_sdk_sns::error::ProvideErrorMetadata::code(&error),
            Some("InvalidAction")
        );
        assert!(aws_sdk_sns::error::ProvideErrorMetadata::message(&error)
            .expect("message")
            .contains("ListSubscriptions"));
        let error = c
            .sqs
            .list_queue_tags()
            .queue_url("https://sqs.us-east-1.amazonaws.com/123456789012/q")
            .send()
            .await
            .expect_err("unsupported")
            .into_service_error();
        assert!(error.is_unsupported_operation(), "{error:?}");
        assert!(aws_sdk_sqs::error::ProvideErrorMetadata::message(&error)
            .expect("message")
            .contains("ListQueueTags"));
    }

    #[tokio::test]
    async fn change_visibility_purge_and_list_queues() {
        let c = clients();
        let url = c
            .broker
            .create_queue("q", &Attributes::new())
            .expect("queue");
        c.broker
            .create_queue("other", &Attributes::new())
            .expect("queue");
        let out = c
            .sqs
            .list_queues()
            .queue_name_prefix("q")
            .send()
            .await
            .expect("ListQueues");
        assert_eq!(out.queue_urls(), std::slice::from_ref(&url));
        c.sqs
            .send_message()
            .queue_url(&url)
            .message_body("x")
            .delay_seconds(0)
            .send()
            .await
            .expect("SendMessage");
        let out = c
            .sqs
            .receive_message()
            .queue_url(&url)
            .visibility_timeout(600)
            .send()
            .await
            .expect("ReceiveMessage");
        let handle = out.messages()[0]
            .receipt_handle()
            .expect("handle")
            .to_owned();
        c.sqs
            .change_message_visibility()
            .queue_url(&url)
            .receipt_handle(&handle)
            .visibility_timeout(0)
            .send()
            .await
            .expect("ChangeMessageVisibility");
        let out = c
            .sqs
            .receive_message()
            .queue_url(&url)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("ReceiveMessage");
        let system = out.messages()[0].attributes().expect("attributes");
        assert_eq!(
            system[&MessageSystemAttributeName::ApproximateReceiveCount],
            "2"
        );
        assert!(system.contains_key(&MessageSystemAttributeName::SentTimestamp));
        c.sqs
            .purge_queue()
            .queue_url(&url)
            .send()
            .await
            .expect("PurgeQueue");
        assert_eq!(c.broker.queue_depth(&url).expect("depth").total(), 0);
        c.sqs
            .delete_queue()
            .queue_url(&url)
            .send()
            .await
            .expect("DeleteQueue");
        assert!(c.broker.get_queue_url("q").is_err());
    }

    /// The transport's own way of building its clients (`aws_config::defaults` with timeouts,
    /// standard retries, region and credentials) with the connector plugged in.
    #[tokio::test(start_paused = true)]
    async fn the_config_loader_of_the_transport() {
        let broker = MemorySnsSqs::new();
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(8))
                    .read_timeout(Duration::from_secs(35))
                    .build(),
            )
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
            .region(aws_config::Region::new(REGION))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "key",
                "secret",
                None,
                None,
                "tomodachi options",
            ))
            .http_client(sdk_http_client(broker.clone()))
            .load()
            .await;
        let sqs =
            aws_sdk_sqs::Client::from_conf(aws_sdk_sqs::config::Builder::from(&config).build());
        let sns = aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(&config)
                .endpoint_url("http://localhost:4566")
                .build(),
        );
        let sts =
            aws_sdk_sts::Client::from_conf(aws_sdk_sts::config::Builder::from(&config).build());
        let account = sts.get_caller_identity().send().await.expect("identity");
        let topic = format!(
            "arn:aws:sns:{REGION}:{}:t",
            account.account().expect("account")
        );
        let error = sns
            .get_topic_attributes()
            .topic_arn(&topic)
            .send()
            .await
            .expect_err("not created yet");
        assert_eq!(
            aws_sdk_sns::error::ProvideErrorMetadata::code(&error),
            Some("NotFound")
        );
        let created = sns.create_topic().name("t").send().await.expect("topic");
        assert_eq!(created.topic_arn(), Some(topic.as_str()));
        let url = sqs
            .create_queue()
            .queue_name("q")
            .send()
            .await
            .expect("queue")
            .queue_url()
            .map(str::to_owned)
            .expect("url");
        // the consumer's receive: a 20 s long poll, empty when nothing comes
        let out = sqs
            .receive_message()
            .queue_url(&url)
            .wait_time_seconds(20)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_attribute_names("All")
            .send()
            .await
            .expect("ReceiveMessage");
        assert!(out.messages().is_empty());
        assert!(broker.get_queue_url("q").is_ok());
    }

    #[test]
    fn xml_values_are_escaped() {
        let mut xml = String::new();
        element(&mut xml, "v", "a<b>&\"c'\r\n");
        assert_eq!(xml, "<v>a&lt;b&gt;&amp;&quot;c&apos;&#xD;\n</v>");
    }

    #[test]
    fn message_attribute_name_selection() {
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(attribute_requested(&names(&["All"]), "x"));
        assert!(attribute_requested(&names(&[".*"]), "x"));
        assert!(attribute_requested(&names(&["a.*"]), "a.b"));
        assert!(!attribute_requested(&names(&["a.*"]), "ab"));
        assert!(attribute_requested(&names(&["x"]), "x"));
        assert!(!attribute_requested(&names(&[]), "x"));
    }
}
