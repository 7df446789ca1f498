//! The rotation thread, a faithful log: one message per entry of the rotation's story
//! ([`history::entries`]): the request, step 1 (its instructions, then one line per token
//! entered), step 2, a failed re-test, the summary. The newest entry is the step that needs
//! action and carries its buttons; finished and failed entries shrink to one line that says
//! who did what and when, and stay.

use super::format::{
    code, duration, escape, inline, link, on_day, quote, user, user_or_someone, when,
};
use super::kit::{Style, actions, button, confirm, context, fields, link_button, section};
use super::{Approvers, ConnectionInfo, Message};
use crate::rotation::history::{self, Attempt, AttemptOutcome, Entry};
use crate::rotation::{Rotation, RotationState, Stage, TokenRecord};
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

fn id_value(r: &Rotation) -> String {
    r.id.to_string()
}

/// What a thread message is rendered from: the rotation as it stands now, the story read
/// from its audit trail, and the facts from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct Thread<'a> {
    pub rotation: &'a Rotation,
    pub entries: &'a [Entry],
    pub conn: ConnectionInfo<'a>,
    pub approvers: Approvers<'a>,
    /// Whether the requester is a team lead (then the request says whether they may
    /// approve their own rotation).
    pub requester_is_approver: bool,
    /// The connection's current token record (for the old token's creation date).
    pub old: Option<&'a TokenRecord>,
}

/// The message of entry `index` of the thread. Only the newest entry carries buttons, and
/// only while the rotation waits for what it asks.
pub fn thread_message(thread: &Thread<'_>, index: usize) -> Message {
    let is_last = index + 1 == thread.entries.len();
    match &thread.entries[index] {
        Entry::Request { approved } => request(thread, approved.as_ref().map(|(_, at)| *at)),
        Entry::FirstAttempt(None) => instructions(thread, is_last),
        Entry::FirstAttempt(Some(attempt)) | Entry::Attempt(attempt) => {
            attempt_line(thread, attempt, is_last)
        }
        Entry::DeleteOld { confirmed, .. } => delete_old(thread, confirmed.as_ref(), is_last),
        Entry::AfterDeletionFailed { at, reason } => {
            after_deletion_failed(thread, *at, reason, is_last)
        }
        Entry::Summary { .. } => completion_summary(thread),
    }
}

/// Who may approve, as one sentence; self-approval is explained only when the requester
/// is a team lead (nobody else could approve anyway).
fn who_can_approve(thread: &Thread<'_>) -> String {
    let r = thread.rotation;
    let approvers = &thread.approvers;
    let mut names: Vec<String> = approvers
        .users
        .iter()
        .filter(|id| approvers.allow_self_approval || **id != r.requested_by)
        .filter(|id| !r.approvals.contains(id))
        .map(|id| user(id))
        .collect();
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
    if thread.requester_is_approver {
        sentence.push_str(&if approvers.allow_self_approval {
            format!(" {} may approve their own request.", user(&r.requested_by))
        } else {
            format!(
                " {} requested it, so another team lead has to approve.",
                user(&r.requested_by)
            )
        });
    }
    sentence
}

/// A time of day in the reader's zone ("09:13"), with a UTC fallback; the full date when it
/// is not the day the rotation was requested.
fn at(r: &Rotation, at: DateTime<Utc>) -> String {
    if at.date_naive() == r.created_at.date_naive() {
        format!(
            "<!date^{}^{{time}}|{}>",
            at.timestamp(),
            at.format("%H:%M UTC")
        )
    } else {
        when(at)
    }
}

