//! `#[tomodachi::decorator]` on a guard function, and `#[decorate(...)]` on handlers inside
//! `#[tomodachi::service]`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, FnArg, ImplItemFn, ItemFn, Pat, ReturnType, Token, Type};

use crate::handler::make_static;

/// Rewrites a guard written with borrowed arguments into one the builder takes:
/// `fn g(service: &Svc, request: &HttpRequest) -> O` becomes
/// `fn g(service: Arc<Svc>, request: HttpRequest) -> impl Future<Output = O> + Send + 'static`,
/// the body running in an `async move` block with the references rebound (a sync `fn` becomes
/// async the same way). The first argument is the service; the others are extractors.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    if !attr.is_empty() {
        return Err(syn::Error::new_spanned(
            attr,
            "#[tomodachi::decorator] takes no arguments",
        ));
    }
    let mut func: ItemFn = syn::parse2(item)?;
    let sig = &mut func.sig;
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            "a decorator guard cannot be generic",
        ));
    }
    if sig.inputs.is_empty() {
        return Err(syn::Error::new_spanned(
            &sig.ident,
            "a decorator guard takes the service first: `fn guard(service: &MyService, ...)`",
        ));
    }
    let mut rebinds = Vec::new();
    for (i, input) in sig.inputs.iter_mut().enumerate() {
        let FnArg::Typed(pt) = input else {
            return Err(syn::Error::new_spanned(
                input,
                "a decorator guard is a free function: its first argument is the service (`service: &MyService`)",
            ));
        };
        let Type::Reference(r) = &*pt.ty else {
            continue;
        };
        if r.mutability.is_some() {
            return Err(syn::Error::new_spanned(
                &pt.ty,
                "a decorator guard's arguments are shared: use `&T`, not `&mut T`",
            ));
        }
        let Pat::Ident(pi) = &*pt.pat else {
            return Err(syn::Error::new_spanned(
                &pt.pat,
                "a borrowed argument of a decorator guard needs a plain name",
            ));
        };
        let ident = pi.ident.clone();
        let inner = (*r.elem).clone();
        let ty = (*pt.ty).clone();
        *pt.ty = if i == 0 {
            syn::parse_quote_spanned! { inner.span() => ::std::sync::Arc<#inner> }
        } else {
            inner.clone()
        };
        let deref = if i == 0 {
            quote! { &*#ident }
        } else {
            quote! { &#ident }
        };
        rebinds.push(quote_spanned! { ty.span() => let #ident: #ty = #deref; });
    }
    let (output, check) = match &mut sig.output {
        ReturnType::Default => (quote! { () }, quote! {}),
        ReturnType::Type(_, ty) => {
            make_static(ty);
            let check = quote_spanned! { ty.span() =>
                ::tomodachi::__private::guard_return::<#ty>();
            };
            (quote! { #ty }, check)
        }
    };
    let body = &func.block;
    let asyncness = sig.asyncness.take();
    let body = if asyncness.is_some() {
        // an `async fn`'s body is already the future's: keep it as a block
        quote! { async move { #(#rebinds)* #body } }
    } else {
        let inner = format_ident!("__tomodachi_guard");
        quote! {
            async move {
                #(#rebinds)*
                let #inner = move || -> #output #body;
                #inner()
            }
        }
    };
    sig.output = syn::parse_quote! {
        -> impl ::core::future::Future<Output = #output> + ::core::marker::Send + 'static
    };
    let attrs = &func.attrs;
    let vis = &func.vis;
    let sig = &func.sig;
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            #check
            #body
        }
    })
}

/// Whether `attr` is `#[decorate(...)]`.
pub(crate) fn is_decorate(attr: &Attribute) -> bool {
    attr.path().is_ident("decorate")
}

/// Wraps a handler closure in the guards of the method's `#[decorate(a, b)]` attributes, the
/// first named outermost: `decorate(a, decorate(b, closure))`.
pub(crate) fn wrap(method: &ImplItemFn, closure: TokenStream) -> syn::Result<TokenStream> {
    let mut guards = Vec::new();
    for attr in method.attrs.iter().filter(|a| is_decorate(a)) {
        let list = attr.parse_args_with(Punctuated::<Expr, Token![,]>::parse_terminated)?;
        if list.is_empty() {
            return Err(syn::Error::new_spanned(
                attr,
                "expected the guards to run: `#[decorate(guard_a, guard_b)]`",
            ));
        }
        guards.extend(list);
    }
    Ok(guards.iter().rev().fold(closure, |inner, guard| {
        quote_spanned! { guard.span() => ::tomodachi::decorator::decorate(#guard, #inner) }
    }))
}

/// Removes the `#[decorate]` attributes; an error when they decorate no handler.
pub(crate) fn take_attrs(method: &mut ImplItemFn, is_handler: bool) -> syn::Result<()> {
    if !is_handler {
        if let Some(attr) = method.attrs.iter().find(|a| is_decorate(a)) {
            return Err(syn::Error::new_spanned(
                attr,
                "#[decorate] goes on a handler (#[http], #[http_error], #[amqp], #[aws_sns_sqs], a schedule), below its attribute",
            ));
        }
    }
    method.attrs.retain(|a| !is_decorate(a));
    Ok(())
}
