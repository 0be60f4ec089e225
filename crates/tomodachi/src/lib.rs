//! # tomodachi
//!
//! Microservices on tokio, triggered over HTTP, RabbitMQ/AMQP, AWS SNS+SQS and schedules: the
//! Rust successor of the Python library [tomodachi](https://github.com/kalaspuff/tomodachi),
//! wire-compatible with it.
//!
//! A service is a type whose handlers are marked with attributes:
//!
//! ```no_run
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use tomodachi::prelude::*;
//!
//! #[derive(Default)]
//! struct SleepySheep {
//!     sheep_count: AtomicU64,
//! }
//!
//! #[tomodachi::service(name = "sleepy-sheep-counter")]
//! impl SleepySheep {
//!     #[http(POST, r"/sheep")]
//!     async fn add_to_sheep_count(&self) -> (u16, String) {
//!         let n = self.sheep_count.fetch_add(1, Ordering::SeqCst) + 1;
//!         (200, n.to_string())
//!     }
//!
//!     #[http(GET, r"/resource/(?P<id>[^/]+?)/?")]
//!     async fn resource(&self, id: String) -> String {
//!         format!("id = {id}")
//!     }
//!
//!     #[http_error(status_code = 404)]
//!     async fn error_404(&self) -> &'static str {
//!         "error 404"
//!     }
//! }
//!
//! tomodachi::main!(SleepySheep);
//! ```
//!
//! The attributes are sugar over the plain [`ServiceBuilder`] API, which works without macros
//! (`default-features = false`).
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `http` | yes | the HTTP transport ([`http`], on hyper) |
//! | `macros` | yes | `#[tomodachi::service]` and the handler attributes |
//! | `amqp` | yes | the RabbitMQ transport ([`amqp`], on lapin) |
//! | `aws` | yes | the AWS SNS+SQS transport (`aws_sns_sqs`, on the AWS SDK) |
//! | `opentelemetry` | no | OpenTelemetry tracing and metrics ([`telemetry`]: `--opentelemetry-instrument`, OTLP export, the Prometheus endpoint) |
//! | `testing` | no | `tomodachi::testing`: services under test with in-process HTTP, an in-memory RabbitMQ and SNS+SQS, and a test clock |
//!
//! Scheduled functions, envelopes, options and logging are always built. With
//! `default-features = false, features = ["http", "macros"]` nothing pulls in lapin or the AWS
//! SDK.
//!
//! ## Transports
//!
//! Every transport — HTTP, AMQP, SNS+SQS, the scheduler, or one of your own — plugs into the
//! service lifecycle through the public contract in [`transport`]; the message transports share
//! one pipeline ([`message`]): envelope, duplicate suppression, middlewares, handler, and one
//! [`Verdict`](message::Verdict) each transport settles in its own terms.

#![warn(missing_docs)]

#[cfg(feature = "amqp")]
pub mod amqp;
pub mod apidoc;
#[cfg(feature = "aws")]
pub mod aws_sns_sqs;
mod clock;
pub mod decorator;
pub mod envelope;
mod error;
mod extension;
#[cfg(feature = "http")]
pub mod http;
mod launch;
pub mod logging;
pub mod message;
pub mod options;
pub mod schedule;
mod service;
#[cfg(feature = "opentelemetry")]
pub mod telemetry;
#[cfg(test)]
mod test_alloc;
#[cfg(feature = "testing")]
pub mod testing;
pub mod transport;
mod verdict;

pub use error::{BoxError, Error, Result};
pub use launch::{launch, launch_from, load_config, LaunchArgs};
pub use logging::get_logger;
pub use options::Options;
pub use service::{
    exit, exit_code, get_execution_context, get_service, service_attribute, service_names,
    set_exit_code, App, ExecutionContext, HookOutput, IntoService, RunningApp, Service,
    ServiceBuilder, StopHandle,
};

#[cfg(feature = "macros")]
pub use tomodachi_macros::{decorator, service};

/// Runs one or several services as the process's `main`: `tomodachi::main!(ServiceA, ServiceB);`
///
/// Each type must implement `Default` and [`IntoService`] (the `#[tomodachi::service]`
/// attribute implements it). The binary takes the same flags as `tomodachi run`.
#[macro_export]
macro_rules! main {
    ($($service:ty),+ $(,)?) => {
        fn main() -> ::std::process::ExitCode {
            $crate::launch([
                $($crate::IntoService::into_service(
                    <$service as ::core::default::Default>::default()
                )),+
            ])
        }
    };
}

/// The names most services need: `use tomodachi::prelude::*;`.
pub mod prelude {
    #[cfg(feature = "http")]
    pub use crate::http::{
        Extension, HttpRequest, HttpResponse, IntoResponse, Json, Method, Next, Query, StatusCode,
        WebSocket, WebSocketCallbacks,
    };
    pub use crate::schedule::{Invocation, ScheduleSpec};
    pub use crate::{Error, IntoService, Options, Service, ServiceBuilder};
}

#[doc(hidden)]
pub mod __private {
    //! Used by the macros' generated code; not a public API.
    #[cfg(feature = "http")]
    pub use crate::http::FromRequest;
    #[cfg(feature = "http")]
    pub use crate::http::IntoResponse;
    #[cfg(feature = "http")]
    pub use crate::http::IntoWebSocketCallbacks;
    pub use crate::service::HookOutput;

    /// Checks a `#[tomodachi::decorator]` guard's return type at the user's span.
    pub fn guard_return<T: crate::decorator::GuardReturn>() {}

    /// A JSON value of the envelope as a handler argument of type `T` (undecodable otherwise).
    pub fn from_json_value<T: serde::de::DeserializeOwned>(
        value: serde_json::Value,
        what: &str,
    ) -> Result<T, crate::Error> {
        serde_json::from_value(value)
            .map_err(|e| crate::Error::undecodable(format!("unable to decode `{what}`: {e}")))
    }

    /// A macro argument (e.g. a filter policy) as JSON; `()` is `null`.
    pub fn into_json_value<T: serde::Serialize>(value: T) -> serde_json::Value {
        serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
    }
}
