//! The SDK clients (SNS, SQS, STS) of a service: region, credentials and endpoints from
//! `options.aws_sns_sqs` / `options.aws_endpoint_urls`, falling back to the standard AWS chain
//! (environment, shared config files, container and instance roles) for anything unset.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use tokio::sync::OnceCell;

use crate::error::Error;
use crate::options::Options;
use crate::transport::TransportContext;

/// Connect timeout of every AWS call (upstream's client config).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(8);
/// Read timeout: longer than the 20 s long poll.
const READ_TIMEOUT: Duration = Duration::from_secs(35);
/// Attempts of a throttled, failed (5xx, connection) or timed-out call, in all (upstream's 3).
const MAX_ATTEMPTS: u32 = 3;

/// One service's AWS clients.
#[derive(Debug, Clone)]
pub(crate) struct AwsClients {
    pub(crate) sns: aws_sdk_sns::Client,
    pub(crate) sqs: aws_sdk_sqs::Client,
    pub(crate) sts: aws_sdk_sts::Client,
    /// The region the clients use.
    pub(crate) region: String,
}

impl AwsClients {
    /// Builds the clients from the service's options (under the testing kit, against its
    /// in-memory SNS and SQS, through the SDK's own request and response handling).
    pub(crate) async fn from_options(
        options: &Options,
        ctx: &TransportContext,
    ) -> Result<Self, Error> {
        let o = &options.aws_sns_sqs;
        let endpoints = &options.aws_endpoint_urls;
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .read_timeout(READ_TIMEOUT)
                    .build(),
            )
            // the SDK's standard mode: throttling and transient errors retried with
            // exponential backoff and jitter, bounded by a client-side retry quota
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
        if let Some(region) = o.region_name.as_deref().filter(|r| !r.is_empty()) {
            loader = loader.region(Region::new(region.to_owned()));
        }
        #[cfg(feature = "testing")]
        if let Some(memory) = ctx.extension::<crate::testing::sns_sqs::MemorySnsSqs>() {
            loader = loader
                .http_client(crate::testing::aws_wire::sdk_http_client(memory.clone()))
                .region(Region::new(crate::testing::sns_sqs::REGION))
                .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                    "testing",
                    "testing",
                    None,
                    None,
                    "tomodachi testing kit",
                ));
        }
        #[cfg(not(feature = "testing"))]
        let _ = ctx;
        match (&o.aws_access_key_id, &o.aws_secret_access_key) {
            (Some(key), Some(secret)) => {
                loader = loader.credentials_provider(aws_sdk_sqs::config::Credentials::new(
                    key.clone(),
                    secret.clone(),
                    None,
                    None,
                    "tomodachi options",
                ));
            }
            (None, None) => {}
            _ => {
                return Err(invalid_credentials(
                    "sns",
                    "aws_access_key_id and aws_secret_access_key must be set together",
                ))
            }
        }
        let config = loader.load().await;
        let region = config
            .region()
            .map(|r| r.as_ref().to_owned())
            .ok_or_else(|| {
                invalid_credentials(
                    "sns",
                    "no region: set options.aws_sns_sqs.region_name or AWS_REGION",
                )
            })?;
        let mut sns = aws_sdk_sns::config::Builder::from(&config);
        if let Some(url) = &endpoints.sns {
            sns = sns.endpoint_url(url);
        }
        let mut sqs = aws_sdk_sqs::config::Builder::from(&config);
        if let Some(url) = &endpoints.sqs {
            sqs = sqs.endpoint_url(url);
        }
        let mut sts = aws_sdk_sts::config::Builder::from(&config);
        // upstream: STS falls back to the SNS endpoint (localstack compatibility)
        if let Some(url) = endpoints.sts.as_ref().or(endpoints.sns.as_ref()) {
            sts = sts.endpoint_url(url);
        }
        Ok(Self {
            sns: aws_sdk_sns::Client::from_conf(sns.build()),
            sqs: aws_sdk_sqs::Client::from_conf(sqs.build()),
            sts: aws_sdk_sts::Client::from_conf(sts.build()),
            region,
        })
    }
}

fn invalid_credentials(kind: &str, why: &str) -> Error {
    let msg = format!("Invalid credentials [{kind}] to AWS ({why})");
    tracing::warn!(target: "tomodachi.aws_sns_sqs", "{msg}");
    Error::msg(msg)
}

type Slot = Arc<OnceCell<AwsClients>>;

/// The clients of each running service, created on first use.
static CLIENTS: Mutex<Option<HashMap<String, Slot>>> = Mutex::new(None);

/// The clients of `ctx`'s service (created from its options on first use).
pub(crate) async fn for_service(ctx: &TransportContext) -> Result<AwsClients, Error> {
    let slot = {
        let mut guard = CLIENTS.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .get_or_insert_with(HashMap::new)
            .entry(format!("{}/{}", ctx.name, ctx.uuid))
            .or_default()
            .clone()
    };
    slot.get_or_try_init(|| AwsClients::from_options(&ctx.options, ctx))
        .await
        .cloned()
}

/// Forgets a service's clients (its transport stopped).
pub(crate) fn forget(name: &str, uuid: &str) {
    let mut guard = CLIENTS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(map) = guard.as_mut() {
        map.remove(&format!("{name}/{uuid}"));
    }
}

/// The text of an SDK error with its service error code and message, as upstream logs it.
pub(crate) fn error_text<E, R>(error: &aws_sdk_sqs::error::SdkError<E, R>) -> String
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_sqs::error::SdkError;
    match error {
        SdkError::ServiceError(e) => {
            let err = e.err();
            match (err.code(), err.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_owned(),
                _ => aws_sdk_sqs::error::DisplayErrorContext(error).to_string(),
            }
        }
        _ => aws_sdk_sqs::error::DisplayErrorContext(error).to_string(),
    }
}

/// The service error code of an SDK error, if the service answered with one.
pub(crate) fn error_code<E, R>(error: &aws_sdk_sqs::error::SdkError<E, R>) -> Option<&str>
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata,
{
    match error {
        aws_sdk_sqs::error::SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}
