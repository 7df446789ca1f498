//! `demo --web` in a real browser: a person plays the whole rotation by visible text and
//! labels, every message kind of the render snapshots is drawn on the page, and the binary
//! prints its loopback address and stops on SIGTERM leaving nothing behind.

use crate::support::browser::Browser;
use crate::support::{DEADLINE, start_time};
use scim_rotator::clock::ManualClock;
use scim_rotator::demo::web::{WebDemo, WebOptions};
use scim_rotator::rotation::RotationState;
use scim_rotator::slack::api::Pacing;
use scim_sandbox::people::*;
use scim_sandbox::slack::identity::BOT_TOKEN;
use serde_json::{Value, json};
use std::sync::Arc;

async fn start() -> WebDemo {
    WebDemo::start(WebOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        clock: Arc::new(ManualClock::new(start_time())),
        slack_pacing: Pacing::Unpaced,
    })
    .await
    .expect("the web demo starts")
}

/// The page's JSON for `user`, as the browser fetches it.
async fn page_state(demo: &WebDemo, user: &str) -> String {
    reqwest::get(demo.url().join(&format!("api/slack?as={user}")).unwrap())
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Clicks the button `button` inside the part of the page (`selector`) that shows `text`, as
/// a person picks it by what it says: the table row of a token (the AWS console's Delete
/// buttons all read "Delete"), the open modal (whose Cancel is not a message's Cancel).
async fn click_in(browser: &Browser, selector: &str, text: &str, button: &str) {
    let clicked = browser
        .script(
            "for (const part of document.querySelectorAll(arguments[0])) {
               if (!part.innerText.includes(arguments[1])) continue;
               for (const b of part.querySelectorAll('button')) {
                 if (b.innerText.trim() === arguments[2] && b.offsetParent !== null) { b.click(); return true; }
               }
             }
             return false;",
            vec![json!(selector), json!(text), json!(button)],
        )
        .await;
    assert_eq!(
        clicked,
        json!(true),
        "no {selector} showing {text:?} with {button:?}"
    );
}

