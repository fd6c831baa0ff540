//! The command line for templates: operators' management and withdrawal (art. 11), tenants'
//! subscriptions.

use chrono::NaiveDate;
use clap::Subcommand;

use crate::contracts::TemplateItem;

#[derive(Debug, Subcommand)]
pub enum TemplateCmd {
    /// Withdraw a template item (art. 11): its contracts end; prints the affected tenants.
    Withdraw {
        /// microsoft365, azure-expressroute or google-workspace.
        item: TemplateItem,
        /// The day the withdrawal takes effect (default today).
        #[arg(long, value_name = "YYYY-MM-DD")]
        effective: Option<NaiveDate>,
    },
    #[command(flatten)]
    Manage(TemplateManageCmd),
}

#[derive(Debug, Subcommand)]
pub enum TemplateManageCmd {
    /// Every template item: live version, versions kept, candidates in quarantine.
    List,
    /// A version's sets (default: the live version).
    Show {
        item: TemplateItem,
        /// The template version number.
        #[arg(long = "at", value_name = "N")]
        at: Option<u32>,
    },
    /// Versions kept (oldest first) and quarantined candidates.
    Versions { item: TemplateItem },
    /// Hosts and ranges added and removed per set between two versions.
    Diff {
        item: TemplateItem,
        #[arg(long)]
        from: u32,
        /// Default: the live version.
        #[arg(long)]
        to: Option<u32>,
    },
    /// A quarantined candidate becomes the live version.
    Approve { item: TemplateItem, candidate: u32 },
    /// Drop a quarantined candidate.
    Reject { item: TemplateItem, candidate: u32 },
    /// Make a kept version live again.
    Rollback {
        item: TemplateItem,
        #[arg(long)]
        to: u32,
    },
    /// Poll every vendor source now (the leader polls).
    Sync,
    /// A tenant's template subscriptions.
    Subscriptions { tenant: String },
    /// Subscribe a tenant to a template (needs a list-template contract for it).
    Subscribe {
        tenant: String,
        item: TemplateItem,
        /// `direct` or `upstream:<name>`.
        #[arg(long, default_value = "direct")]
        action: String,
        /// Only these groups (serviceArea, BGP community group, Google group); repeatable.
        #[arg(long = "group")]
        groups: Vec<String>,
        /// Only these categories (Optimize, Allow, Default); repeatable.
        #[arg(long = "category")]
        categories: Vec<String>,
        #[arg(long)]
        required_only: bool,
        /// An entry of the tenant's own to add; repeatable.
        #[arg(long)]
        add: Vec<String>,
        /// A template entry to leave out; repeatable.
        #[arg(long)]
        exclude: Vec<String>,
        /// Stay on this template version.
        #[arg(long)]
        pin: Option<u32>,
        /// The Microsoft 365 instance to take sets of (Worldwide, China, USGovDoD,
        /// USGovGCCHigh; microsoft365 and azure-expressroute only). Default: Worldwide.
        #[arg(long)]
        instance: Option<String>,
    },
    /// Remove a tenant's subscription.
    Unsubscribe { tenant: String, item: TemplateItem },
    /// Pin a tenant's subscription to a version (`--none` follows the live one again).
    Pin {
        tenant: String,
        item: TemplateItem,
        #[arg(required_unless_present = "none", value_name = "VERSION")]
        number: Option<u32>,
        #[arg(long)]
        none: bool,
    },
}
