use std::collections::HashMap;

use tracing_subscriber::layer::SubscriberExt;

use super::console::{push_console_line, push_console_str};
use super::value::{push_f64, push_timestamp_at, push_timestamp_of};
use super::*;

const TS_LEN: usize = "2026-11-22T06:52:16.967261Z".len();

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == TS_LEN
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            26 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// Replaces every timestamp in `s` with `TS`.
fn mask(s: &str) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < s.len() {
        if s.is_char_boundary(i) && s.get(i..i + TS_LEN).is_some_and(is_timestamp) {
            out.push_str("TS");
            i += TS_LEN;
        } else {
            let ch = s[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn capture(format: LogFormat, color: bool, f: impl FnOnce()) -> String {
    let capture = CaptureWriter::new();
    let subscriber =
        tracing_subscriber::registry().with(TomodachiLayer::new(format, color, capture.clone()));
    tracing::subscriber::with_default(subscriber, f);
    capture.contents()
}

#[test]
fn console_line_layout_matches_spec_example() {
    let out = capture(LogFormat::Console, false, || {
        tracing::info!(target: "tomodachi.service", service = "probe", uuid = %"8f1a", "initializing service instance");
    });
    assert_eq!(
        mask(&out),
        "TS [info     ] initializing service instance  [tomodachi.service] service=probe uuid=8f1a\n"
    );
    assert!(is_timestamp(&out[..TS_LEN]), "{out}");
}

#[test]
fn console_pads_level_and_message() {
    let out = capture(LogFormat::Console, false, || {
        tracing::warn!(target: "tomodachi.signal", sig = 15, "short");
        tracing::info!(target: "tomodachi.lifecycle", "started service successfully");
        tracing::error!(target: "x", "a message that is longer than thirty characters");
    });
    assert_eq!(
        mask(&out),
        "TS [warning  ] short                          [tomodachi.signal] sig=15\n\
         TS [info     ] started service successfully   [tomodachi.lifecycle]\n\
         TS [error    ] a message that is longer than thirty characters [x]\n"
    );
}

#[test]
fn console_message_not_padded_when_nothing_follows() {
    let mut out = String::new();
    let limits = LogLimits::default();
    push_console_line(
        &mut out,
        false,
        "info",
        "hello",
        "",
        std::iter::empty(),
        &limits,
    );
    assert_eq!(mask(&out), "TS [info     ] hello\n");
    let mut out = String::new();
    push_console_line(
        &mut out,
        false,
        "info",
        "hello",
        "",
        [("k", FieldValue::Int(1))],
        &limits,
    );
    assert_eq!(
        mask(&out),
        "TS [info     ] hello                          k=1\n"
    );
}

#[test]
fn console_values_are_python_repr_and_strings_bare() {
    let out = capture(LogFormat::Console, false, || {
        tracing::info!(
            target: "t",
            s = "with spaces",
            n = -5,
            u = 7u64,
            f = 0.5,
            big = 1e20,
            b = true,
            c = false,
            d = ?Some(1),
            tb_location = "./svc.py:45",
            error_location = "<unknown>",
            "m"
        );
    });
    assert_eq!(
        mask(&out),
        "TS [info     ] m                              [t] s=\"with spaces\" n=-5 u=7 f=0.5 big=1e+20 \
         b=True c=False d=Some(1) tb_location=<./svc.py:45> error_location=<unknown>\n"
    );
}

#[test]
fn console_exception_field_printed_after_line() {
    let out = capture(LogFormat::Console, false, || {
        tracing::error!(target: "exception", exception = "Traceback:\n  boom", exc_type = "Error", "uncaught exception: boom");
    });
    assert_eq!(
        mask(&out),
        "TS [error    ] uncaught exception: boom       [exception] exc_type=Error\nTraceback:\n  boom\n"
    );
}

#[test]
fn console_colour_off_has_no_ansi_and_on_has_ansi() {
    let emit = || {
        tracing::info!(target: "tomodachi.service", service = "probe", "initializing service instance");
        tracing::error!(target: "tomodachi.service", "failed");
    };
    let plain = capture(LogFormat::Console, false, emit);
    assert!(!plain.contains('\x1b'), "{plain:?}");
    let colored = capture(LogFormat::Console, true, emit);
    assert!(colored.contains('\x1b'), "{colored:?}");
    let first = colored.lines().next().unwrap();
    assert_eq!(
        mask(first),
        "\x1b[2mTS\x1b[0m [\x1b[32m\x1b[1minfo     \x1b[0m] \x1b[1minitializing service instance \x1b[0m \
         [\x1b[0m\x1b[1m\x1b[34mtomodachi.service\x1b[0m]\x1b[0m \x1b[36mservice\x1b[0m=\x1b[35mprobe\x1b[0m"
    );
    assert!(
        colored.contains("[\x1b[31m\x1b[1merror    \x1b[0m]"),
        "{colored:?}"
    );
    // JSON never carries colours.
    let json = capture(LogFormat::Json, true, emit);
    assert!(!json.contains('\x1b'));
}

#[test]
fn json_access_log_record_exact_bytes() {
    let out = capture(LogFormat::Json, true, || {
        tracing::info!(
            target: "tomodachi.http.response",
            status_code = 200u16,
            remote_ip = "127.0.0.1",
            auth_user = "authuser",
            request_method = "GET",
            request_path = "/p/x",
            request_query_string = "q=1",
            http_version = "HTTP/1.1",
            response_content_length = 1u64,
            user_agent = "curl/7.88.1",
            handler_elapsed_time = %format_args!("{:.5}s", 0.00057),
            request_time = %format_args!("{:.5}s", 0.00069),
            ""
        );
    });
    assert_eq!(
        mask(&out),
        "{\"timestamp\": \"TS\", \"logger\": \"tomodachi.http.response\", \"level\": \"info\", \
         \"message\": \"\", \"status_code\": 200, \"remote_ip\": \"127.0.0.1\", \"auth_user\": \
         \"authuser\", \"request_method\": \"GET\", \"request_path\": \"/p/x\", \
         \"request_query_string\": \"q=1\", \"http_version\": \"HTTP/1.1\", \
         \"response_content_length\": 1, \"user_agent\": \"curl/7.88.1\", \
         \"handler_elapsed_time\": \"0.00057s\", \"request_time\": \"0.00069s\"}\n"
    );
    assert!(is_timestamp(&out[15..15 + TS_LEN]), "{out}");
}

#[test]
fn json_span_context_precedes_event_fields() {
    let out = capture(LogFormat::Json, false, || {
        let outer = tracing::info_span!(
            "middleware",
            middleware = "auth",
            handler = "index",
            r#type = "tomodachi.http"
        );
        let _outer = outer.enter();
        let inner = tracing::info_span!(
            "handler",
            handler = "index2",
            attempt = 1,
            ok = true,
            ratio = 0.25
        );
        let _inner = inner.enter();
        emit_handler_warning();
    });
    assert_eq!(
        mask(&out),
        "{\"timestamp\": \"TS\", \"logger\": \"tomodachi.http.handler\", \"level\": \"warning\", \
         \"message\": \"hi \\\"there\\\"\", \"middleware\": \"auth\", \"handler\": \"index2\", \
         \"type\": \"tomodachi.http\", \"attempt\": 2, \"ok\": true, \"ratio\": 0.25, \
         \"event\": \"e\", \"class\": \"c\", \"debug\": \"[1, 2]\", \"neg\": -3}\n"
    );
}

/// Event for `json_span_context_precedes_event_fields` (overrides the span's `attempt`).
fn emit_handler_warning() {
    tracing::warn!(
        target: "tomodachi.http.handler",
        attempt = 2,
        event_ = "e",
        class_ = "c",
        debug = ?[1, 2],
        neg = -3i64,
        "hi \"there\""
    );
}

#[test]
fn json_span_fields_recorded_later_are_included() {
    let out = capture(LogFormat::Json, false, || {
        let span = tracing::info_span!(
            "req",
            handler = "index",
            status_code = tracing::field::Empty
        );
        let _guard = span.enter();
        span.record("status_code", 404);
        tracing::info!(target: "t", "x");
    });
    assert!(
        out.ends_with("\"message\": \"x\", \"handler\": \"index\", \"status_code\": 404}\n"),
        "{out}"
    );
}

#[test]
fn json_escapes_non_ascii_and_control_characters() {
    let out = capture(LogFormat::Json, false, || {
        tracing::info!(target: "t", name = "友達", emoji = "😀", ctl = "q\"b\\n\nr\rt\tb\u{8}f\u{c}z\u{1}d\u{7f}é", "友達");
    });
    assert!(
        out.ends_with(
            "\"message\": \"\\u53cb\\u9054\", \"name\": \"\\u53cb\\u9054\", \"emoji\": \"\\ud83d\\ude00\", \
             \"ctl\": \"q\\\"b\\\\n\\nr\\rt\\tb\\bf\\fz\\u0001d\\u007f\\u00e9\"}\n"
        ),
        "{out}"
    );
    assert!(out.is_ascii());
}

#[test]
fn json_floats_follow_python_repr() {
    let cases: [(f64, &str, &str); 10] = [
        (1.0, "1.0", "1.0"),
        (0.1, "0.1", "0.1"),
        (-0.0, "-0.0", "-0.0"),
        (1e16, "1e+16", "1e+16"),
        (1.5e-7, "1.5e-07", "1.5e-07"),
        (0.0001, "0.0001", "0.0001"),
        (1e100, "1e+100", "1e+100"),
        (f64::NAN, "NaN", "nan"),
        (f64::INFINITY, "Infinity", "inf"),
        (f64::NEG_INFINITY, "-Infinity", "-inf"),
    ];
    for (v, json, repr) in cases {
        let mut s = String::new();
        push_f64(&mut s, v, true);
        assert_eq!(s, json);
        s.clear();
        push_f64(&mut s, v, false);
        assert_eq!(s, repr);
    }
}

#[test]
fn critical_field_on_error_prints_critical() {
    let out = capture(LogFormat::Json, false, || {
        tracing::error!(target: "t", critical = true, "bad");
        tracing::info!(target: "t", critical = true, "not critical");
    });
    let lines: Vec<_> = out.lines().collect();
    assert!(
        lines[0].ends_with("\"level\": \"critical\", \"message\": \"bad\"}"),
        "{out}"
    );
    assert!(lines[1]
        .ends_with("\"level\": \"info\", \"message\": \"not critical\", \"critical\": true}"));
    let console = capture(LogFormat::Console, false, || {
        tracing::error!(target: "t", critical = true, "bad");
    });
    assert_eq!(
        mask(&console),
        "TS [critical ] bad                            [t]\n"
    );
}

#[test]
fn python_format_has_no_key_values() {
    let out = capture(LogFormat::Python, true, || {
        let span = tracing::info_span!("h", handler = "index");
        let _g = span.enter();
        tracing::info!(target: "tomodachi.http", listen_url = "http://127.0.0.1:9700", "accepting http requests");
        tracing::debug!(target: "tomodachi.event", "-> lifecycle.setup");
    });
    assert_eq!(
        mask(&out),
        "TS [info     ] accepting http requests        [tomodachi.http]\n\
         TS [debug    ] -> lifecycle.setup             [tomodachi.event]\n"
    );
}

#[test]
fn disabled_format_writes_nothing() {
    let out = capture(LogFormat::Disabled, false, || {
        tracing::error!(target: "t", "x");
    });
    assert_eq!(out, "");
}

#[test]
fn level_filtering() {
    let run = |level: LogLevel| {
        let capture = CaptureWriter::new();
        let config = LoggingConfig {
            format: LogFormat::Console,
            level,
            color: false,
        };
        tracing::subscriber::with_default(build_subscriber(&config, capture.clone()), || {
            tracing::trace!(target: "t", "trace");
            tracing::debug!(target: "t", "debug");
            tracing::info!(target: "t", "info");
            tracing::warn!(target: "t", "warning");
            tracing::error!(target: "t", "error");
        });
        capture
            .contents()
            .lines()
            .map(|l| l[TS_LEN + 2..TS_LEN + 11].trim_end().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(run(LogLevel::Debug), ["debug", "info", "warning", "error"]);
    assert_eq!(run(LogLevel::Info), ["info", "warning", "error"]);
    assert_eq!(run(LogLevel::Warning), ["warning", "error"]);
    assert_eq!(run(LogLevel::Error), ["error"]);
    assert_eq!(run(LogLevel::Critical), ["error"]);
    let capture = CaptureWriter::new();
    let config = LoggingConfig {
        format: LogFormat::Disabled,
        level: LogLevel::Debug,
        color: false,
    };
    tracing::subscriber::with_default(build_subscriber(&config, capture.clone()), || {
        tracing::error!(target: "t", "error");
    });
    assert_eq!(capture.contents(), "");
}

#[test]
fn log_level_parsing() {
    for (input, level) in [
        ("debug", LogLevel::Debug),
        ("INFO", LogLevel::Info),
        ("Warning", LogLevel::Warning),
        ("warn", LogLevel::Warning),
        ("error", LogLevel::Error),
        ("CRITICAL", LogLevel::Critical),
        ("fatal", LogLevel::Critical),
    ] {
        assert_eq!(input.parse::<LogLevel>(), Ok(level), "{input}");
    }
    assert_eq!(LogLevel::Critical.to_string(), "critical");
    assert_eq!(LogLevel::Warning.level_filter(), LevelFilter::WARN);
    assert_eq!(LevelFilter::from(LogLevel::Critical), LevelFilter::ERROR);
    for bad in ["notset", "verbose", "", " info", "10"] {
        let err = bad.parse::<LogLevel>().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Invalid log level: '{bad}' (expected 'debug', 'info', 'warning', 'error' or 'critical')")
        );
    }
}

#[test]
fn log_format_parsing() {
    assert_eq!("console".parse(), Ok(LogFormat::Console));
    assert_eq!("Json".parse(), Ok(LogFormat::Json));
    assert_eq!("python".parse(), Ok(LogFormat::Python));
    assert_eq!("DISABLED".parse(), Ok(LogFormat::Disabled));
    assert_eq!(LogFormat::default(), LogFormat::Console);
    assert_eq!(
        "XML".parse::<LogFormat>().unwrap_err().to_string(),
        "Invalid value for --logger option: 'xml' (expected 'json', 'console', 'python' or 'disabled')"
    );
    assert_eq!(
        "custom".parse::<LogFormat>().unwrap_err().to_string(),
        "Invalid value for --logger option: 'custom' (expected 'json', 'console', 'python' or 'disabled')"
    );
}

#[test]
fn render_json_line_matches_layer_format() {
    let mut line = String::from("keep:");
    render_json_line(
        &mut line,
        "tomodachi.http",
        "info",
        "accepting http requests",
        &[
            ("listen_url", FieldValue::Str("http://127.0.0.1:9700")),
            ("n", FieldValue::from(-1)),
            ("u", FieldValue::from(2u32)),
            ("f", FieldValue::from(2.5)),
            ("b", FieldValue::from(false)),
            ("none", FieldValue::from(None::<&str>)),
            ("event_", FieldValue::from("ü")),
        ],
    );
    assert_eq!(
        mask(&line),
        "keep:{\"timestamp\": \"TS\", \"logger\": \"tomodachi.http\", \"level\": \"info\", \
         \"message\": \"accepting http requests\", \"listen_url\": \"http://127.0.0.1:9700\", \
         \"n\": -1, \"u\": 2, \"f\": 2.5, \"b\": false, \"none\": null, \"event\": \"\\u00fc\"}\n"
    );
    let via_layer = capture(LogFormat::Json, false, || {
        tracing::info!(target: "tomodachi.http", listen_url = "http://127.0.0.1:9700", n = -1, "accepting http requests");
    });
    let mut direct = String::new();
    render_json_line(
        &mut direct,
        "tomodachi.http",
        "info",
        "accepting http requests",
        &[
            ("listen_url", "http://127.0.0.1:9700".into()),
            ("n", (-1).into()),
        ],
    );
    assert_eq!(mask(&via_layer), mask(&direct));
}

#[test]
fn timestamp_format() {
    let t = chrono::DateTime::from_timestamp(1_795_330_336, 967_261_000).unwrap();
    let mut s = String::new();
    push_timestamp_of(&mut s, &t);
    assert_eq!(s, "2026-11-22T06:52:16.967261Z");
    let t = chrono::DateTime::from_timestamp(0, 5_000).unwrap();
    s.clear();
    push_timestamp_of(&mut s, &t);
    assert_eq!(s, "1970-01-01T00:00:00.000005Z");
}

#[test]
fn colour_environment_rules() {
    let env = |pairs: &[(&str, &str)]| {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    };
    assert!(color_allowed_by(env(&[])));
    for var in [
        "NO_COLOR",
        "NOCOLOR",
        "TOMODACHI_NO_COLOR",
        "TOMODACHI_NOCOLOR",
    ] {
        assert!(!color_allowed_by(env(&[(var, "1")])), "{var}");
        assert!(!color_allowed_by(env(&[(var, "True")])), "{var}");
        assert!(color_allowed_by(env(&[(var, "0")])), "{var}");
        assert!(color_allowed_by(env(&[(var, "")])), "{var}");
    }
    for var in ["CLICOLOR", "CLI_COLOR", "CLICOLOR_FORCE"] {
        assert!(!color_allowed_by(env(&[(var, "0")])), "{var}");
        assert!(!color_allowed_by(env(&[(var, "FALSE")])), "{var}");
        assert!(color_allowed_by(env(&[(var, "1")])), "{var}");
    }
    assert!(color_decision(env(&[]), true));
    assert!(!color_decision(env(&[]), false));
    assert!(!color_decision(env(&[("NO_COLOR", "1")]), true));
    assert!(color_decision(env(&[("CLICOLOR_FORCE", "1")]), false));
    assert!(!color_decision(
        env(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "true")]),
        false
    ));
    assert!(!color_decision(env(&[("CLICOLOR_FORCE", "0")]), true));
}

#[test]
fn init_twice_returns_error() {
    let config = LoggingConfig {
        format: LogFormat::Disabled,
        level: LogLevel::Error,
        color: false,
    };
    let _ = init(&config);
    assert_eq!(init(&config), Err(LoggingInitError::AlreadyInitialized));
}

#[test]
fn reentrant_logging_from_a_field_does_not_panic() {
    struct Noisy;
    impl std::fmt::Debug for Noisy {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            ::tracing::info!(target: "inner", "nested");
            f.write_str("noisy")
        }
    }
    let out = capture(LogFormat::Json, false, || {
        tracing::info!(target: "outer", v = ?Noisy, "outer");
    });
    // tracing itself drops the nested event (the dispatcher is busy); the outer one is intact.
    assert_eq!(
        mask(&out),
        "{\"timestamp\": \"TS\", \"logger\": \"outer\", \"level\": \"info\", \"message\": \"outer\", \"v\": \"noisy\"}\n"
    );
}

fn capture_with(format: LogFormat, limits: LogLimits, f: impl FnOnce()) -> String {
    let capture = CaptureWriter::new();
    let subscriber = tracing_subscriber::registry()
        .with(TomodachiLayer::new(format, false, capture.clone()).with_limits(limits));
    tracing::subscriber::with_default(subscriber, f);
    capture.contents()
}

/// The `key=value` pairs of a console line, read back by a logfmt parser (the `logfmt` crate).
fn logfmt_pairs(line: &str) -> Vec<(String, Option<String>)> {
    logfmt::parse(line)
        .into_iter()
        .map(|pair| (pair.key, pair.val))
        .collect()
}

#[test]
fn console_values_that_would_forge_fields_are_quoted() {
    let forged = "/x status_code=200 remote_ip=10.0.0.1";
    let out = capture(LogFormat::Console, false, || {
        tracing::info!(target: "tomodachi.http.response", status_code = 404u16,
            remote_ip = "127.0.0.1", request_path = forged, user_agent = "a=\"b\" c", "");
    });
    assert!(
        out.ends_with(
            " status_code=404 remote_ip=127.0.0.1 request_path=\"/x status_code=200 remote_ip=10.0.0.1\" \
             user_agent=\"a=\\\"b\\\" c\"\n"
        ),
        "{out}"
    );
    let pairs = logfmt_pairs(out.trim_end());
    let values = |key: &str| -> Vec<Option<String>> {
        pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    };
    assert_eq!(values("status_code"), [Some("404".to_owned())]);
    assert_eq!(values("remote_ip"), [Some("127.0.0.1".to_owned())]);
    assert_eq!(values("request_path"), [Some(forged.to_owned())]);
    assert_eq!(values("user_agent"), [Some("a=\"b\" c".to_owned())]);
}

#[test]
fn console_plain_values_stay_bare() {
    let mut out = String::new();
    for value in [
        "/health",
        "127.0.0.1",
        "curl/8.5.0",
        "0.00135s",
        "HTTP/1.1",
        "é/ü",
    ] {
        out.clear();
        push_console_str(&mut out, value, usize::MAX, usize::MAX);
        assert_eq!(out, value);
    }
    for (value, shown) in [
        ("", ""),
        ("a b", "\"a b\""),
        ("a=b", "\"a=b\""),
        ("say \"hi\"", "\"say \\\"hi\\\"\""),
        ("back\\slash b", "\"back\\\\slash b\""),
        ("nbsp\u{a0}x", "\"nbsp\u{a0}x\""),
        ("line\u{2028}sep", "\"line\\u2028sep\""),
    ] {
        out.clear();
        push_console_str(&mut out, value, usize::MAX, usize::MAX);
        assert_eq!(out, shown, "{value:?}");
    }
}

#[test]
fn console_never_writes_control_characters_raw() {
    let out = capture(LogFormat::Console, false, || {
        tracing::info!(target: "t", path = "/a\nTS [info] forged\u{1b}[31m\u{7f}\u{85}\t\r\u{0}",
            "message\nwith a line break\u{1b}[2J");
    });
    let body = out.strip_suffix('\n').unwrap();
    assert!(
        !body.chars().any(|c| c.is_control()),
        "a control character reached the console: {out:?}"
    );
    assert!(
        mask(&out).starts_with("TS [info     ] message\\nwith a line break\\u001b[2J [t] path="),
        "{out}"
    );
    assert!(
        out.ends_with(" path=\"/a\\nTS [info] forged\\u001b[31m\\u007f\\u0085\\t\\r\\u0000\"\n"),
        "{out}"
    );
    // A traceback keeps its line breaks, but no other control character.
    let out = capture(LogFormat::Console, false, || {
        tracing::error!(target: "exception", exception = "Traceback:\n\tboom \u{1b}[2J", "uncaught");
    });
    assert!(
        out.ends_with("\nTraceback:\n\tboom \\u001b[2J\n"),
        "{out:?}"
    );
    // The python format escapes the message too.
    let out = capture(LogFormat::Python, false, || {
        tracing::info!(target: "t", "two\nlines");
    });
    assert_eq!(out.matches('\n').count(), 1, "{out:?}");
}

#[test]
fn a_long_value_is_cut_and_marked_in_both_formats() {
    let uuid = "u".repeat(5 * 1024 * 1024);
    let limits = LogLimits::default();
    let console = capture_with(LogFormat::Console, limits, || {
        tracing::info!(target: "t", message_uuid = uuid.as_str(), topic = "orders", "message received");
    });
    assert!(console.len() <= limits.max_line_length, "{}", console.len());
    let kept = "u".repeat(4096);
    let left_out = uuid.len() - 4096;
    assert!(
        console.ends_with(&format!(
            " message_uuid=\"{kept}…(+{left_out} bytes)\" topic=orders\n"
        )),
        "{}",
        &console[..200]
    );
    let json = capture_with(LogFormat::Json, limits, || {
        tracing::info!(target: "t", message_uuid = uuid.as_str(), topic = "orders", "message received");
    });
    assert!(json.len() <= limits.max_line_length, "{}", json.len());
    let record: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        record["message_uuid"],
        format!("{kept}…(+{left_out} bytes)").as_str()
    );
    assert_eq!(record["topic"], "orders");
    // The message is capped as well.
    let json = capture_with(LogFormat::Json, limits, || {
        tracing::info!(target: "t", "{uuid}");
    });
    let record: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        record["message"],
        format!("{kept}…(+{left_out} bytes)").as_str()
    );
}

