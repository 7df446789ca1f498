//! AWS Health events, as an EventBridge rule forwards them to `POST /aws/health-events`
//! (API destination): reading the envelope, and finding the token's expiry date in the
//! event's description text.
//!
//! AWS raises [`SCIM_TOKEN_EXPIRY_EVENT`] from about 90 days before a SCIM access token
//! expires. The date is only in the free-text description, in a format nobody here has seen
//! confirmed, so [`expiry_in`] accepts the common ones:
//!
//! | written as                          | read as                          |
//! |-------------------------------------|----------------------------------|
//! | `2027-03-14`                        | that day, 00:00 UTC              |
//! | `2027-03-14T10:00:00Z`, `…+02:00`   | that moment                      |
//! | `2027-03-14 10:00 UTC`              | that moment                      |
//! | `2027/03/14`                        | that day                         |
//! | `March 14, 2027`, `Mar 14, 2027`, `Mar. 14th 2027` | that day          |
//! | `14 March 2027`, `14 Mar 2027`, `Sun, 14 Mar 2027 10:00:00 GMT` | that day |
//! | `Fri Jan 22 10:00:00 UTC 2027`, `Jan 22 10:00:00 GMT 2027` | that moment (the shape of AWS's notice) |
//! | `Jan 22 10:00:00 PST 2027`          | ambiguous (a zone other than UTC/GMT): no date |
//! | `03/14/2027`, `14/03/2027`          | that day, **only when unambiguous** (one number above 12) |
//! | `03/04/2027`                        | ambiguous (March 4 or April 3?): no date |
//!
//! AWS's one published notice reads "The SCIM access token used to automatically provision
//! users and groups from your IdP to IAM Identity Center expires in 89 days on xxx xx:xx:xx
//! UTC yyyy." (date masked): the shape of Java's `Date.toString()`, `Mon DD HH:MM:SS UTC YYYY`,
//! perhaps with a leading weekday. Zone abbreviations other than UTC/GMT name no fixed offset
//! (`CST` is three zones), so such a date is reported as ambiguous rather than guessed.
//!
//! A day without a time means 00:00 UTC on that day: the earliest moment the token could
//! expire, so warnings come early rather than late. When the text holds several dates, the
//! first one after the word "expire"/"expiration"/"expiring" wins, else the latest one
//! (announcements tend to mention when they were sent, before the expiry).

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use regex_lite::Regex;
use serde_json::Value;
use std::sync::LazyLock;

/// `detail.eventTypeCode` of the AWS Health event announcing a SCIM token's expiry.
pub const SCIM_TOKEN_EXPIRY_EVENT: &str =
    "AWS_IAMIDENTITYCENTER_SCIM_BEARER_TOKEN_EXPIRY_NOTIFICATION";

/// The parts of an EventBridge AWS Health event the bot uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthEvent {
    /// The EventBridge event id.
    pub id: Option<String>,
    /// The AWS account the event is about (12 digits).
    pub account: Option<String>,
    /// The region the event is about (the IAM Identity Center instance's).
    pub region: Option<String>,
    /// `detail.eventTypeCode`.
    pub event_type_code: String,
    /// `detail.eventArn`.
    pub event_arn: Option<String>,
    /// `detail.eventDescription[].latestDescription`, English ones first.
    pub descriptions: Vec<String>,
}

/// Why a body is not a usable event (the text is the HTTP 400 answer).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("malformed JSON at line {line}, column {column}")]
    NotJson { line: usize, column: usize },
    #[error("not an EventBridge event: {0}")]
    NotAnEvent(&'static str),
}

