//! One destination entry of a rule or list, parsed and canonicalised.

use std::fmt;
use std::str::FromStr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::canon::{canonical_host, Host};
use crate::error::PolicyError;

/// A destination as written in configs and vendor lists.
///
/// - `outlook.office365.com`: that host exactly.
/// - `*.sharepoint.com`: strict subdomains only (`sharepoint.com` itself does not match), as
///   Microsoft's lists mean it.
/// - a pattern with `*` elsewhere (`autodiscover.*.onmicrosoft.com`, `*cdn.onenote.net`): each `*`
///   matches within one label (zero or more characters, never a dot).
/// - `[*].googleapis.com`: exactly one label (any text) before `googleapis.com` — Google's
///   meaning of a leading `*.`. The brackets keep it apart from the suffix form `*.x`; it is a
///   pattern whose first label is `*`, and is written back the same way.
/// - `203.0.113.0/24` or `203.0.113.7`: IPv4 literal hosts inside the network.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Destination {
    Exact(String),
    /// The parent domain whose strict subdomains match (stored without the `*.`).
    Suffix(String),
    /// Canonical labels, some containing `*`.
    Pattern(String),
    Cidr(Ipv4Net),
}

impl FromStr for Destination {
    type Err = PolicyError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let s = raw.trim();
        let bad = |why: &str| PolicyError::new("", format!("destination {raw:?}: {why}"));
        if s.is_empty() {
            return Err(bad("empty"));
        }
        if s.contains('/') {
            if s.contains(':') {
                return Err(bad("IPv6 destinations are not supported; use IPv4 CIDRs"));
            }
            let net: Ipv4Net = s.parse().map_err(|_| bad("not an IPv4 CIDR"))?;
            return Ok(Destination::Cidr(net.trunc()));
        }
        if let Some(rest) = s.strip_prefix(ONE_LABEL) {
            return parse_pattern(&format!("*.{rest}")).map_err(|why| bad(&why));
        }
        if let Some(parent) = s.strip_prefix("*.") {
            if !parent.contains('*') {
                return match canonical_host(parent).map_err(|e| bad(&e.to_string()))? {
                    Host::Name(n) => Ok(Destination::Suffix(n.into_owned())),
                    _ => Err(bad("a wildcard needs a domain name after \"*.\"")),
                };
            }
        }
        if s.contains('*') {
            return parse_pattern(s).map_err(|why| bad(&why));
        }
        match canonical_host(s).map_err(|e| bad(&e.to_string()))? {
            Host::Name(n) => Ok(Destination::Exact(n.into_owned())),
            Host::Ipv4(a) => Ok(Destination::Cidr(Ipv4Net::from(a))),
            Host::Ipv6(_) => Err(bad("IPv6 destinations are not supported; use IPv4 CIDRs")),
        }
    }
}

/// How a pattern whose first label is a lone `*` is written (`*.x` alone means the suffix form).
const ONE_LABEL: &str = "[*].";

/// Canonicalises a wildcard pattern label by label: literal labels through the canonicaliser,
/// wildcard labels lowercased (they must be ASCII).
fn parse_pattern(s: &str) -> Result<Destination, String> {
    let s = s.strip_suffix('.').unwrap_or(s);
    let mut out = Vec::new();
    for label in s.split('.') {
        if label.is_empty() {
            return Err("empty label".into());
        }
        if label.contains('*') {
            if label.contains("**") {
                return Err("\"**\" is not a pattern".into());
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_*".contains(&b))
            {
                return Err(
                    "a wildcard label may hold only ASCII letters, digits, '-', '_' and '*'".into(),
                );
            }
            out.push(label.to_ascii_lowercase());
        } else {
            match canonical_host(label).map_err(|e| e.to_string())? {
                Host::Name(n) => out.push(n.into_owned()),
                _ => out.push(label.to_string()),
            }
        }
    }
    if out.last().is_some_and(|l| l.contains('*')) {
        return Err("the last label may not be a wildcard".into());
    }
    // The labels after the last wildcard are a domain name in their own right, and the matcher
    // canonicalises them as one: `x*.c107.6.11` would end in what URL parsers read as an IPv4
    // address (found by the matcher fuzz target: validated here, refused at compile).
    let wild = out.iter().rposition(|l| l.contains('*')).unwrap_or(0);
    let anchor = out[wild + 1..].join(".");
    match canonical_host(&anchor).map_err(|e| e.to_string())? {
        Host::Name(n) if n == anchor.as_str() => {}
        _ => return Err(format!("must end in a domain name, not {anchor:?}")),
    }
    Ok(Destination::Pattern(out.join(".")))
}

impl TryFrom<String> for Destination {
    type Error = PolicyError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Destination> for String {
    fn from(d: Destination) -> String {
        d.to_string()
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Pattern(h) => match h.strip_prefix("*.") {
                Some(rest) => write!(f, "{ONE_LABEL}{rest}"),
                None => f.write_str(h),
            },
            Destination::Exact(h) => f.write_str(h),
            Destination::Suffix(p) => write!(f, "*.{p}"),
            Destination::Cidr(n) if n.prefix_len() == 32 => n.addr().fmt(f),
            Destination::Cidr(n) => n.fmt(f),
        }
    }
}
