//! `timestamp=` values, parsed like upstream's `datetime.strptime` with its four formats.

/// A parsed timestamp: the date (when given) and the time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) date: Option<(i32, u8, u8)>,
    pub(crate) hour: u8,
    pub(crate) minute: u8,
    /// `None` for the `HH:MM` forms.
    pub(crate) second: Option<u8>,
}

/// A regex element of `_strptime`'s patterns.
#[derive(Clone, Copy)]
enum Tok {
    /// A capture: alternatives tried in order, each a sequence of allowed-character sets.
    Field(char, &'static [&'static [&'static str]]),
    /// A literal character.
    Lit(char),
    /// A space in the format: `\s+`.
    Space,
}

const D: &str = "0123456789";
const NZ: &str = "123456789";
const YEAR: &[&[&str]] = &[&[D, D, D, D]];
const MONTH: &[&[&str]] = &[&["1", "012"], &["0", NZ], &[NZ]];
const DAY: &[&[&str]] = &[&["3", "01"], &["12", D], &["0", NZ], &[NZ], &[" ", NZ]];
const HOUR: &[&[&str]] = &[&["2", "0123"], &["01", D], &[D]];
const MINUTE: &[&[&str]] = &[&["012345", D], &[D]];
const SECOND: &[&[&str]] = &[&["6", "01"], &["012345", D], &[D]];

const DATE: [Tok; 6] = [
    Tok::Field('Y', YEAR),
    Tok::Lit('-'),
    Tok::Field('m', MONTH),
    Tok::Lit('-'),
    Tok::Field('d', DAY),
    Tok::Space,
];

/// `re.match` semantics: the first path through the pattern in priority order (greedy `\s+`,
/// alternatives left to right) wins; the caller then requires the whole input be consumed.
fn first_match(
    toks: &[Tok],
    input: &[char],
    pos: usize,
    caps: &mut Vec<(char, String)>,
) -> Option<usize> {
    let Some((tok, rest)) = toks.split_first() else {
        return Some(pos);
    };
    match *tok {
        Tok::Lit(c) => {
            if input.get(pos) == Some(&c) {
                first_match(rest, input, pos + 1, caps)
            } else {
                None
            }
        }
        Tok::Space => {
            let mut end = pos;
            while input.get(end).is_some_and(|c| c.is_whitespace()) {
                end += 1;
            }
            (pos + 1..=end)
                .rev()
                .find_map(|e| first_match(rest, input, e, caps))
        }
        Tok::Field(name, alternatives) => {
            for alt in alternatives {
                let ok = alt
                    .iter()
                    .enumerate()
                    .all(|(i, set)| input.get(pos + i).is_some_and(|c| set.contains(*c)));
                if !ok {
                    continue;
                }
                let text: String = input[pos..pos + alt.len()].iter().collect();
                caps.push((name, text));
                if let Some(end) = first_match(rest, input, pos + alt.len(), caps) {
                    return Some(end);
                }
                caps.pop();
            }
            None
        }
    }
}

fn strptime(input: &[char], toks: &[Tok]) -> Option<Vec<(char, String)>> {
    let mut caps = Vec::new();
    let end = first_match(toks, input, 0, &mut caps)?;
    (end == input.len()).then_some(caps)
}

/// Parses `YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DD HH:MM`, `HH:MM:SS` or `HH:MM` (tried in this
/// order, as upstream); `None` when none fits or the date does not exist.
pub(crate) fn parse(timestamp: &str) -> Option<Stamp> {
    let input: Vec<char> = timestamp.chars().collect();
    let time_hms = [
        Tok::Field('H', HOUR),
        Tok::Lit(':'),
        Tok::Field('M', MINUTE),
        Tok::Lit(':'),
        Tok::Field('S', SECOND),
    ];
    let formats: [(bool, &[Tok]); 4] = [
        (true, &[&DATE[..], &time_hms[..]].concat()),
        (true, &[&DATE[..], &time_hms[..3]].concat()),
        (false, &time_hms),
        (false, &time_hms[..3]),
    ];
    formats.iter().find_map(|(has_date, toks)| {
        let caps = strptime(&input, toks)?;
        let get = |n: char| -> Option<u32> {
            let text = &caps.iter().find(|(name, _)| *name == n)?.1;
            text.trim().parse().ok()
        };
        let date = if *has_date {
            let (y, m, d) = (get('Y')? as i32, get('m')? as u8, get('d')? as u8);
            if y < 1 || d > crate::cron::days_in_month(y, m) {
                return None;
            }
            Some((y, m, d))
        } else {
            None
        };
        let second = match get('S') {
            Some(s) if s >= 60 => return None,
            s => s.map(|s| s as u8),
        };
        Some(Stamp {
            date,
            hour: get('H')? as u8,
            minute: get('M')? as u8,
            second,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hms(h: u8, m: u8, s: Option<u8>) -> Stamp {
        Stamp {
            date: None,
            hour: h,
            minute: m,
            second: s,
        }
    }

    #[test]
    fn the_four_formats_in_upstream_order() {
        assert_eq!(parse("22:00"), Some(hms(22, 0, None)));
        assert_eq!(parse("10:16:55"), Some(hms(10, 16, Some(55))));
        assert_eq!(parse("1:2:3"), Some(hms(1, 2, Some(3))));
        assert_eq!(
            parse("2017-06-15 10:20"),
            Some(Stamp {
                date: Some((2017, 6, 15)),
                ..hms(10, 20, None)
            })
        );
        assert_eq!(
            parse("2017-06-15 10:16:55"),
            Some(Stamp {
                date: Some((2017, 6, 15)),
                ..hms(10, 16, Some(55))
            })
        );
        // `%d` accepts a space-padded day and the format's space matches any whitespace run
        assert_eq!(
            parse("2020-02- 9\t 00:00"),
            Some(Stamp {
                date: Some((2020, 2, 9)),
                ..hms(0, 0, None)
            })
        );
        assert_eq!(
            parse("2020-02-29 00:00").and_then(|s| s.date),
            Some((2020, 2, 29))
        );
    }

    #[test]
    fn what_strptime_refuses() {
        for bad in [
            "",
            "24:00",
            "10:60",
            "10:16:60",
            "10:16:61",
            "10",
            "10:",
            ":10",
            "10:00 ",
            " 10:00",
            "10.00",
            "2019-02-29 00:00",
            "2017-13-01 00:00",
            "0000-01-01 00:00",
            "2017-06-15",
            "2017-06-1510:00",
            "17-06-15 10:00",
            "10:00:00:00",
            "٣:00",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