/// Reads an EventBridge event. Only `detail.eventTypeCode` is required; other fields are
/// checked by the caller for the events it handles.
pub fn parse_event(body: &[u8]) -> Result<HealthEvent, EventError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| EventError::NotJson {
        line: e.line(),
        column: e.column(),
    })?;
    if !value.is_object() {
        return Err(EventError::NotAnEvent("the body is not a JSON object"));
    }
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let detail = value
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or(EventError::NotAnEvent("no detail object"))?;
    let event_type_code = detail
        .get("eventTypeCode")
        .and_then(Value::as_str)
        .ok_or(EventError::NotAnEvent("no detail.eventTypeCode"))?
        .to_owned();
    let mut descriptions: Vec<(bool, String)> = detail
        .get("eventDescription")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|d| {
                    let text = d.get("latestDescription")?.as_str()?.to_owned();
                    let english = d
                        .get("language")
                        .and_then(Value::as_str)
                        .is_none_or(|l| l.to_ascii_lowercase().starts_with("en"));
                    Some((english, text))
                })
                .collect()
        })
        .unwrap_or_default();
    // English first (stable: the order within each group is kept).
    descriptions.sort_by_key(|(english, _)| !english);
    Ok(HealthEvent {
        id: value.get("id").and_then(text),
        account: value.get("account").and_then(text),
        region: value.get("region").and_then(text),
        event_type_code,
        event_arn: detail.get("eventArn").and_then(text),
        descriptions: descriptions.into_iter().map(|(_, text)| text).collect(),
    })
}

/// A configured connection, as an event is matched to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsInstance {
    /// The connection's name.
    pub connection: String,
    /// `aws_account_id`.
    pub account_id: String,
    /// `aws_region`.
    pub region: String,
}

/// The connections an event is about: same account and same region. When the event names
/// no region, or a global one, an account with a single connection still matches (AWS
/// Health's region for this event is unconfirmed; an account has one IAM Identity Center
/// instance).
pub fn matching<'a>(event: &HealthEvent, instances: &'a [AwsInstance]) -> Vec<&'a AwsInstance> {
    let Some(account) = event.account.as_deref() else {
        return Vec::new();
    };
    let in_account: Vec<&AwsInstance> = instances
        .iter()
        .filter(|i| i.account_id == account)
        .collect();
    let region = event.region.as_deref().unwrap_or_default();
    let in_region: Vec<&AwsInstance> = in_account
        .iter()
        .copied()
        .filter(|i| i.region.eq_ignore_ascii_case(region))
        .collect();
    let regionless =
        region.is_empty() || region.eq_ignore_ascii_case("global") || region == "aws-global";
    match (in_region.is_empty(), in_account.as_slice()) {
        (false, _) => in_region,
        (true, [only]) if regionless => vec![*only],
        _ => Vec::new(),
    }
}

/// A date found in a description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundDate {
    /// The moment (00:00 UTC when only a day was written).
    pub at: DateTime<Utc>,
    /// Whether the text gave a time of day (otherwise only the day is meaningful).
    pub has_time: bool,
    /// The text as written, for the audit trail.
    pub text: String,
}

/// What a description says about the expiry date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpiryText {
    Found(FoundDate),
    /// Only a date that reads two ways (`03/04/2027`) was found: it is not used.
    Ambiguous(String),
    /// No date at all.
    NoDate,
}

/// Month names and their usual abbreviations, lowercase.
const MONTHS: [(&str, &str); 12] = [
    ("january", "jan"),
    ("february", "feb"),
    ("march", "mar"),
    ("april", "apr"),
    ("may", "may"),
    ("june", "jun"),
    ("july", "jul"),
    ("august", "aug"),
    ("september", "sep"),
    ("october", "oct"),
    ("november", "nov"),
    ("december", "dec"),
];

fn month_number(word: &str) -> Option<u32> {
    let word = word.to_ascii_lowercase();
    let word = word.trim_end_matches('.');
    MONTHS
        .iter()
        .position(|(full, short)| {
            word == *full || word == *short || (word == "sept" && *short == "sep")
        })
        .map(|index| index as u32 + 1)
}

static ISO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})?)?",
    )
    .expect("a valid pattern")
});
static ISO_SLASH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(\d{4})/(\d{1,2})/(\d{1,2})\b").expect("a valid pattern"));
static MONTH_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z]{3,9}\.?)\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b")
        .expect("a valid pattern")
});
static DAY_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]{3,9}\.?),?\s+(\d{4})\b")
        .expect("a valid pattern")
});
/// `[Fri ]Jan 22 10:00:00 UTC 2027` (Java's `Date.toString()`, as in AWS's notice).
static CLOCK_THEN_YEAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?([a-z]{3,9}\.?)\s+(\d{1,2}),?\s+(\d{1,2}):(\d{2}):(\d{2})\s+([a-z]{1,5})\s+(\d{4})\b",
    )
    .expect("a valid pattern")
});
static SLASH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b").expect("a valid pattern"));
static EXPIRY_WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)expir").expect("a valid pattern"));

