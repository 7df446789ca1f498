//! The rotation thread: one message per step, each re-rendered from the current
//! [`Rotation`] so that it is updated in place as the rotation moves on. While a step waits
//! for someone it shows its instructions and buttons; once done, one line says who did it
//! and when, and the buttons are gone.
//!
//! Steps: approval → step 1 (generate and enter the new token) → checks → step 2 (delete
//! the old token) → summary.

use super::format::{
    code, duration, escape, inline, link, on_day, quote, time_left, user, user_or_someone, when,
};
use super::kit::{Style, actions, button, confirm, context, fields, section};
use super::{Approvers, ConnectionInfo, Message};
use crate::rotation::{Rotation, RotationState, TokenRecord};
use crate::slack::ids;
use chrono::{DateTime, Utc};

/// "Rotation #7 of the SCIM token for prod" (callers make it bold).
fn title(r: &Rotation) -> String {
    format!(
        "Rotation #{} of the SCIM token for {}",
        r.id,
        inline(&r.connection)
    )
}

/// The old token as people should recognise it.
fn old_token(r: &Rotation, old: Option<&TokenRecord>) -> Option<String> {
    let id = r
        .old_token_id
        .as_deref()
        .or_else(|| old.and_then(|t| t.token_id.as_deref()))?;
    let created = old
        .filter(|t| t.token_id.as_deref() == Some(id))
        .and_then(|t| t.created_at);
    Some(match created {
        Some(created) => format!("{} (created {})", code(id), on_day(created)),
        None => code(id),
    })
}

/// How the new token is named: its id, or how to find it.
fn new_token(r: &Rotation) -> String {
    match (&r.new_token_id, r.new_token_created) {
        (Some(id), _) => code(id),
        (None, Some(created)) => format!("the newest token (created {})", when(created)),
        (None, None) => "the new token".to_owned(),
    }
}

fn fingerprint(r: &Rotation) -> String {
    r.new_token_fingerprint
        .as_deref()
        .map_or_else(|| "unknown".to_owned(), code)
}

fn id_value(r: &Rotation) -> String {
    r.id.to_string()
}

/// Who may approve, as one sentence.
fn who_can_approve(r: &Rotation, approvers: &Approvers) -> String {
    let mut names: Vec<String> = approvers.users.iter().map(|id| user(id)).collect();
    let groups: Vec<String> = approvers
        .groups
        .iter()
        .filter_map(|id| super::format::group(id))
        .map(|g| format!("anyone in {g}"))
        .collect();
    names.extend(groups);
    let mut sentence = match names.len() {
        0 => "Any team lead (a configured approver) can approve.".to_owned(),
        1 => format!("Who can approve: {}.", names[0]),
        n => format!(
            "Who can approve: {} or {}.",
            names[..n - 1].join(", "),
            names[n - 1]
        ),
    };
    if !approvers.allow_self_approval {
        sentence.push_str(&format!(
            " {} requested it, so someone else has to approve.",
            user(&r.requested_by)
        ));
    }
    sentence
}

