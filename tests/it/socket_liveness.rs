//! A Socket Mode connection whose far end stops answering without closing (a half-open
//! socket) is noticed by missing pongs and replaced, while the other connection, opened
//! before, keeps acknowledging envelopes.

use crate::support::story::Setting;
use scim_rotator::config::SlackMode;
use scim_rotator::slack::socket::SocketLiveness;
use scim_sandbox::people::*;
use std::time::{Duration, Instant};

/// Production's shape (ping, give up after missed pongs) at 1 s instead of 5 s, so the
/// replacement is seen in seconds; `production_liveness_notices_a_silent_socket_within_30_seconds`
/// (unit test) checks production's bound.
const FAST: SocketLiveness = SocketLiveness {
    ping_interval_secs: 1,
    failure_threshold: 2,
    initial_backoff_secs: 0,
};

/// Room for a loaded two-core machine on top of the computed bound.
const SLACK: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_silent_socket_is_replaced_and_envelopes_are_acked_throughout() {
    Setting::over(SlackMode::Socket)
        .socket_liveness(FAST)
        .run(async |app| {
            let slack = app.slack();
            slack
                .wait_for_socket_connections(2, crate::support::DEADLINE)
                .await
                .unwrap();
            let opened = slack.socket_connections_opened();
            let silenced = slack
                .silence_socket_connection()
                .expect("a live connection");
            let went_silent = Instant::now();

            // While the dead one is not yet noticed, the other connection acks.
            let during = slack
                .send_event(slack.event_callback(slack.app_home_opened(LEAD)))
                .await
                .expect("acked while one connection is silent");
            assert_ne!(during.connection, silenced);

            slack
                .wait_until(FAST.worst_case_detection() + SLACK, |s| {
                    (s.socket_connections_opened() > opened && s.socket_connections() >= 2)
                        .then_some(())
                })
                .await
                .expect("a replacement connection was opened");
            let took = went_silent.elapsed();
            assert!(
                took <= FAST.worst_case_detection() + SLACK,
                "replaced after {took:?}"
            );
            assert!(
                slack.calls_to("apps.connections.open").len() as u64 > opened,
                "the replacement asked Slack for a fresh URL"
            );

            let after = slack
                .send_event(slack.event_callback(slack.app_home_opened(MEMBER)))
                .await
                .expect("acked after the replacement");
            assert_ne!(after.connection, silenced);
            app.assert_every_envelope_acked();
        })
        .await;
}
