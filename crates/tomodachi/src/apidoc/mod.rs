//! AsyncAPI 3.0 and OpenAPI 3.1 documents of services, built from their registered handlers:
//! every transport [describes](crate::transport::Transport::describe) its registrations
//! (AMQP routing keys and queues, SNS topics and SQS queues with filter policies and FIFO,
//! websockets, a transport crate's own channels, HTTP routes with their path parameters,
//! scheduled functions), and [`asyncapi`] and [`openapi`] turn the descriptions into
//! documents (`serde_json` values: JSON, which is also YAML).
//!
//! Message payloads show the envelope around the data (JsonBase's `service`, `metadata` and
//! `data`); the data's JSON Schema appears when a handler has one attached
//! (`AmqpSubscription::data_schema`, `HttpRoute::request_schema`, ... or, with the
//! `schemars` feature, `schema::<T>()` and the macros' `schema = T`, `body = T` and
//! `response = T`).
//!
//! A service binary prints them with `--asyncapi` or `--openapi` (nothing is started and no
//! broker is needed), and so does `tomodachi asyncapi|openapi <service>`.
//!
//! ```
//! use std::sync::Arc;
//! use tomodachi::http::{HttpRequest, Method};
//! use tomodachi::schedule::{Invocation, ScheduleSpec};
//!
//! struct Api;
//!
//! let service = tomodachi::Service::builder("api", Api)
//!     .http(Method::GET, r"/items/(?P<id>\d+)", |_a: Arc<Api>, _r: HttpRequest| async { "item" })
//!     .schedule("tick", ScheduleSpec::interval(5), |_a: Arc<Api>, _i: Invocation| async {})
//!     .build();
//! let openapi = tomodachi::apidoc::openapi([&service]);
//! assert_eq!(openapi["openapi"], "3.1.0");
//! assert_eq!(openapi["paths"]["/items/{id}"]["get"]["parameters"][0]["name"], "id");
//! let asyncapi = tomodachi::apidoc::asyncapi([&service]);
//! assert_eq!(asyncapi["asyncapi"], "3.0.0");
//! assert_eq!(asyncapi["x-tomodachi-schedules"][0]["handler"], "tick");
//! ```

mod asyncapi;
mod openapi;
mod schema;

use std::collections::HashSet;

use serde_json::Value;

use crate::transport::{Description, TransportContext};
use crate::Service;

pub use asyncapi::asyncapi;
pub use openapi::openapi;
pub use schema::envelope_payload_schema;
#[cfg(feature = "schemars")]
pub use schema::schema_of;

/// What `service`'s transports registered, in registration order (transports in the order
/// they were first used), described with the options and envelope the service would start
/// with.
///
/// ```
/// use std::sync::Arc;
/// use tomodachi::transport::Description;
/// # struct S;
/// let svc = tomodachi::Service::builder("s", S)
///     .http("GET", r"/health", |_s: Arc<S>| async { "ok" })
///     .build();
/// let descriptions = tomodachi::apidoc::describe(&svc);
/// assert!(descriptions.iter().any(|d| matches!(d, Description::Route(r) if r.pattern == "/health")));
/// ```
pub fn describe(service: &Service) -> Vec<Description> {
    let mut ctx = TransportContext::new(
        &service.name,
        service.uuid.as_deref().unwrap_or_default(),
        service.options.clone(),
    );
    ctx.envelope = service.message_envelope.clone();
    ctx.attributes = std::sync::Arc::new(service.attributes.clone());
    service
        .transports
        .iter()
        .flat_map(|t| t.describe(&ctx))
        .collect()
}

/// Which document `--asyncapi` / `--openapi` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DocumentKind {
    AsyncApi,
    OpenApi,
}

impl DocumentKind {
    pub(crate) fn from_flags(asyncapi: bool, openapi: bool) -> Option<Self> {
        match (asyncapi, openapi) {
            (true, _) => Some(Self::AsyncApi),
            (false, true) => Some(Self::OpenApi),
            (false, false) => None,
        }
    }
}

/// Builds the services (config files applied as at start, nothing started) and prints the
/// document to stdout: `--asyncapi` / `--openapi` of a service binary.
pub(crate) fn print_document<I>(
    kind: DocumentKind,
    services: I,
    config: Option<&crate::options::ConfigFile>,
) -> std::process::ExitCode
where
    I: IntoIterator,
    I::Item: crate::IntoService,
{
    let mut built = Vec::new();
    for service in services {
        let mut service = crate::IntoService::into_service(service);
        if let Some(config) = config {
            if let Err(e) = config.apply_to(&mut service.options) {
                eprintln!("error: {e}");
                return std::process::ExitCode::from(2);
            }
            if let Some(uuid) = config.uuid() {
                service.uuid = Some(uuid.to_owned());
            }
            config.merge_attributes_into(&mut service.attributes);
        }
        if let Some(error) = service.definition_errors.first() {
            eprintln!("error: {error}");
            return std::process::ExitCode::from(1);
        }
        built.push(service);
    }
    let document = match kind {
        DocumentKind::AsyncApi => asyncapi(&built),
        DocumentKind::OpenApi => openapi(&built),
    };
    match serde_json::to_string_pretty(&document) {
        Ok(text) => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            match writeln!(out, "{text}").and_then(|()| out.flush()) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: unable to write the document: {e}");
                    std::process::ExitCode::from(1)
                }
            }
        }
        Err(e) => {
            eprintln!("error: unable to write the document: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

/// The documents' `info`: the service names as the title, the `version` and `description`
/// attributes (see [`ServiceBuilder::attribute`](crate::ServiceBuilder::attribute)) of the
/// first service that has them.
fn info(services: &[&Service], extra_description: &str) -> Value {
    let title = if services.is_empty() {
        "tomodachi".to_owned()
    } else {
        services
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let attribute = |key: &str| {
        services
            .iter()
            .find_map(|s| s.attributes.get(key).and_then(Value::as_str))
            .map(str::to_owned)
    };
    let mut description = attribute("description").unwrap_or_else(|| {
        format!(
            "The tomodachi service{} {title}.",
            if services.len() == 1 { "" } else { "s" }
        )
    });
    description.push_str(extra_description);
    serde_json::json!({
        "title": title,
        "version": attribute("version").unwrap_or_else(|| "0.1.0".to_owned()),
        "description": description,
    })
}

/// `name` with the characters document keys may not hold replaced by `_`, unique in `taken`.
fn unique_key(name: &str, taken: &mut HashSet<String>) -> String {
    let mut key: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    while key.contains("__") {
        key = key.replace("__", "_");
    }
    let key_trimmed = key.trim_matches('_');
    if key_trimmed.is_empty() {
        key = "handler".to_owned();
    } else {
        key = key_trimmed.to_owned();
    }
    let mut candidate = key.clone();
    let mut n = 2;
    while !taken.insert(candidate.clone()) {
        candidate = format!("{key}_{n}");
        n += 1;
    }
    candidate
}

#[cfg(test)]
mod tests;
