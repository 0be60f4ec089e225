//! JsonBase parsing of any text: a parse error or a message, never a panic; what parses also
//! gives its data as JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tomodachi::envelope::{Envelope, JsonBase};

fuzz_target!(|body: &str| {
    if let Ok(parsed) = JsonBase.parse_message(body) {
        let _ = parsed.data.deserialize::<serde_json::Value>();
    }
});
