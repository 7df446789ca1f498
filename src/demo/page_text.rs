//! A page of the web form as a person sees it in a browser, as text for the terminal: the
//! headings and paragraphs, `Label: value` for facts, `[ field ]` for inputs (a password
//! shows as dots), `[ Button ]`, links as `label (url)`. Style, script and hidden fields are
//! not shown.

/// `html` (one of the bot's own pages) as lines of text.
pub fn to_text(html: &str) -> String {
    let mut html = html.to_owned();
    for tag in ["style", "script", "noscript", "title"] {
        html = drop_elements(&html, tag);
    }
    let mut out = String::new();
    let mut rest = html.as_str();
    let mut link: Option<String> = None;
    while let Some(open) = rest.find('<') {
        out.push_str(&decode(&rest[..open]));
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let tag = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        let name = tag
            .trim_start_matches('/')
            .split([' ', '/'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let closing = tag.starts_with('/');
        match (name.as_str(), closing) {
            ("h1", false) => out.push_str("\n# "),
            ("h1" | "p" | "dl" | "form" | "div" | "main", _) | ("br", false) => out.push('\n'),
            ("dt", false) => out.push('\n'),
            ("dd", false) => out.push_str(": "),
            ("label", false) => out.push_str("\n\n"),
            ("span", false) if tag.contains("hint") => out.push_str(" — "),
            ("button", false) => out.push_str("\n\n[ "),
            ("button", true) => out.push_str(" ]"),
            ("a", false) => link = attribute(tag, "href"),
            ("a", true) => {
                if let Some(href) = link.take() {
                    out.push_str(&format!(" ({href})"));
                }
            }
            ("input", false) => out.push_str(&input(tag)),
            _ => {}
        }
    }
    out.lines()
        .map(str::trim_end)
        .fold(Vec::<&str>::new(), |mut lines, line| {
            if !(line.trim().is_empty() && lines.last().is_none_or(|l| l.trim().is_empty())) {
                lines.push(line);
            }
            lines
        })
        .join("\n")
        .trim()
        .to_owned()
}

fn input(tag: &str) -> String {
    let kind = attribute(tag, "type").unwrap_or_else(|| "text".to_owned());
    let value = attribute(tag, "value").unwrap_or_default();
    match kind.as_str() {
        "hidden" => String::new(),
        "password" => "\n[ •••••••••••••••••••••••• ]".to_owned(),
        _ if value.is_empty() => "\n[ ________________________ ]".to_owned(),
        _ => format!("\n[ {value} ]"),
    }
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let end = start + tag[start..].find('"')?;
    Some(decode(&tag[start..end]))
}

fn drop_elements(html: &str, tag: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
    while let Some(start) = rest.find(&open) {
        out.push_str(&rest[..start]);
        match rest[start..].find(&close) {
            Some(end) => rest = &rest[start + end + close.len()..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_reads_as_a_person_sees_it() {
        let html = "<!doctype html><html><head><title>T</title><style nonce=\"n\">body{}</style></head>\
            <body><main><h1>New token &amp; more</h1><dl><dt>Old token</dt><dd><code>abc</code></dd></dl>\
            <a href=\"https://example.com/x?a=1&amp;b=2\" rel=\"noreferrer\">Console</a>\
            <form method=\"post\"><input type=\"hidden\" name=\"csrf\" value=\"SECRETCSRF\">\
            <label for=\"t\">Access token<span class=\"hint\">Paste it.</span></label>\
            <input id=\"t\" type=\"password\" value=\"never\"><label for=\"d\">Expires on</label>\
            <input id=\"d\" type=\"date\" value=\"2028-01-01\"><button type=\"submit\">Save</button></form>\
            </main><script nonce=\"n\">alert(1)</script></body></html>";
        let text = to_text(html);
        assert_eq!(
            text,
            "# New token & more\n\nOld token: abc\nConsole (https://example.com/x?a=1&b=2)\n\n\
             Access token — Paste it.\n[ •••••••••••••••••••••••• ]\n\nExpires on\n[ 2028-01-01 ]\n\n[ Save ]"
        );
    }
}
