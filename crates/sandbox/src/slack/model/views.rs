//! Modals and Home tabs: trigger ids, the modal stack, updates with hash checks, and the
//! view object Slack stores and returns.

use super::{ApiError, Workspace, digest_hex};
use crate::slack::identity::{APP_ID, BOT_ID, TEAM_ID};
use crate::slack::limits::{self, Surface};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

/// How long a `trigger_id` can be exchanged for a modal after the interaction that made it.
pub const TRIGGER_TTL: Duration = Duration::seconds(3);
/// Modals one user can have stacked (`views.push` beyond it: `push_limit_reached`).
pub const MAX_VIEW_STACK: usize = 3;
/// The numeric middle part of trigger ids, Slack's `132456.7890123.abcdef` shape.
const TRIGGER_TEAM_PART: &str = "4711000001";

/// Modal or Home tab.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewKind {
    Modal,
    Home,
}

/// A view as Slack holds it: the full object Slack returns (`id`, `hash`, `state`, …).
#[derive(Clone, Debug, PartialEq)]
pub struct StoredView {
    pub id: String,
    pub user: String,
    pub kind: ViewKind,
    pub view: Value,
    /// A modal is open until submitted with a closing answer or cleared; Home tabs stay.
    pub open: bool,
}

impl StoredView {
    pub fn callback_id(&self) -> &str {
        self.view["callback_id"].as_str().unwrap_or_default()
    }
    pub fn private_metadata(&self) -> &str {
        self.view["private_metadata"].as_str().unwrap_or_default()
    }
    pub fn hash(&self) -> &str {
        self.view["hash"].as_str().unwrap_or_default()
    }
    pub fn blocks(&self) -> &[Value] {
        self.view["blocks"].as_array().map_or(&[], Vec::as_slice)
    }
}

#[derive(Clone, Debug)]
pub(super) struct Trigger {
    user: String,
    issued_at: DateTime<Utc>,
    exchanged: bool,
}

impl Workspace {
    // ----- views -------------------------------------------------------------------------

    /// Hands out a `trigger_id` for an interaction by `user` at `now`.
    pub fn issue_trigger(&mut self, now: DateTime<Utc>, user: &str) -> String {
        let seq = self.next_seq();
        let id = format!(
            "{seq}.{TRIGGER_TEAM_PART}.{}",
            digest_hex(&format!("trigger:{seq}"), 32)
        );
        self.triggers.insert(
            id.clone(),
            Trigger {
                user: user.to_string(),
                issued_at: now,
                exchanged: false,
            },
        );
        id
    }

    /// `views.open` (`push == false`: replaces the user's modals) and `views.push`.
    pub fn open_view(
        &mut self,
        now: DateTime<Utc>,
        trigger_id: &str,
        view: Value,
        push: bool,
    ) -> Result<StoredView, ApiError> {
        limits::check_view(&view, Surface::Modal)
            .map_err(|problems| ApiError::with_messages("invalid_arguments", problems))?;
        self.check_external_id(&view, None)?;
        let trigger = self
            .triggers
            .get(trigger_id)
            .ok_or_else(|| ApiError::new("invalid_trigger_id"))?;
        if trigger.exchanged {
            return Err(ApiError::new("exchanged_trigger_id"));
        }
        if now - trigger.issued_at > TRIGGER_TTL {
            return Err(ApiError::new("expired_trigger_id"));
        }
        let user = trigger.user.clone();
        self.check_stack(&user, push)?;
        if let Some(trigger) = self.triggers.get_mut(trigger_id) {
            trigger.exchanged = true;
        }
        Ok(self.place_view(now, &user, view, push))
    }

    /// A modal pushed by a `response_action: push` answer (no trigger needed).
    pub fn push_view(
        &mut self,
        now: DateTime<Utc>,
        user: &str,
        view: Value,
    ) -> Result<StoredView, ApiError> {
        limits::check_view(&view, Surface::Modal)
            .map_err(|problems| ApiError::with_messages("invalid_arguments", problems))?;
        self.check_external_id(&view, None)?;
        self.check_stack(user, true)?;
        Ok(self.place_view(now, user, view, true))
    }

    fn check_stack(&self, user: &str, push: bool) -> Result<(), ApiError> {
        let depth = self.stacks.get(user).map_or(0, Vec::len);
        if push && depth == 0 {
            return Err(ApiError::new("not_found"));
        }
        if push && depth >= MAX_VIEW_STACK {
            return Err(ApiError::new("push_limit_reached"));
        }
        Ok(())
    }

    fn place_view(
        &mut self,
        now: DateTime<Utc>,
        user: &str,
        view: Value,
        push: bool,
    ) -> StoredView {
        if !push {
            self.close_all_views(user);
        }
        let stack = self.stacks.get(user).cloned().unwrap_or_default();
        let id = self.new_id('V');
        let root = stack.first().cloned().unwrap_or_else(|| id.clone());
        let previous = stack.last().cloned();
        let rendered = self.render_view(now, &id, view, &root, previous.as_deref());
        let stored = StoredView {
            id: id.clone(),
            user: user.to_string(),
            kind: ViewKind::Modal,
            view: rendered,
            open: true,
        };
        self.views.push(stored.clone());
        self.stacks.entry(user.to_string()).or_default().push(id);
        stored
    }

