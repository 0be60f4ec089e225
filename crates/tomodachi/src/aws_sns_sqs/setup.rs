//! Topics, queues, policies and subscriptions: upstream's setup sequence,
//! and the lookups publishing shares with it (topic ARNs, queue URLs).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_sns::types::Topic;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;

use super::clients::{error_code, error_text, AwsClients};
use super::naming::{self, QueueRef};
use super::policy;
use super::DeadLetter;
use crate::error::Error;
use crate::options::AwsSnsSqsOptions;

/// Every AWS call is bounded (upstream: 40 s per call).
const CALL_TIMEOUT: Duration = Duration::from_secs(40);

/// Fourteen days: the retention of dead-letter queues tomodachi creates.
const DEAD_LETTER_RETENTION: &str = "1209600";

const TARGET: &str = "tomodachi.aws_sns_sqs";

/// Runs an AWS call with the call timeout; errors carry `what` and the service's message.
pub(crate) async fn call<T, E, R, F>(what: &str, fut: F) -> Result<T, CallError>
where
    F: Future<Output = Result<T, aws_sdk_sqs::error::SdkError<E, R>>>,
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match tokio::time::timeout(CALL_TIMEOUT, fut).await {
        Err(_) => Err(CallError {
            code: None,
            message: format!("{what}: timed out after {} s", CALL_TIMEOUT.as_secs()),
        }),
        Ok(Err(e)) => Err(CallError {
            code: error_code(&e).map(str::to_owned),
            message: format!("{what}: {}", error_text(&e)),
        }),
        Ok(Ok(v)) => Ok(v),
    }
}

/// A failed AWS call: the service's error code (if it answered) and a readable message.
#[derive(Debug, Clone)]
pub(crate) struct CallError {
    pub(crate) code: Option<String>,
    pub(crate) message: String,
}

impl CallError {
    /// The queue does not exist (any of the codes SQS uses for it).
    pub(crate) fn is_missing_queue(&self) -> bool {
        let code = self.code.as_deref().unwrap_or_default();
        code.contains("NonExistentQueue")
            || code.contains("QueueDoesNotExist")
            || self.message.contains("NonExistentQueue")
            || self.message.contains("QueueDoesNotExist")
    }

    /// The resource (topic, endpoint) does not exist.
    pub(crate) fn is_not_found(&self) -> bool {
        let code = self.code.as_deref().unwrap_or_default();
        code.contains("NotFound") || code.contains("NonExistent")
    }

