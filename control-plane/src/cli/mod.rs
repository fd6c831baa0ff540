//! `breakoutctl`, the operator CLI: a thin client of the HTTP API in `docs/api.md`.
//!
//! [`args`] is the command line, [`client`] one HTTP call, [`commands`] what each subcommand
//! asks and how it prints the answer ([`table`] and [`view`] help with the printing).

pub mod arg_types;
pub mod args;
pub mod client;
pub mod commands;
pub mod contract_args;
pub mod error;
pub mod fix;
pub mod list_args;
pub mod quota_args;
pub mod retry;
pub mod table;
pub mod template_args;
pub mod view;
pub mod yaml;

#[cfg(test)]
mod tests;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

pub use args::{Cli, Output};
pub use error::CliError;

use args::Command;
use client::Client;

/// Parses the command line, runs it, and turns the result into the process's exit status.
pub fn main() -> ExitCode {
    // clap prints usage errors itself and exits with 2.
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Differs(message)) => {
            eprintln!("{message}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Runs one parsed command line to completion.
pub fn run(cli: Cli) -> Result<(), CliError> {
    if let Command::Completions { shell } = cli.command {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "breakoutctl", &mut out);
        print(&String::from_utf8_lossy(&out));
        return Ok(());
    }
    let token = token(&cli)?;
    let client = Client::new(&cli.server, token)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Other(format!("cannot start the async runtime: {e}")))?;
    let inv = commands::Invocation {
        client,
        output: cli.output,
    };
    runtime
        .block_on(commands::run(&inv, cli.command))
        .map_err(|e| hint(e, &inv))
}

/// `--token-file` (trimmed) if given, else `--token` / `BREAKOUT_TOKEN`.
fn token(cli: &Cli) -> Result<Option<String>, CliError> {
    let Some(path) = &cli.token_file else {
        return Ok(cli.token.clone().filter(|t| !t.is_empty()));
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("--token-file {}: {e}", path.display())))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(CliError::Usage(format!(
            "--token-file {}: the file is empty",
            path.display()
        )));
    }
    Ok(Some(token.to_string()))
}

/// Adds the likely fix to an API refusal: the token options to an `unauthorized` answer when
/// no token was given, the `breakoutctl` command for a known refusal ([`fix::hint`]).
fn hint(e: CliError, inv: &commands::Invocation) -> CliError {
    match e {
        CliError::Api { code, message } if code == "unauthorized" && !inv.client.has_token() => {
            let message =
                format!("{message} (no token given: use --token, BREAKOUT_TOKEN or --token-file)");
            CliError::Api { code, message }
        }
        CliError::Api { code, message } => match fix::hint(&code, &message) {
            Some(fix) => CliError::Api {
                message: format!("{message} (fix: {fix})"),
                code,
            },
            None => CliError::Api { code, message },
        },
        other => other,
    }
}

/// Writes to stdout, ignoring a closed pipe (`breakoutctl audit | head`).
pub(crate) fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
