//! Attribute macros for [tomodachi](https://docs.rs/tomodachi).
//!
//! `#[tomodachi::service(...)]` on an `impl` block turns the methods marked `#[http(...)]`,
//! `#[http_error(...)]`, `#[http_static(...)]` and the lifecycle hooks (`start_service`, `started_service`,
//! `stopping_service`, `stop_service`) into calls of tomodachi's `ServiceBuilder`. Everything
//! generated is plain builder API; see that crate for the runtime behaviour.

extern crate proc_macro;

mod amqp;
mod args;
mod aws_sns_sqs;
mod decorator;
mod handler;
mod http_static;
mod nats;
mod route;
mod schedule;
mod service;

use proc_macro::TokenStream;

/// Defines a tomodachi service from an `impl` block.
///
/// Arguments: `name = "..."` (default `"service"`), `options = <expr of type Options>`,
/// `uuid = "..."`, `http_middleware = [fn_a, fn_b]` (outermost first),
/// `message_envelope = JsonBase`, `message_middleware = [fn_a, fn_b]`.
///
/// Inside the block:
/// - `#[http(METHOD, r"regex", ignore_logging = true | [codes], body = Type, response = Type)]`
///   (stackable; `METHOD` is an identifier, a string or a list `[GET, POST]`) on
///   `async fn name(&self, ...)`; `body` / `response` put the JSON Schemas of the request and
///   response bodies in the OpenAPI document (tomodachi's `schemars` feature);
/// - `#[http_error(status_code = N)]` on `async fn name(&self, ...)`;
/// - `#[websocket(r"regex", max_message_size = N, max_frame_size = N)]` (alias `#[ws]`) on
///   `async fn name(&self, ...)` with arguments `websocket: WebSocket`, `request: HttpRequest`,
///   the named groups, or extractors, returning `WebSocketCallbacks`, `()` or a `Result` of
///   them;
/// - `#[http_static("folder", r"/base/", ignore_logging = true | [codes], name = "...")]`
///   (stackable) on any method, whose body is never run (as upstream's decorated function):
///   serves the folder's files under the base URL regex (GET and HEAD); a relative folder is
///   resolved against the working directory; see `ServiceBuilder::http_static`;
/// - `#[schedule(interval = 5 | "5 seconds" | "*/5 * * * *", timestamp = "22:00",
///   timezone = "Europe/Stockholm", immediately = true)]` (alias `#[scheduler]`), and the
///   shorthands `#[heartbeat]` / `#[every_second]` (every second), `#[minutely]`, `#[hourly]`,
///   `#[daily]`, `#[monthly]`, on `async fn name(&self)` with optional arguments
///   `invocation_time: String` (or `&str`) and `interval: Option<String>` (or
///   `Option<&str>`), returning `()` or `Result<(), E>`. Literal values are checked at
///   compile time (a bad crontab expression or zone name is an error here); other
///   expressions are checked when the service starts;
/// - `#[amqp("routing.key", exchange_name = "...", competing = true, queue_name = "...",
///   message_envelope = None | Envelope, proto_class = Type, validator = fn, max_attempts = N,
///   serial = true, schema = Type)]` on `async fn name(&self, ...)` (`schema`: the JSON Schema
///   of the data in the AsyncAPI document, with tomodachi's `schemars` feature)
///   with arguments by name (`data`, `message`, `message_uuid`, `routing_key`,
///   `exchange_name`, `properties`, `metadata`, `service`) or type (`&Message`,
///   `Extension<T>`), returning `()` or `Result<(), E>`;
/// - `#[aws_sns_sqs("topic", queue_name = "...", competing = true, filter_policy = json,
///   visibility_timeout = N, dead_letter_queue_name = "..." | None, max_receive_count = N,
///   fifo = true, max_number_of_consumed_messages = N, message_envelope = None | Envelope,
///   proto_class = Type, validator = fn, schema = Type)]`
///   (alias `#[awssnssqs]`; `queue_name` alone consumes a queue without a topic) with
///   arguments by name (`data`, `message`, `message_uuid`, `metadata`, `service`, `topic`,
///   `message_attributes`, `queue_url`, `receipt_handle`, `approximate_receive_count`,
///   `sns_message_id`, `sqs_message_id`, `message_type`, `raw_message_body`,
///   `message_timestamp`, `message_deduplication_id`, `message_group_id`) or type
///   (`&Message`, `Extension<T>`), returning `()` or `Result<(), E>`;
/// - `#[nats("subject", name = "...", message_envelope = None | Envelope, proto_class = Type,
///   validator = fn, max_deliver = N, dead_letter_subject = "...", max_in_flight = N,
///   ack_wait = Duration, schema = Type)]` on
///   `async fn name(&self, ...)`: a NATS JetStream handler of the `tomodachi-nats` crate (the
///   service depends on it; the expansion calls `tomodachi_nats::NatsServiceBuilderExt::nats`),
///   with arguments by name (`data`, `message`, `message_uuid`, `metadata`, `service`,
///   `subject`, `delivered`, `stream_sequence`, `headers`) or type (`&Message`, `NatsDelivery`,
///   `Extension<T>`), returning `()` or `Result<(), E>`;
/// - `#[decorate(guard_a, guard_b)]` below any handler attribute: guards (see
///   `#[tomodachi::decorator]` and `tomodachi::decorator`) that run before the handler, the
///   first named outermost, and either let it run or answer instead;
/// - the hooks `async fn start_service(&self)`, `started_service`, `stopping_service`,
///   `stop_service`, returning `()` or `Result<(), E>`.
///
/// Handler arguments are resolved by name (`request`, the route's named groups parsed with
/// `FromStr`, `status_code` in error handlers) or by type (`Json<T>`, `Query<T>`,
/// `Extension<T>`, `HeaderMap`, `Bytes`, any `FromRequest`).
#[proc_macro_attribute]
pub fn service(attr: TokenStream, item: TokenStream) -> TokenStream {
    match service::expand(attr.into(), item.into()) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

/// Turns a function into a decorator guard (upstream's `@tomodachi.decorator`), to name in
/// `#[decorate(...)]` on handlers or to pass to `tomodachi::decorator::decorate`.
///
/// The guard may be sync or async and may borrow its arguments: the first is the service
/// (`&MyService` or `Arc<MyService>`), the others are extractors of the handler's kind
/// (`&HttpRequest`, `HeaderMap`, `&Message`, `Data<T>`, `&Invocation`, ...). It returns `()` or
/// `None` to let the handler run, `Some(answer)` to answer instead (an HTTP response; for a
/// message `Some(())`), or an `Err` (see `tomodachi::decorator`).
///
/// ```ignore
/// #[tomodachi::decorator]
/// fn count_invocations(service: &MyService) -> Option<&'static str> {
///     service.calls.fetch_add(1, Ordering::Relaxed);
///     Some("0")
/// }
///
/// #[tomodachi::service]
/// impl MyService {
///     #[http(GET, r"/count")]
///     #[decorate(count_invocations)]
///     async fn count(&self) -> &'static str { "1" }
/// }
/// ```
#[proc_macro_attribute]
pub fn decorator(attr: TokenStream, item: TokenStream) -> TokenStream {
    match decorator::expand(attr.into(), item.into()) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}
