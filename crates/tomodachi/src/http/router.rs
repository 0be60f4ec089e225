//! Regex routing with upstream semantics: full-match patterns tried in
//! registration order, first route matching path and method wins, 404 / 405 otherwise.
//!
//! Upstream tries the patterns one by one. A few routes are tried that way here too; from
//! [`INDEXED_FROM`] routes on, one lookup finds every route whose pattern matches — literal
//! paths in a hash map, the regex patterns in one [`RegexSet`] pass — and the lowest
//! registration index among them that has the method wins, which is the same route the
//! one-by-one scan picks. The cost then barely grows with the number of routes.

use std::collections::HashMap;
use std::sync::Arc;

use http::Method;
use regex::{Regex, RegexSet};

use super::handler::ErasedHandler;
use super::websocket::WsRoute;

/// What a route does with its access-log records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum IgnoreLogging {
    /// Log every request (the default).
    #[default]
    None,
    /// Log nothing for this route.
    All,
    /// Log nothing for responses with these status codes.
    Statuses(Vec<u16>),
}

impl IgnoreLogging {
    pub(crate) fn ignores(&self, status: u16) -> bool {
        match self {
            IgnoreLogging::None => false,
            IgnoreLogging::All => true,
            IgnoreLogging::Statuses(s) => s.contains(&status),
        }
    }
}

impl From<bool> for IgnoreLogging {
    fn from(ignore: bool) -> Self {
        if ignore {
            IgnoreLogging::All
        } else {
            IgnoreLogging::None
        }
    }
}

impl From<Vec<u16>> for IgnoreLogging {
    fn from(statuses: Vec<u16>) -> Self {
        IgnoreLogging::Statuses(statuses)
    }
}

impl<const N: usize> From<[u16; N]> for IgnoreLogging {
    fn from(statuses: [u16; N]) -> Self {
        IgnoreLogging::Statuses(statuses.to_vec())
    }
}

/// One registered route.
pub(crate) struct Route {
    pub(crate) regex: Regex,
    /// The path itself when the pattern is a plain literal (no regex syntax): matched by
    /// string comparison.
    pub(crate) literal: Option<String>,
    pub(crate) methods: Vec<Method>,
    pub(crate) group_names: Vec<Arc<str>>,
    pub(crate) handler: ErasedHandler,
    pub(crate) name: Arc<str>,
    pub(crate) ignore_logging: IgnoreLogging,
    /// Set on websocket routes: the handshake is answered before any body is read.
    pub(crate) websocket: Option<Arc<WsRoute>>,
    /// What the API documents show of the route.
    pub(crate) doc: crate::transport::RouteDescription,
}

/// A pattern without its leading `^` and unescaped trailing `$`.
pub(crate) fn strip_anchors(pattern: &str) -> &str {
    let p = pattern.strip_prefix('^').unwrap_or(pattern);
    match p.strip_suffix('$') {
        // `\$` is a literal dollar: keep it (an even number of backslashes escapes nothing)
        Some(rest) if (rest.len() - rest.trim_end_matches('\\').len()) % 2 == 0 => rest,
        _ => p,
    }
}

/// Strips a leading `^` and an unescaped trailing `$`, and anchors the pattern as a full match.
pub(crate) fn full_match_pattern(pattern: &str) -> String {
    format!("^(?:{})$", strip_anchors(pattern))
}

/// The literal path a pattern matches when it contains no regex syntax.
pub(crate) fn literal_path(pattern: &str) -> Option<String> {
    let p = strip_anchors(pattern);
    let is_meta = |c: char| {
        matches!(
            c,
            '\\' | '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$'
        )
    };
    (!p.contains(is_meta)).then(|| p.to_owned())
}

impl Route {
    fn matches(&self, path: &str) -> bool {
        match &self.literal {
            Some(literal) => literal == path,
            None => self.regex.is_match(path),
        }
    }
}

/// Compiles a route pattern, with upstream's error text.
pub(crate) fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(&full_match_pattern(pattern))
        .map_err(|e| format!("Bad http route pattern '{pattern}': {e}"))
}

/// From this many routes on, routing uses the [`RouteIndex`] instead of trying the routes one
/// by one (below it, the scan is as cheap as the index lookup).
pub(crate) const INDEXED_FROM: usize = 8;