/// The first message of the rotation thread: the request, and its approval (or rejection,
/// cancellation, expiry). `approvers` says whom a pending request waits for.
pub fn approval_step(
    r: &Rotation,
    conn: &ConnectionInfo,
    approvers: &Approvers,
    now: DateTime<Utc>,
) -> Message {
    let _ = now; // Everything shown is dated from the record itself.
    let name = inline(conn.name);
    let replaces = match &r.old_token_id {
        Some(id) => format!(" It replaces token {}.", code(id)),
        None => String::new(),
    };
    let request = format!(
        "🔐 *{}*\n{} requested it {}.{replaces}",
        title(r),
        user(&r.requested_by),
        when(r.created_at)
    );
    let requester = user(&r.requested_by);
    let start_again = format!(
        "To try again, press *Start rotation* on the warning or run `/scim rotate {name}`."
    );
    match r.state {
        RotationState::AwaitingApproval => {
            let id = id_value(r);
            Message::new(
                format!(
                    "{requester} requested a rotation of the SCIM token for {}: waiting for a team lead to approve.",
                    escape(conn.name)
                ),
                vec![
                    section(&request),
                    section(&format!(
                        "*Waiting for a team lead to approve.* {}",
                        who_can_approve(r, approvers)
                    )),
                    actions(vec![
                        button("Approve", ids::APPROVE, &id, Style::Primary),
                        button("Reject", ids::REJECT, &id, Style::Danger),
                        button("Cancel", ids::CANCEL, &id, Style::Plain),
                    ]),
                    context(&format!(
                        "If nobody approves by {}, the request expires. {requester} or a team lead can cancel it.",
                        when(r.approval_deadline)
                    )),
                ],
            )
        }
        RotationState::Rejected => Message::new(
            format!(
                "The rotation of the SCIM token for {} was rejected.",
                escape(conn.name)
            ),
            vec![
                section(&format!(
                    "{request}\n✗ *Rejected* by {} {}. The token was not changed.",
                    user_or_someone(r.driven_by.as_deref()),
                    when(r.updated_at)
                )),
                context(&start_again),
            ],
        ),
        RotationState::Cancelled if r.approved_by.is_none() => Message::new(
            format!(
                "The rotation of the SCIM token for {} was cancelled.",
                escape(conn.name)
            ),
            vec![
                section(&format!(
                    "{request}\n✗ *Cancelled* by {} {} before approval. The token was not changed.",
                    user_or_someone(r.driven_by.as_deref()),
                    when(r.updated_at)
                )),
                context(&start_again),
            ],
        ),
        RotationState::Expired => Message::new(
            format!(
                "The rotation of the SCIM token for {} expired: nobody approved it.",
                escape(conn.name)
            ),
            vec![
                section(&format!(
                    "{request}\n⌛ *Expired:* nobody approved within {} (by {}). The token was not changed.",
                    duration(r.approval_deadline - r.created_at),
                    when(r.approval_deadline)
                )),
                context(&start_again),
            ],
        ),
        _ => {
            let mut blocks = vec![section(&format!(
                "{request}\n✓ *Approved* by {}.",
                user_or_someone(r.approved_by.as_deref())
            ))];
            if !r.state.is_terminal() {
                blocks.push(context("Any team lead can drive the next steps below."));
            }
            Message::new(
                format!(
                    "The rotation of the SCIM token for {} was approved by {}.",
                    escape(conn.name),
                    user_or_someone(r.approved_by.as_deref())
                ),
                blocks,
            )
        }
    }
}

