//! Message handler arguments: [`FromMessage`] extractors and the [`MessageHandlerFn`] functions
//! they make up.

use std::future::Future;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Message;
use crate::error::Error;
use crate::extension::Extension;
use crate::service::HookOutput;
use crate::transport::BoxFuture;

/// A message handler argument built from the message, as an HTTP handler's
/// `FromRequest`: a builder handler `Fn(Arc<S>, A, B, ...)` takes
/// any arguments that implement it, and the message attributes (`#[amqp]`, `#[aws_sns_sqs]`)
/// use it for every argument that is not one of upstream's keyword names. A failure fails the
/// message with the error (a payload of the wrong shape is dead-lettered).
///
/// ```
/// use tomodachi::message::{FromMessage, Message};
/// use tomodachi::Error;
///
/// /// The tenant of a message, from its JsonBase metadata.
/// struct Tenant(String);
///
/// impl FromMessage for Tenant {
///     fn from_message(message: &Message) -> Result<Self, Error> {
///         message
///             .envelope_value("metadata")
///             .and_then(|m| m.get("tenant"))
///             .and_then(|t| t.as_str())
///             .map(|t| Tenant(t.to_owned()))
///             .ok_or_else(|| Error::dead_letter("message without a tenant"))
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be taken from a message",
    label = "this argument is neither one of the transport's keyword names nor a message extractor",
    note = "message handler arguments are resolved by upstream's keyword names (`data`, `message`, `routing_key`, `topic`, ...) or by type: Data<T>, Message, Extension<T>, Metadata, ExecutionContext, AmqpDelivery, SnsSqsDelivery, MessageAttributes"
)]
pub trait FromMessage: Sized {
    /// Builds the value from the message.
    fn from_message(message: &Message) -> Result<Self, Error>;

    /// Builds the value when it is the handler's last argument, which may take the message
    /// itself (the default borrows it).
    fn from_message_owned(message: Message) -> Result<Self, Error> {
        Self::from_message(&message)
    }
}

impl FromMessage for Message {
    fn from_message(message: &Message) -> Result<Self, Error> {
        Ok(message.clone())
    }

    fn from_message_owned(message: Message) -> Result<Self, Error> {
        Ok(message)
    }
}

/// The envelope's payload deserialized into `T` (upstream's `data` argument); a payload of
/// another shape dead-letters the message (it would fail the same way on every retry).
///
/// ```
/// use std::sync::Arc;
/// use tomodachi::amqp::AmqpSubscription;
/// use tomodachi::message::Data;
///
/// #[derive(serde::Deserialize)]
/// struct Order { id: u64 }
///
/// let service = tomodachi::Service::builder("orders", ())
///     .amqp(AmqpSubscription::new("order.created"), |_s: Arc<()>, Data(order): Data<Order>| async move {
///         tracing::info!(id = order.id, "order");
///     })
///     .build();
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Data<T>(pub T);

impl<T: DeserializeOwned> FromMessage for Data<T> {
    fn from_message(message: &Message) -> Result<Self, Error> {
        message.data().map(Data)
    }
}

/// The message's data decoded as the protobuf message `T` (a `ProtobufBase` subscription's
/// data); data that is not a `T` dead-letters the message.
///
/// ```
/// use std::sync::Arc;
/// use tomodachi::amqp::AmqpSubscription;
/// use tomodachi::envelope::{Proto, ProtobufBase};
///
/// #[derive(Clone, PartialEq, prost::Message)]
/// struct Person {
///     #[prost(string, tag = "1")]
///     id: String,
/// }
///
/// let service = tomodachi::Service::builder("people", ())
///     .message_envelope(ProtobufBase::new())
///     .amqp(
///         AmqpSubscription::new("person.created").envelope(ProtobufBase::of::<Person>()),
///         |_s: Arc<()>, Proto(person): Proto<Person>| async move {
///             tracing::info!(id = %person.id, "person");
///         },
///     )
///     .build();
/// ```
#[cfg(feature = "protobuf")]
impl<T: prost::Message + Default> FromMessage for crate::envelope::Proto<T> {
    fn from_message(message: &Message) -> Result<Self, Error> {
        message.proto().map(crate::envelope::Proto)
    }
}