    /// `views.update` (and a `response_action: update`): same id, new content, new hash.
    pub fn update_view(
        &mut self,
        now: DateTime<Utc>,
        view_id: Option<&str>,
        external_id: Option<&str>,
        hash: Option<&str>,
        view: Value,
    ) -> Result<StoredView, ApiError> {
        let index = self
            .views
            .iter()
            .position(|v| {
                view_id.is_some_and(|id| v.id == id)
                    || external_id.is_some_and(|ext| v.view["external_id"] == ext)
            })
            .ok_or_else(|| ApiError::new("not_found"))?;
        let existing = self.views[index].clone();
        let surface = match existing.kind {
            ViewKind::Modal => Surface::Modal,
            ViewKind::Home => Surface::Home,
        };
        limits::check_view(&view, surface)
            .map_err(|problems| ApiError::with_messages("invalid_arguments", problems))?;
        if hash.is_some_and(|h| h != existing.hash()) {
            return Err(ApiError::new("hash_conflict"));
        }
        self.check_external_id(&view, Some(&existing.id))?;
        let root = existing.view["root_view_id"]
            .as_str()
            .unwrap_or(&existing.id)
            .to_string();
        let previous = existing.view["previous_view_id"].as_str().map(String::from);
        let rendered = self.render_view(now, &existing.id, view, &root, previous.as_deref());
        self.views[index].view = rendered;
        Ok(self.views[index].clone())
    }

    /// `views.publish`: the user's Home tab, created on first publish, replaced after.
    pub fn publish_home(
        &mut self,
        now: DateTime<Utc>,
        user: &str,
        hash: Option<&str>,
        view: Value,
    ) -> Result<StoredView, ApiError> {
        limits::check_view(&view, Surface::Home)
            .map_err(|problems| ApiError::with_messages("invalid_arguments", problems))?;
        match self
            .views
            .iter()
            .position(|v| v.kind == ViewKind::Home && v.user == user)
        {
            Some(index) => {
                if hash.is_some_and(|h| h != self.views[index].hash()) {
                    return Err(ApiError::new("hash_conflict"));
                }
                let id = self.views[index].id.clone();
                self.views[index].view = self.render_view(now, &id, view, &id, None);
                Ok(self.views[index].clone())
            }
            None => {
                let id = self.new_id('V');
                let stored = StoredView {
                    id: id.clone(),
                    user: user.to_string(),
                    kind: ViewKind::Home,
                    view: self.render_view(now, &id, view, &id, None),
                    open: true,
                };
                self.views.push(stored.clone());
                Ok(stored)
            }
        }
    }

    /// Closes one modal (the user acknowledged its submission without a response action).
    pub fn close_view(&mut self, user: &str, view_id: &str) {
        if let Some(stack) = self.stacks.get_mut(user) {
            stack.retain(|id| id != view_id);
        }
        if let Some(view) = self.views.iter_mut().find(|v| v.id == view_id) {
            view.open = false;
        }
    }

    /// Closes every modal of the user (`response_action: clear`, or a new `views.open`).
    pub fn close_all_views(&mut self, user: &str) {
        for id in self.stacks.remove(user).unwrap_or_default() {
            if let Some(view) = self.views.iter_mut().find(|v| v.id == id) {
                view.open = false;
            }
        }
    }

    /// Records the values a person typed into an open view (Slack keeps `state` on it).
    pub fn set_view_state(&mut self, view_id: &str, values: Value) {
        if let Some(view) = self.views.iter_mut().find(|v| v.id == view_id) {
            view.view["state"] = json!({ "values": values });
        }
    }

    fn check_external_id(&self, view: &Value, except: Option<&str>) -> Result<(), ApiError> {
        let Some(external) = view["external_id"].as_str().filter(|e| !e.is_empty()) else {
            return Ok(());
        };
        let taken = self
            .views
            .iter()
            .any(|v| Some(v.id.as_str()) != except && v.view["external_id"] == external);
        if taken {
            Err(ApiError::new("duplicate_external_id"))
        } else {
            Ok(())
        }
    }

    /// The view object Slack stores and returns: the app's fields plus Slack's own.
    fn render_view(
        &mut self,
        now: DateTime<Utc>,
        id: &str,
        view: Value,
        root: &str,
        previous: Option<&str>,
    ) -> Value {
        let mut out: Map<String, Value> = match view {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let blocks = out.remove("blocks").unwrap_or_else(|| json!([]));
        let hash = format!(
            "{}.{}",
            now.timestamp(),
            digest_hex(&format!("hash:{}", self.next_seq()), 8)
        );
        let defaults = [
            ("private_metadata", json!("")),
            ("callback_id", json!("")),
            ("external_id", json!("")),
            ("clear_on_close", json!(false)),
            ("notify_on_close", json!(false)),
            ("close", Value::Null),
            ("submit", Value::Null),
        ];
        for (key, value) in defaults {
            out.entry(key).or_insert(value);
        }
        out.insert("id".into(), json!(id));
        out.insert("team_id".into(), json!(TEAM_ID));
        out.insert("blocks".into(), self.fill_generated_ids(blocks));
        out.insert("state".into(), json!({"values": {}}));
        out.insert("hash".into(), json!(hash));
        out.insert("root_view_id".into(), json!(root));
        out.insert("previous_view_id".into(), json!(previous));
        out.insert("app_id".into(), json!(APP_ID));
        out.insert("app_installed_team_id".into(), json!(TEAM_ID));
        out.insert("bot_id".into(), json!(BOT_ID));
        Value::Object(out)
    }
}