/// Step 1: generate a new token in the AWS console and enter it in the modal. `old` is the
/// connection's current token record (for its creation date), when known.
pub fn new_token_step(
    r: &Rotation,
    conn: &ConnectionInfo,
    old: Option<&TokenRecord>,
    now: DateTime<Utc>,
) -> Message {
    let _ = now; // Everything shown is dated from the record itself.
    const STEP: &str = "Step 1 of 2 · Generate a new access token in IAM Identity Center";
    let name = escape(conn.name);
    match r.state {
        RotationState::AwaitingNewToken => {
            let old = old_token(r, old);
            let console = link(
                &conn.console_url(),
                &format!("IAM Identity Center ({})", conn.aws_region),
            );
            let keep = match &old {
                Some(old) => format!(
                    "2. Under *Access tokens*, find the current token {old} and *keep it for now*: \
                     Entra uses it until the new token is saved."
                ),
                None => "2. Under *Access tokens*, leave the token in use alone for now: Entra \
                         uses it until the new token is saved."
                    .to_owned(),
            };
            let never = match &old {
                Some(old) => format!("never the current one, {old}"),
                None => "never the one Entra uses now".to_owned(),
            };
            let mut blocks = Vec::new();
            if let Some(error) = &r.last_error {
                blocks.push(section(&format!(
                    "⚠️ *That did not work — please enter the token again.*\n{}\nIf AWS or \
                     Entra says the token is not valid, generate a new one as below; otherwise \
                     enter the same token again.",
                    quote(error)
                )));
            }
            blocks.push(section(&format!(
                "*{STEP}*\n\
                 1. Open {console} and go to *Settings* → *Identity source* → *Actions* → \
                 *Manage provisioning*.\n\
                 {keep}\n\
                 3. Press *Generate token* and copy the new token: AWS shows it only once. Note \
                 its id too.\n\
                 4. Press *Enter new token* below and paste it. Only you see that window, and \
                 the token is never stored or shown again."
            )));
            blocks.push(section(&format!(
                "⚠️ AWS allows two tokens at a time: if two exist, delete the one that is not in \
                 use — {never}."
            )));
            let id = id_value(r);
            blocks.push(actions(vec![
                button("Enter new token", ids::ENTER_TOKEN, &id, Style::Primary),
                button("Cancel rotation", ids::CANCEL, &id, Style::Plain),
            ]));
            blocks.push(context(&format!(
                "Approved by {}. Any team lead can do this step.",
                user_or_someone(r.approved_by.as_deref())
            )));
            let text = if r.last_error.is_some() {
                format!("The new SCIM token for {name} was not accepted: please enter it again.")
            } else {
                format!(
                    "Step 1: generate a new SCIM token for {name} in IAM Identity Center and enter it."
                )
            };
            Message::new(text, blocks)
        }
        _ if r.token_entered_by.is_some() => {
            let token_id = match &r.new_token_id {
                Some(id) => format!(", token id {}", code(id)),
                None => String::new(),
            };
            let at = r
                .new_token_created
                .map(|at| format!(" {}", when(at)))
                .unwrap_or_default();
            Message::new(
                format!("New SCIM token for {name} entered."),
                vec![section(&format!(
                    "✓ *Step 1 of 2 · New token entered* by {}{at} (fingerprint {}{token_id}).",
                    user_or_someone(r.token_entered_by.as_deref()),
                    fingerprint(r)
                ))],
            )
        }
        RotationState::Cancelled if r.approved_by.is_some() => Message::new(
            format!("The rotation of the SCIM token for {name} was cancelled."),
            vec![section(&format!(
                "✗ *Step 1 of 2 · Cancelled* by {} {} before a new token was entered. If you \
                 already generated a token in AWS, delete it there: nothing uses it.",
                user_or_someone(r.driven_by.as_deref()),
                when(r.updated_at)
            ))],
        ),
        RotationState::AwaitingApproval => Message::new(
            format!("Step 1 for {name} starts once a team lead approves the rotation."),
            vec![section(&format!(
                "*{STEP}* — starts once a team lead approves the rotation."
            ))],
        ),
        state => Message::new(
            format!("Step 1 for {name} was not started."),
            vec![section(&format!(
                "*{STEP}* — not started: the rotation is {}.",
                state.describe()
            ))],
        ),
    }
}

/// The checks on the entered token, in order, with the words for "done" and "to do".
const CHECKS: [(&str, &str); 4] = [
    ("AWS accepted the token", "Checking the token with AWS"),
    ("Entra Test Connection passed", "Entra Test Connection"),
    ("Saved in Entra", "Saving it in Entra"),
    (
        "Saved credentials verified",
        "Verifying the saved credentials",
    ),
];

fn check_flags(r: &Rotation) -> [bool; 4] {
    [
        r.checks.aws_ok,
        r.checks.entra_test_ok,
        r.checks.saved,
        r.checks.verified,
    ]
}

