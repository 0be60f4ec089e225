//! JsonBase parity with the real Python tomodachi (`tomodachi.envelope.JsonBase`).
//!
//! Needs the Python tomodachi installed by `. scripts/test-env.sh` (`$TOMODACHI_TEST_PYTHON`,
//! default `<workspace>/.venv/bin/python`). Without it these tests fail; they never skip.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{json, Number, Value};
use tomodachi::envelope::{to_python_json, Envelope, JsonBase, Payload, ServiceIdentity};

const SERVICE_UUID: &str = "9b1c4a7e-52f0-4d3e-8a61-1f0e2d3c4b5a";

fn python() -> PathBuf {
    let python = match std::env::var_os("TOMODACHI_TEST_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"),
    };
    assert!(
        python.exists(),
        "Python for the envelope parity tests not found at {} (TOMODACHI_TEST_PYTHON). \
         Run `. scripts/test-env.sh` from the workspace root to create .venv with the Python \
         tomodachi, then re-run the tests.",
        python.display()
    );
    python
}

/// Runs `script` with `input` as JSON on stdin and returns its stdout parsed as JSON.
fn run_python(script: &str, input: &Value) -> Value {
    const PRELUDE: &str = r#"
import asyncio, json, struct, sys, time, types, uuid
try:
    import tomodachi.envelope
    from tomodachi.envelope import JsonBase
except Exception as e:
    sys.stderr.write("cannot import tomodachi.envelope.JsonBase: %r\n" % (e,))
    sys.exit(97)
inp = json.loads(sys.stdin.buffer.read().decode("utf-8"))
loop = asyncio.new_event_loop()
def out(value):
    sys.stdout.write(json.dumps(value))
    sys.stdout.flush()
def f64(bits):
    return struct.unpack("<d", struct.pack("<Q", bits))[0]
"#;
    let python = python();
    let mut child = Command::new(&python)
        .arg("-c")
        .arg(format!("{PRELUDE}\n{script}"))
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let stdin_data = serde_json::to_vec(input).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&stdin_data));
    let output = child.wait_with_output().unwrap();
    // A write error (broken pipe) only matters if Python did not fail first.
    let written = writer.join().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() == Some(97) {
        panic!(
            "the Python at {} cannot import tomodachi ({}). Run `. scripts/test-env.sh` from \
             the workspace root to install the Python tomodachi into .venv.",
            python.display(),
            stderr.trim()
        );
    }
    assert!(
        output.status.success(),
        "python failed ({}):\n{stderr}",
        output.status
    );
    written.unwrap_or_else(|e| panic!("cannot write the input to python: {e}"));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "python printed no JSON ({e}):\n{}\n{stderr}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// A fixed build: what both sides are given.
struct Case {
    name: &'static str,
    topic: &'static str,
    data: Value,
    uuid4: &'static str,
    timestamp: f64,
}

impl Case {
    fn new(data: Value) -> Self {
        Self {
            name: "parity-service",
            topic: "parity.topic",
            data,
            uuid4: "3d2c1b0a-9f8e-4d7c-b6a5-948372615a0b",
            timestamp: 1795330604.854375,
        }
    }

    fn rust(&self) -> String {
        JsonBase
            .build_message_with(
                &ServiceIdentity::new(self.name, SERVICE_UUID),
                self.topic,
                &Payload::Json(self.data.clone()),
                self.uuid4,
                self.timestamp,
            )
            .unwrap()
    }

    fn to_input(&self) -> Value {
        json!({
            "name": self.name,
            "uuid": SERVICE_UUID,
            "topic": self.topic,
            "data": self.data,
            "uuid4": self.uuid4,
            "ts_bits": self.timestamp.to_bits(),
        })
    }
}

