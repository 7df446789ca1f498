//! What ties an interaction to the rotation it may act on.
//!
//! - **Clicks belong to their message.** A rotation button's `value` names a rotation, but
//!   the value is only what the payload says: a forged or copied value inside rotation #1's
//!   message must not act on #2. A click acts only when the message it came from (channel
//!   and ts) is one of the named rotation's stored step messages ([`click_belongs`]).
//! - **Modals belong to who opened them, for what.** A modal's `private_metadata` (the
//!   rotation id, or the register modal's connection and channel) comes back from Slack in
//!   the submission; it is sealed with an HMAC over the text and the user it was opened for
//!   ([`ModalSeal`]), so a tampered or transplanted value is answered inside the modal and
//!   changes nothing. The key is random per process: a modal opened before a restart asks to
//!   be opened again.

use crate::rotation::RotationId;
use crate::store::{Store, StoreError};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use slack_morphism::prelude::*;
use subtle::ConstantTimeEq;

/// What a click on another rotation's button is told.
pub const FOREIGN_BUTTON: &str = "This button belongs to another rotation, so nothing was changed. Use the buttons in that rotation's own thread.";

/// What a submission whose seal does not verify is told, inside the modal.
pub const STALE_MODAL: &str = "This form no longer matches the request it was opened for (it was changed, or the bot restarted). Close it and open it again.";

/// Separates the metadata from its seal (`private_metadata` = `<metadata>|<hex mac>`).
const SEAL_SEPARATOR: char = '|';

/// Whether the message `(channel, message_ts)` a rotation button was on is one of
/// `rotation`'s own step messages. A click without a message (Home tab, modal) belongs to
/// no rotation.
pub fn click_belongs(
    store: &Store,
    rotation: RotationId,
    channel: Option<&str>,
    message_ts: Option<&str>,
) -> Result<bool, StoreError> {
    match (channel, message_ts) {
        (Some(channel), Some(ts)) => store.is_rotation_message(rotation, channel, ts),
        _ => Ok(false),
    }
}

/// Seals modal metadata to the user it is opened for.
pub struct ModalSeal {
    key: [u8; 32],
}

impl ModalSeal {
    /// A seal with a fresh random key (from the operating system's generator).
    pub fn random() -> ModalSeal {
        let mut key = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
            .expect("the operating system's random generator works");
        ModalSeal { key }
    }

    fn mac(&self, metadata: &str, user: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(user.as_bytes());
        mac.update(b"\0");
        mac.update(metadata.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// `metadata` with its seal for `user`.
    pub fn seal(&self, metadata: &str, user: &str) -> String {
        format!(
            "{metadata}{SEAL_SEPARATOR}{}",
            hex::encode(self.mac(metadata, user))
        )
    }

    /// The metadata, when `sealed` was sealed by this process for `user`.
    pub fn open<'a>(&self, sealed: &'a str, user: &str) -> Option<&'a str> {
        let (metadata, mac) = sealed.rsplit_once(SEAL_SEPARATOR)?;
        let mac = hex::decode(mac).ok()?;
        bool::from(mac.ct_eq(&self.mac(metadata, user))).then_some(metadata)
    }

    /// Seals a modal's `private_metadata` in place.
    pub fn seal_view(&self, view: &mut SlackView, user: &str) {
        if let SlackView::Modal(modal) = view {
            let metadata = modal.private_metadata.take().unwrap_or_default();
            modal.private_metadata = Some(self.seal(&metadata, user));
        }
    }

    /// Opens a submitted modal's `private_metadata` in place; `false` when the seal does
    /// not verify (the metadata is then left empty, so nothing downstream can use it).
    pub fn open_submission(&self, event: &mut SlackInteractionViewSubmissionEvent) -> bool {
        let user = event.user.id.0.clone();
        let SlackView::Modal(modal) = &mut event.view.view else {
            return false;
        };
        let sealed = modal.private_metadata.take().unwrap_or_default();
        match self.open(&sealed, &user) {
            Some(metadata) => {
                modal.private_metadata = Some(metadata.to_owned());
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seal_opens_only_for_its_text_user_and_process() {
        let seal = ModalSeal::random();
        let sealed = seal.seal("7", "U1");
        assert_eq!(seal.open(&sealed, "U1"), Some("7"));
        assert_eq!(seal.open(&sealed, "U2"), None, "another user");
        assert_eq!(
            seal.open(&sealed.replacen('7', "8", 1), "U1"),
            None,
            "another rotation"
        );
        assert_eq!(seal.open("7", "U1"), None, "unsealed");
        assert_eq!(seal.open("7|zz", "U1"), None, "not hex");
        assert_eq!(
            ModalSeal::random().open(&sealed, "U1"),
            None,
            "another process"
        );
        let register = seal.seal("prod C0TEAM", "U1");
        assert_eq!(seal.open(&register, "U1"), Some("prod C0TEAM"));
        assert!(register.len() <= 3000);
    }
}
