//! The crontab dialect against upstream's documented examples, and the search
//! against a literal port of upstream's algorithm.

use jiff::civil::DateTime;
use proptest::prelude::*;

use super::*;

fn dt(s: &str) -> DateTime {
    s.replace(' ', "T")
        .parse()
        .unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn short(d: DateTime) -> String {
    d.strftime("%Y-%m-%d %H:%M").to_string()
}

/// Each row: expression, naive "now", the next four fires (fire k+1 = next(fire_k + 1 s)).
#[rustfmt::skip]
const ROWS: &[(&str, &str, [&str; 4])] = &[
    ("@yearly", "2017-06-15 10:16:50", ["2018-01-01 00:00", "2019-01-01 00:00", "2020-01-01 00:00", "2021-01-01 00:00"]),
    ("@monthly", "2017-06-15 10:16:50", ["2017-07-01 00:00", "2017-08-01 00:00", "2017-09-01 00:00", "2017-10-01 00:00"]),
    ("@daily", "2017-06-15 10:16:50", ["2017-06-16 00:00", "2017-06-17 00:00", "2017-06-18 00:00", "2017-06-19 00:00"]),
    ("@hourly", "2017-06-15 10:16:50", ["2017-06-15 11:00", "2017-06-15 12:00", "2017-06-15 13:00", "2017-06-15 14:00"]),
    ("@minutely", "2017-06-15 10:16:50", ["2017-06-15 10:17", "2017-06-15 10:18", "2017-06-15 10:19", "2017-06-15 10:20"]),
    ("@weekly", "2017-06-15 10:16:50", ["2017-06-18 00:00", "2017-06-25 00:00", "2017-07-02 00:00", "2017-07-09 00:00"]),
    ("* * * * *", "2017-06-15 10:16:50", ["2017-06-15 10:17", "2017-06-15 10:18", "2017-06-15 10:19", "2017-06-15 10:20"]),
    ("1 * * * *", "2017-06-15 10:16:50", ["2017-06-15 11:01", "2017-06-15 12:01", "2017-06-15 13:01", "2017-06-15 14:01"]),
    ("*/2 * * * *", "2017-06-15 10:16:50", ["2017-06-15 10:18", "2017-06-15 10:20", "2017-06-15 10:22", "2017-06-15 10:24"]),
    ("1/2 * * * *", "2017-06-15 10:16:50", ["2017-06-15 10:17", "2017-06-15 10:19", "2017-06-15 10:21", "2017-06-15 10:23"]),
    ("1-3/2 * * * *", "2017-06-15 10:16:50", ["2017-06-15 11:01", "2017-06-15 11:03", "2017-06-15 12:01", "2017-06-15 12:03"]),
    ("0/4 * * * *", "2017-06-15 10:16:50", ["2017-06-15 10:20", "2017-06-15 10:24", "2017-06-15 10:28", "2017-06-15 10:32"]),
    ("7/8 * * * *", "2017-06-15 10:16:50", ["2017-06-15 10:23", "2017-06-15 10:31", "2017-06-15 10:39", "2017-06-15 10:47"]),
    ("15 */2 * * *", "2017-06-15 10:16:50", ["2017-06-15 12:15", "2017-06-15 14:15", "2017-06-15 16:15", "2017-06-15 18:15"]),
    ("15-30 * * * *", "2017-06-15 10:16:50", ["2017-06-15 10:17", "2017-06-15 10:18", "2017-06-15 10:19", "2017-06-15 10:20"]),
    ("20-30 * * * *", "2017-06-15 10:16:50", ["2017-06-15 10:20", "2017-06-15 10:21", "2017-06-15 10:22", "2017-06-15 10:23"]),
    ("5,10,55 * * * *", "2017-06-15 10:16:50", ["2017-06-15 10:55", "2017-06-15 11:05", "2017-06-15 11:10", "2017-06-15 11:55"]),
    ("* * * * 0", "2017-06-15 10:16:50", ["2017-06-18 00:00", "2017-06-18 00:01", "2017-06-18 00:02", "2017-06-18 00:03"]),
    ("* * * * 4", "2017-06-15 10:16:50", ["2017-06-15 10:17", "2017-06-15 10:18", "2017-06-15 10:19", "2017-06-15 10:20"]),
    ("* * * * 7", "2017-06-15 10:16:50", ["2017-06-18 00:00", "2017-06-18 00:01", "2017-06-18 00:02", "2017-06-18 00:03"]),
    ("* * * * mon-tue", "2017-06-15 10:16:50", ["2017-06-19 00:00", "2017-06-19 00:01", "2017-06-19 00:02", "2017-06-19 00:03"]),
    ("* * * * 5-6", "2017-06-19 10:16:50", ["2017-06-23 00:00", "2017-06-23 00:01", "2017-06-23 00:02", "2017-06-23 00:03"]),
    ("* * * * fri-sun", "2017-06-19 10:16:50", ["2017-06-23 00:00", "2017-06-23 00:01", "2017-06-23 00:02", "2017-06-23 00:03"]),
    ("* * * * sun-fri", "2017-06-19 10:16:50", ["2017-06-19 10:17", "2017-06-19 10:18", "2017-06-19 10:19", "2017-06-19 10:20"]),
    ("0 10 1-7 * *", "2017-08-24 18:01:00", ["2017-09-01 10:00", "2017-09-02 10:00", "2017-09-03 10:00", "2017-09-04 10:00"]),
    ("0 10 * * mon", "2017-08-24 18:01:00", ["2017-08-28 10:00", "2017-09-04 10:00", "2017-09-11 10:00", "2017-09-18 10:00"]),
    ("0 10 1-7 * mon", "2017-08-24 18:01:00", ["2017-08-28 10:00", "2017-09-01 10:00", "2017-09-02 10:00", "2017-09-03 10:00"]),
    ("0 10 1-25 * mon", "2017-08-24 18:01:00", ["2017-08-25 10:00", "2017-08-28 10:00", "2017-09-01 10:00", "2017-09-02 10:00"]),
    ("0 * 1-25 * mon", "2017-08-24 18:01:00", ["2017-08-24 19:00", "2017-08-24 20:00", "2017-08-24 21:00", "2017-08-24 22:00"]),
    ("0 * 1-23 * mon", "2017-08-24 18:01:00", ["2017-08-28 00:00", "2017-08-28 01:00", "2017-08-28 02:00", "2017-08-28 03:00"]),
    ("39 3 L * *", "2017-06-15 10:16:50", ["2017-06-30 03:39", "2017-07-31 03:39", "2017-08-31 03:39", "2017-09-30 03:39"]),
    ("10-15,30,45 10 * * *", "2017-06-15 10:12:50", ["2017-06-15 10:13", "2017-06-15 10:14", "2017-06-15 10:15", "2017-06-15 10:30"]),
    ("10-15,30,45 10 * * *", "2017-06-15 09:12:50", ["2017-06-15 10:10", "2017-06-15 10:11", "2017-06-15 10:12", "2017-06-15 10:13"]),
    ("55 7 * * Lsun", "2017-06-15 10:16:50", ["2017-06-25 07:55", "2017-07-30 07:55", "2017-08-27 07:55", "2017-09-24 07:55"]),
    ("* * * * Lwed-fri", "2017-06-15 10:16:50", ["2017-06-28 00:00", "2017-06-28 00:01", "2017-06-28 00:02", "2017-06-28 00:03"]),
    ("* * 4-15 feb-jun wed-fri", "2017-06-15 10:16:50", ["2017-06-15 10:17", "2017-06-15 10:18", "2017-06-15 10:19", "2017-06-15 10:20"]),
    ("3-20/2 5 4-15 feb-may *", "2017-06-15 10:16:50", ["2018-02-04 05:03", "2018-02-04 05:05", "2018-02-04 05:07", "2018-02-04 05:09"]),
    ("3-20/2 5 * feb-may wed", "2017-06-15 10:16:50", ["2018-02-07 05:03", "2018-02-07 05:05", "2018-02-07 05:07", "2018-02-07 05:09"]),
    ("3-20/2 5 7-15 feb-may wed,tue,sat,mon", "2017-06-15 10:16:50", ["2018-02-03 05:03", "2018-02-03 05:05", "2018-02-03 05:07", "2018-02-03 05:09"]),
    ("* * 29 2 *", "2017-06-15 10:16:50", ["2020-02-29 00:00", "2020-02-29 00:01", "2020-02-29 00:02", "2020-02-29 00:03"]),
    ("* * 29 2 0", "2017-06-15 10:16:50", ["2018-02-04 00:00", "2018-02-04 00:01", "2018-02-04 00:02", "2018-02-04 00:03"]),
    ("* * 29 2 0 2020", "2017-06-15 10:16:50", ["2020-02-02 00:00", "2020-02-02 00:01", "2020-02-02 00:02", "2020-02-02 00:03"]),
    ("30 5 * jan,mar Ltue", "2017-06-15 10:16:50", ["2018-01-30 05:30", "2018-03-27 05:30", "2019-01-29 05:30", "2019-03-26 05:30"]),
    ("0 0 1 jan/2 * 2011-2013", "2011-01-10 23:59:30", ["2011-03-01 00:00", "2011-05-01 00:00", "2011-07-01 00:00", "2011-09-01 00:00"]),
    ("* * 29 2 mon 2048", "2017-06-15 10:16:50", ["2048-02-03 00:00", "2048-02-03 00:01", "2048-02-03 00:02", "2048-02-03 00:03"]),
    ("* * 29 2 * 2049,2051-2060", "2017-06-15 10:16:50", ["2052-02-29 00:00", "2052-02-29 00:01", "2052-02-29 00:02", "2052-02-29 00:03"]),
    ("*/15 8-18 * * mon-fri", "2017-06-16 18:50:00", ["2017-06-19 08:00", "2017-06-19 08:15", "2017-06-19 08:30", "2017-06-19 08:45"]),
    ("0 12 * * *", "2017-06-15 12:00:00", ["2017-06-15 12:00", "2017-06-16 12:00", "2017-06-17 12:00", "2017-06-18 12:00"]),
    ("0 12 * * *", "2017-06-15 12:00:00.500000", ["2017-06-15 12:00", "2017-06-16 12:00", "2017-06-17 12:00", "2017-06-18 12:00"]),
];

fn four_fires(expr: &CronExpr, now: DateTime) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = now;
    for _ in 0..4 {
        let Some(fire) = expr.next_after(at) else {
            break;
        };
        out.push(short(fire));
        at = fire + jiff::SignedDuration::from_secs(1);
    }
    out
}