/// A date candidate: where it starts in the text, and what it says.
struct Candidate {
    start: usize,
    date: FoundDate,
}

fn number<T: std::str::FromStr>(caps: &regex_lite::Captures<'_>, index: usize) -> Option<T> {
    caps.get(index)?.as_str().parse().ok()
}

fn day(year: i32, month: u32, day: u32) -> Option<DateTime<Utc>> {
    NaiveDate::from_ymd_opt(year, month, day).map(|d| d.and_time(NaiveTime::MIN).and_utc())
}

/// `Z`, `UTC`, `GMT`, `+02:00`, `-0500` → seconds east of UTC.
fn offset_seconds(zone: Option<&str>) -> Option<i32> {
    let Some(zone) = zone else { return Some(0) };
    if ["z", "utc", "gmt"].contains(&zone.to_ascii_lowercase().as_str()) {
        return Some(0);
    }
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let digits: String = zone.chars().filter(char::is_ascii_digit).collect();
    let hours: i32 = digits.get(0..2)?.parse().ok()?;
    let minutes: i32 = digits.get(2..4)?.parse().ok()?;
    Some(sign * (hours * 3600 + minutes * 60))
}

fn iso(caps: &regex_lite::Captures<'_>) -> Option<(DateTime<Utc>, bool)> {
    let date = NaiveDate::from_ymd_opt(number(caps, 1)?, number(caps, 2)?, number(caps, 3)?)?;
    let Some(hour) = number::<u32>(caps, 4) else {
        return Some((date.and_time(NaiveTime::MIN).and_utc(), false));
    };
    let time = NaiveTime::from_hms_opt(hour, number(caps, 5)?, number(caps, 6).unwrap_or(0))?;
    let offset = chrono::FixedOffset::east_opt(offset_seconds(caps.get(7).map(|m| m.as_str()))?)?;
    let local = offset.from_local_datetime(&date.and_time(time)).single()?;
    Some((local.with_timezone(&Utc), true))
}

/// Every date written in `text`, and the ambiguous ones apart.
fn candidates(text: &str) -> (Vec<Candidate>, Vec<String>) {
    let mut found = Vec::new();
    let mut ambiguous = Vec::new();
    let mut push = |start: usize, matched: &str, at: Option<(DateTime<Utc>, bool)>| {
        if let Some((at, has_time)) = at {
            found.push(Candidate {
                start,
                date: FoundDate {
                    at,
                    has_time,
                    text: matched.trim().to_owned(),
                },
            });
        }
    };
    for caps in ISO.captures_iter(text) {
        let whole = caps.get(0).expect("group 0 always matches");
        push(whole.start(), whole.as_str(), iso(&caps));
    }
    for caps in ISO_SLASH.captures_iter(text) {
        let whole = caps.get(0).expect("group 0 always matches");
        let at = (|| day(number(&caps, 1)?, number(&caps, 2)?, number(&caps, 3)?))();
        push(whole.start(), whole.as_str(), at.map(|at| (at, false)));
    }
    for caps in MONTH_FIRST.captures_iter(text) {
        let whole = caps.get(0).expect("group 0 always matches");
        let at = (|| {
            day(
                number(&caps, 3)?,
                month_number(caps.get(1)?.as_str())?,
                number(&caps, 2)?,
            )
        })();
        push(whole.start(), whole.as_str(), at.map(|at| (at, false)));
    }
    for caps in DAY_FIRST.captures_iter(text) {
        let whole = caps.get(0).expect("group 0 always matches");
        let at = (|| {
            day(
                number(&caps, 3)?,
                month_number(caps.get(2)?.as_str())?,
                number(&caps, 1)?,
            )
        })();
        push(whole.start(), whole.as_str(), at.map(|at| (at, false)));
    }
    for caps in CLOCK_THEN_YEAR.captures_iter(text) {
        let whole = caps.get(0).expect("group 0 always matches");
        let zone = caps.get(6).map_or("", |m| m.as_str());
        if !zone.eq_ignore_ascii_case("utc") && !zone.eq_ignore_ascii_case("gmt") {
            if month_number(caps.get(1).map_or("", |m| m.as_str())).is_some() {
                ambiguous.push(whole.as_str().to_owned());
            }
            continue;
        }
        let at = (|| {
            let date = NaiveDate::from_ymd_opt(
                number(&caps, 7)?,
                month_number(caps.get(1)?.as_str())?,
                number(&caps, 2)?,
            )?;
            let time =
                NaiveTime::from_hms_opt(number(&caps, 3)?, number(&caps, 4)?, number(&caps, 5)?)?;
            Some(date.and_time(time).and_utc())
        })();
        push(whole.start(), whole.as_str(), at.map(|at| (at, true)));
    }
    for caps in SLASH.captures_iter(text) {
        let whole = caps.get(0).expect("group 0 always matches");
        let (Some(first), Some(second), Some(year)) = (
            number::<u32>(&caps, 1),
            number::<u32>(&caps, 2),
            number::<i32>(&caps, 3),
        ) else {
            continue;
        };
        let at = match (first > 12, second > 12) {
            // 14/03/2027: day first.
            (true, false) => day(year, second, first),
            // 03/14/2027: month first.
            (false, true) => day(year, first, second),
            // 03/03/2027 reads the same both ways.
            (false, false) if first == second => day(year, first, second),
            (false, false) => {
                ambiguous.push(whole.as_str().to_owned());
                continue;
            }
            (true, true) => None,
        };
        push(whole.start(), whole.as_str(), at.map(|at| (at, false)));
    }
    (found, ambiguous)
}