/// The first message of the thread: while it waits, the request and its buttons; then one
/// line that says how it was decided, by whom and when.
fn request(thread: &Thread<'_>, approved_at: Option<DateTime<Utc>>) -> Message {
    let r = thread.rotation;
    let name = escape(thread.conn.name);
    let requester = user(&r.requested_by);
    let replaces = match &r.old_token_id {
        Some(id) => format!(" to replace {}", code(id)),
        None => String::new(),
    };
    let head = format!(
        "🔐 *{}* · {requester} requested it {}{replaces}",
        title(r),
        at(r, r.created_at)
    );
    let by = user_or_someone(r.driven_by.as_deref());
    let start_again = format!(
        "To try again, press *Start rotation* on the warning or run `/scim rotate {}`.",
        inline(thread.conn.name)
    );
    let approvers_named = if r.approvals.len() > 1 {
        let names: Vec<String> = r.approvals.iter().map(|id| user(id)).collect();
        names.join(" and ")
    } else {
        user_or_someone(r.approved_by.as_deref())
    };
    let approved = || {
        format!(
            "{head} · ✓ approved by {approvers_named}{}",
            approved_at
                .map(|when| format!(" {}", at(r, when)))
                .unwrap_or_default()
        )
    };
    match r.state {
        RotationState::AwaitingApproval => {
            let id = id_value(r);
            let required = usize::from(thread.approvers.required.max(1));
            let waiting = if required == 1 {
                "*Waiting for a team lead to approve.*".to_owned()
            } else {
                let given: Vec<String> = r
                    .approvals
                    .iter()
                    .map(|id| format!("✓ {}", user(id)))
                    .collect();
                format!(
                    "*{} of {required} approvals*{}: two different team leads must approve.",
                    r.approvals.len(),
                    if given.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", given.join(", "))
                    }
                )
            };
            Message::new(
                format!(
                    "{requester} requested a rotation of the SCIM token for {name}: waiting for a team lead to approve."
                ),
                vec![
                    section(&format!("{head}.\n{waiting} {}", who_can_approve(thread))),
                    actions(vec![
                        button("Approve", ids::APPROVE, &id, Style::Primary),
                        button("Reject", ids::REJECT, &id, Style::Danger),
                        button("Cancel", ids::CANCEL, &id, Style::Plain),
                    ]),
                    context(&format!(
                        "Expires unless approved by {}. {requester} or a team lead can cancel it.",
                        when(r.approval_deadline)
                    )),
                ],
            )
        }
        RotationState::Rejected => Message::new(
            format!("The rotation of the SCIM token for {name} was rejected by {by}."),
            vec![
                section(&format!(
                    "{head}\n✗ *Rejected* by {by} {}. The token was not changed.",
                    at(r, r.updated_at)
                )),
                context(&start_again),
            ],
        ),
        RotationState::Expired => Message::new(
            format!("The rotation of the SCIM token for {name} expired: nobody approved it."),
            vec![
                section(&format!(
                    "{head}\n⌛ *Expired* {}: nobody approved it within {}. The token was not changed.",
                    at(r, r.approval_deadline),
                    duration(r.approval_deadline - r.created_at)
                )),
                context(&start_again),
            ],
        ),
        RotationState::Cancelled => {
            let line = if r.approved_by.is_some() {
                approved()
            } else {
                head.clone()
            };
            Message::new(
                format!("The rotation of the SCIM token for {name} was cancelled by {by}."),
                vec![
                    section(&format!(
                        "{line}\n✗ *Cancelled* by {by} {}.{}",
                        at(r, r.updated_at),
                        if r.new_token_fingerprint.is_none() {
                            " The token was not changed."
                        } else {
                            ""
                        }
                    )),
                    context(&start_again),
                ],
            )
        }
        _ => Message::new(
            format!(
                "The rotation of the SCIM token for {name} was approved by {}.",
                user_or_someone(r.approved_by.as_deref())
            ),
            vec![section(&approved())],
        ),
    }
}

/// Step 1 before any token was entered: how to generate one, and the button to enter it.
fn instructions(thread: &Thread<'_>, is_last: bool) -> Message {
    let r = thread.rotation;
    let conn = &thread.conn;
    let name = escape(conn.name);
    if r.state != RotationState::AwaitingNewToken || !is_last {
        return Message::new(
            format!("No new SCIM token was entered for {name}."),
            vec![section(
                "*Step 1 of 2* · no token was entered. If you generated one in IAM Identity \
                 Center, delete it there: nothing uses it.",
            )],
        );
    }
    let old = old_token(r, thread.old);
    let console = link(
        &conn.console_url(),
        &format!("IAM Identity Center ({})", conn.aws_region),
    );
    let keep = match &old {
        Some(old) => {
            format!("keep the current token {old}: Entra uses it until the new one is saved")
        }
        None => "keep the token in use: Entra uses it until the new one is saved".to_owned(),
    };
    let id = id_value(r);
    Message::new(
        format!(
            "Step 1: generate a new SCIM token for {name} in IAM Identity Center and enter it."
        ),
        vec![
            section(&format!(
                "*Step 1 of 2 · Generate a new access token*\n\
                 1. Open {console} → *Settings* → *Identity source* → *Actions* → *Manage \
                 provisioning* → *Access tokens*, and {keep}. AWS allows two tokens: if two \
                 exist, delete the one not in use.\n\
                 2. Press *Generate token* and copy it (AWS shows it once), with its id.\n\
                 3. Press *Enter new token* and paste it."
            )),
            actions(
                [
                    Some(button(
                        "Enter new token",
                        ids::ENTER_TOKEN,
                        &id,
                        Style::Primary,
                    )),
                    link_button(
                        "Open IAM Identity Center",
                        ids::OPEN_CONSOLE,
                        &conn.console_url(),
                    ),
                    Some(button("Cancel rotation", ids::CANCEL, &id, Style::Plain)),
                ]
                .into_iter()
                .flatten()
                .collect(),
            ),
        ],
    )
}

