//! What happens to a tenant's request for `HOST:PORT`: the one decision the edge's proxy, the
//! edge's `/explain` and the control plane's explain all make, so they cannot disagree.
//!
//! [`Router`] is a tenant compiled for deciding: its [`Matcher`] and its parent proxies, whose
//! names are resolved when it is compiled (a rule can never name a parent proxy that is not
//! there at request time). [`Router::route`] is the request path's call (allocation-free);
//! [`Router::explain`] makes the same call and adds what an operator needs to see: the rule, list
//! and entry, and the destination guard's verdict on the addresses that would be dialled.
//! Resolving names is I/O and stays with the caller: an explanation without resolution judges
//! IP literals and says that a name is checked after resolution.

mod explain;
mod parent;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

pub use self::explain::{
    reason, AddressCheck, ExplainContext, Explanation, GuardStatus, GuardVerdict, Resolution,
    ALLOW_PRIVATE_HINT, MAX_ATTEMPTS,
};
pub use self::parent::ParentProxy;
use crate::action::Action;
use crate::canon::Host;
use crate::error::PolicyError;
use crate::guard::Purpose;
use crate::matcher::Matcher;
use crate::model::{NamedList, Tenant};

/// One tenant, compiled for deciding requests.
#[derive(Debug)]
pub struct Router {
    matcher: Matcher,
    /// The tenant's parent proxies, sorted by name. Shared so that a request can keep one
    /// (a kept-alive connection's key) without copying its host.
    parents: Box<[Arc<ParentProxy>]>,
    /// Per rule index, then the default action: where it sends a request.
    rule_steps: Box<[Step]>,
    default_step: Step,
    egress: Option<Ipv4Addr>,
}

/// An action with its parent proxy's name resolved to an index into `Router::parents`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Block,
    Direct,
    Parent(u32),
}

/// Where a request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route<'r> {
    /// Refused by a `block` rule (or the default).
    Block,
    /// Dialled from the edge (its egress address, if the tenant has one).
    Direct,
    /// Sent to the tenant's parent proxy.
    Upstream(&'r Arc<ParentProxy>),
}

impl Route<'_> {
    /// The action's kind as metrics and logs say it (`direct`, `upstream`, `block`).
    pub fn kind(&self) -> &'static str {
        match self {
            Route::Block => "block",
            Route::Direct => "direct",
            Route::Upstream(_) => "upstream",
        }
    }
}

/// A request's route and the rule that chose it (`None`: the tenant's default action).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Routed<'r> {
    pub route: Route<'r>,
    pub rule: Option<usize>,
}

/// What the destination guard checks for a route: the addresses of `host`, dialled on `port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardTarget<'h> {
    pub host: Host<'h>,
    pub port: u16,
    pub purpose: Purpose,
}

impl<'r> Routed<'r> {
    /// What the destination guard must check before this route dials a request for
    /// `host:port`: the destination itself (`direct`), the parent proxy (`upstream`), or
    /// nothing (`block`).
    pub fn guard_target<'h>(&self, host: &Host<'h>, port: u16) -> Option<GuardTarget<'h>>
    where
        'r: 'h,
    {
        match self.route {
            Route::Block => None,
            Route::Direct => Some(GuardTarget {
                host: host.clone(),
                port,
                purpose: Purpose::Destination,
            }),
            Route::Upstream(p) => Some(GuardTarget {
                host: p.host().clone(),
                port: p.port(),
                purpose: Purpose::ParentProxy,
            }),
        }
    }
}

impl Router {
    /// Compiles `tenant`'s rules (see [`Matcher::compile`]) and parent proxies. Errors name the
    /// field relative to the tenant; prefix them with [`PolicyError::within`].
    pub fn compile(
        tenant: &Tenant,
        shared: &BTreeMap<String, NamedList>,
    ) -> Result<Router, PolicyError> {
        let matcher = Matcher::compile(tenant, shared)?;
        let parents = tenant
            .upstreams
            .iter()
            .map(|(name, addr)| {
                ParentProxy::parse(name, addr).map(Arc::new).map_err(|why| {
                    PolicyError::new(format!("upstreams[{name}]"), format!("{addr:?}: {why}"))
                })
            })
            .collect::<Result<Box<[_]>, _>>()?;
        // BTreeMap order: already sorted by name, so `binary_search_by` below is valid.
        let step = |action: &Action, field: &str| match action {
            Action::Block => Ok(Step::Block),
            Action::Direct => Ok(Step::Direct),
            Action::Upstream(name) => parents
                .binary_search_by(|p| p.name().cmp(name))
                .map(|i| Step::Parent(i as u32))
                .map_err(|_| {
                    PolicyError::new(
                        field,
                        format!("upstream {name:?} is not defined in the tenant's upstreams"),
                    )
                }),
        };
        let rule_steps = tenant
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| step(&r.action, &format!("rules[{i}].action")))
            .collect::<Result<Box<[_]>, _>>()?;
        let default_step = step(&tenant.default_action, "default_action")?;
        Ok(Router {
            matcher,
            parents,
            rule_steps,
            default_step,
            egress: tenant.egress_address,
        })
    }

    /// The route for a request to `host` (from [`crate::canon::canonical_host`]) on `port`.
    /// Allocation-free: the request path calls it for every request.
    pub fn route(&self, host: &Host<'_>, port: u16) -> Routed<'_> {
        let rule = self.matcher.decide(host, port).rule;
        let step = rule.map_or(self.default_step, |i| {
            self.rule_steps.get(i).copied().unwrap_or(Step::Block)
        });
        let route = match step {
            Step::Block => Route::Block,
            Step::Direct => Route::Direct,
            // `compile` made every index from `parents` itself; a miss is impossible, and
            // refusing is the safe answer to the impossible.
            Step::Parent(i) => self
                .parents
                .get(i as usize)
                .map_or(Route::Block, Route::Upstream),
        };
        Routed { route, rule }
    }

    /// The rule's label (`name`, or `rules[<index>]`; `default` for `None`).
    pub fn rule_label(&self, rule: Option<usize>) -> &str {
        self.matcher.rule_label(rule)
    }

    /// The compiled rules.
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// The tenant's parent proxies, sorted by name.
    pub fn parents(&self) -> &[Arc<ParentProxy>] {
        &self.parents
    }

    /// The address the tenant's `direct` connections leave from, if it has one. Such
    /// connections are IPv4 only.
    pub fn egress(&self) -> Option<Ipv4Addr> {
        self.egress
    }
}

#[cfg(test)]
mod tests;