/// The check lines: ✓ done; for the rest, `pending` marks the first not-done check (⏳ while
/// running, ✗ when it failed) and "–" the ones after it.
fn check_lines(r: &Rotation, first_pending: &str, rest: &str) -> Vec<String> {
    let flags = check_flags(r);
    let mut lines = Vec::new();
    let mut seen_pending = false;
    for ((done, todo), ok) in CHECKS.iter().zip(flags) {
        if ok {
            lines.push(format!("✓ {done}"));
        } else if !seen_pending {
            seen_pending = true;
            lines.push(format!("{first_pending} {todo}"));
        } else {
            lines.push(format!("{rest} {todo}"));
        }
    }
    if r.checks.resumed {
        lines
            .push("✓ Provisioning resumed: Entra's job had stopped, and I restarted it".to_owned());
    }
    lines
}

fn passed_lines(r: &Rotation) -> Vec<String> {
    CHECKS
        .iter()
        .zip(check_flags(r))
        .filter(|(_, ok)| *ok)
        .map(|((done, _), _)| format!("✓ {done}"))
        .collect()
}

/// The checks on the entered token: AWS, Entra's Test Connection, saving, verifying the
/// saved credentials (and restarting a stopped job). Shows progress while they run, what
/// failed and what to do when one fails, and Retry/Cancel when a person must step in.
pub fn checks_step(r: &Rotation, now: DateTime<Utc>) -> Message {
    let _ = now; // Everything shown is dated from the record itself.
    let name = escape(&r.connection);
    let id = id_value(r);
    match r.state {
        RotationState::Checking | RotationState::Saving | RotationState::Verifying => {
            let lines = check_lines(r, "⏳", "⏳");
            Message::new(
                format!("Checking the new SCIM token for {name}…"),
                vec![section(&format!(
                    "⏳ *Checking the new token* (fingerprint {}). This message updates \
                         itself as each check completes.\n{}",
                    fingerprint(r),
                    lines.join("\n")
                ))],
            )
        }
        RotationState::AwaitingOldTokenDeletion | RotationState::Completed => {
            let lines = check_lines(r, "✓", "✓");
            Message::new(
                format!("The new SCIM token for {name} works and is saved in Entra."),
                vec![section(&format!(
                    "✓ *The new token works* (fingerprint {}): AWS accepted it and Entra uses it \
                     now.\n{}",
                    fingerprint(r),
                    lines.join("\n")
                ))],
            )
        }
        RotationState::NeedsAttention => {
            let all_passed = check_flags(r).iter().all(|ok| *ok);
            let explanation = if all_passed {
                "after the old token's deletion was confirmed, the saved credentials stopped \
                 working. Was the new token deleted instead of the old one? Provisioning into AWS \
                 fails until a working token is saved."
            } else if !r.checks.saved {
                "saving the new token in Entra failed. Entra should still have the old token, \
                 which works until it expires or is deleted: do not delete it."
            } else {
                "the new token was saved in Entra, but testing the saved credentials failed. \
                 Provisioning into AWS may be failing now."
            };
            let mut lines = check_lines(r, "✗", "–");
            if all_passed {
                lines.push("✗ Re-test after the old token's deletion".to_owned());
            }
            let error = r
                .last_error
                .as_deref()
                .map(|e| format!("\n{}", quote(e)))
                .unwrap_or_default();
            Message::new(
                format!("The rotation of the SCIM token for {name} needs attention."),
                vec![
                    section(&format!(
                        "🚨 *Needs attention:* {explanation}\n{}{error}",
                        lines.join("\n")
                    )),
                    section(
                        "*What now:* press *Retry with a new token* to enter a token again — \
                         generate a fresh one in IAM Identity Center if the one you entered was \
                         deleted or is not accepted. Or cancel the rotation.",
                    ),
                    actions(vec![
                        button("Retry with a new token", ids::RETRY, &id, Style::Primary),
                        button("Cancel rotation", ids::CANCEL, &id, Style::Plain),
                    ]),
                    context("Any team lead can do this."),
                ],
            )
        }
        RotationState::AwaitingNewToken if r.new_token_fingerprint.is_some() => {
            let mut lines = vec![match &r.last_error {
                Some(error) => format!(
                    "✗ *The checks stopped* (fingerprint {}):\n{}",
                    fingerprint(r),
                    quote(error)
                ),
                None => "*Waiting for the token to be entered again.*".to_owned(),
            }];
            lines.extend(passed_lines(r));
            lines.push(
                "*What now:* enter the token again with *Enter new token* in step 1 above."
                    .to_owned(),
            );
            Message::new(
                format!(
                    "The checks of the new SCIM token for {name} stopped: enter the token again."
                ),
                vec![section(&lines.join("\n"))],
            )
        }
        RotationState::Cancelled if r.new_token_fingerprint.is_some() => {
            let mut lines = passed_lines(r);
            if let Some(error) = &r.last_error {
                lines.push(format!("✗ Last problem:\n{}", quote(error)));
            }
            let mut text = format!(
                "✗ *Rotation cancelled* by {} {}.",
                user_or_someone(r.driven_by.as_deref()),
                when(r.updated_at)
            );
            if !lines.is_empty() {
                text.push('\n');
                text.push_str(&lines.join("\n"));
            }
            Message::new(
                format!("The rotation of the SCIM token for {name} was cancelled."),
                vec![section(&text)],
            )
        }
        _ => Message::new(
            format!("The checks for {name} start once a new token is entered."),
            vec![section(
                "*Checks* — they start once a new token is entered.",
            )],
        ),
    }
}

