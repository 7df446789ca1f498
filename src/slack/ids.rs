//! The ids that tie what the renderer draws to what the interaction parser reads back.
//!
//! This module is the contract between the two: the renderer puts these ids (and the values
//! documented next to each) on buttons and modals; the parser matches on the same constants.
//! Change an id here and both sides follow; never spell one out as a literal elsewhere.
//!
//! Every id is short ASCII, far under Slack's 255-character limit for `action_id`,
//! `block_id` and `callback_id`.

// ---------------------------------------------------------------------------------------------
// Button action ids
// ---------------------------------------------------------------------------------------------

/// "Start rotation" on an expiry warning or a quarantine alert.
/// Button `value`: the connection name, as configured.
pub const START_ROTATION: &str = "start_rotation";

/// "Approve" on a pending rotation request. Button `value`: the rotation id, in decimal.
pub const APPROVE: &str = "approve";

/// "Reject" on a pending rotation request. Button `value`: the rotation id, in decimal.
pub const REJECT: &str = "reject";

/// "Cancel" on a rotation (while waiting for approval, for the new token, or needing
/// attention). Button `value`: the rotation id, in decimal.
pub const CANCEL: &str = "cancel";

/// "Enter new token": opens the token modal. Button `value`: the rotation id, in decimal.
pub const ENTER_TOKEN: &str = "enter_token";

/// "I deleted the old token" (carries a Slack confirm dialog). Button `value`: the rotation
/// id, in decimal.
pub const CONFIRM_DELETED: &str = "confirm_deleted";

/// "Retry with a new token" on a rotation that needs attention. Button `value`: the
/// rotation id, in decimal.
pub const RETRY: &str = "retry";

/// "Open IAM Identity Center": a link button (it carries a `url`) on the step-1
/// instructions. Slack opens the link itself and still sends the click, expecting a bare
/// acknowledgement: the bot acks it, answers nothing and changes nothing. No `value`.
pub const OPEN_CONSOLE: &str = "open_console";

/// The buttons that only open a link (see [`OPEN_CONSOLE`]).
pub const LINKS: &[&str] = &[OPEN_CONSOLE];

// ---------------------------------------------------------------------------------------------
// Modal callback ids
// ---------------------------------------------------------------------------------------------

/// The new-token modal. `private_metadata`: the rotation id, in decimal — NEVER the token —
/// sealed by `binding::ModalSeal` when the bot opens it (`<id>|<hmac>`).
/// Its inputs are [`TOKEN_BLOCK`], [`TOKEN_ID_BLOCK`] and [`EXPIRES_BLOCK`].
pub const SUBMIT_TOKEN: &str = "submit_token";

/// The register-a-token modal (`/scim register <connection>`). `private_metadata`: the
/// connection name and the channel the command came from (where the answer goes), separated
/// by a space, sealed like the token modal's. Its inputs are [`TOKEN_ID_BLOCK`] and
/// [`CREATED_BLOCK`].
pub const REGISTER_TOKEN: &str = "register_token";

// ---------------------------------------------------------------------------------------------
// Modal input block ids; each input's element has the action id [`VALUE`]
// ---------------------------------------------------------------------------------------------

/// Token modal: the pasted token (`plain_text_input`, required). Its value is the secret:
/// parse it with `ScimToken::parse` and never log, echo or store it.
pub const TOKEN_BLOCK: &str = "token";

/// Token modal and register modal: the token's id as the AWS console shows it
/// (`plain_text_input`; optional in the token modal, required in the register modal).
pub const TOKEN_ID_BLOCK: &str = "token_id";

/// Token modal: the new token's expiry date (`datepicker`, `selected_date` = `YYYY-MM-DD`).
pub const EXPIRES_BLOCK: &str = "expires";

/// Register modal: the day the token was created (`datepicker`, `selected_date` =
/// `YYYY-MM-DD`); its expiry is that day plus one year.
pub const CREATED_BLOCK: &str = "created";

/// The action id of the element inside every input block: the block id says which input
/// it is, so one element id is enough (`state.values[block_id][VALUE]`).
pub const VALUE: &str = "value";

/// Every id above, for tests that check lengths and uniqueness.
pub const ALL: &[&str] = &[
    START_ROTATION,
    APPROVE,
    REJECT,
    CANCEL,
    ENTER_TOKEN,
    CONFIRM_DELETED,
    RETRY,
    OPEN_CONSOLE,
    SUBMIT_TOKEN,
    REGISTER_TOKEN,
    TOKEN_BLOCK,
    TOKEN_ID_BLOCK,
    EXPIRES_BLOCK,
    CREATED_BLOCK,
    VALUE,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_ascii_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for id in ALL {
            assert!(id.len() <= 255 && id.is_ascii() && !id.is_empty(), "{id}");
            assert!(seen.insert(*id), "{id} is used twice");
        }
    }
}