async fn latest_state(demo: &WebDemo) -> RotationState {
    demo.app()
        .engine
        .store()
        .latest_rotations()
        .unwrap()
        .into_iter()
        .next()
        .expect("a rotation")
        .state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_rotates_the_token_in_the_browser() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let demo = start().await;
    let old = demo.world().cloud.current_token.clone();
    browser.open(demo.url().as_str()).await;

    // The expiry warning is in the channel; a member starts the rotation.
    let page = browser.wait_for_text("Start rotation").await;
    assert!(page.contains("# identity-ops"), "{page}");
    assert!(page.contains("expires in 10 days"), "{page}");
    // The team, with the roles the bot's configuration gives them.
    assert!(
        page.contains("grace\nteam lead (via @identity-leads)"),
        "{page}"
    );
    assert!(page.contains("lee\nteam lead"), "{page}");
    browser.screenshot("demo-web-01-warning").await;
    browser.click("dana").await;
    browser.click("Start rotation").await;
    let page = browser.wait_for_text("Approve").await;
    assert!(
        page.contains("Waiting for a team lead to approve"),
        "{page}"
    );
    assert!(page.contains("@dana requested it"), "{page}");

    // A member who is not a lead is told why not, and only they see it.
    browser.click("sam").await;
    browser.click("Approve").await;
    let page = browser.wait_for_text("Only visible to you").await;
    assert!(page.contains("team lead"), "{page}");
    browser.screenshot("demo-web-02-refused").await;
    assert_eq!(latest_state(&demo).await, RotationState::AwaitingApproval);
    browser.click("lee").await;
    browser.wait_for_text("Acting as").await;
    let lees = page_state(&demo, LEAD).await;
    assert!(!lees.contains("\"ephemeral\":true"), "{lees}");

    // A lead approves: step 1 appears in the thread.
    browser.click("Approve").await;
    let page = browser.wait_for_text("Enter new token").await;
    assert!(page.contains("Step 1 of 2"), "{page}");
    browser.screenshot("demo-web-03-step1").await;

    // The lead generates a token in the AWS console page: shown once, with a copy button.
    browser.click("AWS console").await;
    let page = browser.wait_for_text("Access tokens (1)").await;
    assert!(page.contains(&old.id), "{page}");
    browser.click("Generate token").await;
    let page = browser.wait_for_text("Access token generated").await;
    let secret = browser.value_of("Access token").await;
    let new_id = regex_lite::Regex::new(r"Access token ID\s+([0-9a-f-]{36})")
        .unwrap()
        .captures(&page)
        .unwrap_or_else(|| panic!("no token id shown:\n{page}"))[1]
        .to_owned();
    assert!(secret.len() > 20, "the secret is shown");
    assert!(
        demo.world()
            .cloud
            .aws
            .tokens(&demo.world().cloud.aws_tenant)
            .iter()
            .any(|t| t.id == new_id),
        "the page shows the model's new token"
    );
    browser.click("Copy").await;
    browser.wait_for_text("Copied").await;
    browser.screenshot("demo-web-04-aws-generated").await;
    browser.click("Done").await;
    let page = browser.wait_for_text("Access tokens (2)").await;
    assert!(!page.contains(&secret), "shown once only");
    // The two-token limit, as AWS enforces it.
    browser.click("Generate token").await;
    browser
        .wait_for_text("supports up to two access tokens at a time")
        .await;

    // Back in Slack: Enter new token opens the private modal; paste and submit.
    browser.click("Slack").await;
    browser.click("Enter new token").await;
    browser.wait_for_text("New SCIM token").await;
    // Too short: Slack's own check answers under the input, and the modal stays open.
    browser.fill("New access token", "too-short").await;
    browser.click("Check and save").await;
    browser.wait_for_text("This field needs").await;
    assert_eq!(latest_state(&demo).await, RotationState::AwaitingNewToken);
    browser.fill("New access token", &secret).await;
    browser.fill("Token id", &new_id).await;
    browser.screenshot("demo-web-05-modal").await;
    browser.click("Check and save").await;
    let page = browser.wait_for_text("I deleted the old token").await;
    assert!(page.contains("Step 2 of 2"), "{page}");
    assert!(
        !page.contains("New SCIM token"),
        "the modal closed:\n{page}"
    );
    browser.screenshot("demo-web-06-step2").await;
    assert_eq!(
        demo.world().cloud.microsoft.saved_token_fingerprint(),
        Some(scim_rotator::secret::fingerprint_of(&secret))
    );

    // The old token is deleted in the AWS console …
    browser.click("AWS console").await;
    click_in(&browser, "tr", &old.id, "Delete").await;
    browser.wait_for_text("Delete access token").await;
    browser.click("Delete token").await;
    browser.wait_for_text("Access tokens (1)").await;
    let listed = browser
        .script(
            "return document.querySelector('#aws-tokens').innerText;",
            vec![],
        )
        .await;
    let listed = listed.as_str().unwrap();
    assert!(
        !listed.contains(&old.id) && listed.contains(&new_id),
        "{listed}"
    );
    browser.screenshot("demo-web-07-aws-deleted").await;

    // … and the deletion confirmed in Slack, through the button's confirm dialog.
    browser.click("Slack").await;
    browser.click("I deleted the old token").await;
    browser.wait_for_text("Yes, I deleted it").await;
    browser.screenshot("demo-web-08-confirm").await;
    browser.click("Yes, I deleted it").await;
    let page = browser.wait_for_text("is complete").await;
    assert!(page.contains("Old token deletion confirmed by"), "{page}");
    browser.screenshot("demo-web-09-complete").await;
    assert_eq!(latest_state(&demo).await, RotationState::Completed);

    // The Entra page shows the saved credentials and a healthy job.
    browser.click("Entra admin center").await;
    browser.wait_for_text("Healthy").await;
    browser.click("Test Connection").await;
    browser
        .wait_for_text("The supplied credentials are authorized")
        .await;

    // The token reached Entra, and nowhere else: not Slack, not the page's own state.
    assert!(!demo.world().slack.all_bot_output().contains(&secret));
    for user in [LEAD, GROUP_LEAD, MEMBER, OTHER_MEMBER] {
        assert!(!page_state(&demo, user).await.contains(&secret));
    }
    assert!(!browser.text().await.contains(&secret));
    drop(browser);
    demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_jumps_and_the_sweep_warns() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let demo = start().await;
    browser.open(demo.url().as_str()).await;
    browser.wait_for_text("expires in 10 days").await;

    // Live: what the bot posts shows without anyone touching the page, well before the
    // page's slow safety poll (10 s) would have fetched it.
    browser.wait_for_text("● Live").await;
    let posted = std::time::Instant::now();
    slack_api(
        &demo,
        "chat.postMessage",
        json!({ "channel": CHANNEL, "text": "A message the page was not asked to fetch" }),
    )
    .await;
    browser
        .wait_for_text("A message the page was not asked to fetch")
        .await;
    assert!(posted.elapsed() < std::time::Duration::from_secs(5));

    browser.fill("Jump to", "3").await;
    browser.click("Jump").await;
    browser.wait_for_text("(3 days left)").await;
    browser.click("Run the expiry sweep now").await;
    let page = browser.wait_for_text("expires in 3 days").await;
    assert!(page.contains("Sweep:"), "{page}");
    // The sweep mentions the approvers from three days before expiry.
    assert!(page.contains("@identity-leads"), "{page}");
    browser.screenshot("demo-web-jump-sweep").await;
    // Time only moves forward.
    browser.fill("Jump to", "5").await;
    browser.click("Jump").await;
    browser.wait_for_text("time only moves forward").await;
    drop(browser);
    demo.shutdown().await;
}

