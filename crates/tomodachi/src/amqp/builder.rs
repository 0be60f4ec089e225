//! The AMQP method of [`ServiceBuilder`].

use std::future::Future;
use std::sync::Arc;

use super::{AmqpHandlerDef, AmqpSubscription, AmqpTransport};
use crate::message::{Message, MessageHandler};
use crate::service::HookOutput;
use crate::ServiceBuilder;

impl<S: Send + Sync + 'static> ServiceBuilder<S> {
    /// Registers an AMQP message handler (upstream `@amqp`). The handler returns `()` or
    /// `Result<(), E>`; the message is acknowledged only after it succeeded.
    pub fn amqp<H, Fut, O>(mut self, subscription: AmqpSubscription, handler: H) -> Self
    where
        H: Fn(Arc<S>, Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = O> + Send + 'static,
        O: HookOutput,
    {
        let handler = MessageHandler::new(self.state.clone(), handler);
        self.transport_mut::<AmqpTransport>()
            .handlers
            .push(AmqpHandlerDef {
                subscription,
                handler,
            });
        self
    }
}
