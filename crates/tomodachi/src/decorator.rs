//! Decorator guards (upstream's `@tomodachi.decorator`): a function that runs before a handler
//! and either lets it run or answers instead of it.
//!
//! A guard is a plain function, sync or async, of the service (`Arc<S>`) and arguments taken the
//! way the handler's own are (HTTP [`FromRequest`](crate::http::FromRequest) extractors, message
//! [`FromMessage`](crate::message::FromMessage) extractors, or the schedule's
//! [`Invocation`]). What it returns says what happens ([`GuardOutput`]):
//!
//! - `()` or `None` — the handler runs (upstream: the decorator returned `None` or `True`);
//! - `Some(value)` — `value` is the answer, the handler is skipped (an HTTP response; for a
//!   message `Some(())` settles it as handled, `Some(Err(e))` fails it);
//! - `Err(e)` (from a `Result<(), E>` or `Result<Option<T>, E>`) — the handler is skipped and
//!   `e` is its error (an HTTP error status, a message failure).
//!
//! [`decorate`] puts a guard in front of any handler — HTTP routes and error handlers, message
//! handlers of every transport, scheduled functions — and guards stack: the outermost runs first.
//! Inside `#[tomodachi::service]`, `#[decorate(guard_a, guard_b)]` on a handler does the same
//! (`guard_a` outermost), and `#[tomodachi::decorator]` lets a guard be written with borrowed
//! arguments (`&Service`, `&HttpRequest`, `&Message`) and as a plain `fn`.
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//! use tomodachi::decorator::decorate;
//! use tomodachi::http::{HttpRequest, Method};
//!
//! #[derive(Default)]
//! struct Svc { calls: AtomicUsize }
//!
//! // counts every call, and answers "0" itself: the handler never runs
//! async fn count_invocations(svc: Arc<Svc>) -> Option<&'static str> {
//!     svc.calls.fetch_add(1, Ordering::Relaxed);
//!     Some("0")
//! }
//!
//! // a sync guard that lets the request through only with an API key
//! fn require_key(_svc: Arc<Svc>, request: HttpRequest) -> Option<(u16, &'static str)> {
//!     match request.header("x-api-key") {
//!         Some(_) => None,
//!         None => Some((401, "no key")),
//!     }
//! }
//!
//! let service = tomodachi::Service::builder("guarded", Svc::default())
//!     .http(Method::GET, r"/count", decorate(count_invocations, |_s: Arc<Svc>| async { "1" }))
//!     .http(Method::GET, r"/secret", decorate(require_key, |_s: Arc<Svc>| async { "secret" }))
//!     .build();
//! ```

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::error::Error;
use crate::message::{FromMessage, Message, MessageHandlerFn};
use crate::schedule::{Invocation, ScheduleHandler};
use crate::transport::BoxFuture;

/// A handler behind a guard, built by [`decorate`]. It is a handler of the same kind as the one
/// it wraps (HTTP, message or scheduled), so it goes wherever that handler went.
pub struct Decorated<G, H> {
    guard: Arc<G>,
    handler: Arc<H>,
}

impl<G, H> Clone for Decorated<G, H> {
    fn clone(&self) -> Self {
        Self {
            guard: self.guard.clone(),
            handler: self.handler.clone(),
        }
    }
}

impl<G, H> std::fmt::Debug for Decorated<G, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decorated")
            .field("guard", &std::any::type_name::<G>())
            .field("handler", &std::any::type_name::<H>())
            .finish()
    }
}

/// Puts `guard` in front of `handler`: the guard runs first with the same request, message or
/// invocation and either lets the handler run or answers instead (see the
/// [module docs](self)). Stack guards by nesting: `decorate(outer, decorate(inner, handler))`.
pub fn decorate<G, H>(guard: G, handler: H) -> Decorated<G, H> {
    Decorated {
        guard: Arc::new(guard),
        handler: Arc::new(handler),
    }
}

