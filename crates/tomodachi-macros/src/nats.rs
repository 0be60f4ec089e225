//! `#[nats("subject", name = ..., message_envelope = ..., max_deliver = ...,
//! dead_letter_subject = ..., max_in_flight = ..., ack_wait = Duration, schema = Type)]` →
//! `tomodachi_nats::NatsServiceBuilderExt::nats(builder, NatsSubscription::new(..)..., handler)`.
//!
//! The NATS transport lives in its own crate (`tomodachi-nats`), so the expansion names it by
//! path (`::tomodachi_nats`): a service using `#[nats]` depends on that crate.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, ImplItemFn, Type};

use crate::amqp::{envelope_setters, extractor_argument, message_argument, message_handler};
use crate::args::{lit_str, Args};
use crate::handler::check_signature;

const NATS_ARGS: &[&str] = &[
    "name",
    "message_envelope",
    "proto_class",
    "validator",
    "max_deliver",
    "dead_letter_subject",
    "max_in_flight",
    "ack_wait",
    "schema",
];

/// Handler argument names the NATS transport provides.
const NATS_NAMES: &[&str] = &[
    "data",
    "message",
    "message_uuid",
    "metadata",
    "service",
    "subject",
    "delivered",
    "stream_sequence",
    "headers",
];

/// The expression giving one handler argument from `__msg`.
fn argument(name: Option<&str>, ty: &Type, pt: &syn::PatType) -> syn::Result<TokenStream> {
    if let Some(common) = message_argument(name, ty) {
        return common;
    }
    let span = ty.span();
    let delivery = quote! {
        <::tomodachi_nats::NatsDelivery as ::tomodachi::message::FromMessage>::from_message(&__msg)?
    };
    Ok(match name {
        Some("subject") => quote_spanned! { span => #delivery.subject },
        Some("delivered") => quote_spanned! { span => #delivery.delivered },
        Some("stream_sequence") => quote_spanned! { span => #delivery.stream_sequence },
        Some("headers") => quote_spanned! { span => #delivery.headers },
        other => return extractor_argument(other, ty, pt, "NATS", NATS_NAMES),
    })
}

/// The builder statement for one `#[nats(...)]` attribute on `method`: a call of the NATS
/// crate's builder extension on `__builder`.
pub(crate) fn call(method: &ImplItemFn, attr: &Attribute) -> syn::Result<TokenStream> {
    check_signature(method, "a #[nats] handler")?;
    let args: Args = attr.parse_args()?;
    args.check_names("#[nats]", NATS_ARGS)?;
    let Some(subject) = args.positional.first() else {
        return Err(syn::Error::new_spanned(
            attr,
            "expected `#[nats(\"subject\", ...)]`",
        ));
    };
    if let Some(extra) = args.positional.get(1) {
        return Err(syn::Error::new_spanned(
            extra,
            "unexpected argument; options are named: name, message_envelope, max_deliver, dead_letter_subject, max_in_flight, ack_wait, schema",
        ));
    }
    let subject = lit_str(subject, "the subject")?;
    let name = match args.get("name") {
        Some(n) => {
            let n = lit_str(n, "`name`")?;
            quote! { #n }
        }
        None => {
            let fname = method.sig.ident.to_string();
            quote! { #fname }
        }
    };
    let mut sub = quote! { ::tomodachi_nats::NatsSubscription::new(#subject).name(#name) };
    if let Some(m) = args.get("max_deliver") {
        sub = quote_spanned! { m.span() => #sub.max_deliver(#m) };
    }
    if let Some(d) = args.get("dead_letter_subject") {
        let d = lit_str(d, "`dead_letter_subject`")?;
        sub = quote! { #sub.dead_letter_subject(#d) };
    }
    if let Some(m) = args.get("max_in_flight") {
        sub = quote_spanned! { m.span() => #sub.max_in_flight(#m) };
    }
    if let Some(w) = args.get("ack_wait") {
        sub = quote_spanned! { w.span() => #sub.ack_wait(#w) };
    }
    let sub = envelope_setters(&args, sub)?;
    let sub = crate::amqp::schema_setter(&args, sub)?;
    let handler = message_handler(method, argument)?;
    // the extension trait's method called by path: the service needs no `use` for it
    Ok(quote! {
        ::tomodachi_nats::NatsServiceBuilderExt::nats(__builder, #sub, #handler)
    })
}

/// Removes the `#[nats]` attributes from `method` and returns them.
pub(crate) fn take_attrs(method: &mut ImplItemFn) -> Vec<Attribute> {
    let mut taken = Vec::new();
    method.attrs.retain(|a| {
        if a.path().is_ident("nats") {
            taken.push(a.clone());
            false
        } else {
            true
        }
    });
    taken
}
