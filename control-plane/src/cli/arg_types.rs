//! Argument types and value parsers that several parts of the command line share.

use breakout_policy::Destination;
use clap::Args;

/// `--if-match V`: refuse the write if the tenant has changed since version V.
#[derive(Debug, Default, Args)]
pub struct IfMatch {
    /// Only write if the tenant is still at this version (its changed_version).
    #[arg(id = "if_match", long = "if-match", value_name = "V")]
    pub version: Option<u64>,
}

/// A destination as the policy parses it, in its canonical spelling.
pub fn parse_destination(s: &str) -> Result<String, String> {
    s.parse::<Destination>()
        .map(|d| d.to_string())
        .map_err(|e| e.message)
}
