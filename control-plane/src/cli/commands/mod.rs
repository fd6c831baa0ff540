//! What each subcommand asks the API and how it prints the answer. Rendering is kept in pure
//! `render_*` functions over the answer's JSON so that it is tested without a server.

mod audit;
mod billing;
mod cluster;
mod contract;
mod edge;
mod explain;
mod export;
mod lists;
mod pac;
mod quotas;
mod region;
mod rule;
mod sessions;
mod source_ip;
mod store;
pub mod template;
mod tenant;
mod token;
mod webhook;

use std::path::Path;

use serde_json::Value;

use super::args::{Command, Output};
use super::client::{Call, Client};
use super::error::CliError;
use super::print;

/// One run of `breakoutctl`: the API client and how to print. Every command takes it.
pub struct Invocation {
    pub client: Client,
    pub output: Output,
}

impl Invocation {
    pub async fn send(&self, call: Call) -> Result<Value, CliError> {
        self.client.send(call).await
    }

    /// Prints `answer` as JSON, as YAML, or as `render` formats it.
    pub fn show(&self, answer: &Value, render: impl FnOnce(&Value) -> String) {
        match self.output {
            Output::Json => print(&json(answer)),
            Output::Yaml => print(&super::yaml::to_yaml(answer)),
            Output::Table => print(&render(answer)),
        }
    }

    /// Prints a write's answer: JSON, or `what` and the version it was written at.
    pub fn done(&self, answer: &Value, what: &str) {
        self.show(answer, |a| match a.get("version") {
            Some(v) => format!("{what} (version {v})\n"),
            None => format!("{what}\n"),
        });
    }
}

/// Runs one subcommand (`completions` is handled before any connection is made).
pub async fn run(inv: &Invocation, command: Command) -> Result<(), CliError> {
    match command {
        Command::Cluster(c) => cluster::run(inv, c).await,
        Command::Region(c) => region::run(inv, c).await,
        Command::Tenant(c) => tenant::run(inv, c).await,
        Command::SourceIp(c) => source_ip::run(inv, c).await,
        Command::Rule(c) => rule::run(inv, c).await,
        Command::List(c) => lists::run(inv, c).await,
        Command::Export(a) => export::run(inv, a).await,
        Command::Webhook(c) => webhook::run(inv, c).await,
        Command::Token(c) => token::run(inv, c).await,
        Command::Audit(a) => audit::run(inv, a).await,
        Command::Store(c) => store::run(inv, c).await,
        Command::Edge(c) => edge::run(inv, c).await,
        Command::Sessions(a) => sessions::run(inv, a).await,
        Command::Refusals(a) => sessions::refusals(inv, a).await,
        Command::Contract(c) => contract::run(inv, c).await,
        Command::Opt(c) => contract::run_option(inv, c).await,
        Command::Billing(c) => billing::run(inv, c).await,
        Command::PriceBook(c) => billing::run_price_book(inv, c).await,
        Command::Template(c) => template::run(inv, c).await,
        Command::Pac(c) => pac::run(inv, c).await,
        Command::Explain(a) => explain::run(inv, a).await,
        Command::Completions { .. } => Ok(()),
    }
}

/// Pretty JSON with a final newline.
fn json(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    s.push('\n');
    s
}

/// A file's text, or stdin's for `-`.
fn read_input(path: &Path) -> Result<String, CliError> {
    let read = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    };
    read.map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))
}

/// A file's JSON, with the line and column of a syntax error.
fn read_json(path: &Path) -> Result<Value, CliError> {
    let text = read_input(path)?;
    serde_json::from_str(&text)
        .map_err(|e| CliError::Usage(format!("{} is not valid JSON: {e}", path.display())))
}

/// How often a read-modify-write re-reads the tenant after losing a race (412) before giving up.
const RMW_ATTEMPTS: usize = 3;

/// Read-modify-write of one tenant: reads it, lets `change` compute the write from it, and sends
/// that with `If-Match` on the version read, so a concurrent change is never overwritten. On 412
/// it starts over from a fresh read when `retry` is set (the change is a delta, such as "add this
/// CIDR", that means the same on the newer tenant). `change` returns `None` when there is nothing
/// to write, and may set its own `If-Match` (the user's `--if-match`).
async fn update_tenant<F>(
    inv: &Invocation,
    id: &str,
    retry: bool,
    mut change: F,
) -> Result<Option<Value>, CliError>
where
    F: FnMut(&Value) -> Result<Option<Call>, CliError>,
{
    let attempts = if retry { RMW_ATTEMPTS } else { 1 };
    let mut last = None;
    for _ in 0..attempts {
        let view = inv.send(Call::get(&["v1", "tenants", id])).await?;
        let version = super::view::changed_version(&view).ok_or_else(|| {
            CliError::Other(format!(
                "the server's answer for tenant {id} has no changed_version"
            ))
        })?;
        let Some(call) = change(super::view::tenant(&view))? else {
            return Ok(None);
        };
        match inv.send(call.if_match_or(version)).await {
            Err(e) if e.is_api("precondition_failed") => last = Some(e),
            other => return other.map(Some),
        }
    }
    Err(last.unwrap_or_else(|| CliError::Other(format!("tenant {id} kept changing; try again"))))
}
