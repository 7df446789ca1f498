//! What can be wrong with a config file, each said on one line that names the file, the line
//! when known, the key and the problem — and never a secret value.

use super::SlackMode;
use super::raw::SECRET_KEYS;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Where in the config a problem is: the file as it was named, and the 1-based line when the
/// TOML parser gave a position. Displays as `file:line` or `file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: Option<usize>,
}

impl Location {
    /// The location of `span` in `text`, the contents of `file`.
    pub(super) fn of_span(file: &Path, text: &str, span: Range<usize>) -> Self {
        Location {
            file: file.to_owned(),
            line: Some(line_at(text, span.start)),
        }
    }

    /// The whole file, when no position applies.
    pub(super) fn file(file: &Path) -> Self {
        Location {
            file: file.to_owned(),
            line: None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        Ok(())
    }
}

/// 1-based line number of byte `offset` in `text`.
pub(super) fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Why a config file was refused. Every variant displays as one line:
/// `<file>[:<line>]: <key>: <what is wrong>`. Keys are written as dotted paths
/// (`slack.bot_token`, `connection[1].scim_url`, 0-based like TOML tooling and serde).
/// Values from the file are quoted only when they are not secrets (URLs, ids, env var names,
/// paths), with control characters escaped so the message stays on one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file itself could not be read: missing, unreadable, or not UTF-8.
    #[error("{}: cannot read the config file: {reason}", file.display())]
    Read {
        file: PathBuf,
        reason: std::io::Error,
    },

    /// The file is not valid TOML.
    #[error("{location}: invalid TOML: {message}")]
    Syntax { location: Location, message: String },

    /// A key the program does not know; almost always a typo.
    #[error("{location}: unknown key '{key}' in {section} (expected {expected})")]
    UnknownKey {
        location: Location,
        key: String,
        /// `[slack]`, `[[connection]]` or `the top-level table`.
        section: String,
        /// The keys that are allowed there, as `one of 'a', 'b', …`.
        expected: String,
    },

    /// A required key is absent.
    #[error("{location}: missing key '{key}' in {section}")]
    MissingKey {
        location: Location,
        key: String,
        section: String,
    },

    /// A value has the wrong type or fails a check; `message` says which and how to fix it.
    #[error("{location}: {key}: {message}")]
    Invalid {
        location: Location,
        key: String,
        message: String,
    },

    /// A secret given as `env:NAME` names a variable that is not set.
    #[error("{location}: {key}: environment variable {var} is not set")]
    MissingEnvVar {
        location: Location,
        key: String,
        var: String,
    },

    /// A secret given as `file:PATH` could not be read.
    #[error("{location}: {key}: cannot read secret file {}: {reason}", path.display())]
    SecretFile {
        location: Location,
        key: String,
        /// The path as resolved against the config file's directory.
        path: PathBuf,
        reason: std::io::Error,
    },

    /// A URL that does not parse or is not an http(s) base URL. URLs are not secret, so the
    /// value is shown (with any password replaced).
    #[error("{location}: {key}: invalid URL '{value}': {reason}")]
    BadUrl {
        location: Location,
        key: String,
        value: String,
        reason: String,
    },

    /// Neither `slack.approvers` nor `slack.approver_groups` names anyone.
    #[error(
        "{location}: slack.approvers: no approvers: list Slack user ids in slack.approvers and/or user group ids in slack.approver_groups, or nobody could approve a rotation"
    )]
    NoApprovers { location: Location },

    /// The secret the chosen Slack transport needs is absent.
    #[error("{location}: {key}: required when slack.mode is '{mode}' ({why})")]
    MissingModeSecret {
        location: Location,
        key: &'static str,
        mode: SlackMode,
        why: &'static str,
    },

    /// Two `[[connection]]` tables share a name, so `/scim rotate <name>` would be ambiguous.
    #[error(
        "{location}: {key}: duplicate connection name '{name}' (already used by the [[connection]] on line {first_line})"
    )]
    DuplicateConnection {
        location: Location,
        key: String,
        name: String,
        first_line: usize,
    },

    /// The file has no `[[connection]]` table, so there is nothing to rotate.
    #[error(
        "{}: no [[connection]] table: add one per Entra ID → AWS IAM Identity Center provisioning to look after", file.display()
    )]
    NoConnections { file: PathBuf },
}

/// `text` with control characters escaped, so that a value quoted in a message cannot break it
/// over several lines.
pub(super) fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// One step of a path into the document: a key or an array index.
enum Segment {
    Key(String),
    Index(usize),
}

