//! Entry points for the cargo-fuzz targets in `fuzz/` (compiled only with `--cfg fuzzing`,
//! which cargo-fuzz sets): the route compiler and router, and what the server reads from a
//! request head before routing. Not part of the API.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};

use super::router::Router;
use super::transport::HttpTransport;
use crate::ServiceBuilder;

/// Registers a route for each of `patterns` (methods by name, invalid ones included) through
/// the builder, builds the router when they all compiled, and routes `method` + `raw_path`
/// (percent-decoded first, as the server does), checking that the route index and the
/// one-by-one scan agree. Returns whether a route matched.
pub fn route(patterns: &[(&str, &str)], method: &str, raw_path: &str) -> bool {
    let mut builder = ServiceBuilder::new("fuzz", ());
    for (methods, pattern) in patterns {
        builder = builder.http(*methods, pattern, |_s: Arc<()>| async { "" });
    }
    if !builder.service.definition_errors.is_empty() {
        return false;
    }
    let routes = std::mem::take(&mut builder.transport_mut::<HttpTransport>().routes);
    let Ok(router) = Router::new(routes) else {
        return false;
    };
    let (Ok(method), Some(path)) = (
        Method::from_bytes(method.as_bytes()),
        super::path::decode_path(raw_path),
    ) else {
        return false;
    };
    // the index (large tables) and the one-by-one scan pick the same route
    assert!(router.scan_and_index_agree(&method, &path));
    match router.route(&method, &path) {
        super::router::Routed::Found(_, params) => {
            // the groups of a match are parts of the path
            for (_, value) in &params {
                assert!(value.len() <= path.len());
            }
            true
        }
        _ => false,
    }
}

/// What the server reads from a request head before routing: the decoded path, the client IP
/// behind trusted proxies (from `forwarded`), keep-alive, and the `Authorization: Basic` login.
pub fn request_head(raw_path: &str, forwarded: &[u8], connection: &[u8], authorization: &[u8]) {
    let _ = super::path::decode_path(raw_path);
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &[u8]| {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    put("x-forwarded-for", forwarded);
    put("connection", connection);
    put("authorization", authorization);
    let settings = super::server::HttpSettings {
        real_ip_from: vec!["127.0.0.0/8".parse().expect("a valid network")],
        ..Default::default()
    };
    let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let _ = super::server::resolve_remote_ip(&settings, peer, &headers);
    for version in [Version::HTTP_10, Version::HTTP_11] {
        let _ = super::server::client_wants_keepalive(version, &headers);
    }
    let _ = super::access_log::basic_auth_user(&headers);
}
