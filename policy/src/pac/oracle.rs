//! The reference answer: what a generated PAC must return, computed from the edge's own
//! [`Matcher`] through the documented mapping ([`PacSettings::result_for`]), in the order
//! docs/pac.md gives. The tests compare a real PAC engine's answers with this.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::action::Action;
use crate::canon::{canonical_host, Host};
use crate::matcher::Matcher;
use crate::model::{NamedList, Rule, Tenant};

use super::{PacError, PacSettings, DIRECT};

/// The expected `FindProxyForURL` of one tenant's PAC.
#[derive(Debug)]
pub struct Oracle {
    rules: Matcher,
    /// The `direct_exceptions` as a one-rule matcher: a hit means `DIRECT`.
    exceptions: Matcher,
    settings: PacSettings,
}

impl Oracle {
    /// Compiles the tenant (and the exceptions) exactly as the edge would.
    pub fn new(
        tenant: &Tenant,
        shared: &BTreeMap<String, NamedList>,
        settings: &PacSettings,
    ) -> Result<Oracle, PacError> {
        settings.check(tenant)?;
        let rules = Matcher::compile(tenant, shared).map_err(PacError::Policy)?;
        let only_exceptions = Tenant {
            id: tenant.id.clone(),
            region: None,
            source_cidrs: Vec::new(),
            session_limit: 0,
            upstreams: BTreeMap::new(),
            rules: vec![Rule {
                name: Some("direct_exceptions".into()),
                action: Action::Direct,
                destinations: settings.direct_exceptions.clone(),
                lists: Vec::new(),
                ports: Vec::new(),
            }],
            default_action: Action::Block,
            lists: BTreeMap::new(),
            egress_address: None,
            pac: None,
        };
        let exceptions = Matcher::compile(&only_exceptions, &BTreeMap::new())
            .map_err(|e| PacError::Settings(e.within("direct_exceptions")))?;
        Ok(Oracle {
            rules,
            exceptions,
            settings: settings.clone(),
        })
    }

    /// What `FindProxyForURL(url, host)` must return. `resolved` stands for `dnsResolve(host)`
    /// and is only consulted with `ip_rules`, for a name no name rule matches.
    ///
    /// The port is the URL's, or its scheme's default (80 when unknown). The host is
    /// canonicalised like a request host; one that does not canonicalise (the edge would refuse
    /// it) gets the default action's result.
    pub fn find_proxy(&self, url: &str, host: &str, resolved: Option<Ipv4Addr>) -> String {
        let port = url::Url::parse(url)
            .ok()
            .and_then(|u| u.port_or_known_default())
            .unwrap_or(80);
        // Browsers hand PAC scripts IPv6 literals without brackets.
        let bracketed;
        let raw = if host.contains(':') && !host.starts_with('[') {
            bracketed = format!("[{host}]");
            &bracketed
        } else {
            host
        };
        let Ok(h) = canonical_host(raw) else {
            return self.default_result();
        };
        let s = &self.settings;
        match &h {
            Host::Ipv6(a) => {
                let private = a.is_loopback() || a.is_unique_local() || a.is_unicast_link_local();
                match s.private_ranges_direct && private {
                    true => DIRECT.into(),
                    false => self.default_result(),
                }
            }
            Host::Ipv4(a) => self.address(*a, port),
            Host::Name(name) => {
                if s.plain_hostnames_direct && !name.contains('.') {
                    return DIRECT.into();
                }
                if self.exceptions.decide(&h, port).rule.is_some() {
                    return DIRECT.into();
                }
                let d = self.rules.decide(&h, port);
                match (d.rule, resolved) {
                    (Some(_), _) => s.result_for(d.action),
                    (None, Some(a)) if s.ip_rules => self.address(a, port),
                    (None, _) => self.default_result(),
                }
            }
        }
    }

    /// An IPv4 address: private ranges, then CIDR exceptions, then the CIDR rules.
    fn address(&self, a: Ipv4Addr, port: u16) -> String {
        if self.settings.private_ranges_direct
            && (a.is_private() || a.is_loopback() || a.is_link_local())
        {
            return DIRECT.into();
        }
        let h = Host::Ipv4(a);
        if self.exceptions.decide(&h, port).rule.is_some() {
            return DIRECT.into();
        }
        self.settings.result_for(self.rules.decide(&h, port).action)
    }

    fn default_result(&self) -> String {
        self.settings.result_for(self.rules.default_action())
    }

    /// The edge's matcher for the tenant, for explaining a mismatch.
    pub fn matcher(&self) -> &Matcher {
        &self.rules
    }
}