    fn contains(&self, text: &str) -> bool {
        self.message.contains(text)
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<CallError> for Error {
    fn from(e: CallError) -> Self {
        Error::msg(e.message)
    }
}

/// Topic ARNs by encoded topic name, and queue URLs by reference, for this process.
#[derive(Default)]
struct Caches {
    topics: HashMap<String, String>,
    queues: HashMap<String, String>,
}

static CACHES: Mutex<Option<Caches>> = Mutex::new(None);

fn with_caches<T>(f: impl FnOnce(&mut Caches) -> T) -> T {
    let mut guard = CACHES.lock().unwrap_or_else(|p| p.into_inner());
    f(guard.get_or_insert_with(Caches::default))
}

/// Forgets cached ARNs and URLs (after the queue disappeared, e.g. an emulator restart).
pub(crate) fn clear_caches() {
    with_caches(|c| {
        c.topics.clear();
        c.queues.clear();
    });
}

/// Forgets a cached topic ARN.
pub(crate) fn forget_topic(arn: &str) {
    with_caches(|c| c.topics.retain(|_, cached| cached != arn));
}

/// Serialises topic creation in the process, as upstream.
static TOPIC_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `GetQueueUrl`: `Ok(None)` when the queue does not exist.
pub(crate) async fn queue_url(
    clients: &AwsClients,
    name: &str,
    owner: Option<&str>,
) -> Result<Option<String>, CallError> {
    let request = clients
        .sqs
        .get_queue_url()
        .queue_name(name)
        .set_queue_owner_aws_account_id(owner.map(str::to_owned));
    match call("GetQueueUrl", request.send()).await {
        Ok(out) => Ok(out.queue_url().map(str::to_owned)),
        Err(e) if e.is_missing_queue() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Resolves a queue reference (name, ARN or URL) to its URL; cached.
pub(crate) async fn resolve_queue(
    clients: &AwsClients,
    reference: &QueueRef,
) -> Result<Option<String>, CallError> {
    let key = format!("{reference:?}");
    if let Some(url) = with_caches(|c| c.queues.get(&key).cloned()) {
        return Ok(Some(url));
    }
    let url = match reference {
        QueueRef::Url(url) => Some(url.clone()),
        QueueRef::Name(name) => queue_url(clients, name, None).await?,
        QueueRef::Arn { account, name } => queue_url(clients, name, account.as_deref()).await?,
    };
    if let Some(url) = &url {
        with_caches(|c| c.queues.insert(key, url.clone()));
    }
    Ok(url)
}

/// Looks a queue up by name, creating it if missing (FIFO attributes when `fifo`, 14 days of
/// retention for dead-letter queues). An existing queue is used as it is.
async fn get_or_create_queue(
    clients: &AwsClients,
    name: &str,
    fifo: bool,
    dead_letter: bool,
) -> Result<String, Error> {
    naming::validate_queue_name(name).map_err(Error::msg)?;
    if let Some(url) = queue_url(clients, name, None).await? {
        return Ok(url);
    }
    let mut request = clients.sqs.create_queue().queue_name(name);
    if fifo {
        request = request
            .attributes(QueueAttributeName::FifoQueue, "true")
            .attributes(QueueAttributeName::ContentBasedDeduplication, "false")
            .attributes(QueueAttributeName::DeduplicationScope, "messageGroup")
            .attributes(QueueAttributeName::FifoThroughputLimit, "perMessageGroupId");
    }
    if dead_letter {
        request = request.attributes(
            QueueAttributeName::MessageRetentionPeriod,
            DEAD_LETTER_RETENTION,
        );
    }
    let out = call("CreateQueue", request.send()).await.map_err(|e| {
        tracing::warn!(target: TARGET, "Unable to create queue [sqs] on AWS ({e})");
        Error::from(e)
    })?;
    out.queue_url()
        .map(str::to_owned)
        .ok_or_else(|| Error::msg(format!("CreateQueue returned no URL for {name}")))
}

/// The queue's ARN.
async fn get_queue_arn(clients: &AwsClients, url: &str) -> Result<String, Error> {
    let out = call(
        "GetQueueAttributes",
        clients
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send(),
    )
    .await?;
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| Error::msg(format!("no QueueArn for queue {url}")))
}

/// What [`subscribe`] needs to know about one handler's subscription.
pub(crate) struct SubscriptionSpec<'a> {
    pub(crate) topic: Option<&'a str>,
    pub(crate) queue_name: &'a str,
    pub(crate) fifo: bool,
    pub(crate) filter_policy: Option<&'a Value>,
    pub(crate) visibility_timeout: Option<u32>,
    pub(crate) dead_letter: &'a DeadLetter,
}

/// What the consumer needs to know of a queue it consumes after the setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueueState {
    /// The queue URL.
    pub(crate) url: String,
    /// The queue has a redrive policy (failed messages end in a dead-letter queue).
    pub(crate) redrive: bool,
    /// The queue's visibility timeout in seconds.
    pub(crate) visibility_timeout: u32,
}

/// Upstream's setup sequence for one handler; returns the queue to consume.
pub(crate) async fn subscribe(
    clients: &AwsClients,
    options: &AwsSnsSqsOptions,
    spec: &SubscriptionSpec<'_>,
) -> Result<QueueState, Error> {
    // 1–2. the queue
    let queue_url = if naming::is_queue_arn(spec.queue_name) {
        let reference = naming::queue_ref(spec.queue_name, "").map_err(Error::msg)?;
        resolve_queue(clients, &reference).await?.ok_or_else(|| {
            Error::msg(format!(
                "AWS SQS queue with specific ARN ({}) does not exist",
                spec.queue_name
            ))
        })?
    } else {
        get_or_create_queue(clients, spec.queue_name, spec.fifo, false).await?
    };
    let queue_arn = get_queue_arn(clients, &queue_url).await?;
    let queue_is_fifo = queue_arn.ends_with(".fifo");
    if queue_is_fifo != spec.fifo {
        let (is, expected) = if queue_is_fifo {
            ("FIFO", "Standard")
        } else {
            ("Standard", "FIFO")
        };
        return Err(Error::msg(format!(
            "AWS SQS queue configured as {is}, but the handler expected {expected}."
        )));
    }

    // 3. the dead-letter queue and the desired redrive policy
    let redrive = match spec.dead_letter {
        DeadLetter::Untouched => None,
        DeadLetter::Remove => Some(Value::Object(Default::default())),
        DeadLetter::Queue {
            name,
            max_receive_count,
        } => {
            if name.is_empty() || *max_receive_count < 1 {
                return Err(Error::msg("Invalid values specified for dead-letter queue parameters (dead_letter_queue_name and max_receive_count)"));
            }
            let dlq_arn = if naming::is_queue_arn(name) {
                let reference = naming::queue_ref(name, "").map_err(Error::msg)?;
                if resolve_queue(clients, &reference).await?.is_none() {
                    return Err(Error::msg(format!(
                        "AWS SQS queue with specific ARN ({name}) does not exist"
                    )));
                }
                name.clone()
            } else {
                let dlq_name = format!("{}{name}", options.queue_name_prefix);
                let url = get_or_create_queue(clients, &dlq_name, spec.fifo, true).await?;
                get_queue_arn(clients, &url).await?
            };
            Some(policy::redrive_policy(&dlq_arn, *max_receive_count))
        }
    };
    if let Some(seconds) = spec.visibility_timeout {
        if seconds > 43_200 {
            return Err(Error::msg("SQS visibility_timeout is invalid"));
        }
    }

    // 4–5. the topics
    let topic_arns = match spec.topic {
        None => Vec::new(),
        Some(topic) if naming::is_wildcard_topic(topic) => {
            wildcard_topics(clients, options, topic, spec.fifo).await?
        }
        Some(topic) => {
            vec![create_topic(clients, options, topic, spec.fifo, &[], true, None).await?]
        }
    };

    // 6. queue attributes and subscriptions
    let (redrive, visibility_timeout) = update_queue_attributes(
        clients,
        options,
        &queue_url,
        &queue_arn,
        &topic_arns,
        spec.visibility_timeout,
        redrive.as_ref(),
    )
    .await?;
    for topic_arn in &topic_arns {
        subscribe_topic(clients, topic_arn, &queue_arn, spec.filter_policy).await?;
    }
    Ok(QueueState {
        url: queue_url,
        redrive,
        visibility_timeout,
    })
}

/// All existing topics matching a wildcard topic (every page of `ListTopics`; upstream keeps
/// only the last page).
async fn wildcard_topics(
    clients: &AwsClients,
    options: &AwsSnsSqsOptions,
    topic: &str,
    fifo: bool,
) -> Result<Vec<String>, Error> {
    let pattern = naming::wildcard_topic_regex(topic, fifo, &options.topic_prefix);
    let mut arns = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let out = call(
            "ListTopics",
            clients.sns.list_topics().set_next_token(next.take()).send(),
        )
        .await?;
        arns.extend(
            out.topics()
                .iter()
                .filter_map(Topic::topic_arn)
                .filter(|arn| pattern.is_match(arn))
                .map(str::to_owned),
        );
        match out.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_owned()),
            _ => break,
        }
    }
    Ok(arns)
}

