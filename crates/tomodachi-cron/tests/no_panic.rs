//! Fuzzing the parsers: random and near-valid text must give a value or an error, never a
//! panic, and every valid schedule must answer `next_fire` at any instant. A small corpus of
//! tricky inputs (`tests/corpus/inputs.txt`) is replayed first.

use jiff::Timestamp;
use proptest::prelude::*;
use tomodachi_cron::{parse_timezone, CronExpr, Interval, ScheduleSpec};

fn instants() -> Vec<Timestamp> {
    [
        Timestamp::MIN,
        Timestamp::MAX,
        Timestamp::UNIX_EPOCH,
        "1969-12-31T23:59:59.999Z".parse().unwrap(),
        "2017-06-15T10:16:50.5Z".parse().unwrap(),
        "2024-03-31T00:59:59Z".parse().unwrap(),
        "2024-10-27T01:30:00Z".parse().unwrap(),
        "2099-12-31T23:59:59Z".parse().unwrap(),
        "2100-01-01T00:00:00Z".parse().unwrap(),
    ]
    .to_vec()
}

fn exercise(text: &str, at: &[Timestamp]) {
    let _ = CronExpr::parse(text)
        .map(|e| e.next_after(jiff::civil::date(2017, 6, 15).at(10, 16, 50, 0)));
    let _ = parse_timezone(Some(text));
    let specs = [
        ScheduleSpec::interval(text).timezone("UTC"),
        ScheduleSpec::timestamp(text).timezone("Europe/Stockholm"),
        ScheduleSpec::interval("* * * * *").timezone(text),
    ];
    for spec in specs {
        if let Ok(schedule) = spec.parse() {
            for t in at {
                if let Some(next) = schedule.next_fire(*t) {
                    assert!(next > *t, "{spec:?} at {t}: {next}");
                }
            }
        }
    }
}

fn unescape(line: &str) -> String {
    let mut out = line.replace("\\t", "\t");
    while let Some(start) = out.find("\\u{") {
        let Some(len) = out[start..].find('}') else {
            break;
        };
        let code = u32::from_str_radix(&out[start + 3..start + len], 16)
            .ok()
            .and_then(char::from_u32);
        out.replace_range(
            start..=start + len,
            &code.map(String::from).unwrap_or_default(),
        );
    }
    out
}

#[test]
fn corpus() {
    let text = include_str!("corpus/inputs.txt");
    let at = instants();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        exercise(&unescape(line), &at);
    }
    for n in [i64::MIN, -1, 0, 1, i64::MAX] {
        if let Ok(s) = ScheduleSpec::interval(Interval::Seconds(n)).parse() {
            for t in &at {
                let _ = s.next_fire(*t);
            }
        }
    }
}

/// Text made of the dialect's own pieces, so that much of it is valid or nearly so.
fn near_valid() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        proptest::sample::select(vec![
            "*",
            "?",
            "L",
            "l",
            "-",
            "/",
            ",",
            " ",
            "  ",
            "\t",
            ":",
            "@",
            "s",
            "seconds",
            "every",
            "second",
            "minute",
            "hourly",
            "daily",
            "weekly",
            "mon",
            "fri",
            "sun",
            "jan",
            "dec",
            "Lsun",
            "L5",
            "@weekly",
            "@yearly",
            "GMT",
            "+",
            "_",
            "Europe/Stockholm",
            "UTC",
            "00",
        ])
        .prop_map(str::to_owned),
        (0u32..2200).prop_map(|n| n.to_string()),
        any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(token, 0..14).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn near_valid_text_never_panics(text in near_valid(), secs in -10_000_000_000i64..10_000_000_000) {
        let mut at = vec![Timestamp::from_second(secs).unwrap()];
        at.push(Timestamp::MAX);
        exercise(&text, &at);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,40}") {
        exercise(&text, &[Timestamp::UNIX_EPOCH]);
    }

    #[test]
    fn cron_shaped_text_never_panics(text in "[0-9*?/,lL\\-a-z ]{0,30}") {
        exercise(&text, &["2024-10-27T00:30:00Z".parse().unwrap()]);
    }
}