/// The envelope's `metadata` object (upstream's `metadata` argument; `null` without one).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata(pub Value);

impl FromMessage for Metadata {
    fn from_message(message: &Message) -> Result<Self, Error> {
        Ok(Metadata(
            message
                .envelope_value("metadata")
                .cloned()
                .unwrap_or_default(),
        ))
    }
}

impl<T: Clone + Send + Sync + 'static> FromMessage for Extension<T> {
    fn from_message(message: &Message) -> Result<Self, Error> {
        message.extension().map(Extension)
    }
}

impl FromMessage for crate::ExecutionContext {
    fn from_message(_message: &Message) -> Result<Self, Error> {
        Ok(crate::ExecutionContext(crate::get_execution_context()))
    }
}

impl<T: FromMessage> FromMessage for Option<T> {
    fn from_message(message: &Message) -> Result<Self, Error> {
        Ok(T::from_message(message).ok())
    }
}

/// A message handler: an async function of the service (`Arc<S>`) and up to eight arguments
/// that implement [`FromMessage`], returning `()` or `Result<(), E>`. The last argument may
/// take the message itself.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a message handler",
    label = "not an async fn(Arc<S>, extractors...) returning () or Result<(), E>",
    note = "a message handler is `Fn(Arc<S>, A1, ..., An) -> impl Future<Output = ()>` (or `Result<(), E>`) with every argument a `FromMessage` (Data<T>, Message, Extension<T>, Metadata, AmqpDelivery, SnsSqsDelivery, MessageAttributes)"
)]
pub trait MessageHandlerFn<S, Args>: Send + Sync + 'static {
    /// Extracts the arguments from `message` and runs the handler.
    fn call(&self, state: Arc<S>, message: Message) -> BoxFuture<'static, Result<(), Error>>;
}

impl<S, F, Fut, O> MessageHandlerFn<S, ()> for F
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = O> + Send + 'static,
    O: HookOutput,
{
    fn call(&self, state: Arc<S>, _message: Message) -> BoxFuture<'static, Result<(), Error>> {
        let fut = self(state);
        Box::pin(async move { fut.await.into_result() })
    }
}

macro_rules! impl_message_handler {
    ($($arg:ident),*; $last:ident) => {
        #[allow(non_snake_case)]
        impl<S, F, Fut, O, $($arg,)* $last> MessageHandlerFn<S, ($($arg,)* $last,)> for F
        where
            S: Send + Sync + 'static,
            F: Fn(Arc<S>, $($arg,)* $last) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = O> + Send + 'static,
            O: HookOutput,
            $($arg: FromMessage,)*
            $last: FromMessage,
        {
            fn call(&self, state: Arc<S>, message: Message) -> BoxFuture<'static, Result<(), Error>> {
                $(
                    let $arg = match $arg::from_message(&message) {
                        Ok(value) => value,
                        Err(e) => return Box::pin(async move { Err(e) }),
                    };
                )*
                let $last = match $last::from_message_owned(message) {
                    Ok(value) => value,
                    Err(e) => return Box::pin(async move { Err(e) }),
                };
                let fut = self(state, $($arg,)* $last);
                Box::pin(async move { fut.await.into_result() })
            }
        }
    };
}

impl_message_handler!(; A1);
impl_message_handler!(A1; A2);
impl_message_handler!(A1, A2; A3);
impl_message_handler!(A1, A2, A3; A4);
impl_message_handler!(A1, A2, A3, A4; A5);
impl_message_handler!(A1, A2, A3, A4, A5; A6);
impl_message_handler!(A1, A2, A3, A4, A5, A6; A7);
impl_message_handler!(A1, A2, A3, A4, A5, A6, A7; A8);
