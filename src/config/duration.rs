//! Durations written the way people say them: `"90s"`, `"30m"`, `"1h"`, `"2d"`, `"1h30m"`.

use std::time::Duration;

/// The units a duration may use, with their length in seconds. Days are the largest because
/// everything this bot times (sweeps, approval windows) is measured against a token that lives
/// a year; weeks and months would only add ambiguity (is a month 30 days?).
const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

/// Longest duration accepted: a year. The token this bot guards lives one year, so a longer
/// interval or timeout is a typo, and refusing it also keeps every later `Instant + Duration`
/// far from overflow.
const MAX_DURATION: Duration = Duration::from_secs(365 * 86_400);

/// How to write a duration, appended to every refusal so the fix is in the message.
const HINT: &str =
    "write a number and a unit (s, m, h, d), as in \"90s\", \"30m\", \"1h\", \"2d\" or \"1h30m\"";

/// Parses `text` as one or more `<number><unit>` parts (spaces between parts are allowed).
/// Zero, garbage and anything over a year are refused with a message that says why and how to
/// write it instead; the caller prefixes it with the key and the value.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(format!("empty: {HINT}"));
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(digits);
        if number.is_empty() {
            return Err(format!("expected a number at '{}': {HINT}", escape(tail)));
        }
        let Some(unit) = tail.chars().next() else {
            return Err(format!("'{number}' has no unit: {HINT}"));
        };
        let Some(&(_, unit_secs)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(format!("unknown unit '{}': {HINT}", escape(tail)));
        };
        total = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(unit_secs))
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(too_long)?;
        rest = tail[unit.len_utf8()..].trim_start();
    }
    let duration = Duration::from_secs(total);
    if duration.is_zero() {
        return Err("must be longer than zero".to_owned());
    }
    if duration > MAX_DURATION {
        return Err(too_long());
    }
    Ok(duration)
}

fn too_long() -> String {
    "longer than a year (365d), the lifetime of the token itself".to_owned()
}

/// The rest of a refused value, short and on one line, to point at where parsing stopped.
fn escape(rest: &str) -> String {
    rest.chars().take(10).flat_map(char::escape_debug).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_units_parse() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(30 * 60)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3_600)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(2 * 86_400)));
    }

    #[test]
    fn combinations_add_up_and_may_be_spaced() {
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(
            parse_duration(" 1d 2h 3m 4s "),
            Ok(Duration::from_secs(93_784))
        );
        assert_eq!(parse_duration("0h90s"), Ok(Duration::from_secs(90)));
    }

    #[test]
    fn zero_is_refused() {
        assert_eq!(
            parse_duration("0s").unwrap_err(),
            "must be longer than zero"
        );
        assert_eq!(
            parse_duration("0d0h").unwrap_err(),
            "must be longer than zero"
        );
    }

    #[test]
    fn garbage_is_refused_with_the_hint() {
        for bad in [
            "", "  ", "h", "90", "1x", "1H", "-5m", "1.5h", "1h30", "30ms", "soon",
        ] {
            let message = parse_duration(bad).unwrap_err();
            assert!(message.ends_with(HINT), "{bad:?} gave {message:?}");
        }
        assert_eq!(
            parse_duration("1x").unwrap_err(),
            format!("unknown unit 'x': {HINT}")
        );
        assert_eq!(
            parse_duration("90").unwrap_err(),
            format!("'90' has no unit: {HINT}")
        );
    }

    #[test]
    fn more_than_a_year_is_refused_without_overflow() {
        assert_eq!(parse_duration("365d"), Ok(MAX_DURATION));
        assert_eq!(parse_duration("366d").unwrap_err(), too_long());
        assert_eq!(
            parse_duration("99999999999999999999s").unwrap_err(),
            too_long()
        );
        assert_eq!(
            parse_duration("999999999999999999d").unwrap_err(),
            too_long()
        );
    }
}
