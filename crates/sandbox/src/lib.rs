//! Local fakes of the remote systems: AWS IAM Identity Center's SCIM endpoint, Microsoft
//! login and Graph, and Slack ([`slack`]). Each is a real server on a loopback port, backed
//! by a model of the remote service (tokens that expire, a job that gets quarantined,
//! messages and modals), not canned replies, so a test fails when the bot would fail against
//! the real thing. Tests and the `demo` command use them; the AWS and Microsoft fakes inject
//! faults ([`Faults`]) and record the requests they receive ([`Recorded`]: method and path).

pub mod aws;
mod fault;
pub mod microsoft;
mod random;
mod server;
pub mod slack;
mod world;

pub use world::{SandboxWorld, people};

pub use fault::{Fault, Faults, Recorded, Route};

use aws::{FakeAws, GeneratedToken};
use microsoft::FakeMicrosoft;
use scim_domain::clock::SharedClock;
use url::Url;

/// The AWS region of the sandbox's identity store.
pub const SANDBOX_REGION: &str = "eu-west-1";

/// Both fakes, wired together as a working connection: an AWS identity store with one
/// token, and an Entra tenant whose AWS IAM Identity Center app has that token saved and an
/// active provisioning job.
pub struct Sandbox {
    pub clock: SharedClock,
    pub aws: FakeAws,
    pub microsoft: FakeMicrosoft,
    /// The identity store's tenant id (in the SCIM endpoint URL).
    pub aws_tenant: String,
    /// The token Entra uses now: the one a rotation replaces.
    pub current_token: GeneratedToken,
}

impl Sandbox {
    pub async fn start(clock: SharedClock) -> Sandbox {
        Sandbox::start_with_token_age(clock, chrono::Duration::zero()).await
    }

    /// Like [`Sandbox::start`], with the current token created `age` ago (a token created
    /// 355 days ago expires in 10 days).
    pub async fn start_with_token_age(clock: SharedClock, age: chrono::Duration) -> Sandbox {
        let aws = FakeAws::start(clock.clone()).await;
        let aws_tenant = aws.add_tenant(SANDBOX_REGION);
        let current_token = aws
            .generate_token_created_at(&aws_tenant, clock.now() - age)
            .expect("a new tenant has room for a token");
        let microsoft = FakeMicrosoft::start(clock.clone(), aws.clone()).await;
        microsoft.configure(aws.scim_url(&aws_tenant).as_str(), &current_token.secret);
        Sandbox {
            clock,
            aws,
            microsoft,
            aws_tenant,
            current_token,
        }
    }

    /// The identity store's SCIM endpoint (Entra's `BaseAddress`).
    pub fn scim_url(&self) -> Url {
        self.aws.scim_url(&self.aws_tenant)
    }
}
