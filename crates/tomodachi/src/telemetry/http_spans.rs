//! HTTP `SERVER` spans: upstream's `OpenTelemetryAioHTTPMiddleware` (name `"<METHOD>
//! <route>"`, the parent from `traceparent`/`tracestate`, its attributes and status rules).

#![cfg(feature = "http")]

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

use http::{HeaderMap, Method, Uri, Version};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};

use super::propagation::{extract, HeaderCarrier};
use super::Tracing;

const STILL_PROCESSING: &str =
    "Client closed the connection while the server was still processing the request.";
const BEFORE_PROCESSING: &str =
    "Client closed the connection before the server could start processing the request.";

/// A service's HTTP server instrumentation (`None` in the server when not instrumented).
pub(crate) struct ServerTelemetry {
    tracing: Arc<Tracing>,
    /// The listening socket's address (`server.socket.*`), known once bound.
    local: OnceLock<SocketAddr>,
}

/// Put in a response's extensions when the client went away before its request was read
/// (upstream's 499 without a replaced status).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClosedBeforeProcessing;

/// What a request's span needs to know about it.
pub(crate) struct RequestInfo<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) version: Version,
    pub(crate) headers: &'a HeaderMap,
    /// The percent-decoded path.
    pub(crate) path: &'a str,
    /// The matched route's pattern as written (`None`: no route).
    pub(crate) route: Option<&'a str>,
    pub(crate) peer: SocketAddr,
    /// The connection's local address (`None`: the listener's, e.g. in the testing kit).
    pub(crate) local: Option<SocketAddr>,
    /// The client address after `real_ip_header` / `real_ip_from`.
    pub(crate) remote_ip: IpAddr,
}

/// A route's pattern as upstream shows it (`http.route`): the compiled full-match regex
/// without its anchors, i.e. the pattern as written without a leading `^` or trailing `$`.
pub(crate) fn route_pattern(full_match: &str) -> &str {
    full_match
        .strip_prefix("^(?:")
        .and_then(|p| p.strip_suffix(")$"))
        .unwrap_or(full_match)
}

/// The method's name: a `&'static str` for the standard methods (no allocation per request).
fn standard_method(method: &http::Method) -> Option<&'static str> {
    use http::Method;
    Some(match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => return None,
    })
}

fn method_name(method: &http::Method) -> &str {
    standard_method(method).unwrap_or(method.as_str())
}

/// An address as `Display` writes it; IPv4 without the formatting machinery (four of these per
/// traced request).
fn ip_string(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let mut out = String::with_capacity(15);
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                if octet >= 100 {
                    out.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    out.push(char::from(b'0' + octet / 10 % 10));
                }
                out.push(char::from(b'0' + octet % 10));
            }
            out
        }
        std::net::IpAddr::V6(v6) => v6.to_string(),
    }
}

impl ServerTelemetry {
    pub(crate) fn new(tracing: Arc<Tracing>) -> Self {
        Self {
            tracing,
            local: OnceLock::new(),
        }
    }

    /// Notes the bound address.
    pub(crate) fn bound(&self, addr: SocketAddr) {
        let _ = self.local.set(addr);
    }

    /// Whether a request to this decoded path gets no span.
    pub(crate) fn excludes(&self, path: &str) -> bool {
        self.tracing.excluded.excludes(path)
    }

