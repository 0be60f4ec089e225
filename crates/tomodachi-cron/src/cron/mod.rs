//! Upstream's crontab dialect (`tomodachi/helpers/crontab.py`): the parser, ported rule by rule
//! (including its quirks), and a next-time search over civil (wall-clock) minutes.

use std::fmt;

use jiff::civil::DateTime;

use crate::pyint::{py_int, py_mod};

/// The first and last year a crontab expression can name or return.
pub(crate) const FIRST_YEAR: i32 = 1970;
/// Years from 2100 on are never returned.
pub(crate) const LAST_YEAR: i32 = 2099;

const ALIASES: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
    ("@minutely", "* * * * *"),
];

const MONTHS: &[(&str, i128)] = &[
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("may", 5),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
];

const WEEKDAYS: &[(&str, i128)] = &[
    ("mon", 1),
    ("tue", 2),
    ("wed", 3),
    ("thu", 4),
    ("fri", 5),
    ("sat", 6),
    ("sun", 0),
];

/// One of the six crontab fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CronField {
    /// 0-59.
    Minute,
    /// 0-23.
    Hour,
    /// Day of month, 1-31, or `L`.
    Day,
    /// 1-12 or `jan`-`dec`.
    Month,
    /// Day of week, 0-7 (0 and 7 are Sunday) or `sun`-`sat`, optionally `L`-prefixed.
    Weekday,
    /// 1970-2099.
    Year,
}

impl CronField {
    const ALL: [CronField; 6] = [
        CronField::Minute,
        CronField::Hour,
        CronField::Day,
        CronField::Month,
        CronField::Weekday,
        CronField::Year,
    ];

    /// The field's name in upstream's error messages (`isoweekday` for the day of week).
    pub fn name(self) -> &'static str {
        match self {
            CronField::Minute => "minute",
            CronField::Hour => "hour",
            CronField::Day => "day",
            CronField::Month => "month",
            CronField::Weekday => "isoweekday",
            CronField::Year => "year",
        }
    }

    fn range(self) -> (i128, i128) {
        match self {
            CronField::Minute => (0, 59),
            CronField::Hour => (0, 23),
            CronField::Day => (1, 31),
            CronField::Month => (1, 12),
            CronField::Weekday => (0, 7),
            CronField::Year => (FIRST_YEAR as i128, LAST_YEAR as i128),
        }
    }

    fn alias(self, name: &str) -> Option<i128> {
        let table = match self {
            CronField::Month => MONTHS,
            CronField::Weekday => WEEKDAYS,
            _ => return None,
        };
        table.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

/// Why a crontab expression is invalid. Displays upstream's message
/// (`Invalid cron notation: ...`).
///
/// ```
/// let err = tomodachi_cron::CronExpr::parse("70 * * * *").unwrap_err();
/// assert_eq!(err.to_string(), "Invalid cron notation: invalid values for minute");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CronError {
    /// A part of a field could not be parsed (a name the field does not know, a malformed
    /// range or step, a zero step, an empty part).
    InvalidPart {
        /// The field.
        field: CronField,
        /// The offending text.
        part: String,
    },
    /// A field allows no value within its range (e.g. minute `70`).
    NoValues {
        /// The field.
        field: CronField,
    },
    /// The smallest allowed day does not exist in any allowed month of any allowed year
    /// (e.g. `* * 30 2 *`).
    DaysOutOfScope,
}

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CronError::InvalidPart { field, part } => write!(
                f,
                "Invalid cron notation: invalid values for {} ({part})",
                field.name()
            ),
            CronError::NoValues { field } => {
                write!(
                    f,
                    "Invalid cron notation: invalid values for {}",
                    field.name()
                )
            }
            CronError::DaysOutOfScope => f.write_str("Invalid cron notation: days out of scope"),
        }
    }
}

impl std::error::Error for CronError {}

/// A small bit set over a field's values, indexed from the field's lowest value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Bits([u64; 3]);

impl Bits {
    fn full(len: usize) -> Bits {
        let mut b = Bits::default();
        for i in 0..len {
            b.set(i);
        }
        b
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn get(&self, i: usize) -> bool {
        i < 192 && self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
    fn union(&mut self, other: Bits) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a |= b;
        }
    }
    /// Keeps the values `v` (= `lo + i`) for which `keep(v)` holds.
    fn retain(&mut self, lo: i128, len: usize, keep: impl Fn(i128) -> bool) {
        for i in 0..len {
            if self.get(i) && !keep(lo + i as i128) {
                self.0[i / 64] &= !(1 << (i % 64));
            }
        }
    }
    /// The smallest set index `>= from`.
    fn next_from(&self, from: usize, len: usize) -> Option<usize> {
        (from..len).find(|&i| self.get(i))
    }
}

