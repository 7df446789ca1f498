//! What `tokens` and `audit` need from the configuration file: the database path and the
//! connection names. Reading only these keys lets an auditor run `audit verify` without the
//! bot's secrets in their environment.

use std::path::{Path, PathBuf};

pub struct StoreView {
    pub store_path: PathBuf,
    pub connections: Vec<String>,
}

/// Reads the store path and connection names from the TOML file at `config`.
pub fn read(config: &Path) -> Result<StoreView, String> {
    let name = config.display();
    let text = std::fs::read_to_string(config)
        .map_err(|e| format!("{name}: cannot read the configuration file: {e}"))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
        match line {
            Some(line) => format!("{name}:{line}: {}", e.message()),
            None => format!("{name}: {}", e.message()),
        }
    })?;
    let store_path = match table.get("store").and_then(|s| s.get("path")) {
        None => PathBuf::from("scim-rotator.db"),
        Some(toml::Value::String(path)) => PathBuf::from(path),
        Some(_) => return Err(format!("{name}: store.path: expected a string")),
    };
    let connections = table
        .get("connection")
        .and_then(toml::Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|c| {
                    c.get("name")
                        .and_then(toml::Value::as_str)
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(StoreView {
        store_path,
        connections,
    })
}
