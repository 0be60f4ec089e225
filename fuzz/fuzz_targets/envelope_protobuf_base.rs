//! ProtobufBase parsing of any text, without and with a message type: an error or a message,
//! never a panic (inflating stops at the cap).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tomodachi::envelope::{Envelope, Proto, ProtobufBase};

#[derive(Clone, PartialEq, prost::Message)]
struct Person {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(string, tag = "2")]
    first_name: String,
    #[prost(int32, tag = "4")]
    age: i32,
    #[prost(string, repeated, tag = "5")]
    tags: Vec<String>,
}

fuzz_target!(|body: &str| {
    let _ = ProtobufBase::new().parse_message(body);
    if let Ok(parsed) = ProtobufBase::of::<Person>().parse_message(body) {
        let _ = Proto::<Person>::from_payload(&parsed.data);
    }
});