/// A parsed crontab expression in upstream's dialect.
///
/// Fields: minute, hour, day of month, month, day of week, year (1970-2099); missing trailing
/// fields are `*`, fields beyond the sixth are ignored. Parts: `*`, `?`, `N`, names (`jan`,
/// `mon`), `A-B`, `*/S`, `A/S`, `A-B/S` (a step keeps the values congruent to `A` modulo `S`,
/// also those below `A`), `L` (last day of month) and `L`-prefixed weekdays (`Lfri`: the last
/// Friday of the month). When both day fields are restricted, either may match. Aliases:
/// `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@hourly`, `@minutely`.
///
/// ```
/// use jiff::civil::date;
/// use tomodachi_cron::CronExpr;
///
/// let expr = CronExpr::parse("30 5 * jan,mar Ltue")?;
/// let now = date(2017, 6, 15).at(10, 16, 50, 0);
/// assert_eq!(expr.next_after(now), Some(date(2018, 1, 30).at(5, 30, 0, 0)));
/// # Ok::<(), tomodachi_cron::CronError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct CronExpr {
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    years: Bits,
    use_days: bool,
    use_weekdays: bool,
    last_day: bool,
    last_weekday: bool,
    source: String,
}

impl fmt::Debug for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CronExpr").field(&self.source).finish()
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl std::str::FromStr for CronExpr {
    type Err = CronError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CronExpr::parse(s)
    }
}

/// The allowed values of one part, and whether it carried an `L` flag.
fn parse_part(field: CronField, part: &str) -> Result<(Bits, bool), CronError> {
    let invalid = |p: &str| CronError::InvalidPart {
        field,
        part: p.to_owned(),
    };
    let (lo, hi) = field.range();
    let len = (hi - lo + 1) as usize;
    let value = |s: &str| field.alias(s).or_else(|| py_int(s));
    let mut possible = Bits::full(len);
    let mut last = false;
    let mut parsed = false;

    if part.contains('-') {
        let mut pieces = part.split('-');
        let (Some(mut a_value), Some(b_piece), None) =
            (pieces.next(), pieces.next(), pieces.next())
        else {
            return Err(invalid(part));
        };
        let mut b_value = b_piece;
        if b_value.contains('/') {
            let mut halves = b_value.split('/');
            let (Some(b), Some(_), None) = (halves.next(), halves.next(), halves.next()) else {
                return Err(invalid(part));
            };
            b_value = b;
        }
        if a_value.is_empty() {
            return Err(invalid(part));
        }
        if let Some(rest) = a_value.strip_prefix('l') {
            last = true;
            a_value = rest;
        }
        let mut a = field.alias(a_value).unwrap_or(-1);
        let mut b = field.alias(b_value).unwrap_or(-1);
        if field == CronField::Weekday && b < a {
            if b_value == "sun" {
                b = 7;
            } else {
                return Err(invalid(part));
            }
        }
        if a < 0 {
            a = py_int(a_value).ok_or_else(|| invalid(a_value))?;
        }
        if b < 0 {
            b = py_int(b_value).ok_or_else(|| invalid(b_value))?;
        }
        let (min, max) = (a.min(b), a.max(b));
        // Upstream clips an endpoint beyond the field's values (`1-100000000000` reads as
        // `1-31`); here it is an error, like a single value beyond them. The year field keeps
        // upstream's clipping (its values end at the last year the scheduler looks at).
        if field != CronField::Year && (min < lo || max > hi) {
            return Err(invalid(part));
        }
        possible.retain(lo, len, |x| x >= min && x <= max);
        parsed = true;
    }

    if part.contains('/') {
        let mut pieces = part.split('/');
        let (Some(a_value), Some(b_value), None) = (pieces.next(), pieces.next(), pieces.next())
        else {
            return Err(invalid(part));
        };
        match (value(a_value), py_int(b_value)) {
            (Some(a), Some(b)) => {
                if b == 0 {
                    return Err(invalid(part));
                }
                possible.retain(lo, len, |x| py_mod(x, b) == py_mod(a, b));
            }
            _ => {
                let b = py_int(b_value).ok_or_else(|| invalid(b_value))?;
                if b == 0 {
                    return Err(invalid(part));
                }
                if a_value == "*" || a_value == "?" {
                    possible.retain(lo, len, |x| py_mod(x, b) == 0);
                } else {
                    let mut range = part.split('-');
                    let (Some(a_value), Some(_), None) = (range.next(), range.next(), range.next())
                    else {
                        return Err(invalid(part));
                    };
                    let a = value(a_value).ok_or_else(|| invalid(a_value))?;
                    possible.retain(lo, len, |x| py_mod(x, b) == py_mod(a, b));
                }
            }
        }
        parsed = true;
    }

    let mut part_value = part;
    if part_value.is_empty() {
        return Err(invalid(part));
    }
    if let Some(rest) = part_value.strip_prefix('l') {
        last = true;
        part_value = rest;
    }
    match value(part_value) {
        Some(a) => possible.retain(lo, len, |x| x == a),
        None => {
            if !(parsed || part_value == "*" || part_value == "?" || part == "l") {
                return Err(invalid(part_value));
            }
        }
    }

    if field == CronField::Weekday && possible.get(7) {
        possible.0[0] &= !(1 << 7);
        possible.set(0);
    }
    if possible.is_empty() {
        return Err(CronError::NoValues { field });
    }
    Ok((possible, last))
}

