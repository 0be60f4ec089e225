//! `#[schedule(...)]`, `#[scheduler(...)]`, `#[heartbeat]`, `#[every_second]`, `#[minutely]`,
//! `#[hourly]`, `#[daily]`, `#[monthly]`: scheduled functions, validated at compile time when
//! their values are literals.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Attribute, Expr, FnArg, ImplItemFn, Lit, Pat, Type};
use tomodachi_cron::{parse_timezone, Interval, ScheduleSpec};

use crate::args::Args;
use crate::handler::{check_signature, convert_output};

/// The attribute names, and the interval the shorthand ones stand for.
const ATTRS: &[(&str, Option<Shorthand>)] = &[
    ("schedule", None),
    ("scheduler", None),
    ("heartbeat", Some(Shorthand::Seconds(1))),
    ("every_second", Some(Shorthand::Seconds(1))),
    ("minutely", Some(Shorthand::Word("minutely"))),
    ("hourly", Some(Shorthand::Word("hourly"))),
    ("daily", Some(Shorthand::Word("daily"))),
    ("monthly", Some(Shorthand::Word("monthly"))),
];
const SCHEDULE_ARGS: &[&str] = &["interval", "timestamp", "timezone", "immediately"];
const HANDLER_ARGS: &str = "invocation_time, interval";

#[derive(Clone, Copy)]
enum Shorthand {
    Seconds(i64),
    Word(&'static str),
}

fn schedule_attr(attr: &Attribute) -> Option<(&'static str, Option<Shorthand>)> {
    ATTRS
        .iter()
        .find(|(name, _)| attr.path().is_ident(name))
        .copied()
}

/// Removes the scheduling attributes from the method and returns them.
pub(crate) fn take_attrs(method: &mut ImplItemFn) -> Vec<Attribute> {
    let mut taken = Vec::new();
    method.attrs.retain(|a| {
        if schedule_attr(a).is_some() {
            taken.push(a.clone());
            false
        } else {
            true
        }
    });
    taken
}

fn str_lit(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.value()),
        Expr::Group(g) => str_lit(&g.expr),
        _ => None,
    }
}

/// An integer literal, possibly negated.
fn int_lit(expr: &Expr) -> Option<syn::Result<i64>> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(i), ..
        }) => Some(i.base10_parse::<i64>()),
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => int_lit(expr).map(|r| r.map(|n| -n)),
        Expr::Group(g) => int_lit(&g.expr),
        _ => None,
    }
}

