//! `#[aws_sns_sqs("topic", queue_name = ..., competing = ..., filter_policy = ...,
//! visibility_timeout = ..., dead_letter_queue_name = ..., max_receive_count = ..., fifo = ...,
//! max_number_of_consumed_messages = ..., message_envelope = ...)]` (alias `#[awssnssqs]`)
//! → `ServiceBuilder::aws_sns_sqs(...)`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ImplItemFn, Type};

use crate::amqp::{extractor_argument, message_argument, message_handler_call, type_name};
use crate::args::{lit_str, Args};
use crate::handler::check_signature;

const ATTRIBUTE_NAMES: &[&str] = &["aws_sns_sqs", "awssnssqs"];

const ARGS: &[&str] = &[
    "topic",
    "queue_name",
    "competing",
    "filter_policy",
    "visibility_timeout",
    "dead_letter_queue_name",
    "max_receive_count",
    "fifo",
    "max_number_of_consumed_messages",
    "message_envelope",
    "proto_class",
    "validator",
    "schema",
];

/// Handler argument names the SNS+SQS transport provides (upstream's keywords).
const NAMES: &[&str] = &[
    "data",
    "message",
    "message_uuid",
    "metadata",
    "service",
    "topic",
    "message_attributes",
    "queue_url",
    "receipt_handle",
    "approximate_receive_count",
    "sns_message_id",
    "sqs_message_id",
    "message_type",
    "raw_message_body",
    "message_timestamp",
    "message_deduplication_id",
    "message_group_id",
];