/// Step 2: delete the old token in the AWS console and confirm it (with a confirm dialog
/// naming the token to delete).
pub fn delete_old_step(r: &Rotation, conn: &ConnectionInfo, now: DateTime<Utc>) -> Message {
    let _ = now; // Everything shown is dated from the record itself.
    const STEP: &str = "Step 2 of 2 · Delete the old token in IAM Identity Center";
    let name = escape(conn.name);
    let old = r.old_token_id.as_deref().map(code);
    match r.state {
        RotationState::AwaitingOldTokenDeletion => {
            let console = link(
                &conn.console_url(),
                &format!("IAM Identity Center ({})", conn.aws_region),
            );
            let new = new_token(r);
            let (heading, which) = match &old {
                Some(old) => (
                    format!("*Step 2 of 2 · Delete the old token {old} in IAM Identity Center*"),
                    format!("2. Delete {old} — *not* {new}, the token you just entered."),
                ),
                None => (
                    format!("*{STEP}*"),
                    format!(
                        "2. Delete the older token (its id was not recorded) — *not* {new}, the \
                         token you just entered."
                    ),
                ),
            };
            let confirm_title = match &r.old_token_id {
                Some(id) => format!("Did you delete {id}?"),
                None => "Did you delete the old token?".to_owned(),
            };
            let not_the_new = match &r.new_token_id {
                Some(id) => format!("not the new one ({})", code(id)),
                None => "not the newest one".to_owned(),
            };
            let confirm_dialog = confirm(
                &confirm_title,
                &format!(
                    "Make sure you deleted {}, {not_the_new}: Entra uses the new token now.",
                    old.clone().unwrap_or_else(|| "the old token".to_owned()),
                ),
                "Yes, I deleted it",
                "Not yet",
            );
            Message::new(
                format!("Step 2: delete the old SCIM token for {name} in IAM Identity Center."),
                vec![
                    section(&format!(
                        "{heading}\nThe new token works and Entra uses it now. Delete the old \
                         one, so that it cannot be misused and the next rotation has room (AWS \
                         allows two tokens).\n\
                         1. Open {console} → *Settings* → *Identity source* → *Actions* → \
                         *Manage provisioning* → *Access tokens*.\n\
                         {which}\n\
                         3. Press *I deleted the old token*. I then re-test the saved \
                         credentials, so a wrong deletion shows at once."
                    )),
                    actions(vec![
                        button(
                            "I deleted the old token",
                            ids::CONFIRM_DELETED,
                            &id_value(r),
                            Style::Primary,
                        )
                        .with_confirm(confirm_dialog),
                    ]),
                    context("Any team lead can do this step."),
                ],
            )
        }
        _ if r.deletion_confirmed_by.is_some() => {
            let at = r
                .deletion_confirmed_at
                .map(|at| format!(" {}", when(at)))
                .unwrap_or_default();
            Message::new(
                format!("The old SCIM token for {name} was deleted."),
                vec![section(&format!(
                    "✓ *Step 2 of 2 · Old token deleted:* {} confirmed the deletion of {}{at}.",
                    user_or_someone(r.deletion_confirmed_by.as_deref()),
                    old.unwrap_or_else(|| "the old token".to_owned())
                ))],
            )
        }
        state if state.is_terminal() => Message::new(
            format!("Step 2 for {name} is not needed."),
            vec![section(&format!(
                "*{STEP}* — not needed: the rotation is {}.",
                state.describe()
            ))],
        ),
        _ => Message::new(
            format!("Step 2 for {name} comes once the new token is checked and saved."),
            vec![section(&format!(
                "*{STEP}* — comes once the new token is checked and saved in Entra."
            ))],
        ),
    }
}