#[test]
fn worked_examples_all_four_fires() {
    for (source, now, expected) in ROWS {
        let expr = CronExpr::parse(source).unwrap_or_else(|e| panic!("{source}: {e}"));
        assert_eq!(four_fires(&expr, dt(now)), expected, "{source} at {now}");
        // and the literal upstream algorithm agrees on every row
        let mut at = dt(now);
        for want in expected {
            let fire = upstream_next(&expr, at, false).unwrap();
            assert_eq!(short(fire), *want, "upstream port: {source} at {at}");
            at = fire + jiff::SignedDuration::from_secs(1);
        }
    }
}

#[test]
fn additional_edge_cases() {
    let cases = [
        ("10/7 * * * *", "2017-06-15 10:00:30", "2017-06-15 10:03"),
        ("0 0 * * 1,L5", "2017-06-15 10:16:50", "2017-06-26 00:00"),
        ("* * 1,L * *", "2017-06-15 10:16:50", "2017-06-30 00:00"),
        ("0 0 30 2,4 *", "2017-06-15 10:16:50", "2018-04-30 00:00"),
        ("0 0 31 * *", "2017-06-15 10:16:50", "2017-07-31 00:00"),
        ("* * * * *", "2017-12-31 23:59:30", "2018-01-01 00:00"),
        // case-insensitive names, `?`, a step on names, L alone in other fields is `*`
        (
            "0 0 * JAN-Mar/2 *",
            "2017-06-15 10:16:50",
            "2018-01-01 00:00",
        ),
        ("0 0 ? * *", "2017-06-15 10:16:50", "2017-06-16 00:00"),
        ("L 0 * * *", "2017-06-15 10:16:50", "2017-06-16 00:00"),
        // more than six fields: the rest is ignored
        (
            "0 0 1 1 * 2019 whatever",
            "2017-06-15 10:16:50",
            "2019-01-01 00:00",
        ),
        // (a range beyond the field, clipped upstream, is an error: see invalid_expressions)
        // an empty expression is every minute
        ("", "2017-06-15 10:16:50", "2017-06-15 10:17"),
        // `?` in the day of month counts as restricted: OR with the weekday
        ("0 0 ? * mon", "2017-06-15 10:16:50", "2017-06-16 00:00"),
        // the numbers of a weekday range are order-insensitive, names are not
        ("0 0 * * 5-3", "2017-06-16 10:16:50", "2017-06-21 00:00"),
        ("0 0 * * 1-fri", "2017-06-17 10:16:50", "2017-06-19 00:00"),
    ];
    for (source, now, want) in cases {
        let expr = CronExpr::parse(source).unwrap_or_else(|e| panic!("{source}: {e}"));
        assert_eq!(
            expr.next_after(dt(now)).map(short).as_deref(),
            Some(want),
            "{source}"
        );
        assert_eq!(
            upstream_next(&expr, dt(now), false).map(short).as_deref(),
            Some(want),
            "{source}"
        );
    }
}