/// The argument list of a guarded handler: the guard's and the handler's (a type-level marker;
/// it never needs naming).
pub struct Guarded<GuardArgs, HandlerArgs>(PhantomData<fn() -> (GuardArgs, HandlerArgs)>);

/// Marks the argument list of a sync guard (a type-level marker; it never needs naming).
pub struct SyncGuard<Args>(PhantomData<fn() -> Args>);

/// What a guard's return value decides: `None` lets the handler run, `Some(answer)` answers
/// instead of it. `R` is the handler kind's result (`HandlerResult` for HTTP, `Result<(), Error>`
/// for messages and schedules).
///
/// Implemented for `()` (always run), `Option<T>` (`Some` answers), `Result<(), E>` (`Err`
/// answers with the error) and `Result<Option<T>, E>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a guard's decision",
    label = "a guard returns `()`, `Option<T>`, `Result<(), E>` or `Result<Option<T>, E>`",
    note = "`None` / `()` / `Ok(None)` let the handler run; `Some(answer)` or `Err(e)` answer instead (for HTTP, `T` is any `IntoResponse`; for messages and schedules, `()` or `Result<(), E>`)"
)]
pub trait GuardOutput<R> {
    /// `None` to run the handler, `Some(answer)` to answer instead.
    fn into_decision(self) -> Option<R>;
}

/// How a guard's answer becomes the handler kind's result.
pub trait GuardAnswer<R> {
    /// The answer as the handler's result.
    fn into_answer(self) -> R;
}

impl GuardAnswer<Result<(), Error>> for () {
    fn into_answer(self) -> Result<(), Error> {
        Ok(())
    }
}

impl<E: Into<Error>> GuardAnswer<Result<(), Error>> for Result<(), E> {
    fn into_answer(self) -> Result<(), Error> {
        self.map_err(Into::into)
    }
}

impl<R> GuardOutput<R> for () {
    fn into_decision(self) -> Option<R> {
        None
    }
}

impl<R, T: GuardAnswer<R>> GuardOutput<R> for Option<T> {
    fn into_decision(self) -> Option<R> {
        self.map(GuardAnswer::into_answer)
    }
}

impl<T, E> GuardOutput<Result<T, Error>> for Result<(), E>
where
    E: Into<Error>,
{
    fn into_decision(self) -> Option<Result<T, Error>> {
        self.err().map(|e| Err(e.into()))
    }
}

impl<T, U, E> GuardOutput<Result<T, Error>> for Result<Option<U>, E>
where
    U: GuardAnswer<Result<T, Error>>,
    E: Into<Error>,
{
    fn into_decision(self) -> Option<Result<T, Error>> {
        match self {
            Ok(answer) => answer.map(GuardAnswer::into_answer),
            Err(e) => Some(Err(e.into())),
        }
    }
}

/// The shapes a guard may return, whatever the handler kind (checked where
/// `#[tomodachi::decorator]` is written, so a wrong return type is reported there).
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "a decorator guard cannot return `{Self}`",
    label = "a guard returns `()`, `Option<T>`, `Result<(), E>` or `Result<Option<T>, E>`",
    note = "`None` / `()` / `Ok(None)` let the handler run; `Some(answer)` or `Err(e)` answer instead"
)]
pub trait GuardReturn {}
impl GuardReturn for () {}
impl<T> GuardReturn for Option<T> {}
impl<E> GuardReturn for Result<(), E> {}
impl<T, E> GuardReturn for Result<Option<T>, E> {}

/// A guard's pending decision.
type Decision<R> = BoxFuture<'static, Option<R>>;

fn ready<R: Send + 'static>(decision: Option<R>) -> Decision<R> {
    Box::pin(std::future::ready(decision))
}

