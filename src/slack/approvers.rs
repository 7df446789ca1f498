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
    /// Wakes the refresh task early (an event that did not say who is in a group);
    /// coalesced, so a burst of events costs one re-read.
    wake: tokio::sync::Notify,
}

impl ApproverDirectory {
    pub fn new(users: &[String], groups: &[String], api: SlackApi) -> Self {
        ApproverDirectory {
            users: users.iter().cloned().collect(),
            groups: groups.to_vec(),
            members: RwLock::new(HashMap::new()),
            api,
            wake: tokio::sync::Notify::new(),
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
            tokio::select! {
                _ = ticker.tick() => {}
                () = self.wake.notified() => {}
            }
            let _ = self.refresh().await;
        }
    }
}

/// A change to a user group that Slack pushed (`subteam_members_changed`,
/// `subteam_updated`), read from the event's JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupChange {
    /// `subteam_members_changed`: who joined and who left.
    Members {
        group: String,
        added: Vec<String>,
        removed: Vec<String>,
    },
    /// `subteam_updated`: the group as it is now; `members` is `None` when the event did not
    /// list them (then the group is re-read), empty when the group was disabled.
    Updated {
        group: String,
        members: Option<Vec<String>>,
    },
}

impl GroupChange {
    /// The change an event describes, or `None` for any other event (or a malformed one).
    pub fn from_event(event: &serde_json::Value) -> Option<GroupChange> {
        let ids = |value: &serde_json::Value| -> Option<Vec<String>> {
            value
                .as_array()?
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        match event["type"].as_str()? {
            "subteam_members_changed" => Some(GroupChange::Members {
                group: event["subteam_id"].as_str()?.to_owned(),
                added: ids(&event["added_users"]).unwrap_or_default(),
                removed: ids(&event["removed_users"]).unwrap_or_default(),
            }),
            "subteam_updated" => {
                let subteam = &event["subteam"];
                let disabled = subteam["date_delete"].as_i64().is_some_and(|d| d != 0);
                Some(GroupChange::Updated {
                    group: subteam["id"].as_str()?.to_owned(),
                    members: if disabled {
                        Some(Vec::new())
                    } else {
                        ids(&subteam["users"])
                    },
                })
            }
            _ => None,
        }
    }

    fn group(&self) -> &str {
        match self {
            GroupChange::Members { group, .. } | GroupChange::Updated { group, .. } => group,
        }
    }
}

impl ApproverDirectory {
    /// Applies a pushed group change at once. Returns `true` when the group must be re-read
    /// (the event did not say who is in it, or the group was never read yet). Groups the
    /// configuration does not name are ignored.
    pub fn apply(&self, change: &GroupChange) -> bool {
        if !self.groups.iter().any(|g| g == change.group()) {
            return false;
        }
        let mut members = self.members.write().unwrap_or_else(|e| e.into_inner());
        match change {
            GroupChange::Members {
                group,
                added,
                removed,
            } => {
                let Some(known) = members.get_mut(group) else {
                    // Never read: the additions alone would not be the whole group.
                    let fresh: HashSet<String> = added.iter().cloned().collect();
                    members.insert(group.clone(), fresh);
                    return true;
                };
                for user in removed {
                    known.remove(user);
                }
                known.extend(added.iter().cloned());
                false
            }
            GroupChange::Updated {
                group,
                members: Some(now),
            } => {
                members.insert(group.clone(), now.iter().cloned().collect());
                false
            }
            GroupChange::Updated { members: None, .. } => true,
        }
    }

    /// Applies a pushed change at once and, when the event was not enough, asks the
    /// refresh task to re-read the groups now (nothing is spawned per event).
    pub fn apply_event(&self, change: &GroupChange) {
        let group = super::identity::shown(change.group());
        tracing::info!(%group, "approver group changed in Slack");
        if self.apply(change) {
            self.wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn directory() -> ApproverDirectory {
        let api = SlackApi::new(
            &"http://127.0.0.1:9/api/".parse().unwrap(),
            &secrecy::SecretString::from("xoxb-test"),
        )
        .unwrap();
        let directory = ApproverDirectory::new(&[], &["S1".to_owned()], api);
        directory.members.write().unwrap().insert(
            "S1".to_owned(),
            ["U1", "U2"].iter().map(|u| u.to_string()).collect(),
        );
        directory
    }

    #[test]
    fn a_removed_member_loses_the_right_and_an_added_one_gains_it_at_once() {
        let directory = directory();
        let change = GroupChange::from_event(&json!({
            "type": "subteam_members_changed", "subteam_id": "S1",
            "added_users": ["U3"], "removed_users": ["U1"],
        }))
        .unwrap();
        assert!(!directory.apply(&change));
        assert!(!directory.is_approver("U1"));
        assert!(directory.is_approver("U2"));
        assert!(directory.is_approver("U3"));
    }

    #[test]
    fn an_updated_or_disabled_group_replaces_its_members() {
        let directory = directory();
        let updated = json!({"type": "subteam_updated", "subteam": {"id": "S1", "date_delete": 0, "users": ["U9"]}});
        assert!(!directory.apply(&GroupChange::from_event(&updated).unwrap()));
        assert!(directory.is_approver("U9") && !directory.is_approver("U1"));
        let disabled = json!({"type": "subteam_updated", "subteam": {"id": "S1", "date_delete": 1700000000, "users": ["U9"]}});
        directory.apply(&GroupChange::from_event(&disabled).unwrap());
        assert!(!directory.is_approver("U9"));
        let unlisted =
            json!({"type": "subteam_updated", "subteam": {"id": "S1", "date_delete": 0}});
        assert!(
            directory.apply(&GroupChange::from_event(&unlisted).unwrap()),
            "re-read"
        );
    }

    #[test]
    fn other_groups_and_other_events_change_nothing() {
        let directory = directory();
        let other = json!({"type": "subteam_members_changed", "subteam_id": "S2", "added_users": ["U7"], "removed_users": ["U2"]});
        assert!(!directory.apply(&GroupChange::from_event(&other).unwrap()));
        assert!(directory.is_approver("U2") && !directory.is_approver("U7"));
        assert_eq!(
            GroupChange::from_event(&json!({"type": "app_home_opened"})),
            None
        );
        assert_eq!(
            GroupChange::from_event(&json!({"type": "subteam_members_changed"})),
            None
        );
        assert_eq!(GroupChange::from_event(&json!("garbage")), None);
    }
}
