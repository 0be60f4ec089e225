//! Tests for the options module (upstream `tests/test_options.py`, `tests/test_configs.py`, and
//! upstream's config-file merging, keep-alive and access-log options).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{json, Value};

use super::*;

/// The flattened default listing of upstream's options (upstream `test_default_values`).
fn spec_defaults() -> Vec<(&'static str, Value)> {
    vec![
        ("http.port", json!(9700)),
        ("http.host", json!("0.0.0.0")),
        ("http.reuse_port", json!(cfg!(target_os = "linux"))),
        ("http.content_type", json!("text/plain; charset=utf-8")),
        ("http.charset", json!("utf-8")),
        ("http.client_max_size", json!(104857600)),
        ("http.termination_grace_period_seconds", json!(30)),
        ("http.access_log", json!(true)),
        ("http.real_ip_from", json!([])),
        ("http.real_ip_header", json!("X-Forwarded-For")),
        ("http.keepalive_timeout", json!(0)),
        ("http.keepalive_expiry", json!(0)),
        ("http.max_keepalive_time", Value::Null),
        ("http.max_keepalive_requests", Value::Null),
        ("http.server_header", json!("tomodachi")),
        // This port's additions to the http section.
        ("http.read_timeout", json!(30)),
        ("http.max_connections", json!(10000)),
        ("aws_sns_sqs.region_name", Value::Null),
        ("aws_sns_sqs.aws_access_key_id", Value::Null),
        ("aws_sns_sqs.aws_secret_access_key", Value::Null),
        ("aws_sns_sqs.topic_prefix", json!("")),
        ("aws_sns_sqs.queue_name_prefix", json!("")),
        ("aws_sns_sqs.sns_kms_master_key_id", Value::Null),
        ("aws_sns_sqs.sqs_kms_master_key_id", Value::Null),
        ("aws_sns_sqs.sqs_kms_data_key_reuse_period", Value::Null),
        ("aws_sns_sqs.queue_policy", Value::Null),
        ("aws_sns_sqs.wildcard_queue_policy", Value::Null),
        ("aws_endpoint_urls.sns", Value::Null),
        ("aws_endpoint_urls.sqs", Value::Null),
        ("aws_endpoint_urls.sts", Value::Null),
        ("amqp.host", json!("127.0.0.1")),
        ("amqp.port", json!(5672)),
        ("amqp.login", json!("guest")),
        ("amqp.password", json!("guest")),
        ("amqp.exchange_name", json!("amq.topic")),
        ("amqp.routing_key_prefix", json!("")),
        ("amqp.queue_name_prefix", json!("")),
        ("amqp.virtualhost", json!("/")),
        ("amqp.ssl", json!(false)),
        ("amqp.heartbeat", json!(60)),
        ("amqp.queue_ttl", json!(86400)),
        ("amqp.qos.queue_prefetch_count", json!(100)),
        ("amqp.qos.global_prefetch_count", json!(400)),
        ("watcher.ignored_dirs", json!([])),
        ("watcher.watched_file_endings", json!([])),
        // This port's additions, after upstream's listing.
        ("logging.max_field_length", json!(4096)),
        ("logging.max_line_length", json!(32768)),
        ("envelope.max_inflated_size", json!(67108864)),
    ]
}

fn msg<T: std::fmt::Debug, E: std::fmt::Display>(result: Result<T, E>) -> String {
    match result {
        Ok(v) => panic!("expected an error, got Ok({v:?})"),
        Err(e) => e.to_string(),
    }
}

// ---------------------------------------------------------------- defaults / flat listing

#[test]
fn defaults_equal_spec_listing_in_order() {
    let expected = spec_defaults();
    let entries = Options::default().flat_entries();
    let got: Vec<(&str, Value)> = entries
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    assert_eq!(got, expected);
    // Values compare as JSON integers (not 30.0 / 0.0).
    assert_eq!(
        serde_json::to_string(&Options::default().to_flat_map()["http.keepalive_timeout"]).ok(),
        Some("0".to_string())
    );
}

#[test]
fn to_flat_map_keeps_order_and_values() {
    let flat = Options::default().to_flat_map();
    let keys: Vec<&str> = flat.keys().map(String::as_str).collect();
    let expected_keys: Vec<&str> = spec_defaults().iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, expected_keys);
    assert_eq!(flat["http.access_log"], json!(true));
    assert_eq!(flat["http.max_keepalive_time"], Value::Null);
    assert_eq!(Options::known_keys(), expected_keys);
}

#[test]
fn typed_defaults() {
    let o = Options::default();
    assert_eq!(o.http.port, 9700);
    assert_eq!(o.http.reuse_port, cfg!(target_os = "linux"));
    assert_eq!(o.http.access_log, AccessLog::Enabled);
    assert_eq!(o.http.client_max_size, DEFAULT_CLIENT_MAX_SIZE);
    assert_eq!(o.http.keepalive_timeout, 0.0);
    assert!(!o.http.keepalive_enabled());
    assert_eq!(o.amqp.qos, AmqpQosOptions::default());
    assert_eq!(o.amqp.qos.global_prefetch_count, 400);
    assert!(o.validate().is_ok());
}

