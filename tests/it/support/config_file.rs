//! A real configuration file for the sandbox world, secrets in files beside it.

use scim_rotator::config::SlackMode;
use scim_rotator::demo::wiring::WorldConfig;
use scim_sandbox::SandboxWorld;
use std::path::Path;

/// Writes a configuration file for `world`, its secrets in files next to it.
pub fn write_config(
    world: &SandboxWorld,
    dir: &Path,
    client_secret: &str,
    mode: SlackMode,
) -> std::path::PathBuf {
    write_config_with(world, dir, client_secret, mode, "")
}

/// [`write_config`] with `extra` TOML (whole tables) appended before the connections.
pub fn write_config_with(
    world: &SandboxWorld,
    dir: &Path,
    client_secret: &str,
    mode: SlackMode,
    extra: &str,
) -> std::path::PathBuf {
    let listen = "127.0.0.1:0".parse().unwrap();
    world
        .write_config_file(dir, client_secret, mode, listen, extra)
        .unwrap()
}
