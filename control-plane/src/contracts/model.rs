//! What a tenant (the parent contract, art. 1) holds: attributes, child contracts and options,
//! each with the dates of its life. Plain serde data: the state stores it, the rules read it.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Art. 3: the cloud-bypass capacity items (concurrent sessions) of plan 1 and plan 2.
pub const PLANS: [(u8, &[u32]); 2] = [
    (1, &[20_000, 40_000, 120_000, 200_000]),
    (2, &[400_000, 800_000, 1_000_000]),
];

/// The plan a capacity item belongs to, or `None` if art. 3 has no such item.
pub fn plan_of(capacity: u32) -> Option<u8> {
    PLANS
        .iter()
        .find(|(_, items)| items.contains(&capacity))
        .map(|(plan, _)| *plan)
}

/// Every capacity item, plan 1 first.
pub fn capacities() -> impl Iterator<Item = u32> {
    PLANS.iter().flat_map(|(_, items)| items.iter().copied())
}

/// `20,000`: sessions as the terms write them.
pub fn sessions(n: u32) -> String {
    thousands(u64::from(n))
}

/// `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let lead = digits.len() % 3;
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        // A comma goes before every digit with a multiple of three digits after it.
        if i > 0 && i % 3 == lead {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Declares a kebab-case string enum with `as_str`, `ALL`, `Display` and `FromStr`.
macro_rules! names {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let all: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    format!("{s:?} is not one of {}", all.join(", "))
                })
            }
        }
    };
}

names!(
    /// Art. 2: the kinds of child contract.
    ContractKind {
        ListTemplate = "list-template",
        CloudBypass = "cloud-bypass",
        ExternalIntegration = "external-integration",
    }
);

names!(
    /// Art. 3: the destination-list template items.
    TemplateItem {
        Microsoft365 = "microsoft365",
        AzureExpressroute = "azure-expressroute",
        GoogleWorkspace = "google-workspace",
    }
);

names!(
    /// Art. 10: the options a tenant may hold.
    OptionKind {
        InternetAccess = "internet-access",
        AccessControl = "access-control",
        Pac = "pac",
        ListUpdateApi = "list-update-api",
        InitialSetup = "initial-setup",
    }
);

/// What the rules need to know about the tenant beyond its contracts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attributes {
    /// Holds a private-backbone contract (needed for cloud bypass, art. 6-2).
    #[serde(default)]
    pub private_backbone: bool,
    /// When its internet-access contract was made, if it has one (art. 6-3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_access_contract_date: Option<NaiveDate>,
}

/// The function a child contract provides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Service {
    ListTemplate {
        item: TemplateItem,
    },
    /// `capacity` is the item ordered; later items are in [`Contract::capacity_changes`].
    CloudBypass {
        plan: u8,
        capacity: u32,
        region: String,
    },
    ExternalIntegration,
}

impl Service {
    pub fn kind(&self) -> ContractKind {
        match self {
            Service::ListTemplate { .. } => ContractKind::ListTemplate,
            Service::CloudBypass { .. } => ContractKind::CloudBypass,
            Service::ExternalIntegration => ContractKind::ExternalIntegration,
        }
    }

    /// `list-template microsoft365`, `cloud-bypass plan 1`, `external-integration`.
    pub fn describe(&self) -> String {
        match self {
            Service::ListTemplate { item } => format!("list-template {item}"),
            Service::CloudBypass { plan, .. } => format!("cloud-bypass plan {plan}"),
            Service::ExternalIntegration => "external-integration".into(),
        }
    }
}

/// Why a contract or option ended (or is due to).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The tenant's notice (art. 12, or art. 10-5 for an option).
    Notice,
    /// The operator withdrew the template item (art. 11).
    Withdrawn,
}

/// The dates of one contract's or option's life. `effective_end` is the day the end takes
/// effect: the last day of service and of monthly fees is the day before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Term {
    /// The day the order was accepted (initial fees fall due, art. 13).
    pub applied: NaiveDate,
    /// Service and monthly fees start (art. 13); the minimum term counts from here (art. 4).
    pub billing_start: NaiveDate,
    /// First day after the minimum term; `None` when there is none (initial setup, 10-4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_term_end: Option<NaiveDate>,
    /// The day the tenant's notice arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<NaiveDate>,
    /// The end date the notice named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_end: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_end: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<EndReason>,
    /// The operator marked the end as the provider's fault: no early-termination charge.
    #[serde(default)]
    pub provider_fault: bool,
}

/// A child contract (art. 1, 2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contract {
    /// `c1`, `c2`, … in order of creation within the tenant.
    pub id: String,
    pub service: Service,
    pub term: Term,
    /// Art. 9 changes of the cloud-bypass item, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity_changes: Vec<CapacityChange>,
    pub created_version: u64,
    pub changed_version: u64,
}

/// One art. 9 change: from `effective` on, the contract's item is `to`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapacityChange {
    /// When the change was accepted (the one-time fee falls due, art. 13).
    pub accepted: NaiveDate,
    pub effective: NaiveDate,
    pub from: u32,
    pub to: u32,
    pub version: u64,
}

/// An option (art. 10).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantOption {
    /// `o1`, `o2`, … in order of creation within the tenant.
    pub id: String,
    pub kind: OptionKind,
    pub term: Term,
    pub created_version: u64,
    pub changed_version: u64,
}

/// Everything one tenant holds. Contracts and options are never removed, so that billing can
/// look back; they end.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantContracts {
    #[serde(default)]
    pub attributes: Attributes,
    #[serde(default)]
    pub contracts: Vec<Contract>,
    #[serde(default)]
    pub options: Vec<TenantOption>,
}

/// An order for a child contract, as the API takes it. Which fields apply depends on `kind`;
/// the rules refuse the others by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractOrder {
    pub kind: ContractKind,
    /// list-template: the template item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<TemplateItem>,
    /// cloud-bypass: the plan (optional; it follows from the capacity item).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<u8>,
    /// cloud-bypass: the capacity item in sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
    /// cloud-bypass: the region (default: the tenant's region, which it must equal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Default: the day the order is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_start: Option<NaiveDate>,
    /// cloud-bypass: options ordered in the same request (initial setup only this way, 10-3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<OptionKind>,
}

/// A notice to end a contract (art. 12) or stop an option (10-5).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndRequest {
    /// The end date the notice names; the end takes effect on the later of this and the day 30
    /// days after the notice arrives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_end: Option<NaiveDate>,
    /// The end is the provider's fault: waive the early-termination charge (art. 14).
    #[serde(default)]
    pub provider_fault: bool,
    /// Ending a cloud bypass: stop the options that need it on the same day (else 409, 6-4).
    #[serde(default)]
    pub stop_options: bool,
}

/// A change to one tenant's contracts, checked by [`crate::contracts::check`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ContractRequest {
    SetAttributes {
        attributes: Attributes,
    },
    AddContract {
        order: ContractOrder,
    },
    ChangeCapacity {
        contract: String,
        capacity: u32,
        /// Default: the day the change is accepted.
        #[serde(default)]
        effective: Option<NaiveDate>,
    },
    Cancel {
        contract: String,
        end: EndRequest,
    },
    AddOption {
        kind: OptionKind,
        #[serde(default)]
        billing_start: Option<NaiveDate>,
    },
    StopOption {
        kind: OptionKind,
        end: EndRequest,
    },
}
