//! The whole sandbox as the bot sees it: AWS, Microsoft and Slack fakes with a team in a
//! channel. The end-to-end tests and `scim-rotator demo` both start from here, so there is one
//! model of each remote system. (The configuration that points the bot at them is the
//! product's: `scim_rotator::demo::wiring`.)

use super::Sandbox;
use super::slack::FakeSlack;
use scim_domain::clock::SharedClock;

/// The people and places of the sandbox workspace.
pub mod people {
    /// The channel warnings and rotations go to.
    pub const CHANNEL: &str = "C0IDENTITY";
    pub const CHANNEL_NAME: &str = "identity-ops";
    /// A team lead named in `slack.approvers`.
    pub const LEAD: &str = "U0LEE";
    /// A second team lead, member of the approver group only.
    pub const GROUP_LEAD: &str = "U0GRACE";
    /// The approver group.
    pub const LEADS_GROUP: &str = "S0LEADS";
    /// Team members who are not approvers.
    pub const MEMBER: &str = "U0DANA";
    pub const OTHER_MEMBER: &str = "U0SAM";
    /// The connection's name in the configuration.
    pub const CONNECTION: &str = "prod-org";
    /// The AWS account the connection's identity store belongs to.
    pub const AWS_ACCOUNT: &str = "123456789012";
}

use people::*;

pub struct SandboxWorld {
    pub clock: SharedClock,
    pub cloud: Sandbox,
    pub slack: FakeSlack,
}

impl SandboxWorld {
    /// Starts every fake. The connection's current AWS token was created `token_age` ago.
    pub async fn start(clock: SharedClock, token_age: chrono::Duration) -> SandboxWorld {
        let cloud = Sandbox::start_with_token_age(clock.clone(), token_age).await;
        let slack = FakeSlack::start(clock.clone()).await;
        slack.add_channel(CHANNEL, CHANNEL_NAME);
        slack.add_user(LEAD, "lee");
        slack.add_user(GROUP_LEAD, "grace");
        slack.add_user(MEMBER, "dana");
        slack.add_user(OTHER_MEMBER, "sam");
        slack.add_usergroup(LEADS_GROUP, "identity-leads", &[GROUP_LEAD]);
        SandboxWorld {
            clock,
            cloud,
            slack,
        }
    }
}
