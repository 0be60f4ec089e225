//! Compile-time checks of route patterns: the regex must compile, and its named groups are the
//! argument names a handler may use.

use regex_syntax::ast::{self, Ast};

/// A pattern without its leading `^` and unescaped trailing `$` (as the runtime strips them).
pub(crate) fn strip_anchors(pattern: &str) -> &str {
    let p = pattern.strip_prefix('^').unwrap_or(pattern);
    match p.strip_suffix('$') {
        Some(rest) if (rest.len() - rest.trim_end_matches('\\').len()) % 2 == 0 => rest,
        _ => p,
    }
}

/// Validates `pattern` the way the runtime compiles it (anchored full match) and returns the
/// names of its named groups in order.
pub(crate) fn check_pattern(pattern: &str) -> Result<Vec<String>, String> {
    // the same anchoring as the runtime
    let p = strip_anchors(pattern);
    let anchored = format!("^(?:{p})$");
    let bad = |e: &dyn std::fmt::Display| format!("Bad http route pattern '{pattern}': {e}");
    // Parse the pattern as written first, so a syntax error quotes the user's text rather than
    // the anchored form.
    ast::parse::Parser::new().parse(p).map_err(|e| bad(&e))?;
    let parsed = ast::parse::Parser::new()
        .parse(&anchored)
        .map_err(|e| bad(&e))?;
    regex_syntax::hir::translate::Translator::new()
        .translate(&anchored, &parsed)
        .map_err(|e| bad(&e))?;
    let mut names = Vec::new();
    collect_names(&parsed, &mut names);
    Ok(names)
}

fn collect_names(node: &Ast, names: &mut Vec<String>) {
    match node {
        Ast::Group(g) => {
            if let ast::GroupKind::CaptureName { name, .. } = &g.kind {
                names.push(name.name.clone());
            }
            collect_names(&g.ast, names);
        }
        Ast::Repetition(r) => collect_names(&r.ast, names),
        Ast::Alternation(a) => a.asts.iter().for_each(|n| collect_names(n, names)),
        Ast::Concat(c) => c.asts.iter().for_each(|n| collect_names(n, names)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_order() {
        assert_eq!(
            check_pattern(r"/a/(?P<x>\d+)/(?:(?P<y>[^/]+)|z)/?").unwrap(),
            vec!["x", "y"]
        );
        assert!(check_pattern(r"/test").unwrap().is_empty());
    }

    #[test]
    fn escaped_dollar_is_a_literal() {
        assert!(check_pattern(r"/price\$").is_ok());
        assert!(check_pattern(r"^/a$").is_ok());
    }

    #[test]
    fn bad_patterns() {
        let e = check_pattern(r"/(x").unwrap_err();
        assert!(e.starts_with("Bad http route pattern '/(x': "), "{e}");
        assert!(check_pattern(r"/(?<=x)y").is_err());
    }
}
