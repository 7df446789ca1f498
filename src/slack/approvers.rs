//! Who counts as an approver: configured user ids, plus members of configured user groups.
//! Group members are fetched with `usergroups.users.list` and cached; lookups never wait on
//! Slack (the 3-second ack), they read the cache a background task keeps fresh.

use super::api::{SlackApi, SlackApiError};
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How often group membership is re-read: a lead added to the group can act within this
/// time, and `usergroups.users.list` (Tier 2, ~20/min) is far from its limit.
pub const REFRESH_EVERY: Duration = Duration::from_secs(300);

pub struct ApproverDirectory {
    users: HashSet<String>,
    groups: Vec<String>,
    members: RwLock<HashSet<String>>,
    api: SlackApi,
}

impl ApproverDirectory {
    pub fn new(users: &[String], groups: &[String], api: SlackApi) -> Self {
        ApproverDirectory {
            users: users.iter().cloned().collect(),
            groups: groups.to_vec(),
            members: RwLock::new(HashSet::new()),
            api,
        }
    }

    pub fn users(&self) -> Vec<String> {
        let mut users: Vec<String> = self.users.iter().cloned().collect();
        users.sort();
        users
    }

    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// Whether `user` may approve and drive rotations, by what is known now.
    pub fn is_approver(&self, user: &str) -> bool {
        self.users.contains(user)
            || self
                .members
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains(user)
    }

    /// Re-reads every group's members. A group that cannot be read keeps its last members
    /// (an outage must not lock the leads out); the first error is returned after all tried.
    pub async fn refresh(&self) -> Result<usize, SlackApiError> {
        let mut members = HashSet::new();
        let mut first_error = None;
        for group in &self.groups {
            match self.api.usergroup_members(group).await {
                Ok(users) => members.extend(users),
                Err(error) => {
                    tracing::warn!(group = %group, error = %error, "cannot read approver group members; keeping the last known");
                    let previous = self
                        .members
                        .read()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone();
                    members.extend(previous);
                    first_error.get_or_insert(error);
                }
            }
        }
        let count = members.len();
        *self.members.write().unwrap_or_else(|e| e.into_inner()) = members;
        match first_error {
            Some(error) => Err(error),
            None => Ok(count),
        }
    }

    /// Keeps the cache fresh until the task is dropped.
    pub async fn refresh_forever(self: Arc<Self>, every: Duration) {
        if self.groups.is_empty() {
            return;
        }
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            let _ = self.refresh().await;
        }
    }
}
