//! The `scim-rotator` binary: everything is in the library; see `scim_rotator::cli`.

fn main() -> std::process::ExitCode {
    scim_rotator::cli::main()
}