/// Implements a guard trait for `Fn(Arc<S>, A1, ..., An)`, async (`Args = (A1, ..., An)`) and
/// sync (`Args = SyncGuard<(A1, ..., An)>`), each argument taken from a borrowed input with
/// `$extract`.
macro_rules! impl_guard_fns {
    ($guard:ident, $input:ty, $result:ty, $bound:path, $extract:path; $($arg:ident),*) => {
        #[allow(non_snake_case, unused_variables)]
        impl<S, F, Fut, O, $($arg,)*> $guard<S, ($($arg,)*)> for F
        where
            S: Send + Sync + 'static,
            F: Fn(Arc<S>, $($arg,)*) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = O> + Send + 'static,
            O: GuardOutput<$result>,
            $($arg: $bound,)*
        {
            fn check(&self, state: Arc<S>, input: &$input) -> Decision<$result> {
                $(
                    let $arg = match $extract(input) {
                        Ok(value) => value,
                        Err(e) => return ready(Some(Err(e))),
                    };
                )*
                let fut = self(state, $($arg,)*);
                Box::pin(async move { fut.await.into_decision() })
            }
        }

        #[allow(non_snake_case, unused_variables)]
        impl<S, F, O, $($arg,)*> $guard<S, SyncGuard<($($arg,)*)>> for F
        where
            S: Send + Sync + 'static,
            F: Fn(Arc<S>, $($arg,)*) -> O + Send + Sync + 'static,
            O: GuardOutput<$result>,
            $($arg: $bound,)*
        {
            fn check(&self, state: Arc<S>, input: &$input) -> Decision<$result> {
                $(
                    let $arg = match $extract(input) {
                        Ok(value) => value,
                        Err(e) => return ready(Some(Err(e))),
                    };
                )*
                ready(self(state, $($arg,)*).into_decision())
            }
        }
    };
}

/// Implements a guard trait for every arity from zero to eight arguments.
macro_rules! impl_guard_arities {
    ($guard:ident, $input:ty, $result:ty, $bound:path, $extract:path) => {
        impl_guard_fns!($guard, $input, $result, $bound, $extract;);
        impl_guard_fns!($guard, $input, $result, $bound, $extract; A1);
        impl_guard_fns!($guard, $input, $result, $bound, $extract; A1, A2);
        impl_guard_fns!($guard, $input, $result, $bound, $extract; A1, A2, A3);
        impl_guard_fns!($guard, $input, $result, $bound, $extract; A1, A2, A3, A4);
        impl_guard_fns!($guard, $input, $result, $bound, $extract; A1, A2, A3, A4, A5);
        impl_guard_fns!($guard, $input, $result, $bound, $extract; A1, A2, A3, A4, A5, A6);
        impl_guard_fns!($guard, $input, $result, $bound, $extract; A1, A2, A3, A4, A5, A6, A7);
        impl_guard_fns!($guard, $input, $result, $bound, $extract; A1, A2, A3, A4, A5, A6, A7, A8);
    };
}

/// Implements a handler trait for [`Decorated`]: the guard's decision first (its arguments taken
/// from the borrowed input), the wrapped handler only when the guard lets it run.
macro_rules! decorated_handler {
    ($handler:ident, $guard:ident, $input:ty, $output:ty) => {
        #[diagnostic::do_not_recommend]
        impl<S, G, GA, H, HA> $handler<S, Guarded<GA, HA>> for Decorated<G, H>
        where
            S: Send + Sync + 'static,
            G: $guard<S, GA>,
            H: $handler<S, HA>,
            GA: 'static,
            HA: 'static,
        {
            fn call(&self, state: Arc<S>, input: $input) -> BoxFuture<'static, $output> {
                let decision = self.guard.check(state.clone(), &input);
                let handler = self.handler.clone();
                Box::pin(async move {
                    match decision.await {
                        Some(answer) => answer,
                        None => handler.call(state, input).await,
                    }
                })
            }
        }
    };
}

#[cfg(feature = "http")]
mod http_guard {
    use super::*;
    use crate::http::{FromRequest, HandlerResult, HttpHandler, HttpRequest, IntoResponse};

    impl<T: IntoResponse> GuardAnswer<HandlerResult> for T {
        fn into_answer(self) -> HandlerResult {
            self.into_response()
        }
    }