/// The expression giving one handler argument from `__msg`.
fn argument(name: Option<&str>, ty: &Type, pt: &syn::PatType) -> syn::Result<TokenStream> {
    if let Some(common) = message_argument(name, ty) {
        return common;
    }
    let span = ty.span();
    let info = quote! {
        __msg.aws_sns_sqs().ok_or_else(|| ::tomodachi::Error::msg("not an SNS+SQS message"))?
    };
    let optional = type_name(ty).as_deref() == Some("Option");
    Ok(match name {
        Some(
            field @ ("topic" | "queue_url" | "receipt_handle" | "sns_message_id" | "sqs_message_id"
            | "message_type" | "raw_message_body" | "message_timestamp"),
        ) => {
            let field = syn::Ident::new(field, span);
            quote_spanned! { span => #info.#field.clone() }
        }
        Some("message_attributes") => quote_spanned! { span => #info.message_attributes.clone() },
        Some("approximate_receive_count") => {
            if optional {
                quote_spanned! { span => #info.approximate_receive_count }
            } else {
                quote_spanned! { span => #info.approximate_receive_count.unwrap_or_default() }
            }
        }
        Some(field @ ("message_deduplication_id" | "message_group_id")) => {
            let field = syn::Ident::new(field, span);
            if optional {
                quote_spanned! { span => #info.#field.clone() }
            } else {
                quote_spanned! { span => #info.#field.clone().unwrap_or_default() }
            }
        }
        other => return extractor_argument(other, ty, pt, "SNS+SQS", NAMES),
    })
}

fn is_none(e: &Expr) -> bool {
    matches!(e, Expr::Path(p) if p.path.is_ident("None"))
}

/// The builder call for one `#[aws_sns_sqs(...)]` attribute on `method`.
pub(crate) fn call(method: &ImplItemFn, attr: &Attribute) -> syn::Result<TokenStream> {
    check_signature(method, "an #[aws_sns_sqs] handler")?;
    let args: Args = attr.parse_args()?;
    args.check_names("#[aws_sns_sqs]", ARGS)?;
    if let Some(extra) = args.positional.get(1) {
        return Err(syn::Error::new_spanned(
            extra,
            format!(
                "unexpected argument; after the topic, options are named: {}",
                ARGS[1..].join(", ")
            ),
        ));
    }
    let topic = match (args.positional.first(), args.get("topic")) {
        (Some(_), Some(t)) => {
            return Err(syn::Error::new_spanned(t, "the topic is given twice"));
        }
        (Some(t), None) | (None, Some(t)) if !is_none(t) => Some(lit_str(t, "the topic")?),
        _ => None,
    };
    let queue = match args.get("queue_name") {
        Some(q) if !is_none(q) => Some(lit_str(q, "`queue_name`")?),
        _ => None,
    };
    let fname = method.sig.ident.to_string();
    let mut sub = match (&topic, &queue) {
        (Some(t), _) => quote! { ::tomodachi::aws_sns_sqs::SnsSqsSubscription::topic(#t) },
        (None, Some(q)) => quote! { ::tomodachi::aws_sns_sqs::SnsSqsSubscription::queue(#q) },
        (None, None) => {
            return Err(syn::Error::new_spanned(
                attr,
                "expected a topic or a queue: `#[aws_sns_sqs(\"topic\")]` or \
                 `#[aws_sns_sqs(queue_name = \"queue\")]`",
            ))
        }
    };
    sub = quote! { #sub.name(#fname) };
    if let (Some(_), Some(q)) = (&topic, &queue) {
        sub = quote! { #sub.queue_name(#q) };
    }
    if let Some(c) = args.get("competing").filter(|c| !is_none(c)) {
        sub = quote_spanned! { c.span() => #sub.competing(#c) };
    }
    if let Some(f) = args.get("filter_policy") {
        sub = if is_none(f) {
            quote_spanned! { f.span() => #sub.filter_policy(::tomodachi::__private::into_json_value(())) }
        } else {
            quote_spanned! { f.span() => #sub.filter_policy(::tomodachi::__private::into_json_value(#f)) }
        };
    }
    if let Some(v) = args.get("visibility_timeout").filter(|v| !is_none(v)) {
        sub = quote_spanned! { v.span() => #sub.visibility_timeout(#v) };
    }
    match (
        args.get("dead_letter_queue_name"),
        args.get("max_receive_count"),
    ) {
        (None, None) => {}
        (Some(d), m) if is_none(d) && m.is_none_or(is_none) => {
            sub = quote! { #sub.no_dead_letter_queue() };
        }
        (Some(d), Some(m)) if !is_none(d) && !is_none(m) => {
            let d = lit_str(d, "`dead_letter_queue_name`")?;
            sub = quote_spanned! { m.span() => #sub.dead_letter_queue(#d, #m) };
        }
        (d, m) => {
            let at: &dyn quote::ToTokens = match (d, m) {
                (Some(d), _) => d,
                (None, Some(m)) => m,
                _ => attr,
            };
            return Err(syn::Error::new_spanned(
                at,
                "Invalid values specified for dead-letter queue parameters (dead_letter_queue_name and max_receive_count)",
            ));
        }
    }
    if let Some(f) = args.get("fifo") {
        sub = quote_spanned! { f.span() => #sub.fifo(#f) };
    }
    if let Some(n) = args.get("max_number_of_consumed_messages") {
        sub = quote_spanned! { n.span() => #sub.max_number_of_consumed_messages(#n) };
    }
    let sub = crate::amqp::schema_setter(&args, sub)?;
    let doc = crate::args::doc_setter(method);
    let sub = quote! { #sub #doc };
    let sub = crate::amqp::envelope_setters(&args, sub)?;

    message_handler_call(method, quote! { aws_sns_sqs }, sub, argument)
}

/// Removes the `#[aws_sns_sqs]` attributes from `method` and returns them.
pub(crate) fn take_attrs(method: &mut ImplItemFn) -> Vec<Attribute> {
    let mut taken = Vec::new();
    method.attrs.retain(|a| {
        if ATTRIBUTE_NAMES.iter().any(|n| a.path().is_ident(n)) {
            taken.push(a.clone());
            false
        } else {
            true
        }
    });
    taken
}
