//! SNS filter policies (the testing kit's evaluator): `policy|body` parses to an error or a
//! policy that decides on any body, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tomodachi::testing::filter_policy::{FilterPolicy, FilterPolicyScope};

fuzz_target!(|input: &str| {
    let (policy, body) = input.split_once('|').unwrap_or((input, "{}"));
    let Ok(policy) = serde_json::from_str::<serde_json::Value>(policy) else {
        return;
    };
    if let Ok(policy) = FilterPolicy::parse(&policy, FilterPolicyScope::MessageBody) {
        let _ = policy.matches_body_text(body);
    }
    let _ = FilterPolicy::parse(&policy, FilterPolicyScope::MessageAttributes);
});
