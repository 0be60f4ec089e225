//! Generates the builder closure for one handler method: argument resolution by name and type,
//! and a return-type check at the user's span.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ImplItemFn, Pat, ReturnType, Type};

/// What kind of handler the method is, which decides the argument names it may use.
pub(crate) enum Kind<'a> {
    /// A route handler with the named groups of its pattern.
    Route { groups: &'a [String] },
    /// An error handler for a status code.
    Error { status: u16 },
    /// A websocket handler with the named groups of its pattern (and `websocket`).
    WebSocket { groups: &'a [String] },
}

/// Type names that are clearly values, not extractors: an argument of such a type must be a
/// named group (or `status_code`), so a misspelled name is a compile error here.
pub(crate) const VALUE_TYPES: &[&str] = &[
    "String", "str", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128",
    "isize", "f32", "f64", "bool", "char", "Uuid", "Cow",
];

pub(crate) fn last_segment(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        Type::Reference(r) => last_segment(&r.elem),
        _ => None,
    }
}

/// The `T` of `Option<T>`.
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &seg.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

fn is_str_ref(ty: &Type) -> bool {
    matches!(ty, Type::Reference(r) if last_segment(&r.elem).as_deref() == Some("str"))
}

/// Checks the method shape: `async fn name(&self, ...)`.
pub(crate) fn check_signature(method: &ImplItemFn, what: &str) -> syn::Result<()> {
    let sig = &method.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            sig.fn_token,
            format!("{what} must be an `async fn`"),
        ));
    }
    match sig.inputs.first() {
        Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none() => Ok(()),
        Some(other) => Err(syn::Error::new_spanned(
            other,
            format!("{what} must take `&self` as its first argument"),
        )),
        None => Err(syn::Error::new_spanned(
            &sig.ident,
            format!("{what} must take `&self` as its first argument"),
        )),
    }
}