/// The last message of a rotation: who requested, approved, entered the token and confirmed
/// the old one's deletion, and the new token's id, fingerprint and expiry.
pub fn completion_summary(r: &Rotation, now: DateTime<Utc>) -> Message {
    let name = escape(&r.connection);
    let headline = if r.state == RotationState::Completed {
        format!(
            "✅ *{} is complete.* Entra uses the new token, and the old one is deleted.",
            title(r)
        )
    } else {
        format!("*{}*: {}.", title(r), r.state.describe())
    };
    let mut items = vec![
        format!(
            "*Requested by*\n{} {}",
            user(&r.requested_by),
            when(r.created_at)
        ),
        format!(
            "*Approved by*\n{}",
            user_or_someone(r.approved_by.as_deref())
        ),
        format!(
            "*New token entered by*\n{}{}",
            user_or_someone(r.token_entered_by.as_deref()),
            r.new_token_created
                .map(|at| format!(" {}", when(at)))
                .unwrap_or_default()
        ),
        format!(
            "*Old token deletion confirmed by*\n{}{}",
            user_or_someone(r.deletion_confirmed_by.as_deref()),
            r.deletion_confirmed_at
                .map(|at| format!(" {}", when(at)))
                .unwrap_or_default()
        ),
        format!(
            "*New token*\n{} (fingerprint {})",
            r.new_token_id
                .as_deref()
                .map_or_else(|| "id not recorded".to_owned(), code),
            fingerprint(r)
        ),
        format!(
            "*New token expires*\n{}",
            r.new_token_expires.map_or_else(
                || "unknown".to_owned(),
                |at| format!("{} ({})", when(at), time_left(at, now))
            )
        ),
        format!(
            "*Replaced token*\n{}",
            r.old_token_id
                .as_deref()
                .map_or_else(|| "id not recorded".to_owned(), code)
        ),
    ];
    if r.checks.resumed {
        items.push("*Provisioning*\nhad stopped; restarted by the bot".to_owned());
    }
    let expiry_note = if r.new_token_expires.is_some() {
        " I will warn in this channel before the new token expires."
    } else {
        " Register the new token's expiry with `/scim register` so I can warn before it expires."
    };
    Message::new(
        format!(
            "Rotation #{} of the SCIM token for {name}: {}.",
            r.id,
            r.state.describe()
        ),
        vec![
            section(&headline),
            fields(&items),
            context(&format!(
                "Every step is in the audit trail: `/scim audit {}`.{expiry_note}",
                inline(&r.connection)
            )),
        ],
    )
}