/// `JsonBase.build_message` with `uuid.uuid4` and `time.time` patched to the case's values.
fn python_build(cases: &[Case]) -> Vec<String> {
    const SCRIPT: &str = r#"
import tomodachi.envelope.json_base as json_base
res = []
for c in inp:
    service = types.SimpleNamespace(name=c["name"], uuid=c["uuid"])
    json_base.uuid.uuid4 = (lambda u: lambda: uuid.UUID(u))(c["uuid4"])
    json_base.time.time = (lambda t: lambda: t)(f64(c["ts_bits"]))
    res.append(loop.run_until_complete(JsonBase.build_message(service, c["topic"], c["data"])))
out(res)
"#;
    let input = Value::Array(cases.iter().map(Case::to_input).collect());
    serde_json::from_value(run_python(SCRIPT, &input)).unwrap()
}

fn f(x: f64) -> Value {
    Value::Number(Number::from_f64(x).unwrap())
}

fn small_cases() -> Vec<Case> {
    let mut cases = vec![
        Case::new(json!({"z": {"y": {"x": [1, {"w": null}]}}, "a": [], "m": {}, "b": [[], [{}]]})),
        Case::new(json!({
            "swedish": "åäö ÅÄÖ", "emoji": "😀👍🏽", "cjk": "日本語", "mixed": "a\"b\\c/d\u{7f}\u{80}",
            "controls": "\u{0}\u{1}\n\r\t\u{8}\u{c}\u{1f}", "separators": "\u{2028}\u{2029}\u{feff}",
            "åäö-key": "value", "": "empty key"
        })),
        Case::new(Value::Array(
            [
                0.1,
                1.0,
                -0.0,
                0.0,
                1e16,
                1e15,
                1e-5,
                1e-4,
                0.0001234,
                1.5e300,
                5e-324,
                123456.789,
                2.5e-8,
                f64::MAX,
                f64::MIN_POSITIVE,
                -3.25,
                1e22,
                1e21,
                9007199254740993.0,
                0.30000000000000004,
                100.0,
                1234567890123456.8,
            ]
            .into_iter()
            .map(f)
            .collect(),
        )),
        Case::new(json!([
            0,
            -1,
            1,
            u64::MAX,
            i64::MIN,
            i64::MAX,
            9007199254740993_u64,
            1000000
        ])),
        Case::new(json!([true, false, null, {"t": true, "f": false, "n": null}])),
        Case::new(json!("just a string åäö")),
        Case::new(json!(null)),
        Case::new(json!(42)),
        Case::new(f(2.5)),
        Case::new(json!("")),
        Case::new(json!("x".repeat(59997))), // 59999 serialised characters: the largest raw one
    ];
    cases.push(Case {
        name: "tjänst 😀",
        topic: "order.*.#",
        data: json!({"k": "v"}),
        uuid4: "00000000-0000-4000-8000-000000000000",
        timestamp: 1700000000.0,
    });
    for ts in [0.1, 1e16, 1e-5, 1795330604.1234567, 1.0] {
        cases.push(Case {
            timestamp: ts,
            ..Case::new(json!({"ts": ts}))
        });
    }
    cases.push(Case {
        topic: "",
        ..Case::new(json!({"sqs_send_message": "empty topic"}))
    });
    cases
}

fn large_cases() -> Vec<Case> {
    let rows: Vec<Value> = (0..2000)
        .map(|i| {
            json!({"id": i, "name": format!("row åäö {i}"), "price": f64::from(i) / 7.0,
                   "tags": ["a", "😀"], "ok": i % 2 == 0})
        })
        .collect();
    vec![
        Case::new(json!("x".repeat(59998))), // exactly 60000 serialised characters
        Case::new(json!("é".repeat(10000))), // 60002 characters once escaped
        Case::new(Value::Array(rows)),
    ]
}

