//! ProtobufBase against JsonBase for the same data: building a body (fresh message uuid and
//! time, as publishing does) and parsing one into the handler's type (JsonBase: parse and
//! deserialize `data` into a struct; ProtobufBase with a message type: parse, check and
//! decode the Person), for a small Person and one above the compression threshold
//! (`cargo bench -p tomodachi --bench envelope_codecs`).

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use tomodachi::envelope::{Envelope, JsonBase, Payload, Proto, ProtobufBase, ServiceIdentity};

/// `example.Person` of `examples/protobuf_service.rs`, also as a serde struct for JsonBase.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
struct Person {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(string, tag = "2")]
    first_name: String,
    #[prost(string, tag = "3")]
    last_name: String,
    #[prost(int32, tag = "4")]
    age: i32,
    #[prost(string, repeated, tag = "5")]
    tags: Vec<String>,
}

const SERVICE: ServiceIdentity<'static> =
    ServiceIdentity::new("publisher", "5d0b530f-5c44-4981-b01f-342801bd48f5");

fn small() -> Person {
    Person {
        id: "4f1c2b9e-5a77-4c1d-9d2e-0b6f7a8c9d10".into(),
        first_name: "Åsa".into(),
        last_name: "Lindström".into(),
        age: 42,
        tags: vec!["customer".into(), "premium".into(), "se".into()],
    }
}

/// 8000 tags: 94 kB as protobuf, 104 kB as JSON; both envelopes compress it.
fn big() -> Person {
    Person {
        tags: (0..8000).map(|i| format!("tag-{i:05}")).collect(),
        ..small()
    }
}

fn codecs(c: &mut Criterion) {
    let protobuf = ProtobufBase::new();
    let protobuf_person = ProtobufBase::of::<Person>();
    for (size, person) in [("small", small()), ("big", big())] {
        let json_payload = Payload::from_serialize(&person).expect("JSON");
        let proto = Proto(person.clone());
        c.bench_function(&format!("JsonBase build, {size} Person"), |b| {
            b.iter(|| {
                // what publishing does: the payload from the value, then the body
                let payload = Payload::from_serialize(black_box(&person)).expect("JSON");
                JsonBase
                    .build_message(&SERVICE, "person", &payload)
                    .expect("builds")
            })
        });
        c.bench_function(&format!("ProtobufBase build, {size} Person"), |b| {
            b.iter(|| {
                let payload = black_box(&proto).payload();
                protobuf
                    .build_message(&SERVICE, "person", &payload)
                    .expect("builds")
            })
        });
        let json_body = JsonBase
            .build_message(&SERVICE, "person", &json_payload)
            .expect("builds");
        let proto_body = protobuf
            .build_message(&SERVICE, "person", &proto.payload())
            .expect("builds");
        c.bench_function(&format!("JsonBase parse + data, {size} Person"), |b| {
            b.iter(|| {
                let parsed = JsonBase
                    .parse_message(black_box(&json_body))
                    .expect("parses");
                parsed.data.deserialize::<Person>().expect("a Person")
            })
        });
        c.bench_function(&format!("ProtobufBase parse + data, {size} Person"), |b| {
            b.iter(|| {
                let parsed = protobuf_person
                    .parse_message(black_box(&proto_body))
                    .expect("parses");
                Proto::<Person>::from_payload(&parsed.data)
                    .expect("a Person")
                    .0
            })
        });
        println!(
            "{size} Person: JsonBase body {} bytes, ProtobufBase body {} bytes",
            json_body.len(),
            proto_body.len()
        );
    }
}

criterion_group!(benches, codecs);
criterion_main!(benches);