#[test]
fn section_key_constants_match_entries() {
    let o = Options::default();
    let names = |e: Vec<(&'static str, Value)>| e.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    assert_eq!(names(o.http.entries()), HttpOptions::KEYS);
    assert_eq!(names(o.aws_sns_sqs.entries()), AwsSnsSqsOptions::KEYS);
    assert_eq!(names(o.aws_endpoint_urls.entries()), AwsEndpointUrls::KEYS);
    let mut amqp = names(o.amqp.entries());
    amqp.push("qos");
    assert_eq!(amqp, AmqpOptions::KEYS);
    assert_eq!(names(o.amqp.qos.entries()), AmqpQosOptions::KEYS);
    assert_eq!(names(o.watcher.entries()), WatcherOptions::KEYS);
}

#[test]
fn to_json_round_trips_through_merge() {
    let mut custom = Options::default();
    custom
        .merge_json(&json!({
            "http": {"port": 1, "access_log": "/tmp/x.log", "keepalive_timeout": 2.5,
                     "max_keepalive_requests": 7, "real_ip_from": ["10.0.0.0/8"]},
            "aws_sns_sqs": {"region_name": "eu-west-1", "sns_kms_master_key_id": false},
            "amqp": {"qos": {"queue_prefetch_count": 1}},
            "watcher": {"ignored_dirs": ["a"]}
        }))
        .unwrap();
    let mut other = Options::default();
    other.merge_json(&custom.to_json()).unwrap();
    assert_eq!(other, custom);
    assert_eq!(custom.get("").unwrap(), custom.to_json());
}

// ---------------------------------------------------------------- construction and access

#[test]
fn struct_update_syntax() {
    let o = Options {
        http: HttpOptions {
            port: 8080,
            content_type: "application/json; charset=utf-8".into(),
            access_log: AccessLog::Disabled,
            real_ip_from: vec!["127.0.0.1/32".into(), "10.0.0.0/8".into()],
            keepalive_timeout: 10.0,
            max_keepalive_time: Some(30.0),
            ..Default::default()
        },
        aws_endpoint_urls: AwsEndpointUrls {
            sns: Some("http://localhost:4566".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(o.http.port, 8080);
    assert!(o.http.real_ip_from.contains(&"127.0.0.1/32".to_string()));
    assert_eq!(o.aws_endpoint_urls.sqs, None);
    assert_eq!(o.http.real_ip_header, "X-Forwarded-For");
    assert_eq!(o.amqp.login, "guest");
    assert_eq!(o.get("http").unwrap()["port"], json!(8080));
    assert_eq!(o.get("http.port").unwrap(), json!(8080));
    assert_eq!(o.get("http.max_keepalive_time").unwrap(), json!(30));
    assert_eq!(o.get("http.access_log").unwrap(), json!(false));
    assert_eq!(
        o.get("aws_endpoint_urls.sns").unwrap(),
        json!("http://localhost:4566")
    );
    assert_eq!(o.to_flat_map()["http.port"], json!(8080));
    assert!(o.validate().is_ok());
}

#[test]
fn get_sections_and_nested() {
    let o = Options::default();
    let http = o.get("http").unwrap();
    assert_eq!(
        http.as_object().map(|m| m.len()),
        Some(HttpOptions::KEYS.len())
    );
    assert_eq!(http["server_header"], json!("tomodachi"));
    let amqp = o.get("amqp").unwrap();
    assert_eq!(amqp["qos"]["queue_prefetch_count"], json!(100));
    assert_eq!(amqp["port"], json!(5672));
    assert_eq!(o.get("amqp.qos.queue_prefetch_count").unwrap(), json!(100));
    assert_eq!(
        o.get("amqp.qos").unwrap(),
        json!({"queue_prefetch_count": 100, "global_prefetch_count": 400})
    );
    assert_eq!(
        o.get("watcher").unwrap(),
        json!({"ignored_dirs": [], "watched_file_endings": []})
    );
}

#[test]
fn get_unknown_keys() {
    let o = Options::default();
    let e = o.get("aws_endpoint_urls.key_does_not_exist").unwrap_err();
    assert_eq!(e.key(), "aws_endpoint_urls.key_does_not_exist");
    assert_eq!(
        e.to_string(),
        "option 'aws_endpoint_urls.key_does_not_exist' is not a known option (valid keys in 'aws_endpoint_urls': sns, sqs, sts)"
    );
    let e = o.get("invalid_option_key.key_does_not_exist").unwrap_err();
    assert_eq!(
        e.to_string(),
        "option 'invalid_option_key.key_does_not_exist' is not a known option (valid top-level keys: http, aws_sns_sqs, aws_endpoint_urls, amqp, watcher, logging, envelope)"
    );
    assert_eq!(o.get("invalid.key").unwrap_or(json!(0)), json!(0));
    assert!(o.get("http.port.deeper").is_err());
}

#[test]
fn set_forms() {
    let mut o = Options::default();
    o.set("http.port", json!(1234)).unwrap();
    assert_eq!(o.http.port, 1234);
    o.http.port = 9999;
    assert_eq!(o.get("http.port").unwrap(), json!(9999));
    o.set("http", json!({"port": 1337})).unwrap();
    assert_eq!(o.http.port, 1337);
    assert_eq!(o.http.server_header, "tomodachi");
    o.set("amqp.qos", json!({"queue_prefetch_count": 5}))
        .unwrap();
    assert_eq!(o.amqp.qos.queue_prefetch_count, 5);
    assert_eq!(o.amqp.qos.global_prefetch_count, 400);
    o.set("", json!({"amqp.login": "tron"})).unwrap();
    assert_eq!(o.amqp.login, "tron");
    let o2 = Options::default()
        .with("http.port", 0)
        .unwrap()
        .with("amqp.ssl", true)
        .unwrap();
    assert_eq!((o2.http.port, o2.amqp.ssl), (0, true));
}

#[test]
fn set_error_leaves_options_unchanged() {
    let mut o = Options::default();
    let before = o.clone();
    assert!(o
        .merge_json(&json!({"http": {"port": 1, "prot": 2}}))
        .is_err());
    assert_eq!(o, before);
    assert!(o.set("http", json!({"port": 2, "host": 5})).is_err());
    assert_eq!(o, before);
}

// ---------------------------------------------------------------- merging

#[test]
fn merge_nested_dotted_and_mixtures() {
    let o = Options::from_json(&json!({"http.port": 1234})).unwrap();
    assert_eq!(o.http.port, 1234);

    let o = Options::from_json(&json!({"http": {"port": 404}})).unwrap();
    assert_eq!(o.http.port, 404);
    assert_eq!(o.http.termination_grace_period_seconds, 30);

    let o = Options::from_json(
        &json!({"http.port": 1234, "http.termination_grace_period_seconds": 60}),
    )
    .unwrap();
    assert_eq!(
        (o.http.port, o.http.termination_grace_period_seconds),
        (1234, 60)
    );

    for input in [
        json!({"http.port": 555, "http": {"keepalive_timeout": 5, "max_keepalive_time": 30}}),
        json!({"http": {"keepalive_timeout": 5, "max_keepalive_time": 30}, "http.port": 555}),
    ] {
        let o = Options::from_json(&input).unwrap();
        assert_eq!(o.http.port, 555);
        assert_eq!(o.http.keepalive_timeout, 5.0);
        assert_eq!(o.http.max_keepalive_time, Some(30.0));
        assert!(o.validate().is_ok());
    }

    let o = Options::from_json(
        &json!({"amqp.login": "tron", "amqp.qos": {"queue_prefetch_count": 42, "global_prefetch_count": 0}}),
    )
    .unwrap();
    assert_eq!(o.amqp.login, "tron");
    assert_eq!(o.amqp.qos.queue_prefetch_count, 42);
    assert_eq!(o.amqp.qos.global_prefetch_count, 0);

    let o = Options::from_json(&json!({"amqp.qos.queue_prefetch_count": 999})).unwrap();
    assert_eq!(o.amqp.login, "guest");
    assert_eq!(o.amqp.qos.queue_prefetch_count, 999);

    let o =
        Options::from_json(&json!({"amqp": {"login": "tron", "qos.queue_prefetch_count": 4711}}))
            .unwrap();
    assert_eq!(
        o.get("amqp.qos").unwrap(),
        json!({"queue_prefetch_count": 4711, "global_prefetch_count": 400})
    );

    let o = Options::from_json(
        &json!({"http": {"server_header": "example"}, "http.keepalive_timeout": 100}),
    )
    .unwrap();
    assert_eq!(o.http.server_header, "example");
    assert_eq!(o.http.keepalive_timeout, 100.0);
}

#[test]
fn merge_keeps_unnamed_keys() {
    let mut o = Options::default();
    o.merge_json(&json!({"http": {"port": 1, "server_header": "a"}}))
        .unwrap();
    o.merge_json(&json!({"http": {"port": 2}})).unwrap();
    assert_eq!(o.http.port, 2);
    assert_eq!(o.http.server_header, "a");
}

#[test]
fn merge_legacy_aliases() {
    let o = Options::from_json(&json!({
        "aws": {
            "region_name": "eu-west-1",
            "aws_secret_access_key": "SECRET",
            "endpoint_url": "http://localhost:4566",
            "kms_master_key_id": "arn:kms"
        },
        "aws_sns_sqs": {"queue_name_prefix": "queue-name-prefix", "topic_prefix": "topic-name-prefix"},
        "aws.access_key_id": "AKIA"
    }))
    .unwrap();
    assert_eq!(
        o.get("aws_sns_sqs").unwrap(),
        json!({
            "region_name": "eu-west-1",
            "aws_access_key_id": "AKIA",
            "aws_secret_access_key": "SECRET",
            "topic_prefix": "topic-name-prefix",
            "queue_name_prefix": "queue-name-prefix",
            "sns_kms_master_key_id": "arn:kms",
            "sqs_kms_master_key_id": "arn:kms",
            "sqs_kms_data_key_reuse_period": null,
            "queue_policy": null,
            "wildcard_queue_policy": null
        })
    );
    assert_eq!(
        o.get("aws_endpoint_urls").unwrap(),
        json!({"sns": "http://localhost:4566", "sqs": "http://localhost:4566", "sts": "http://localhost:4566"})
    );

    let o = Options::from_json(&json!({"aws": {"endpoint_url": "http://localhost:4566"}})).unwrap();
    assert_eq!(
        o.aws_endpoint_urls.sns.as_deref(),
        Some("http://localhost:4566")
    );
    assert_eq!(
        o.aws_endpoint_urls.sqs.as_deref(),
        Some("http://localhost:4566")
    );
    assert_eq!(
        o.aws_endpoint_urls.sts.as_deref(),
        Some("http://localhost:4566")
    );

    let o = Options::from_json(&json!({"aws": {"aws_sqs_endpoint_url": "http://localhost:4566"}}))
        .unwrap();
    assert_eq!(
        o.get("aws_endpoint_urls").unwrap(),
        json!({"sns": null, "sqs": "http://localhost:4566", "sts": null})
    );
}

#[test]
fn merge_more_aliases() {
    let o = Options::from_json(&json!({
        "aws_sns_sqs": {
            "aws_region_name": "us-east-1",
            "endpoint_urls": {"sts": "http://sts"},
            "sns_endpoint_url": "http://sns",
            "aws_sqs_kms_master_key_id": "sqs-key",
            "kms_data_key_reuse_period": 300
        },
        "aws.endpoint_urls.sqs": "http://sqs",
        "aws": {"aws_sns_kms_master_key_id": "sns-key", "wildcard_queue_policy": "arn:*"},
        "http": {"max_upload_size": "2M"},
        "http.keepalive_expiry": 7
    }))
    .unwrap();
    assert_eq!(o.aws_sns_sqs.region_name.as_deref(), Some("us-east-1"));
    assert_eq!(o.aws_endpoint_urls.sts.as_deref(), Some("http://sts"));
    assert_eq!(o.aws_endpoint_urls.sns.as_deref(), Some("http://sns"));
    assert_eq!(o.aws_endpoint_urls.sqs.as_deref(), Some("http://sqs"));
    assert_eq!(
        o.aws_sns_sqs.sqs_kms_master_key_id.as_deref(),
        Some("sqs-key")
    );
    assert_eq!(
        o.aws_sns_sqs.sns_kms_master_key_id.as_deref(),
        Some("sns-key")
    );
    assert_eq!(o.aws_sns_sqs.sqs_kms_data_key_reuse_period, Some(300));
    assert_eq!(
        o.aws_sns_sqs.wildcard_queue_policy.as_deref(),
        Some("arn:*")
    );
    assert_eq!(o.http.client_max_size, 2 * 1024 * 1024);
    assert_eq!(o.http.keepalive_timeout, 7.0);
    assert_eq!(o.get("http.keepalive_expiry").unwrap(), json!(7));

    let o = Options::from_json(&json!({"http.max_buffer_size": 4096})).unwrap();
    assert_eq!(o.http.client_max_size, 4096);
}

#[test]
fn alias_errors_name_the_given_key() {
    let e = Options::from_json(&json!({"aws": {"endpoint_url": 5}})).unwrap_err();
    assert_eq!(e.key(), "aws.endpoint_url");
    assert_eq!(
        e.to_string(),
        "invalid type for option 'aws.endpoint_url': expected a string or null, got number 5"
    );
    let e = Options::from_json(&json!({"aws": {"bogus": 1}})).unwrap_err();
    assert_eq!(e.key(), "aws.bogus");
    let text = e.to_string();
    assert!(text.starts_with("option 'aws.bogus' is not a known option (valid keys in 'aws': region_name, aws_region_name,"), "{text}");
    let e = Options::from_json(&json!({"http": {"max_buffer_size": "1000B"}})).unwrap_err();
    assert_eq!(e.key(), "http.max_buffer_size");
    assert_eq!(
        e.to_string(),
        "Too low value for http option client_max_size: 1000B (1000B)"
    );
}

#[test]
fn unknown_key_errors() {
    let e = Options::from_json(&json!({"http": {"prot": 1}})).unwrap_err();
    assert_eq!(
        e,
        OptionsError::UnknownKey {
            key: "http.prot".into(),
            section: "http".into(),
            valid_keys: HttpOptions::KEYS.iter().map(|k| k.to_string()).collect(),
        }
    );
    assert_eq!(
        e.to_string(),
        "option 'http.prot' is not a known option (valid keys in 'http': port, host, reuse_port, content_type, charset, client_max_size, termination_grace_period_seconds, access_log, real_ip_from, real_ip_header, keepalive_timeout, keepalive_expiry, max_keepalive_time, max_keepalive_requests, server_header, read_timeout, max_connections)"
    );
    let e = Options::from_json(&json!({"amqp": {"qos.bogus": 1}})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "option 'amqp.qos.bogus' is not a known option (valid keys in 'amqp.qos': queue_prefetch_count, global_prefetch_count)"
    );
    let e = Options::from_json(&json!({"htp": {"port": 1}})).unwrap_err();
    assert_eq!(e.key(), "htp");
    let e = Options::from_json(&json!({"htp.port": 1})).unwrap_err();
    assert_eq!(e.key(), "htp.port");
    let e = Options::from_json(&json!({"http": {"": 1}})).unwrap_err();
    assert_eq!(e.key(), "http.");
}

#[test]
fn wrong_type_errors() {
    let cases = [
        (
            json!({"http": {"port": "8080"}}),
            "http.port",
            "string \"8080\"",
        ),
        (
            json!({"http": {"port": 70000}}),
            "http.port",
            "number 70000",
        ),
        (json!({"http": {"host": 1}}), "http.host", "number 1"),
        (
            json!({"http.reuse_port": "yes"}),
            "http.reuse_port",
            "string \"yes\"",
        ),
        (
            json!({"http": {"content_type": null}}),
            "http.content_type",
            "null",
        ),
        (
            json!({"http": {"access_log": 1}}),
            "http.access_log",
            "number 1",
        ),
        (
            json!({"http": {"real_ip_from": [1]}}),
            "http.real_ip_from",
            "array [1]",
        ),
        (
            json!({"amqp": {"qos": {"queue_prefetch_count": -1}}}),
            "amqp.qos.queue_prefetch_count",
            "number -1",
        ),
        (
            json!({"amqp": {"ssl": "true"}}),
            "amqp.ssl",
            "string \"true\"",
        ),
        (
            json!({"watcher": {"ignored_dirs": "a"}}),
            "watcher.ignored_dirs",
            "string \"a\"",
        ),
        (
            json!({"aws_sns_sqs": {"region_name": ["x"]}}),
            "aws_sns_sqs.region_name",
            "array [\"x\"]",
        ),
        (json!({"http": 5}), "http", "number 5"),
    ];
    for (input, key, got) in cases {
        let e = Options::from_json(&input).unwrap_err();
        match &e {
            OptionsError::InvalidType { key: k, got: g, .. } => {
                assert_eq!(k, key, "{input}");
                assert_eq!(g, got, "{input}");
            }
            other => panic!("{input}: unexpected {other:?}"),
        }
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("invalid type for option '{key}': expected ")),
            "{text}"
        );
        assert!(text.ends_with(&format!(", got {got}")), "{text}");
    }
    assert_eq!(
        msg(Options::from_json(&json!([1]))),
        "invalid options value: expected a JSON object (option section), got array [1]"
    );
}

#[test]
fn null_and_falsy_values() {
    let o = Options::from_json(&json!({"http": {
        "port": null, "host": null, "real_ip_from": "", "access_log": null,
        "keepalive_timeout": false, "max_keepalive_time": null, "termination_grace_period_seconds": null,
        "server_header": null
    }}))
    .unwrap();
    assert_eq!(o.http.port, 0);
    assert_eq!(o.http.host, "0.0.0.0");
    assert!(o.http.real_ip_from.is_empty());
    assert_eq!(o.http.access_log, AccessLog::Disabled);
    assert_eq!(o.http.keepalive_timeout, 0.0);
    assert_eq!(o.http.termination_grace_period_seconds, 30);
    assert_eq!(o.http.server_header, "");
    let o = Options::from_json(
        &json!({"http.real_ip_from": "10.0.0.0/8", "amqp.queue_ttl": null,
        "aws_sns_sqs.sns_kms_master_key_id": false, "http.port": 8080.0}),
    )
    .unwrap();
    assert_eq!(o.http.real_ip_from, vec!["10.0.0.0/8".to_string()]);
    assert_eq!(o.amqp.queue_ttl, 0);
    assert_eq!(o.aws_sns_sqs.sns_kms_master_key_id.as_deref(), Some(""));
    assert_eq!(o.http.port, 8080);
}

#[test]
fn bool_true_errors_use_upstream_texts() {
    assert_eq!(
        msg(Options::from_json(&json!({"http.port": true}))),
        "Bad value for http option port: True"
    );
    assert_eq!(
        msg(Options::from_json(&json!({"http.keepalive_timeout": true}))),
        "Bad value for http option keepalive_timeout: True"
    );
    let e = Options::from_json(&json!({"http": {"keepalive_expiry": true}})).unwrap_err();
    assert_eq!(e.key(), "http.keepalive_expiry");
    assert_eq!(
        e.to_string(),
        "Bad value for http option keepalive_timeout: True"
    );
    assert_eq!(
        msg(Options::from_json(
            &json!({"http.max_keepalive_requests": true})
        )),
        "Bad value for http option max_keepalive_requests: True"
    );
    assert_eq!(
        msg(Options::from_json(&json!({"http.max_keepalive_time": -1}))),
        "Bad value for http option max_keepalive_time: -1"
    );
    assert_eq!(
        msg(Options::from_json(
            &json!({"aws_sns_sqs.sqs_kms_master_key_id": true})
        )),
        "Bad value for aws_sns_sqs option sqs_kms_master_key_id: True"
    );
    assert_eq!(
        msg(Options::from_json(
            &json!({"aws.kms_data_key_reuse_period": true})
        )),
        "Bad value for aws_sns_sqs option sqs_kms_data_key_reuse_period: True"
    );
}

// ---------------------------------------------------------------- client_max_size

#[test]
fn client_max_size_parse_table() {
    const K: u64 = 1024;
    let ok = [
        (json!(104857600), 104857600),
        (json!(1024), 1024),
        (json!(1073741824), 1073741824),
        (json!(0), 104857600),
        (json!(null), 104857600),
        (json!(false), 104857600),
        (json!(""), 104857600),
        (json!(2048.9), 2048),
        (json!("2048"), 2048),
        (json!("2048B"), 2048),
        (json!("2048b"), 2048),
        (json!("1K"), K),
        (json!("2K"), 2 * K),
        (json!("2kb"), 2 * K),
        (json!("10M"), 10 * K * K),
        (json!("10mb"), 10 * K * K),
        (json!("100MB"), 100 * K * K),
        (json!("1G"), K * K * K),
        (json!("1gb"), K * K * K),
    ];
    for (input, expected) in ok {
        assert_eq!(
            parse_client_max_size(&input).ok(),
            Some(expected),
            "{input}"
        );
        let o = Options::from_json(&json!({"http": {"client_max_size": input}})).unwrap();
        assert_eq!(o.http.client_max_size, expected);
    }
    let errors = [
        (json!("0K"), "Too low value for http option client_max_size: 0K (0K)"),
        (json!(1000), "Too low value for http option client_max_size: 1000 (1000)"),
        (json!("0"), "Too low value for http option client_max_size: 0 (0)"),
        (json!(true), "Too low value for http option client_max_size: True (True)"),
        (json!("1023B"), "Too low value for http option client_max_size: 1023B (1023B)"),
        (json!("2G"), "Too high value for http option client_max_size: 2G (2G)"),
        (json!(1073741825), "Too high value for http option client_max_size: 1073741825 (1073741825)"),
        (
            json!("99999999999999999999999G"),
            "Too high value for http option client_max_size: 99999999999999999999999G (99999999999999999999999G)",
        ),
        (json!("1.5M"), "Bad value for http option client_max_size: 1.5M"),
        (json!("10 MB"), "Bad value for http option client_max_size: 10 MB"),
        (json!("M"), "Bad value for http option client_max_size: M"),
        (json!("10MiB"), "Bad value for http option client_max_size: 10MiB"),
        (json!("abc"), "Bad value for http option client_max_size: abc"),
        (json!("-5"), "Bad value for http option client_max_size: -5"),
        (json!(-5), "Bad value for http option client_max_size: -5"),
    ];
    for (input, expected) in errors {
        assert_eq!(msg(parse_client_max_size(&input)), expected, "{input}");
        let e = Options::from_json(&json!({"http.client_max_size": input})).unwrap_err();
        assert_eq!(e.key(), "http.client_max_size");
        assert_eq!(e.to_string(), expected);
    }
    assert!(matches!(
        parse_client_max_size(&json!([1])),
        Err(OptionsError::InvalidType { .. })
    ));
}

#[test]
fn validate_checks_struct_literal_client_max_size() {
    let mut o = Options::default();
    o.http.client_max_size = 10;
    assert_eq!(
        msg(o.validate()),
        "Too low value for http option client_max_size: 10 (10)"
    );
    o.http.client_max_size = 2 * 1024 * 1024 * 1024;
    assert_eq!(
        msg(o.validate()),
        "Too high value for http option client_max_size: 2147483648 (2147483648)"
    );
}

// ---------------------------------------------------------------- keep-alive validation

#[test]
fn keepalive_validation() {
    let requests = Options::from_json(&json!({"http": {"max_keepalive_requests": 3}})).unwrap();
    let e = requests.validate().unwrap_err();
    assert_eq!(e.key(), "http.max_keepalive_requests");
    assert_eq!(
        e.to_string(),
        "HTTP keep-alive must be enabled to use http option max_keepalive_requests - a http.keepalive_timeout option value is required"
    );
    let time = Options::from_json(&json!({"http": {"max_keepalive_time": 30}})).unwrap();
    assert_eq!(
        msg(time.validate()),
        "HTTP keep-alive must be enabled to use http option max_keepalive_time - a http.keepalive_timeout option value is required"
    );
    // Merge order does not matter: validation runs on the final result.
    let mut o = Options::from_json(&json!({"http.max_keepalive_requests": 3})).unwrap();
    o.merge_json(&json!({"http.keepalive_timeout": 5})).unwrap();
    assert!(o.validate().is_ok());
    // Zero means unlimited and needs no keep-alive.
    let zero = Options::from_json(
        &json!({"http": {"max_keepalive_requests": 0, "max_keepalive_time": 0}}),
    )
    .unwrap();
    assert!(zero.validate().is_ok());
    let via_expiry =
        Options::from_json(&json!({"http": {"keepalive_expiry": 5, "max_keepalive_time": 30}}))
            .unwrap();
    assert!(via_expiry.validate().is_ok());
    let mut bad = Options::default();
    bad.http.keepalive_timeout = -1.0;
    assert_eq!(
        msg(bad.validate()),
        "Bad value for http option keepalive_timeout: -1"
    );
}

// ---------------------------------------------------------------- config files

static FILE_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Writes `content` to a unique file in the temp dir; removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(content: &str) -> Self {
        let n = FILE_COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!(
            "tomodachi-options-test-{}-{n}.json",
            std::process::id()
        ));
        std::fs::write(&path, content).unwrap();
        Self(path)
    }

    fn shown(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn merge_json_values_rule() {
    let mut a = json!({});
    merge_json_values(&mut a, &json!({}));
    assert_eq!(a, json!({}));
    let mut a = json!({"a": 1});
    merge_json_values(&mut a, &json!({"b": 2}));
    assert_eq!(a, json!({"a": 1, "b": 2}));
    let mut a = json!({"number_list": [1, 3, 5], "string": "string", "dict": {"value_in_dict": true}, "replace_value": 100});
    merge_json_values(
        &mut a,
        &json!({"number_list": [2, 10], "dict": {"another_value_in_dict": 10.0}, "replace_value": 200}),
    );
    assert_eq!(
        a,
        json!({"number_list": [1, 3, 5, 2, 10], "string": "string",
               "dict": {"value_in_dict": true, "another_value_in_dict": 10.0}, "replace_value": 200})
    );
    let mut falsy = json!({"x": 0, "y": "", "z": [1]});
    merge_json_values(&mut falsy, &json!({"x": [1], "y": {"a": 1}, "z": "s"}));
    assert_eq!(falsy, json!({"x": [1], "y": {"a": 1}, "z": "s"}));
}

#[test]
fn config_single_file() {
    let f = TempFile::new(
        r#"{"options": {"http": {"port": 4711, "access_log": true}}, "uuid": "21a24416-1427-4603-c7c9-0ff8ab1f1c20"}"#,
    );
    let c = load_config_files(&[&f.0]).unwrap();
    assert_eq!(c.uuid(), Some("21a24416-1427-4603-c7c9-0ff8ab1f1c20"));
    assert_eq!(
        c.options(),
        Some(&json!({"http": {"port": 4711, "access_log": true}}))
    );
    assert_eq!(c.get("options.http.port"), Some(&json!(4711)));
    assert_eq!(c.paths(), std::slice::from_ref(&f.0));
    let mut o = Options::default();
    o.http.server_header = "kept".into();
    c.apply_to(&mut o).unwrap();
    assert_eq!(o.http.port, 4711);
    assert_eq!(o.http.server_header, "kept");
    assert_eq!(c.to_options().unwrap().http.server_header, "tomodachi");
}

#[test]
fn config_no_files() {
    let c = load_config_files::<&str>(&[]).unwrap();
    assert!(c.is_empty());
    assert_eq!(c.options(), None);
    assert_eq!(c.uuid(), None);
    let mut o = Options::default();
    c.apply_to(&mut o).unwrap();
    assert_eq!(o, Options::default());
}

#[test]
fn config_files_merge() {
    let a = TempFile::new(
        r#"{"numbers": [1, 3, 5], "uuid": "first", "team": "core",
            "options": {"http": {"port": 1000, "real_ip_from": ["10.0.0.0/8"]},
                        "watcher": {"ignored_dirs": ["a"]}}}"#,
    );
    let b = TempFile::new(
        r#"{"numbers": [2, 10], "uuid": "second",
            "options": {"http.port": 2000, "http": {"real_ip_from": ["192.168.0.0/16"]},
                        "watcher": {"ignored_dirs": ["b"]}, "amqp": {"login": "tron"}}}"#,
    );
    let c = load_config_files(&[&a.0, &b.0]).unwrap();
    assert_eq!(c.get("numbers"), Some(&json!([1, 3, 5, 2, 10])));
    assert_eq!(c.uuid(), Some("second"));
    assert_eq!(c.get("team"), Some(&json!("core")));
    assert_eq!(c.paths().len(), 2);
    let o = c.to_options().unwrap();
    assert_eq!(o.http.port, 2000);
    assert_eq!(
        o.http.real_ip_from,
        vec!["10.0.0.0/8".to_string(), "192.168.0.0/16".to_string()]
    );
    assert_eq!(
        o.watcher.ignored_dirs,
        vec!["a".to_string(), "b".to_string()]
    );
    assert_eq!(o.amqp.login, "tron");

    let reversed = load_config_files(&[&b.0, &a.0]).unwrap();
    assert_eq!(reversed.uuid(), Some("first"));
    assert_eq!(reversed.get("numbers"), Some(&json!([2, 10, 1, 3, 5])));
}

