//! The access log: one record per request on `tomodachi.http.response`, and
//! optionally JSON lines appended to a file.

use std::cell::RefCell;
use std::fs::File;
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use http::Version;

use crate::error::Error;
use crate::logging::{render_json_line, BackgroundWriter, FieldValue};

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
    /// The JSON lines file: written by a background thread, so that a request does not wait
    /// for the disk; `None` once closed.
    file: Option<Mutex<Option<BackgroundWriter<File>>>>,
}

/// An IP address as its `Display` text, written without the formatting machinery for IPv4
/// (one is on every access-log record).
pub(crate) struct IpText {
    buf: [u8; 48],
    len: usize,
}

impl IpText {
    pub(crate) fn new(ip: IpAddr) -> Self {
        let mut text = Self {
            buf: [0; 48],
            len: 0,
        };
        match ip {
            IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        text.push(b'.');
                    }
                    if octet >= 100 {
                        text.push(b'0' + octet / 100);
                    }
                    if octet >= 10 {
                        text.push(b'0' + (octet / 10) % 10);
                    }
                    text.push(b'0' + octet % 10);
                }
            }
            IpAddr::V6(v6) => {
                use std::fmt::Write as _;
                if write!(text, "{v6}").is_err() {
                    text.len = 0;
                }
            }
        }
        text
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        self.buf
            .get(..self.len)
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .unwrap_or("")
    }
}

impl std::fmt::Write for IpText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The fields of one access-log file line, on the stack (at most 14).
struct FileFields<'a> {
    items: [(&'static str, FieldValue<'a>); 14],
    len: usize,
}

impl Default for FileFields<'_> {
    fn default() -> Self {
        Self {
            items: [("", FieldValue::Null); 14],
            len: 0,
        }
    }
}

impl<'a> FileFields<'a> {
    fn push(&mut self, key: &'static str, value: FieldValue<'a>) {
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = (key, value);
            self.len += 1;
        }
    }

    fn as_slice(&self) -> &[(&'static str, FieldValue<'a>)] {
        self.items.get(..self.len).unwrap_or(&[])
    }
}

