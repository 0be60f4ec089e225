//! The AMQP method of [`ServiceBuilder`].

use super::{AmqpHandlerDef, AmqpSubscription, AmqpTransport};
use crate::message::{MessageHandler, MessageHandlerFn};
use crate::ServiceBuilder;

impl<S: Send + Sync + 'static> ServiceBuilder<S> {
    /// Registers an AMQP message handler (upstream `@amqp`). The handler returns `()` or
    /// `Result<(), E>`; the message is acknowledged only after it succeeded.
    ///
    /// The handler takes the service and any [`FromMessage`](crate::message::FromMessage)
    /// arguments: [`Message`](crate::message::Message), `Data<T>`, [`AmqpDelivery`](super::AmqpDelivery),
    /// `Extension<T>`, ...
    pub fn amqp<H, Args>(mut self, subscription: AmqpSubscription, handler: H) -> Self
    where
        H: MessageHandlerFn<S, Args>,
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