/// The topic name on the wire and its cache key.
fn wire_topic_name(
    options: &AwsSnsSqsOptions,
    topic: &str,
    fifo: bool,
    prefix: Option<&str>,
) -> String {
    let prefix = prefix.unwrap_or(&options.topic_prefix);
    naming::encode_topic(&naming::topic_name(topic, fifo, prefix))
}

/// `KmsMasterKeyId` for new topics: `Some("")` disables encryption.
fn sns_kms_key(options: &AwsSnsSqsOptions) -> Option<&str> {
    options.sns_kms_master_key_id.as_deref()
}

/// Creates the topic (or gets the ARN of the existing one), as upstream: FIFO and
/// KMS attributes, an update of differing attributes when `overwrite`, cached ARNs.
pub(crate) async fn create_topic(
    clients: &AwsClients,
    options: &AwsSnsSqsOptions,
    topic: &str,
    fifo: bool,
    extra_attributes: &[(String, String)],
    overwrite: bool,
    prefix: Option<&str>,
) -> Result<String, Error> {
    naming::validate_topic_name(topic).map_err(Error::msg)?;
    let name = wire_topic_name(options, topic, fifo, prefix);
    if let Some(arn) = with_caches(|c| c.topics.get(&name).cloned()) {
        return Ok(arn);
    }
    let _serial = TOPIC_LOCK.lock().await;
    if let Some(arn) = with_caches(|c| c.topics.get(&name).cloned()) {
        return Ok(arn);
    }
    let mut attributes: Vec<(String, String)> = Vec::new();
    if fifo {
        attributes.push(("FifoTopic".into(), "true".into()));
        attributes.push(("ContentBasedDeduplication".into(), "false".into()));
    }
    if let Some(key) = sns_kms_key(options) {
        attributes.push(("KmsMasterKeyId".into(), key.to_owned()));
    }
    attributes.extend(extra_attributes.iter().cloned());
    let mut request = clients.sns.create_topic().name(&name);
    for (k, v) in &attributes {
        request = request.attributes(k, v);
    }
    let arn = match call("CreateTopic", request.send()).await {
        Ok(out) => out.topic_arn().map(str::to_owned),
        Err(e) if e.contains("already exists with different attributes") => {
            let out = call("CreateTopic", clients.sns.create_topic().name(&name).send()).await?;
            let arn = out.topic_arn().map(str::to_owned);
            if let Some(arn) = &arn {
                tracing::info!(target: TARGET,
                    "Already existing SNS topic '{arn}' has different topic attributes");
                if overwrite {
                    for (k, v) in &attributes {
                        tracing::info!(target: TARGET, "Updating '{k}' attribute on SNS topic '{arn}'");
                        call(
                            "SetTopicAttributes",
                            clients
                                .sns
                                .set_topic_attributes()
                                .topic_arn(arn)
                                .attribute_name(k)
                                .attribute_value(v)
                                .send(),
                        )
                        .await?;
                    }
                } else {
                    tracing::warn!(target: TARGET,
                        "Will not overwrite existing attributes on SNS topic '{arn}'");
                }
            }
            arn
        }
        Err(e) => {
            tracing::warn!(target: TARGET, "Unable to create topic [sns] on AWS ({e})");
            return Err(e.into());
        }
    };
    let arn = arn.ok_or_else(|| Error::msg(format!("CreateTopic returned no ARN for {name}")))?;
    if sns_kms_key(options) == Some("") {
        disable_topic_encryption(clients, &arn).await?;
    }
    with_caches(|c| c.topics.insert(name, arn.clone()));
    Ok(arn)
}

