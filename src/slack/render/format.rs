//! Slack mrkdwn helpers: escaping, mentions, dates and the few phrases every renderer shares.
//!
//! Everything that did not come from this crate (connection names, token ids, error texts
//! from AWS or Microsoft Graph) goes through [`escape`], [`inline`], [`code`] or [`quote`],
//! so a remote error text cannot ping `@channel`, forge a link or break the formatting.
//!
//! Dates: always Slack's date formatting (`<!date^UNIX^{date_short_pretty} at {time}|…>`),
//! which each reader sees in their own time zone, with a plain UTC fallback for clients and
//! notifications that do not format dates.

use crate::rotation::ExpirySource;
use chrono::{DateTime, Duration, Utc};

/// Escapes the three characters Slack treats as markup: `&`, `<`, `>`.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Escaped, on one line: runs of whitespace (line breaks included) become one space.
pub fn inline(text: &str) -> String {
    escape(&text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// `code` formatting for an identifier; a backtick inside would end it, so it becomes `'`.
pub fn code(text: &str) -> String {
    format!("`{}`", inline(&text.replace('`', "'")))
}

/// Longest remote text (an error) quoted in a message: enough to read the cause, short
/// enough that one bad response cannot crowd out the step.
pub const MAX_QUOTED: usize = 1000;

/// A remote text (an error message) as a block quote, escaped and shortened.
pub fn quote(text: &str) -> String {
    let text = super::limits::truncate(text.trim(), MAX_QUOTED);
    let lines: Vec<String> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| format!("> {}", escape(line.trim_end())))
        .collect();
    if lines.is_empty() {
        "> (no details given)".to_owned()
    } else {
        lines.join("\n")
    }
}

/// Keeps the characters a Slack id can have; anything else could break out of `<…>`.
fn slack_id(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-' || *c == '.')
        .collect()
}

/// A user mention, `<@U…>`. The audit log's `system` actor is "the bot".
pub fn user(id: &str) -> String {
    if id == "system" {
        return "the bot".to_owned();
    }
    let id = slack_id(id);
    if id.is_empty() {
        "someone".to_owned()
    } else {
        format!("<@{id}>")
    }
}

/// A user-group mention, `<!subteam^S…>`.
pub fn group(id: &str) -> Option<String> {
    let id = slack_id(id);
    (!id.is_empty()).then(|| format!("<!subteam^{id}>"))
}

/// An optional user: the mention, or "someone" when the record does not say.
pub fn user_or_someone(id: Option<&str>) -> String {
    id.map_or_else(|| "someone".to_owned(), user)
}

/// A moment: "Mar 1, 2027 at 9:00 AM" in the reader's time zone ("today at …" when it is).
pub fn when(at: DateTime<Utc>) -> String {
    format!(
        "<!date^{}^{{date_short_pretty}} at {{time}}|{}>",
        at.timestamp(),
        at.format("%Y-%m-%d %H:%M UTC")
    )
}

/// A day: "Mar 1, 2027" in the reader's time zone ("today" when it is).
pub fn on_day(at: DateTime<Utc>) -> String {
    format!(
        "<!date^{}^{{date_short_pretty}}|{}>",
        at.timestamp(),
        at.format("%Y-%m-%d")
    )
}

/// The same moment without Slack markup, for notification texts.
pub fn plain_day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// "1 day", "3 days".
pub fn count(n: i64, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {plural}")
    }
}

/// Time left before `expires`, or since it passed: "12 days left", "less than a day left",
/// "expired 3 days ago", "expired less than a day ago".
pub fn time_left(expires: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if now >= expires {
        format!("expired {}", ago(expires, now))
    } else {
        match crate::rotation::expiry::days_left(expires, now) {
            0 => "less than a day left".to_owned(),
            days => format!("{} left", count(days, "day", "days")),
        }
    }
}

/// How long ago `then` was, in whole days: "less than a day ago", "3 days ago".
pub fn ago(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    match (now - then).num_days() {
        days if days <= 0 => "less than a day ago".to_owned(),
        days => format!("{} ago", count(days, "day", "days")),
    }
}

/// "in 12 days", "in less than a day" (for headlines).
pub fn in_time(expires: DateTime<Utc>, now: DateTime<Utc>) -> String {
    match crate::rotation::expiry::days_left(expires, now) {
        days if days <= 0 => "in less than a day".to_owned(),
        days => format!("in {}", count(days, "day", "days")),
    }
}

/// A duration for people: "30 minutes", "24 hours", "3 days".
pub fn duration(span: Duration) -> String {
    let minutes = span.num_minutes();
    if minutes < 120 {
        count(minutes.max(0), "minute", "minutes")
    } else if span.num_hours() < 72 {
        count(span.num_hours(), "hour", "hours")
    } else {
        count(span.num_days(), "day", "days")
    }
}

/// Where an expiry date came from, as a person would say it.
pub fn source(source: ExpirySource) -> &'static str {
    match source {
        ExpirySource::Manual => "registered by a person",
        ExpirySource::Cli => "registered with `scim-rotator tokens add`",
        ExpirySource::SlashCommand => "registered in Slack with `/scim register`",
        ExpirySource::Rotation => {
            "learned from the last rotation (one year after the token was entered, or the date \
             the approver chose)"
        }
        ExpirySource::AwsHealth => "reported by an AWS Health notification",
    }
}

/// A link with a label.
pub fn link(url: &str, label: &str) -> String {
    format!(
        "<{}|{}>",
        url.replace(['<', '>', '|', ' '], ""),
        escape(label)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn remote_text_cannot_ping_or_link() {
        let hostile = "<!channel> see <https://evil.example|AWS> & more";
        let escaped = inline(hostile);
        assert!(!escaped.contains('<') && !escaped.contains('>'));
        assert!(quote(hostile).starts_with("> &lt;!channel&gt;"));
        assert_eq!(user("U1> <!here"), "<@U1here>");
    }

    #[test]
    fn dates_carry_a_utc_fallback() {
        let at = Utc.with_ymd_and_hms(2027, 3, 1, 9, 5, 0).unwrap();
        assert_eq!(
            when(at),
            "<!date^1803891900^{date_short_pretty} at {time}|2027-03-01 09:05 UTC>"
        );
        assert_eq!(
            on_day(at),
            "<!date^1803891900^{date_short_pretty}|2027-03-01>"
        );
    }

    #[test]
    fn time_left_reads_naturally() {
        let now = Utc.with_ymd_and_hms(2027, 3, 1, 9, 0, 0).unwrap();
        assert_eq!(time_left(now + Duration::days(12), now), "12 days left");
        assert_eq!(time_left(now + Duration::hours(30), now), "1 day left");
        assert_eq!(
            time_left(now + Duration::hours(3), now),
            "less than a day left"
        );
        assert_eq!(time_left(now, now), "expired less than a day ago");
        assert_eq!(
            time_left(now - Duration::days(3), now),
            "expired 3 days ago"
        );
        assert_eq!(duration(Duration::hours(24)), "24 hours");
        assert_eq!(duration(Duration::days(7)), "7 days");
    }
}
