//! Time zone names as upstream accepts them: IANA names (case-insensitive), upstream's offset
//! aliases (`+02:00`, `GMT -5`, ...), and the host's zone when none is given.

use jiff::tz::TimeZone;

use crate::ScheduleError;

/// The IANA zone an upstream offset alias stands for (`+02:00` → `Etc/GMT-2`), comparing
/// without spaces as upstream does.
fn alias_target(name: &str) -> Option<String> {
    let wanted: String = name.chars().filter(|c| *c != ' ').collect();
    const ZERO: &[&str] = &[
        "+00:00",
        "-00:00",
        "00:00",
        "0000",
        "GMT+0000",
        "GMT+00:00",
        "GMT-00",
        "GMT+00",
        "GMT-0",
        "GMT+0",
    ];
    if ZERO.contains(&wanted.as_str()) {
        return Some("GMT0".to_owned());
    }
    for hours in 1..=12u8 {
        for (sign, etc_sign) in [('+', '-'), ('-', '+')] {
            let mut keys = vec![
                format!("{sign}{hours:02}:00"),
                format!("{sign}{hours:02}00"),
                format!("GMT{sign}{hours:02}00"),
                format!("GMT{sign}{hours:02}:00"),
                format!("GMT{sign}{hours:02}"),
            ];
            if hours <= 9 {
                keys.push(format!("GMT{sign}{hours}"));
            }
            if keys.contains(&wanted) {
                return Some(format!("Etc/GMT{etc_sign}{hours}"));
            }
        }
    }
    None
}

/// Resolves a `timezone` value: `None` or `""` is the host's zone (UTC when it cannot be
/// determined); otherwise an IANA name (looked up case-insensitively in the bundled tz
/// database) or one of upstream's offset aliases.
///
/// ```
/// use tomodachi_cron::parse_timezone;
/// assert_eq!(parse_timezone(Some("europe/stockholm"))?.iana_name(), Some("Europe/Stockholm"));
/// assert_eq!(parse_timezone(Some("GMT +2"))?.iana_name(), Some("Etc/GMT-2"));
/// assert_eq!(
///     parse_timezone(Some("Mars/Olympus")).unwrap_err().to_string(),
///     "Unknown timezone: Mars/Olympus"
/// );
/// # Ok::<(), tomodachi_cron::ScheduleError>(())
/// ```
pub fn parse_timezone(name: Option<&str>) -> Result<TimeZone, ScheduleError> {
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return Ok(TimeZone::try_system().unwrap_or(TimeZone::UTC));
    };
    let target =
        alias_target(name).unwrap_or_else(|| name.replace("_plus_", "+").replace("_minus_", "-"));
    // Names are paths in the database; refuse anything that is not a plain zone name.
    let plausible = !target.is_empty()
        && target.len() <= 64
        && target
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'));
    if !plausible {
        return Err(ScheduleError::UnknownTimezone(name.to_owned()));
    }
    TimeZone::get(&target).map_err(|_| ScheduleError::UnknownTimezone(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(name: &str) -> String {
        parse_timezone(Some(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .iana_name()
            .unwrap_or_default()
            .to_owned()
    }

    #[test]
    fn offset_aliases_follow_upstream() {
        for zero in [
            "+00:00",
            "-00:00",
            "00:00",
            "0000",
            "GMT +0000",
            "GMT +00:00",
            "GMT -00",
            "GMT +00",
            "GMT -0",
            "GMT +0",
            "GMT+0",
        ] {
            assert_eq!(resolved(zero), "GMT0", "{zero}");
        }
        assert_eq!(resolved("+01:00"), "Etc/GMT-1");
        assert_eq!(resolved("+0100"), "Etc/GMT-1");
        assert_eq!(resolved("GMT +01:00"), "Etc/GMT-1");
        assert_eq!(resolved("GMT +1"), "Etc/GMT-1");
        assert_eq!(resolved("GMT+9"), "Etc/GMT-9");
        assert_eq!(resolved("GMT +12"), "Etc/GMT-12");
        assert_eq!(resolved("GMT +10"), "Etc/GMT-10");
        assert_eq!(resolved("-05:00"), "Etc/GMT+5");
        assert_eq!(resolved("GMT -0500"), "Etc/GMT+5");
        assert_eq!(resolved("GMT -5"), "Etc/GMT+5");
        assert_eq!(resolved("-12:00"), "Etc/GMT+12");
        assert_eq!(resolved("+ 02 : 00"), "Etc/GMT-2");
    }

    #[test]
    fn iana_names_are_case_insensitive_and_links_work() {
        assert_eq!(resolved("Europe/Stockholm"), "Europe/Stockholm");
        assert_eq!(resolved("AMERICA/NEW_YORK"), "America/New_York");
        assert_eq!(resolved("UTC"), "UTC");
        assert_eq!(resolved("utc"), "UTC");
        assert!(parse_timezone(Some("US/Eastern")).is_ok());
        assert!(parse_timezone(Some("GMT0")).is_ok());
        assert_eq!(resolved("Etc/GMT_plus_3"), "Etc/GMT+3");
    }

    #[test]
    fn unknown_names_and_forms_are_errors() {
        for bad in [
            "Mars/Olympus",
            "+1",
            "GMT +13",
            "+13:00",
            "gmt +1",
            "../../etc/passwd",
            "Europe/Stockholm ",
            "\u{0}",
        ] {
            let err = parse_timezone(Some(bad)).unwrap_err();
            assert_eq!(err.to_string(), format!("Unknown timezone: {bad}"));
        }
    }

    #[test]
    fn no_name_is_the_local_zone() {
        assert!(parse_timezone(None).is_ok());
        assert!(parse_timezone(Some("")).is_ok());
    }
}