/// The checks, in order, as words for "passed".
const PASSED: [&str; 4] = [
    "AWS accepted it",
    "Entra's Test Connection passed",
    "saved in Entra",
    "saved credentials verified",
];

/// The checks, in order, as words for "running".
const RUNNING: [&str; 4] = [
    "asking AWS",
    "Entra's Test Connection",
    "saving it in Entra",
    "verifying the saved credentials",
];

/// "by @lee 09:13 (fingerprint `…`, id `…`)": the one place a token's fingerprint is shown.
fn entered(thread: &Thread<'_>, attempt: &Attempt) -> String {
    let token_id = attempt
        .token_id
        .as_deref()
        .map(|id| format!(", id {}", code(id)))
        .unwrap_or_default();
    let fingerprint = attempt
        .fingerprint
        .as_deref()
        .map_or_else(|| "unknown".to_owned(), code);
    format!(
        "entered by {} {} (fingerprint {fingerprint}{token_id})",
        user(&attempt.entered_by),
        at(thread.rotation, attempt.entered_at)
    )
}

/// One token entered: while checked, the progress; then one line with the result. While it
/// is the newest message and a person must act, it carries the buttons.
fn attempt_line(thread: &Thread<'_>, attempt: &Attempt, is_last: bool) -> Message {
    let r = thread.rotation;
    let name = escape(&r.connection);
    let id = id_value(r);
    let step = "*Step 1 of 2*";
    let entered = entered(thread, attempt);
    let passed: Vec<&str> = PASSED
        .iter()
        .zip(attempt.passed)
        .filter(|(_, ok)| *ok)
        .map(|(text, _)| *text)
        .collect();
    let enter_again = |blocks: &mut Vec<_>, hint: &str| {
        if is_last && r.state == RotationState::AwaitingNewToken {
            blocks.push(context(hint));
            blocks.push(actions(vec![
                button("Enter new token", ids::ENTER_TOKEN, &id, Style::Primary),
                button("Cancel rotation", ids::CANCEL, &id, Style::Plain),
            ]));
        }
    };
    match &attempt.outcome {
        AttemptOutcome::Running => {
            let next = attempt.passed.iter().position(|ok| !ok);
            let progress: Vec<String> = PASSED
                .iter()
                .zip(RUNNING)
                .enumerate()
                .map(|(index, (done, todo))| match next {
                    Some(next) if index == next => format!("⏳ {todo}"),
                    Some(next) if index > next => format!("– {todo}"),
                    _ => format!("✓ {done}"),
                })
                .collect();
            Message::new(
                format!("Checking the new SCIM token for {name}…"),
                vec![section(&format!(
                    "⏳ {step} · Checking the token {entered}: {}",
                    progress.join(" · ")
                ))],
            )
        }
        AttemptOutcome::Passed { .. } => {
            let resumed = if attempt.resumed {
                "; provisioning had stopped and is running again"
            } else {
                ""
            };
            Message::new(
                format!("The new SCIM token for {name} works and Entra uses it."),
                vec![section(&format!(
                    "✓ {step} · The new token works — {entered}: {}{resumed}.",
                    passed.join(", ")
                ))],
            )
        }
        AttemptOutcome::Failed { stage, reason, .. } => {
            let saved = attempt.passed[2];
            let mut blocks = vec![section(&format!(
                "{} {step} · The checks stopped — token {entered}{}:\n{}",
                if saved { "🚨" } else { "✗" },
                if passed.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", passed.join(", "))
                },
                quote(reason)
            ))];
            if is_last && r.state == RotationState::NeedsAttention {
                let explanation = match stage {
                    Stage::Save => {
                        "Saving in Entra failed; Entra still has the old token, which works: do not delete it."
                    }
                    _ => {
                        "The token is saved in Entra, but its test failed: provisioning into AWS may be failing now."
                    }
                };
                blocks.push(context(explanation));
                blocks.push(actions(vec![
                    button("Retry with a new token", ids::RETRY, &id, Style::Primary),
                    button("Cancel rotation", ids::CANCEL, &id, Style::Plain),
                ]));
            }
            enter_again(
                &mut blocks,
                "Enter it again, or generate a new one in IAM Identity Center if it is not valid.",
            );
            Message::new(
                format!("The new SCIM token for {name} did not pass its checks."),
                blocks,
            )
        }
        AttemptOutcome::Lost { .. } => {
            let mut blocks = vec![section(&format!(
                "✗ {step} · The checks stopped — token {entered}: the bot restarted during them, and the token \
                 was only in memory."
            ))];
            enter_again(
                &mut blocks,
                "Enter it again (saving the same token twice is harmless).",
            );
            Message::new(
                format!(
                    "The checks of the new SCIM token for {name} were interrupted: enter it again."
                ),
                blocks,
            )
        }
    }
}