#[test]
fn the_line_cap_cuts_the_values_that_come_after_it() {
    let limits = LogLimits {
        max_field_length: 4096,
        max_line_length: 10_000,
    };
    let value = "v".repeat(4000);
    for format in [LogFormat::Console, LogFormat::Json] {
        let out = capture_with(format, limits, || {
            tracing::info!(target: "t", a = value.as_str(), b = value.as_str(),
                c = value.as_str(), d = value.as_str(), status_code = 200, "m");
        });
        assert!(
            out.len() <= limits.max_line_length,
            "{format}: {}",
            out.len()
        );
        for key in ["a", "b", "c", "d", "status_code"] {
            assert!(
                out.contains(&format!(" {key}=")) || out.contains(&format!("\"{key}\": ")),
                "{format}: {key} missing"
            );
        }
        assert!(out.contains(" bytes)"), "{format}: no cut marker");
        if format == LogFormat::Json {
            let record: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(record["status_code"], 200);
            assert_eq!(record["a"], value.as_str());
        }
    }
}

#[test]
fn unlimited_caps_keep_everything() {
    let value = "x".repeat(100_000);
    let out = capture_with(LogFormat::Json, LogLimits::UNLIMITED, || {
        tracing::info!(target: "t", v = value.as_str(), "m");
    });
    let record: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(record["v"], value.as_str());
}

