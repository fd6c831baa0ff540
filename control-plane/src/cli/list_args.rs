//! The command line for a tenant's lists, exports, PAC settings, tokens and webhooks
//! (`docs/integration.md`, `docs/pac.md`), split from `args.rs` to keep each file readable.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand};

use super::arg_types::{parse_destination, IfMatch};

#[derive(Debug, Subcommand)]
pub enum ListCmd {
    /// List the tenant's lists and their sizes.
    Ls {
        /// The tenant id.
        id: String,
    },
    /// Print a list's entries, one per line.
    Show {
        /// The tenant id.
        id: String,
        /// The list name.
        name: String,
    },
    /// Replace a list with the given entries, or with a file (JSON array, or one entry a line).
    #[command(group(ArgGroup::new("content").required(true).args(["entries", "file"])))]
    Set {
        /// The tenant id.
        id: String,
        /// The list name.
        name: String,
        /// Entries: host, *.domain, pattern or IPv4 CIDR.
        #[arg(value_parser = parse_destination)]
        entries: Vec<String>,
        /// JSON (`[...]` or `{"entries": [...]}`), or text with one entry a line and `#`
        /// comments; `-` reads stdin.
        #[arg(long, value_name = "F")]
        file: Option<PathBuf>,
        #[command(flatten)]
        if_match: IfMatch,
    },
    /// Add and remove entries of a list (art. 10-4: tenant tokens need the list-update-api
    /// option).
    #[command(group(ArgGroup::new("change").required(true).multiple(true).args(["add", "remove"])))]
    Patch {
        /// The tenant id.
        id: String,
        /// The list name.
        name: String,
        /// An entry to add (repeatable): host, *.domain, pattern or IPv4 CIDR.
        #[arg(long, value_name = "ENTRY", value_parser = parse_destination)]
        add: Vec<String>,
        /// An entry to remove (repeatable).
        #[arg(long, value_name = "ENTRY", value_parser = parse_destination)]
        remove: Vec<String>,
        #[command(flatten)]
        if_match: IfMatch,
    },
    /// Delete a list (refused while a rule uses it).
    Delete {
        /// The tenant id.
        id: String,
        /// The list name.
        name: String,
        #[command(flatten)]
        if_match: IfMatch,
    },
}

/// `endpoints TENANT [--format F] [--action A] [--kind K] [--since V]`: printed as the API
/// answers it.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The tenant id.
    pub id: String,
    /// json, text (one entry a line, for external dynamic lists), squid (dstdomain, or dst with
    /// --kind cidrs), squid-regex (dstdom_regex) or csv.
    #[arg(long, default_value = "json", value_name = "F")]
    pub format: String,
    /// Only entries with this action: direct, block, upstream or upstream:NAME.
    #[arg(long, value_name = "A")]
    pub action: Option<String>,
    /// Only hosts (names) or only cidrs (IPv4 networks).
    #[arg(long, value_name = "K")]
    pub kind: Option<String>,
    /// What changed since this store version (format json).
    #[arg(long, value_name = "V")]
    pub since: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum PacCmd {
    /// Set the tenant's PAC settings from a JSON file (`-` for stdin; docs/pac.md).
    Set {
        /// The tenant id.
        tenant: String,
        /// The settings as JSON (`-` reads stdin).
        #[arg(long, value_name = "F")]
        file: std::path::PathBuf,
    },
    /// Remove the tenant's PAC settings (the edges stop serving its PAC).
    Clear {
        /// The tenant id.
        tenant: String,
    },
    /// Render the tenant's PAC exactly as the edges do and print it, or (`--diff`) compare it
    /// with the live one: exit 0 when they route alike, 1 when they differ.
    #[command(group(ArgGroup::new("diff_base").multiple(true).args(["edge", "settings"])))]
    Show {
        /// The tenant id.
        tenant: String,
        /// The edge (`host:port` or `http://host:port`): its address goes in the file when the
        /// settings name no proxies (each edge puts its own there), and with `--diff` the live
        /// PAC is fetched from it, as a source of the tenant would.
        #[arg(long, value_name = "[http://]HOST:PORT")]
        edge: Option<String>,
        /// Preview proposed settings (JSON, `-` for stdin) instead of the stored ones.
        #[arg(long, value_name = "F")]
        settings: Option<std::path::PathBuf>,
        /// Print a unified diff from the live PAC (the `--edge`'s, else the one the stored
        /// settings give) to the preview instead of the file.
        #[arg(long, requires = "diff_base")]
        diff: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Create a token for a tenant; the secret is shown once.
    Create {
        /// The tenant the token may act for.
        tenant: String,
        /// A note to tell tokens apart (e.g. "ci" or "firewall").
        #[arg(long, value_name = "L")]
        label: Option<String>,
        /// Seconds until the token stops working (default: until revoked).
        #[arg(long, value_name = "SECONDS")]
        expires_in: Option<u64>,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by id.
    Revoke {
        /// The token id (the `<id>` of `bk_<id>_<secret>`).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhookCmd {
    /// Register a webhook; the secret is read from a file (`-` for stdin), never an argument.
    Add {
        /// The tenant id.
        tenant: String,
        /// The http(s) URL to POST each change to.
        url: String,
        /// A file holding the signing secret (16 to 256 bytes; surrounding whitespace trimmed).
        #[arg(long, value_name = "PATH")]
        secret_file: PathBuf,
    },
    /// The tenant's webhooks (never their secrets).
    List {
        /// The tenant id.
        tenant: String,
    },
    /// Delete a webhook.
    Delete {
        /// The tenant id.
        tenant: String,
        /// The webhook id.
        id: String,
    },
    /// Every delivery attempt, oldest first (the leader's log).
    Deliveries {
        /// The tenant id.
        tenant: String,
    },
}
