//! Resolves `options.http` into server settings and assembles a service's HTTP app.

use std::time::Duration;

use http::HeaderName;
use ipnet::IpNet;

use super::response::ResponseDefaults;
use super::server::HttpSettings;
use crate::error::Error;
use crate::options::HttpOptions;

fn seconds(s: f64) -> Option<Duration> {
    (s.is_finite() && s > 0.0).then(|| Duration::from_secs_f64(s))
}

/// Parses `real_ip_from` entries: single addresses or networks (host bits must be zero).
fn parse_networks(entries: &[String]) -> Result<Vec<IpNet>, Error> {
    entries
        .iter()
        .map(|e| {
            let e = e.trim();
            if let Ok(ip) = e.parse::<std::net::IpAddr>() {
                return Ok(IpNet::from(ip));
            }
            let net: IpNet = e
                .parse()
                .map_err(|_| Error::msg(format!("invalid http.real_ip_from entry {e:?}")))?;
            if net.trunc() != net {
                return Err(Error::msg(format!(
                    "invalid http.real_ip_from entry {e:?}: has host bits set"
                )));
            }
            Ok(net)
        })
        .collect()
}

pub(crate) fn settings(o: &HttpOptions) -> Result<HttpSettings, Error> {
    let grace =
        seconds(o.termination_grace_period_seconds as f64).unwrap_or(Duration::from_secs(30));
    Ok(HttpSettings {
        host: o.host.clone(),
        port: o.port,
        reuse_port: o.reuse_port && cfg!(target_os = "linux"),
        client_max_size: o.client_max_size,
        grace,
        real_ip_from: parse_networks(&o.real_ip_from)?,
        real_ip_header: if o.real_ip_header.is_empty() {
            None
        } else {
            Some(
                HeaderName::from_bytes(o.real_ip_header.as_bytes()).map_err(|_| {
                    Error::msg(format!(
                        "invalid http.real_ip_header {:?}",
                        o.real_ip_header
                    ))
                })?,
            )
        },
        keepalive_timeout: seconds(o.keepalive_timeout),
        keepalive_header: seconds(o.keepalive_timeout).and_then(|idle| {
            let value = match o.max_keepalive_requests.filter(|m| *m > 0) {
                Some(m) => format!("timeout={}, max={m}", idle.as_secs()),
                None => format!("timeout={}", idle.as_secs()),
            };
            http::HeaderValue::from_str(&value).ok()
        }),
        max_keepalive_requests: o.max_keepalive_requests.filter(|m| *m > 0),
        max_keepalive_time: o.max_keepalive_time.and_then(seconds),
        read_timeout: seconds(o.read_timeout),
        max_connections: usize::try_from(o.max_connections).ok().filter(|n| *n > 0),
        defaults: ResponseDefaults::new(&o.content_type, &o.charset, &o.server_header)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_must_be_network_addresses() {
        assert!(parse_networks(&["10.0.0.0/8".into(), "127.0.0.1".into()]).is_ok());
        assert!(parse_networks(&["10.0.0.1/8".into()]).is_err());
        assert!(parse_networks(&["nope".into()]).is_err());
    }
}
