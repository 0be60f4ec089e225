//! Intervals, timestamps, time zones and DST through `Schedule::next_fire`.

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// The first `n` fires after `start`, each computed from the previous one as the scheduler does.
fn fires(spec: ScheduleSpec, start: &str, n: usize) -> Vec<String> {
    let schedule = spec.parse().unwrap_or_else(|e| panic!("{spec:?}: {e}"));
    std::iter::successors(schedule.next_fire(ts(start)), |f| schedule.next_fire(*f))
        .take(n)
        .map(format_utc)
        .collect()
}

fn utc(spec: ScheduleSpec) -> ScheduleSpec {
    spec.timezone("UTC")
}

const NOW: &str = "2017-06-15T10:16:50Z";

#[test]
fn interval_examples() {
    let cases: &[(Interval, &[&str])] = &[
        (
            5.into(),
            &[
                "2017-06-15T10:16:55Z",
                "2017-06-15T10:17:00Z",
                "2017-06-15T10:17:05Z",
            ],
        ),
        (
            "10s".into(),
            &["2017-06-15T10:17:00Z", "2017-06-15T10:17:10Z"],
        ),
        (
            "5 seconds".into(),
            &["2017-06-15T10:16:55Z", "2017-06-15T10:17:00Z"],
        ),
        ("3 Seconds".into(), &["2017-06-15T10:16:53Z"]),
        (
            "every second".into(),
            &["2017-06-15T10:16:51Z", "2017-06-15T10:16:52Z"],
        ),
        ("1 s".into(), &["2017-06-15T10:16:51Z"]),
        ("Once per second".into(), &["2017-06-15T10:16:51Z"]),
        (
            "every minute".into(),
            &["2017-06-15T10:17:00Z", "2017-06-15T10:18:00Z"],
        ),
        ("1m".into(), &["2017-06-15T10:17:00Z"]),
        (
            "hourly".into(),
            &["2017-06-15T11:00:00Z", "2017-06-15T12:00:00Z"],
        ),
        ("1 h".into(), &["2017-06-15T11:00:00Z"]),
        (
            "daily".into(),
            &["2017-06-16T00:00:00Z", "2017-06-17T00:00:00Z"],
        ),
        ("nightly".into(), &["2017-06-16T00:00:00Z"]),
        (
            "monthly".into(),
            &["2017-07-01T00:00:00Z", "2017-08-01T00:00:00Z"],
        ),
        ("annually".into(), &["2018-01-01T00:00:00Z"]),
        (
            "weekly".into(),
            &["2017-06-19T00:00:00Z", "2017-06-26T00:00:00Z"],
        ),
        ("@weekly".into(), &["2017-06-18T00:00:00Z"]),
        (
            "friday".into(),
            &["2017-06-16T00:00:00Z", "2017-06-23T00:00:00Z"],
        ),
        ("every tuesday".into(), &["2017-06-20T00:00:00Z"]),
        ("Sundays".into(), &["2017-06-18T00:00:00Z"]),
        (
            "weekdays".into(),
            &[
                "2017-06-16T00:00:00Z",
                "2017-06-19T00:00:00Z",
                "2017-06-20T00:00:00Z",
            ],
        ),
        (
            "weekend".into(),
            &[
                "2017-06-17T00:00:00Z",
                "2017-06-18T00:00:00Z",
                "2017-06-24T00:00:00Z",
            ],
        ),
        (
            "*/2 * * * *".into(),
            &["2017-06-15T10:18:00Z", "2017-06-15T10:20:00Z"],
        ),
        // a bare number in a string is a crontab minute, as upstream
        (
            "5".into(),
            &["2017-06-15T11:05:00Z", "2017-06-15T12:05:00Z"],
        ),
        ("1_0s".into(), &["2017-06-15T10:17:00Z"]),
    ];
    for (interval, want) in cases {
        let got = fires(
            utc(ScheduleSpec::interval(interval.clone())),
            NOW,
            want.len(),
        );
        assert_eq!(got, *want, "{interval}");
    }
    // "0 12 * * *" in Stockholm (UTC+2 in June) is 10:00 UTC
    assert_eq!(
        fires(
            ScheduleSpec::interval("0 12 * * *").timezone("Europe/Stockholm"),
            NOW,
            1
        ),
        ["2017-06-16T10:00:00Z"]
    );
    assert_eq!(
        fires(
            ScheduleSpec::interval("0 12 * * *").timezone("GMT +2"),
            NOW,
            1
        ),
        ["2017-06-16T10:00:00Z"]
    );
}

