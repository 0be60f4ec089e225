//! Parsing of attribute argument lists: positional expressions, then `key = value` pairs.

use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Token};

/// One argument: `expr` or `key = expr`.
pub(crate) enum Arg {
    Positional(Expr),
    Named(Ident, Expr),
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(Ident) && input.peek2(Token![=]) && !input.peek2(Token![==]) {
            let key: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let value: Expr = input.parse()?;
            Ok(Arg::Named(key, value))
        } else {
            Ok(Arg::Positional(input.parse()?))
        }
    }
}

/// A parsed argument list.
pub(crate) struct Args {
    pub(crate) positional: Vec<Expr>,
    pub(crate) named: Vec<(Ident, Expr)>,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let list = Punctuated::<Arg, Token![,]>::parse_terminated(input)?;
        let mut positional = Vec::new();
        let mut named = Vec::new();
        for arg in list {
            match arg {
                Arg::Positional(e) => {
                    if let Some((key, _)) = named.first() {
                        let key: &Ident = key;
                        return Err(syn::Error::new_spanned(
                            e,
                            format!("positional arguments must come before `{key} = ...`"),
                        ));
                    }
                    positional.push(e)
                }
                Arg::Named(k, v) => {
                    if named.iter().any(|(n, _): &(Ident, Expr)| n == &k) {
                        return Err(syn::Error::new_spanned(
                            &k,
                            format!("duplicate argument `{k}`"),
                        ));
                    }
                    named.push((k, v))
                }
            }
        }
        Ok(Args { positional, named })
    }
}

impl Args {
    /// Fails at the first named argument not in `allowed`, listing the valid names.
    pub(crate) fn check_names(&self, what: &str, allowed: &[&str]) -> syn::Result<()> {
        for (k, _) in &self.named {
            if !allowed.iter().any(|a| k == a) {
                return Err(syn::Error::new_spanned(
                    k,
                    format!(
                        "unknown argument `{k}` for {what}; expected one of: {}",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Expr> {
        self.named.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// The string value of a literal expression.
pub(crate) fn lit_str(expr: &Expr, what: &str) -> syn::Result<syn::LitStr> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Ok(s.clone()),
        other => Err(syn::Error::new_spanned(
            other,
            format!("{what} must be a string literal"),
        )),
    }
}

/// The integer value of a literal expression.
pub(crate) fn lit_u16(expr: &Expr, what: &str) -> syn::Result<u16> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => i.base10_parse::<u16>(),
        other => Err(syn::Error::new_spanned(
            other,
            format!("{what} must be an integer literal"),
        )),
    }
}

/// A type given as an attribute value (`schema = Order`, `body = api::NewItem`).
pub(crate) fn type_arg(expr: &Expr, what: &str) -> syn::Result<syn::Type> {
    syn::parse2::<syn::Type>(quote::ToTokens::to_token_stream(expr))
        .map_err(|_| syn::Error::new_spanned(expr, format!("{what} must be a type")))
}

/// The text of a method's doc comment (`///` lines, one leading space each removed), `None`
/// when it has none: the description the API documents show for the handler.
pub(crate) fn doc_text(attrs: &[syn::Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|l| l.strip_prefix(' ').unwrap_or(&l).trim_end().to_owned())
        .collect();
    let text = lines.join("\n").trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// `.description("...")` with the method's doc comment, or nothing.
pub(crate) fn doc_setter(method: &syn::ImplItemFn) -> proc_macro2::TokenStream {
    match doc_text(&method.attrs) {
        Some(text) => quote::quote! { .description(#text) },
        None => quote::quote! {},
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn doc_comments_become_text() {
        let method: syn::ImplItemFn = syn::parse_quote! {
            /// Counts orders.
            ///
            /// Every  one.
            #[other]
            async fn f(&self) {}
        };
        assert_eq!(
            super::doc_text(&method.attrs).as_deref(),
            Some("Counts orders.\n\nEvery  one.")
        );
        let bare: syn::ImplItemFn = syn::parse_quote! { async fn f(&self) {} };
        assert_eq!(super::doc_text(&bare.attrs), None);
        assert!(super::doc_setter(&bare).is_empty());
    }
}
