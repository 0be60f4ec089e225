//! How transports (AMQP consumers, SNS+SQS consumers, scheduler loops) plug into the service
//! lifecycle. The runtime knows them only through this small interface; HTTP is started the
//! same way but keeps its own type because it reports a bound address.
// Used by the scheduler and message transports as they land.
#![allow(dead_code)]

use std::sync::Arc;

use crate::error::Error;
use crate::http::handler::BoxFuture;
use crate::options::Options;

/// When a transport starts (lifecycle_cli_logging.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartPhase {
    /// With HTTP, after `start_service` and before `started_service` (AMQP).
    Transports,
    /// After `started_service` returned (AWS SQS consumers, scheduled functions).
    AfterStarted,
}

/// What a transport learns about its service when it starts.
#[derive(Debug, Clone)]
pub(crate) struct ServiceInfo {
    pub(crate) name: Arc<str>,
    pub(crate) uuid: Arc<str>,
    pub(crate) options: Arc<Options>,
    /// The wall clock (scheduled functions), set with [`App::clock`](crate::App::clock).
    pub(crate) clock: crate::schedule::SharedClock,
    /// Becomes `true` when a stop is requested.
    pub(crate) stop: tokio::sync::watch::Receiver<bool>,
    /// The service's default message envelope (`None`: raw messages).
    pub(crate) envelope: Option<crate::envelope::SharedEnvelope>,
}

/// A started transport; `stop` drains it (no new work, running handlers awaited).
pub(crate) trait RunningTransport: Send {
    /// Graceful stop.
    fn stop(self: Box<Self>) -> BoxFuture<()>;
}

type StartFn =
    Box<dyn FnOnce(ServiceInfo) -> BoxFuture<Result<Box<dyn RunningTransport>, Error>> + Send>;

/// A transport registered on a service, started by the app in its phase.
pub(crate) struct TransportStarter {
    pub(crate) phase: StartPhase,
    pub(crate) start: StartFn,
}

impl TransportStarter {
    pub(crate) fn new<F, Fut, T>(phase: StartPhase, start: F) -> Self
    where
        F: FnOnce(ServiceInfo) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<T, Error>> + Send + 'static,
        T: RunningTransport + 'static,
    {
        Self {
            phase,
            start: Box::new(move |info| {
                Box::pin(async move {
                    let running = start(info).await?;
                    Ok(Box::new(running) as Box<dyn RunningTransport>)
                })
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::http::{HttpRequest, Method};
    use crate::{App, Service};

    type Trail = Arc<Mutex<Vec<String>>>;

    struct Recorder(Trail, &'static str);

    impl RunningTransport for Recorder {
        fn stop(self: Box<Self>) -> BoxFuture<()> {
            Box::pin(async move { self.0.lock().unwrap().push(format!("{} stopped", self.1)) })
        }
    }

    fn starter(trail: &Trail, phase: StartPhase, name: &'static str) -> TransportStarter {
        let trail = trail.clone();
        TransportStarter::new(phase, move |info: ServiceInfo| async move {
            trail
                .lock()
                .unwrap()
                .push(format!("{name} started for {}", info.name));
            Ok(Recorder(trail, name))
        })
    }

    #[tokio::test]
    async fn transports_start_in_their_phase_and_drain_before_stop_service() {
        let trail: Trail = Arc::default();
        let push = |t: &Trail, s: &'static str| t.lock().unwrap().push(s.to_owned());
        let (t1, t2, t3, t4) = (trail.clone(), trail.clone(), trail.clone(), trail.clone());
        let mut options = crate::Options::default();
        options.http.host = "127.0.0.1".into();
        options.http.port = 0;
        let svc = Service::builder("transports", ())
            .options(options)
            .http(Method::GET, "/", |_s: Arc<()>, _r: HttpRequest| async {
                "x"
            })
            .transport(starter(&trail, StartPhase::AfterStarted, "scheduler"))
            .transport(starter(&trail, StartPhase::Transports, "amqp"))
            .on_start(move |_s| async move { push(&t1, "start_service") })
            .on_started(move |_s| async move { push(&t2, "started_service") })
            .on_stopping(move |_s| async move { push(&t3, "stopping_service") })
            .on_stop(move |_s| async move { push(&t4, "stop_service") })
            .build();
        let running = App::new().service(svc).start().await.unwrap();
        assert_eq!(running.stop().await, 0);
        let trail = trail.lock().unwrap().clone();
        assert_eq!(trail.len(), 8, "{trail:?}");
        assert_eq!(
            &trail[..4],
            [
                "start_service",
                "amqp started for transports",
                "started_service",
                "scheduler started for transports"
            ]
        );
        let mut drain = trail[4..7].to_vec();
        drain.sort();
        assert_eq!(
            drain,
            ["amqp stopped", "scheduler stopped", "stopping_service"]
        );
        assert_eq!(trail[7], "stop_service");
    }

    #[tokio::test]
    async fn a_failing_transport_aborts_the_start() {
        let svc = Service::builder("broken-transport", ())
            .transport(TransportStarter::new(
                StartPhase::Transports,
                |_info| async { Err::<Recorder, _>(Error::msg("broker unreachable")) },
            ))
            .build();
        let err = App::new().service(svc).start().await.err().unwrap();
        assert_eq!(err.to_string(), "broker unreachable");
    }
}