#[test]
fn no_future_time() {
    let expr = CronExpr::parse("0 0 1 jan/2 * 2011-2013").unwrap();
    assert_eq!(expr.next_after(dt("2017-06-15 10:16:50")), None);
    // valid, but can never match: day 2 only when it is the month's last day
    let never = CronExpr::parse("* * L2 * *").unwrap();
    assert_eq!(never.next_after(dt("2017-06-15 10:16:50")), None);
    // nothing from 2100 on
    let last = CronExpr::parse("0 0 31 12 *").unwrap();
    assert_eq!(last.next_after(dt("2099-12-31 00:00:01")), None);
    assert_eq!(last.next_after(dt("2150-01-01 00:00:00")), None);
}

#[test]
fn leap_days() {
    let feb29 = CronExpr::parse("0 12 29 2 *").unwrap();
    let fires: Vec<_> = std::iter::successors(Some(dt("2019-01-01 00:00:00")), |at| {
        feb29.next_after(*at + jiff::SignedDuration::from_secs(1))
    })
    .skip(1)
    .take(4)
    .map(short)
    .collect();
    assert_eq!(
        fires,
        [
            "2020-02-29 12:00",
            "2024-02-29 12:00",
            "2028-02-29 12:00",
            "2032-02-29 12:00"
        ]
    );
    // 2100 is not a leap year and is out of range anyway; 2000 is
    assert_eq!(
        CronExpr::parse("0 0 29 2 * 1999-2001")
            .unwrap()
            .next_after(dt("1990-01-01 00:00:00"))
            .map(short)
            .as_deref(),
        Some("2000-02-29 00:00")
    );
    // the last day of February follows leap years
    let last = CronExpr::parse("0 0 L 2 *").unwrap();
    assert_eq!(
        last.next_after(dt("2023-06-01 00:00:00"))
            .map(short)
            .as_deref(),
        Some("2024-02-29 00:00")
    );
    assert_eq!(
        last.next_after(dt("2024-03-01 00:00:00"))
            .map(short)
            .as_deref(),
        Some("2025-02-28 00:00")
    );
    // the last Thursday of a leap February
    let lthu = CronExpr::parse("0 0 * 2 Lthu").unwrap();
    assert_eq!(
        lthu.next_after(dt("2024-01-01 00:00:00"))
            .map(short)
            .as_deref(),
        Some("2024-02-29 00:00")
    );
    // leap-day only in years that have none is out of scope
    assert_eq!(
        CronExpr::parse("* * 29 2 * 2017-2019").unwrap_err(),
        CronError::DaysOutOfScope
    );
}

