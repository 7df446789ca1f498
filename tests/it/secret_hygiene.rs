//! The SCIM token must appear nowhere but in the requests that carry it: not in any log line
//! (at trace, everything enabled), not in the database file, not in any error text.

use crate::support::*;
use scim_rotator::rotation::{Command, RotationState};

#[test]
fn the_token_appears_in_no_log_database_or_error() {
    crate::support::isolated::run(
        "secret_hygiene::the_token_appears_in_no_log_database_or_error_alone",
    );
}

#[tokio::test]
#[ignore = "installs a log subscriber: run alone by `the_token_appears_in_no_log_database_or_error`"]
async fn the_token_appears_in_no_log_database_or_error_alone() {
    if !crate::support::isolated::inside() {
        return;
    }
    let logs = crate::support::hygiene::capture_all_logs();

    let env = TestEnv::start().await;
    let rotation = env.approved_rotation().await;

    // First a token AWS does not know (a typo), then the real one.
    let typo = "tYpOtOkEn-0000000000000000000000000000000000000000";
    env.submit(rotation.id, typo, None).await;
    let rejected = env
        .wait_for(rotation.id, RotationState::AwaitingNewToken)
        .await;
    let new = env.generate_token();
    env.submit(rotation.id, &new.secret, Some(&new.id)).await;
    let verified = env
        .wait_for(rotation.id, RotationState::AwaitingOldTokenDeletion)
        .await;
    env.sandbox
        .aws
        .delete_token(&env.sandbox.aws_tenant, &env.sandbox.current_token.id)
        .unwrap();
    env.engine
        .apply(rotation.id, Command::ConfirmOldTokenDeleted, &lead())
        .await
        .unwrap();
    assert!(env.engine.drain(DEADLINE).await);

    // The default transport, Socket Mode: the token travels in an envelope over the WebSocket.
    let socket_token = rotate_over_socket_mode().await;

    let log_text = logs.text();
    assert!(
        log_text.contains("rotation changed"),
        "logs were captured at all"
    );
    assert!(
        log_text.contains(new.fingerprint().as_str()),
        "the fingerprint is logged instead"
    );

    let mut files = Vec::new();
    for entry in std::fs::read_dir(env.dir.path()).unwrap() {
        files.push(std::fs::read(entry.unwrap().path()).unwrap()); // bot.db, -wal, -shm
    }
    let errors: Vec<String> = [rejected.last_error.clone(), verified.last_error.clone()]
        .into_iter()
        .flatten()
        .collect();
    let audit =
        serde_json::to_string(&env.store.audit_records(&Default::default()).unwrap()).unwrap();
    let debug = format!(
        "{:?} {:?}",
        env.store.get_rotation(rotation.id).unwrap(),
        env.store.list_tokens(true).unwrap()
    );

    assert!(
        !log_text.contains(&socket_token),
        "token from Socket Mode in the logs"
    );
    for secret in [typo, new.secret.as_str()] {
        assert!(!log_text.contains(secret), "token in the logs");
        for bytes in &files {
            assert!(
                !contains(bytes, secret.as_bytes()),
                "token in a database file"
            );
        }
        assert!(
            !errors.iter().any(|e| e.contains(secret)),
            "token in an error text"
        );
        assert!(!audit.contains(secret), "token in the audit log");
        assert!(!debug.contains(secret), "token in a Debug print");
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A lead enters a token through the modal over Socket Mode; returns the token.
async fn rotate_over_socket_mode() -> String {
    use scim_rotator::config::SlackMode;
    use scim_rotator::slack::ids;
    use scim_sandbox::people::*;
    use scim_sandbox::slack::{Transport, plain_text_value};

    let app = crate::support::app::TestApp::start(SlackMode::Socket).await;
    let slack = app.slack();
    slack
        .wait_for_socket_connections(1, DEADLINE)
        .await
        .unwrap();
    let (_, approval) = app.rotate_by_command(Transport::SocketMode, MEMBER).await;
    slack
        .click(
            Transport::SocketMode,
            LEAD,
            CHANNEL,
            &approval.ts,
            ids::APPROVE,
        )
        .await
        .unwrap();
    let step1 = app.wait_for_button(&approval.ts, ids::ENTER_TOKEN).await;
    slack
        .click(
            Transport::SocketMode,
            LEAD,
            CHANNEL,
            &step1.ts,
            ids::ENTER_TOKEN,
        )
        .await
        .unwrap();
    let modal = crate::support::app::wait_for_modal(slack, LEAD).await;
    let new = app
        .world
        .cloud
        .aws
        .generate_token(&app.world.cloud.aws_tenant)
        .unwrap();
    slack
        .submit_view(
            Transport::SocketMode,
            LEAD,
            &modal.id,
            &[(ids::TOKEN_BLOCK, ids::VALUE, plain_text_value(&new.secret))],
        )
        .await
        .unwrap();
    app.wait_for_button(&approval.ts, ids::CONFIRM_DELETED)
        .await;
    assert!(
        !slack.all_bot_output().contains(&new.secret),
        "the token never reaches Slack"
    );
    new.secret
}
