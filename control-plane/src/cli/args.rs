//! The command line of `breakoutctl`, as clap derive types. Values the policy model defines
//! (actions, source networks, destinations) are parsed here with the model's own parsers, so a
//! typo is a usage error before anything is sent.

use std::path::PathBuf;

use breakout_policy::{Action, SourceCidr};
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;

use super::arg_types::parse_destination;
pub use super::arg_types::IfMatch;
use super::contract_args::{AttributesArgs, BillingCmd, ContractCmd, OptionCmd, PriceBookCmd};
pub use super::list_args::{ExportArgs, ListCmd, PacCmd, TokenCmd, WebhookCmd};
pub use super::quota_args::SetQuotas;
pub use super::template_args::TemplateCmd;

/// Operate a Breakout control plane: cluster, regions, tenants, their rules, lists and tokens.
#[derive(Debug, Parser)]
#[command(name = "breakoutctl", version, propagate_version = true)]
#[command(after_help = "Exit status: 0 ok, 1 the API refused, 2 usage, 3 server unreachable.")]
#[command(next_help_heading = "Global options")]
pub struct Cli {
    /// Control-plane API base URL (any node; writes reach the leader), or several separated by
    /// commas: a node that does not answer is passed over. A call that gets no answer or
    /// `no_leader` is retried for up to 20 s; writes repeat their Idempotency-Key, so a retry
    /// never applies a write twice.
    #[arg(
        long,
        global = true,
        env = "BREAKOUT_SERVER",
        default_value = "http://127.0.0.1:7070",
        value_name = "URL"
    )]
    pub server: String,
    /// Bearer token (the operator's admin token or a tenant token).
    #[arg(
        long,
        global = true,
        env = "BREAKOUT_TOKEN",
        hide_env_values = true,
        value_name = "T"
    )]
    pub token: Option<String>,
    /// Read the token from a file (overrides --token and BREAKOUT_TOKEN).
    #[arg(long, global = true, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// How to print answers: aligned tables, the server's JSON, or that JSON as YAML.
    #[arg(short, long, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Control-plane nodes: status, membership.
    #[command(subcommand)]
    Cluster(ClusterCmd),
    /// Regions tenants are pinned to.
    #[command(subcommand)]
    Region(RegionCmd),
    /// Tenants (parent contracts): create, inspect, change limits and defaults.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// A tenant's registered source networks (IPv4 only); other sources are refused.
    #[command(subcommand)]
    SourceIp(SourceIpCmd),
    /// A tenant's ordered rules.
    #[command(subcommand)]
    Rule(RuleCmd),
    /// A tenant's named destination lists (manual lists, the blocklist).
    #[command(subcommand)]
    List(ListCmd),
    /// A tenant's effective destinations for external devices (art. 2; docs/integration.md).
    #[command(name = "endpoints", visible_alias = "export")]
    Export(ExportArgs),
    /// A tenant's webhooks: signed pushes of each change of its endpoints (docs/integration.md).
    #[command(subcommand)]
    Webhook(WebhookCmd),
    /// Tenant API tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Show the audit log (every write, done or refused), oldest first.
    Audit(AuditArgs),
    /// The whole state as a JSON dump, and back (operator): backups, Raft <-> etcd moves.
    #[command(subcommand)]
    Store(StoreCmd),
    /// Edge nodes connected to the control plane.
    #[command(subcommand)]
    Edge(EdgeCmd),
    /// Concurrent sessions against limit per tenant and region (the leader's view).
    Sessions(SessionsArgs),
    /// What a tenant's edges refused or failed, by reason and region: over the last hour, the
    /// last three hours and since the edges started (the leader's view).
    Refusals(RefusalsArgs),
    /// A tenant's child contracts: list-template, cloud-bypass, external-integration.
    #[command(subcommand)]
    Contract(ContractCmd),
    /// A tenant's options: internet-access, access-control, pac, list-update-api.
    #[command(subcommand, name = "option")]
    Opt(OptionCmd),
    /// A tenant's charges.
    #[command(subcommand)]
    Billing(BillingCmd),
    /// The price book (annex 1).
    #[command(subcommand)]
    PriceBook(PriceBookCmd),
    /// Destination-list template items.
    #[command(subcommand)]
    Template(TemplateCmd),
    /// A tenant's PAC file (art. 10-3): settings and a preview of what the edges serve.
    #[command(subcommand)]
    Pac(PacCmd),
    /// What the tenant's edges do with a request for HOST[:PORT], and why: the decision, the
    /// rule, list and entry that matched, and the destination guard's verdict.
    ///
    /// The same decision the proxy makes, over the tenant as its region's edges have it. The
    /// control plane resolves no names: an IP literal gets the guard's verdict, a name is
    /// checked by the edge when it resolves it (`curl http://EDGE-ADMIN/explain?…` resolves).
    Explain(ExplainArgs),
    /// Print a shell completion script.
    ///
    /// e.g. `breakoutctl completions bash > /etc/bash_completion.d/breakoutctl`
    Completions {
        /// The shell: bash, zsh, fish, elvish or powershell.
        #[arg(value_enum)]
        shell: Shell,
    },
}

