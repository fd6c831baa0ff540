//! The requests a PAC is probed with: every destination of a tenant instantiated (and its near
//! misses), fixed look-alikes, shadowed hosts and IP literals, each as several URLs.

use std::collections::{BTreeMap, BTreeSet};

use breakout_policy::pac::PacSettings;
use breakout_policy::{canonical_host, Destination, NamedList, Tenant};

/// One `FindProxyForURL(url, host)` call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub url: String,
    /// As the browser passes it (IPv6 without brackets); may be mixed case or end in a dot.
    pub host: String,
}

impl Request {
    pub fn new(url: impl Into<String>, host: impl Into<String>) -> Request {
        Request {
            url: url.into(),
            host: host.into(),
        }
    }

    pub fn port(&self) -> u16 {
        url::Url::parse(&self.url)
            .ok()
            .and_then(|u| u.port_or_known_default())
            .unwrap_or(80)
    }
}

/// Hosts that are in no list, or shadowed by a more specific entry, or IP literals.
pub const EXTRA_HOSTS: &[&str] = &[
    "fakeoffice.com",
    "fakesharepoint.com",
    "sharepoint.com.evil.test",
    "office.com",
    "example.org",
    "cdn.odc.officeapps.live.com",
    "word-edit.officeapps.live.com",
    "graph.microsoft.com",
    "docs.microsoft.com",
    "anything.microsoft.com",
    "x.teams.cloud.microsoft",
    "word.cloud.microsoft",
    "contoso-files.sharepoint.com",
    "contoso.bad.sharepoint.com",
    "autodiscover.contoso.onmicrosoft.com",
    "autodiscover.a.b.onmicrosoft.com",
    "a.xcdn.onenote.net",
    "prefix.ab.com",
    "prefix.cd.com",
    "abc.patterns.example",
    "axxbyyc.patterns.example",
    "axxbyy.patterns.example",
    "ac.patterns.example",
    "axc.patterns.example",
    "aba.overlap.example",
    "abba.overlap.example",
    "prefix.microsoft.com",
    "intranet",
    "localhost",
    "contoso.local",
    "wiki.contoso.local",
    "corp.contoso.com",
    "hr.corp.contoso.com",
    "40.96.1.2",
    "40.97.1.2",
    "52.112.10.20",
    "131.253.33.215",
    "131.253.33.216",
    "8.8.8.8",
    "8.8.4.4",
    "198.51.100.7",
    "100.64.1.1",
    "10.1.2.3",
    "172.16.5.4",
    "172.32.0.1",
    "192.168.1.1",
    "169.254.1.1",
    "127.0.0.1",
    "127.1",
    "0x7f.1",
    "2130706433",
    "0x28.0x60.1.2",
    "050.96.1.2",
    "1.2.3.4.5",
    "1.2.3.256",
    "::1",
    "0:0:0:0:0:0:0:1",
    "1::",
    "fd00::1",
    "fe80::1",
    "2603:1006::1",
    "::ffff:10.0.0.1",
];

/// Every host worth asking about for `tenant` (its rules' destinations, inline and from lists,
/// and the settings' exceptions), then each as several URLs: `https://h/`, `http://h/`, one
/// with an explicit port (cycling through every port a rule names, plus 8080), one of `wss`,
/// `ws` or `ftp`, and for every third host a mixed-case, trailing-dot spelling. Hosts of
/// port-restricted rules also go out on every port, and with a numeric password in the
/// userinfo (`http://user:25@h/` is port 80).
pub fn requests(
    tenant: &Tenant,
    shared: &BTreeMap<String, NamedList>,
    settings: &PacSettings,
) -> Vec<super::Request> {
    let mut hosts = BTreeSet::new();
    // Hosts of port-restricted rules get every port, and a numeric password in the userinfo.
    let mut port_hosts = BTreeSet::new();
    let mut ports = BTreeSet::from([8080u16]);
    for rule in &tenant.rules {
        ports.extend(rule.ports.iter().copied());
        let set = match rule.ports.is_empty() {
            true => &mut hosts,
            false => &mut port_hosts,
        };
        rule.destinations.iter().for_each(|d| probes(d, set));
        for name in &rule.lists {
            if let Some(l) = tenant.lists.get(name).or_else(|| shared.get(name)) {
                l.entries.iter().for_each(|d| probes(d, set));
            }
        }
    }
    settings
        .direct_exceptions
        .iter()
        .for_each(|d| probes(d, &mut hosts));
    hosts.extend(EXTRA_HOSTS.iter().map(|h| h.to_string()));
    let ports: Vec<u16> = ports.into_iter().collect();
    let mut out = Vec::new();
    for (i, host) in hosts.iter().enumerate() {
        let in_url = match host.contains(':') {
            true => format!("[{host}]"),
            false => host.clone(),
        };
        out.push(Request::new(format!("https://{in_url}/"), host.as_str()));
        out.push(Request::new(format!("http://{in_url}/"), host.as_str()));
        let port = ports[i % ports.len()];
        out.push(Request::new(
            format!("http://{in_url}:{port}/path?q=1"),
            host.as_str(),
        ));
        // Other schemes' default ports (wss 443, ws 80, ftp 21), and userinfo before the port.
        let scheme = ["wss", "ws", "ftp"][i % 3];
        out.push(Request::new(format!("{scheme}://{in_url}/"), host.as_str()));
        if i % 3 == 0 && !host.contains(':') {
            let shouted = mixed_case(host) + ".";
            out.push(Request::new(
                format!("https://{shouted}:443/"),
                shouted.as_str(),
            ));
        }
    }
    for host in &port_hosts {
        for port in &ports {
            out.push(Request::new(
                format!("http://{host}:{port}/"),
                host.as_str(),
            ));
            out.push(Request::new(
                format!("http://user:{port}@{host}/"),
                host.as_str(),
            ));
        }
    }
    out
}

/// Hosts for one destination: matches, the bare parent, deeper names, and near misses.
fn probes(d: &Destination, hosts: &mut BTreeSet<String>) {
    let mut put = |h: String| {
        if canonical_host(&h).is_ok() {
            hosts.insert(h);
        }
    };
    match d {
        Destination::Exact(h) => {
            put(h.clone());
            put(format!("x.{h}"));
        }
        Destination::Suffix(p) => {
            put(p.clone());
            put(format!("x.{p}"));
            put(format!("a.b.{p}"));
            put(format!("fake{p}"));
        }
        Destination::Pattern(p) => {
            put(p.replace('*', "contoso"));
            put(p.replace('*', ""));
            put(p.replace('*', "x.y"));
            put(format!("deep.{}", p.replace('*', "contoso")));
            let star = p.rfind('*').unwrap_or(0);
            if let Some(dot) = p[star..].find('.') {
                put(p[star + dot + 1..].to_string());
            }
        }
        Destination::Cidr(net) => {
            let first = u32::from(net.network());
            let last = u32::from(net.broadcast());
            put(net.network().to_string());
            put(std::net::Ipv4Addr::from(first.saturating_add(1).min(last)).to_string());
            put(net.broadcast().to_string());
            put(std::net::Ipv4Addr::from(last.wrapping_add(1)).to_string());
            put(std::net::Ipv4Addr::from(first.wrapping_sub(1)).to_string());
        }
    }
}

/// `Outlook.OFFICE365.com`-style spellings: alternate labels upper-cased, first letters of the
/// rest.
fn mixed_case(host: &str) -> String {
    host.split('.')
        .enumerate()
        .map(|(i, l)| match i % 2 {
            0 => l.to_ascii_uppercase(),
            _ => {
                let mut c = l.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}