#[test]
fn config_error_unknown_option_key() {
    let good = TempFile::new(r#"{"options": {"http": {"port": 1}}}"#);
    let bad = TempFile::new(r#"{"options": {"http": {"prot": 1}}}"#);
    let e = load_config_files(&[&good.0, &bad.0]).unwrap_err();
    assert!(matches!(&e, ConfigError::InvalidOptions { path: Some(p), .. } if *p == bad.0));
    assert_eq!(
        e.to_string(),
        format!(
            "Invalid config file {}: option 'http.prot' is not a known option (valid keys in 'http': port, host, reuse_port, content_type, charset, client_max_size, termination_grace_period_seconds, access_log, real_ip_from, real_ip_header, keepalive_timeout, keepalive_expiry, max_keepalive_time, max_keepalive_requests, server_header, read_timeout, max_connections)",
            bad.shown()
        )
    );
    let dotted = TempFile::new(r#"{"options": {"amqp.qos.bogus": 1}}"#);
    let text = msg(load_config_files(&[&dotted.0]));
    assert!(
        text.starts_with(&format!(
            "Invalid config file {}: option 'amqp.qos.bogus' is not a known option",
            dotted.shown()
        )),
        "{text}"
    );
}

#[test]
fn config_error_wrong_type_and_value() {
    let f = TempFile::new(r#"{"options": {"http": {"port": "8080"}}}"#);
    assert_eq!(
        msg(load_config_files(&[&f.0])),
        format!(
            "Invalid config file {}: invalid type for option 'http.port': expected an integer between 0 and 65535 (0 or null = OS-assigned port), got string \"8080\"",
            f.shown()
        )
    );
    let f = TempFile::new(r#"{"options": {"http": {"client_max_size": "5G"}}}"#);
    assert_eq!(
        msg(load_config_files(&[&f.0])),
        format!(
            "Invalid config file {}: Too high value for http option client_max_size: 5G (5G)",
            f.shown()
        )
    );
    let f = TempFile::new(r#"{"options": ["http"]}"#);
    assert_eq!(
        msg(load_config_files(&[&f.0])),
        format!(
            "Invalid config file {}: 'options' must be a JSON object, got array [\"http\"]",
            f.shown()
        )
    );
    let f = TempFile::new(r#"[1, 2]"#);
    assert_eq!(
        msg(load_config_files(&[&f.0])),
        format!(
            "Invalid config file {}: the top level must be a JSON object, got array [1,2]",
            f.shown()
        )
    );
}

#[test]
fn config_error_invalid_json() {
    // Upstream's tests/configs/invalid_config_file.json.
    let f = TempFile::new("{\n    options\n}\n");
    let e = load_config_files(&[&f.0]).unwrap_err();
    assert!(matches!(e, ConfigError::Json { .. }));
    assert_eq!(
        e.to_string(),
        format!(
            "Invalid config file, invalid JSON format: {}: key must be a string at line 2 column 5",
            f.shown()
        )
    );
    assert!(std::error::Error::source(&e).is_some());
}

#[test]
fn config_error_missing_file() {
    let path = std::env::temp_dir().join(format!(
        "tomodachi-options-test-{}-missing.json",
        std::process::id()
    ));
    let e = load_config_files(&[&path]).unwrap_err();
    assert!(
        matches!(&e, ConfigError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    );
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("Invalid config file: {}: ", path.display())),
        "{text}"
    );
    assert!(text.len() > format!("Invalid config file: {}: ", path.display()).len());
}

#[test]
fn config_apply_to_is_atomic_and_named() {
    let c = ConfigFile::from_json_str("inline.json", r#"{"options": {"http.port": 1}}"#).unwrap();
    let mut o = Options::default();
    c.apply_to(&mut o).unwrap();
    assert_eq!(o.http.port, 1);
    let e = ConfigFile::from_json_str("inline.json", r#"{"options": {"nope": 1}}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Invalid config file inline.json: option 'nope' is not a known option (valid top-level keys: http, aws_sns_sqs, aws_endpoint_urls, amqp, watcher, logging, envelope)"
    );
}

#[test]
fn one_option_given_twice_in_a_mapping_is_an_error() {
    let mut o = Options::default();
    let err = o
        .merge_json(&json!({"http.port": 1111, "http": {"port": 2222}}))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "option 'http.port' is given twice with different values (number 1111 and number 2222); give it once"
    );
    assert_eq!(o.http.port, 9700, "nothing of a failed merge is applied");
    // An option and its other name.
    let err = o
        .merge_json(&json!({"http": {"keepalive_timeout": 5, "keepalive_expiry": 6}}))
        .unwrap_err();
    assert_eq!(err.key(), "http.keepalive_timeout");
    // The same value twice is no conflict; separate merges still override each other.
    o.merge_json(&json!({"http.port": 1111, "http": {"port": 1111}}))
        .unwrap();
    o.merge_json(&json!({"http.port": 3333})).unwrap();
    assert_eq!(o.http.port, 3333);
}

#[test]
fn a_config_file_giving_an_option_twice_is_a_clear_error() {
    let path = std::env::temp_dir().join(format!(
        "tomodachi-options-twice-{}.json",
        std::process::id()
    ));
    std::fs::write(
        &path,
        r#"{"options": {"amqp.qos.queue_prefetch_count": 5, "amqp": {"qos": {"queue_prefetch_count": 6}}}}"#,
    )
    .unwrap();
    let err = load_config_files(std::slice::from_ref(&path)).unwrap_err();
    let _ = std::fs::remove_file(&path);
    assert!(
        err.to_string().contains(
            "option 'amqp.qos.queue_prefetch_count' is given twice with different values"
        ),
        "{err}"
    );
}
