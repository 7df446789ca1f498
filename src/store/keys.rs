//! The keys of the scheduler's small state (`Store::scheduler_state`), each spelled here
//! once: the scheduler writes them, `/scim status` reads the Graph problem.

/// The quarantine series the channel was alerted about (JSON).
pub fn quarantine(connection: &str) -> String {
    format!("quarantine:{connection}")
}

/// Sweeps in a row that could not read the provisioning job (JSON).
pub fn graph_failures(connection: &str) -> String {
    format!("graph_failures:{connection}")
}

/// The last Graph error, shown by `/scim status`.
pub fn graph_problem(connection: &str) -> String {
    format!("graph_problem:{connection}")
}
