//! The ephemeral message that hands a lead the one-time web form's link.

use super::format::link;
use chrono::{DateTime, Utc};

/// What the lead who clicked *Enter new token* reads when the web form is on. `modal_too`:
/// the Slack modal opened as well. Plain text with a mrkdwn link: an ephemeral reply.
pub fn web_form_link(url: &str, expires_at: DateTime<Utc>, modal_too: bool) -> String {
    let choice = if modal_too {
        " You can use the Slack window that just opened instead; enter the token in one of the two."
    } else {
        ""
    };
    format!(
        "🔒 Enter the new token in a private web page, outside Slack: {}. The link is only for \
         you, works once, and expires at {} UTC; the page masks the token and the bot never \
         stores it.{choice} A new click on *Enter new token* gives a new link and ends this one.",
        link(url, "open the one-time form"),
        expires_at.format("%H:%M")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_link_message_reads_well_with_and_without_the_modal() {
        let at = Utc.with_ymd_and_hms(2027, 2, 1, 9, 10, 0).unwrap();
        let url = "https://scim-rotator.example.com/intake/0123456789abcdef0123456789abcdef";
        insta::assert_snapshot!(web_form_link(url, at, false), @r#"🔒 Enter the new token in a private web page, outside Slack: <https://scim-rotator.example.com/intake/0123456789abcdef0123456789abcdef|open the one-time form>. The link is only for you, works once, and expires at 09:10 UTC; the page masks the token and the bot never stores it. A new click on *Enter new token* gives a new link and ends this one."#);
        insta::assert_snapshot!(web_form_link(url, at, true), @r#"🔒 Enter the new token in a private web page, outside Slack: <https://scim-rotator.example.com/intake/0123456789abcdef0123456789abcdef|open the one-time form>. The link is only for you, works once, and expires at 09:10 UTC; the page masks the token and the bot never stores it. You can use the Slack window that just opened instead; enter the token in one of the two. A new click on *Enter new token* gives a new link and ends this one."#);
    }
}