/// The expiry date written in `text` (see the module's table of formats).
pub fn expiry_in(text: &str) -> ExpiryText {
    let (mut found, ambiguous) = candidates(text);
    found.sort_by_key(|c| c.start);
    let after_word = EXPIRY_WORD.find(text).map(|m| m.start());
    let chosen = after_word
        .and_then(|word| found.iter().find(|c| c.start >= word))
        .or_else(|| found.iter().max_by_key(|c| c.date.at));
    match (chosen, ambiguous.into_iter().next()) {
        (Some(candidate), _) => ExpiryText::Found(candidate.date.clone()),
        (None, Some(text)) => ExpiryText::Ambiguous(text),
        (None, None) => ExpiryText::NoDate,
    }
}

/// The expiry date in the first of `descriptions` that has one; an ambiguous date is
/// reported only when no description has a usable one.
pub fn expiry_in_any(descriptions: &[String]) -> ExpiryText {
    let mut result = ExpiryText::NoDate;
    for text in descriptions {
        match expiry_in(text) {
            found @ ExpiryText::Found(_) => return found,
            ambiguous @ ExpiryText::Ambiguous(_) if result == ExpiryText::NoDate => {
                result = ambiguous;
            }
            _ => {}
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn midnight(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    fn found(text: &str) -> FoundDate {
        match expiry_in(text) {
            ExpiryText::Found(date) => date,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn every_accepted_format_reads_as_the_same_day() {
        let formats = [
            "2027-03-14",
            "2027/03/14",
            "2027/3/14",
            "March 14, 2027",
            "March 14 2027",
            "Mar 14, 2027",
            "Mar. 14, 2027",
            "march 14th, 2027",
            "14 March 2027",
            "14 Mar 2027",
            "14th March, 2027",
            "Sun, 14 Mar 2027 10:00:00 GMT",
            "03/14/2027",
            "3/14/2027",
            "14/03/2027",
        ];
        for format in formats {
            let text =
                format!("Your SCIM access token in IAM Identity Center will expire on {format}.");
            let date = found(&text);
            assert_eq!(
                date.at.date_naive(),
                midnight(2027, 3, 14).date_naive(),
                "{format}"
            );
            // The RFC 2822 form is read by its day-month-year part.
            let matched = format
                .strip_prefix("Sun, ")
                .map_or(format, |rest| &rest[..11]);
            assert_eq!(date.text, matched, "{format}");
        }
    }

    /// AWS's one published notice, with its masked date filled in.
    fn published(date: &str) -> String {
        format!(
            "The SCIM access token used to automatically provision users and groups from your IdP to IAM Identity Center expires in 89 days on {date}."
        )
    }

    #[test]
    fn the_published_notice_is_read_with_and_without_a_weekday_in_utc_or_gmt() {
        let moment = Utc.with_ymd_and_hms(2027, 1, 22, 10, 0, 0).unwrap();
        for date in [
            "Fri Jan 22 10:00:00 UTC 2027",
            "Jan 22 10:00:00 UTC 2027",
            "Fri Jan 22 10:00:00 GMT 2027",
            "Jan 22 10:00:00 GMT 2027",
            "Friday Jan 22 10:00:00 UTC 2027",
            "Jan 22 10:00:00 utc 2027",
        ] {
            let found = found(&published(date));
            assert_eq!(found.at, moment, "{date}");
            assert!(found.has_time, "{date}");
            assert!(date.ends_with(&found.text), "{date}: {}", found.text);
        }
        assert_eq!(
            found(&published("Tue Mar 02 23:59:59 UTC 2027")).at,
            Utc.with_ymd_and_hms(2027, 3, 2, 23, 59, 59).unwrap()
        );
    }

    #[test]
    fn the_published_notice_with_its_mask_or_a_local_zone_gives_no_date() {
        assert_eq!(
            expiry_in(&published("xxx xx:xx:xx UTC yyyy")),
            ExpiryText::NoDate
        );
        assert_eq!(
            expiry_in(&published("Jan 22 10:00:00 PST 2027")),
            ExpiryText::Ambiguous("Jan 22 10:00:00 PST 2027".to_owned())
        );
        assert_eq!(
            expiry_in(&published("Feb 30 10:00:00 UTC 2027")),
            ExpiryText::NoDate,
            "a day that does not exist"
        );
        assert_eq!(
            expiry_in(&published("03/04/2027")),
            ExpiryText::Ambiguous("03/04/2027".to_owned())
        );
    }

    #[test]
    fn a_day_alone_means_midnight_utc_and_a_time_is_kept() {
        assert_eq!(found("expires 2027-03-14").at, midnight(2027, 3, 14));
        assert!(!found("expires 2027-03-14").has_time);
        let timed = found("expires at 2027-03-14T10:30:00Z");
        assert_eq!(
            timed.at,
            Utc.with_ymd_and_hms(2027, 3, 14, 10, 30, 0).unwrap()
        );
        assert!(timed.has_time);
        assert_eq!(
            found("expires at 2027-03-14T10:30:00.123+02:00").at,
            Utc.with_ymd_and_hms(2027, 3, 14, 8, 30, 0).unwrap()
        );
        assert_eq!(
            found("expires at 2027-03-14 10:30 UTC").at,
            Utc.with_ymd_and_hms(2027, 3, 14, 10, 30, 0).unwrap()
        );
        assert_eq!(
            found("expires at 2027-03-14T23:30:00-0500").at,
            Utc.with_ymd_and_hms(2027, 3, 15, 4, 30, 0).unwrap()
        );
    }

    #[test]
    fn a_slash_date_that_reads_two_ways_is_not_used() {
        assert_eq!(
            expiry_in("The token expires on 03/04/2027."),
            ExpiryText::Ambiguous("03/04/2027".to_owned())
        );
        assert_eq!(found("expires 04/04/2027").at, midnight(2027, 4, 4));
        // An unambiguous date elsewhere wins over an ambiguous one.
        assert_eq!(
            found("Sent 03/04/2027. The token expires on April 20, 2027.").at,
            midnight(2027, 4, 20)
        );
    }

    #[test]
    fn impossible_dates_and_non_months_are_not_dates() {
        assert_eq!(expiry_in("expires 2027-02-30"), ExpiryText::NoDate);
        assert_eq!(expiry_in("expires 13/13/2027"), ExpiryText::NoDate);
        assert_eq!(expiry_in("rotate within 14 days 2027"), ExpiryText::NoDate);
        assert_eq!(expiry_in("Marching 14, 2027"), ExpiryText::NoDate);
        assert_eq!(
            expiry_in("Rotate your token before it expires."),
            ExpiryText::NoDate
        );
    }

    #[test]
    fn the_date_after_the_word_expire_wins() {
        let text = "On January 2, 2027 we started sending these notices. Your token expires on \
                    March 14, 2027. Rotate it before April 1, 2027 at the latest.";
        assert_eq!(found(text).at, midnight(2027, 3, 14));
        // Without the word, the latest date.
        assert_eq!(
            found("Notice of January 2, 2027 about March 14, 2027.").at,
            midnight(2027, 3, 14)
        );
    }

    /// The sample description AWS is expected to send (its exact wording is unconfirmed).
    const SAMPLE: &str = r#"{
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "AWS Health Event",
        "source": "aws.health",
        "account": "123456789012",
        "time": "2027-01-13T09:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {
            "eventArn": "arn:aws:health:eu-west-1::event/IAMIDENTITYCENTER/AWS_IAMIDENTITYCENTER_SCIM_BEARER_TOKEN_EXPIRY_NOTIFICATION/AWS_IAMIDENTITYCENTER_SCIM_BEARER_TOKEN_EXPIRY_NOTIFICATION_abc",
            "service": "IAMIDENTITYCENTER",
            "eventTypeCode": "AWS_IAMIDENTITYCENTER_SCIM_BEARER_TOKEN_EXPIRY_NOTIFICATION",
            "eventTypeCategory": "accountNotification",
            "startTime": "Wed, 13 Jan 2027 09:00:00 GMT",
            "eventDescription": [
                {"language": "fr_FR", "latestDescription": "Votre jeton expire le 14/03/2027."},
                {"language": "en_US", "latestDescription": "Your SCIM access token for AWS IAM Identity Center instance ssoins-123 expires on March 14, 2027. Generate a new token before then."}
            ]
        }
    }"#;

    #[test]
    fn an_eventbridge_event_is_read_with_english_descriptions_first() {
        let event = parse_event(SAMPLE.as_bytes()).unwrap();
        assert_eq!(event.event_type_code, SCIM_TOKEN_EXPIRY_EVENT);
        assert_eq!(event.account.as_deref(), Some("123456789012"));
        assert_eq!(event.region.as_deref(), Some("eu-west-1"));
        assert!(event.descriptions[0].starts_with("Your SCIM access token"));
        let ExpiryText::Found(date) = expiry_in_any(&event.descriptions) else {
            panic!()
        };
        assert_eq!(date.at, midnight(2027, 3, 14));
        assert_eq!(date.text, "March 14, 2027");
    }

    #[test]
    fn events_match_by_account_and_region() {
        let instance = |connection: &str, account_id: &str, region: &str| AwsInstance {
            connection: connection.to_owned(),
            account_id: account_id.to_owned(),
            region: region.to_owned(),
        };
        let instances = [
            instance("prod", "123456789012", "eu-west-1"),
            instance("us", "123456789012", "us-east-1"),
            instance("other", "210987654321", "eu-west-1"),
        ];
        let names = |account: Option<&str>, region: Option<&str>| {
            let mut event = parse_event(SAMPLE.as_bytes()).unwrap();
            event.account = account.map(str::to_owned);
            event.region = region.map(str::to_owned);
            matching(&event, &instances)
                .into_iter()
                .map(|i| i.connection.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(Some("123456789012"), Some("eu-west-1")), ["prod"]);
        assert_eq!(names(Some("123456789012"), Some("us-east-1")), ["us"]);
        assert!(names(Some("123456789012"), Some("ap-south-1")).is_empty());
        assert!(
            names(Some("123456789012"), None).is_empty(),
            "two instances: cannot tell"
        );
        assert_eq!(names(Some("210987654321"), Some("global")), ["other"]);
        assert!(names(Some("999999999999"), Some("eu-west-1")).is_empty());
        assert!(names(None, Some("eu-west-1")).is_empty());
    }

    #[test]
    fn bodies_that_are_not_events_are_refused_with_a_reason() {
        assert_eq!(
            parse_event(b"{\"detail\": "),
            Err(EventError::NotJson {
                line: 1,
                column: 11
            })
        );
        assert_eq!(
            parse_event(b"[1]"),
            Err(EventError::NotAnEvent("the body is not a JSON object"))
        );
        assert_eq!(
            parse_event(br#"{"detail": {}}"#),
            Err(EventError::NotAnEvent("no detail.eventTypeCode"))
        );
        assert_eq!(
            parse_event(br#"{"account": "1"}"#),
            Err(EventError::NotAnEvent("no detail object"))
        );
        assert_eq!(
            EventError::NotJson { line: 1, column: 2 }.to_string(),
            "malformed JSON at line 1, column 2"
        );
    }
}