    /// Starts the request's span (the caller checked [`excludes`](Self::excludes)).
    pub(crate) fn start(&self, req: RequestInfo<'_>) -> ServerSpan {
        let parent = extract(&HeaderCarrier(req.headers));
        let method = method_name(req.method);
        let name = match req.route {
            Some(route) => {
                let mut name = String::with_capacity(method.len() + 1 + route.len());
                name.push_str(method);
                name.push(' ');
                name.push_str(route);
                name
            }
            None => method.to_owned(),
        };
        let attributes = self.attributes(&req);
        // the metrics' attributes are picked from the span's
        let metric = self
            .tracing
            .metrics
            .as_ref()
            .map(|m| m.http_request(&attributes));
        let span = self
            .tracing
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Server)
            .with_attributes(attributes)
            .start_with_context(&self.tracing.tracer, &parent);
        ServerSpan {
            cx: super::log_ids::with_span(&parent, span),
            finished: false,
            metric,
        }
    }

    /// Upstream's attributes, in its order.
    fn attributes(&self, req: &RequestInfo<'_>) -> Vec<KeyValue> {
        let mut a = Vec::with_capacity(16);
        a.push(match standard_method(req.method) {
            Some(name) => KeyValue::new("http.request.method", name),
            None => KeyValue::new("http.request.method", req.method.as_str().to_owned()),
        });
        if let Some(route) = req.route {
            a.push(KeyValue::new("http.route", route.to_owned()));
        }
        let host = req
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok());
        // as upstream: the text before the first ':' and the number after it (80 without one)
        let host_port = host
            .and_then(|h| h.split(':').nth(1))
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(80);
        let local = req.local.as_ref().or(self.local.get());
        match host {
            Some(h) => {
                let name = h.split(':').next().unwrap_or_default();
                a.push(KeyValue::new("server.address", name.to_owned()));
                a.push(KeyValue::new("server.port", host_port));
            }
            None => {
                let ip = local.map_or_else(|| "127.0.0.1".to_owned(), |l| ip_string(l.ip()));
                a.push(KeyValue::new("server.address", ip));
                a.push(KeyValue::new(
                    "server.port",
                    local.map_or(host_port, |l| i64::from(l.port())),
                ));
            }
        }
        a.push(KeyValue::new("url.scheme", "http"));
        a.push(KeyValue::new("url.path", req.path.to_owned()));
        if let Some(q) = req.uri.query().filter(|q| !q.is_empty()) {
            a.push(KeyValue::new("url.query", q.to_owned()));
        }
        if let Some(ua) = req
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
        {
            a.push(KeyValue::new("user_agent.original", ua.to_owned()));
        }
        let peer_ip = ip_string(req.peer.ip());
        let client = if req.remote_ip == req.peer.ip() {
            peer_ip.clone()
        } else {
            ip_string(req.remote_ip)
        };
        a.push(KeyValue::new("client.address", client));
        a.push(KeyValue::new("client.socket.address", peer_ip));
        a.push(KeyValue::new(
            "client.socket.port",
            i64::from(req.peer.port()),
        ));
        if let Some(l) = local {
            a.push(KeyValue::new("server.socket.address", ip_string(l.ip())));
        }
        a.push(KeyValue::new(
            "server.socket.port",
            local.map_or(host_port, |l| i64::from(l.port())),
        ));
        let version = match req.version {
            Version::HTTP_10 => "1.0",
            Version::HTTP_09 => "0.9",
            Version::HTTP_2 => "2.0",
            _ => "1.1",
        };
        a.push(KeyValue::new("network.protocol.version", version));
        a.push(KeyValue::new("network.protocol.name", "http"));
        a
    }
}

/// A request's span, ended by [`finish`](Self::finish) (or, if the request's future is
/// dropped, as a 499).
pub(crate) struct ServerSpan {
    cx: Context,
    finished: bool,
    /// `http.server.active_requests` / `http.server.duration`, when metrics are on.
    metric: Option<super::metrics::HttpRequestMetric>,
}

impl ServerSpan {
    /// The context the request runs in (its span is the parent of what the handler does).
    pub(crate) fn context(&self) -> Context {
        self.cx.clone()
    }

    /// Ends the span with the response's status: ERROR from 500 on, and for a client that
    /// closed the connection (499, reporting the status it replaced).
    pub(crate) fn finish<B>(mut self, response: &http::Response<B>, peer_closed: bool) {
        self.finished = true;
        let span = self.cx.span();
        let status = response.status().as_u16();
        let reported = if response
            .extensions()
            .get::<ClosedBeforeProcessing>()
            .is_some()
        {
            span.set_status(Status::error(BEFORE_PROCESSING));
            499
        } else if peer_closed {
            span.set_status(Status::error(STILL_PROCESSING));
            status
        } else {
            if status >= 500 {
                span.set_status(Status::error(""));
            }
            status
        };
        span.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(reported),
        ));
        span.end();
        if let Some(metric) = self.metric.take() {
            metric.finish(i64::from(reported), &self.cx);
        }
    }
}

impl Drop for ServerSpan {
    fn drop(&mut self) {
        if !self.finished {
            let span = self.cx.span();
            span.set_status(Status::error(STILL_PROCESSING));
            span.set_attribute(KeyValue::new("http.response.status_code", 499i64));
            span.end();
            if let Some(metric) = self.metric.take() {
                metric.finish(499, &self.cx);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_show_as_written() {
        let full = crate::http::router::full_match_pattern(r"^/test/(?P<id>[^/]+?)/?$");
        assert_eq!(route_pattern(&full), r"/test/(?P<id>[^/]+?)/?");
        assert_eq!(route_pattern("^(?:/a)$"), "/a");
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.30.40",
            "192.168.100.255",
            "9.99.100.199",
            "::1",
            "fe80::1:2",
            "::ffff:1.2.3.4",
        ] {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            assert_eq!(ip_string(ip), ip.to_string());
        }
        for octet in 0..=255u8 {
            let ip = std::net::IpAddr::from([octet, 0, 255, octet]);
            assert_eq!(ip_string(ip), ip.to_string());
        }
    }

    #[test]
    fn standard_methods_keep_their_names() {
        for m in [
            "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE",
        ] {
            let method: http::Method = m.parse().unwrap();
            assert_eq!(standard_method(&method), Some(m));
            assert_eq!(method_name(&method), m);
        }
        let custom: http::Method = "PURGE".parse().unwrap();
        assert_eq!(standard_method(&custom), None);
        assert_eq!(method_name(&custom), "PURGE");
    }
}