#[test]
fn integer_intervals_align_to_whole_seconds() {
    assert_eq!(
        fires(ScheduleSpec::interval(2), "2017-06-15T10:16:50.24Z", 2),
        ["2017-06-15T10:16:52Z", "2017-06-15T10:16:54Z"]
    );
    let s = ScheduleSpec::interval(1).parse().unwrap();
    assert_eq!(s.every_seconds(), Some(1));
    assert_eq!(
        s.next_fire(ts("1969-12-31T23:59:59.5Z")),
        Some(ts("1970-01-01T00:00:00Z"))
    );
    let huge = ScheduleSpec::interval(i64::MAX).parse().unwrap();
    assert_eq!(huge.next_fire(ts(NOW)), None);
}

#[test]
fn sub_second_now_and_the_current_minute() {
    let minutely = utc(ScheduleSpec::interval("* * * * *")).parse().unwrap();
    // upstream asks for the next time after now + 1 s: at xx:59.5 that is the coming minute
    assert_eq!(
        minutely.next_fire(ts("2017-06-15T10:16:59.5Z")),
        Some(ts("2017-06-15T10:17:00Z"))
    );
    assert_eq!(
        minutely.next_fire(ts("2017-06-15T10:17:00Z")),
        Some(ts("2017-06-15T10:18:00Z"))
    );
    assert_eq!(
        minutely.next_fire(ts("2017-06-15T10:16:59Z")),
        Some(ts("2017-06-15T10:17:00Z"))
    );
}

#[test]
fn timestamp_examples() {
    let cases: &[(&str, &[&str])] = &[
        (
            "22:00",
            &[
                "2017-06-15T22:00:00Z",
                "2017-06-16T22:00:00Z",
                "2017-06-17T22:00:00Z",
            ],
        ),
        ("10:16", &["2017-06-16T10:16:00Z", "2017-06-17T10:16:00Z"]),
        ("10:17", &["2017-06-15T10:17:00Z", "2017-06-16T10:17:00Z"]),
        (
            "10:16:55",
            &["2017-06-15T10:16:55Z", "2017-06-16T10:16:55Z"],
        ),
        (
            "10:16:45",
            &["2017-06-16T10:16:45Z", "2017-06-17T10:16:45Z"],
        ),
        ("10:16:50", &["2017-06-16T10:16:50Z"]),
        (
            "01:59:59",
            &["2017-06-16T01:59:59Z", "2017-06-17T01:59:59Z"],
        ),
        ("2017-06-15 10:20", &["2017-06-15T10:20:00Z"]),
        ("2017-06-15 10:16:55", &["2017-06-15T10:16:55Z"]),
        ("2017-06-15 10:16:40", &[]),
        ("2017-06-15 10:16:50", &[]),
        ("2016-01-01 00:00", &[]),
    ];
    for (stamp, want) in cases {
        // one-shot timestamps (with a date) end: ask for more than they give
        let n = if stamp.len() > 8 { 3 } else { want.len() };
        let got = fires(utc(ScheduleSpec::timestamp(*stamp)), NOW, n);
        assert_eq!(got, *want, "{stamp}");
    }
    let s = ScheduleSpec::timestamp("22:00");
    assert_eq!(s.interval_value(), None);
    assert_eq!(s.timestamp_value(), Some("22:00"));
}