#[test]
fn invalid_expressions() {
    let cases: &[(&str, &str)] = &[
        (
            "* * * * wed-mon",
            "Invalid cron notation: invalid values for isoweekday (wed-mon)",
        ),
        (
            "* * * * tue-mon",
            "Invalid cron notation: invalid values for isoweekday (tue-mon)",
        ),
        (
            "* * 29 2 * 2017-2019",
            "Invalid cron notation: days out of scope",
        ),
        (
            "* * 29 2 * 2049-2050,2073-2075,2099-2101",
            "Invalid cron notation: days out of scope",
        ),
        (
            "70 * * *",
            "Invalid cron notation: invalid values for minute",
        ),
        ("* * 30 2 *", "Invalid cron notation: days out of scope"),
        // Range endpoints beyond the field's values (upstream clips them).
        (
            "0 0 1-100000000000 * *",
            "Invalid cron notation: invalid values for day (1-100000000000)",
        ),
        (
            "0-60 * * * *",
            "Invalid cron notation: invalid values for minute (0-60)",
        ),
        (
            "* 0-24/2 * * *",
            "Invalid cron notation: invalid values for hour (0-24/2)",
        ),
        (
            "* * * 0-12 *",
            "Invalid cron notation: invalid values for month (0-12)",
        ),
        (
            "* * * * 1-8",
            "Invalid cron notation: invalid values for isoweekday (1-8)",
        ),
        (
            "* * * x-dec *",
            "Invalid cron notation: invalid values for month (x)",
        ),
        (
            "* * * jan-y *",
            "Invalid cron notation: invalid values for month (y)",
        ),
        (
            "* * * nope *",
            "Invalid cron notation: invalid values for month (nope)",
        ),
        (
            "*/0 * * * *",
            "Invalid cron notation: invalid values for minute (*/0)",
        ),
        (
            "5/0 * * * *",
            "Invalid cron notation: invalid values for minute (5/0)",
        ),
        (
            "1,,2 * * * *",
            "Invalid cron notation: invalid values for minute ()",
        ),
        (
            "1-2-3 * * * *",
            "Invalid cron notation: invalid values for minute (1-2-3)",
        ),
        (
            "1/2/3 * * * *",
            "Invalid cron notation: invalid values for minute (1/2/3)",
        ),
        (
            "* * 5L * *",
            "Invalid cron notation: invalid values for day (5l)",
        ),
        (
            "* * 15W * *",
            "Invalid cron notation: invalid values for day (15w)",
        ),
        (
            "* * * * 5#3",
            "Invalid cron notation: invalid values for isoweekday (5#3)",
        ),
        (
            "* * * * mon-5",
            "Invalid cron notation: invalid values for isoweekday (mon-5)",
        ),
        (
            "* * * * Lmon-fri/2",
            "Invalid cron notation: invalid values for isoweekday (lmon)",
        ),
        (
            "@reboot",
            "Invalid cron notation: invalid values for minute (@reboot)",
        ),
        (
            "mon * * * *",
            "Invalid cron notation: invalid values for minute (mon)",
        ),
        (
            "* 24 * * *",
            "Invalid cron notation: invalid values for hour",
        ),
        (
            "* * * * * 1969",
            "Invalid cron notation: invalid values for year",
        ),
        (
            "-1 * * * *",
            "Invalid cron notation: invalid values for minute (-1)",
        ),
        (
            "5- * * * *",
            "Invalid cron notation: invalid values for minute ()",
        ),
    ];
    for (source, message) in cases {
        let err = CronExpr::parse(source).expect_err(source);
        assert_eq!(err.to_string(), *message, "{source}");
    }
}