/// `explain TENANT HOST[:PORT]`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The tenant id.
    pub tenant: String,
    /// The destination: a host name or IP literal, with an optional :PORT (default 443);
    /// an IPv6 literal with a port is written [addr]:port.
    #[arg(value_name = "HOST[:PORT]")]
    pub destination: String,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCmd {
    /// Leader, term, applied index and each node's role and replication lag.
    Status,
    /// Add a node (as a learner, then a voter once it has caught up).
    AddNode {
        /// The new node's id (its --node-id).
        id: u64,
        /// The new node's API address, host:port.
        api_addr: String,
    },
    /// Remove a node from the cluster.
    RemoveNode {
        /// The node id.
        id: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum RegionCmd {
    /// List regions.
    List,
    /// Create a region (name: a-z, 0-9 and '-', at most 63 characters).
    Create {
        /// The region name (a-z, 0-9 and '-', at most 63 characters).
        name: String,
        /// A free-text description.
        #[arg(long, value_name = "D")]
        description: Option<String>,
    },
    /// Delete a region (refused while tenants are pinned to it).
    Delete {
        /// The region name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCmd {
    /// List tenants.
    List,
    /// Show one tenant with its rules.
    Get {
        /// The tenant id.
        id: String,
    },
    /// Create a tenant from a JSON file, or from flags.
    Create(TenantCreate),
    /// Delete a tenant (and its tokens).
    Delete {
        /// The tenant id.
        id: String,
        #[command(flatten)]
        if_match: IfMatch,
    },
    /// Set the tenant's concurrent-session limit.
    SetLimit {
        /// The tenant id.
        id: String,
        /// Concurrent sessions the tenant may hold.
        #[arg(value_name = "N")]
        limit: u32,
        #[command(flatten)]
        if_match: IfMatch,
    },
    /// Cap the tenant's contracted session limit: edges get the smaller of the cap and the
    /// capacity item of its cloud bypass. `none` removes the cap.
    SetCap {
        /// The tenant id.
        id: String,
        /// Concurrent sessions at most, or `none`.
        #[arg(value_name = "N|none", value_parser = parse_cap)]
        cap: SessionCap,
        #[command(flatten)]
        if_match: IfMatch,
    },
    /// Set where list change notifications go (the tenant's operations contact); `none`
    /// removes it.
    SetContact {
        /// The tenant id.
        id: String,
        /// An e-mail address, or `none`.
        #[arg(value_name = "ADDRESS|none")]
        contact: String,
        /// Mails to this tenant wait for business hours (`true`) or go at once (`false`).
        #[arg(long, value_name = "BOOL")]
        business_days: Option<bool>,
        #[command(flatten)]
        if_match: IfMatch,
    },
    /// Show the tenant's quotas: each one's limit, default and what the tenant holds.
    Quotas {
        /// The tenant id.
        id: String,
    },
    /// Change quotas of the tenant (the others keep their value); `default` returns one to
    /// its default.
    SetQuotas(SetQuotas),
    /// Show or change the attributes the contract rules need (private backbone, internet
    /// access).
    Attributes(AttributesArgs),
    /// Set what happens to destinations no rule matches: direct, block or upstream:<name>.
    SetDefault {
        /// The tenant id.
        id: String,
        /// direct, block or upstream:<name>.
        #[arg(value_parser = parse_action)]
        action: String,
        #[command(flatten)]
        if_match: IfMatch,
    },
}

/// `tenant create --file tenant.json`, or `tenant create ID --region R --source-cidr C …`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("from").required(true).args(["id", "file"])))]
pub struct TenantCreate {
    /// The tenant id (letters, digits, '.', '_', '-').
    #[arg(requires_all = ["region", "source_cidr", "session_limit"])]
    pub id: Option<String>,
    /// A tenant as JSON (the edge model; `region` required); `-` reads stdin.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["id", "region", "source_cidr",
        "session_limit", "default_action", "upstream"])]
    pub file: Option<PathBuf>,
    /// The region the tenant is pinned to (cannot change later).
    #[arg(long, value_name = "R")]
    pub region: Option<String>,
    /// Registered source networks (IPv4 CIDRs); repeat or list several.
    #[arg(long, value_name = "CIDR", num_args = 1.., value_parser = parse_cidr)]
    pub source_cidr: Vec<String>,
    /// Concurrent sessions the tenant may hold.
    #[arg(long, value_name = "N")]
    pub session_limit: Option<u32>,
    /// Action for unmatched destinations (default: block).
    #[arg(long, value_name = "A", value_parser = parse_action)]
    pub default_action: Option<String>,
    /// A parent proxy, name=host:port; repeatable.
    #[arg(long, value_name = "NAME=HOST:PORT", value_parser = parse_upstream)]
    pub upstream: Vec<(String, String)>,
}