    /// A guard of HTTP handlers: `Fn(Arc<S>, A1, ..., An)`, sync or async, each argument a
    /// [`FromRequest`] (taken from the request without consuming it), returning a
    /// [`GuardOutput`] whose answer is any [`IntoResponse`].
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a guard of HTTP handlers",
        label = "not a fn(Arc<S>, extractors...) returning (), Option<impl IntoResponse> or Result<.., E>",
        note = "an HTTP guard is `Fn(Arc<S>, A1, ..., An)`, sync or async, with every argument a `FromRequest` (HttpRequest, HeaderMap, Path<T>, Query<T>, Json<T>, Extension<T>, ...)"
    )]
    pub trait HttpGuard<S, Args>: Send + Sync + 'static {
        /// Takes the guard's arguments from `request` and runs it: `None` lets the handler run.
        fn check(&self, state: Arc<S>, request: &HttpRequest) -> Decision<HandlerResult>;
    }

    impl_guard_arities!(
        HttpGuard,
        HttpRequest,
        HandlerResult,
        FromRequest,
        FromRequest::from_request
    );

    decorated_handler!(HttpHandler, HttpGuard, HttpRequest, HandlerResult);
}

#[cfg(feature = "http")]
pub use http_guard::HttpGuard;

/// A guard of message handlers (every message transport): `Fn(Arc<S>, A1, ..., An)`, sync or
/// async, each argument a [`FromMessage`], returning a [`GuardOutput`] whose answer is `()`
/// (the message is handled) or `Result<(), E>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a guard of message handlers",
    label = "not a fn(Arc<S>, extractors...) returning (), Option<()> or Result<.., E>",
    note = "a message guard is `Fn(Arc<S>, A1, ..., An)`, sync or async, with every argument a `FromMessage` (Message, Data<T>, Metadata, Extension<T>, ...)"
)]
pub trait MessageGuard<S, Args>: Send + Sync + 'static {
    /// Takes the guard's arguments from `message` and runs it: `None` lets the handler run.
    fn check(&self, state: Arc<S>, message: &Message) -> Decision<Result<(), Error>>;
}

impl_guard_arities!(
    MessageGuard,
    Message,
    Result<(), Error>,
    FromMessage,
    FromMessage::from_message
);

decorated_handler!(MessageHandlerFn, MessageGuard, Message, Result<(), Error>);

/// A guard of scheduled functions: `Fn(Arc<S>)` or `Fn(Arc<S>, Invocation)`, sync or async,
/// returning a [`GuardOutput`] whose answer is `()` or `Result<(), E>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a guard of scheduled functions",
    label = "not a fn(Arc<S>) or fn(Arc<S>, Invocation) returning (), Option<()> or Result<.., E>",
    note = "a schedule guard is `Fn(Arc<S>)` or `Fn(Arc<S>, Invocation)`, sync or async"
)]
pub trait ScheduleGuard<S, Args>: Send + Sync + 'static {
    /// Runs the guard for `invocation`: `None` lets the function run.
    fn check(&self, state: Arc<S>, invocation: &Invocation) -> Decision<Result<(), Error>>;
}

/// A schedule guard's argument: the [`Invocation`] (a type-level helper; it never needs naming).
pub trait FromInvocation: Sized {
    /// The argument for `invocation`.
    fn from_invocation(invocation: &Invocation) -> Result<Self, Error>;
}

impl FromInvocation for Invocation {
    fn from_invocation(invocation: &Invocation) -> Result<Self, Error> {
        Ok(invocation.clone())
    }
}

impl_guard_fns!(ScheduleGuard, Invocation, Result<(), Error>, FromInvocation, FromInvocation::from_invocation;);
impl_guard_fns!(ScheduleGuard, Invocation, Result<(), Error>, FromInvocation, FromInvocation::from_invocation; A1);

decorated_handler!(ScheduleHandler, ScheduleGuard, Invocation, Result<(), Error>);
