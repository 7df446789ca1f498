//! The browser harness itself (`support::browser`): a small page served on 127.0.0.1, read,
//! filled and clicked in headless Chromium the way the page tests do.

use crate::support::browser::Browser;
use axum::response::Html;
use axum::routing::get;

/// A page with a labelled field, a button whose script writes a greeting, and a link.
const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Harness check</title></head>
<body>
  <h1>Harness check</h1>
  <label for="name">Your name</label> <input id="name" type="password" autocomplete="off">
  <button type="button" id="go">Say hello</button>
  <p id="out"></p>
  <a href="/second">Next page</a>
  <script>
    document.getElementById('go').addEventListener('click', () => {
      setTimeout(() => {
        document.getElementById('out').textContent =
          'Hello, ' + document.getElementById('name').value.length + ' characters!';
      }, 100);
    });
  </script>
</body></html>"#;

async fn serve() -> String {
    let app = axum::Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/second", get(|| async { Html("<p>The second page.</p>") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn browser_fills_clicks_waits_and_screenshots() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let url = serve().await;
    browser.open(&url).await;
    assert!(browser.text().await.contains("Harness check"));

    browser.fill("Your name", "secret-value").await;
    assert_eq!(browser.value_of("Your name").await, "secret-value");
    assert_eq!(
        browser.attribute_of("Your name", "type").await.as_deref(),
        Some("password")
    );
    assert!(browser.html().await.contains(r#"type="password""#));
    // The typed value is masked: it is not part of the visible text.
    assert!(!browser.text().await.contains("secret-value"));

    browser.click("Say hello").await;
    browser.wait_for_text("Hello, 12 characters!").await;
    let shot = browser.screenshot("harness-check").await;
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG: {}", shot.display());

    browser.click("Next page").await;
    browser.wait_for_text("The second page.").await;
    assert_eq!(browser.current_url().await, format!("{url}/second"));
}
