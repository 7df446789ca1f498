//! How Slack call failures are classified: what surely had no effect may be retried.

use scim_rotator::slack::api::{SlackApi, SlackApiError};
use secrecy::SecretString;

#[tokio::test]
async fn a_refused_connection_is_unreachable_and_surely_not_applied() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }; // closed again: nothing listens there now
    let url = url::Url::parse(&format!("http://127.0.0.1:{port}/api")).unwrap();
    let api = SlackApi::new(&url, &SecretString::from("xoxb-test")).unwrap();
    let error = api
        .post_message("C1", None, "hello".to_owned(), vec![])
        .await
        .unwrap_err();
    assert_eq!(
        error,
        SlackApiError::Unreachable {
            method: "chat.postMessage"
        }
    );
    assert!(error.surely_not_applied());
    assert!(
        !SlackApiError::Transport {
            method: "chat.postMessage"
        }
        .surely_not_applied()
    );
}