// ---- a literal port of upstream's `get_next_datetime`, as the oracle ----

fn make(y: i32, mo: i32, d: i32, h: i32, mi: i32) -> Option<DateTime> {
    DateTime::new(
        i16::try_from(y).ok()?,
        i8::try_from(mo).ok()?,
        i8::try_from(d).ok()?,
        i8::try_from(h).ok()?,
        i8::try_from(mi).ok()?,
        0,
        0,
    )
    .ok()
}

fn allowed(expr: &CronExpr, field: usize, v: i32) -> bool {
    match field {
        0 => (0..60).contains(&v) && expr.minutes & (1 << v) != 0,
        1 => (0..24).contains(&v) && expr.hours & (1 << v) != 0,
        2 => (1..32).contains(&v) && expr.days & (1 << v) != 0,
        3 => (1..13).contains(&v) && expr.months & (1 << v) != 0,
        _ => (FIRST_YEAR..=LAST_YEAR).contains(&v) && expr.years.get((v - FIRST_YEAR) as usize),
    }
}

fn get(d: DateTime, field: usize) -> i32 {
    match field {
        0 => d.minute().into(),
        1 => d.hour().into(),
        2 => d.day().into(),
        3 => d.month().into(),
        _ => d.year().into(),
    }
}

fn set(d: DateTime, field: usize, v: i32) -> Option<DateTime> {
    let mut f = [
        d.year().into(),
        d.month().into(),
        d.day().into(),
        d.hour().into(),
        d.minute().into(),
    ];
    f[[4, 3, 2, 1, 0][field]] = v;
    make(f[0], f[1], f[2], f[3], f[4])
}

