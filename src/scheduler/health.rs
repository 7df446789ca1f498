//! AWS Health expiry events: record the date they announce as the token's expiry when it
//! differs from what the store knows, with an audit record either way.

use super::Scheduler;
use crate::audit::NewAuditRecord;
use crate::aws::health::{ExpiryText, FoundDate, HealthEvent, expiry_in_any};
use crate::rotation::{ExpirySource, TokenRecord};
use crate::store::{NewToken, StoreError};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

/// For a token the bot saw created in a rotation, whose date it knows within a day or two,
/// an event announcing an expiry this many days earlier or more is about the token that
/// rotation replaced (AWS keeps notifying until a token expires or is deleted), not about
/// the current one.
pub const STALE_EVENT_DAYS: i64 = 30;

/// What an expiry event did to one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HealthOutcome {
    /// The token's expiry was set to the event's date (it was `previous`).
    Recorded {
        connection: String,
        expires: DateTime<Utc>,
        previous: Option<DateTime<Utc>>,
    },
    /// The event's date is the one already known.
    Unchanged {
        connection: String,
        expires: DateTime<Utc>,
    },
    /// The event has no date in its description.
    NoDate { connection: String },
    /// The only date reads two ways (`03/04/2027`).
    AmbiguousDate { connection: String, text: String },
    /// The date is about the token a rotation replaced.
    OlderToken {
        connection: String,
        announced: DateTime<Utc>,
        current: DateTime<Utc>,
    },
}

impl HealthOutcome {
    /// Whether the token's expiry changed (warnings may now be due).
    pub fn changed(&self) -> bool {
        matches!(self, HealthOutcome::Recorded { .. })
    }

    pub fn connection(&self) -> &str {
        match self {
            HealthOutcome::Recorded { connection, .. }
            | HealthOutcome::Unchanged { connection, .. }
            | HealthOutcome::NoDate { connection }
            | HealthOutcome::AmbiguousDate { connection, .. }
            | HealthOutcome::OlderToken { connection, .. } => connection,
        }
    }

    /// The short JSON answer for EventBridge (and whoever reads its logs).
    pub fn to_json(&self) -> Value {
        match self {
            HealthOutcome::Recorded {
                connection,
                expires,
                previous,
            } => {
                json!({ "connection": connection, "result": "recorded", "expires": expires, "previous": previous })
            }
            HealthOutcome::Unchanged {
                connection,
                expires,
            } => json!({ "connection": connection, "result": "unchanged", "expires": expires }),
            HealthOutcome::NoDate { connection } => {
                json!({ "connection": connection, "result": "no_date" })
            }
            HealthOutcome::AmbiguousDate { connection, text } => {
                json!({ "connection": connection, "result": "ambiguous_date", "date": text })
            }
            HealthOutcome::OlderToken {
                connection,
                announced,
                current,
            } => {
                json!({ "connection": connection, "result": "older_token", "announced": announced, "current": current })
            }
        }
    }
}

/// Whether `found` says the same as the `known` expiry: the same moment when the event
/// gave a time, the same day when it gave only a day.
fn same_expiry(known: DateTime<Utc>, found: &FoundDate) -> bool {
    if found.has_time {
        known == found.at
    } else {
        known.date_naive() == found.at.date_naive()
    }
}

/// Whether `found` is about a token older than `token` (see [`STALE_EVENT_DAYS`]).
fn about_older_token(token: &TokenRecord, found: &FoundDate) -> bool {
    token.source == ExpirySource::Rotation
        && token
            .expires_at
            .is_some_and(|known| found.at <= known - Duration::days(STALE_EVENT_DAYS))
}

