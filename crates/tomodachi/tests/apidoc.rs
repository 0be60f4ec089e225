//! The AsyncAPI and OpenAPI documents: the example binaries' `--asyncapi` / `--openapi` output
//! compared with the snapshots in `tests/snapshots/` and validated with the official AsyncAPI
//! parser (`scripts/asyncapi-validate`, npm) and `openapi-spec-validator` (PyPI, in `.venv`),
//! which `scripts/test-env.sh` installs. A missing validator fails the tests.
//!
//! The example binaries come from `cargo build --workspace --examples --bins` (scripts/test.sh
//! runs it first). After a deliberate change to the documents, rewrite the snapshots with
//! `TOMODACHI_UPDATE_SNAPSHOTS=1 cargo test -p tomodachi --test apidoc` and review the diff.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_json::Value;

/// The examples whose documents are snapshotted.
const EXAMPLES: &[&str] = &[
    "sleepy_sheep",
    "http_features",
    "websocket_service",
    "static_service",
    "amqp_service",
    "aws_sns_sqs_service",
    "aws_sns_sqs_fifo_service",
    "scheduler",
    "order_service",
    "protobuf_service",
    // crates/tomodachi-nats's example (same target folder): a transport of another crate
    "nats_service",
];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn workspace_dir() -> PathBuf {
    manifest_dir().join("../..")
}