fn wd(d: DateTime) -> u8 {
    d.weekday().to_sunday_zero_offset() as u8
}

enum Pass {
    Found(Option<DateTime>),
    End,
}

fn pass(expr: &CronExpr, start: DateTime, fields: &[usize]) -> Pass {
    let mut cur = Some(start);
    for &field in fields {
        let Some(c) = cur else { break };
        let value = get(c, field);
        let max = if field == 4 { LAST_YEAR } else { 60 };
        match (value..=max).find(|v| allowed(expr, field, *v)) {
            None if field == 4 => return Pass::End,
            None => cur = None,
            Some(v) => cur = set(c, field, v),
        }
    }
    Pass::Found(cur)
}

fn calculate_date(expr: &CronExpr, input: DateTime, fixed: bool) -> Option<DateTime> {
    let mut next = input;
    loop {
        let original = next;
        let Pass::Found(mut a) = pass(expr, original, &[0, 1, 2, 3, 4]) else {
            return None;
        };
        let Pass::Found(mut b) = pass(expr, original, &[0, 1, 3, 4]) else {
            return None;
        };
        if expr.use_weekdays {
            if let Some(w) = b {
                let dim = days_in_month(w.year().into(), w.month() as u8);
                for d in w.day() as u8..=dim {
                    let c = make(
                        w.year().into(),
                        w.month().into(),
                        d.into(),
                        w.hour().into(),
                        w.minute().into(),
                    );
                    b = c;
                    // (fixed: with `L`, look on to the weekday's last occurrence)
                    let last_ok = || !fixed || !expr.last_weekday || d + 7 > dim;
                    if c.is_some_and(|c| expr.weekdays & (1 << wd(c)) != 0 && last_ok()) {
                        break;
                    }
                }
            }
        }
        if expr.use_days && !expr.use_weekdays {
            b = None;
        }
        if !expr.use_days && expr.use_weekdays {
            a = None;
        }
        if expr.use_weekdays && b.is_some_and(|b| expr.weekdays & (1 << wd(b)) == 0) {
            b = None;
        }
        if expr.last_day
            && a.is_some_and(|a| a.day() as u8 != days_in_month(a.year().into(), a.month() as u8))
        {
            a = None;
        }
        if expr.use_weekdays
            && expr.last_weekday
            && b.is_some_and(|b| {
                b.day() as u8 + 7 <= days_in_month(b.year().into(), b.month() as u8)
            })
        {
            b = None;
        }
        if expr.use_weekdays {
            if let Some(bv) = b {
                if a.is_none_or(|av| bv < av) {
                    a = Some(bv);
                }
            }
        }
        match a {
            Some(found) => return Some(found),
            None => {
                let (y, m, d) = next_day(
                    original.year().into(),
                    original.month() as u8,
                    original.day() as u8,
                );
                next = make(y, m.into(), d.into(), 0, 0)?;
                if y >= 2100 {
                    return None;
                }
            }
        }
    }
}

