//! The two modals: entering a new token (private to the approver who clicked) and
//! registering the token a connection uses today.
//!
//! The token modal never carries the token: no initial value, and `private_metadata` holds
//! only the rotation id. Block Kit has no masked input, so the hint says plainly what
//! happens to the value.

use super::ConnectionInfo;
use super::format::inline;
use super::kit::{context, input, placeholder, plain, section};
use super::limits::{MAX_MODAL_TEXT, MAX_PRIVATE_METADATA, truncate};
use crate::rotation::Rotation;
use crate::secret::{MAX_TOKEN_LEN, MIN_TOKEN_LEN};
use crate::slack::ids;
use chrono::NaiveDate;
use slack_morphism::prelude::*;

/// Longest token id accepted: AWS shows a UUID (36 characters); anything much longer is a
/// paste of the token itself into the wrong field.
const MAX_TOKEN_ID_LEN: u64 = 128;

fn modal(
    title: &str,
    submit: &str,
    callback_id: &str,
    private_metadata: &str,
    blocks: Vec<SlackBlock>,
) -> SlackView {
    SlackView::Modal(
        SlackModalView::new(plain(title, MAX_MODAL_TEXT), blocks)
            .with_submit(plain(submit, MAX_MODAL_TEXT))
            .with_close(plain("Cancel", MAX_MODAL_TEXT))
            .with_callback_id(SlackCallbackId(callback_id.to_owned()))
            .with_private_metadata(truncate(private_metadata, MAX_PRIVATE_METADATA)),
    )
}

fn text_input(placeholder_text: &str, min: Option<u64>, max: u64) -> SlackInputBlockElement {
    let mut element = SlackBlockPlainTextInputElement::new()
        .with_action_id(SlackActionId(ids::VALUE.to_owned()))
        .with_placeholder(placeholder(placeholder_text))
        .with_multiline(false)
        .with_max_length(max);
    if let Some(min) = min {
        element = element.with_min_length(min);
    }
    element.into()
}

fn date_input(initial: NaiveDate) -> SlackInputBlockElement {
    SlackBlockDatePickerElement::new()
        .with_action_id(SlackActionId(ids::VALUE.to_owned()))
        .with_initial_date(initial.format("%Y-%m-%d").to_string())
        .with_placeholder(placeholder("Pick a date"))
        .into()
}

/// The modal an approver pastes the new token into (opened by *Enter new token*).
/// Callback [`ids::SUBMIT_TOKEN`], `private_metadata` = the rotation id; inputs
/// [`ids::TOKEN_BLOCK`] (required), [`ids::TOKEN_ID_BLOCK`] (optional) and
/// [`ids::EXPIRES_BLOCK`] (a date, `default_expiry` to start with).
pub fn token_modal(r: &Rotation, conn: &ConnectionInfo, default_expiry: NaiveDate) -> SlackView {
    let blocks = vec![
        section(&format!(
            "Rotation #{} of *{}*. Paste the access token you just generated in IAM Identity \
             Center ({}).",
            r.id,
            inline(conn.name),
            inline(conn.aws_region)
        )),
        input(
            ids::TOKEN_BLOCK,
            "New access token",
            text_input(
                "Paste the token from the AWS console",
                Some(MIN_TOKEN_LEN as u64),
                MAX_TOKEN_LEN as u64,
            ),
            Some(
                "Checked against AWS, then tested and saved in Entra, which keeps it. This bot holds it only in memory during the checks and never shows it.",
            ),
            false,
        ),
        input(
            ids::TOKEN_ID_BLOCK,
            // Slack adds "(optional)" to the label of an optional input.
            "Token id",
            text_input(
                "The id AWS shows next to the new token",
                None,
                MAX_TOKEN_ID_LEN,
            ),
            Some("Lets the audit trail and the next rotation name this token."),
            true,
        ),
        input(
            ids::EXPIRES_BLOCK,
            "Expires on",
            date_input(default_expiry),
            Some("AWS tokens last one year. Change it only if the console shows another date."),
            false,
        ),
        context(
            "Only you see this window. Submitting starts the checks; their progress shows in \
             the rotation's thread.",
        ),
    ];
    modal(
        "New SCIM token",
        "Check and save",
        ids::SUBMIT_TOKEN,
        &r.id.to_string(),
        blocks,
    )
}

/// The modal `/scim register <connection>` opens: which token the connection uses and when
/// it was created, so the bot can warn before it expires. Callback [`ids::REGISTER_TOKEN`],
/// `private_metadata` = the connection name and the channel to answer in, separated by a
/// space (both are single words); inputs [`ids::TOKEN_ID_BLOCK`] (required) and
/// [`ids::CREATED_BLOCK`] (a date, `today` to start with).
pub fn register_modal(conn_name: &str, reply_channel: &str, today: NaiveDate) -> SlackView {
    let blocks = vec![
        section(&format!(
            "Tell me which access token Entra uses for *{}*, so I can warn before it expires. \
             Find it in IAM Identity Center → *Settings* → *Identity source* → *Actions* → \
             *Manage provisioning* → *Access tokens*.",
            inline(conn_name)
        )),
        input(
            ids::TOKEN_ID_BLOCK,
            "Token id",
            text_input("The id the AWS console shows", Some(1), MAX_TOKEN_ID_LEN),
            Some("Only the id, never the token itself."),
            false,
        ),
        input(
            ids::CREATED_BLOCK,
            "Created on",
            date_input(today),
            Some("The token expires one year after this date: that is AWS's rule."),
            false,
        ),
    ];
    modal(
        "Register SCIM token",
        "Register",
        ids::REGISTER_TOKEN,
        &format!("{conn_name} {reply_channel}"),
        blocks,
    )
}
