//! `explain`: the route of `HOST:PORT` with everything that made it, and the destination
//! guard's verdict on the addresses that would be dialled, from the same calls the proxy makes
//! ([`Router::route`], [`GuardOptions::select`]).

use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use super::{Route, Router};
use crate::canon::{canonical_host, Host, HostError};
use crate::guard::{AddressVerdict, GuardOptions, NoAddress, Prohibited, Purpose};
use crate::matcher;

/// Addresses the proxy tries per destination before giving up (the dialler's limit too).
pub const MAX_ATTEMPTS: usize = 3;

/// How a lab or test edge lets the guard through to private destinations. Said in the edge's
/// 403 for a private destination and in `explain`.
pub const ALLOW_PRIVATE_HINT: &str = "a lab or test edge may allow private destinations with \
     allow_private_destinations = true in its config file (or --allow-private-destinations)";

/// Stable reasons, as the access log and `breakout_edge_refusals_total` say them.
/// (The words of [`crate::outcome::Reason`], which all of them come from.)
pub mod reason {
    use crate::outcome::Reason;
    pub const BLOCKED_BY_RULE: &str = Reason::BlockedByRule.label();
    pub const DESTINATION_IP_PROHIBITED: &str = Reason::DestinationIpProhibited.label();
    pub const DNS_ERROR: &str = Reason::DnsError.label();
    pub const PROXY_LOOP: &str = Reason::ProxyLoop.label();
    pub const PORT_NOT_ALLOWED: &str = Reason::PortNotAllowed.label();
}

/// What the caller knows beyond the tenant's rules.
#[derive(Clone, Copy, Debug)]
pub struct ExplainContext<'a> {
    pub guard: &'a GuardOptions,
    /// The ports `CONNECT` may reach (the edge's `allowed_connect_ports`); `None` if unknown.
    pub connect_ports: Option<&'a [u16]>,
    /// The proxy's own listeners (dialling one is a loop); empty if unknown.
    pub listeners: &'a [SocketAddr],
}

/// The addresses of the host the guard checks (see [`super::Routed::guard_target`]), as far as the
/// caller resolved them. IP literals need none.
#[derive(Clone, Copy, Debug)]
pub enum Resolution<'a> {
    /// Not resolved here (the control plane): a name is checked by the edge after resolution.
    NotResolved,
    /// The addresses the edge's resolver returned, in its order.
    Resolved(&'a [IpAddr]),
    /// The resolver found nothing, or failed; why.
    Failed(&'a str),
}

/// What happens to a request, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub tenant: String,
    /// `direct`, `upstream` or `block` as the rules decide; `refused` when the destination
    /// guard refuses every address; `error` when the name has no usable address.
    pub decision: &'static str,
    /// Why the request is not forwarded (`blocked_by_rule`, `destination_ip_prohibited`,
    /// `dns_error`, `proxy_loop`), as the access log says it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The rule, list and entry that matched (`host`, `port`, `action`, `rule`, …).
    #[serde(flatten)]
    pub matched: matcher::Explanation,
    /// For `upstream`: the parent proxy's name and address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_proxy: Option<String>,
    pub guard: GuardVerdict,
    /// Whether a `CONNECT` may reach this port (absent when the caller does not know the
    /// edge's `allowed_connect_ports`); a plain `http://` request is not limited by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_port_allowed: Option<bool>,
    /// The whole answer in one sentence.
    pub summary: String,
}

/// The destination guard's part of an explanation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GuardVerdict {
    /// Whose addresses are checked: the destination's, or the parent proxy's. Absent for block.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<Purpose>,
    /// The host whose addresses are checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub status: GuardStatus,
    /// Every address known, in order, with its verdict.
    pub addresses: Vec<AddressCheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The guard's verdict on a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardStatus {
    /// Nothing is dialled (`block`).
    NotApplicable,
    /// At least one address may be dialled.
    Allowed,
    /// No address may be dialled (`destination_ip_prohibited`, or a loop).
    Refused,
    /// A name not resolved here: the edge checks its addresses when it resolves it.
    AfterResolution,
    /// The name has no usable address (`dns_error`).
    Unresolvable,
}

/// One address and the guard's verdict on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AddressCheck {
    pub address: IpAddr,
    /// `allowed`, `prohibited`, or `unusable` (IPv6 from an IPv4 egress address).
    pub verdict: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<Prohibited>,
}

