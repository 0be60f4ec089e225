//! `#[tomodachi::service]`: walks the impl block and generates `IntoService`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ImplItem, ImplItemFn, ItemImpl};

use crate::args::{lit_str, lit_u16, Args};
use crate::handler::{
    check_signature, closure, convert_output, static_elided_lifetimes, websocket_closure, Kind,
};
use crate::route::check_pattern;

const SERVICE_ARGS: &[&str] = &[
    "name",
    "options",
    "uuid",
    "http_middleware",
    "message_envelope",
    "message_middleware",
];
const HTTP_ARGS: &[&str] = &["ignore_logging", "name", "body", "response"];
const HTTP_ERROR_ARGS: &[&str] = &["status_code"];
const WEBSOCKET_ARGS: &[&str] = &["name", "max_message_size", "max_frame_size"];
const HOOKS: &[(&str, &str)] = &[
    ("start_service", "on_start"),
    ("started_service", "on_started"),
    ("stopping_service", "on_stopping"),
    ("stop_service", "on_stop"),
];

fn is_attr(attr: &Attribute, name: &str) -> bool {
    attr.path().is_ident(name)
}

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args: Args = syn::parse2(attr)?;
    args.check_names("#[tomodachi::service]", SERVICE_ARGS)?;
    if let Some(p) = args.positional.first() {
        return Err(syn::Error::new_spanned(
            p,
            "expected `name = \"...\"` (and optionally `options = ...`, `uuid = ...`, `http_middleware = [...]`)",
        ));
    }
    let mut imp: ItemImpl = syn::parse2(item)?;
    if let Some((_, path, _)) = &imp.trait_ {
        return Err(syn::Error::new_spanned(
            path,
            "#[tomodachi::service] goes on an inherent `impl Type { ... }` block",
        ));
    }
    if !imp.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &imp.generics,
            "#[tomodachi::service] does not support generic services",
        ));
    }

    let name = match args.get("name") {
        Some(e) => {
            let s = lit_str(e, "`name`")?;
            quote! { #s }
        }
        None => quote! { "service" },
    };
    let mut calls = Vec::new();
    // registrations of transports outside the library: expressions on `__builder`
    let mut external_calls = Vec::new();
    if let Some(options) = args.get("options") {
        calls.push(quote_spanned! { options.span() => .options(#options) });
    }
    if let Some(uuid) = args.get("uuid") {
        let s = lit_str(uuid, "`uuid`")?;
        calls.push(quote! { .uuid(#s) });
    }
    if let Some(mws) = args.get("http_middleware") {
        let Expr::Array(arr) = mws else {
            return Err(syn::Error::new_spanned(
                mws,
                "`http_middleware` must be a list: `http_middleware = [first, second]`",
            ));
        };
        for mw in &arr.elems {
            calls.push(quote_spanned! { mw.span() => .http_middleware(#mw) });
        }
    }

    if let Some(envelope) = args.get("message_envelope") {
        calls.push(quote_spanned! { envelope.span() => .message_envelope(#envelope) });
    }
    if let Some(mws) = args.get("message_middleware") {
        let Expr::Array(arr) = mws else {
            return Err(syn::Error::new_spanned(
                mws,
                "`message_middleware` must be a list: `message_middleware = [first, second]`",
            ));
        };
        for mw in &arr.elems {
            calls.push(quote_spanned! { mw.span() => .message_middleware(#mw) });
        }
    }

    for item in &mut imp.items {
        let ImplItem::Fn(method) = item else { continue };
        let mut amqp_attrs = crate::amqp::take_attrs(method);
        for attr in &amqp_attrs {
            calls.push(crate::amqp::amqp_call(method, attr)?);
        }
        let sns_sqs_attrs = crate::aws_sns_sqs::take_attrs(method);
        for attr in &sns_sqs_attrs {
            calls.push(crate::aws_sns_sqs::call(method, attr)?);
        }
        amqp_attrs.extend(sns_sqs_attrs);
        let nats_attrs = crate::nats::take_attrs(method);
        for attr in &nats_attrs {
            external_calls.push(crate::nats::call(method, attr)?);
        }
        amqp_attrs.extend(nats_attrs);
        for attr in &crate::http_static::take_attrs(method) {
            calls.push(crate::http_static::call(method, attr)?);
        }
        let (http_attrs, error_attrs) = take_attrs(method);
        let ws_attrs = take_websocket_attrs(method);
        if !http_attrs.is_empty() || !error_attrs.is_empty() {
            static_elided_lifetimes(method);
        }
        for attr in &ws_attrs {
            calls.push(websocket_route(method, attr)?);
        }
        for attr in &http_attrs {
            calls.push(http_route(method, attr)?);
        }
        for attr in &error_attrs {
            calls.push(http_error(method, attr)?);
        }
        let schedule_attrs = crate::schedule::take_attrs(method);
        for attr in &schedule_attrs {
            calls.push(crate::schedule::expand(method, attr)?);
        }
        let is_handler = !http_attrs.is_empty()
            || !error_attrs.is_empty()
            || !schedule_attrs.is_empty()
            || !amqp_attrs.is_empty();
        crate::decorator::take_attrs(method, is_handler)?;
        let fname = method.sig.ident.to_string();
        if let Some((_, builder_fn)) = HOOKS.iter().find(|(h, _)| *h == fname) {
            if !http_attrs.is_empty()
                || !ws_attrs.is_empty()
                || !error_attrs.is_empty()
                || !schedule_attrs.is_empty()
                || !amqp_attrs.is_empty()
            {
                return Err(syn::Error::new_spanned(
                    &method.sig.ident,
                    format!("`{fname}` is a lifecycle hook and cannot also be a handler"),
                ));
            }
            calls.push(hook(method, builder_fn)?);
        }
    }

    let self_ty = &imp.self_ty;
    Ok(quote! {
        #imp

        impl ::tomodachi::IntoService for #self_ty {
            fn into_service(self) -> ::tomodachi::Service {
                let __builder = ::tomodachi::Service::builder(#name, self)
                    #(#calls)*;
                #(let __builder = #external_calls;)*
                __builder.build()
            }
        }
    })
}

/// Removes our attributes from the method, returning the `#[http]` and `#[http_error]` ones.
fn take_attrs(method: &mut ImplItemFn) -> (Vec<Attribute>, Vec<Attribute>) {
    let mut http = Vec::new();
    let mut error = Vec::new();
    method.attrs.retain(|a| {
        if is_attr(a, "http") {
            http.push(a.clone());
            false
        } else if is_attr(a, "http_error") {
            error.push(a.clone());
            false
        } else {
            true
        }
    });
    (http, error)
}

/// Removes the `#[websocket]` (alias `#[ws]`) attributes from the method and returns them.
fn take_websocket_attrs(method: &mut ImplItemFn) -> Vec<Attribute> {
    let mut found = Vec::new();
    method.attrs.retain(|a| {
        if is_attr(a, "websocket") || is_attr(a, "ws") {
            found.push(a.clone());
            false
        } else {
            true
        }
    });
    found
}

fn websocket_route(method: &ImplItemFn, attr: &Attribute) -> syn::Result<TokenStream> {
    check_signature(method, "a #[websocket] handler")?;
    let args: Args = attr.parse_args()?;
    args.check_names("#[websocket]", WEBSOCKET_ARGS)?;
    let Some(p) = args.positional.first() else {
        return Err(syn::Error::new_spanned(
            attr,
            "expected `#[websocket(r\"/path/regex\")]`",
        ));
    };
    if let Some(extra) = args.positional.get(1) {
        return Err(syn::Error::new_spanned(
            extra,
            "unexpected argument; #[websocket] takes a pattern, `name`, `max_message_size` and `max_frame_size`",
        ));
    }
    let pattern = lit_str(p, "the route pattern")?;
    let groups = check_pattern(&pattern.value()).map_err(|e| syn::Error::new(pattern.span(), e))?;
    let handler = websocket_closure(method, &groups)?;
    let fname = match args.get("name") {
        Some(n) => lit_str(n, "`name`")?.value(),
        None => method.sig.ident.to_string(),
    };
    let mut options = Vec::new();
    for key in ["max_message_size", "max_frame_size"] {
        if let Some(e) = args.get(key) {
            let setter = syn::Ident::new(key, Span::call_site());
            options.push(quote_spanned! { e.span() => .#setter(#e) });
        }
    }
    Ok(quote! {
        .websocket_route(
            ::tomodachi::http::WebSocketRoute::new(#pattern).name(#fname) #(#options)*,
            #handler
        )
    })
}

/// The methods argument: `GET`, `"get"`, `[GET, POST]`.
fn methods(expr: &Expr) -> syn::Result<Vec<String>> {
    let one = |e: &Expr| -> syn::Result<String> {
        let m = match e {
            Expr::Path(p) if p.path.get_ident().is_some() => p
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default(),
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => s.value(),
            other => {
                return Err(syn::Error::new_spanned(
                    other,
                    "expected an HTTP method such as GET, \"POST\" or [GET, POST]",
                ))
            }
        };
        let upper = m.to_ascii_uppercase();
        if upper.is_empty() || !upper.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') {
            return Err(syn::Error::new_spanned(
                e,
                format!("invalid HTTP method `{m}`"),
            ));
        }
        Ok(upper)
    };
    match expr {
        Expr::Array(arr) => arr.elems.iter().map(one).collect(),
        e => Ok(vec![one(e)?]),
    }
}

fn http_route(method: &ImplItemFn, attr: &Attribute) -> syn::Result<TokenStream> {
    check_signature(method, "an #[http] handler")?;
    let args: Args = attr.parse_args()?;
    args.check_names("#[http]", HTTP_ARGS)?;
    let (Some(m), Some(p)) = (args.positional.first(), args.positional.get(1)) else {
        return Err(syn::Error::new_spanned(
            attr,
            "expected `#[http(METHOD, r\"/path/regex\")]`",
        ));
    };
    if let Some(extra) = args.positional.get(2) {
        return Err(syn::Error::new_spanned(
            extra,
            "unexpected argument; #[http] takes a method, a pattern and `ignore_logging = ...`",
        ));
    }
    let methods = methods(m)?;
    let pattern = lit_str(p, "the route pattern")?;
    let groups = check_pattern(&pattern.value()).map_err(|e| syn::Error::new(pattern.span(), e))?;
    let handler = closure(method, &Kind::Route { groups: &groups })?;
    let fname = match args.get("name") {
        Some(n) => lit_str(n, "`name`")?.value(),
        None => method.sig.ident.to_string(),
    };
    let ignore = match args.get("ignore_logging") {
        Some(e) => quote_spanned! { e.span() => .ignore_logging(#e) },
        None => quote! {},
    };
    let doc = crate::args::doc_setter(method);
    let mut schemas = quote! {};
    for (key, setter) in [("body", quote! { body }), ("response", quote! { response })] {
        if let Some(e) = args.get(key) {
            let ty = crate::args::type_arg(e, &format!("`{key}`"))?;
            schemas = quote_spanned! { e.span() => #schemas .#setter::<#ty>() };
        }
    }
    Ok(quote! {
        .http_route(
            ::tomodachi::http::HttpRoute::new([#(#methods),*], #pattern).name(#fname) #ignore #schemas #doc,
            #handler
        )
    })
}

fn http_error(method: &ImplItemFn, attr: &Attribute) -> syn::Result<TokenStream> {
    check_signature(method, "an #[http_error] handler")?;
    let args: Args = attr.parse_args()?;
    args.check_names("#[http_error]", HTTP_ERROR_ARGS)?;
    let status_expr = match (args.positional.first(), args.get("status_code")) {
        (Some(e), None) | (None, Some(e)) => e,
        _ => {
            return Err(syn::Error::new_spanned(
                attr,
                "expected `#[http_error(status_code = N)]`",
            ))
        }
    };
    let status = lit_u16(status_expr, "`status_code`")?;
    if !(100..=999).contains(&status) {
        return Err(syn::Error::new_spanned(
            status_expr,
            "`status_code` must be an HTTP status code (100-999)",
        ));
    }
    let handler = closure(method, &Kind::Error { status })?;
    Ok(quote! { .http_error(#status, #handler) })
}

fn hook(method: &ImplItemFn, builder_fn: &str) -> syn::Result<TokenStream> {
    let what = format!("the `{}` hook", method.sig.ident);
    check_signature(method, &what)?;
    if method.sig.inputs.len() > 1 {
        let extra = method.sig.inputs.iter().skip(1);
        return Err(syn::Error::new_spanned(
            quote! { #(#extra),* },
            format!("{what} takes only `&self`"),
        ));
    }
    let name = &method.sig.ident;
    let builder_fn = syn::Ident::new(builder_fn, Span::call_site());
    let convert = convert_output(
        &method.sig.output,
        quote! { ::tomodachi::__private::HookOutput },
        quote! { into_result },
    );
    Ok(quote! {
        .#builder_fn(|__svc: ::std::sync::Arc<Self>| async move {
            let __ret = __svc.#name().await;
            #convert
        })
    })
}
