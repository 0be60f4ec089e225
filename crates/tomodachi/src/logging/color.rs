//! Colour switches and the ANSI styles of the console format.

use std::io::IsTerminal;

/// Reset all styles.
pub(super) const RESET: &str = "\x1b[0m";
/// Bold / bright.
pub(super) const BRIGHT: &str = "\x1b[1m";
/// Dim (timestamps).
pub(super) const DIM: &str = "\x1b[2m";
/// Red (error / critical levels).
pub(super) const RED: &str = "\x1b[31m";
/// Green (info / debug levels).
pub(super) const GREEN: &str = "\x1b[32m";
/// Yellow (warning level).
pub(super) const YELLOW: &str = "\x1b[33m";
/// Blue (logger names).
pub(super) const BLUE: &str = "\x1b[34m";
/// Magenta (values).
pub(super) const MAGENTA: &str = "\x1b[35m";
/// Cyan (keys).
pub(super) const CYAN: &str = "\x1b[36m";

/// Whether stderr output should be coloured: the environment allows it
/// ([`color_allowed_by`]) and stderr is a terminal, or `CLICOLOR_FORCE` forces it.
///
/// ```
/// let color = tomodachi::logging::color_enabled_from_env();
/// # let _ = color;
/// ```
pub fn color_enabled_from_env() -> bool {
    let lookup = |name: &str| std::env::var(name).ok();
    color_decision(lookup, std::io::stderr().is_terminal())
}

/// The pure colour decision: `lookup` reads an environment variable, `is_terminal` tells
/// whether the destination is a terminal.
///
/// Colours are off when [`color_allowed_by`] says so. Otherwise they are on for a terminal,
/// and for a non-terminal only when `CLICOLOR_FORCE` is set to something other than
/// `0`/`false` (the usual `CLICOLOR_FORCE` convention; upstream never looks at the TTY).
pub fn color_decision<F>(lookup: F, is_terminal: bool) -> bool
where
    F: Fn(&str) -> Option<String>,
{
    if !color_allowed_by(&lookup) {
        return false;
    }
    if is_terminal {
        return true;
    }
    lookup("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty())
}

/// The upstream environment rules alone: colours are disallowed when any of `NO_COLOR`,
/// `NOCOLOR`, `TOMODACHI_NO_COLOR`, `TOMODACHI_NOCOLOR` is `1`/`true`, or any of `CLICOLOR`,
/// `CLI_COLOR`, `CLICOLOR_FORCE` is `0`/`false` (values compared case-insensitively).
///
/// ```
/// use tomodachi::logging::color_allowed_by;
///
/// assert!(!color_allowed_by(|k: &str| (k == "NO_COLOR").then(|| "TRUE".to_string())));
/// assert!(color_allowed_by(|_: &str| None));
/// ```
pub fn color_allowed_by<F>(lookup: F) -> bool
where
    F: Fn(&str) -> Option<String>,
{
    const OFF_WHEN_TRUE: [&str; 4] = [
        "NO_COLOR",
        "NOCOLOR",
        "TOMODACHI_NO_COLOR",
        "TOMODACHI_NOCOLOR",
    ];
    const OFF_WHEN_FALSE: [&str; 3] = ["CLICOLOR", "CLI_COLOR", "CLICOLOR_FORCE"];
    let is = |name: &str, a: &str, b: &str| {
        lookup(name).is_some_and(|v| v.eq_ignore_ascii_case(a) || v.eq_ignore_ascii_case(b))
    };
    !(OFF_WHEN_TRUE.iter().any(|name| is(name, "1", "true"))
        || OFF_WHEN_FALSE.iter().any(|name| is(name, "0", "false")))
}

/// The style of a level name in the console format (structlog's defaults, made bright).
pub(super) fn level_style(level: &str) -> &'static str {
    match level {
        "critical" | "error" | "exception" => RED,
        "warning" | "warn" => YELLOW,
        _ => GREEN,
    }
}
