//! The command line for contracts, options, billing and the price book
//! (`docs/contracts.md`). Kinds, items, dates and months are parsed here with the contract
//! model's own parsers, so a typo is a usage error before anything is sent.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{ArgGroup, Args, Subcommand};

use crate::contracts::{ContractKind, OptionKind, TemplateItem, YearMonth};

#[derive(Debug, Subcommand)]
pub enum ContractCmd {
    /// A tenant's child contracts, their state and what they entitle it to.
    List {
        /// The tenant id.
        tenant: String,
        /// Show states on this day (default today, UTC).
        #[arg(long, value_name = "YYYY-MM-DD")]
        on: Option<NaiveDate>,
    },
    /// Order a child contract (a cloud bypass may bring options, e.g. initial-setup).
    Add(ContractAdd),
    /// Change a cloud bypass's capacity item: same plan only (art. 9); a one-time fee.
    ChangeCapacity {
        /// The tenant id.
        tenant: String,
        /// The contract id (c1, c2, …).
        contract: String,
        /// The new item in sessions (plan 1: 20000 40000 120000 200000; plan 2: 400000
        /// 800000 1000000).
        capacity: u32,
        /// The day the new item takes effect (default today).
        #[arg(long, value_name = "YYYY-MM-DD")]
        effective: Option<NaiveDate>,
    },
    /// Cancel a contract: effective on the later of notice + 30 days and --end (art. 12).
    Cancel {
        /// The tenant id.
        tenant: String,
        /// The contract id (c1, c2, …).
        contract: String,
        #[command(flatten)]
        end: EndArgs,
        /// Ending a cloud bypass: stop the options that need it on the same day (art. 6-4).
        #[arg(long)]
        stop_options: bool,
    },
}

/// `contract add TENANT KIND [--item I] [--capacity N] [--option O…] …`.
#[derive(Debug, Args)]
pub struct ContractAdd {
    /// The tenant id.
    pub tenant: String,
    /// list-template, cloud-bypass or external-integration.
    pub kind: ContractKind,
    /// list-template: microsoft365, azure-expressroute or google-workspace.
    #[arg(long, value_name = "ITEM")]
    pub item: Option<TemplateItem>,
    /// cloud-bypass: the capacity item in sessions.
    #[arg(long, value_name = "N")]
    pub capacity: Option<u32>,
    /// cloud-bypass: the plan (1 or 2; it follows from the capacity).
    #[arg(long, value_name = "P")]
    pub plan: Option<u8>,
    /// cloud-bypass: the region (default: the tenant's, which it must be).
    #[arg(long, value_name = "R")]
    pub region: Option<String>,
    /// When billing (and service) starts (default today).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub billing_start: Option<NaiveDate>,
    /// cloud-bypass: an option ordered with it (repeatable); initial-setup only this way.
    #[arg(long = "option", value_name = "KIND")]
    pub options: Vec<OptionKind>,
}

/// When a contract or option should end, and whose doing it is.
#[derive(Debug, Default, Args)]
pub struct EndArgs {
    /// The end date the notice names (the end is never sooner than 30 days from today).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub end: Option<NaiveDate>,
    /// The end is the provider's fault: no early-termination charge (art. 14).
    #[arg(long)]
    pub provider_fault: bool,
}

#[derive(Debug, Subcommand)]
pub enum OptionCmd {
    /// A tenant's options and their state.
    List {
        /// The tenant id.
        tenant: String,
        /// Show states on this day (default today, UTC).
        #[arg(long, value_name = "YYYY-MM-DD")]
        on: Option<NaiveDate>,
    },
    /// Order an option (internet-access, access-control, pac, list-update-api).
    Add {
        /// The tenant id.
        tenant: String,
        /// The option kind.
        kind: OptionKind,
        /// When billing starts (default today).
        #[arg(long, value_name = "YYYY-MM-DD")]
        billing_start: Option<NaiveDate>,
    },
    /// Stop an option: effective on the later of notice + 30 days and --end (art. 10-5).
    Stop {
        /// The tenant id.
        tenant: String,
        /// The option kind.
        kind: OptionKind,
        #[command(flatten)]
        end: EndArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum BillingCmd {
    /// A month's bill: each line with the article behind it.
    Preview {
        /// The tenant id.
        tenant: String,
        /// The month, YYYY-MM (default this month).
        #[arg(long, value_name = "YYYY-MM")]
        month: Option<YearMonth>,
    },
}

#[derive(Debug, Subcommand)]
pub enum PriceBookCmd {
    /// The price book in force today, and the days later books apply from.
    Show,
    /// Set a price book from a JSON file (`-` reads stdin).
    Set {
        /// The book: {list_template, cloud_bypass, external_integration, options}.
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
        /// The day it applies from (default today; never earlier).
        #[arg(long, value_name = "YYYY-MM-DD")]
        effective_from: Option<NaiveDate>,
    },
}

/// `tenant attributes ID [--private-backbone BOOL] [--internet-access-date D |
/// --no-internet-access]`: show, or change, what the rules need to know about the tenant.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("ia").args(["internet_access_date", "no_internet_access"])))]
pub struct AttributesArgs {
    /// The tenant id.
    pub id: String,
    /// Whether the tenant holds a private-backbone contract (art. 6-2).
    #[arg(long, value_name = "BOOL")]
    pub private_backbone: Option<bool>,
    /// The date of the tenant's internet-access contract (art. 6-3).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub internet_access_date: Option<NaiveDate>,
    /// The tenant has no internet-access contract.
    #[arg(long)]
    pub no_internet_access: bool,
}