/// The routing table.
pub(crate) struct Router {
    routes: Vec<Route>,
    /// Every route matching a path in one lookup (large tables only).
    index: Option<RouteIndex>,
    /// Whether any route is a websocket route (only then are `GET`s routed before the body
    /// is read).
    has_websockets: bool,
}

/// Which routes match a path, found in one lookup: literal paths in a hash map, every regex
/// pattern in one [`RegexSet`].
pub(crate) struct RouteIndex {
    /// Literal path → indices of the routes with that literal, ascending.
    literals: HashMap<Box<str>, Vec<usize>>,
    /// The full-match patterns of the non-literal routes.
    set: RegexSet,
    /// Pattern number in `set` → route index.
    set_routes: Vec<usize>,
}

impl RouteIndex {
    fn new(routes: &[Route]) -> Result<Self, String> {
        let mut literals: HashMap<Box<str>, Vec<usize>> = HashMap::new();
        let mut patterns = Vec::new();
        let mut set_routes = Vec::new();
        for (i, route) in routes.iter().enumerate() {
            match &route.literal {
                Some(literal) => literals.entry(literal.as_str().into()).or_default().push(i),
                None => {
                    patterns.push(route.regex.as_str());
                    set_routes.push(i);
                }
            }
        }
        let set =
            RegexSet::new(&patterns).map_err(|e| format!("Cannot index the http routes: {e}"))?;
        Ok(Self {
            literals,
            set,
            set_routes,
        })
    }

    /// Indices of the routes matching `path`, ascending (registration order).
    fn matching(&self, path: &str) -> Vec<usize> {
        let mut found: Vec<usize> = self
            .set
            .matches(path)
            .iter()
            .map(|n| self.set_routes[n])
            .collect();
        if let Some(literal) = self.literals.get(path) {
            found.extend_from_slice(literal);
            found.sort_unstable();
        }
        found
    }
}

/// The outcome of routing one request.
pub(crate) enum Routed<'a> {
    Found(&'a Route, Vec<(Arc<str>, String)>),
    MethodNotAllowed(String),
    NotFound,
}

impl Router {
    pub(crate) fn new(routes: Vec<Route>) -> Result<Self, String> {
        let has_websockets = routes.iter().any(|r| r.websocket.is_some());
        // a set too large for the regex engine's limits falls back to the scan
        let index = if routes.len() >= INDEXED_FROM {
            RouteIndex::new(&routes).ok()
        } else {
            None
        };
        Ok(Self {
            routes,
            index,
            has_websockets,
        })
    }

    /// Whether any route is a websocket route.
    pub(crate) fn has_websockets(&self) -> bool {
        self.has_websockets
    }

    /// Routes `path` (percent-decoded except `%2F`) for `method`: the first route, in
    /// registration order, with the method and a matching pattern. Only when none matches are
    /// the other routes' patterns tried, to tell a 405 (with `Allow`) from a 404.
    pub(crate) fn route(&self, method: &Method, path: &str) -> Routed<'_> {
        match &self.index {
            Some(index) => self.route_indexed(index, method, path),
            None => self.route_scan(method, path),
        }
    }

    /// [`Router::route`] trying the routes one by one, as upstream does.
    fn route_scan(&self, method: &Method, path: &str) -> Routed<'_> {
        for route in &self.routes {
            if route.methods.iter().any(|m| m == method) && route.matches(path) {
                let params = if route.group_names.is_empty() {
                    Vec::new()
                } else {
                    extract_params(route, path)
                };
                return Routed::Found(route, params);
            }
        }
        let mut allow: Vec<&str> = self
            .routes
            .iter()
            .filter(|r| r.matches(path))
            .flat_map(|r| r.methods.iter().map(Method::as_str))
            .collect();
        if allow.is_empty() {
            return Routed::NotFound;
        }
        allow.sort_unstable();
        allow.dedup();
        Routed::MethodNotAllowed(allow.join(","))
    }

    /// Whether the scan and the index give the same answer (tests and the fuzzer).
    #[cfg(any(test, fuzzing))]
    pub(crate) fn scan_and_index_agree(&self, method: &Method, path: &str) -> bool {
        let Ok(index) = RouteIndex::new(&self.routes) else {
            return true;
        };
        match (
            self.route_scan(method, path),
            self.route_indexed(&index, method, path),
        ) {
            (Routed::Found(a, pa), Routed::Found(b, pb)) => std::ptr::eq(a, b) && pa == pb,
            (Routed::MethodNotAllowed(a), Routed::MethodNotAllowed(b)) => a == b,
            (Routed::NotFound, Routed::NotFound) => true,
            _ => false,
        }
    }

    /// [`Router::route`] through the index: the same answer in one lookup.
    fn route_indexed(&self, index: &RouteIndex, method: &Method, path: &str) -> Routed<'_> {
        let matching = index.matching(path);
        for &i in &matching {
            let route = &self.routes[i];
            if route.methods.iter().any(|m| m == method) {
                let params = if route.group_names.is_empty() {
                    Vec::new()
                } else {
                    extract_params(route, path)
                };
                return Routed::Found(route, params);
            }
        }
        if matching.is_empty() {
            return Routed::NotFound;
        }
        let mut allow: Vec<&str> = matching
            .iter()
            .flat_map(|&i| self.routes[i].methods.iter().map(Method::as_str))
            .collect();
        allow.sort_unstable();
        allow.dedup();
        Routed::MethodNotAllowed(allow.join(","))
    }
}