#[test]
fn errors_have_upstream_texts() {
    let interval = |i: Interval| {
        ScheduleSpec::interval(i)
            .timezone("UTC")
            .parse()
            .unwrap_err()
            .to_string()
    };
    for bad in [
        "5 minutes",
        "2 hours",
        "every 5 seconds",
        "seconds",
        "@reboot",
        "* * 30 2 *",
        "every fortnight",
    ] {
        let msg = interval(bad.into());
        assert!(
            msg.starts_with(&format!(
                "Invalid interval: {bad:?} (Invalid cron notation: "
            )),
            "{msg}"
        );
    }
    assert_eq!(
        interval(0.into()),
        "Invalid interval: 0 (an interval in seconds must be at least 1)"
    );
    assert_eq!(
        interval((-5).into()),
        "Invalid interval: -5 (an interval in seconds must be at least 1)"
    );
    assert_eq!(
        interval("0s".into()),
        "Invalid interval: \"0s\" (an interval in seconds must be at least 1)"
    );
    assert_eq!(
        interval("-5s".into()),
        "Invalid interval: \"-5s\" (an interval in seconds must be at least 1)"
    );

    let timestamp = |t: &str| {
        ScheduleSpec::timestamp(t)
            .timezone("UTC")
            .parse()
            .unwrap_err()
            .to_string()
    };
    assert!(timestamp("25:00").starts_with("Invalid timestamp: \"25:00\" (expected "));
    assert!(timestamp("tomorrow").starts_with("Invalid timestamp: \"tomorrow\""));
    assert_eq!(
        timestamp("1960-01-01 00:00"),
        "Invalid timestamp: \"1960-01-01 00:00\" (Invalid cron notation: invalid values for year)"
    );

    // the zone is checked first
    let err = ScheduleSpec::interval("nonsense")
        .timezone("Nowhere/Land")
        .parse()
        .unwrap_err();
    assert_eq!(err, ScheduleError::UnknownTimezone("Nowhere/Land".into()));
    assert_eq!(err.to_string(), "Unknown timezone: Nowhere/Land");
    let err = ScheduleSpec::interval("5 minutes").parse().unwrap_err();
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn interval_value_is_what_handlers_receive() {
    assert_eq!(
        ScheduleSpec::interval(2).interval_value().as_deref(),
        Some("2")
    );
    assert_eq!(
        ScheduleSpec::interval("Every Minute")
            .interval_value()
            .as_deref(),
        Some("Every Minute")
    );
}

// ---- daylight saving time ----
// Europe/Stockholm 2024: 03-31 02:00 CET -> 03:00 CEST (01:00Z); 10-27 03:00 CEST -> 02:00 CET (01:00Z)
// America/New_York 2024: 03-10 02:00 EST -> 03:00 EDT (07:00Z); 11-03 02:00 EDT -> 01:00 EST (06:00Z)

fn zoned(spec: ScheduleSpec, tz: &str, start: &str, n: usize) -> Vec<String> {
    fires(spec.timezone(tz), start, n)
}

#[test]
fn skipped_hour_fires_once_at_the_end_of_the_gap() {
    assert_eq!(
        zoned(
            ScheduleSpec::interval("30 2 * * *"),
            "Europe/Stockholm",
            "2024-03-29T12:00:00Z",
            4
        ),
        [
            "2024-03-30T01:30:00Z",
            "2024-03-31T01:00:00Z",
            "2024-04-01T00:30:00Z",
            "2024-04-02T00:30:00Z"
        ]
    );
    // every quarter hour: the four times in the gap and 03:00 are one fire
    assert_eq!(
        zoned(
            ScheduleSpec::interval("*/15 * * * *"),
            "Europe/Stockholm",
            "2024-03-31T00:40:00Z",
            4
        ),
        [
            "2024-03-31T00:45:00Z",
            "2024-03-31T01:00:00Z",
            "2024-03-31T01:15:00Z",
            "2024-03-31T01:30:00Z"
        ]
    );
    assert_eq!(
        zoned(
            ScheduleSpec::interval("30 2 * * *"),
            "America/New_York",
            "2024-03-08T12:00:00Z",
            3
        ),
        [
            "2024-03-09T07:30:00Z",
            "2024-03-10T07:00:00Z",
            "2024-03-11T06:30:00Z"
        ]
    );
    // a timestamp with seconds in the gap
    assert_eq!(
        zoned(
            ScheduleSpec::timestamp("02:30:15"),
            "Europe/Stockholm",
            "2024-03-30T12:00:00Z",
            2
        ),
        ["2024-03-31T01:00:00Z", "2024-04-01T00:30:15Z"]
    );
    // a search that starts within the second before the gap still sees it
    assert_eq!(
        zoned(
            ScheduleSpec::interval("30 2 * * *"),
            "Europe/Stockholm",
            "2024-03-31T00:59:59.5Z",
            1
        ),
        ["2024-03-31T01:00:00Z"]
    );
}

#[test]
fn repeated_hour_fires_once_at_its_first_occurrence() {
    assert_eq!(
        zoned(
            ScheduleSpec::interval("30 2 * * *"),
            "Europe/Stockholm",
            "2024-10-25T12:00:00Z",
            3
        ),
        [
            "2024-10-26T00:30:00Z",
            "2024-10-27T00:30:00Z",
            "2024-10-28T01:30:00Z"
        ]
    );
    assert_eq!(
        zoned(
            ScheduleSpec::interval("0 * * * *"),
            "Europe/Stockholm",
            "2024-10-26T22:30:00Z",
            4
        ),
        [
            "2024-10-26T23:00:00Z",
            "2024-10-27T00:00:00Z",
            "2024-10-27T02:00:00Z",
            "2024-10-27T03:00:00Z"
        ]
    );
    // started during the second pass: today's 02:30 already happened
    assert_eq!(
        zoned(
            ScheduleSpec::interval("30 2 * * *"),
            "Europe/Stockholm",
            "2024-10-27T01:15:00Z",
            1
        ),
        ["2024-10-28T01:30:00Z"]
    );
    assert_eq!(
        zoned(
            ScheduleSpec::interval("30 1 * * *"),
            "America/New_York",
            "2024-11-01T12:00:00Z",
            3
        ),
        [
            "2024-11-02T05:30:00Z",
            "2024-11-03T05:30:00Z",
            "2024-11-04T06:30:00Z"
        ]
    );
    assert_eq!(
        zoned(
            ScheduleSpec::timestamp("01:30:30"),
            "America/New_York",
            "2024-11-03T05:00:00Z",
            2
        ),
        ["2024-11-03T05:30:30Z", "2024-11-04T06:30:30Z"]
    );
}

#[test]
fn wall_clock_times_hold_across_the_change() {
    // noon stays noon: 10:00Z in summer, 11:00Z in winter (upstream keeps the old offset once)
    assert_eq!(
        zoned(
            ScheduleSpec::interval("0 12 * * *"),
            "Europe/Stockholm",
            "2024-10-26T10:30:00Z",
            2
        ),
        ["2024-10-27T11:00:00Z", "2024-10-28T11:00:00Z"]
    );
    assert_eq!(
        zoned(
            ScheduleSpec::interval("daily"),
            "America/New_York",
            "2024-03-09T06:00:00Z",
            3
        ),
        [
            "2024-03-10T05:00:00Z",
            "2024-03-11T04:00:00Z",
            "2024-03-12T04:00:00Z"
        ]
    );
    // integer intervals are plain seconds, whatever the zone
    assert_eq!(
        zoned(
            ScheduleSpec::interval(3600),
            "Europe/Stockholm",
            "2024-03-31T00:30:00Z",
            2
        ),
        ["2024-03-31T01:30:00Z", "2024-03-31T02:30:00Z"]
    );
}

#[test]
fn leap_days_in_a_zone() {
    assert_eq!(
        zoned(
            ScheduleSpec::interval("0 0 29 2 *"),
            "Europe/Stockholm",
            "2021-01-01T00:00:00Z",
            2
        ),
        ["2024-02-28T23:00:00Z", "2028-02-28T23:00:00Z"]
    );
    assert_eq!(
        zoned(
            ScheduleSpec::timestamp("2024-02-29 12:00:30"),
            "UTC",
            "2024-02-01T00:00:00Z",
            2
        ),
        ["2024-02-29T12:00:30Z"]
    );
    assert!(ScheduleSpec::timestamp("2023-02-29 12:00").parse().is_err());
}

#[test]
fn a_blank_interval_is_an_error_not_every_minute() {
    for blank in ["", "   ", "\t"] {
        let err = ScheduleSpec::interval(blank).parse().unwrap_err();
        assert_eq!(err, ScheduleError::EmptyInterval, "{blank:?}");
        assert!(
            err.to_string().starts_with("Invalid interval: \"\" (empty"),
            "{err}"
        );
    }
    // missing trailing fields still default to `*`, as upstream
    assert!(ScheduleSpec::interval("* *").parse().is_ok());
}
