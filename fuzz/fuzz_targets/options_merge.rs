//! Options from any JSON (the `options` section of a config file): an error naming the key or
//! merged options that validate or not, never a panic; what merges round-trips through JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tomodachi::options::Options;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let mut options = Options::default();
    if options.merge_json(&value).is_ok() {
        let _ = options.validate();
        let again = Options::from_json(&options.to_json()).expect("options round-trip");
        assert_eq!(again, options);
    }
});