#[test]
fn cutting_never_splits_a_character() {
    let limits = LogLimits {
        max_field_length: 5,
        max_line_length: 0,
    };
    let out = capture_with(LogFormat::Console, limits, || {
        tracing::info!(target: "t", v = "ééé", "m");
    });
    assert!(out.ends_with(" v=\"éé…(+2 bytes)\"\n"), "{out}");
}

/// Records of the `log` crate go through the same formatters, under their own target as the
/// logger name, without the `log.*` call-site fields.
#[test]
fn log_crate_records_are_rendered_with_their_target_as_logger() {
    // one `log` logger per process: this test's, or an earlier one's (also a LogTracer)
    // (the level of `log` is process-wide too: another test's `init` may have set `error`)
    let _ = forward_log_records(LogLevel::Debug);
    let json = LoggingConfig {
        format: LogFormat::Json,
        level: LogLevel::Info,
        color: false,
    };
    let capture = CaptureWriter::new();
    tracing::subscriber::with_default(build_subscriber(&json, capture.clone()), || {
        log::error!(target: "hyper::proto::h1::conn", "connection reset");
        log::debug!(target: "hyper::proto::h1::conn", "below the level");
    });
    let out = capture.contents();
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        mask(&out).starts_with(
            "{\"timestamp\": \"TS\", \"logger\": \"hyper::proto::h1::conn\", \"level\": \"error\", \
             \"message\": \"connection reset\"}"
        ),
        "{out}"
    );
    let console = LoggingConfig {
        format: LogFormat::Console,
        ..json
    };
    let capture = CaptureWriter::new();
    tracing::subscriber::with_default(build_subscriber(&console, capture.clone()), || {
        log::error!(target: "lapin::channels", "channel closed");
    });
    assert_eq!(
        mask(&capture.contents()),
        format!(
            "TS [error    ] {:<30} [lapin::channels]\n",
            "channel closed"
        )
    );
}

