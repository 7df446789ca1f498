//! Which rotation a Slack message belongs to: the check that a button acts only on the
//! rotation whose message it is on (`crate::slack::binding`).

use super::{Result, Store};
use crate::rotation::RotationId;
use rusqlite::{OptionalExtension, params};

impl Store {
    /// Whether the message `(channel, ts)` is one of rotation `id`'s step messages.
    pub fn is_rotation_message(&self, id: RotationId, channel: &str, ts: &str) -> Result<bool> {
        let conn = self.lock();
        Ok(conn
            .query_row(
                "SELECT 1 FROM rotation_messages WHERE rotation_id = ?1 AND channel = ?2 AND ts = ?3",
                params![id.0, channel, ts],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }
}
