//! `audit export` and `audit verify`.

use super::{Exit, parse_date, store_view};
use crate::store::{AuditFilter, Store};
use std::io::Write;
use std::path::Path;

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Write the audit log to stdout.
    Export {
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        /// Only records about this connection.
        #[arg(long)]
        connection: Option<String>,
        /// Only records from this time on (YYYY-MM-DD or RFC 3339).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
    },
    /// Check the hash chain; exit 1 naming the first bad record if it was tampered with.
    Verify,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// JSON Lines: one JSON object per record.
    Jsonl,
    /// RFC 4180 CSV with a header row; `details` is a JSON string.
    Csv,
}

pub fn run(config: &Path, command: AuditCommand) -> anyhow::Result<Exit> {
    let view = match store_view::read(config) {
        Ok(view) => view,
        Err(message) => return Ok(Exit::Usage(message)),
    };
    if !view.store_path.exists() {
        return Ok(Exit::Usage(format!(
            "{}: no database at {} (has the bot run yet?)",
            config.display(),
            view.store_path.display()
        )));
    }
    let store = Store::open(&view.store_path)?;
    match command {
        AuditCommand::Verify => match store.verify_audit()? {
            Ok(count) => {
                println!("Audit log intact: {count} records, hash chain verified.");
                Ok(Exit::Ok)
            }
            Err(broken) => Ok(Exit::Failed(format!(
                "audit log tampered with at record {}: {broken}",
                broken.seq()
            ))),
        },
        AuditCommand::Export {
            format,
            connection,
            since,
        } => {
            let since = match since.as_deref().map(parse_date).transpose() {
                Ok(since) => since,
                Err(message) => return Ok(Exit::Usage(format!("--since: {message}"))),
            };
            let records = store.audit_records(&AuditFilter {
                connection,
                since,
                last: None,
            })?;
            let stdout = std::io::stdout().lock();
            match format {
                ExportFormat::Jsonl => {
                    let mut out = std::io::BufWriter::new(stdout);
                    for record in &records {
                        serde_json::to_writer(&mut out, record)?;
                        out.write_all(b"\n")?;
                    }
                    out.flush()?;
                }
                ExportFormat::Csv => {
                    let mut out = csv::WriterBuilder::new()
                        .terminator(csv::Terminator::CRLF)
                        .from_writer(stdout);
                    out.write_record([
                        "seq",
                        "at",
                        "actor",
                        "action",
                        "connection",
                        "rotation_id",
                        "details",
                        "hash",
                    ])?;
                    for r in &records {
                        out.write_record([
                            r.seq.to_string(),
                            crate::audit::canonical_time(r.at),
                            r.actor.clone(),
                            r.action.clone(),
                            r.connection.clone().unwrap_or_default(),
                            r.rotation_id.map(|id| id.to_string()).unwrap_or_default(),
                            r.details.to_string(),
                            r.hash.clone(),
                        ])?;
                    }
                    out.flush()?;
                }
            }
            Ok(Exit::Ok)
        }
    }
}
