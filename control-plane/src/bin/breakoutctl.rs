//! `breakoutctl`: the operator CLI for the Breakout control plane (see `docs/api.md`).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    breakout_control::cli::main()
}