/// A custom layer sees the records the formatter sees, also when the formatter is disabled.
#[test]
fn a_custom_layer_gets_the_records() {
    use tracing_subscriber::Layer as _;
    for format in [LogFormat::Disabled, LogFormat::Json] {
        let config = LoggingConfig {
            format,
            level: LogLevel::Info,
            color: false,
        };
        let mine = CaptureWriter::new();
        let ours = CaptureWriter::new();
        let layer = TomodachiLayer::new(LogFormat::Python, false, mine.clone()).boxed();
        let subscriber = build_subscriber_with(&config, ours.clone(), layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "tomodachi.lifecycle", state = "ready", "started service successfully");
            tracing::debug!(target: "tomodachi.lifecycle", "below the level");
        });
        assert_eq!(
            mask(&mine.contents()),
            "TS [info     ] started service successfully   [tomodachi.lifecycle]\n",
            "{format}"
        );
        assert_eq!(ours.contents().is_empty(), format == LogFormat::Disabled);
    }
}

fn json_records(f: impl FnOnce()) -> Vec<serde_json::Value> {
    let out = capture(LogFormat::Json, false, f);
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn keys_of(record: &serde_json::Value) -> Vec<&str> {
    record
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

/// `get_logger()` in a handler: upstream's handler logger name, the handler context, the bound
/// fields (kept for later `get_logger()` calls of the same handler), the record's own fields.
#[test]
fn get_logger_in_a_handler_binds_for_the_handlers_task() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let records = json_records(|| {
        rt.block_on(async {
            scope(HandlerContext::new("create", "tomodachi.http"), async {
                get_logger(None).bind("order_id", 17).bind("class_", "x");
                get_logger(None).log(
                    tracing::Level::INFO,
                    "order received",
                    &[("answer", FieldValue::Int(42))],
                );
                get_logger("audit").bind("who", "ann").warning("named");
                get_logger("audit").critical("named again");
                get_logger(None).debug("below the level of no one: written");
            })
            .await;
            // another handler does not see the bindings
            scope(HandlerContext::new("other", "tomodachi.amqp"), async {
                get_logger(None).info("other handler");
            })
            .await;
            get_logger(None).info("outside");
        })
    });
    let r = &records[0];
    assert_eq!(r["logger"], "tomodachi.http.handler");
    assert_eq!(r["message"], "order received");
    assert_eq!(
        keys_of(r),
        [
            "timestamp",
            "logger",
            "level",
            "message",
            "handler",
            "type",
            "order_id",
            "class",
            "answer"
        ]
    );
    assert_eq!(r["order_id"], 17);
    assert_eq!(r["class"], "x");
    assert_eq!(r["answer"], 42);
    assert_eq!(records[1]["logger"], "audit");
    assert_eq!(records[1]["level"], "warning");
    assert_eq!(records[1]["who"], "ann");
    assert_eq!(records[2]["level"], "critical");
    assert_eq!(records[2]["who"], "ann", "the named logger's binding stays");
    assert_eq!(records[3]["level"], "debug");
    let other = &records[4];
    assert_eq!(other["logger"], "tomodachi.amqp.handler");
    assert!(other.get("order_id").is_none(), "{other}");
    let outside = &records[5];
    assert_eq!(outside["logger"], "default");
    assert_eq!(
        keys_of(outside),
        ["timestamp", "logger", "level", "message"]
    );
}

/// A task started with a clone of the handler context gets a snapshot of the bindings: what
/// it binds stays in it.
#[test]
fn child_tasks_get_a_snapshot_of_the_bindings() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let records = json_records(|| {
        rt.block_on(async {
            scope(HandlerContext::new("h", "tomodachi.schedule"), async {
                get_logger(None).bind("a", 1);
                let child = scope(current().unwrap(), async {
                    get_logger(None).bind("b", 2).info("child");
                });
                child.await;
                get_logger(None).info("parent");
            })
            .await;
        })
    });
    assert_eq!(records[0]["message"], "child");
    assert_eq!((&records[0]["a"], &records[0]["b"]), (&1.into(), &2.into()));
    assert_eq!(records[1]["message"], "parent");
    assert_eq!(records[1]["a"], 1);
    assert!(records[1].get("b").is_none(), "{}", records[1]);
}

