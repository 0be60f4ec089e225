//! The access log: one record per request on `tomodachi.http.response`, and
//! optionally JSON lines appended to a file.

use std::fs::File;
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use http::Version;

use crate::error::Error;
use crate::logging::{render_json_line, FieldValue};

/// One access-log record.
pub(crate) struct AccessRecord<'a> {
    pub(crate) status_code: u16,
    /// The response's status when `status_code` is upstream's 499 (the client closed its side
    /// before the response was ready).
    pub(crate) replaced_status_code: Option<u16>,
    pub(crate) remote_ip: IpAddr,
    /// The login of an `Authorization: Basic` header (upstream logs it as `auth_user`).
    pub(crate) auth_user: Option<&'a str>,
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) version: Version,
    pub(crate) response_content_length: u64,
    pub(crate) request_content_length: Option<u64>,
    pub(crate) user_agent: &'a str,
    pub(crate) handler_elapsed: Option<Duration>,
    pub(crate) request_time: Duration,
}

/// Where access-log records go.
#[derive(Debug, Default)]
pub(crate) struct AccessLog {
    enabled: bool,
    file: Option<Mutex<Option<File>>>,
}

/// Seconds with 5 decimals and an `s` suffix, e.g. `0.00135s` (rounded half up to 10 µs),
/// written without float formatting or an allocation: two of these are on every access-log
/// record.
pub(crate) struct Seconds {
    buf: [u8; 32],
    start: usize,
}

impl Seconds {
    pub(crate) fn new(d: Duration) -> Self {
        // At most u64::MAX seconds (20 digits, 21 after rounding up), 5 decimals and `s`.
        let tens_of_micros = (d.as_nanos() + 5_000) / 10_000;
        let mut whole = tens_of_micros / 100_000;
        let mut frac = tens_of_micros % 100_000;
        let mut buf = [0u8; 32];
        let mut len = buf.len();
        len -= 1;
        buf[len] = b's';
        for _ in 0..5 {
            len -= 1;
            buf[len] = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        len -= 1;
        buf[len] = b'.';
        loop {
            len -= 1;
            buf[len] = b'0' + (whole % 10) as u8;
            whole /= 10;
            if whole == 0 || len == 0 {
                break;
            }
        }
        Self { buf, start: len }
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[self.start..]).unwrap_or("0.00000s")
    }
}

/// The login of an `Authorization: Basic` header as aiohttp's `BasicAuth.decode` reads it
/// (strict base64, latin-1, a `:` required); `None` when absent, undecodable or empty.
pub(crate) fn basic_auth_user(headers: &http::HeaderMap) -> Option<String> {
    use base64::Engine as _;
    let value = headers.get(http::header::AUTHORIZATION)?.as_bytes();
    let space = value.iter().position(|b| *b == b' ')?;
    let (scheme, encoded) = (&value[..space], &value[space + 1..]);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    // latin-1: every byte is the code point of the same value
    let login: String = decoded[..colon].iter().map(|b| char::from(*b)).collect();
    (!login.is_empty()).then_some(login)
}

