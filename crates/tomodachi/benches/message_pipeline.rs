//! The framework's cost per message without broker I/O: JsonBase parse, the message with its
//! transport values, duplicate admission, the middleware stack and the handler (deserializing
//! `data`) in their context, the verdict — what the AMQP consumer does between a delivery and
//! its ack (`cargo bench -p tomodachi --bench message_pipeline`).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use tomodachi::envelope::{Envelope, JsonBase, Payload, ServiceIdentity};
use tomodachi::message::bench::Pipeline;

fn body(seq: u64) -> Vec<u8> {
    JsonBase
        .build_message(
            &ServiceIdentity::new("publisher", "5d0b530f-5c44-4981-b01f-342801bd48f5"),
            "bench.in",
            &Payload::from_serialize(&serde_json::json!({"seq": seq, "text": "hello"}))
                .expect("a payload"),
        )
        .expect("a JsonBase body")
        .into_bytes()
}

fn pipeline(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    for middlewares in [0, 2] {
        let p = Pipeline::new(middlewares);
        let mut seq = 0;
        c.bench_function(
            &format!("JsonBase message through the handler chain ({middlewares} middlewares)"),
            |b| {
                b.iter_batched(
                    || {
                        seq += 1;
                        body(seq) // a fresh message_uuid each time: never a duplicate
                    },
                    |body| assert!(rt.block_on(p.handle(&body))),
                    BatchSize::SmallInput,
                )
            },
        );
    }
    c.bench_function("JsonBase parse only", |b| {
        let body = String::from_utf8(body(1)).expect("utf-8");
        b.iter(|| {
            JsonBase
                .parse_message(std::hint::black_box(&body))
                .expect("parses")
        })
    });
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