async fn disable_topic_encryption(clients: &AwsClients, arn: &str) -> Result<(), Error> {
    let out = call(
        "GetTopicAttributes",
        clients.sns.get_topic_attributes().topic_arn(arn).send(),
    )
    .await?;
    let current = out
        .attributes()
        .and_then(|a| a.get("KmsMasterKeyId"))
        .filter(|k| !k.is_empty());
    if current.is_some() {
        tracing::info!(target: TARGET, "SNS topic attribute 'KmsMasterKeyId' on SNS topic '{arn}' will be updated to disable server-side encryption");
        call(
            "SetTopicAttributes",
            clients
                .sns
                .set_topic_attributes()
                .topic_arn(arn)
                .attribute_name("KmsMasterKeyId")
                .attribute_value("")
                .send(),
        )
        .await?;
    }
    Ok(())
}

/// The ARN of an existing topic without creating it (publish path, least privilege):
/// `sts:GetCallerIdentity` for the account, then `sns:GetTopicAttributes` on the candidate.
pub(crate) async fn find_topic(
    clients: &AwsClients,
    options: &AwsSnsSqsOptions,
    topic: &str,
    fifo: bool,
    prefix: Option<&str>,
) -> Result<Option<String>, Error> {
    let name = wire_topic_name(options, topic, fifo, prefix);
    if let Some(arn) = with_caches(|c| c.topics.get(&name).cloned()) {
        return Ok(Some(arn));
    }
    let Ok(identity) = call(
        "GetCallerIdentity",
        clients.sts.get_caller_identity().send(),
    )
    .await
    else {
        return Ok(None);
    };
    let Some(account) = identity.account() else {
        return Ok(None);
    };
    let arn = format!("arn:aws:sns:{}:{account}:{name}", clients.region);
    match call(
        "GetTopicAttributes",
        clients.sns.get_topic_attributes().topic_arn(&arn).send(),
    )
    .await
    {
        Ok(_) => {
            with_caches(|c| c.topics.insert(name, arn.clone()));
            Ok(Some(arn))
        }
        Err(e) if e.is_not_found() => Ok(None),
        // no permission to read it, or a transient failure: creating it tells
        Err(_) => Ok(None),
    }
}