impl Scheduler {
    /// Applies an expiry event to `connection` (matched by the caller from the event's
    /// account and region), as seen at `now`.
    pub async fn record_health_event(
        &self,
        connection: &str,
        event: &HealthEvent,
        now: DateTime<Utc>,
    ) -> Result<HealthOutcome, StoreError> {
        let store = self.engine.store();
        let audit = |action: &str, details: Value| {
            NewAuditRecord::system(
                now,
                action,
                connection,
                json!({
                    "via": "aws_health",
                    "event_id": event.id,
                    "event_arn": event.event_arn,
                    "event_type": event.event_type_code,
                    "details": details,
                }),
            )
        };
        let found = match expiry_in_any(&event.descriptions) {
            ExpiryText::Found(found) => found,
            ExpiryText::NoDate => {
                store.append_audit(&audit("aws_health_event", json!({ "result": "no_date" })))?;
                return Ok(HealthOutcome::NoDate {
                    connection: connection.to_owned(),
                });
            }
            ExpiryText::Ambiguous(text) => {
                store.append_audit(&audit(
                    "aws_health_event",
                    json!({ "result": "ambiguous_date", "date": text }),
                ))?;
                return Ok(HealthOutcome::AmbiguousDate {
                    connection: connection.to_owned(),
                    text,
                });
            }
        };
        let token = store.current_token(connection)?;
        let previous = token.as_ref().and_then(|t| t.expires_at);
        if let Some(known) = previous.filter(|known| same_expiry(*known, &found)) {
            store.append_audit(&audit(
                "aws_health_event",
                json!({ "result": "unchanged", "expires": known, "date": found.text }),
            ))?;
            return Ok(HealthOutcome::Unchanged {
                connection: connection.to_owned(),
                expires: known,
            });
        }
        if let Some(token) = token.as_ref().filter(|t| about_older_token(t, &found)) {
            let current = token.expires_at.unwrap_or(found.at);
            store.append_audit(&audit(
                "aws_health_event",
                json!({ "result": "older_token", "announced": found.at, "current": current, "date": found.text }),
            ))?;
            return Ok(HealthOutcome::OlderToken {
                connection: connection.to_owned(),
                announced: found.at,
                current,
            });
        }
        let record = audit(
            "token_expiry_corrected",
            json!({
                "source": ExpirySource::AwsHealth.as_str(),
                "expires": found.at,
                "previous": previous,
                "date": found.text,
                "token_id": token.as_ref().and_then(|t| t.token_id.clone()),
            }),
        );
        match &token {
            Some(token) => {
                store.set_token_expiry(
                    connection,
                    token.id,
                    found.at,
                    ExpirySource::AwsHealth,
                    &record,
                )?;
                let sent: Vec<String> = store
                    .sent_warnings(connection, token.id)?
                    .into_iter()
                    .map(|w| w.threshold)
                    .collect();
                let due_again = crate::rotation::warnings::not_due_under(&sent, found.at, now);
                if !due_again.is_empty() {
                    store.forget_warnings(
                        connection,
                        token.id,
                        &due_again,
                        &audit(
                            "expiry_warnings_rearmed",
                            json!({ "thresholds": due_again, "expires": found.at }),
                        ),
                    )?;
                }
            }
            None => {
                // Nobody registered the token: AWS's word is the first we have.
                store.insert_token(
                    &NewToken {
                        connection: connection.to_owned(),
                        token_id: None,
                        created_at: None,
                        expires_at: Some(found.at),
                        source: ExpirySource::AwsHealth,
                        fingerprint: None,
                    },
                    &record,
                )?;
            }
        }
        tracing::info!(connection, expires = %found.at, previous = ?previous, "token expiry corrected by AWS Health");
        Ok(HealthOutcome::Recorded {
            connection: connection.to_owned(),
            expires: found.at,
            previous,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn found(at: DateTime<Utc>, has_time: bool) -> FoundDate {
        FoundDate {
            at,
            has_time,
            text: String::new(),
        }
    }

    #[test]
    fn a_day_matches_any_time_that_day_and_a_time_must_match_exactly() {
        let known = Utc.with_ymd_and_hms(2027, 3, 14, 9, 30, 0).unwrap();
        let midnight = Utc.with_ymd_and_hms(2027, 3, 14, 0, 0, 0).unwrap();
        assert!(same_expiry(known, &found(midnight, false)));
        assert!(!same_expiry(known, &found(midnight, true)));
        assert!(same_expiry(known, &found(known, true)));
        assert!(!same_expiry(
            known,
            &found(midnight + Duration::days(1), false)
        ));
    }

    #[test]
    fn only_a_rotation_learned_date_can_make_an_event_look_older() {
        let known = Utc.with_ymd_and_hms(2028, 3, 14, 9, 0, 0).unwrap();
        let token = |source| TokenRecord {
            id: 2,
            connection: "prod".to_owned(),
            token_id: None,
            created_at: None,
            expires_at: Some(known),
            source,
            fingerprint: None,
            retired_at: None,
        };
        let a_year_earlier = found(known - Duration::days(365), false);
        let a_week_earlier = found(known - Duration::days(7), false);
        assert!(about_older_token(
            &token(ExpirySource::Rotation),
            &a_year_earlier
        ));
        assert!(!about_older_token(
            &token(ExpirySource::Rotation),
            &a_week_earlier
        ));
        assert!(!about_older_token(
            &token(ExpirySource::Manual),
            &a_year_earlier
        ));
        assert!(!about_older_token(
            &token(ExpirySource::AwsHealth),
            &a_year_earlier
        ));
    }
}