/// The `interval` argument: a literal checked now, or any expression checked at start.
fn interval_tokens(expr: &Expr) -> syn::Result<TokenStream> {
    let literal = match int_lit(expr) {
        Some(n) => Some(Interval::Seconds(n?)),
        None => str_lit(expr).map(Interval::Text),
    };
    if let Some(interval) = literal {
        if let Err(e) = ScheduleSpec::interval(interval.clone())
            .timezone("UTC")
            .parse()
        {
            return Err(syn::Error::new_spanned(expr, e.to_string()));
        }
        return Ok(match interval {
            Interval::Seconds(n) => quote_spanned! { expr.span() =>
                ::tomodachi::schedule::ScheduleSpec::interval(
                    ::tomodachi::schedule::Interval::Seconds(#n)
                )
            },
            Interval::Text(s) => quote_spanned! { expr.span() =>
                ::tomodachi::schedule::ScheduleSpec::interval(#s)
            },
        });
    }
    Ok(quote_spanned! { expr.span() =>
        ::tomodachi::schedule::ScheduleSpec::interval(
            ::core::convert::Into::<::tomodachi::schedule::Interval>::into(#expr)
        )
    })
}

fn timestamp_tokens(expr: &Expr) -> syn::Result<TokenStream> {
    if let Some(stamp) = str_lit(expr) {
        if let Err(e) = ScheduleSpec::timestamp(stamp.as_str())
            .timezone("UTC")
            .parse()
        {
            return Err(syn::Error::new_spanned(expr, e.to_string()));
        }
        return Ok(quote_spanned! { expr.span() =>
            ::tomodachi::schedule::ScheduleSpec::timestamp(#stamp)
        });
    }
    Ok(quote_spanned! { expr.span() =>
        ::tomodachi::schedule::ScheduleSpec::timestamp(
            ::core::convert::Into::<::std::string::String>::into(#expr)
        )
    })
}

/// `ScheduleSpec::...` for one attribute.
fn spec(attr: &Attribute, name: &str, shorthand: Option<Shorthand>) -> syn::Result<TokenStream> {
    if let Some(short) = shorthand {
        if !matches!(attr.meta, syn::Meta::Path(_)) {
            return Err(syn::Error::new_spanned(
                attr,
                format!(
                    "#[{name}] takes no arguments; use #[schedule(interval = ..., timezone = ..., \
                     immediately = ...)] for more"
                ),
            ));
        }
        return Ok(match short {
            Shorthand::Seconds(n) => quote! {
                ::tomodachi::schedule::ScheduleSpec::interval(
                    ::tomodachi::schedule::Interval::Seconds(#n)
                )
            },
            Shorthand::Word(w) => quote! { ::tomodachi::schedule::ScheduleSpec::interval(#w) },
        });
    }
    let what = format!("#[{name}]");
    let usage = format!(
        "expected `#[{name}(interval = ...)]` or `#[{name}(timestamp = \"HH:MM\")]`, optionally \
         with `timezone = \"...\"` and `immediately = true`"
    );
    let args: Args = match &attr.meta {
        syn::Meta::List(_) => attr.parse_args()?,
        _ => return Err(syn::Error::new_spanned(attr, usage)),
    };
    args.check_names(&what, SCHEDULE_ARGS)?;
    if let Some(extra) = args.positional.get(1) {
        return Err(syn::Error::new_spanned(extra, usage));
    }
    let interval = match (args.positional.first(), args.get("interval")) {
        (Some(p), Some(_)) => {
            return Err(syn::Error::new_spanned(p, "the interval is given twice"));
        }
        (p, n) => p.or(n),
    };
    let timestamp = args.get("timestamp");
    let mut tokens = match (interval, timestamp) {
        (Some(i), None) => interval_tokens(i)?,
        (None, Some(t)) => timestamp_tokens(t)?,
        (Some(_), Some(t)) => {
            return Err(syn::Error::new_spanned(
                t,
                "give either `interval` or `timestamp`, not both",
            ))
        }
        (None, None) => return Err(syn::Error::new_spanned(attr, usage)),
    };
    if let Some(tz) = args.get("timezone") {
        if let Some(name) = str_lit(tz) {
            if let Err(e) = parse_timezone(Some(&name)) {
                return Err(syn::Error::new_spanned(tz, e.to_string()));
            }
        }
        tokens.extend(quote_spanned! { tz.span() => .timezone(#tz) });
    }
    if let Some(immediately) = args.get("immediately") {
        tokens.extend(quote_spanned! { immediately.span() => .immediately(#immediately) });
    }
    Ok(tokens)
}

fn is_reference(ty: &Type) -> bool {
    matches!(ty, Type::Reference(_))
}

/// `Option<&T>`.
fn is_option_of_reference(ty: &Type) -> bool {
    let Type::Path(p) = ty else { return false };
    let Some(seg) = p.path.segments.last() else {
        return false;
    };
    let syn::PathArguments::AngleBracketed(args) = &seg.arguments else {
        return false;
    };
    seg.ident == "Option"
        && matches!(
            args.args.first(),
            Some(syn::GenericArgument::Type(Type::Reference(_)))
        )
}

/// `.schedule(name, spec, closure)` for one scheduling attribute on `method`.
pub(crate) fn expand(method: &ImplItemFn, attr: &Attribute) -> syn::Result<TokenStream> {
    let (attr_name, shorthand) = schedule_attr(attr)
        .ok_or_else(|| syn::Error::new_spanned(attr, "not a scheduling attribute"))?;
    check_signature(method, "a scheduled function")?;
    let spec = spec(attr, attr_name, shorthand)?;

    let mut lets = Vec::new();
    let mut call_args = Vec::new();
    for (i, input) in method.sig.inputs.iter().skip(1).enumerate() {
        let FnArg::Typed(pt) = input else {
            return Err(syn::Error::new_spanned(input, "unexpected receiver"));
        };
        let ty = &*pt.ty;
        let var = syn::Ident::new(&format!("__arg{i}"), pt.span());
        let name = match &*pt.pat {
            Pat::Ident(pi) => pi.ident.to_string(),
            other => other.to_token_stream().to_string(),
        };
        let value = match name.as_str() {
            "invocation_time" if is_reference(ty) => {
                quote_spanned! { ty.span() => &__inv.invocation_time }
            }
            "invocation_time" => {
                quote_spanned! { ty.span() => ::core::clone::Clone::clone(&__inv.invocation_time) }
            }
            "interval" if is_option_of_reference(ty) => {
                quote_spanned! { ty.span() => __inv.interval.as_deref() }
            }
            "interval" if is_reference(ty) => quote_spanned! { ty.span() => &__inv.interval },
            "interval" => {
                quote_spanned! { ty.span() => ::core::clone::Clone::clone(&__inv.interval) }
            }
            _ => {
                return Err(syn::Error::new_spanned(
                    pt,
                    format!(
                        "unknown argument `{name}`: valid argument names for a scheduled \
                         function are {HANDLER_ARGS}"
                    ),
                ))
            }
        };
        lets.push(quote_spanned! { ty.span() => let #var: #ty = #value; });
        call_args.push(var);
    }
    let fn_name = &method.sig.ident;
    let log_name = fn_name.to_string();
    let convert = convert_output(
        &method.sig.output,
        quote! { ::tomodachi::__private::HookOutput },
        quote! { into_result },
    );
    let handler = crate::decorator::wrap(
        method,
        quote! {
            move |__svc: ::std::sync::Arc<Self>, __inv: ::tomodachi::schedule::Invocation| async move {
                #(#lets)*
                let __ret = __svc.#fn_name(#(#call_args),*).await;
                #convert
            }
        },
    )?;
    Ok(quote! { .schedule(#log_name, #spec, #handler) })
}