/// A snapshot file's JSON (after insta's `---` header).
fn snapshot_json(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let body = text.splitn(3, "---\n").nth(2).unwrap();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn slack_api(demo: &WebDemo, method: &str, body: Value) -> Value {
    let url = format!("{}/{method}", demo.world().slack.api_url());
    let answer: Value = reqwest::Client::new()
        .post(url)
        .bearer_auth(BOT_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["ok"], true, "{method}: {answer}");
    answer
}

/// What a rendered message must not show: mrkdwn the renderer left raw.
fn assert_no_raw_markup(rendered: &str, what: &str) {
    for raw in [
        "<!date^",
        "<@U",
        "<!subteam^",
        "<http",
        "{date",
        "&lt;",
        "&gt;",
    ] {
        assert!(
            !rendered.contains(raw),
            "{what} shows raw {raw:?}:\n{rendered}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_of_the_render_snapshots_is_drawn_on_the_page() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let demo = start().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/slack/render/snapshots");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".json.snap"))
        .collect();
    files.sort();
    let mut messages = Vec::new();
    let mut modals = Vec::new();
    let mut home = None;
    for path in &files {
        let name = path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".json.snap", "");
        let json = snapshot_json(path);
        match json["type"].as_str() {
            Some("modal") => modals.push((name, json)),
            Some("home") => home = Some((name, json)),
            _ => {
                let posted = slack_api(
                    &demo,
                    "chat.postMessage",
                    json!({ "channel": CHANNEL, "text": json["text"], "blocks": json["blocks"] }),
                )
                .await;
                messages.push((name, posted["ts"].as_str().unwrap().to_owned(), json));
            }
        }
    }
    assert!(messages.len() > 30, "{} messages", messages.len());
    assert_eq!(modals.len(), 2);

    browser.open(demo.url().as_str()).await;
    browser.wait_for_text("Start rotation").await;
    let last = &messages.last().unwrap().1;
    let drawn = r#"const m = document.querySelector('#messages .msg[data-ts="' + arguments[0] + '"]');
        if (!m) return null;
        const blocks = m.querySelectorAll('.bk-blocks > .bk-block');
        return {
          text: m.innerText,
          blocks: blocks.length,
          types: [...blocks].map(b => b.dataset.blockType),
          buttons: [...m.querySelectorAll('button.bk-button')].map(b => b.innerText.trim()),
          bold: m.querySelectorAll('.bk-mrkdwn b').length,
          code: m.querySelectorAll('.bk-mrkdwn code').length,
          mentions: m.querySelectorAll('.bk-mention').length,
          dates: m.querySelectorAll('time.bk-date').length,
          links: m.querySelectorAll('.bk-mrkdwn a[href]').length,
          fields: m.querySelectorAll('.bk-field').length,
          unsupported: m.querySelectorAll('.bk-unsupported').length,
        };"#;
    let deadline = std::time::Instant::now() + DEADLINE;
    while browser.script(drawn, vec![json!(last)]).await.is_null() {
        assert!(
            std::time::Instant::now() < deadline,
            "the last message never showed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for (name, ts, json) in &messages {
        let shown = browser.script(drawn, vec![json!(ts)]).await;
        assert!(shown.is_object(), "{name} is not on the page");
        let blocks = json["blocks"].as_array().unwrap();
        let types: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert_eq!(shown["types"], json!(types), "{name}: blocks");
        assert_eq!(shown["unsupported"], 0, "{name}: {}", shown["text"]);
        let source = json["blocks"].to_string();
        let buttons: Vec<String> = blocks
            .iter()
            .filter(|b| b["type"] == "actions")
            .flat_map(|b| b["elements"].as_array().unwrap().iter())
            .map(|e| e["text"]["text"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(shown["buttons"], json!(buttons), "{name}: buttons");
        let count = |needle: &str| source.matches(needle).count();
        assert_eq!(shown["dates"], count("<!date^"), "{name}: dates");
        assert_eq!(
            shown["mentions"],
            count("<@") + count("<!subteam^"),
            "{name}: mentions"
        );
        assert_eq!(shown["links"], count("<http"), "{name}: links");
        let fields: usize = blocks
            .iter()
            .map(|b| b["fields"].as_array().map_or(0, Vec::len))
            .sum();
        assert_eq!(shown["fields"], fields, "{name}: fields");
        if source.contains("*") {
            assert!(shown["bold"].as_u64().unwrap() > 0, "{name}: bold");
        }
        if source.contains('`') {
            assert!(shown["code"].as_u64().unwrap() > 0, "{name}: code");
        }
        assert_no_raw_markup(shown["text"].as_str().unwrap(), name);
    }
    browser.screenshot("demo-web-gallery-messages").await;

    // A confirm dialog as Slack draws it.
    browser
        .script(
            "document.querySelector('#messages').scrollTop = 0; return null;",
            vec![],
        )
        .await;

    // The modals, each opened for a person and shown to that person only.
    for ((name, view), user) in modals.iter().zip([LEAD, GROUP_LEAD]) {
        let trigger = demo.world().slack.issue_trigger(user);
        slack_api(
            &demo,
            "views.open",
            json!({ "trigger_id": trigger, "view": view }),
        )
        .await;
        let person = if user == LEAD { "lee" } else { "grace" };
        browser.click(person).await;
        let title = view["title"]["text"].as_str().unwrap();
        let page = browser.wait_for_text(title).await;
        let shown = browser
            .script(
                "const d = document.querySelector('#modal-layer .modal');
                 return d && {
                   types: [...d.querySelectorAll('.bk-blocks > .bk-block')].map(b => b.dataset.blockType),
                   inputs: [...d.querySelectorAll('[data-kind]')].map(i => i.dataset.kind),
                   unsupported: d.querySelectorAll('.bk-unsupported').length,
                 };",
                vec![],
            )
            .await;
        let blocks = view["blocks"].as_array().unwrap();
        let types: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert_eq!(shown["types"], json!(types), "{name}");
        let inputs: Vec<&str> = blocks
            .iter()
            .filter(|b| b["type"] == "input")
            .map(|b| b["element"]["type"].as_str().unwrap())
            .collect();
        assert_eq!(shown["inputs"], json!(inputs), "{name}");
        assert_eq!(shown["unsupported"], 0, "{name}");
        assert!(
            page.contains(view["submit"]["text"].as_str().unwrap()),
            "{name}"
        );
        for label in blocks.iter().filter_map(|b| b["label"]["text"].as_str()) {
            assert!(page.contains(label), "{name}: label {label}");
        }
        browser
            .screenshot(&format!("demo-web-gallery-{name}"))
            .await;
    }
    // Grace's modal is not Lee's: switching back shows Lee's own.
    browser.click("lee").await;
    browser
        .wait_for_text(modals[0].1["title"]["text"].as_str().unwrap())
        .await;
    assert!(
        !browser
            .text()
            .await
            .contains(modals[1].1["title"]["text"].as_str().unwrap())
    );

    // The Home tab, as published for a person.
    // Opening the tab makes the bot publish its own; the snapshot's is published after it.
    let (name, view) = home.expect("a home snapshot");
    click_in(&browser, "#modal-layer .modal", "", "Cancel").await; // Lee's modal
    let deadline = std::time::Instant::now() + DEADLINE;
    while browser
        .script(
            "return document.querySelector('#modal-layer .modal') !== null;",
            vec![],
        )
        .await
        == json!(true)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the modal never closed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    browser.click("dana").await;
    browser.click("scim-rotator").await;
    demo.world()
        .slack
        .wait_until(DEADLINE, |s| s.home_view(MEMBER))
        .await
        .expect("the bot publishes the Home tab");
    slack_api(
        &demo,
        "views.publish",
        json!({ "user_id": MEMBER, "view": view }),
    )
    .await;
    browser.wait_for_text("staging").await;
    let shown = browser
        .script(
            "const h = document.querySelector('#home');
             return { text: h.innerText, blocks: h.querySelectorAll('.bk-blocks > .bk-block').length,
                      unsupported: h.querySelectorAll('.bk-unsupported').length };",
            vec![],
        )
        .await;
    assert_eq!(shown["unsupported"], 0, "{name}");
    assert!(shown["blocks"].as_u64().unwrap() > 0, "{name}");
    assert_no_raw_markup(shown["text"].as_str().unwrap(), &name);
    browser.screenshot("demo-web-gallery-home").await;
    drop(browser);
    demo.shutdown().await;
}

/// `scim-rotator demo --web` as a person runs it: it prints a loopback URL that serves the
/// page, and SIGTERM stops it with exit 0 and nothing left in the working or temporary
/// directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_web_command_prints_its_url_and_stops_cleanly() {
    use tokio::io::AsyncBufReadExt;
    let cwd = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_scim-rotator"))
        .args(["demo", "--web", "--listen", "127.0.0.1:0"])
        .current_dir(cwd.path())
        .env("TMPDIR", tmp.path())
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(DEADLINE, async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            if let Some(at) = line.find("http://") {
                return line[at..].split_whitespace().next().unwrap().to_owned();
            }
        }
        panic!("no URL printed");
    })
    .await
    .expect("a URL within the deadline");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let page = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(page.contains("Acting as"), "{page}");
    let script = reqwest::get(format!("{url}blockkit.js")).await.unwrap();
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    // Nothing on the page is fetched from elsewhere.
    assert!(!page.contains("https://"), "{page}");

    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = tokio::time::timeout(DEADLINE, child.wait())
        .await
        .expect("it stops within the deadline")
        .unwrap();
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();
    assert!(exit.success(), "exit {exit:?}: {stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    assert!(reqwest::get(&url).await.is_err(), "still serving");
    for dir in [cwd.path(), tmp.path()] {
        let left: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
        assert!(left.is_empty(), "{} holds {left:?}", dir.display());
    }
}

