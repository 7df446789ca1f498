//! Who counts as an approver: configured user ids, plus members of configured user groups.
//! Group members are fetched with `usergroups.users.list` and cached; lookups never wait on
//! Slack (the 3-second ack), they read the cache a background task keeps fresh.

use super::api::{SlackApi, SlackApiError};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How often group membership is re-read: a lead added to the group can act within this
/// time, and `usergroups.users.list` (Tier 2, ~20/min) is far from its limit.
pub const REFRESH_EVERY: Duration = Duration::from_secs(300);

pub struct ApproverDirectory {
    users: HashSet<String>,
    groups: Vec<String>,
    /// Members by group, as last read successfully.
    members: RwLock<HashMap<String, HashSet<String>>>,
    api: SlackApi,
}

impl ApproverDirectory {
    pub fn new(users: &[String], groups: &[String], api: SlackApi) -> Self {
        ApproverDirectory {
            users: users.iter().cloned().collect(),
            groups: groups.to_vec(),
            members: RwLock::new(HashMap::new()),
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
                .values()
                .any(|members| members.contains(user))
    }

    /// Re-reads every group's members. A group that cannot be read keeps its own last known
    /// members (an outage must not lock the leads out), while every group that was read is
    /// replaced, so a person removed from it loses the right at once. The first error is
    /// returned after all groups were tried.
    pub async fn refresh(&self) -> Result<usize, SlackApiError> {
        let mut first_error = None;
        for group in &self.groups {
            match self.api.usergroup_members(group).await {
                Ok(users) => {
                    let users: HashSet<String> = users.into_iter().collect();
                    self.members
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(group.clone(), users);
                }
                Err(error) => {
                    tracing::warn!(group = %group, error = %error, "cannot read approver group members; keeping the last known");
                    first_error.get_or_insert(error);
                }
            }
        }
        let count = self
            .members
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(HashSet::len)
            .sum();
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