fn version_str(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

impl AccessLog {
    /// No access log.
    pub(crate) fn disabled() -> Self {
        Self::default()
    }

    /// Records through the logger only.
    pub(crate) fn logger_only() -> Self {
        Self {
            enabled: true,
            file: None,
        }
    }

    /// Records through the logger and as JSON lines appended to `path`.
    pub(crate) fn with_file(path: &Path) -> Result<Self, Error> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                let kind = if e.kind() == std::io::ErrorKind::PermissionDenied {
                    "invalid permissions"
                } else {
                    "invalid path"
                };
                Error::msg(format!(
                    "Unable to use file for access log - {kind} (\"{}\")",
                    path.display()
                ))
            })?;
        Ok(Self {
            enabled: true,
            file: Some(Mutex::new(Some(file))),
        })
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    fn write_line(&self, logger: &str, message: &str, fields: &[(&str, FieldValue<'_>)]) {
        let Some(file) = &self.file else { return };
        let mut line = String::with_capacity(384);
        render_json_line(&mut line, logger, "info", message, fields);
        if let Ok(mut guard) = file.lock() {
            if let Some(f) = guard.as_mut() {
                if let Err(e) = f.write_all(line.as_bytes()) {
                    tracing::warn!(target: "tomodachi.http", error_message = %e,
                        "unable to write to access log file");
                }
            }
        }
    }

    /// The `accepting http requests` line, also written to the file.
    pub(crate) fn started(&self, listen_url: &str, host: &str, port: u16) {
        self.write_line(
            "tomodachi.http",
            "accepting http requests",
            &[
                ("listen_url", FieldValue::Str(listen_url)),
                ("listen_host", FieldValue::Str(host)),
                ("listen_port", FieldValue::UInt(u64::from(port))),
            ],
        );
    }

    /// Closes the file at shutdown.
    pub(crate) fn close(&self) {
        if let Some(file) = &self.file {
            if let Ok(mut guard) = file.lock() {
                guard.take();
            }
        }
    }

    /// Emits one record.
    pub(crate) fn record(&self, r: &AccessRecord<'_>) {
        if !self.enabled {
            return;
        }
        let handler_elapsed = r.handler_elapsed.map(Seconds::new);
        let request_time = Seconds::new(r.request_time);
        tracing::info!(
            target: "tomodachi.http.response",
            status_code = r.status_code,
            replaced_status_code = r.replaced_status_code,
            remote_ip = display(r.remote_ip),
            auth_user = r.auth_user,
            request_method = r.method,
            request_path = r.path,
            request_query_string = r.query,
            http_version = version_str(r.version),
            response_content_length = r.response_content_length,
            request_content_length = r.request_content_length,
            request_content_read_length = r.request_content_length,
            user_agent = r.user_agent,
            handler_elapsed_time = handler_elapsed.as_ref().map(Seconds::as_str),
            request_time = request_time.as_str(),
            ""
        );
        if self.file.is_some() {
            let ip = r.remote_ip.to_string();
            let mut fields: Vec<(&str, FieldValue<'_>)> = Vec::with_capacity(13);
            fields.push(("status_code", FieldValue::UInt(u64::from(r.status_code))));
            if let Some(replaced) = r.replaced_status_code {
                fields.push((
                    "replaced_status_code",
                    FieldValue::UInt(u64::from(replaced)),
                ));
            }
            fields.push(("remote_ip", FieldValue::Str(&ip)));
            if let Some(user) = r.auth_user {
                fields.push(("auth_user", FieldValue::Str(user)));
            }
            fields.push(("request_method", FieldValue::Str(r.method)));
            fields.push(("request_path", FieldValue::Str(r.path)));
            if let Some(q) = r.query {
                fields.push(("request_query_string", FieldValue::Str(q)));
            }
            fields.push(("http_version", FieldValue::Str(version_str(r.version))));
            fields.push((
                "response_content_length",
                FieldValue::UInt(r.response_content_length),
            ));
            if let Some(len) = r.request_content_length {
                fields.push(("request_content_length", FieldValue::UInt(len)));
                fields.push(("request_content_read_length", FieldValue::UInt(len)));
            }
            fields.push(("user_agent", FieldValue::Str(r.user_agent)));
            if let Some(h) = &handler_elapsed {
                fields.push(("handler_elapsed_time", FieldValue::Str(h.as_str())));
            }
            fields.push(("request_time", FieldValue::Str(request_time.as_str())));
            self.write_line("tomodachi.http.response", "", &fields);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format_seconds(d: Duration) -> String {
        Seconds::new(d).as_str().to_owned()
    }

    #[test]
    fn seconds_have_five_decimals() {
        assert_eq!(format_seconds(Duration::from_micros(1350)), "0.00135s");
        assert_eq!(format_seconds(Duration::from_secs(2)), "2.00000s");
        assert_eq!(format_seconds(Duration::ZERO), "0.00000s");
        assert_eq!(format_seconds(Duration::from_nanos(4_999)), "0.00000s");
        assert_eq!(format_seconds(Duration::from_nanos(5_000)), "0.00001s");
        assert_eq!(
            format_seconds(Duration::from_nanos(1_234_567_890)),
            "1.23457s"
        );
        assert_eq!(
            format_seconds(Duration::from_micros(9_999_996)),
            "10.00000s"
        );
        assert_eq!(
            format_seconds(Duration::from_secs(u64::MAX)),
            format!("{}.00000s", u64::MAX)
        );
        // The same text as float formatting, away from rounding ties.
        for micros in [1u64, 17, 999, 12_345, 1_000_001, 98_765_432] {
            let d = Duration::from_micros(micros) + Duration::from_nanos(1_234);
            assert_eq!(
                format_seconds(d),
                format!("{:.5}s", d.as_secs_f64()),
                "{d:?}"
            );
        }
    }

    #[test]
    fn basic_auth_user_as_aiohttp_decodes_it() {
        let user = |value: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
            basic_auth_user(&headers)
        };
        // base64("authuser:secret"), "Basic" in any case
        assert_eq!(
            user("Basic YXV0aHVzZXI6c2VjcmV0").as_deref(),
            Some("authuser")
        );
        assert_eq!(
            user("bAsIc YXV0aHVzZXI6c2VjcmV0").as_deref(),
            Some("authuser")
        );
        // latin-1: the byte 0xe9 is "é"
        assert_eq!(user("Basic 6Tp4").as_deref(), Some("\u{e9}"));
        assert_eq!(
            user("Basic OnNlY3JldA=="),
            None,
            "an empty login is not logged"
        );
        assert_eq!(user("Basic YXV0aHVzZXI="), None, "no colon");
        assert_eq!(user("Basic !!!"), None, "not base64");
        assert_eq!(
            user("Basic YXV0aHVzZXI6c2VjcmV0 x"),
            None,
            "trailing garbage"
        );
        assert_eq!(user("Bearer YXV0aHVzZXI6c2VjcmV0"), None);
        assert_eq!(user("Basic"), None);
        assert_eq!(basic_auth_user(&http::HeaderMap::new()), None);
    }

    #[test]
    fn bad_file_path_is_a_clear_error() {
        let err = AccessLog::with_file(Path::new("/nonexistent-dir/x/access.log")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unable to use file for access log - invalid path (\"/nonexistent-dir/x/access.log\")"
        );
    }
}