/// Named-group values of a matched route, each fully percent-decoded (so `%2F` in a value
/// becomes `/`, where upstream fails with a 500).
fn extract_params(route: &Route, path: &str) -> Vec<(Arc<str>, String)> {
    let Some(caps) = route.regex.captures(path) else {
        return Vec::new();
    };
    route
        .group_names
        .iter()
        .filter_map(|name| {
            let m = caps.name(name)?;
            let value = percent_encoding::percent_decode_str(m.as_str())
                .decode_utf8_lossy()
                .into_owned();
            Some((name.clone(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::handler::erase_test_handler;
    use crate::http::path::decode_path;

    fn route(methods: &[Method], pattern: &str) -> Route {
        let regex = compile(pattern).unwrap();
        let group_names = regex.capture_names().flatten().map(Arc::from).collect();
        Route {
            literal: literal_path(pattern),
            regex,
            methods: methods.to_vec(),
            group_names,
            handler: erase_test_handler(),
            name: Arc::from(pattern),
            ignore_logging: IgnoreLogging::None,
            websocket: None,
            doc: crate::transport::RouteDescription::new(["GET"], pattern, pattern),
        }
    }

    fn router() -> Router {
        Router::new(vec![
            route(&[Method::GET, Method::HEAD], r"/test"),
            route(&[Method::POST], r"^/test$"),
            route(&[Method::GET, Method::HEAD], r"/resource/(?P<id>[^/]+?)/?"),
            route(&[Method::PUT], r"/resource/(?P<id>[^/]+?)/?"),
            route(&[Method::GET, Method::HEAD], r"/p/(?P<v>[^/]+)"),
        ])
        .unwrap()
    }

    fn found<'a>(r: &'a Router, m: Method, p: &str) -> (&'a str, Vec<(Arc<str>, String)>) {
        match r.route(&m, p) {
            Routed::Found(route, params) => (&*route.name, params),
            Routed::MethodNotAllowed(a) => panic!("405 {a}"),
            Routed::NotFound => panic!("404"),
        }
    }

    #[test]
    fn full_match_only() {
        let r = router();
        assert_eq!(found(&r, Method::GET, "/test").0, "/test");
        assert!(matches!(r.route(&Method::GET, "/test/"), Routed::NotFound));
        assert!(matches!(r.route(&Method::GET, "/testx"), Routed::NotFound));
        assert!(matches!(r.route(&Method::GET, "/x/test"), Routed::NotFound));
    }

    #[test]
    fn first_route_with_the_method_wins() {
        let r = router();
        assert_eq!(found(&r, Method::POST, "/test").0, "^/test$");
        assert_eq!(
            found(&r, Method::PUT, "/resource/1/").0,
            r"/resource/(?P<id>[^/]+?)/?"
        );
    }

    #[test]
    fn wrong_method_is_405_with_sorted_allow() {
        let r = router();
        match r.route(&Method::DELETE, "/test") {
            Routed::MethodNotAllowed(allow) => assert_eq!(allow, "GET,HEAD,POST"),
            _ => panic!("expected 405"),
        }
    }

    #[test]
    fn named_groups_are_decoded() {
        let r = router();
        let (_, params) = found(&r, Method::GET, "/resource/abc/");
        assert_eq!(params, vec![(Arc::from("id"), "abc".to_owned())]);
        let path = decode_path("/p/a%20b").unwrap();
        let (_, params) = found(&r, Method::GET, &path);
        assert_eq!(params[0].1, "a b");
        let path = decode_path("/p/a%2Fb").unwrap();
        assert_eq!(path, "/p/a%2Fb");
        let (_, params) = found(&r, Method::GET, &path);
        assert_eq!(params[0].1, "a/b");
    }

    #[test]
    fn literal_patterns_are_recognised() {
        assert_eq!(literal_path("/").as_deref(), Some("/"));
        assert_eq!(literal_path("^/health$").as_deref(), Some("/health"));
        assert_eq!(literal_path("/a-b_c").as_deref(), Some("/a-b_c"));
        assert_eq!(literal_path(r"/test/?"), None);
        assert_eq!(literal_path(r"/x.y"), None);
    }

    #[test]
    fn anchors_are_stripped_but_an_escaped_dollar_is_kept() {
        assert_eq!(full_match_pattern(r"^/a$"), r"^(?:/a)$");
        assert_eq!(full_match_pattern(r"/price\$"), r"^(?:/price\$)$");
        assert_eq!(full_match_pattern(r"/x\\$"), r"^(?:/x\\)$");
        assert!(compile(r"/price\$").unwrap().is_match("/price$"));
    }

    /// Many overlapping routes (literal and regex, several methods): the index and the
    /// one-by-one scan agree on every path, and a large table routes through the index.
    #[test]
    fn the_index_picks_the_route_the_scan_picks() {
        let mut routes = vec![
            route(&[Method::GET], r"/a"),
            route(&[Method::POST], r"/a"),
            route(&[Method::GET], r"/(?P<x>[a-z]+)"),
            route(&[Method::PUT], r"/a/?"),
            route(&[Method::DELETE], r"/(?P<x>[^/]+)/(?P<y>\d+)"),
            route(&[Method::GET, Method::HEAD], r"/b/(?P<y>\d+)"),
            route(&[Method::PATCH], r"/b/1"),
            route(&[Method::GET], r"^/c$"),
            route(&[Method::POST], r".*"),
        ];
        for i in 0..50 {
            routes.push(route(&[Method::GET], &format!(r"/r{i}/(?P<id>[^/]+)")));
            routes.push(route(&[Method::POST], &format!("/lit{i}")));
        }
        let r = Router::new(routes).unwrap();
        assert!(r.index.is_some(), "a large table is indexed");
        let paths = [
            "/a", "/a/", "/b", "/b/1", "/b/12", "/c", "/x/7", "/r0/z", "/r49/z", "/r50/z", "/lit0",
            "/lit49", "/lit50", "/", "", "/a/b/c", "/r1/",
        ];
        let methods = [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
            Method::HEAD,
            Method::OPTIONS,
        ];
        for path in paths {
            for method in &methods {
                assert!(r.scan_and_index_agree(method, path), "{method} {path}");
            }
        }
        assert_eq!(found(&r, Method::GET, "/r7/abc").0, r"/r7/(?P<id>[^/]+)");
        // `.*` (POST) was registered before the literal: first match wins, as upstream
        assert_eq!(found(&r, Method::POST, "/lit3").0, ".*");
        assert_eq!(found(&r, Method::POST, "/a").0, "/a");
        assert_eq!(found(&r, Method::POST, "/zzz").0, ".*");
        match r.route(&Method::PATCH, "/a") {
            Routed::MethodNotAllowed(allow) => assert_eq!(allow, "GET,POST,PUT"),
            _ => panic!("expected 405"),
        }
    }

    #[test]
    fn bad_patterns_are_reported_like_upstream() {
        let err = compile(r"/(unclosed").unwrap_err();
        assert!(
            err.starts_with("Bad http route pattern '/(unclosed': "),
            "{err}"
        );
    }
}