/// The queue policy, visibility timeout, redrive policy and KMS settings; returns whether the
/// queue has a redrive policy afterwards and its visibility timeout.
async fn update_queue_attributes(
    clients: &AwsClients,
    options: &AwsSnsSqsOptions,
    queue_url: &str,
    queue_arn: &str,
    topic_arns: &[String],
    visibility_timeout: Option<u32>,
    redrive: Option<&Value>,
) -> Result<(bool, u32), Error> {
    let out = call(
        "GetQueueAttributes",
        clients
            .sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::Policy)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .attribute_names(QueueAttributeName::VisibilityTimeout)
            .attribute_names(QueueAttributeName::MessageRetentionPeriod)
            .attribute_names(QueueAttributeName::KmsMasterKeyId)
            .attribute_names(QueueAttributeName::KmsDataKeyReusePeriodSeconds)
            .send(),
    )
    .await?;
    let current = |name: QueueAttributeName| out.attributes().and_then(|a| a.get(&name)).cloned();
    let had_policy = current(QueueAttributeName::Policy).is_some();
    let has_redrive = match redrive {
        Some(desired) => !matches!(desired, Value::Object(m) if m.is_empty()),
        None => current(QueueAttributeName::RedrivePolicy).is_some_and(|p| {
            !p.trim().is_empty()
                && !matches!(serde_json::from_str::<Value>(&p), Ok(Value::Object(m)) if m.is_empty())
        }),
    };
    let effective_visibility = visibility_timeout.filter(|s| *s > 0).unwrap_or_else(|| {
        current(QueueAttributeName::VisibilityTimeout)
            .and_then(|v| v.parse().ok())
            .unwrap_or(30)
    });
    let state = (has_redrive, effective_visibility);
    let mut changes: Vec<(QueueAttributeName, String)> = Vec::new();

    if !topic_arns.is_empty() {
        let source = policy::source_arn(
            topic_arns,
            options.queue_policy.as_deref(),
            options.wildcard_queue_policy.as_deref(),
        );
        let desired = policy::queue_policy(queue_arn, &source, &policy::new_statement_id());
        if policy::policy_needs_update(current(QueueAttributeName::Policy).as_deref(), &desired) {
            changes.push((QueueAttributeName::Policy, policy::policy_text(&desired)));
        }
    }
    if let Some(seconds) = visibility_timeout.filter(|s| *s > 0) {
        if let Some(now) = current(QueueAttributeName::VisibilityTimeout) {
            if now != seconds.to_string() {
                changes.push((QueueAttributeName::VisibilityTimeout, seconds.to_string()));
            }
        }
    }
    if let Some(desired) = redrive {
        if policy::redrive_needs_update(
            current(QueueAttributeName::RedrivePolicy).as_deref(),
            desired,
        ) {
            // an empty policy removes it
            changes.push((QueueAttributeName::RedrivePolicy, redrive_text(desired)));
        }
    }
    let current_kms = current(QueueAttributeName::KmsMasterKeyId).unwrap_or_default();
    if let Some(key) = options.sqs_kms_master_key_id.as_deref() {
        if key != current_kms && !(key.is_empty() && current_kms.is_empty()) {
            changes.push((QueueAttributeName::KmsMasterKeyId, key.to_owned()));
        }
    }
    if let Some(period) = options.sqs_kms_data_key_reuse_period.filter(|p| *p > 0) {
        let kms_in_use = !current_kms.is_empty()
            || options
                .sqs_kms_master_key_id
                .as_deref()
                .is_some_and(|k| !k.is_empty());
        let now = current(QueueAttributeName::KmsDataKeyReusePeriodSeconds);
        if kms_in_use && now.as_deref() != Some(period.to_string().as_str()) {
            changes.push((
                QueueAttributeName::KmsDataKeyReusePeriodSeconds,
                period.to_string(),
            ));
        }
    }
    if changes.is_empty() {
        return Ok(state);
    }
    let mut request = clients.sqs.set_queue_attributes().queue_url(queue_url);
    for (name, value) in changes {
        if had_policy {
            tracing::info!(target: TARGET,
                "Updating '{}' attribute on SQS queue '{queue_arn}'", name.as_str());
        }
        request = request.attributes(name, value);
    }
    call("SetQueueAttributes", request.send()).await?;
    Ok(state)
}