/// Translates an error from serde/toml into a [`ConfigError`] naming the line and the key.
///
/// The toml error gives a byte span and serde's message; the key path is found by walking the
/// parsed document to the innermost key or value containing the span. `text` is parsed again
/// here (only on this error path) because the typed deserialization consumed its own parse.
pub(super) fn from_toml_error(error: &toml::de::Error, text: &str, file: &Path) -> ConfigError {
    let document = match DeTable::parse(text) {
        Ok(document) => document,
        Err(syntax) => {
            let span = syntax.span();
            let mut message = one_line(&syntax.message().replace('`', "'"));
            // The span of a duplicate is the key itself: name it. (Other spans are not quoted:
            // they may fall inside a value, which may be a secret.)
            if let Some(key) = span.clone().and_then(|span| text.get(span))
                && message == "duplicate key"
            {
                message = format!("duplicate key '{}'", one_line(key));
            }
            return ConfigError::Syntax {
                location: Location {
                    file: file.to_owned(),
                    line: span.map(|span| line_at(text, span.start)),
                },
                message,
            };
        }
    };
    // The document's own span is empty: an error there (a missing top-level table) has no
    // position, and must not be attributed to whichever table happens to start at offset 0.
    let span = error.span().filter(|span| !span.is_empty());
    let mut path = Vec::new();
    let on_key = span
        .as_ref()
        .and_then(|span| find_in_table(document.get_ref(), span.start, &mut path))
        .unwrap_or(false);
    let location = match span {
        Some(span) => Location::of_span(file, text, span),
        None => Location::file(file),
    };
    let message = error.message();

    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once("`, expected ").unwrap_or((rest, "nothing"));
        let parent = if on_key {
            &path[..path.len() - 1]
        } else {
            &path[..]
        };
        let key = match (on_key, path.last()) {
            (true, Some(Segment::Key(key))) => key.clone(),
            _ => field.to_owned(),
        };
        return ConfigError::UnknownKey {
            location,
            key: one_line(&key),
            section: section_name(parent),
            expected: one_line(&expected.replace('`', "'")),
        };
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        return ConfigError::MissingKey {
            location,
            key: one_line(rest.trim_end_matches('`')),
            section: section_name(&path),
        };
    }

    let key = dotted(&path);
    let is_secret =
        matches!(path.last(), Some(Segment::Key(key)) if SECRET_KEYS.contains(&key.as_str()));
    let message = if is_secret {
        // serde's text may quote the value; say only what is expected.
        "must be a string: env:NAME, file:PATH, or the secret itself".to_owned()
    } else if key == "connection" && message.contains("expected a sequence") {
        "must be an array of tables: write [[connection]] (double brackets), once per connection"
            .to_owned()
    } else {
        one_line(&message.replace('`', "'"))
    };
    ConfigError::Invalid {
        location,
        key: if key.is_empty() {
            "(top level)".to_owned()
        } else {
            key
        },
        message,
    }
}

/// Pushes onto `path` the keys down to the innermost key or value of `table` whose span holds
/// `offset`. Returns whether `offset` is on a key (rather than in a value), or `None` when
/// nothing below `table` holds it.
fn find_in_table(table: &DeTable<'_>, offset: usize, path: &mut Vec<Segment>) -> Option<bool> {
    for (key, value) in table.iter() {
        path.push(Segment::Key(key.get_ref().to_string()));
        if key.span().contains(&offset) {
            return Some(true);
        }
        if let Some(on_key) = find_in_value(value, offset, path) {
            return Some(on_key);
        }
        path.pop();
    }
    None
}

fn find_in_value(
    value: &Spanned<DeValue<'_>>,
    offset: usize,
    path: &mut Vec<Segment>,
) -> Option<bool> {
    // Children first: a table's own span may be just its header, or may cover its children.
    let inner = match value.get_ref() {
        DeValue::Table(table) => find_in_table(table, offset, path),
        DeValue::Array(items) => {
            let mut found = None;
            for (index, item) in items.iter().enumerate() {
                path.push(Segment::Index(index));
                found = find_in_value(item, offset, path);
                if found.is_some() {
                    break;
                }
                path.pop();
            }
            found
        }
        _ => None,
    };
    inner.or_else(|| value.span().contains(&offset).then_some(false))
}

/// `slack.mode`, `connection[1].name`.
fn dotted(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&one_line(key));
            }
            Segment::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    out
}

/// How the table at `path` is written in the file: `[slack]`, `[[connection]]`.
fn section_name(path: &[Segment]) -> String {
    match path.split_last() {
        None => "the top-level table".to_owned(),
        Some((Segment::Index(_), parent)) => format!("[[{}]]", dotted(parent)),
        Some((Segment::Key(_), _)) => format!("[{}]", dotted(path)),
    }
}