impl Router {
    /// Explains what happens to `tenant`'s request for `host` (as a client would write it) on
    /// `port`. `resolution` holds the addresses of the guard target's host if the caller
    /// resolved it (see [`super::Routed::guard_target`]).
    pub fn explain(
        &self,
        tenant: &str,
        host: &str,
        port: u16,
        cx: &ExplainContext<'_>,
        resolution: Resolution<'_>,
    ) -> Result<Explanation, HostError> {
        let h = canonical_host(host)?;
        let matched = self.matcher().explain(host, port)?;
        let routed = self.route(&h, port);
        let parent_proxy = match routed.route {
            Route::Upstream(p) => Some(format!("{} ({p})", p.name())),
            _ => None,
        };
        let (guard, refusal) = match routed.guard_target(&h, port) {
            None => (
                GuardVerdict {
                    checks: None,
                    host: None,
                    status: GuardStatus::NotApplicable,
                    addresses: Vec::new(),
                    note: None,
                },
                None,
            ),
            Some(t) => {
                let ipv4_only = t.purpose == Purpose::Destination && self.egress().is_some();
                judge(&t.host, t.port, t.purpose, ipv4_only, cx, resolution)
            }
        };
        let (decision, reason) = match (routed.route, guard.status) {
            (Route::Block, _) => ("block", Some(reason::BLOCKED_BY_RULE)),
            (_, GuardStatus::Refused) => ("refused", refusal),
            (_, GuardStatus::Unresolvable) => ("error", refusal),
            (r, _) => (r.kind(), None),
        };
        let connect_port_allowed = cx.connect_ports.map(|ports| ports.contains(&port));
        let summary = summary(decision, &matched.rule_label, &guard, connect_port_allowed);
        Ok(Explanation {
            tenant: tenant.to_string(),
            decision,
            reason,
            matched,
            parent_proxy,
            guard,
            connect_port_allowed,
            summary,
        })
    }
}

/// The guard's verdict on the addresses of `host`, and the reason when it refuses.
fn judge(
    host: &Host<'_>,
    port: u16,
    purpose: Purpose,
    ipv4_only: bool,
    cx: &ExplainContext<'_>,
    resolution: Resolution<'_>,
) -> (GuardVerdict, Option<&'static str>) {
    let literal = match host {
        Host::Ipv4(a) => Some(IpAddr::V4(*a)),
        Host::Ipv6(a) => Some(IpAddr::V6(*a)),
        Host::Name(_) => None,
    };
    let literal = literal.map(|ip| [ip]);
    let mut v = GuardVerdict {
        checks: Some(purpose),
        host: Some(host.to_string()),
        status: GuardStatus::AfterResolution,
        addresses: Vec::new(),
        note: None,
    };
    let addrs: &[IpAddr] = match (&literal, resolution) {
        (Some(ip), _) => ip,
        (None, Resolution::Resolved(a)) => a,
        (None, Resolution::NotResolved) => {
            v.note = Some(format!(
                "{host} is a name: the edge checks the addresses it resolves to when it dials, \
                 and refuses it (destination_ip_prohibited) if none may be dialled"
            ));
            return (v, None);
        }
        (None, Resolution::Failed(why)) => {
            v.status = GuardStatus::Unresolvable;
            v.note = Some(why.to_string());
            return (v, Some(reason::DNS_ERROR));
        }
    };
    v.addresses = addrs
        .iter()
        .map(|&ip| match cx.guard.verdict(ip, purpose, ipv4_only) {
            AddressVerdict::Allowed => check(ip, "allowed", None),
            AddressVerdict::Prohibited(c) => check(ip, "prohibited", Some(c)),
            AddressVerdict::Unusable => check(ip, "unusable", None),
        })
        .collect();
    let selected = cx
        .guard
        .select(addrs, port, purpose, ipv4_only, MAX_ATTEMPTS, cx.listeners);
    let (status, reason, note) = match selected {
        Ok(_) => (GuardStatus::Allowed, None, None),
        Err(NoAddress::Prohibited(ip, class)) => {
            let hint = match class.always() {
                true => String::new(),
                false => format!("; {ALLOW_PRIVATE_HINT}"),
            };
            let why = format!("{ip} is a {}{hint}", class.describe());
            let r = reason::DESTINATION_IP_PROHIBITED;
            (GuardStatus::Refused, Some(r), Some(why))
        }
        Err(NoAddress::NoneUsable) => (
            GuardStatus::Unresolvable,
            Some(reason::DNS_ERROR),
            Some("no IPv4 address usable from the tenant's egress address".into()),
        ),
        Err(NoAddress::Loop) => (
            GuardStatus::Refused,
            Some(reason::PROXY_LOOP),
            Some("an address to dial is this proxy's own listener (a loop)".into()),
        ),
    };
    (v.status, v.note) = (status, note);
    (v, reason)
}

fn check(address: IpAddr, verdict: &'static str, class: Option<Prohibited>) -> AddressCheck {
    AddressCheck {
        address,
        verdict,
        class,
    }
}

fn summary(decision: &str, rule: &str, guard: &GuardVerdict, connect: Option<bool>) -> String {
    let mut s = match decision {
        "block" => format!("blocked by rule {rule}"),
        "refused" if guard.checks == Some(Purpose::ParentProxy) => {
            format!("upstream by rule {rule}, but the guard refuses the parent proxy")
        }
        "refused" => format!("direct by rule {rule}, but the destination guard refuses it"),
        "error" => format!("rule {rule} decides, but the host has no usable address"),
        other => format!("{other} by rule {rule}"),
    };
    if let Some(note) = &guard.note {
        s.push_str(": ");
        s.push_str(note);
    }
    if connect == Some(false) {
        s.push_str(" (a CONNECT to this port is refused: port_not_allowed)");
    }
    s
}