#[test]
fn rust_build_matches_python_byte_for_byte() {
    let cases = small_cases();
    let python = python_build(&cases);
    assert_eq!(python.len(), cases.len());
    for (case, py) in cases.iter().zip(&python) {
        let rust = case.rust();
        assert!(
            py.contains(&format!("\"{SERVICE_UUID}.{}\"", case.uuid4)),
            "the uuid4 patch did not take: {py}"
        );
        assert_eq!(&rust, py, "data: {}", case.data);
        assert!(rust.contains(r#""data_encoding": "raw""#));
    }
}

/// Decodes a `base64_gzip_json` data string to the JSON text that was compressed.
fn decompress(doc: &Value) -> String {
    use std::io::Read;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(doc["data"].as_str().expect("compressed data is a string"))
        .unwrap();
    assert_eq!(&bytes[..1], b"\x78", "a zlib stream");
    let mut text = String::new();
    flate2::read::ZlibDecoder::new(bytes.as_slice())
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[test]
fn compressed_rust_build_matches_python_after_decoding() {
    let cases = large_cases();
    let python = python_build(&cases);
    for (case, py) in cases.iter().zip(&python) {
        let rust = case.rust();
        let (rust_doc, py_doc): (Value, Value) = (
            serde_json::from_str(&rust).unwrap(),
            serde_json::from_str(py).unwrap(),
        );
        assert_eq!(rust_doc["metadata"]["data_encoding"], "base64_gzip_json");
        assert_eq!(py_doc["metadata"]["data_encoding"], "base64_gzip_json");
        // Everything before the data is identical text.
        let head = |s: &str| s[..s.find(r#""data": ""#).unwrap()].to_owned();
        assert_eq!(head(&rust), head(py));
        // The compressed texts are identical json.dumps output.
        let rust_text = decompress(&rust_doc);
        assert_eq!(rust_text, decompress(&py_doc));
        assert_eq!(rust_text, to_python_json(&case.data));
        assert!(rust_text.len() >= 60000);
    }
}

/// Python's `JsonBase.parse_message` on each body, printed as `json.dumps([message,
/// message_uuid, timestamp])`.
fn python_parse(bodies: &[String]) -> Vec<String> {
    const SCRIPT: &str = r#"
res = []
for body in inp:
    message, message_uuid, timestamp = loop.run_until_complete(JsonBase.parse_message(body))
    res.append(json.dumps([message, message_uuid, timestamp]))
out(res)
"#;
    serde_json::from_value(run_python(SCRIPT, &json!(bodies))).unwrap()
}

fn rust_parse_as_python_text(body: &str) -> String {
    let parsed = JsonBase.parse_message(body).unwrap();
    let timestamp = parsed.timestamp.map_or(Value::Null, f);
    to_python_json(&json!([parsed.message(), parsed.message_uuid, timestamp]))
}

#[test]
fn python_parses_rust_messages() {
    let cases: Vec<Case> = small_cases().into_iter().chain(large_cases()).collect();
    let service = ServiceIdentity::new("fresh", SERVICE_UUID);
    let mut bodies: Vec<String> = cases.iter().map(Case::rust).collect();
    let fresh = JsonBase
        .build_message(&service, "fresh.topic", &Payload::Json(json!({"fresh": 1})))
        .unwrap();
    bodies.push(fresh.clone());
    bodies.push(
        JsonBase
            .build_message(&service, "t", &Payload::Text("x".repeat(70000)))
            .unwrap(),
    );

    let python = python_parse(&bodies);
    assert_eq!(python.len(), bodies.len());
    for (i, (body, py)) in bodies.iter().zip(&python).enumerate() {
        // Python's view of the message, printed by json.dumps, equals ours printed likewise.
        assert_eq!(&rust_parse_as_python_text(body), py, "message {i}");
        let py: Value = serde_json::from_str(py).unwrap();
        if let Some(case) = cases.get(i) {
            assert_eq!(py[0]["data"], case.data, "message {i}");
            assert_eq!(py[0]["metadata"]["topic"], case.topic);
            assert_eq!(py[1], format!("{SERVICE_UUID}.{}", case.uuid4));
            assert_eq!(py[2], f(case.timestamp));
        }
    }
    let py_fresh: Value = serde_json::from_str(&python[cases.len()]).unwrap();
    assert_eq!(py_fresh[0]["data"], json!({"fresh": 1}));
    assert_eq!(py_fresh[1].as_str().unwrap().len(), 73);
    assert_eq!(py_fresh[0]["metadata"]["data_encoding"], "raw");
    let py_big: Value = serde_json::from_str(&python[cases.len() + 1]).unwrap();
    assert_eq!(py_big[0]["metadata"]["data_encoding"], "base64_gzip_json");
    assert_eq!(py_big[0]["data"], json!("x".repeat(70000)));
}

#[test]
fn rust_parses_python_messages() {
    // Python builds with its real uuid4 and clock; it also reports its own parse.
    const SCRIPT: &str = r#"
res = []
for c in inp:
    service = types.SimpleNamespace(name=c["name"], uuid=c["uuid"])
    body = loop.run_until_complete(JsonBase.build_message(service, c["topic"], c["data"]))
    message, message_uuid, timestamp = loop.run_until_complete(JsonBase.parse_message(body))
    res.append([body, json.dumps([message, message_uuid, timestamp])])
out(res)
"#;
    let cases: Vec<Case> = small_cases().into_iter().chain(large_cases()).collect();
    let input = Value::Array(cases.iter().map(Case::to_input).collect());
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let results: Vec<(String, String)> =
        serde_json::from_value(run_python(SCRIPT, &input)).unwrap();
    assert_eq!(results.len(), cases.len());
    let mut compressed = 0;
    for (case, (body, py_parsed)) in cases.iter().zip(&results) {
        let parsed = JsonBase.parse_message(body).unwrap();
        assert_eq!(parsed.data, Payload::Json(case.data.clone()));
        assert_eq!(parsed.message()["data"], case.data);
        assert_eq!(parsed.message()["service"]["name"], case.name);
        assert_eq!(parsed.message()["metadata"]["topic"], case.topic);
        let message_uuid = parsed.message_uuid.as_deref().unwrap();
        assert_eq!(message_uuid.len(), 73, "{message_uuid}");
        assert!(message_uuid.starts_with(&format!("{SERVICE_UUID}.")));
        assert_ne!(&message_uuid[37..], case.uuid4, "python used a fresh uuid4");
        let ts = parsed.timestamp.unwrap();
        assert!((ts - before).abs() < 120.0, "timestamp {ts} vs {before}");
        assert_eq!(&rust_parse_as_python_text(body), py_parsed);
        if parsed.message()["metadata"]["data_encoding"] == "base64_gzip_json" {
            compressed += 1;
        }
    }
    assert_eq!(compressed, large_cases().len());
}

/// xorshift64*: deterministic pseudo-random numbers without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn float_repr_matches_python_on_many_values() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut floats: Vec<f64> = Vec::new();
    for _ in 0..20000 {
        let x = f64::from_bits(rng.next());
        if x.is_finite() {
            floats.push(x);
        }
    }
    for i in 0..3000_u32 {
        floats.push(f64::from(i) / 1000.0);
        floats.push(f64::from(i) * 1.1e-7);
        floats.push((rng.next() >> 11) as f64);
        floats.push((rng.next() % 1_000_000_000) as f64 / 1e6 + 1.7e9); // timestamps
    }
    // Values whose exact decimal expansion ends in 5 at the 18th digit: ties between two
    // 17-digit candidates, which Python breaks to even.
    for _ in 0..3000 {
        let int = (rng.next() % 9_000_000_000_000_000) as f64 + 1e14;
        let frac = [0.25, 0.125, 0.375, 0.5, 0.75][(rng.next() % 5) as usize];
        floats.push(int.trunc() + frac);
        floats.push(((rng.next() >> 4) as f64) * 4.0);
    }
    for exp in -330..=310 {
        let p = format!("1e{exp}").parse::<f64>().unwrap();
        for x in [p, 9.999999999999999 * p, 5.0 * p] {
            if x.is_finite() && x != 0.0 {
                floats.extend([x, -x, f64::from_bits(x.to_bits() + 1)]);
                floats.push(f64::from_bits(x.to_bits() - 1));
            }
        }
    }
    let bits: Vec<u64> = floats.iter().map(|x| x.to_bits()).collect();
    let py = run_python(
        "out(json.dumps([f64(b) for b in inp]))",
        &Value::Array(bits.into_iter().map(Value::from).collect()),
    );
    let py: Vec<String> = py
        .as_str()
        .unwrap()
        .trim_matches(['[', ']'])
        .split(", ")
        .map(str::to_owned)
        .collect();
    assert_eq!(py.len(), floats.len());
    let mut mismatches = Vec::new();
    for (x, py) in floats.iter().zip(&py) {
        let rust = tomodachi::envelope::python_float_repr(*x);
        if &rust != py {
            mismatches.push(format!("{x:e}: rust {rust} python {py}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} floats differ, e.g.:\n{}",
        mismatches.len(),
        floats.len(),
        mismatches[..mismatches.len().min(20)].join("\n")
    );
}

#[test]
fn string_escaping_matches_python_on_many_strings() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut strings: Vec<String> = vec![(0..0x80u8).map(char::from).collect()];
    for _ in 0..2000 {
        let len = (rng.next() % 40) as usize;
        let s: String = (0..len)
            .filter_map(|_| {
                let r = rng.next();
                let code = match r % 4 {
                    0 => (r >> 8) % 0x80,
                    1 => (r >> 8) % 0x800,
                    2 => (r >> 8) % 0x1_0000,
                    _ => (r >> 8) % 0x11_0000,
                };
                char::from_u32(code as u32) // None for surrogates
            })
            .collect();
        strings.push(s);
    }
    let input = Value::Array(strings.iter().cloned().map(Value::String).collect());
    let py = run_python("out(json.dumps(inp))", &input);
    assert_eq!(py.as_str().unwrap(), to_python_json(&input));
}

/// Python's `json.dumps` writes `NaN`, `Infinity` and `-Infinity` for such floats: the messages
/// a Python service builds with them (raw and compressed) are accepted, the values read as
/// `null` (what serde_json writes for a non-finite float), strings left alone.
#[test]
fn python_messages_with_nan_and_infinity_are_accepted() {
    const SCRIPT: &str = r#"
service = types.SimpleNamespace(name="py", uuid="u")
nan, inf = float("nan"), float("inf")
small = {"x": nan, "y": [inf, -inf, 1.5], "s": "NaN"}
big = {"x": nan, "pad": "p" * 70000}
res = []
for data in (small, big):
    res.append(loop.run_until_complete(JsonBase.build_message(service, "t", data)))
out(res)
"#;
    let bodies = run_python(SCRIPT, &Value::Null);
    let bodies: Vec<&str> = bodies
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap())
        .collect();
    assert!(
        bodies[0].contains("NaN") && bodies[0].contains("-Infinity"),
        "{}",
        bodies[0]
    );
    let small = JsonBase.parse_message(bodies[0]).unwrap();
    assert_eq!(
        small.data.deserialize::<Value>().unwrap(),
        json!({"x": null, "y": [null, null, 1.5], "s": "NaN"})
    );
    let big = JsonBase.parse_message(bodies[1]).unwrap();
    assert_eq!(
        big.message()["metadata"]["data_encoding"],
        "base64_gzip_json"
    );
    let data = big.data.deserialize::<Value>().unwrap();
    assert_eq!(data["x"], Value::Null);
    assert_eq!(data["pad"].as_str().unwrap().len(), 70000);
    // a typed handler takes them as missing values
    #[derive(serde::Deserialize)]
    struct Small {
        x: Option<f64>,
        y: Vec<Option<f64>>,
    }
    let typed: Small = small.data.deserialize().unwrap();
    assert_eq!((typed.x, typed.y), (None, vec![None, None, Some(1.5)]));
}
