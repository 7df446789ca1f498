//! A real browser for page tests: Debian's headless `chromium`, driven over W3C WebDriver
//! by `chromedriver` (package `chromium-driver`).
//!
//! The WebDriver protocol is a handful of JSON calls over HTTP, spoken here with the
//! `reqwest` client the crate already has: a client crate (fantoccini) would add about 30
//! crates to the build (ICU segmentation data, a second `http`, two `cookie`s) for the same
//! dozen calls.
//!
//! The API reads like a person at the browser:
//!
//! ```ignore
//! let Some(browser) = Browser::launch().await else { return };   // skipped, loudly
//! browser.open(&url).await;
//! browser.fill("Access token", "…").await;
//! browser.click("Submit").await;
//! browser.wait_for_text("Saved").await;
//! browser.screenshot("after-submit").await;                     // target/test-screenshots/
//! ```
//!
//! Chromium runs with a fresh profile directory and with everything that would reach the
//! network on its own turned off (this machine's network is closed, and a test must not
//! depend on it). The session is ended and chromedriver killed on drop.

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a wait for text (or for chromedriver to come up) polls before the test fails.
/// Generous: two cores shared by several builds make a cold Chromium start take seconds.
pub const BROWSER_DEADLINE: Duration = Duration::from_secs(20);

/// Between two looks at the page while waiting: short enough not to slow a test down,
/// long enough not to keep a core busy.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How often a click is tried again when the page re-rendered the element in between: live
/// pages redraw on every change the bot makes, rarely twice within one click.
const STALE_RETRIES: usize = 5;

/// Set by `.ci/run` once it made sure a browser is installed: a missing browser then fails
/// the test instead of skipping it.
const REQUIRE_ENV: &str = "SCIM_ROTATOR_REQUIRE_BROWSER";

/// The key under which WebDriver returns a reference to an element (W3C WebDriver §12.1).
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Chromium's flags: headless, no sandbox (tests run as root), and nothing that phones home.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1100,900",
];

pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`.
    session: String,
    driver_port: u16,
    session_id: String,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

/// The chromedriver process, killed when dropped (also when the start fails half-way).
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where the two programs are, when both are installed.
fn installed() -> Option<(PathBuf, PathBuf)> {
    let find = |names: &[&str]| {
        names.iter().find_map(|name| {
            ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"]
                .iter()
                .map(|dir| PathBuf::from(dir).join(name))
                .find(|path| path.exists())
        })
    };
    Some((
        find(&["chromium", "chromium-browser"])?,
        find(&["chromedriver"])?,
    ))
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session, or `None` (after a loud note on
    /// stderr) when no browser is installed here and `.ci/run` did not require one.
    pub async fn launch() -> Option<Browser> {
        let Some((chromium, chromedriver)) = installed() else {
            assert!(
                std::env::var_os(REQUIRE_ENV).is_none(),
                "{REQUIRE_ENV} is set but chromium/chromedriver are not installed"
            );
            eprintln!(
                "\n################################################################\n\
                 ## SKIPPED: no browser. Install Debian's `chromium` and        ##\n\
                 ## `chromium-driver` (.ci/run does) to run the page tests.     ##\n\
                 ################################################################\n"
            );
            return None;
        };
        Some(Self::start(&chromium, &chromedriver).await)
    }

    async fn start(chromium: &std::path::Path, chromedriver: &std::path::Path) -> Browser {
        let profile = tempfile::tempdir().expect("a temporary profile directory");
        let driver_port = free_port();
        let driver = Driver(
            Command::new(chromedriver)
                .arg(format!("--port={driver_port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts"),
        );
        scim_rotator::outbound::install_crypto_provider();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(BROWSER_DEADLINE)
            .build()
            .expect("an HTTP client");
        let base = format!("http://127.0.0.1:{driver_port}");
        let started = Instant::now();
        loop {
            let ready = match http.get(format!("{base}/status")).send().await {
                Ok(response) => response
                    .json::<Value>()
                    .await
                    .is_ok_and(|status| status["value"]["ready"] == true),
                Err(_) => false,
            };
            if ready {
                break;
            }
            assert!(
                started.elapsed() < BROWSER_DEADLINE,
                "chromedriver did not answer on port {driver_port} within {BROWSER_DEADLINE:?}"
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args },
        }}});
        let answer: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("chromedriver answers the new session request")
            .json()
            .await
            .expect("a JSON answer");
        let session_id = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("Chromium did not start: {answer}"))
            .to_owned();
        Browser {
            http,
            session: format!("{base}/session/{session_id}"),
            driver_port,
            session_id,
            _driver: driver,
            _profile: profile,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        match self.try_call(method.clone(), path, body).await {
            Ok(value) => value,
            Err(error) => panic!("WebDriver {method} {path} failed ({error})"),
        }
    }

    /// One WebDriver command; `Err` carries WebDriver's error ("stale element reference", …).
    async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!("{}{path}", self.session);
        let mut request = self.http.request(method.clone(), &url);
        if let Some(body) = body {
            request = request.json(&body);
        } else if method == reqwest::Method::POST {
            request = request.json(&json!({}));
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let status = response.status();
        let answer: Value = response.json().await.expect("WebDriver answers JSON");
        if status.is_success() {
            Ok(answer["value"].clone())
        } else {
            Err(format!("{status}: {}", answer["value"]))
        }
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub async fn script(&self, script: &str, args: Vec<Value>) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// Opens `url` and waits until it has loaded.
    pub async fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// The address the page is at now.
    pub async fn current_url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Forgets every cookie of the current page's site, as another browser would be.
    pub async fn forget_cookies(&self) {
        self.call(reqwest::Method::DELETE, "/cookie", None).await;
    }

    /// The page's visible text, as a person reads it.
    pub async fn text(&self) -> String {
        self.script(
            "return document.body ? document.body.innerText : '';",
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// The page's HTML as the browser holds it now.
    pub async fn html(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The form control labelled `label` (by its `<label>` text), as WebDriver's element.
    async fn labelled(&self, label: &str) -> Value {
        let element = self
            .script(
                "const want = arguments[0].trim();
                 for (const l of document.querySelectorAll('label')) {
                   const text = l.innerText.replace(/\\s+/g, ' ').trim();
                   if ((text === want || text.startsWith(want)) && l.control) return l.control;
                 }
                 return null;",
                vec![json!(label)],
            )
            .await;
        assert!(
            element.is_object(),
            "no form field labelled {label:?} on the page:\n{}",
            self.text().await
        );
        element
    }

    /// Types `text` into the field labelled `label`, after clearing it.
    pub async fn fill(&self, label: &str, text: &str) {
        let id = element_id(&self.labelled(label).await);
        self.call(reqwest::Method::POST, &format!("/element/{id}/clear"), None)
            .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// The value the field labelled `label` holds.
    pub async fn value_of(&self, label: &str) -> String {
        let element = self.labelled(label).await;
        self.script("return arguments[0].value;", vec![element])
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// An attribute of the field labelled `label` (`None` when absent).
    pub async fn attribute_of(&self, label: &str, attribute: &str) -> Option<String> {
        let element = self.labelled(label).await;
        self.script(
            "return arguments[0].getAttribute(arguments[1]);",
            vec![element, json!(attribute)],
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    /// Clicks the button or link whose visible text is `text`. A page that re-renders between
    /// finding the element and clicking it (live updates) makes the element stale: it is then
    /// found again, as a person's second look would.
    pub async fn click(&self, text: &str) {
        for _ in 0..STALE_RETRIES {
            let id = element_id(&self.clickable(text).await);
            match self
                .try_call(reqwest::Method::POST, &format!("/element/{id}/click"), None)
                .await
            {
                Ok(_) => return,
                Err(error) if error.contains("stale element reference") => continue,
                Err(error) => panic!("clicking {text:?} failed ({error})"),
            }
        }
        panic!("{text:?} went stale {STALE_RETRIES} times in a row");
    }

    /// The visible button or link whose text is `text`.
    async fn clickable(&self, text: &str) -> Value {
        let element = self
            .script(
                "const want = arguments[0].trim();
                 const all = document.querySelectorAll('button, a, input[type=submit], input[type=button]');
                 for (const e of all) {
                   const text = (e.innerText || e.value || '').replace(/\\s+/g, ' ').trim();
                   if (text === want && e.offsetParent !== null) return e;
                 }
                 return null;",
                vec![json!(text)],
            )
            .await;
        assert!(
            element.is_object(),
            "no visible button or link {text:?} on the page:\n{}",
            self.text().await
        );
        element
    }

    /// Waits (polling, up to [`BROWSER_DEADLINE`]) until the visible text contains `text`,
    /// and returns the whole visible text.
    pub async fn wait_for_text(&self, text: &str) -> String {
        let started = Instant::now();
        loop {
            let now = self.text().await;
            if now.contains(text) {
                return now;
            }
            assert!(
                started.elapsed() < BROWSER_DEADLINE,
                "the page never showed {text:?} within {BROWSER_DEADLINE:?}; it shows:\n{now}"
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Saves a PNG of the window as `target/test-screenshots/{name}.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        use base64::Engine as _;
        let encoded = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("a base64 screenshot"))
            .expect("valid base64");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("the screenshot directory");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("the screenshot is written");
        eprintln!("screenshot: {}", path.display());
        path
    }
}

/// `target/test-screenshots`, beside the directory cargo gives integration tests.
pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("test-screenshots")
}

fn element_id(element: &Value) -> String {
    element[ELEMENT_KEY]
        .as_str()
        .unwrap_or_else(|| panic!("not an element reference: {element}"))
        .to_owned()
}

/// A port nothing listens on now (taken from the OS, then released for chromedriver).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port()
}

impl Drop for Browser {
    /// Ends the session (which closes Chromium) with a blocking request, since drop cannot
    /// await; chromedriver is stopped after this, when `_driver` drops.
    fn drop(&mut self) {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.driver_port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                self.session_id, self.driver_port
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                // chromedriver answers once Chromium has quit; it may keep the connection
                // open after that, so read only up to the end of the answer's headers.
                let mut answer = Vec::new();
                let mut chunk = [0u8; 1024];
                while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => answer.extend_from_slice(&chunk[..n]),
                    }
                }
            }
        }
    }
}
