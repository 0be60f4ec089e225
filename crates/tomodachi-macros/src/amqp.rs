//! `#[amqp(routing_key, exchange_name = ..., competing = ..., queue_name = ...,
//! message_envelope = ..., max_attempts = ...)]` → `ServiceBuilder::amqp(...)`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, ImplItemFn, Type};

use crate::args::{lit_str, type_arg, Args};
use crate::handler::{bind_arguments, check_signature, convert_output};

const AMQP_ARGS: &[&str] = &[
    "exchange_name",
    "competing",
    "queue_name",
    "message_envelope",
    "proto_class",
    "validator",
    "max_attempts",
    "serial",
    "schema",
];

/// Handler argument names the AMQP transport provides (upstream's keywords).
const AMQP_NAMES: &[&str] = &[
    "data",
    "message",
    "message_uuid",
    "routing_key",
    "exchange_name",
    "properties",
    "metadata",
    "service",
];

pub(crate) fn type_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        Type::Reference(r) => type_name(&r.elem),
        _ => None,
    }
}

/// The arguments every message transport provides from `__msg`: the message by reference
/// (`&Message`), and upstream's keyword names for the envelope's parts; `None` for other
/// names.
pub(crate) fn message_argument(name: Option<&str>, ty: &Type) -> Option<syn::Result<TokenStream>> {
    let span = ty.span();
    if matches!(ty, Type::Reference(_)) {
        // the message itself, borrowed (the type checker holds it to `&Message`)
        return Some(Ok(quote_spanned! { span => &__msg }));
    }
    Some(Ok(match name {
        Some("data") => quote_spanned! { span => __msg.data::<#ty>()? },
        Some("message") => quote_spanned! { span =>
            ::tomodachi::__private::from_json_value::<#ty>(__msg.message().clone(), "message")?
        },
        Some("metadata") | Some("service") => {
            let key = name.unwrap_or_default();
            quote_spanned! { span =>
                ::tomodachi::__private::from_json_value::<#ty>(
                    __msg.envelope_value(#key).cloned().unwrap_or_default(), #key)?
            }
        }
        Some("message_uuid") => {
            if type_name(ty).as_deref() == Some("Option") {
                quote_spanned! { span => __msg.message_uuid().map(::std::borrow::ToOwned::to_owned) }
            } else {
                quote_spanned! { span => __msg.message_uuid().unwrap_or_default().to_owned() }
            }
        }
        _ => return None,
    }))
}

/// An argument that is not one of the transport's keyword names: a plain value type
/// (`String`, `u64`, ...) is a misspelled name (a compile error listing `names`); any other
/// type must be a `FromMessage` extractor.
pub(crate) fn extractor_argument(
    name: Option<&str>,
    ty: &Type,
    pt: &syn::PatType,
    transport: &str,
    names: &[&str],
) -> syn::Result<TokenStream> {
    let value_like = crate::handler::last_segment(crate::handler::option_inner(ty).unwrap_or(ty))
        .is_some_and(|s| crate::handler::VALUE_TYPES.contains(&s.as_str()));
    if value_like {
        return Err(syn::Error::new_spanned(
            pt,
            format!(
                "unknown argument `{}`: {transport} handlers take {} by name, or any \
                 `FromMessage` type (`&Message`, `Message`, `Data<T>`, `Extension<T>`, ...)",
                name.unwrap_or("_"),
                names.join(", ")
            ),
        ));
    }
    Ok(quote_spanned! { ty.span() =>
        <#ty as ::tomodachi::message::FromMessage>::from_message(&__msg)?
    })
}

/// The expression giving one handler argument from `__msg`.
fn argument(name: Option<&str>, ty: &Type, pt: &syn::PatType) -> syn::Result<TokenStream> {
    if let Some(common) = message_argument(name, ty) {
        return common;
    }
    let span = ty.span();
    let amqp =
        quote! { __msg.amqp().ok_or_else(|| ::tomodachi::Error::msg("not an AMQP message"))? };
    Ok(match name {
        Some("routing_key") => quote_spanned! { span => #amqp.routing_key.clone() },
        Some("exchange_name") => quote_spanned! { span => #amqp.exchange_name.clone() },
        Some("properties") => quote_spanned! { span => #amqp.properties.clone() },
        other => return extractor_argument(other, ty, pt, "AMQP", AMQP_NAMES),
    })
}

/// The builder call for one `#[amqp(...)]` attribute on `method`.
pub(crate) fn amqp_call(method: &ImplItemFn, attr: &Attribute) -> syn::Result<TokenStream> {
    check_signature(method, "an #[amqp] handler")?;
    let args: Args = attr.parse_args()?;
    args.check_names("#[amqp]", AMQP_ARGS)?;
    let Some(rk) = args.positional.first() else {
        return Err(syn::Error::new_spanned(
            attr,
            "expected `#[amqp(\"routing.key\", ...)]`",
        ));
    };
    if let Some(extra) = args.positional.get(1) {
        return Err(syn::Error::new_spanned(
            extra,
            "unexpected argument; options are named: exchange_name, competing, queue_name, message_envelope, max_attempts, serial, schema",
        ));
    }
    let rk = lit_str(rk, "the routing key")?;
    let fname = method.sig.ident.to_string();
    let mut sub = quote! { ::tomodachi::amqp::AmqpSubscription::new(#rk).name(#fname) };
    if let Some(e) = args.get("exchange_name") {
        let e = lit_str(e, "`exchange_name`")?;
        sub = quote! { #sub.exchange_name(#e) };
    }
    if let Some(c) = args.get("competing") {
        sub = quote_spanned! { c.span() => #sub.competing(#c) };
    }
    if let Some(q) = args.get("queue_name") {
        let q = lit_str(q, "`queue_name`")?;
        sub = quote! { #sub.queue_name(#q) };
    }
    if let Some(m) = args.get("max_attempts") {
        sub = quote_spanned! { m.span() => #sub.max_attempts(#m) };
    }
    if let Some(v) = args.get("serial") {
        sub = quote_spanned! { v.span() => #sub.serial(#v) };
    }
    let sub = schema_setter(&args, sub)?;
    let doc = crate::args::doc_setter(method);
    let sub = quote! { #sub #doc };
    let sub = envelope_setters(&args, sub)?;

    message_handler_call(method, quote! { amqp }, sub, argument)
}

/// `schema = T`: the subscription's data schema from `T: schemars::JsonSchema` (tomodachi's
/// `schemars` feature).
pub(crate) fn schema_setter(args: &Args, sub: TokenStream) -> syn::Result<TokenStream> {
    Ok(match args.get("schema") {
        Some(e) => {
            let ty = type_arg(e, "`schema`")?;
            quote_spanned! { e.span() => #sub.schema::<#ty>() }
        }
        None => sub,
    })
}

/// The subscription's envelope from `message_envelope = ...` (`None` for raw), and upstream's
/// `proto_class = Type` / `validator = fn` (ProtobufBase decoding into `Type`).
pub(crate) fn envelope_setters(args: &Args, sub: TokenStream) -> syn::Result<TokenStream> {
    let envelope = args.get("message_envelope");
    let proto_class = args.get("proto_class");
    let validator = args.get("validator");
    if proto_class.is_none() && validator.is_none() {
        return Ok(match envelope {
            Some(syn::Expr::Path(p)) if p.path.is_ident("None") => quote! { #sub.raw() },
            Some(e) => quote_spanned! { e.span() => #sub.envelope(#e) },
            None => sub,
        });
    }
    if let Some(e) = envelope {
        let is_protobuf_base = matches!(e, syn::Expr::Path(p)
            if p.path.segments.last().is_some_and(|s| s.ident == "ProtobufBase"));
        if !is_protobuf_base {
            return Err(syn::Error::new_spanned(
                e,
                "`proto_class` and `validator` go with `message_envelope = ProtobufBase`",
            ));
        }
    }
    let ty = match proto_class {
        Some(syn::Expr::Path(p)) => quote! { #p },
        Some(other) => {
            return Err(syn::Error::new_spanned(
                other,
                "`proto_class` is the prost message type: `proto_class = Person`",
            ))
        }
        None => quote! { _ },
    };
    Ok(match validator {
        Some(v) => quote_spanned! { v.span() =>
            #sub.envelope(::tomodachi::envelope::ProtobufBase::validated::<#ty, _, _>(#v))
        },
        None => quote_spanned! { ty.span() =>
            #sub.envelope(::tomodachi::envelope::ProtobufBase::of::<#ty>())
        },
    })
}

/// `.<builder>(<subscription>, <closure calling the method with its arguments from __msg>)`:
/// the registration every message transport's attribute expands to.
pub(crate) fn message_handler_call(
    method: &ImplItemFn,
    builder: TokenStream,
    subscription: TokenStream,
    argument: impl Fn(Option<&str>, &Type, &syn::PatType) -> syn::Result<TokenStream>,
) -> syn::Result<TokenStream> {
    let handler = message_handler(method, argument)?;
    Ok(quote! { .#builder(#subscription, #handler) })
}

/// The handler closure of a message transport's attribute: calls the method with its
/// arguments from `__msg`.
pub(crate) fn message_handler(
    method: &ImplItemFn,
    argument: impl Fn(Option<&str>, &Type, &syn::PatType) -> syn::Result<TokenStream>,
) -> syn::Result<TokenStream> {
    let name = &method.sig.ident;
    let (lets, call_args) = bind_arguments(method, argument)?;
    let convert = convert_output(
        &method.sig.output,
        quote! { ::tomodachi::__private::HookOutput },
        quote! { into_result },
    );
    crate::decorator::wrap(
        method,
        quote! {
            move |__svc: ::std::sync::Arc<Self>, __msg: ::tomodachi::message::Message| async move {
                #(#lets)*
                let __ret = __svc.#name(#(#call_args),*).await;
                #convert
            }
        },
    )
}

/// Removes the `#[amqp]` attributes from `method` and returns them.
pub(crate) fn take_attrs(method: &mut ImplItemFn) -> Vec<Attribute> {
    let mut taken = Vec::new();
    method.attrs.retain(|a| {
        if a.path().is_ident("amqp") {
            taken.push(a.clone());
            false
        } else {
            true
        }
    });
    taken
}