impl CronExpr {
    /// Parses an expression (or an `@` alias, matched exactly).
    ///
    /// ```
    /// use tomodachi_cron::CronExpr;
    /// assert!(CronExpr::parse("*/15 8-18 * * mon-fri").is_ok());
    /// assert!(CronExpr::parse("* * 30 2 *").is_err());
    /// ```
    pub fn parse(expression: &str) -> Result<CronExpr, CronError> {
        let source = expression.to_owned();
        let expression = ALIASES
            .iter()
            .find(|(alias, _)| *alias == expression)
            .map_or(expression, |(_, e)| e);
        let fields: Vec<&str> = expression.split_whitespace().collect();

        let mut sets = [Bits::default(); 6];
        let mut last_day = false;
        let mut last_weekday = false;
        let mut use_days = false;
        let mut use_weekdays = false;
        for (i, field) in CronField::ALL.into_iter().enumerate() {
            let text = fields.get(i).copied().unwrap_or("*");
            if text != "*" {
                match field {
                    CronField::Day => use_days = true,
                    CronField::Weekday => use_weekdays = true,
                    _ => {}
                }
            }
            let lower = text.to_lowercase();
            for part in lower.split(',') {
                let (bits, last) = parse_part(field, part)?;
                if last && field == CronField::Day {
                    last_day = true;
                }
                if last && field == CronField::Weekday {
                    last_weekday = true;
                }
                sets[i].union(bits);
            }
        }

        let word = |b: &Bits| b.0[0];
        let expr = CronExpr {
            minutes: word(&sets[0]),
            hours: word(&sets[1]) as u32,
            // bit i of the field set is day i + 1
            days: (word(&sets[2]) as u32) << 1,
            months: (word(&sets[3]) as u16) << 1,
            weekdays: word(&sets[4]) as u8,
            years: sets[5],
            use_days,
            use_weekdays,
            last_day,
            last_weekday,
            source,
        };
        expr.check_days_in_scope()?;
        Ok(expr)
    }

    /// Upstream rejects an expression whose smallest allowed day (when 28 or more) exists in
    /// no allowed month of any allowed year.
    fn check_days_in_scope(&self) -> Result<(), CronError> {
        let min_day = self.days.trailing_zeros() as u8;
        if min_day < 28 {
            return Ok(());
        }
        let possible = self.year_iter().any(|y| {
            (1..=12u8).any(|m| self.months & (1 << m) != 0 && days_in_month(y, m) >= min_day)
        });
        if possible {
            Ok(())
        } else {
            Err(CronError::DaysOutOfScope)
        }
    }