#[derive(Debug, Subcommand)]
pub enum SourceIpCmd {
    /// Show the tenant's source networks.
    List {
        /// The tenant id.
        id: String,
    },
    /// Replace the tenant's source networks.
    Set {
        /// The tenant id.
        id: String,
        /// IPv4 source networks (a.b.c.d/len, or an address for /32).
        #[arg(required = true, value_parser = parse_cidr)]
        cidrs: Vec<String>,
        #[command(flatten)]
        if_match: IfMatch,
    },
    /// Register one more source network.
    Add {
        /// The tenant id.
        id: String,
        /// An IPv4 source network (a.b.c.d/len, or an address for /32).
        #[arg(value_parser = parse_cidr)]
        cidr: String,
    },
    /// Unregister a source network.
    Remove {
        /// The tenant id.
        id: String,
        /// An IPv4 source network (a.b.c.d/len, or an address for /32).
        #[arg(value_parser = parse_cidr)]
        cidr: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RuleCmd {
    /// Show the tenant's rules with their indexes.
    List {
        /// The tenant id.
        id: String,
    },
    /// Replace all rules with a JSON array from a file (`-` reads stdin).
    Set {
        /// The tenant id.
        id: String,
        /// A JSON array of rules (the edge model); `-` reads stdin.
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
        #[command(flatten)]
        if_match: IfMatch,
    },
    /// Append a rule.
    Add(RuleAdd),
    /// Remove the rule at INDEX (as `rule list` shows it).
    Remove {
        /// The tenant id.
        id: String,
        /// The rule's index, as `rule list` shows it (from 0).
        index: usize,
        #[command(flatten)]
        if_match: IfMatch,
    },
}

/// `rule add ID --action A --dest D… [--list L…] [--port P…] [--name N]`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("what").required(true).multiple(true).args(["dest", "list"])))]
pub struct RuleAdd {
    /// The tenant id.
    pub id: String,
    /// direct, block or upstream:<name>.
    #[arg(long, value_name = "A", value_parser = parse_action)]
    pub action: String,
    /// Destinations: host, *.domain, pattern or IPv4 CIDR; repeat or list several.
    #[arg(long, value_name = "D", num_args = 1.., value_parser = parse_destination)]
    pub dest: Vec<String>,
    /// Names of the tenant's lists the rule applies to.
    #[arg(long, value_name = "L", num_args = 1..)]
    pub list: Vec<String>,
    /// Only these destination ports (default: all).
    #[arg(long, value_name = "P", num_args = 1.., value_parser = port)]
    pub port: Vec<u16>,
    /// A label for logs and explanations.
    #[arg(long, value_name = "N")]
    pub name: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum EdgeCmd {
    /// Every connected edge: region, address, applied version, lag, last report, sessions.
    List {
        /// Only edges of this region.
        #[arg(long, value_name = "R")]
        region: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum StoreCmd {
    /// Print a consistent dump of the whole state (`store export > dump.json`).
    Export,
    /// Replace the state with a dump's content (`store import < dump.json`), as one write.
    Import {
        /// Overwrite a store that already holds regions or tenants.
        #[arg(long)]
        replace: bool,
        /// Read the dump from this file instead of stdin.
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only events after this store version.
    #[arg(long, value_name = "V")]
    pub since: Option<u64>,
    /// At most this many events.
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
}

#[derive(Debug, Args)]
pub struct SessionsArgs {
    /// Only this tenant.
    #[arg(long, value_name = "T")]
    pub tenant: Option<String>,
    /// Only this region.
    #[arg(long, value_name = "R")]
    pub region: Option<String>,
}

#[derive(Debug, Args)]
pub struct RefusalsArgs {
    /// The tenant.
    #[arg(value_name = "TENANT")]
    pub tenant: String,
    /// Only this region.
    #[arg(long, value_name = "R")]
    pub region: Option<String>,
}

fn port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(format!("{s:?} is not a port (1-65535)")),
    }
}

/// `tenant set-cap`'s value: a number of sessions, or `None` for `none` (remove the cap).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionCap(pub Option<u32>);

fn parse_cap(s: &str) -> Result<SessionCap, String> {
    if s == "none" {
        return Ok(SessionCap(None));
    }
    s.parse::<u32>()
        .map(|n| SessionCap(Some(n)))
        .map_err(|_| format!("{s:?} is neither a number of sessions nor `none`"))
}

fn parse_action(s: &str) -> Result<String, String> {
    s.parse::<Action>()
        .map(|a| a.to_string())
        .map_err(|e| e.message)
}

fn parse_cidr(s: &str) -> Result<String, String> {
    s.parse::<SourceCidr>()
        .map(|c| c.to_string())
        .map_err(|e| e.message)
}

fn parse_upstream(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, addr)) if !name.is_empty() && !addr.is_empty() => {
            Ok((name.to_string(), addr.to_string()))
        }
        _ => Err(format!("{s:?} is not name=host:port")),
    }
}
