//! The bot through Socket Mode: it opens the WebSocket that `apps.connections.open` hands out
//! (a `ws://127.0.0.1` URL from the fake), and acknowledges every envelope.

use crate::support::story::Setting;
use scim_rotator::config::SlackMode;
use scim_rotator::rotation::RotationState;
use scim_rotator::slack::ids;
use scim_sandbox::people::*;

#[tokio::test]
async fn a_rotation_is_requested_and_approved_over_socket_mode() {
    Setting::over(SlackMode::Socket)
        .run(async |s| {
            let slack = s.slack();
            assert!(!slack.calls_to("apps.connections.open").is_empty());

            let (reply, _) = s.rotate_by_command(MEMBER).await;
            assert!(
                reply.contains("requested"),
                "the ack carries the reply: {reply}"
            );
            s.lead().clicks(ids::APPROVE).await;
            s.thread().waits_for_button(ids::ENTER_TOKEN).await;
            assert_eq!(s.state(), RotationState::AwaitingNewToken);

            // A redelivered event (retry_attempt 1) is acknowledged and dropped.
            let event = slack.event_callback(slack.app_home_opened(LEAD));
            slack.send_event(event.clone()).await.unwrap();
            let retried = slack
                .envelope(scim_sandbox::slack::EnvelopeKind::EventsApi, event)
                .retried(1, "timeout");
            slack
                .send_and_await_ack(retried, crate::support::DEADLINE)
                .await
                .unwrap();
            slack
                .wait_until(crate::support::DEADLINE, |s| s.home_view(LEAD))
                .await
                .unwrap();

            s.assert_every_envelope_acked();
            assert_eq!(
                slack.calls_to("views.publish").len(),
                1,
                "the redelivered event was dropped"
            );
        })
        .await;
}