    fn year_iter(&self) -> impl Iterator<Item = i32> + '_ {
        let len = (LAST_YEAR - FIRST_YEAR + 1) as usize;
        (0..len)
            .filter(|&i| self.years.get(i))
            .map(|i| FIRST_YEAR + i as i32)
    }

    /// The expression as given (before alias expansion).
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The next matching minute after `now`, as upstream's `get_next_datetime(expr, now)` on a
    /// naive datetime: the earliest minute-aligned time `t` matching the expression with
    /// `t >= now` when `now` has zero seconds (the current minute counts; sub-seconds are
    /// ignored), otherwise `t > now`. `None` when nothing matches before the year 2100.
    ///
    /// ```
    /// use jiff::civil::date;
    /// use tomodachi_cron::CronExpr;
    ///
    /// let noon = CronExpr::parse("0 12 * * *")?;
    /// let at = |h, m, s, ns| date(2017, 6, 15).at(h, m, s, ns);
    /// assert_eq!(noon.next_after(at(12, 0, 0, 500_000_000)), Some(at(12, 0, 0, 0)));
    /// assert_eq!(noon.next_after(at(12, 0, 1, 0)), Some(date(2017, 6, 16).at(12, 0, 0, 0)));
    /// # Ok::<(), tomodachi_cron::CronError>(())
    /// ```
    pub fn next_after(&self, now: DateTime) -> Option<DateTime> {
        let mut start = Minute::from_datetime(now);
        if now.second() != 0 {
            start = start.succ()?;
        }
        self.next_match(start).and_then(Minute::to_datetime)
    }

    /// The earliest matching minute `>= start`.
    fn next_match(&self, start: Minute) -> Option<Minute> {
        let Minute {
            mut y,
            mut mo,
            mut d,
            mut h,
            mut mi,
        } = start;
        let years_len = (LAST_YEAR - FIRST_YEAR + 1) as usize;
        loop {
            if y > LAST_YEAR {
                return None;
            }
            if y < FIRST_YEAR || !self.years.get((y - FIRST_YEAR) as usize) {
                let from = (y + 1).max(FIRST_YEAR) - FIRST_YEAR;
                let next = self.years.next_from(from as usize, years_len)?;
                (y, mo, d, h, mi) = (FIRST_YEAR + next as i32, 1, 1, 0, 0);
                continue;
            }
            if self.months & (1 << mo) == 0 {
                match next_bit(self.months as u64, mo + 1, 12) {
                    Some(m) => (mo, d, h, mi) = (m, 1, 0, 0),
                    None => (y, mo, d, h, mi) = (y + 1, 1, 1, 0, 0),
                }
                continue;
            }
            if !self.day_matches(y, mo, d) {
                (y, mo, d) = next_day(y, mo, d);
                (h, mi) = (0, 0);
                continue;
            }
            if self.hours & (1 << h) == 0 {
                match next_bit(self.hours as u64, h + 1, 23) {
                    Some(nh) => (h, mi) = (nh, 0),
                    None => {
                        (y, mo, d) = next_day(y, mo, d);
                        (h, mi) = (0, 0);
                    }
                }
                continue;
            }
            if self.minutes & (1 << mi) == 0 {
                match next_bit(self.minutes, mi + 1, 59) {
                    Some(nm) => mi = nm,
                    None if h < 23 => (h, mi) = (h + 1, 0),
                    None => {
                        (y, mo, d) = next_day(y, mo, d);
                        (h, mi) = (0, 0);
                    }
                }
                continue;
            }
            return Some(Minute { y, mo, d, h, mi });
        }
    }

    /// The day rule: day of month and day of week, `L` flags, and OR when both are
    /// restricted.
    fn day_matches(&self, y: i32, mo: u8, d: u8) -> bool {
        let dim = days_in_month(y, mo);
        let by_day = || self.days & (1 << d) != 0 && (!self.last_day || d == dim);
        let by_weekday =
            || self.weekdays & (1 << weekday(y, mo, d)) != 0 && (!self.last_weekday || d + 7 > dim);
        match (self.use_days, self.use_weekdays) {
            (false, false) => true,
            (true, false) => by_day(),
            (false, true) => by_weekday(),
            (true, true) => by_day() || by_weekday(),
        }
    }
}

/// A civil, minute-aligned time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Minute {
    y: i32,
    mo: u8,
    d: u8,
    h: u8,
    mi: u8,
}

impl Minute {
    fn from_datetime(dt: DateTime) -> Minute {
        Minute {
            y: i32::from(dt.year()),
            mo: dt.month() as u8,
            d: dt.day() as u8,
            h: dt.hour() as u8,
            mi: dt.minute() as u8,
        }
    }

    fn to_datetime(self) -> Option<DateTime> {
        DateTime::new(
            i16::try_from(self.y).ok()?,
            self.mo as i8,
            self.d as i8,
            self.h as i8,
            self.mi as i8,
            0,
            0,
        )
        .ok()
    }

    fn succ(self) -> Option<Minute> {
        let Minute { y, mo, d, h, mi } = self;
        Some(if mi < 59 {
            Minute { mi: mi + 1, ..self }
        } else if h < 23 {
            Minute {
                h: h + 1,
                mi: 0,
                ..self
            }
        } else {
            let (y, mo, d) = next_day(y, mo, d);
            if y > 9999 {
                return None;
            }
            Minute {
                y,
                mo,
                d,
                h: 0,
                mi: 0,
            }
        })
    }
}

/// The smallest set bit in `from..=max`.
fn next_bit(bits: u64, from: u8, max: u8) -> Option<u8> {
    if from > max {
        return None;
    }
    let masked = bits >> from;
    if masked == 0 {
        return None;
    }
    let b = from + masked.trailing_zeros() as u8;
    (b <= max).then_some(b)
}

fn next_day(y: i32, mo: u8, d: u8) -> (i32, u8, u8) {
    if d < days_in_month(y, mo) {
        (y, mo, d + 1)
    } else if mo < 12 {
        (y, mo + 1, 1)
    } else {
        (y + 1, 1, 1)
    }
}

pub(crate) fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub(crate) fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Day of week, Sunday = 0 (Sakamoto's method).
pub(crate) fn weekday(y: i32, m: u8, d: u8) -> u8 {
    const T: [i32; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let y = if m < 3 { y - 1 } else { y };
    let w =
        y + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400) + T[m as usize - 1] + d as i32;
    w.rem_euclid(7) as u8
}

#[cfg(test)]
mod tests;
