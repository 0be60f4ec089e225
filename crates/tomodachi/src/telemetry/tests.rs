use super::exclude::ExcludedUrls;
use super::provider::{exporters, Exporter};

fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |k| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    }
}

#[test]
fn no_exporter_unless_asked_for() {
    assert!(exporters(&env(&[])).unwrap().is_empty());
    assert!(exporters(&env(&[("OTEL_TRACES_EXPORTER", "none")]))
        .unwrap()
        .is_empty());
}

#[test]
fn otlp_is_grpc_unless_the_protocol_says_http() {
    assert_eq!(
        exporters(&env(&[("OTEL_TRACES_EXPORTER", "otlp")])).unwrap(),
        [Exporter::OtlpGrpc]
    );
    assert_eq!(
        exporters(&env(&[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        ]))
        .unwrap(),
        [Exporter::OtlpHttp]
    );
    assert_eq!(
        exporters(&env(&[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")
        ]))
        .unwrap(),
        [Exporter::OtlpGrpc]
    );
    assert_eq!(
        exporters(&env(&[(
            "OTEL_TRACES_EXPORTER",
            "otlp_proto_http, otlp_proto_grpc"
        )]))
        .unwrap(),
        [Exporter::OtlpHttp, Exporter::OtlpGrpc]
    );
    let e = exporters(&env(&[
        ("OTEL_TRACES_EXPORTER", "otlp"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
    ]))
    .unwrap_err();
    assert!(e.to_string().contains("Unsupported OTLP protocol"), "{e}");
    let e = exporters(&env(&[("OTEL_TRACES_EXPORTER", "zipkin")])).unwrap_err();
    assert!(e.to_string().contains("'zipkin' not found"), "{e}");
}

#[test]
fn excluded_urls_are_searched_in_the_path() {
    let x = ExcludedUrls::parse(" /health , ^/metrics$,,");
    assert!(x.excludes("/health"));
    assert!(x.excludes("/api/health/deep"));
    assert!(x.excludes("/metrics"));
    assert!(!x.excludes("/metrics/x"));
    assert!(!x.excludes("/"));
    assert!(!ExcludedUrls::parse("").excludes("/health"));
    // an invalid pattern is ignored, the others still apply
    let x = ExcludedUrls::parse("([,/ok");
    assert!(x.excludes("/ok"));
}

#[test]
fn excluded_urls_from_upstreams_variables() {
    let x = ExcludedUrls::from_env(&env(&[
        ("OTEL_PYTHON_TOMODACHI_EXCLUDED_URLS", "/a"),
        ("OTEL_PYTHON_EXCLUDED_URLS", "/b"),
    ]));
    // tomodachi's own list, and the generic one standing in for aiohttp's
    assert!(x.excludes("/a") && x.excludes("/b") && !x.excludes("/c"));
    let x = ExcludedUrls::from_env(&env(&[("OTEL_PYTHON_AIOHTTP_EXCLUDED_URLS", "/c")]));
    assert!(x.excludes("/c") && !x.excludes("/a"));
}

#[cfg(feature = "amqp")]
#[test]
fn amqp_headers_carry_the_context_as_long_strings() {
    use super::propagation::{extract, inject, AmqpHeaders, AmqpHeadersMut};
    use lapin::types::{AMQPValue, FieldTable};
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId};
    use opentelemetry::trace::{TraceContextExt, TraceState};

    let sc = SpanContext::new(
        TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
        SpanId::from_hex("b7ad6b7169203331").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::from_key_value([("vendor", "x")]).unwrap(),
    );
    let cx = opentelemetry::Context::new().with_remote_span_context(sc);
    let mut table = FieldTable::default();
    inject(&cx, &mut AmqpHeadersMut(&mut table));
    assert_eq!(
        table.inner().get("traceparent"),
        Some(&AMQPValue::LongString(
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()
        ))
    );
    assert_eq!(
        table.inner().get("tracestate"),
        Some(&AMQPValue::LongString("vendor=x".into()))
    );
    let back = extract(&AmqpHeaders(Some(&table)));
    let back = back.span().span_context().clone();
    assert_eq!(
        back.trace_id().to_string(),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(back.span_id().to_string(), "b7ad6b7169203331");
    assert!(back.is_remote() && back.is_sampled());
    // no headers, or a malformed traceparent: no parent
    assert!(!extract(&AmqpHeaders(None)).span().span_context().is_valid());
    let mut bad = FieldTable::default();
    bad.insert("traceparent".into(), AMQPValue::LongString("00-zz".into()));
    assert!(!extract(&AmqpHeaders(Some(&bad)))
        .span()
        .span_context()
        .is_valid());
}

#[test]
fn the_resource_names_the_service_unless_the_environment_does() {
    // the process environment has no OTEL_SERVICE_NAME in the tests
    if std::env::var_os("OTEL_SERVICE_NAME").is_some()
        || std::env::var_os("OTEL_RESOURCE_ATTRIBUTES").is_some()
    {
        return;
    }
    let r = super::provider::resource("orders", "u-1");
    let get = |k: &'static str| r.get(&k.into()).map(|v| v.as_str().into_owned());
    assert_eq!(get("service.name").as_deref(), Some("orders"));
    assert_eq!(get("service.instance.id").as_deref(), Some("u-1"));
    assert_eq!(get("telemetry.sdk.language").as_deref(), Some("rust"));
    let r = super::provider::resource("service", "u-1");
    let get = |k: &'static str| r.get(&k.into()).map(|v| v.as_str().into_owned());
    assert!(get("service.name").unwrap().starts_with("unknown_service"));
    assert_eq!(get("service.instance.id"), None);
}
