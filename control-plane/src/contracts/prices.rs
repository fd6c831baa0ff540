//! The price book (art. 13, annex 1): initial, monthly and one-time fees per kind, item and
//! option, in whole yen. Versioned: each book applies from its `effective_from` day until the
//! next one, so a price change never rewrites a past month.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::model::{capacities, plan_of, sessions, OptionKind, Service, TemplateItem};
use super::ContractError;

/// The fees of one item, in yen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fees {
    /// Due when the order is accepted.
    #[serde(default)]
    pub initial: u64,
    /// A full month's fee; prorated by day for part of a month.
    #[serde(default)]
    pub monthly: u64,
    /// Cloud-bypass items only: due when a change *to* this item is accepted (art. 9).
    #[serde(default)]
    pub one_time: u64,
}

/// Every fee the terms know (annex 1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceBook {
    pub list_template: BTreeMap<TemplateItem, Fees>,
    /// By capacity item (sessions).
    #[serde(with = "capacity_keys")]
    pub cloud_bypass: BTreeMap<u32, Fees>,
    pub external_integration: Fees,
    pub options: BTreeMap<OptionKind, Fees>,
}

/// A price book as stored: the day it applies from and the store version that set it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceBookRecord {
    pub effective_from: NaiveDate,
    pub version: u64,
    pub prices: PriceBook,
}

/// Every price book, by the day it applies from.
pub type PriceBooks = BTreeMap<NaiveDate, PriceBookRecord>;

/// The book that applies on `d`: the latest one from `d` or earlier. Days before the first book
/// use the first book (it is the price list the service started with).
pub fn book_at(books: &PriceBooks, d: NaiveDate) -> Option<&PriceBookRecord> {
    books
        .range(..=d)
        .next_back()
        .map(|(_, r)| r)
        .or_else(|| books.values().next())
}

/// Whether a book may be set to apply from `effective_from`, decided on `today`: never for a
/// past day (a bill already sent must not change). A book for a day that already has one
/// replaces it.
pub fn check_effective_from(
    effective_from: NaiveDate,
    today: NaiveDate,
) -> Result<(), ContractError> {
    if effective_from < today {
        return Err(ContractError::invalid(
            "art. 13",
            format!("effective_from: {effective_from} is in the past (today is {today}); prices never change retroactively"),
        ));
    }
    Ok(())
}

impl PriceBook {
    /// Annex 1: a fee for every item, and the zero fees the annex fixes.
    pub fn validate(&self) -> Result<(), ContractError> {
        let bad = |m: String| ContractError::invalid("annex 1", m);
        for item in TemplateItem::ALL {
            let fees = self
                .list_template
                .get(item)
                .ok_or_else(|| bad(format!("list_template: no fees for {item}")))?;
            no_one_time(fees, &format!("list_template[{item}]"))?;
        }
        for capacity in capacities() {
            if !self.cloud_bypass.contains_key(&capacity) {
                return Err(bad(format!(
                    "cloud_bypass: no fees for the {}-session item",
                    sessions(capacity)
                )));
            }
        }
        if let Some(odd) = self.cloud_bypass.keys().find(|c| plan_of(**c).is_none()) {
            return Err(bad(format!(
                "cloud_bypass[{odd}]: {} sessions is not a capacity item (art. 3)",
                sessions(*odd)
            )));
        }
        no_one_time(&self.external_integration, "external_integration")?;
        for kind in OptionKind::ALL {
            let at = format!("options[{kind}]");
            let fees = self
                .options
                .get(kind)
                .ok_or_else(|| bad(format!("options: no fees for {kind}")))?;
            no_one_time(fees, &at)?;
            let free_start = matches!(kind, OptionKind::AccessControl | OptionKind::ListUpdateApi);
            if free_start && fees.initial != 0 {
                return Err(bad(format!(
                    "{at}.initial: {kind} has no initial fee; it must be 0"
                )));
            }
            if *kind == OptionKind::InitialSetup && fees.monthly != 0 {
                return Err(bad(format!(
                    "{at}.monthly: {kind} has no monthly fee; it must be 0"
                )));
            }
        }
        Ok(())
    }

    /// The fees of a contract's service with the cloud-bypass item `capacity` (ignored for other
    /// kinds). A validated book has them all; a gap reads as zero.
    pub fn service(&self, service: &Service, capacity: Option<u32>) -> Fees {
        let fees = match service {
            Service::ListTemplate { item } => self.list_template.get(item),
            Service::CloudBypass {
                capacity: ordered, ..
            } => self.cloud_bypass.get(&capacity.unwrap_or(*ordered)),
            Service::ExternalIntegration => Some(&self.external_integration),
        };
        fees.copied().unwrap_or_default()
    }

    pub fn option(&self, kind: OptionKind) -> Fees {
        self.options.get(&kind).copied().unwrap_or_default()
    }
}

fn no_one_time(fees: &Fees, at: &str) -> Result<(), ContractError> {
    if fees.one_time != 0 {
        return Err(ContractError::invalid(
            "annex 1",
            format!("{at}.one_time: only a change of cloud-bypass item has a one-time fee; it must be 0"),
        ));
    }
    Ok(())
}

/// Capacity items as JSON object keys (`"20000"`). By hand, because serde cannot read a `u32`
/// map key from a string once it has buffered the input, as it does for every field of an
/// internally tagged enum such as `state::Command` (a log entry that cannot be read back stops
/// a Raft node).
mod capacity_keys {
    use std::collections::BTreeMap;

    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Fees;

    pub fn serialize<S: Serializer>(map: &BTreeMap<u32, Fees>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(
            map.iter()
                .map(|(capacity, fees)| (capacity.to_string(), fees)),
        )
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<u32, Fees>, D::Error> {
        BTreeMap::<String, Fees>::deserialize(d)?
            .into_iter()
            .map(|(key, fees)| match key.parse::<u32>() {
                Ok(capacity) => Ok((capacity, fees)),
                Err(_) => Err(D::Error::custom(format!(
                    "{key:?} is not a capacity item in sessions"
                ))),
            })
            .collect()
    }
}