/// On the console the logger's name is the bracketed logger; a level that is filtered out
/// writes nothing.
#[test]
fn logger_records_on_the_console_and_filtered() {
    let config = LoggingConfig {
        format: LogFormat::Console,
        level: LogLevel::Info,
        color: false,
    };
    let capture = CaptureWriter::new();
    tracing::subscriber::with_default(build_subscriber(&config, capture.clone()), || {
        let logger = get_logger("app.orders")
            .bind("n", 5)
            .bind("x", BoundValue::Null);
        logger.debug("not written");
        logger.info("hello");
    });
    assert_eq!(
        mask(&capture.contents()),
        "TS [info     ] hello                          [app.orders] n=5 x=None\n"
    );
}

/// The ids of the active span end the record, as Python `hex()` prints them (no zero padding).
#[cfg(feature = "opentelemetry")]
#[test]
fn span_ids_end_the_record_in_python_hex() {
    use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId};
    let sc = SpanContext::new(
        TraceId::from_hex("00000000000000000000000000000001").unwrap(),
        SpanId::from_hex("00f0000000000000").unwrap(),
        TraceFlags::SAMPLED,
        true,
        Default::default(),
    );
    let cx = opentelemetry::Context::new().with_remote_span_context(sc);
    let records = json_records(|| {
        let _guard = cx.attach();
        tracing::info!(target: "t", a = 1, "in a span");
    });
    let line = capture(LogFormat::Console, false, || {
        let _guard = opentelemetry::Context::new()
            .with_remote_span_context(SpanContext::new(
                TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
                SpanId::from_hex("b7ad6b7169203331").unwrap(),
                TraceFlags::SAMPLED,
                true,
                Default::default(),
            ))
            .attach();
        tracing::info!(target: "t", "in a span");
    });
    assert_eq!(records[0]["span_id"], "0xf0000000000000");
    assert_eq!(records[0]["trace_id"], "0x1");
    assert_eq!(
        keys_of(&records[0]),
        [
            "timestamp",
            "logger",
            "level",
            "message",
            "a",
            "span_id",
            "trace_id"
        ]
    );
    assert!(
        line.ends_with(
            " [t] span_id=0xb7ad6b7169203331 trace_id=0xaf7651916cd43dd8448eb211c80319c\n"
        ),
        "{line}"
    );
    // no span: no ids
    let records = json_records(|| tracing::info!(target: "t", "no span"));
    assert!(records[0].get("trace_id").is_none());
}

