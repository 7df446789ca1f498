//! The check pipeline: a. AWS probe, b. Entra test, c. save, d. verify (and restart a
//! stopped job); and, after the old token's deletion, the re-test of the saved credentials.
//!
//! It is a client of the engine like any other: each result goes back as a command through
//! [`Engine::report`], the same door the Slack handlers use. Work reaches it as a [`Job`]
//! on a bounded channel, read by one dispatcher ([`run`]); the engine never calls into this
//! module, so there is no recursion and no boxed future to break a type cycle.
//!
//! Bounds: a token check exists only for a rotation in `Checking`, and the database allows
//! one open rotation per connection, so at most one check per connection runs at a time;
//! re-tests follow a person's confirmation, one per completed rotation.

use super::{ConnectionRuntime, Engine};
use crate::azure::JobStatus;
use crate::rotation::{Command, RotationId, Stage};
use crate::secret::ScimToken;
use std::sync::{Arc, Weak};
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;
use tracing::Instrument;

/// How many jobs may wait for the dispatcher: it only starts them, so a handful is plenty.
pub(super) const QUEUE: usize = 32;

/// The name of the re-test in the `pending_effects` outbox.
pub(super) const RETEST_EFFECT: &str = "retest_saved_credentials";

/// Work for the pipeline.
pub(super) enum Job {
    /// Check a submitted token: it lives only here, and is dropped when the job ends.
    Token {
        rotation: RotationId,
        token: ScimToken,
    },
    /// Re-test the saved credentials after the old token's deletion was confirmed (also
    /// replayed at start-up from the outbox).
    Retest { rotation: RotationId },
}

/// A job on its way to the dispatcher. The tracker token counts it as running from the
/// moment it is queued, so `Engine::drain` also waits for jobs not yet started.
pub(super) type Queued = (Job, TaskTrackerToken);

/// Starts each job as a task of `tasks` until the engine is dropped.
pub(super) async fn run(
    engine: Weak<Engine>,
    mut jobs: mpsc::Receiver<Queued>,
    tasks: TaskTracker,
) {
    while let Some((job, _queued)) = jobs.recv().await {
        let Some(engine) = engine.upgrade() else {
            return;
        };
        match job {
            Job::Token { rotation, token } => {
                let span =
                    tracing::info_span!("checks", %rotation, fingerprint = %token.fingerprint());
                tasks.spawn(check_token(engine, rotation, token).instrument(span));
            }
            Job::Retest { rotation } => {
                let span = tracing::info_span!("retest_after_deletion", %rotation);
                tasks.spawn(retest(engine, rotation).instrument(span));
            }
        }
    }
}

async fn fail(engine: &Engine, id: RotationId, stage: Stage, reason: String) {
    // A refused token is the checks doing their job, not a fault of the bot: info.
    tracing::info!(rotation = %id, stage = stage.as_str(), %reason, "check failed");
    engine.report(id, Command::Failed { stage, reason }).await;
}

/// Stops at the first failure; the token is dropped when this returns.
async fn check_token(engine: Arc<Engine>, id: RotationId, token: ScimToken) {
    let Some(connection) = engine.connection_of(id) else {
        return;
    };
    let base_address = connection
        .scim_url
        .as_str()
        .trim_end_matches('/')
        .to_owned();

    if let Err(error) = engine.scim.check(&connection.scim_url, &token).await {
        return fail(&engine, id, Stage::AwsProbe, error.to_string()).await;
    }
    if !engine.report(id, Command::AwsProbePassed).await {
        return;
    }
    if let Err(error) = connection
        .graph
        .validate_credentials(&base_address, &token)
        .await
    {
        return fail(&engine, id, Stage::EntraTest, error.to_string()).await;
    }
    if !engine.report(id, Command::EntraTestPassed).await {
        return;
    }
    if let Err(error) = connection
        .graph
        .save_credentials(&base_address, &token)
        .await
    {
        return fail(&engine, id, Stage::Save, error.to_string()).await;
    }
    drop(token);
    if !engine.report(id, Command::Saved).await {
        return;
    }
    match verify_saved(&connection).await {
        Ok(resumed) => {
            engine.report(id, Command::Verified { resumed }).await;
        }
        Err(reason) => fail(&engine, id, Stage::Verify, reason).await,
    }
}

/// Re-tests the saved credentials and, when the job is quarantined or paused, starts it.
/// `Ok(true)`: provisioning was resumed.
async fn verify_saved(connection: &ConnectionRuntime) -> Result<bool, String> {
    connection
        .graph
        .validate_saved_credentials()
        .await
        .map_err(|e| {
            format!("The token was saved, but Entra's test of the saved credentials failed: {e}")
        })?;
    let job = connection.graph.get_job().await.map_err(|e| {
        format!("The token was saved and tested, but reading the provisioning job failed: {e}")
    })?;
    if matches!(job.status, JobStatus::Quarantine | JobStatus::Paused) {
        connection.graph.start_job().await.map_err(|e| {
            format!("The token was saved and tested, but restarting provisioning failed: {e}")
        })?;
        return Ok(true);
    }
    Ok(false)
}

/// After the old token's deletion was confirmed: the saved credentials must still work, or
/// the wrong token was deleted.
async fn retest(engine: Arc<Engine>, id: RotationId) {
    let Some(connection) = engine.connection_of(id) else {
        engine.finish_retest(id, None).await;
        return;
    };
    match connection.graph.validate_saved_credentials().await {
        Ok(()) => engine.finish_retest(id, Some(&connection.name)).await,
        Err(error) => {
            let reason = format!(
                "After the old token's deletion, Entra can no longer authenticate to AWS ({error}). \
                 The token that was deleted may have been the new one: generate a new token and enter it."
            );
            fail(&engine, id, Stage::AfterDeletion, reason).await;
            engine.finish_retest(id, None).await;
        }
    }
}
