//! `tokens list` and `tokens add`.

use super::{Exit, parse_date, store_view};
use crate::rotation::{TOKEN_LIFETIME_DAYS, expiry::days_left};
use crate::store::Store;
use anyhow::Context;
use chrono::{Duration, Utc};
use serde_json::json;
use std::io::Write;
use std::path::Path;

#[derive(Debug, clap::Subcommand)]
pub enum TokensCommand {
    /// List each connection's current token (and, with --all, the replaced ones).
    List {
        #[arg(long)]
        all: bool,
    },
    /// Register the token a connection uses now (as shown in the AWS console).
    Add {
        /// The connection's name in the configuration file.
        #[arg(long)]
        connection: String,
        /// The token id the AWS console shows.
        #[arg(long)]
        token_id: String,
        /// When the token was created (YYYY-MM-DD or RFC 3339).
        #[arg(long, value_name = "DATE")]
        created: String,
        /// When it expires; default: created + 365 days.
        #[arg(long, value_name = "DATE")]
        expires: Option<String>,
    },
}

pub fn run(config: &Path, command: TokensCommand) -> anyhow::Result<Exit> {
    let view = match store_view::read(config) {
        Ok(view) => view,
        Err(message) => return Ok(Exit::Usage(message)),
    };
    let store = Store::open(&view.store_path)?;
    match command {
        TokensCommand::List { all } => list(&store, all),
        TokensCommand::Add {
            connection,
            token_id,
            created,
            expires,
        } => {
            if !view.connections.contains(&connection) {
                let known = if view.connections.is_empty() {
                    "none is configured".to_owned()
                } else {
                    format!("configured: {}", view.connections.join(", "))
                };
                return Ok(Exit::Usage(format!(
                    "--connection: no connection named {connection:?} ({known})"
                )));
            }
            let token_id = token_id.trim().to_owned();
            if token_id.is_empty() {
                return Ok(Exit::Usage("--token-id: must not be empty".to_owned()));
            }
            let created = match parse_date(&created) {
                Ok(at) => at,
                Err(message) => return Ok(Exit::Usage(format!("--created: {message}"))),
            };
            let expires = match expires.as_deref().map(parse_date).transpose() {
                Ok(at) => at.unwrap_or(created + Duration::days(TOKEN_LIFETIME_DAYS)),
                Err(message) => return Ok(Exit::Usage(format!("--expires: {message}"))),
            };
            if expires <= created {
                return Ok(Exit::Usage("--expires: must be after --created".to_owned()));
            }
            let now = Utc::now();
            store
                .register_token(
                    &connection,
                    &token_id,
                    created,
                    expires,
                    "system",
                    now,
                    json!({ "via": "cli", "os_user": std::env::var("USER").ok() }),
                )
                .context("recording the token")?;
            println!(
                "Recorded token {token_id} for {connection}: expires {} ({} days left).",
                expires.format("%Y-%m-%d"),
                days_left(expires, now)
            );
            Ok(Exit::Ok)
        }
    }
}

fn list(store: &Store, all: bool) -> anyhow::Result<Exit> {
    let tokens = store.list_tokens(all)?;
    let now = Utc::now();
    let mut out = std::io::stdout().lock();
    if tokens.is_empty() {
        writeln!(
            out,
            "No tokens recorded. Register one with: scim-rotator tokens add --connection NAME --token-id ID --created DATE"
        )?;
        return Ok(Exit::Ok);
    }
    writeln!(
        out,
        "{}",
        row([
            "CONNECTION",
            "TOKEN ID",
            "CREATED",
            "EXPIRES",
            "DAYS LEFT",
            "SOURCE",
            "STATUS"
        ])
    )?;
    for token in tokens {
        let date = |at: Option<chrono::DateTime<Utc>>| {
            at.map_or("unknown".to_owned(), |t| t.format("%Y-%m-%d").to_string())
        };
        let left = token
            .expires_at
            .map_or("unknown".to_owned(), |t| days_left(t, now).to_string());
        let status = token.retired_at.map_or("current".to_owned(), |t| {
            format!("replaced {}", t.format("%Y-%m-%d"))
        });
        let line = row([
            &token.connection,
            token.display_id(),
            &date(token.created_at),
            &date(token.expires_at),
            &left,
            token.source.as_str(),
            &status,
        ]);
        writeln!(out, "{line}")?;
    }
    Ok(Exit::Ok)
}

/// One line of the `tokens list` table.
fn row(cells: [&str; 7]) -> String {
    let [connection, id, created, expires, left, source, status] = cells;
    format!(
        "{connection:<20} {id:<40} {created:<10} {expires:<10} {left:>9}  {source:<10} {status}"
    )
}
