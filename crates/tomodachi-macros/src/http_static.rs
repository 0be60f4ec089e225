//! `#[http_static("dir", r"/base/", ignore_logging = ..., name = "...")]` →
//! `ServiceBuilder::http_static_route(StaticFiles::new(dir, base)...)`.
//!
//! As upstream's decorator, it goes on a method whose body is never run: the route serves the
//! folder's files itself, and the method's name names the route in logs.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, ImplItemFn};

use crate::args::{lit_str, Args};
use crate::route::{check_pattern, strip_anchors};

const HTTP_STATIC_ARGS: &[&str] = &["ignore_logging", "name"];

/// Removes the `#[http_static]` attributes from the method, returning them.
pub(crate) fn take_attrs(method: &mut ImplItemFn) -> Vec<Attribute> {
    let mut taken = Vec::new();
    method.attrs.retain(|a| {
        if a.path().is_ident("http_static") {
            taken.push(a.clone());
            false
        } else {
            true
        }
    });
    if !taken.is_empty() {
        // the method only marks the route; it is never called
        method.attrs.push(syn::parse_quote!(#[allow(dead_code)]));
    }
    taken
}

/// The builder call for one `#[http_static]` attribute.
pub(crate) fn call(method: &ImplItemFn, attr: &Attribute) -> syn::Result<TokenStream> {
    let args: Args = attr.parse_args()?;
    args.check_names("#[http_static]", HTTP_STATIC_ARGS)?;
    let (Some(dir), Some(base)) = (args.positional.first(), args.positional.get(1)) else {
        return Err(syn::Error::new_spanned(
            attr,
            "expected `#[http_static(\"folder\", r\"/base/url/\")]`",
        ));
    };
    if let Some(extra) = args.positional.get(2) {
        return Err(syn::Error::new_spanned(
            extra,
            "unexpected argument; #[http_static] takes a folder, a base URL pattern, `ignore_logging = ...` and `name = ...`",
        ));
    }
    let base = lit_str(base, "the base URL pattern")?;
    check_base(&base.value()).map_err(|e| syn::Error::new(base.span(), e))?;
    let fname = match args.get("name") {
        Some(n) => lit_str(n, "`name`")?.value(),
        None => method.sig.ident.to_string(),
    };
    let ignore = match args.get("ignore_logging") {
        Some(e) => quote_spanned! { e.span() => .ignore_logging(#e) },
        None => quote! {},
    };
    Ok(quote_spanned! { dir.span() =>
        .http_static_route(
            ::tomodachi::http::StaticFiles::new(#dir, #base).name(#fname) #ignore
        )
    })
}

/// Checks the route pattern a base URL makes, as the runtime builds it: the base as is when it
/// has a `filename` group, else the base followed by `(?P<filename>.+?)`.
fn check_base(base: &str) -> Result<(), String> {
    if check_pattern(base)?.iter().any(|g| g == "filename") {
        return Ok(());
    }
    check_pattern(&format!("{}(?P<filename>.+?)", strip_anchors(base))).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_with_and_without_a_filename_group() {
        assert!(check_base(r"/static/").is_ok());
        assert!(check_base(r"^/static/$").is_ok());
        assert!(check_base(r"/download/(?P<filename>[^/]+?)/image").is_ok());
        let e = check_base(r"/(static/").unwrap_err();
        assert!(e.starts_with("Bad http route pattern '/(static/': "), "{e}");
    }
}