/// The newest token's line as the thread shows it (without buttons), for the web form's
/// progress page; `None` before a token was entered.
pub fn latest_attempt(r: &Rotation, entries: &[Entry]) -> Option<Message> {
    let attempt = history::attempts(entries).into_iter().last()?;
    let thread = Thread {
        rotation: r,
        entries,
        conn: ConnectionInfo {
            name: &r.connection,
            aws_region: "",
        },
        approvers: Approvers::default(),
        requester_is_approver: false,
        old: None,
    };
    Some(attempt_line(&thread, attempt, false))
}

/// Step 2: delete the old token in the AWS console and confirm it (with a confirm dialog
/// naming the token to delete); then the line saying who confirmed it.
fn delete_old(
    thread: &Thread<'_>,
    confirmed: Option<&(String, DateTime<Utc>)>,
    is_last: bool,
) -> Message {
    let r = thread.rotation;
    let conn = &thread.conn;
    let name = escape(conn.name);
    let old = r
        .old_token_id
        .as_deref()
        .map_or_else(|| "the old token".to_owned(), code);
    if let Some((by, when_confirmed)) = confirmed {
        return Message::new(
            format!("The old SCIM token for {name} was deleted."),
            vec![section(&format!(
                "✓ *Step 2 of 2* · {} confirmed the deletion of {old} {}.",
                user(by),
                at(r, *when_confirmed)
            ))],
        );
    }
    if !(is_last && r.state == RotationState::AwaitingOldTokenDeletion) {
        return Message::new(
            format!("The old SCIM token for {name} was not deleted."),
            vec![section(&format!(
                "*Step 2 of 2* · the deletion of {old} was not confirmed."
            ))],
        );
    }
    let console = link(
        &conn.console_url(),
        &format!("IAM Identity Center ({})", conn.aws_region),
    );
    let new = new_token(r);
    let confirm_title = match &r.old_token_id {
        Some(id) => format!("Did you delete {id}?"),
        None => "Did you delete the old token?".to_owned(),
    };
    let confirm_dialog = confirm(
        &confirm_title,
        &format!("Make sure you deleted {old}, not {new}: Entra uses the new token now."),
        "Yes, I deleted it",
        "Not yet",
    );
    Message::new(
        format!("Step 2: delete the old SCIM token for {name} in IAM Identity Center."),
        vec![
            section(&format!(
                "*Step 2 of 2 · Delete the old token*\n\
                 In {console} → *Access tokens*, delete {old} — *not* {new}. Then press the \
                 button: I re-test the saved credentials, so a wrong deletion shows at once."
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
        ],
    )
}

/// The re-test after the deletion failed: the saved credentials stopped working.
fn after_deletion_failed(
    thread: &Thread<'_>,
    when_failed: DateTime<Utc>,
    reason: &str,
    is_last: bool,
) -> Message {
    let r = thread.rotation;
    let name = escape(&r.connection);
    let id = id_value(r);
    let mut blocks = vec![section(&format!(
        "🚨 {} · After the deletion, the saved credentials stopped working — was the new token \
         deleted instead of the old one?\n{}",
        at(r, when_failed),
        quote(reason)
    ))];
    if is_last && r.state == RotationState::NeedsAttention {
        blocks.push(context(
            "Provisioning into AWS fails until a working token is saved: generate one and retry.",
        ));
        blocks.push(actions(vec![
            button("Retry with a new token", ids::RETRY, &id, Style::Primary),
            button("Cancel rotation", ids::CANCEL, &id, Style::Plain),
        ]));
    } else if is_last && r.state == RotationState::AwaitingNewToken {
        blocks.push(actions(vec![
            button("Enter new token", ids::ENTER_TOKEN, &id, Style::Primary),
            button("Cancel rotation", ids::CANCEL, &id, Style::Plain),
        ]));
    }
    Message::new(
        format!("The rotation of the SCIM token for {name} needs attention."),
        blocks,
    )
}

/// The last message of a completed rotation: the one place that lists who did what.
fn completion_summary(thread: &Thread<'_>) -> Message {
    let r = thread.rotation;
    let name = escape(&r.connection);
    let tries = history::attempts(thread.entries).len();
    let entered = r
        .new_token_created
        .map(|at| format!(" {}", when(at)))
        .unwrap_or_default();
    let mut items = vec![
        format!(
            "*Requested by*\n{} {}",
            user(&r.requested_by),
            when(r.created_at)
        ),
        format!(
            "*Approved by*\n{}",
            if r.approvals.len() > 1 {
                r.approvals
                    .iter()
                    .map(|id| user(id))
                    .collect::<Vec<_>>()
                    .join(" and ")
            } else {
                user_or_someone(r.approved_by.as_deref())
            }
        ),
        format!(
            "*New token entered by*\n{}{entered}{}",
            user_or_someone(r.token_entered_by.as_deref()),
            if tries > 1 {
                format!(" ({tries} tries)")
            } else {
                String::new()
            }
        ),
        format!(
            "*Old token deletion confirmed by*\n{}{}",
            user_or_someone(r.deletion_confirmed_by.as_deref()),
            r.deletion_confirmed_at
                .map(|at| format!(" {}", when(at)))
                .unwrap_or_default()
        ),
    ];
    if r.new_token_expires.is_none() {
        items.push("*New token expires*\nunknown: register it with `/scim register`".to_owned());
    }
    Message::new(
        format!(
            "Rotation #{} of the SCIM token for {name} is complete.",
            r.id
        ),
        vec![
            section(&format!(
                "✅ *{} is complete.* Audit trail: `/scim audit {}`.",
                title(r),
                inline(&r.connection)
            )),
            fields(&items),
        ],
    )
}

/// What the top of the thread (the warning a rotation started from) says while the rotation
/// is open: its number, its step and who drives it, with a link to the thread.
pub fn in_progress_line(r: &Rotation, thread_link: Option<&str>) -> String {
    let step = match r.state {
        RotationState::AwaitingApproval => format!(
            "requested by {}, waiting for a team lead to approve",
            user(&r.requested_by)
        ),
        RotationState::AwaitingOldTokenDeletion => format!(
            "step 2 of 2, driven by {}",
            user_or_someone(r.driven_by.as_deref().or(r.approved_by.as_deref()))
        ),
        RotationState::NeedsAttention => format!(
            "needs attention, driven by {}",
            user_or_someone(r.driven_by.as_deref().or(r.approved_by.as_deref()))
        ),
        _ => format!(
            "step 1 of 2, driven by {}",
            user_or_someone(r.driven_by.as_deref().or(r.approved_by.as_deref()))
        ),
    };
    let title = match thread_link {
        Some(url) => link(url, &format!("Rotation #{}", r.id)),
        None => format!("Rotation #{}", r.id),
    };
    let follow = if thread_link.is_some() {
        "follow it in its thread"
    } else {
        "follow it in this message's thread"
    };
    format!("🔄 *{title} in progress:* {step} — {follow}.")
}

/// A reply in a stalled rotation's thread: who must act, on what, since when. The first
/// reminder names whoever must act next; later ones (`number` 2 and up) say so.
pub fn stall_reminder(
    r: &Rotation,
    number: u32,
    mention_users: &[String],
    mention_groups: &[String],
    now: DateTime<Utc>,
) -> Message {
    let mentions: Vec<String> = mention_users
        .iter()
        .map(|id| user(id))
        .chain(
            mention_groups
                .iter()
                .filter_map(|id| super::format::group(id)),
        )
        .collect();
    let waiting = duration(now - r.updated_at);
    let what = match r.state {
        RotationState::AwaitingApproval => "waits for a team lead to approve it (*Approve* above)",
        RotationState::AwaitingNewToken => "waits for the new token (*Enter new token* above)",
        RotationState::AwaitingOldTokenDeletion => {
            "waits for the old token's deletion (*I deleted the old token* above)"
        }
        _ => "needs attention (the step above says why)",
    };
    let again = if number > 1 {
        format!(" Reminder {number}: any team lead can take it on.")
    } else {
        String::new()
    };
    let text = format!(
        "{} ⏰ Rotation #{} of the SCIM token for {} {what}, for {waiting} now.{again}",
        mentions.join(" "),
        r.id,
        inline(&r.connection)
    );
    Message::new(
        format!(
            "Rotation #{} of the SCIM token for {} has been waiting for {waiting}.",
            r.id,
            escape(&r.connection)
        ),
        vec![section(text.trim_start())],
    )
}