fn redrive_text(desired: &Value) -> String {
    match desired {
        Value::Object(m) if m.is_empty() => String::new(),
        v => policy::policy_text(v),
    }
}

/// Subscribes the queue to a topic (protocol `sqs`, raw delivery off) with the filter policy;
/// a subscription that exists with other attributes gets them updated.
async fn subscribe_topic(
    clients: &AwsClients,
    topic_arn: &str,
    queue_arn: &str,
    filter_policy: Option<&Value>,
) -> Result<(), Error> {
    let filter = filter_policy.map(|p| match p {
        Value::Null => "{}".to_owned(),
        Value::String(s) => serde_json::from_str::<Value>(s)
            .map(|v| policy::policy_text(&v))
            .unwrap_or_else(|_| s.clone()),
        v => policy::policy_text(v),
    });
    let mut request = clients
        .sns
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn);
    if let Some(filter) = &filter {
        request = request.attributes("FilterPolicy", filter);
    }
    let subscription_arn = match call("Subscribe", request.send()).await {
        Ok(out) => {
            let arn = out.subscription_arn().map(str::to_owned);
            // localstack-style ARNs always get the explicit update
            match (&arn, &filter) {
                (Some(a), Some(_)) if a.contains("000000000000") => arn,
                _ => None,
            }
        }
        Err(e) if filter.is_some() && e.contains("already exists with different attributes") => {
            tracing::info!(target: TARGET, "Subscription for topic ARN '{topic_arn}' and queue ARN '{queue_arn}' exists with different attributes");
            let out = call(
                "Subscribe",
                clients
                    .sns
                    .subscribe()
                    .topic_arn(topic_arn)
                    .protocol("sqs")
                    .endpoint(queue_arn)
                    .send(),
            )
            .await?;
            out.subscription_arn().map(str::to_owned)
        }
        Err(e) => {
            tracing::warn!(target: TARGET, "Unable to subscribe [sns] on AWS ({e})");
            return Err(e.into());
        }
    };
    if let (Some(subscription_arn), Some(filter)) = (subscription_arn, filter) {
        tracing::info!(target: TARGET, "Updating 'FilterPolicy' attribute on subscription for topic ARN '{topic_arn}' and queue ARN '{queue_arn}' - changes can take several minutes to propagate");
        call(
            "SetSubscriptionAttributes",
            clients
                .sns
                .set_subscription_attributes()
                .subscription_arn(subscription_arn)
                .attribute_name("FilterPolicy")
                .attribute_value(filter)
                .send(),
        )
        .await?;
    }
    Ok(())
}