/// `let __argN: Type = <value>;` for every argument after `&self`, with `value` giving the
/// expression from the argument's name (if it is a plain identifier) and type; and the list of
/// `__argN` to call the method with.
pub(crate) fn bind_arguments(
    method: &ImplItemFn,
    value: impl Fn(Option<&str>, &Type, &syn::PatType) -> syn::Result<TokenStream>,
) -> syn::Result<(Vec<TokenStream>, Vec<syn::Ident>)> {
    let mut lets = Vec::new();
    let mut call_args = Vec::new();
    for (i, input) in method.sig.inputs.iter().skip(1).enumerate() {
        let FnArg::Typed(pt) = input else {
            return Err(syn::Error::new_spanned(input, "unexpected receiver"));
        };
        let var = syn::Ident::new(&format!("__arg{i}"), pt.span());
        let ty = &*pt.ty;
        let arg_name = match &*pt.pat {
            Pat::Ident(pi) => Some(pi.ident.to_string()),
            _ => None,
        };
        let expr = value(arg_name.as_deref(), ty, pt)?;
        lets.push(quote_spanned! { ty.span() => let #var: #ty = #expr; });
        call_args.push(var);
    }
    Ok((lets, call_args))
}

/// The closure `move |__svc: Arc<Self>, __req: HttpRequest| async move { ... }`.
pub(crate) fn closure(method: &ImplItemFn, kind: &Kind<'_>) -> syn::Result<TokenStream> {
    let name = &method.sig.ident;
    let (lets, call_args) = bind_arguments(method, |name, ty, pt| resolve(name, ty, kind, pt))?;
    // The return value is converted here, at the user's return type, so a type that is not a
    // response gives one error there (not a second one at the attribute from the builder bound).
    let convert = convert_output(
        &method.sig.output,
        quote! { ::tomodachi::__private::IntoResponse },
        quote! { into_response },
    );
    crate::decorator::wrap(
        method,
        quote! {
            move |__svc: ::std::sync::Arc<Self>, __req: ::tomodachi::http::HttpRequest| async move {
                #(#lets)*
                let __ret = __svc.#name(#(#call_args),*).await;
                #convert
            }
        },
    )
}

/// The closure `move |__svc: Arc<Self>, __ws: WebSocket, __req: HttpRequest| async move { ... }`
/// of a websocket handler.
pub(crate) fn websocket_closure(
    method: &ImplItemFn,
    groups: &[String],
) -> syn::Result<TokenStream> {
    let name = &method.sig.ident;
    let kind = Kind::WebSocket { groups };
    let (lets, call_args) = bind_arguments(method, |name, ty, pt| resolve(name, ty, &kind, pt))?;
    let convert = convert_output(
        &method.sig.output,
        quote! { ::tomodachi::__private::IntoWebSocketCallbacks },
        quote! { into_callbacks },
    );
    Ok(quote! {
        move |__svc: ::std::sync::Arc<Self>,
              __ws: ::tomodachi::http::WebSocket,
              __req: ::tomodachi::http::HttpRequest| async move {
            #(#lets)*
            let __ret = __svc.#name(#(#call_args),*).await;
            #convert
        }
    })
}

/// `<ReturnType as Trait>::method(__ret)`, spanned at the return type (the full type tokens
/// when it names no `impl Trait`).
pub(crate) fn convert_output(
    output: &ReturnType,
    trait_path: TokenStream,
    method: TokenStream,
) -> TokenStream {
    match output {
        ReturnType::Type(_, ty) if !contains_impl(ty) => quote_spanned! { ty.span() =>
            <#ty as #trait_path>::#method(__ret)
        },
        ReturnType::Type(_, ty) => quote_spanned! { ty.span() => #trait_path::#method(__ret) },
        ReturnType::Default => quote! { #trait_path::#method(__ret) },
    }
}

/// Makes elided lifetimes in a handler's return type `'static`.
///
/// A response must be `'static` (`&'static str: IntoResponse`), but in `async fn f(&self) ->
/// (u16, &str)` the elided lifetime is the borrow of `self`, which the generated closure cannot
/// return (E0515, pointing at the attribute). Only elided (`&T`) and anonymous (`'_`) lifetimes
/// are rewritten; named lifetimes and `impl Trait` are left alone.
pub(crate) fn static_elided_lifetimes(method: &mut ImplItemFn) {
    if let ReturnType::Type(_, ty) = &mut method.sig.output {
        make_static(ty);
    }
}

pub(crate) fn make_static(ty: &mut Type) {
    match ty {
        Type::Reference(r) => {
            match &mut r.lifetime {
                None => r.lifetime = Some(syn::Lifetime::new("'static", r.and_token.span)),
                Some(l) if l.ident == "_" => *l = syn::Lifetime::new("'static", l.span()),
                Some(_) => {}
            }
            make_static(&mut r.elem);
        }
        Type::Tuple(t) => t.elems.iter_mut().for_each(make_static),
        Type::Array(a) => make_static(&mut a.elem),
        Type::Slice(s) => make_static(&mut s.elem),
        Type::Paren(p) => make_static(&mut p.elem),
        Type::Group(g) => make_static(&mut g.elem),
        Type::Path(p) => {
            for seg in &mut p.path.segments {
                if let syn::PathArguments::AngleBracketed(a) = &mut seg.arguments {
                    for arg in &mut a.args {
                        match arg {
                            syn::GenericArgument::Type(t) => make_static(t),
                            syn::GenericArgument::Lifetime(l) if l.ident == "_" => {
                                *l = syn::Lifetime::new("'static", l.span());
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

fn contains_impl(ty: &Type) -> bool {
    match ty {
        Type::ImplTrait(_) => true,
        Type::Reference(r) => contains_impl(&r.elem),
        Type::Tuple(t) => t.elems.iter().any(contains_impl),
        Type::Path(p) => p.path.segments.iter().any(|s| match &s.arguments {
            syn::PathArguments::AngleBracketed(a) => a.args.iter().any(|g| match g {
                syn::GenericArgument::Type(t) => contains_impl(t),
                _ => false,
            }),
            _ => false,
        }),
        _ => false,
    }
}

fn resolve(
    name: Option<&str>,
    ty: &Type,
    kind: &Kind<'_>,
    spanned: &syn::PatType,
) -> syn::Result<TokenStream> {
    let span = ty.span();
    if name == Some("request") {
        return Ok(if matches!(ty, Type::Reference(_)) {
            quote_spanned! { span => &__req }
        } else {
            quote_spanned! { span => ::core::clone::Clone::clone(&__req) }
        });
    }
    match kind {
        Kind::Route { groups } => {
            if let Some(n) = name.filter(|n| groups.iter().any(|g| g == n)) {
                return Ok(group_value(n, ty));
            }
        }
        Kind::WebSocket { groups } => {
            if name == Some("websocket") || last_segment(ty).as_deref() == Some("WebSocket") {
                return Ok(if matches!(ty, Type::Reference(_)) {
                    quote_spanned! { span => &__ws }
                } else {
                    quote_spanned! { span => ::core::clone::Clone::clone(&__ws) }
                });
            }
            if let Some(n) = name.filter(|n| groups.iter().any(|g| g == n)) {
                return Ok(group_value(n, ty));
            }
        }
        Kind::Error { status } => {
            if name == Some("status_code") {
                // `u16 -> u16` (or `-> u32`) through `TryFrom` would trip clippy in user code.
                return Ok(quote_spanned! { span =>
                    {
                        #[allow(clippy::useless_conversion, clippy::unnecessary_fallible_conversions)]
                        let __status = ::core::convert::TryFrom::try_from(
                            __req.error_status().unwrap_or(#status),
                        );
                        __status.map_err(|_| {
                            ::tomodachi::Error::msg("status_code does not fit the argument type")
                        })?
                    }
                });
            }
        }
    }
    let value_like = last_segment(option_inner(ty).unwrap_or(ty))
        .is_some_and(|s| VALUE_TYPES.contains(&s.as_str()));
    if value_like || name.is_none() && matches!(ty, Type::Reference(_)) {
        let valid = match kind {
            Kind::Route { groups } => {
                let mut v = vec!["request".to_owned()];
                v.extend(groups.iter().cloned());
                v
            }
            Kind::Error { .. } => vec!["request".to_owned(), "status_code".to_owned()],
            Kind::WebSocket { groups } => {
                let mut v = vec!["websocket".to_owned(), "request".to_owned()];
                v.extend(groups.iter().cloned());
                v
            }
        };
        let shown = name.unwrap_or("_");
        return Err(syn::Error::new_spanned(
            spanned,
            format!(
                "unknown argument `{shown}`: valid argument names for this handler are {}; \
                 other arguments must be extractor types (Json<T>, Query<T>, Extension<T>, \
                 HeaderMap, Bytes, or any FromRequest)",
                valid.join(", ")
            ),
        ));
    }
    Ok(quote_spanned! { span =>
        <#ty as ::tomodachi::__private::FromRequest>::from_request(&__req)?
    })
}

/// A named group's value: `&str`, `Option<T>` (absent group → `None`) or any `FromStr`
/// (a failed parse answers 400).
fn group_value(name: &str, ty: &Type) -> TokenStream {
    let span = ty.span();
    if is_str_ref(ty) {
        return quote_spanned! { span =>
            __req.param(#name).ok_or_else(|| ::tomodachi::Error::http(400))?
        };
    }
    if let Some(inner) = option_inner(ty) {
        if is_str_ref(inner) {
            return quote_spanned! { span => __req.param(#name) };
        }
        return quote_spanned! { span =>
            match __req.param(#name) {
                ::core::option::Option::Some(__v) => ::core::option::Option::Some(
                    __v.parse::<#inner>().map_err(|_| ::tomodachi::Error::http(400))?
                ),
                ::core::option::Option::None => ::core::option::Option::None,
            }
        };
    }
    quote_spanned! { span => __req.parse_param::<#ty>(#name)? }
}
