//! The service-wide message settings: the default envelope, message middlewares and the
//! failure policy, set on the [`ServiceBuilder`] and handed to every message transport through
//! its [`TransportContext`].

use std::future::Future;
use std::sync::Arc;

use super::{
    erase_message_middleware, ErasedMessageMiddleware, FailurePolicy, Message, MessageNext,
};
use crate::service::HookOutput;
use crate::transport::TransportContext;
use crate::ServiceBuilder;

/// What every message transport of a service shares (a context extension).
#[derive(Clone, Default)]
pub(crate) struct MessageSettings {
    pub(crate) middlewares: Arc<[ErasedMessageMiddleware]>,
    pub(crate) failure_policy: FailurePolicy,
}

impl TransportContext {
    /// The service's message middlewares, outermost first.
    pub(crate) fn message_middlewares(&self) -> Arc<[ErasedMessageMiddleware]> {
        self.extension::<MessageSettings>()
            .map(|s| s.middlewares.clone())
            .unwrap_or_else(|| Arc::new([]))
    }

    /// What happens to a message whose handler failed
    /// ([`ServiceBuilder::message_failure_policy`]).
    pub fn failure_policy(&self) -> FailurePolicy {
        self.extension::<MessageSettings>()
            .map(|s| s.failure_policy)
            .unwrap_or_default()
    }
}

impl<S: Send + Sync + 'static> ServiceBuilder<S> {
    fn message_settings(&mut self) -> &mut MessageSettings {
        self.service
            .extensions
            .get_or_insert_default::<MessageSettings>()
    }

    /// The service's default message envelope (upstream's `message_envelope` attribute),
    /// used by its message handlers and when it publishes. Without one, messages are raw.
    pub fn message_envelope(mut self, envelope: impl crate::envelope::Envelope) -> Self {
        self.service.message_envelope = Some(Arc::new(envelope));
        self
    }

    /// Adds a message middleware (AMQP and SNS+SQS handlers, and any message transport); the
    /// first added is the outermost. It receives the service, the [`Message`] and the rest of
    /// the chain, and can hand typed values to the handler through `message.extensions_mut()`;
    /// the transport's values are read-only.
    pub fn message_middleware<M, Fut, O>(mut self, middleware: M) -> Self
    where
        M: Fn(Arc<S>, Message, MessageNext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = O> + Send + 'static,
        O: HookOutput,
    {
        let middleware = erase_message_middleware(self.state.clone(), middleware);
        let settings = self.message_settings();
        let mut all = settings.middlewares.to_vec();
        all.push(middleware);
        settings.middlewares = all.into();
        self
    }

    /// What happens to a message whose handler failed: retried then dead-lettered (default),
    /// or dropped as upstream does.
    pub fn message_failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.message_settings().failure_policy = policy;
        self
    }
}