/// Upstream's `get_next_datetime`; `fixed` corrects its two off-by-one start-point conditions
/// and makes its weekday scan look past weekdays that are not the `L`ast of the month.
fn upstream_next(expr: &CronExpr, now: DateTime, fixed: bool) -> Option<DateTime> {
    let (y, mo, d, h, mi) = (
        i32::from(now.year()),
        i32::from(now.month()),
        i32::from(now.day()),
        i32::from(now.hour()),
        i32::from(now.minute()),
    );
    let dim = i32::from(days_in_month(y, mo as u8));
    let mut starts = Vec::new();
    if now.second() == 0 {
        starts.push(Some(now));
    }
    if mi < 59 {
        starts.push(make(y, mo, d, h, mi + 1));
    }
    if h < 23 {
        starts.push(make(y, mo, d, h + 1, 0));
    }
    if d < dim - 1 || (fixed && d < dim) {
        starts.push(make(y, mo, d + 1, 0, 0));
    }
    if mo < 11 || (fixed && mo < 12) {
        starts.push(make(y, mo + 1, 1, 0, 0));
    }
    starts.push(make(y + 1, 1, 1, 0, 0));
    starts
        .into_iter()
        .flatten()
        .filter_map(|s| calculate_date(expr, s, fixed))
        .min()
}

#[test]
fn upstream_skips_days_where_we_do_not() {
    // upstream's start points miss the next day on a month's second-to-last day at 23:59:xx,
    // and the next month in November
    let every_minute = CronExpr::parse("* * * * *").unwrap();
    let now = dt("2017-06-29 23:59:30");
    assert_eq!(
        short(every_minute.next_after(now).unwrap()),
        "2017-06-30 00:00"
    );
    assert_eq!(
        short(upstream_next(&every_minute, now, false).unwrap()),
        "2017-07-01 00:00"
    );
    let december = CronExpr::parse("0 0 5,20 12 *").unwrap();
    let now = dt("2017-11-10 10:16:50");
    assert_eq!(short(december.next_after(now).unwrap()), "2017-12-05 00:00");
    assert_eq!(
        short(upstream_next(&december, now, false).unwrap()),
        "2017-12-20 00:00"
    );
    assert_eq!(
        short(upstream_next(&december, now, true).unwrap()),
        "2017-12-05 00:00"
    );
    // with both day fields restricted, upstream's weekday scan stops at the first Friday of
    // the month (not the last) and settles for the day-of-month match
    let day_or_last_friday = CronExpr::parse("0 0 31 * Lfri").unwrap();
    let now = dt("2017-07-01 10:00:00");
    assert_eq!(
        short(day_or_last_friday.next_after(now).unwrap()),
        "2017-07-28 00:00"
    );
    assert_eq!(
        short(upstream_next(&day_or_last_friday, now, false).unwrap()),
        "2017-07-31 00:00"
    );
}

