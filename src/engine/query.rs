//! The read side: what the adapters (status, App Home, the presenter, the audit command)
//! need to know, without reaching into the store. Reads never wait for the engine's serial
//! order: SQLite's WAL lets them run beside a write.

use crate::audit::AuditRecord;
use crate::rotation::{Rotation, RotationId, RotationState, TokenRecord};
use crate::store::{AuditFilter, Store, StoreError};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// Where one connection stands: its current token, its latest rotation, Graph's health.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionStatus {
    pub connection: String,
    pub token: Option<TokenRecord>,
    pub rotation: Option<(RotationId, RotationState)>,
    /// The monitor's note when Graph could not be read lately.
    pub graph_problem: Option<String>,
}

/// Read-only queries over the engine's state.
#[derive(Clone)]
pub struct Queries {
    store: Arc<Store>,
}

impl Queries {
    pub(super) fn new(store: Arc<Store>) -> Self {
        Queries { store }
    }

    pub fn rotation(&self, id: RotationId) -> Result<Option<Rotation>, StoreError> {
        self.store.get_rotation(id)
    }

    /// One entry per name in `connections`, in that order.
    pub fn status(&self, connections: &[String]) -> Result<Vec<ConnectionStatus>, StoreError> {
        let latest = self.store.latest_rotations()?;
        let mut rows = Vec::with_capacity(connections.len());
        for name in connections {
            let rotation = latest
                .iter()
                .find(|r| &r.connection == name)
                .map(|r| (r.id, r.state));
            rows.push(ConnectionStatus {
                token: self.store.current_token(name)?,
                graph_problem: self.store.monitor_state(&format!("graph_problem:{name}"))?,
                connection: name.clone(),
                rotation,
            });
        }
        Ok(rows)
    }

    /// The latest audit records matching `filter`.
    pub fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        self.store.audit_records(filter)
    }

    /// The token record of the token a rotation replaces (when its id is known).
    pub fn old_token(&self, rotation: &Rotation) -> Result<Option<TokenRecord>, StoreError> {
        if rotation.old_token_id.is_none() {
            return Ok(None);
        }
        Ok(self
            .store
            .list_tokens(true)?
            .into_iter()
            .find(|t| t.connection == rotation.connection && t.token_id == rotation.old_token_id))
    }

    /// The Slack message (channel, ts) showing one step of a rotation.
    pub fn step_message(
        &self,
        id: RotationId,
        step: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        self.store.rotation_message(id, step)
    }

    /// Rotations still open, and those changed since `since`, by id.
    pub fn open_or_changed_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<RotationId>, StoreError> {
        let open: Vec<RotationState> = RotationState::ALL
            .into_iter()
            .filter(|s| !s.is_terminal())
            .collect();
        let mut ids: Vec<RotationId> = self
            .store
            .rotations_in_states(&open)?
            .into_iter()
            .chain(self.store.rotations_updated_since(since)?)
            .map(|r| r.id)
            .collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }
}
