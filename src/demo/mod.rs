//! `scim-rotator demo`: the real bot doing its real job against the sandbox, with a team
//! playing its part. Nothing is mocked inside the bot: it runs in HTTP mode, the fake Slack
//! signs every request as Slack does, and the fake Entra and AWS keep the state a rotation
//! changes. The demo is also a smoke test: it fails (non-zero exit) naming the step that
//! did not happen as expected.

mod channel;
mod page_text;
pub mod web;
pub mod wiring;

use crate::app::{RunOptions, RunningApp};
use crate::clock::{Clock, ManualClock};
use crate::config::SlackMode;
use crate::retry::RetryPolicy;
use crate::rotation::{Actor, RotationState};
use crate::slack::api::Pacing;
use crate::slack::ids;
use crate::store::AuditFilter;
use anyhow::{Context, bail};
use channel::Names;
use chrono::{DateTime, Duration, Utc};
use scim_sandbox::people::*;
use scim_sandbox::slack::{FakeSlack, ViewOutcome, plain_text_value};
use scim_sandbox::{SANDBOX_REGION, SandboxWorld};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::Arc;
use wiring::WorldConfig;

/// How long the demo waits for the bot to show a step before it calls the step failed.
const STEP_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// The connection's current token was created this long ago: it expires in 10 days.
const TOKEN_AGE_DAYS: i64 = 355;

pub struct DemoOptions {
    /// Wait for Enter between steps.
    pub step: bool,
    /// Also print the raw Block Kit and the API calls of each step.
    pub json: bool,
    /// Where the demo's clock starts.
    pub start: DateTime<Utc>,
    /// Slack's limits for a person watching; unpaced when a test runs the demo.
    pub slack_pacing: Pacing,
    /// Step 1 through the one-time web form (`[intake] web_form = true, slack_modal =
    /// false`) instead of the Slack modal.
    pub web_form: bool,
}

struct Demo<'a> {
    out: &'a mut dyn Write,
    input: &'a mut dyn BufRead,
    options: DemoOptions,
    clock: ManualClock,
    world: SandboxWorld,
    app: RunningApp,
    names: Names,
    /// What was already printed: message ts → edits, ephemerals and calls seen.
    shown: HashMap<String, usize>,
    ephemerals_shown: usize,
    calls_shown: usize,
    step: usize,
}

/// Runs the demo, writing to `out`. `Err` names the step that did not happen as expected.
pub async fn run(
    options: DemoOptions,
    out: &mut dyn Write,
    input: &mut dyn BufRead,
) -> anyhow::Result<()> {
    let dir =
        tempfile::tempdir().context("creating a temporary directory for the demo's database")?;
    let clock = ManualClock::new(options.start);
    let world = SandboxWorld::start(Arc::new(clock.clone()), Duration::days(TOKEN_AGE_DAYS)).await;
    let mut config = world.config(&dir.path().join("scim-rotator.db"), SlackMode::Http);
    if options.web_form {
        wiring::enable_web_form(&mut config, false).context("choosing a port for the web form")?;
    }
    let app = RunningApp::start(
        &config,
        RunOptions {
            clock: Arc::new(clock.clone()),
            retry: RetryPolicy::default(),
            run_scheduler: false,
            slack_pacing: options.slack_pacing,
        },
    )
    .await
    .context("starting the bot")?;
    let names = Names(
        [
            (LEAD, "lee"),
            (GROUP_LEAD, "grace"),
            (MEMBER, "dana"),
            (OTHER_MEMBER, "sam"),
            (LEADS_GROUP, "identity-leads"),
        ]
        .into_iter()
        .map(|(id, name)| (id.to_owned(), name.to_owned()))
        .collect(),
    );
    let mut demo = Demo {
        out,
        input,
        options,
        clock,
        world,
        app,
        names,
        shown: HashMap::new(),
        ephemerals_shown: 0,
        calls_shown: 0,
        step: 0,
    };
    let result = demo.play().await;
    let Demo { app, .. } = demo;
    app.shutdown().await;
    drop(dir); // the database goes with the temporary directory: nothing is left behind
    result
}