/// Near-valid crontab text: parts built from the dialect's own tokens.
fn part_strategy(field: usize) -> BoxedStrategy<String> {
    let (lo, hi): (i32, i32) = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7), (2015, 2030)][field];
    let num = move || (lo..=hi + 1).prop_map(|v| v.to_string());
    let mut atoms: Vec<BoxedStrategy<String>> = vec![Just("*".to_owned()).boxed(), num().boxed()];
    if field == 3 {
        atoms.push(
            proptest::sample::select(MONTHS.iter().map(|m| m.0.to_owned()).collect::<Vec<_>>())
                .boxed(),
        );
    }
    if field == 4 {
        atoms.push(
            proptest::sample::select(WEEKDAYS.iter().map(|m| m.0.to_owned()).collect::<Vec<_>>())
                .boxed(),
        );
    }
    let atom = proptest::strategy::Union::new(atoms).boxed();
    let one = prop_oneof![
        4 => atom.clone(),
        2 => (num(), num()).prop_map(|(a, b)| format!("{a}-{b}")),
        2 => (atom.clone(), 1..8i32).prop_map(|(a, s)| format!("{a}/{s}")),
        1 => (num(), num(), 1..5i32).prop_map(|(a, b, s)| format!("{a}-{b}/{s}")),
        1 => Just("?".to_owned()),
        1 => atom.clone().prop_map(move |a| if field == 2 || field == 4 { format!("L{a}") } else { a }),
        1 => Just(if field == 2 { "L".to_owned() } else { "*".to_owned() }),
    ];
    proptest::collection::vec(one, 1..3)
        .prop_map(|parts| parts.join(","))
        .boxed()
}

fn expression_strategy() -> impl Strategy<Value = String> {
    (
        part_strategy(0),
        part_strategy(1),
        part_strategy(2),
        part_strategy(3),
        part_strategy(4),
        part_strategy(5),
        0..=6usize,
    )
        .prop_map(|(a, b, c, d, e, f, n)| [a, b, c, d, e, f][..n].join(" "))
}

fn now_strategy() -> impl Strategy<Value = DateTime> {
    (
        2015i16..2030,
        1i8..=12,
        1i8..=31,
        0i8..24,
        prop_oneof![Just(0i8), Just(59), 0i8..60],
        prop_oneof![Just(0i8), Just(1), Just(30), 0i8..60],
    )
        .prop_filter_map("valid date", |(y, mo, d, h, mi, s)| {
            DateTime::new(y, mo, d, h, mi, s, 0).ok()
        })
}

proptest! {
    // the oracle walks day by day (to 2100 for expressions that never match): few cases
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// The search is upstream's algorithm, minus its slips.
    #[test]
    fn search_matches_the_corrected_upstream_algorithm(source in expression_strategy(), now in now_strategy()) {
        if let Ok(expr) = CronExpr::parse(&source) {
            prop_assert_eq!(expr.next_after(now), upstream_next(&expr, now, true), "{} at {}", source, now);
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Every result matches the expression and is not before `now`.
    #[test]
    fn results_are_matches_and_nothing_earlier_matches(source in expression_strategy(), now in now_strategy()) {
        if let Ok(expr) = CronExpr::parse(&source) {
            if let Some(next) = expr.next_after(now) {
                prop_assert!(next > now || (now.second() == 0 && next == now.with().subsec_nanosecond(0).build().unwrap()));
                let m = Minute::from_datetime(next);
                prop_assert_eq!(expr.next_match(m), Some(m));
                prop_assert!(expr.years.get((m.y - FIRST_YEAR) as usize));
            }
        }
    }
}