async fn send(demo: &WebDemo, method: reqwest::Method, path: &str, body: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .request(method, demo.url().join(path).unwrap())
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// What the page's API answers to requests it would never send: a 4xx with a reason, never
/// the request's content, and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_api_refuses_bad_input_with_a_reason_and_changes_nothing() {
    use reqwest::Method;
    let demo = start().await;
    let world = demo.world();
    let before = (
        world.slack.messages(CHANNEL),
        world.cloud.aws.tokens(&world.cloud.aws_tenant),
        demo.clock().offset(),
    );
    let warning = before.0[0].ts.clone();
    let cases = [
        (
            Method::GET,
            "api/slack?as=U0NOBODY",
            "",
            400,
            "not a person",
        ),
        (Method::GET, "api/nothing", "", 404, "no such page"),
        (
            Method::POST,
            "api/slack/click",
            r#"{"as":"U0NOBODY","ts":"1.2","action_id":"start_rotation"}"#,
            400,
            "not a person",
        ),
        (
            Method::POST,
            "api/slack/click",
            &format!(r#"{{"as":"{MEMBER}","ts":"{warning}","action_id":"approve"}}"#),
            409,
            "no button",
        ),
        (
            Method::POST,
            "api/slack/click",
            &format!(r#"{{"as":"{MEMBER}","action_id":"approve"}}"#),
            400,
            "name the message",
        ),
        (
            Method::POST,
            "api/slack/submit",
            &format!(r#"{{"as":"{LEAD}","view_id":"V0NONE","values":"SECRET-TOKEN-VALUE-123"}}"#),
            400,
            "unexpected or missing fields",
        ),
        (
            Method::POST,
            "api/slack/submit",
            "{\"as\":",
            400,
            "cut short",
        ),
        (
            Method::POST,
            "api/slack/submit",
            &format!(r#"{{"as":"{LEAD}","view_id":"V0NONE","values":[]}}"#),
            409,
            "not open",
        ),
        (
            Method::POST,
            "api/time/jump",
            r#"{"days_before_expiry":400}"#,
            400,
            "between 0 and 365",
        ),
        (
            Method::POST,
            "api/time/jump",
            r#"{"hours":0}"#,
            400,
            "hours must be",
        ),
        (
            Method::POST,
            "api/time/jump",
            "{}",
            400,
            "give days_before_expiry or hours",
        ),
        (
            Method::POST,
            "api/time/jump",
            r#"{"days_before_expiry":11}"#,
            409,
            "time only moves forward",
        ),
        (
            Method::DELETE,
            "api/aws/tokens/no-such-token",
            "",
            404,
            "no access token",
        ),
    ];
    for (method, path, body, status, reason) in cases {
        let (got, answer) = send(&demo, method.clone(), path, body).await;
        assert_eq!(got, status, "{method} {path} {body}: {answer}");
        assert!(answer.contains(reason), "{method} {path}: {answer}");
        assert!(!answer.contains("SECRET-TOKEN-VALUE"), "{answer}");
    }
    // Another site cannot act for the page: a form post is not JSON, and a name rebound to
    // 127.0.0.1 is not this machine's address.
    let form = reqwest::Client::new()
        .post(demo.url().join("api/aws/tokens").unwrap())
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);
    let rebound = reqwest::Client::new()
        .get(demo.url().join("api/time").unwrap())
        .header(
            "host",
            format!("evil.example:{}", demo.url().port().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    let state = reqwest::get(demo.url().join("api/aws").unwrap())
        .await
        .unwrap();
    assert_eq!(state.headers()["cache-control"], "no-store");

    let after = (
        world.slack.messages(CHANNEL),
        world.cloud.aws.tokens(&world.cloud.aws_tenant),
        demo.clock().offset(),
    );
    assert_eq!(before, after);
    assert!(world.slack.ephemerals().is_empty());
    demo.shutdown().await;
}
