//! The form's pages as HTML: pure functions from what to show to a string, no I/O, no clock.
//!
//! Every page is self-contained: one inline `<style>` and at most one inline `<script>`,
//! both carrying the response's CSP nonce; no external asset of any kind. The one external
//! URL is the AWS console link the lead needs (a plain link, opened with `noreferrer`).
//! Everything interpolated is HTML-escaped.

use crate::rotation::RotationId;
use chrono::{DateTime, NaiveDate, Utc};
use std::fmt::Write;

/// Escapes text for HTML content and double-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page's look: readable on a laptop and a phone, no web fonts.
const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f4f5f7;color:#1d1c1d;margin:0;padding:2rem 1rem;line-height:1.45}
main{max-width:40rem;margin:0 auto;background:#fff;border:1px solid #ddd;border-radius:8px;padding:1.5rem 2rem}
h1{font-size:1.35rem;margin:0 0 .25rem}
.sub{color:#555;margin:0 0 1.25rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;margin:0 0 1.25rem}
dt{color:#555}dd{margin:0}
code{background:#f0f0f0;padding:0 .25rem;border-radius:3px}
label{display:block;font-weight:600;margin-top:1rem}
.hint{display:block;color:#555;font-size:.9rem;font-weight:400}
input{font:inherit;width:100%;box-sizing:border-box;padding:.45rem .55rem;margin-top:.3rem;border:1px solid #bbb;border-radius:4px}
input[aria-invalid=true]{border-color:#c0392b}
.error{color:#c0392b;margin:.3rem 0 0}
.alert{background:#fdecea;border:1px solid #f5c2bd;border-radius:4px;padding:.6rem .8rem;margin:0 0 1rem}
button{font:inherit;font-weight:600;margin-top:1.5rem;padding:.6rem 1.2rem;background:#007a5a;color:#fff;border:0;border-radius:4px;cursor:pointer}
.note{color:#555;font-size:.9rem;margin-top:1.25rem}
#status{white-space:pre-line;background:#f8f8f8;border:1px solid #e2e2e2;border-radius:4px;padding:.8rem 1rem}
#next{font-weight:600}
";

fn document(title: &str, nonce: &str, body: &str, script: Option<&str>) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title}</title><style nonce=\"{nonce}\">{STYLE}</style></head>\n<body><main>\n{body}\n</main>",
        title = escape(title),
        nonce = escape(nonce),
    );
    if let Some(script) = script {
        let _ = write!(
            html,
            "\n<script nonce=\"{}\">{script}</script>",
            escape(nonce)
        );
    }
    html.push_str("\n</body></html>\n");
    html
}

/// Problems with a submission, each shown next to its field; nothing was sent anywhere.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FormErrors {
    pub token: Option<String>,
    pub token_id: Option<String>,
    pub expires: Option<String>,
    /// Not about one field (e.g. the bot refused the submission).
    pub general: Option<String>,
}

impl FormErrors {
    pub fn is_empty(&self) -> bool {
        self.token.is_none()
            && self.token_id.is_none()
            && self.expires.is_none()
            && self.general.is_none()
    }
}

/// The form: the rotation, then the token (masked), its id and its expiry date.
pub struct FormPage<'a> {
    pub nonce: &'a str,
    pub csrf: &'a str,
    pub rotation: RotationId,
    pub connection: &'a str,
    pub aws_region: &'a str,
    pub console_url: &'a str,
    pub old_token_id: Option<&'a str>,
    /// When the link stops working.
    pub link_expires: DateTime<Utc>,
    /// What the id and date fields hold (the lead's input, after an error).
    pub token_id: &'a str,
    pub expires: &'a str,
    /// The expiry date the field starts with and the earliest allowed.
    pub default_expiry: NaiveDate,
    pub min_expiry: NaiveDate,
    pub errors: &'a FormErrors,
}

fn field_error(id: &str, error: Option<&String>) -> (String, String) {
    match error {
        Some(error) => (
            format!(" aria-invalid=\"true\" aria-describedby=\"{id}-error\""),
            format!("<p class=\"error\" id=\"{id}-error\">{}</p>", escape(error)),
        ),
        None => (String::new(), String::new()),
    }
}

pub fn form_page(page: &FormPage) -> String {
    let old = page.old_token_id.map_or_else(
        || "the token Entra uses now".to_owned(),
        |id| format!("<code>{}</code>", escape(id)),
    );
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>New SCIM token for {connection}</h1>\
         <p class=\"sub\">Rotation #{rotation} · this page is only for you and works once, until {until} UTC.</p>\
         <dl><dt>Connection</dt><dd>{connection}</dd>\
         <dt>Old token</dt><dd>{old} (keep it until the new one is saved)</dd>\
         <dt>AWS region</dt><dd>{region}</dd>\
         <dt>Console</dt><dd><a href=\"{console}\" target=\"_blank\" rel=\"noopener noreferrer\">IAM Identity Center ({region})</a>: \
         Settings → Identity source → Actions → Manage provisioning → Generate token</dd></dl>",
        connection = escape(page.connection),
        rotation = page.rotation,
        until = page.link_expires.format("%Y-%m-%d %H:%M"),
        region = escape(page.aws_region),
        console = escape(page.console_url),
    );
    if let Some(general) = &page.errors.general {
        let _ = write!(
            body,
            "<p class=\"alert\" role=\"alert\">{}</p>",
            escape(general)
        );
    }
    let expires = if page.expires.is_empty() {
        page.default_expiry.format("%Y-%m-%d").to_string()
    } else {
        page.expires.to_owned()
    };
    let (token_attrs, token_error) = field_error("token", page.errors.token.as_ref());
    let (id_attrs, id_error) = field_error("token-id", page.errors.token_id.as_ref());
    let (expires_attrs, expires_error) = field_error("expires", page.errors.expires.as_ref());
    let _ = write!(
        body,
        "<form method=\"post\" autocomplete=\"off\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"token\">Access token<span class=\"hint\">Paste it from the AWS console; it is never shown again.</span></label>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" spellcheck=\"false\" autocapitalize=\"off\" required maxlength=\"3000\"{token_attrs}>{token_error}\
         <label for=\"token-id\">Token id<span class=\"hint\">As the console lists it (optional, recommended).</span></label>\
         <input id=\"token-id\" name=\"token_id\" type=\"text\" autocomplete=\"off\" spellcheck=\"false\" maxlength=\"200\" value=\"{token_id}\"{id_attrs}>{id_error}\
         <label for=\"expires\">Expires on<span class=\"hint\">AWS tokens live a year.</span></label>\
         <input id=\"expires\" name=\"expires\" type=\"date\" min=\"{min}\" value=\"{expires}\"{expires_attrs}>{expires_error}\
         <button type=\"submit\">Check and save the token</button></form>\
         <p class=\"note\">The bot tests the token with AWS and Entra, saves it in Entra's provisioning job and \
         shows the progress here and in the Slack thread. It never stores, logs or posts the token.</p>",
        csrf = escape(page.csrf),
        token_id = escape(page.token_id),
        min = page.min_expiry.format("%Y-%m-%d"),
        expires = escape(&expires),
    );
    document(
        &format!("New SCIM token for {}", page.connection),
        page.nonce,
        &body,
        None,
    )
}

/// How the checks stand, for the progress page and its updates.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    /// `working`, `succeeded`, `failed` or `stopped`.
    pub outcome: &'static str,
    /// The checks as the Slack thread shows them, as plain text.
    pub text: String,
    /// What to do next.
    pub next: String,
}

/// After a submission: the checks' progress, updated by a script without reloading.
pub fn progress_page(
    nonce: &str,
    connection: &str,
    rotation: RotationId,
    progress: &Progress,
) -> String {
    let body = format!(
        "<h1>New SCIM token for {connection}</h1>\
         <p class=\"sub\">Rotation #{rotation} · the token was received; this link is now used up.</p>\
         <div id=\"status\" role=\"status\" aria-live=\"polite\" data-outcome=\"{outcome}\">{text}</div>\
         <p id=\"next\">{next}</p>\
         <noscript><p class=\"note\">Reload the page to see the latest progress, or follow it in the Slack thread.</p></noscript>",
        connection = escape(connection),
        outcome = progress.outcome,
        text = escape(&progress.text),
        next = escape(&progress.next),
    );
    document(
        &format!("Checking the new SCIM token for {connection}"),
        nonce,
        &body,
        Some(PROGRESS_SCRIPT),
    )
}

/// Asks `<page>/progress` every second until the checks are over. Same origin; the watch
/// cookie authorizes it.
const PROGRESS_SCRIPT: &str = "
(function () {
  var status = document.getElementById('status');
  var next = document.getElementById('next');
  var url = window.location.pathname.replace(/\\/$/, '') + '/progress';
  function poll() {
    fetch(url, { cache: 'no-store', credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (p) {
          status.textContent = p.text;
          next.textContent = p.next;
          status.setAttribute('data-outcome', p.outcome);
          if (p.outcome !== 'working') { return; }
        }
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  if (status.getAttribute('data-outcome') === 'working') { setTimeout(poll, 300); }
})();
";

/// A refusal: what happened and what to do, nothing else.
pub fn refusal_page(nonce: &str, title: &str, text: &str, what_now: &str) -> String {
    let body = format!(
        "<h1>{}</h1><p>{}</p><p><strong>{}</strong></p>",
        escape(title),
        escape(text),
        escape(what_now)
    );
    document(title, nonce, &body, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn form(errors: &FormErrors, expires: &str) -> String {
        form_page(&FormPage {
            nonce: "N0NCE",
            csrf: "CSRF<>",
            rotation: RotationId(7),
            connection: "prod<script>",
            aws_region: "eu-west-1",
            console_url: "https://eu-west-1.console.aws.amazon.com/singlesignon/home?region=eu-west-1",
            old_token_id: Some("tok-old"),
            link_expires: Utc.with_ymd_and_hms(2027, 2, 1, 9, 10, 0).unwrap(),
            token_id: "id\"x",
            expires,
            default_expiry: NaiveDate::from_ymd_opt(2028, 2, 1).unwrap(),
            min_expiry: NaiveDate::from_ymd_opt(2027, 2, 2).unwrap(),
            errors,
        })
    }

    #[test]
    fn the_form_escapes_everything_and_masks_the_token() {
        let html = form(&FormErrors::default(), "");
        assert!(html.contains("prod&lt;script&gt;"));
        assert!(!html.contains("prod<script>"));
        assert!(html.contains("value=\"CSRF&lt;&gt;\""));
        assert!(html.contains("value=\"id&quot;x\""));
        assert!(
            html.contains("id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\"")
        );
        assert!(html.contains("<form method=\"post\""));
        assert!(html.contains("value=\"2028-02-01\""), "{html}");
        assert!(html.contains("<style nonce=\"N0NCE\">"));
        assert!(!html.contains("<script"), "the form needs no script");
        assert!(!html.contains("aria-invalid=\"true\""));
    }

    #[test]
    fn errors_show_next_to_their_field() {
        let errors = FormErrors {
            token: Some("Paste the access token: the field is empty.".to_owned()),
            general: Some("Refused <b>".to_owned()),
            ..FormErrors::default()
        };
        let html = form(&errors, "2027-06-01");
        assert!(html.contains("aria-invalid=\"true\" aria-describedby=\"token-error\""));
        assert!(html.contains("<p class=\"error\" id=\"token-error\">Paste the access token"));
        assert!(html.contains("Refused &lt;b&gt;"));
        assert!(html.contains("value=\"2027-06-01\""));
        assert_eq!(html.matches("aria-invalid=\"true\"").count(), 1);
    }

    #[test]
    fn the_progress_page_carries_its_script_under_the_nonce() {
        let progress = Progress {
            outcome: "working",
            text: "⏳ Checking <now>".to_owned(),
            next: "Wait".to_owned(),
        };
        let html = progress_page("N0NCE", "prod", RotationId(7), &progress);
        assert!(html.contains("<script nonce=\"N0NCE\">"));
        assert!(html.contains("Checking &lt;now&gt;"));
        assert!(html.contains("data-outcome=\"working\""));
        assert_eq!(html.matches("<script").count(), 1);
    }
}