impl Demo<'_> {
    fn slack(&self) -> &FakeSlack {
        &self.world.slack
    }

    fn line(&mut self, text: &str) -> anyhow::Result<()> {
        writeln!(self.out, "{text}")?;
        Ok(())
    }

    /// A new step of the story: its title, then (with --step) a pause.
    fn scene(&mut self, title: &str) -> anyhow::Result<()> {
        self.step += 1;
        if self.options.step && self.step > 1 {
            write!(self.out, "\n(press Enter) ")?;
            self.out.flush()?;
            let mut ignored = String::new();
            self.input.read_line(&mut ignored)?;
        }
        writeln!(self.out, "\n── {}. {title}", self.step)?;
        Ok(())
    }

    /// Prints what appeared or changed in the channel since the last call.
    fn show_changes(&mut self) -> anyhow::Result<()> {
        let messages = self.slack().messages(CHANNEL);
        let mut blocks = Vec::new();
        for message in messages {
            if self.shown.get(&message.ts) == Some(&message.edits) {
                continue;
            }
            self.shown.insert(message.ts.clone(), message.edits);
            blocks.push(channel::framed(&message, &self.names));
            if self.options.json {
                blocks.push(format!("  Block Kit: {}", message.blocks));
            }
        }
        let ephemerals = self.slack().ephemerals();
        for ephemeral in ephemerals.iter().skip(self.ephemerals_shown) {
            blocks.push(channel::framed_ephemeral(ephemeral, &self.names));
        }
        self.ephemerals_shown = ephemerals.len();
        if self.options.json {
            let calls = self.slack().calls();
            for call in calls.iter().skip(self.calls_shown) {
                blocks.push(format!("  API call {} {}", call.method, call.params));
            }
            self.calls_shown = calls.len();
        }
        for block in blocks {
            self.line(&format!("\n{block}"))?;
        }
        Ok(())
    }

    /// Lets time pass in the story (who did what and when shows real gaps).
    fn minutes_pass(&self, minutes: i64) {
        self.clock.advance(Duration::minutes(minutes));
    }

    /// Waits until some message in the channel has a button `action_id`; returns its ts.
    async fn button(&self, action_id: &str, what: &str) -> anyhow::Result<String> {
        self.slack()
            .wait_until(STEP_DEADLINE, move |slack| {
                slack.newest_with_button(CHANNEL, action_id).map(|m| m.ts)
            })
            .await
            .map_err(|_| anyhow::anyhow!("the bot did not show {what}"))
    }

    /// Waits until the latest rotation is in `state` and `also` holds for it.
    async fn rotation_state_where(
        &self,
        state: RotationState,
        also: impl Fn(&crate::rotation::Rotation) -> bool,
        what: &str,
    ) -> anyhow::Result<crate::rotation::Rotation> {
        let store = Arc::clone(self.app.engine.store());
        let started = std::time::Instant::now();
        loop {
            let latest = store.latest_rotations()?.into_iter().next();
            if let Some(rotation) = latest.filter(|r| r.state == state && also(r)) {
                return Ok(rotation);
            }
            if started.elapsed() > STEP_DEADLINE {
                bail!("{what}: the rotation did not reach '{}'", state.describe());
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    async fn rotation_state(
        &self,
        state: RotationState,
        what: &str,
    ) -> anyhow::Result<crate::rotation::Rotation> {
        self.rotation_state_where(state, |_| true, what).await
    }

    async fn play(&mut self) -> anyhow::Result<()> {
        let world = &self.world;
        let old = world.cloud.current_token.clone();
        let tenant = world.cloud.aws_tenant.clone();
        writeln!(
            self.out,
            "scim-rotator demo: the real bot against local fakes of Slack, Microsoft Entra (login + Graph)\n\
             and AWS IAM Identity Center (SCIM), all on 127.0.0.1. No account, no network.\n\n\
             The team in #{CHANNEL_NAME}: lee (team lead), grace (team lead, via the @identity-leads group),\n\
             dana and sam (members). Connection {CONNECTION}: Entra provisions into AWS ({SANDBOX_REGION}) with\n\
             access token {} created {} — it expires in 10 days.",
            old.id,
            old.created.format("%Y-%m-%d")
        )?;

        self.scene("Lee registers the token the connection uses now (/scim register, or `scim-rotator tokens add`)")?;
        let lead = Actor::user(LEAD, true);
        let registered = self
            .app
            .engine
            .register_token(CONNECTION, &old.id, old.created, &lead)
            .await?;
        let said = crate::slack::render::outcome_reply(&registered).unwrap_or_default();
        self.line(&format!("  {said}"))?;

        self.scene(
            "The scheduler's sweep finds the token 10 days from expiry and warns the channel",
        )?;
        let report = self.app.scheduler.sweep(self.clock.now()).await;
        for line in report.lines() {
            self.line(&format!("  sweep: {line}"))?;
        }
        let warning = self
            .button(ids::START_ROTATION, "the expiry warning")
            .await?;
        self.caught_up().await?;
        self.show_changes()?;

        self.scene("Dana (a member) clicks Start rotation")?;
        self.minutes_pass(5);
        self.slack()
            .click(
                &self.app_url(),
                MEMBER,
                CHANNEL,
                &warning,
                ids::START_ROTATION,
            )
            .await?;
        let approval = self.button(ids::APPROVE, "the approval request").await?;
        self.caught_up().await?;
        self.show_changes()?;

        self.scene("Sam (not a team lead) tries to approve — and is told why not")?;
        self.minutes_pass(1);
        self.slack()
            .click(
                &self.app_url(),
                OTHER_MEMBER,
                CHANNEL,
                &approval,
                ids::APPROVE,
            )
            .await?;
        self.slack()
            .wait_until(STEP_DEADLINE, |s| {
                s.ephemerals().into_iter().find(|e| e.user == OTHER_MEMBER)
            })
            .await
            .map_err(|_| anyhow::anyhow!("Sam was not told that only a team lead can approve"))?;
        self.show_changes()?;
        self.rotation_state(RotationState::AwaitingApproval, "after Sam's click")
            .await?;

        self.scene("Lee (team lead) approves; step 1 appears")?;
        self.minutes_pass(3);
        self.slack()
            .click(&self.app_url(), LEAD, CHANNEL, &approval, ids::APPROVE)
            .await?;
        let step1 = self
            .button(ids::ENTER_TOKEN, "step 1 (generate a new token)")
            .await?;
        self.caught_up().await?;
        self.show_changes()?;

        self.scene("Lee generates a new access token in the AWS console (the fake AWS)")?;
        self.minutes_pass(4);
        let new = self
            .world
            .cloud
            .aws
            .generate_token(&tenant)
            .map_err(|e| anyhow::anyhow!("AWS refused a new token: {e:?}"))?;
        self.line(&format!(
            "  IAM Identity Center → Settings → Identity source → Actions → Manage provisioning → Access tokens:\n  \
             generated token {} (the secret is shown once; Lee copies it)",
            new.id
        ))?;

        let typo = if self.options.web_form {
            self.enter_through_web_form(&step1, &new, &old).await?
        } else {
            self.enter_through_modal(&step1, &new, &old).await?
        };
        let step2 = self
            .button(ids::CONFIRM_DELETED, "step 2 (delete the old token)")
            .await?;
        self.caught_up().await?;
        self.show_changes()?;
        if self.world.cloud.microsoft.saved_token_fingerprint() != Some(new.fingerprint()) {
            bail!("Entra does not hold the new token");
        }

        self.scene("Lee deletes the old token in the AWS console and confirms")?;
        self.minutes_pass(3);
        self.world
            .cloud
            .aws
            .delete_token(&tenant, &old.id)
            .map_err(|e| anyhow::anyhow!("AWS did not delete the old token: {e:?}"))?;
        self.line(&format!("  AWS console: deleted token {}", old.id))?;
        self.slack()
            .click(&self.app_url(), LEAD, CHANNEL, &step2, ids::CONFIRM_DELETED)
            .await?;
        self.rotation_state(RotationState::Completed, "after the confirmation")
            .await?;
        self.caught_up().await?;
        self.app.engine.drain(STEP_DEADLINE).await;
        self.show_changes()?;

        self.scene("The channel, as the team reads it now")?;
        let whole = channel::whole_channel(self.slack(), CHANNEL, &self.names);
        self.line(&format!("\n{whole}"))?;

        self.scene("The audit log (scim-rotator audit export) and its verification")?;
        let records = self
            .app
            .engine
            .store()
            .audit_records(&AuditFilter::default())?;
        for record in &records {
            let who = self
                .names
                .0
                .get(&record.actor)
                .cloned()
                .unwrap_or_else(|| record.actor.clone());
            self.line(&format!(
                "  {:>3}  {}  {:<8} {:<30} {}",
                record.seq,
                record.at.format("%Y-%m-%d %H:%M"),
                who,
                record.action,
                record.details
            ))?;
        }
        match self.app.engine.store().verify_audit()? {
            Ok(count) => self.line(&format!(
                "\n  audit verify: intact, {count} records, hash chain verified"
            ))?,
            Err(broken) => bail!("audit verify failed: {broken}"),
        }

        let current = self
            .app
            .engine
            .store()
            .current_token(CONNECTION)?
            .context("no current token after the rotation")?;
        if current.token_id.as_deref() != Some(new.id.as_str()) {
            bail!("the bot does not record the new token as current");
        }
        if self.slack().all_bot_output().contains(&new.secret)
            || self.slack().all_bot_output().contains(&typo)
        {
            bail!("a token reached Slack");
        }
        self.line(&format!(
            "\nDone: Entra now uses token {} (expires {}), the old token is deleted, and the audit log\n\
             records who requested, approved, entered the token and confirmed the deletion.",
            new.id,
            current.expires_at.map_or("unknown".to_owned(), |t| t.format("%Y-%m-%d").to_string())
        ))?;
        Ok(())
    }

    /// Step 1 through the web form: the link in an ephemeral, the page as Lee sees it, a typo
    /// (AWS rejects it, the page says so), a new link and the right token, followed on the
    /// page to the end. Returns the typo, which must appear nowhere.
    async fn enter_through_web_form(
        &mut self,
        step1: &str,
        new: &scim_sandbox::aws::GeneratedToken,
        old: &scim_sandbox::aws::GeneratedToken,
    ) -> anyhow::Result<String> {
        self.scene("Lee clicks Enter new token: the bot answers with a private link to its web form, not a modal")?;
        let link = self.web_form_link(step1, 1).await?;
        self.show_changes()?;
        if !self.slack().open_views(LEAD).is_empty() {
            bail!("a modal opened although the form is the only way in");
        }

        self.scene(
            "Lee opens the link: the page, as a browser shows it (the token field is masked)",
        )?;
        let page = WebForm::open(&link).await?;
        self.line(&indent(&page_text::to_text(&page.html), "  │ "))?;

        self.scene("Lee pastes the token with a typo: AWS rejects it, and the page says so")?;
        let typo = with_a_typo(&new.secret);
        let watching = page.submit(&typo, &new.id).await?;
        self.typo_refused(old).await?;
        self.line(&indent(
            &page_text::to_text(&watching.reload().await?),
            "  │ ",
        ))?;
        self.show_changes()?;

        self.scene(
            "Lee asks for a new link and enters the token correctly; the page follows the checks",
        )?;
        self.minutes_pass(2);
        let link = self.web_form_link(step1, 2).await?;
        self.show_changes()?;
        let watching = WebForm::open(&link)
            .await?
            .submit(&new.secret, &new.id)
            .await?;
        self.rotation_state(
            RotationState::AwaitingOldTokenDeletion,
            "after the correct token",
        )
        .await?;
        self.caught_up().await?;
        let done = watching.reload().await?;
        if !done.contains("The new token works") {
            bail!("the page does not show that the new token works");
        }
        self.line(&indent(&page_text::to_text(&done), "  │ "))?;
        self.line(&format!(
            "\n  And the used link, opened again without the page's cookie: HTTP {}",
            WebForm::status_of(&link).await?
        ))?;
        Ok(typo)
    }

    /// Lee clicks *Enter new token* and gets the `n`-th link (counting from 1).
    async fn web_form_link(&mut self, step1: &str, n: usize) -> anyhow::Result<String> {
        self.slack()
            .click(&self.app_url(), LEAD, CHANNEL, step1, ids::ENTER_TOKEN)
            .await?;
        let text = self
            .slack()
            .wait_until(STEP_DEADLINE, move |s| {
                s.ephemerals()
                    .into_iter()
                    .filter(|e| e.user == LEAD && e.text.contains("/intake/"))
                    .nth(n - 1)
                    .map(|e| e.text)
            })
            .await
            .map_err(|_| anyhow::anyhow!("Lee got no link to the web form"))?;
        let start = text.find("<http").context("no link in the message")? + 1;
        let end = start + text[start..].find('|').context("no link label")?;
        let link = text[start..end].to_owned();
        self.line(&format!("  The link: {link}"))?;
        Ok(link)
    }

    /// Step 1 through the Slack modal: a typo first (AWS rejects it), then the right token.
    /// Returns the typo, which must appear nowhere.
    async fn enter_through_modal(
        &mut self,
        step1: &str,
        new: &scim_sandbox::aws::GeneratedToken,
        old: &scim_sandbox::aws::GeneratedToken,
    ) -> anyhow::Result<String> {
        self.scene("Lee clicks Enter new token: a private modal opens, for Lee only")?;
        let view = self.open_token_modal(step1).await?;
        self.line(&format!(
            "\n{}",
            indent(
                &channel::view_text(
                    &self.slack().view(&view).map(|v| v.view).unwrap_or_default(),
                    &self.names
                ),
                "  "
            )
        ))?;

        self.scene("Lee pastes the token with a typo: AWS rejects it, the thread says so, nothing is saved")?;
        let typo = with_a_typo(&new.secret);
        self.submit_token(&view, &typo, &new.id).await?;
        self.typo_refused(old).await?;
        self.show_changes()?;

        self.scene(
            "Lee pastes it again, correctly: AWS ✓, Entra Test Connection ✓, saved ✓, verified ✓",
        )?;
        self.minutes_pass(2);
        let view = self.open_token_modal(step1).await?;
        self.submit_token(&view, &new.secret, &new.id).await?;
        self.rotation_state(
            RotationState::AwaitingOldTokenDeletion,
            "after the correct token",
        )
        .await?;
        Ok(typo)
    }

    /// Waits until the bot's threads show every change so far.
    /// After a mistyped token: the rotation waits for a token again, with AWS's refusal as
    /// the reason, and Entra still holds the old token.
    async fn typo_refused(&self, old: &scim_sandbox::aws::GeneratedToken) -> anyhow::Result<()> {
        self.rotation_state_where(
            RotationState::AwaitingNewToken,
            |r| r.last_error.is_some(),
            "after the typo",
        )
        .await?;
        if self.world.cloud.microsoft.saved_token_fingerprint() != Some(old.fingerprint()) {
            bail!("after the typo: Entra's saved token changed");
        }
        self.caught_up().await
    }

    async fn caught_up(&self) -> anyhow::Result<()> {
        tokio::time::timeout(STEP_DEADLINE, self.app.presented())
            .await
            .map_err(|_| anyhow::anyhow!("the bot did not update the rotation's thread"))
    }

    fn app_url(&self) -> url::Url {
        url::Url::parse(&format!("http://{}", self.app.addr)).expect("a socket address makes a URL")
    }

    async fn open_token_modal(&mut self, step1: &str) -> anyhow::Result<String> {
        let before = self.slack().open_views(LEAD).len();
        self.slack()
            .click(&self.app_url(), LEAD, CHANNEL, step1, ids::ENTER_TOKEN)
            .await?;
        self.slack()
            .wait_until(STEP_DEADLINE, move |s| {
                let views = s.open_views(LEAD);
                (views.len() > before)
                    .then(|| views.last().map(|v| v.id.clone()))
                    .flatten()
            })
            .await
            .map_err(|_| anyhow::anyhow!("the token modal did not open"))
    }

    async fn submit_token(
        &mut self,
        view: &str,
        secret: &str,
        token_id: &str,
    ) -> anyhow::Result<()> {
        let submitted = self
            .slack()
            .submit_view(
                &self.app_url(),
                LEAD,
                view,
                &[
                    (ids::TOKEN_BLOCK, ids::VALUE, plain_text_value(secret)),
                    (ids::TOKEN_ID_BLOCK, ids::VALUE, plain_text_value(token_id)),
                ],
            )
            .await?;
        if submitted.outcome != ViewOutcome::Closed {
            bail!(
                "the modal did not close after a valid paste: {:?}",
                submitted.outcome
            );
        }
        self.line("  (modal closed; the bot checks the token in the background)")?;
        Ok(())
    }
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|line| format!("{prefix}{line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The demo's browser: plain HTTP, keeping the one cookie the form sets.
struct WebForm {
    http: reqwest::Client,
    link: String,
    html: String,
    cookie: Option<String>,
}

impl WebForm {
    fn client() -> reqwest::Client {
        crate::outbound::client(std::time::Duration::from_secs(30))
    }

    async fn open(link: &str) -> anyhow::Result<WebForm> {
        let http = Self::client();
        let response = http.get(link).send().await?;
        if !response.status().is_success() {
            bail!("the web form answered HTTP {}", response.status().as_u16());
        }
        Ok(WebForm {
            http,
            link: link.to_owned(),
            html: response.text().await?,
            cookie: None,
        })
    }

    async fn status_of(link: &str) -> anyhow::Result<u16> {
        Ok(Self::client().get(link).send().await?.status().as_u16())
    }

    /// Fills the form as a person does and submits it; the bot answers 303 to the page that
    /// follows the checks.
    async fn submit(mut self, token: &str, token_id: &str) -> anyhow::Result<WebForm> {
        let at = self
            .html
            .find("name=\"csrf\" value=\"")
            .context("no CSRF field on the page")?
            + 19;
        let csrf = self.html[at..]
            .split('"')
            .next()
            .unwrap_or_default()
            .to_owned();
        let response = self
            .http
            .post(&self.link)
            .form(&[
                ("csrf", csrf.as_str()),
                ("token", token),
                ("token_id", token_id),
            ])
            .send()
            .await?;
        if response.status().as_u16() != 303 {
            bail!(
                "the web form did not take the token: HTTP {}",
                response.status().as_u16()
            );
        }
        self.cookie = response
            .headers()
            .get(reqwest::header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_owned);
        Ok(self)
    }

    /// The page as it stands now (the script on it asks the same every second).
    async fn reload(&self) -> anyhow::Result<String> {
        let mut request = self.http.get(&self.link);
        if let Some(cookie) = &self.cookie {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        Ok(request.send().await?.text().await?)
    }
}

/// `secret` with its last character changed: the typo the story pastes first.
fn with_a_typo(secret: &str) -> String {
    let mut typo = secret.to_owned();
    let last = typo.pop().unwrap_or('A');
    typo.push(if last == 'A' { 'B' } else { 'A' });
    typo
}
