//! `tenant quotas` and `tenant set-quotas` arguments (docs/api.md#quotas).

use clap::Args;

use super::arg_types::IfMatch;

/// `tenant set-quotas ID --lists N --entries default …`: the quotas named change, the others
/// keep their override (or default).
#[derive(Debug, Args)]
pub struct SetQuotas {
    /// The tenant id.
    pub id: String,
    /// Named lists.
    #[arg(long, value_name = "N|default", value_parser = parse_quota)]
    pub lists: Option<QuotaValue>,
    /// Entries of one list (at most 100000).
    #[arg(long, value_name = "N|default", value_parser = parse_quota)]
    pub list_entries: Option<QuotaValue>,
    /// Destinations in all (list entries and rules' own destinations).
    #[arg(long, value_name = "N|default", value_parser = parse_quota)]
    pub entries: Option<QuotaValue>,
    /// Bytes of configuration (the tenant's record as JSON).
    #[arg(long, value_name = "N|default", value_parser = parse_quota)]
    pub bytes: Option<QuotaValue>,
    /// Rules.
    #[arg(long, value_name = "N|default", value_parser = parse_quota)]
    pub rules: Option<QuotaValue>,
    /// Webhooks.
    #[arg(long, value_name = "N|default", value_parser = parse_quota)]
    pub webhooks: Option<QuotaValue>,
    /// API tokens.
    #[arg(long, value_name = "N|default", value_parser = parse_quota)]
    pub tokens: Option<QuotaValue>,
    #[command(flatten)]
    pub if_match: IfMatch,
}

impl SetQuotas {
    /// The quotas named on the command line, by their API name.
    pub fn named(&self) -> Vec<(&'static str, QuotaValue)> {
        [
            ("lists", self.lists),
            ("list_entries", self.list_entries),
            ("entries", self.entries),
            ("bytes", self.bytes),
            ("rules", self.rules),
            ("webhooks", self.webhooks),
            ("tokens", self.tokens),
        ]
        .into_iter()
        .filter_map(|(name, v)| v.map(|v| (name, v)))
        .collect()
    }
}

/// A quota's new value: a number, or `None` for `default`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaValue(pub Option<u64>);

fn parse_quota(s: &str) -> Result<QuotaValue, String> {
    if s == "default" {
        return Ok(QuotaValue(None));
    }
    s.parse::<u64>()
        .map(|n| QuotaValue(Some(n)))
        .map_err(|_| format!("{s:?} is neither a number nor `default`"))
}