/// The timestamp written from the per-second cache is the one written from the calendar, for
/// times in the same second, the next, across days and years, before the epoch and past 9999.
#[test]
fn cached_timestamps_match_the_calendar() {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    let at = |secs: u64, nanos: u32| UNIX_EPOCH + Duration::new(secs, nanos);
    let mut times = vec![
        UNIX_EPOCH,
        at(1_764_900_000, 0),
        at(1_764_900_000, 999_999_999),
        at(1_764_900_001, 1_000),
        at(1_764_900_001, 1_000),
        at(1_767_225_599, 999_999_000), // 2025-12-31T23:59:59.999999Z
        at(1_767_225_600, 0),
        at(1_709_164_800, 123_456_789),   // 2024-02-29
        at(253_402_300_799, 999_999_999), // 9999-12-31T23:59:59
        at(253_402_300_800, 5_000),       // year 10000: not cached
        at(1_764_900_000, 42_000),
        UNIX_EPOCH - Duration::from_micros(1),
        UNIX_EPOCH - Duration::new(86_400 * 365, 500_000),
    ];
    times.push(SystemTime::now());
    for t in times {
        let mut cached = String::new();
        push_timestamp_at(&mut cached, t);
        let mut calendar = String::new();
        push_timestamp_of(&mut calendar, &chrono::DateTime::<chrono::Utc>::from(t));
        assert_eq!(cached, calendar, "{t:?}");
    }
}