/// `target/<profile>/examples/<name>`, next to this test binary's `deps/`.
fn example_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("examples").join(name);
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --workspace --examples --bins` (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// Runs an example binary with `args` and returns its stdout, parsed as JSON.
fn document(name: &str, args: &[&str]) -> Value {
    let out = Command::new(example_bin(name))
        .args(args)
        .current_dir(workspace_dir())
        .env_remove("TOMODACHI_LOGGER")
        .env_remove("TOMODACHI_NATS_URL")
        .output()
        .expect("run the example");
    assert!(
        out.status.success(),
        "{name} {args:?} failed: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{name} {args:?} printed no JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn pretty(doc: &Value) -> String {
    serde_json::to_string_pretty(doc).expect("serialize") + "\n"
}

/// Writes documents to a temporary folder for the validators.
fn write_temp(dir: &Path, name: &str, doc: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pretty(doc)).expect("write the document");
    path
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tomodachi-apidoc-{tag}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Validates AsyncAPI documents with @asyncapi/parser; `Err` with its output when any is
/// invalid. A missing node or parser panics (never a skip).
fn asyncapi_validate(files: &[PathBuf]) -> Result<String, String> {
    let dir = workspace_dir().join("scripts/asyncapi-validate");
    assert!(
        dir.join("node_modules/@asyncapi/parser").exists(),
        "@asyncapi/parser is not installed in {}: source scripts/test-env.sh (it runs `npm ci` there)",
        dir.display()
    );
    let out = Command::new("node")
        .arg(dir.join("validate.mjs"))
        .args(files)
        .output()
        .expect("node is required for the AsyncAPI validation (Node.js 20)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

/// Validates OpenAPI documents with openapi-spec-validator; `Err` with its output when any is
/// invalid. A missing validator panics (never a skip).
fn openapi_validate(files: &[PathBuf]) -> Result<String, String> {
    let python = std::env::var_os("TOMODACHI_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join(".venv/bin/python"));
    let check = Command::new(&python)
        .args(["-c", "import openapi_spec_validator"])
        .output();
    assert!(
        check.as_ref().is_ok_and(|o| o.status.success()),
        "openapi-spec-validator is not installed for {}: source scripts/test-env.sh",
        python.display()
    );
    let out = Command::new(&python)
        .args(["-m", "openapi_spec_validator", "--schema", "3.1"])
        .args(files)
        .output()
        .expect("run openapi-spec-validator");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

#[test]
fn example_documents_match_their_snapshots_and_validate() {
    let update = std::env::var_os("TOMODACHI_UPDATE_SNAPSHOTS").is_some_and(|v| v == "1");
    let snapshots = manifest_dir().join("tests/snapshots");
    let tmp = temp_dir("examples");
    let (mut asyncapi_files, mut openapi_files, mut mismatches) = (vec![], vec![], vec![]);
    for name in EXAMPLES {
        for (flag, kind) in [("--asyncapi", "asyncapi"), ("--openapi", "openapi")] {
            let doc = document(name, &[flag]);
            let file = format!("{name}.{kind}.json");
            let path = write_temp(&tmp, &file, &doc);
            if kind == "asyncapi" {
                asyncapi_files.push(path);
            } else {
                openapi_files.push(path);
            }
            let snapshot = snapshots.join(&file);
            if update {
                std::fs::create_dir_all(&snapshots).expect("snapshots dir");
                std::fs::write(&snapshot, pretty(&doc)).expect("write the snapshot");
            } else {
                let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
                if expected != pretty(&doc) {
                    mismatches.push(file);
                }
            }
        }
    }
    let asyncapi = asyncapi_validate(&asyncapi_files);
    let openapi = openapi_validate(&openapi_files);
    std::fs::remove_dir_all(&tmp).ok();
    assert!(
        asyncapi.is_ok(),
        "invalid AsyncAPI:\n{}",
        asyncapi.unwrap_err()
    );
    assert!(
        openapi.is_ok(),
        "invalid OpenAPI:\n{}",
        openapi.unwrap_err()
    );
    assert!(
        mismatches.is_empty(),
        "documents differ from tests/snapshots/{mismatches:?}; if the change is intended, run \
         TOMODACHI_UPDATE_SNAPSHOTS=1 cargo test -p tomodachi --test apidoc and review the diff"
    );
}

#[test]
fn the_validators_reject_broken_documents() {
    let tmp = temp_dir("broken");
    let asyncapi = serde_json::json!({
        "asyncapi": "3.0.0",
        "info": {"title": "broken", "version": "1"},
        "operations": {"x": {"action": "consume", "channel": {"$ref": "#/channels/missing"}}},
    });
    let openapi = serde_json::json!({
        "openapi": "3.1.0",
        "info": {"title": "broken", "version": "1"},
        "paths": {"/items/{id}": {"get": {"responses": {"200": {"description": "ok"}}}}},
    });
    let a = asyncapi_validate(&[write_temp(&tmp, "a.json", &asyncapi)]);
    let o = openapi_validate(&[write_temp(&tmp, "o.json", &openapi)]);
    std::fs::remove_dir_all(&tmp).ok();
    assert!(
        a.is_err(),
        "the AsyncAPI parser accepted a broken document: {a:?}"
    );
    assert!(
        o.is_err(),
        "openapi-spec-validator accepted a broken document: {o:?}"
    );
}

#[test]
fn config_files_apply_to_the_documents() {
    let doc = document(
        "order_service",
        &["--asyncapi", "-c", "examples/config/aws-moto.json"],
    );
    let sqs = doc["servers"]["sqs"]["host"].as_str().unwrap_or_default();
    assert!(
        !sqs.ends_with("amazonaws.com"),
        "the config's endpoint is the server: {sqs}"
    );
}

#[test]
fn the_two_flags_together_are_a_usage_error() {
    let out = Command::new(example_bin("sleepy_sheep"))
        .args(["--asyncapi", "--openapi"])
        .output()
        .expect("run the example");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

struct Everything;

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[allow(dead_code)]
struct Payment {
    id: u64,
    lines: Vec<Line>,
    currency: Currency,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[allow(dead_code)]
struct Line {
    sku: String,
    amount: Option<f64>,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[allow(dead_code)]
enum Currency {
    Sek,
    Eur,
}

/// Every kind of registration at once, with schemas from schemars: both documents validate.
#[test]
fn a_service_with_every_transport_validates() {
    use tomodachi::amqp::AmqpSubscription;
    use tomodachi::aws_sns_sqs::SnsSqsSubscription;
    use tomodachi::http::{HttpRoute, Method, WebSocket, WebSocketCallbacks};
    use tomodachi::schedule::{Invocation, ScheduleSpec};

    async fn ok(_s: Arc<Everything>) -> &'static str {
        "ok"
    }
    async fn handled(_s: Arc<Everything>) {}
    let service = tomodachi::Service::builder("everything", Everything)
        .message_envelope(tomodachi::envelope::JsonBase)
        .http(Method::GET, r"/health/?", ok)
        .http_route(
            HttpRoute::new(
                [Method::POST, Method::PUT],
                r"/payments/(?P<id>\d+)/(?P<part>[a-z]+)",
            )
            .name("payment")
            .body::<Payment>()
            .response::<Line>(),
            ok,
        )
        .http_route(
            HttpRoute::new(Method::GET, r"/x/\d{3}/(a|b)").name("odd"),
            ok,
        )
        .websocket(
            r"/ws/(?P<room>[^/]+)",
            |_s: Arc<Everything>, _w: WebSocket| async { WebSocketCallbacks::new() },
        )
        .http_static("examples/public", r"/static/")
        .amqp(
            AmqpSubscription::new("payment.created")
                .name("on_payment")
                .competing(true)
                .schema::<Payment>(),
            handled,
        )
        .amqp(
            AmqpSubscription::new("payment.#").name("audit").raw(),
            handled,
        )
        .aws_sns_sqs(
            SnsSqsSubscription::topic("payment-done")
                .name("on_done")
                .queue_name("done")
                .filter_policy(serde_json::json!({"currency": ["SEK"]}))
                .dead_letter_queue("done-dlq", 3)
                .visibility_timeout(30)
                .fifo(true)
                .schema::<Payment>(),
            handled,
        )
        .aws_sns_sqs(SnsSqsSubscription::topic("payment-*").name("wild"), handled)
        .aws_sns_sqs(SnsSqsSubscription::queue("direct").name("direct"), handled)
        .schedule(
            "tick",
            ScheduleSpec::interval("*/5 * * * *"),
            |_s: Arc<Everything>, _i: Invocation| async {},
        )
        .build();
    let asyncapi = tomodachi::apidoc::asyncapi([&service]);
    let openapi = tomodachi::apidoc::openapi([&service]);
    let tmp = temp_dir("everything");
    let a = asyncapi_validate(&[write_temp(&tmp, "a.json", &asyncapi)]);
    let o = openapi_validate(&[write_temp(&tmp, "o.json", &openapi)]);
    std::fs::remove_dir_all(&tmp).ok();
    assert!(
        a.is_ok(),
        "invalid AsyncAPI:\n{}\n{}",
        a.unwrap_err(),
        pretty(&asyncapi)
    );
    assert!(
        o.is_ok(),
        "invalid OpenAPI:\n{}\n{}",
        o.unwrap_err(),
        pretty(&openapi)
    );
    assert_eq!(
        asyncapi["components"]["schemas"]["Payment"]["properties"]["lines"]["items"]["$ref"],
        "#/components/schemas/Line"
    );
    assert_eq!(
        openapi["components"]["schemas"]["Currency"]["enum"],
        serde_json::json!(["Sek", "Eur"])
    );
}

/// `--openapi` through `launch_from`: 0 for a good service; a definition error (a bad route
/// regex) is exit code 1, as at start, and a bad config file exit code 2.
#[test]
fn launch_exit_codes_for_the_documents() {
    use std::process::ExitCode;
    let service = |pattern: &str| {
        tomodachi::Service::builder("s", Everything)
            .http("GET", pattern, |_s: Arc<Everything>| async { "ok" })
            .build()
    };
    let code = |args: &[&str], pattern: &str| {
        format!(
            "{:?}",
            tomodachi::launch_from(args.iter().copied(), [service(pattern)])
        )
    };
    assert_eq!(
        code(&["s", "--openapi"], r"/ok"),
        format!("{:?}", ExitCode::SUCCESS)
    );
    assert_eq!(
        code(&["s", "--asyncapi"], r"/(unclosed"),
        format!("{:?}", ExitCode::from(1))
    );
    let tmp = temp_dir("config");
    let bad = tmp.join("bad.json");
    std::fs::write(&bad, r#"{"options": {"http": {"prot": 1}}}"#).expect("write the config");
    let bad = bad.to_string_lossy().into_owned();
    assert_eq!(
        code(&["s", "--openapi", "-c", &bad], r"/ok"),
        format!("{:?}", ExitCode::from(2))
    );
    std::fs::remove_dir_all(&tmp).ok();
}