thread_local! {
    /// The JSON line of the access-log file, reused.
    static FILE_LINE: RefCell<String> = RefCell::new(String::with_capacity(512));
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
        // At most u64::MAX seconds (20 digits, 21 after rounding up), 5 decimals and `s`;
        // in 64-bit arithmetic (the whole-nanosecond count would need 128).
        let tens_of_micros = (d.subsec_nanos() + 5_000) / 10_000;
        let (carry, mut frac) = if tens_of_micros == 100_000 {
            (1, 0)
        } else {
            (0, tens_of_micros)
        };
        let (mut whole, overflow) = d.as_secs().overflowing_add(carry);
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
        if overflow {
            // u64::MAX seconds rounded up
            const PAST_U64: &[u8] = b"18446744073709551616";
            len -= PAST_U64.len();
            buf[len..len + PAST_U64.len()].copy_from_slice(PAST_U64);
            return Self { buf, start: len };
        }
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
            file: Some(Mutex::new(Some(BackgroundWriter::new(file)))),
        })
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    fn write_line(&self, logger: &str, message: &str, fields: &[(&str, FieldValue<'_>)]) {
        let Some(file) = &self.file else { return };
        let write = |line: &str| {
            if let Ok(guard) = file.lock() {
                if let Some(writer) = guard.as_ref() {
                    use tracing_subscriber::fmt::MakeWriter as _;
                    let _ = writer.make_writer().write_all(line.as_bytes());
                }
            }
        };
        let reused = FILE_LINE.try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut line) => {
                line.clear();
                render_json_line(&mut line, logger, "info", message, fields);
                write(&line);
                if line.capacity() > 64 * 1024 {
                    *line = String::new();
                }
            }
            Err(_) => {
                let mut line = String::new();
                render_json_line(&mut line, logger, "info", message, fields);
                write(&line);
            }
        });
        if reused.is_err() {
            let mut line = String::new();
            render_json_line(&mut line, logger, "info", message, fields);
            write(&line);
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

    /// Closes the file at shutdown, once every record is written to it.
    pub(crate) fn close(&self) {
        if let Some(file) = &self.file {
            let writer = file.lock().ok().and_then(|mut guard| guard.take());
            // dropping the last handle writes what is queued, then closes the file
            drop(writer);
        }
    }

    /// Emits one record.
    pub(crate) fn record(&self, r: &AccessRecord<'_>) {
        if !self.enabled {
            return;
        }
        let handler_elapsed = r.handler_elapsed.map(Seconds::new);
        let request_time = Seconds::new(r.request_time);
        let remote_ip = IpText::new(r.remote_ip);
        tracing::info!(
            target: "tomodachi.http.response",
            // first, as the format string's would be; a `str` rather than `format_args!("")`:
            // no formatting machinery for it
            message = "",
            status_code = r.status_code,
            replaced_status_code = r.replaced_status_code,
            remote_ip = remote_ip.as_str(),
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
        );
        if self.file.is_some() {
            let mut fields = FileFields::default();
            fields.push("status_code", FieldValue::UInt(u64::from(r.status_code)));
            if let Some(replaced) = r.replaced_status_code {
                fields.push(
                    "replaced_status_code",
                    FieldValue::UInt(u64::from(replaced)),
                );
            }
            fields.push("remote_ip", FieldValue::Str(remote_ip.as_str()));
            if let Some(user) = r.auth_user {
                fields.push("auth_user", FieldValue::Str(user));
            }
            fields.push("request_method", FieldValue::Str(r.method));
            fields.push("request_path", FieldValue::Str(r.path));
            if let Some(q) = r.query {
                fields.push("request_query_string", FieldValue::Str(q));
            }
            fields.push("http_version", FieldValue::Str(version_str(r.version)));
            fields.push(
                "response_content_length",
                FieldValue::UInt(r.response_content_length),
            );
            if let Some(len) = r.request_content_length {
                fields.push("request_content_length", FieldValue::UInt(len));
                fields.push("request_content_read_length", FieldValue::UInt(len));
            }
            fields.push("user_agent", FieldValue::Str(r.user_agent));
            if let Some(h) = &handler_elapsed {
                fields.push("handler_elapsed_time", FieldValue::Str(h.as_str()));
            }
            fields.push("request_time", FieldValue::Str(request_time.as_str()));
            self.write_line("tomodachi.http.response", "", fields.as_slice());
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
        assert_eq!(
            format_seconds(Duration::new(u64::MAX, 999_995_000)),
            "18446744073709551616.00000s"
        );
        assert_eq!(format_seconds(Duration::new(7, 999_994_999)), "7.99999s");
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
    fn ip_text_is_the_display_text() {
        let ips = [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.30.40",
            "255.255.255.255",
            "1.100.99.9",
            "::",
            "::1",
            "2001:db8::ff00:42:8329",
            "::ffff:192.0.2.128",
            "fe80::1:2:3:4",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ];
        for ip in ips {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(IpText::new(ip).as_str(), ip.to_string());
        }
        for octet in 0..=255u8 {
            let ip = IpAddr::from([octet, 255 - octet, octet / 2, 7]);
            assert_eq!(IpText::new(ip).as_str(), ip.to_string());
        }
    }

    fn sample(path: &'static str, query: Option<&'static str>) -> AccessRecord<'static> {
        AccessRecord {
            status_code: 200,
            replaced_status_code: None,
            remote_ip: IpAddr::from([127, 0, 0, 1]),
            auth_user: None,
            method: "GET",
            path,
            query,
            version: Version::HTTP_11,
            response_content_length: 5,
            request_content_length: None,
            user_agent: "test-client",
            handler_elapsed: Some(Duration::from_micros(120)),
            request_time: Duration::from_micros(1350),
        }
    }

    /// The file gets every record, in order, as the JSON lines it had when it was written on
    /// the request path; closing it writes what is queued first.
    #[test]
    fn the_file_gets_every_record_in_order_once_closed() {
        let path = std::env::temp_dir().join(format!(
            "tomodachi-access-log-{}-{:?}.log",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_file(&path);
        let log = AccessLog::with_file(&path).unwrap();
        log.started("http://127.0.0.1:8080", "127.0.0.1", 8080);
        for i in 0..2_000 {
            let query = format!("i={i}");
            let query: &'static str = Box::leak(query.into_boxed_str());
            log.record(&sample("/x", Some(query)));
        }
        log.close();
        log.record(&sample("/after-close", None));
        let text = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2_001);
        assert!(lines[0].contains(r#""message": "accepting http requests", "listen_url": "http://127.0.0.1:8080", "listen_host": "127.0.0.1", "listen_port": 8080}"#));
        for (i, line) in lines[1..].iter().enumerate() {
            let tail = format!(
                r#""logger": "tomodachi.http.response", "level": "info", "message": "", "status_code": 200, "remote_ip": "127.0.0.1", "request_method": "GET", "request_path": "/x", "request_query_string": "i={i}", "http_version": "HTTP/1.1", "response_content_length": 5, "user_agent": "test-client", "handler_elapsed_time": "0.00012s", "request_time": "0.00135s"}}"#
            );
            assert!(line.ends_with(&tail), "{line}");
        }
    }

    /// Replaces every `YYYY-MM-DDTHH:MM:SS.ffffffZ` in `s` with `TS`.
    fn mask(s: &str) -> String {
        let is_ts = |t: &[u8]| {
            t.len() == 27
                && t.iter().enumerate().all(|(i, &c)| match i {
                    4 | 7 => c == b'-',
                    10 => c == b'T',
                    13 | 16 => c == b':',
                    19 => c == b'.',
                    26 => c == b'Z',
                    _ => c.is_ascii_digit(),
                })
        };
        let (bytes, mut out, mut i) = (s.as_bytes(), Vec::new(), 0);
        while i < bytes.len() {
            if bytes.get(i..i + 27).is_some_and(is_ts) {
                out.extend_from_slice(b"TS");
                i += 27;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    /// The record as it was emitted before it skipped the formatting machinery (the address
    /// through `Display`, the message a format string).
    fn emit_as_before(r: &AccessRecord<'_>) {
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
    }

    /// Every format writes the same bytes for the record as before.
    #[test]
    fn records_keep_their_bytes_in_every_format() {
        use crate::logging::{CaptureWriter, LogFormat, TomodachiLayer};
        use tracing_subscriber::layer::SubscriberExt;

        let mut full = sample("/a path", Some("q=1&x"));
        full.replaced_status_code = Some(204);
        full.status_code = 499;
        full.remote_ip = "2001:db8::1".parse().unwrap();
        full.auth_user = Some("user");
        full.request_content_length = Some(12);
        full.version = Version::HTTP_10;
        let mut no_handler = sample("/", None);
        no_handler.handler_elapsed = None;
        let records = [sample("/", None), full, no_handler];
        let formats = [
            (LogFormat::Console, false),
            (LogFormat::Console, true),
            (LogFormat::Json, false),
            (LogFormat::Python, false),
        ];
        let log = AccessLog::logger_only();
        for (format, color) in formats {
            let render = |emit: &dyn Fn(&AccessRecord<'_>)| {
                let capture = CaptureWriter::new();
                let layer = TomodachiLayer::new(format, color, capture.clone());
                tracing::subscriber::with_default(
                    tracing_subscriber::registry().with(layer),
                    || {
                        for r in &records {
                            emit(r);
                        }
                    },
                );
                mask(&capture.contents())
            };
            let before = render(&emit_as_before);
            let now = render(&|r| log.record(r));
            assert_eq!(now, before, "{format:?} color={color}");
            assert_eq!(now.lines().count(), 3);
        }
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
