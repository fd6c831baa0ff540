//! The destination guard: which addresses Breakout may connect to on a tenant's behalf.
//!
//! Pure classification of an IP address, shared by everything that dials an address someone
//! else chose: the edge's `direct` traffic and parent proxies, the control plane's webhook
//! deliveries, and `explain`. The caller resolves names and must connect to exactly an address
//! that passed (so DNS rebinding cannot reach inside); this module never does I/O.
//!
//! IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64 `64:ff9b::/96`, 6to4) are
//! judged by the embedded address; Teredo (whose client address is obfuscated) is refused whole.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;
use serde::Serialize;

/// Why an address is refused: the class of special-purpose address it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Prohibited {
    Unspecified,
    Loopback,
    Private,
    LinkLocal,
    /// A cloud provider's instance metadata service (credentials live there).
    Metadata,
    SharedCgnat,
    Multicast,
    Broadcast,
    Reserved,
}

impl Prohibited {
    /// The class in words, for error messages (`"loopback address"`).
    pub fn describe(self) -> &'static str {
        match self {
            Prohibited::Unspecified => "unspecified address",
            Prohibited::Loopback => "loopback address",
            Prohibited::Private => "private address",
            Prohibited::LinkLocal => "link-local address",
            Prohibited::Metadata => "cloud metadata address",
            Prohibited::SharedCgnat => "shared (CGNAT) address",
            Prohibited::Multicast => "multicast address",
            Prohibited::Broadcast => "broadcast address",
            Prohibited::Reserved => "reserved address",
        }
    }

    /// Classes that are never a destination, whatever the options say: connecting to them
    /// reaches this host's own listeners or nothing at all.
    pub fn always(self) -> bool {
        matches!(
            self,
            Prohibited::Unspecified
                | Prohibited::Multicast
                | Prohibited::Broadcast
                | Prohibited::Reserved
        )
    }
}

/// Whom an address is dialled for: the rules differ for a tenant's own parent proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// A destination a client or tenant named (`direct` traffic, webhook targets).
    Destination,
    /// A tenant's parent proxy: reached over its private backbone, so private and CGNAT
    /// addresses are fine; loopback and link-local (metadata) still need `allow_private`.
    ParentProxy,
}

/// What the guard allows beyond public addresses. The default allows nothing more.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GuardOptions {
    /// Allow every refusable class except the unconditional ones ([`Prohibited::always`]):
    /// labs and tests (the edge's `allow_private_destinations`).
    pub allow_private: bool,
    /// Ranges an operator allows explicitly (e.g. an internal webhook receiver's subnet). An
    /// unconditional class stays refused even inside one.
    pub allowed_ranges: Vec<IpNet>,
}

impl GuardOptions {
    /// Options that allow private destinations or not, with no extra ranges.
    pub fn allow_private(allow: bool) -> GuardOptions {
        GuardOptions {
            allow_private: allow,
            allowed_ranges: Vec::new(),
        }
    }

    /// `Err` with the class if `ip` may not be dialled for `purpose`.
    pub fn check(&self, ip: IpAddr, purpose: Purpose) -> Result<(), Prohibited> {
        let Some(class) = classify(ip) else {
            return Ok(());
        };
        let allowed = !class.always()
            && (self.allow_private
                || passes_for(class, purpose)
                || self.allowed_ranges.iter().any(|r| r.contains(&ip)));
        match allowed {
            true => Ok(()),
            false => Err(class),
        }
    }
}

/// The guard's verdict on one resolved address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressVerdict {
    Allowed,
    Prohibited(Prohibited),
    /// An IPv6 address, for a tenant whose connections leave from an IPv4 egress address.
    Unusable,
}

impl GuardOptions {
    /// The verdict on `ip` for `purpose`; `ipv4_only` when the connection must leave from an
    /// IPv4 egress address. The proxy's dialler and `explain` both judge addresses with this.
    pub fn verdict(&self, ip: IpAddr, purpose: Purpose, ipv4_only: bool) -> AddressVerdict {
        match self.check(ip, purpose) {
            Err(class) => AddressVerdict::Prohibited(class),
            Ok(()) if ipv4_only && ip.is_ipv6() => AddressVerdict::Unusable,
            Ok(()) => AddressVerdict::Allowed,
        }
    }
}

/// Why a destination has no address a connection may try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoAddress {
    /// Every address is refused; the first refused one and its class.
    Prohibited(IpAddr, Prohibited),
    /// Only IPv6 addresses, for a connection that must leave from an IPv4 egress address.
    NoneUsable,
    /// An address to try is one of this proxy's own listeners.
    Loop,
}

impl GuardOptions {
    /// The addresses a connection to `port` may try, in order, at most `max`: those the guard
    /// allows (see [`GuardOptions::verdict`]). Refused if none is left, or if one of them is
    /// one of `listeners` (a loop). The dialler connects to exactly these.
    pub fn select(
        &self,
        addrs: &[IpAddr],
        port: u16,
        purpose: Purpose,
        ipv4_only: bool,
        max: usize,
        listeners: &[SocketAddr],
    ) -> Result<Vec<SocketAddr>, NoAddress> {
        let mut refused = None;
        let mut candidates = Vec::with_capacity(addrs.len().min(max));
        for &ip in addrs {
            if candidates.len() == max {
                break;
            }
            match self.verdict(ip, purpose, ipv4_only) {
                AddressVerdict::Allowed => candidates.push(SocketAddr::new(ip, port)),
                AddressVerdict::Prohibited(class) => {
                    refused = refused.or(Some(NoAddress::Prohibited(ip, class)))
                }
                AddressVerdict::Unusable => {}
            }
        }
        if candidates.is_empty() {
            return Err(refused.unwrap_or(NoAddress::NoneUsable));
        }
        if candidates.iter().any(|a| reaches_listener(listeners, *a)) {
            return Err(NoAddress::Loop);
        }
        Ok(candidates)
    }
}

/// True if dialling `addr` would reach one of `listeners` (this proxy's own sockets): a loop.
/// A listener on an unspecified address is reached on any address; one on loopback, on any
/// loopback address.
pub fn reaches_listener(listeners: &[SocketAddr], addr: SocketAddr) -> bool {
    listeners.iter().any(|own| {
        own.port() == addr.port()
            && (own.ip() == addr.ip()
                || own.ip().is_unspecified()
                || (own.ip().is_loopback() && addr.ip().is_loopback()))
    })
}

/// Private and CGNAT addresses are a parent proxy's normal home.
fn passes_for(class: Prohibited, purpose: Purpose) -> bool {
    purpose == Purpose::ParentProxy
        && matches!(class, Prohibited::Private | Prohibited::SharedCgnat)
}

/// `Err` with the class if `ip` may not be a destination (no extra ranges).
pub fn check(ip: IpAddr, allow_private: bool) -> Result<(), Prohibited> {
    GuardOptions::allow_private(allow_private).check(ip, Purpose::Destination)
}

/// The class of a special-purpose address, or `None` for a global one. An IPv6 address that
/// embeds an IPv4 one has the IPv4 address's class.
pub fn classify(ip: IpAddr) -> Option<Prohibited> {
    match ip {
        IpAddr::V4(a) => classify_v4(a),
        IpAddr::V6(a) => classify_v6(a),
    }
}

/// Well-known instance metadata endpoints inside otherwise refusable ranges: AWS, GCP, Azure,
/// OpenStack (169.254.169.254), AWS ECS task metadata (169.254.170.2), Alibaba
/// (100.100.100.200). (Oracle's 192.0.0.192 is in 192.0.0.0/24, refused unconditionally.)
const METADATA_V4: [Ipv4Addr; 3] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(100, 100, 100, 200),
];

/// AWS's IPv6 instance metadata endpoint (`fd00:ec2::254`).
const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

fn classify_v4(a: Ipv4Addr) -> Option<Prohibited> {
    let o = a.octets();
    if o[0] == 0 {
        Some(Prohibited::Unspecified)
    } else if METADATA_V4.contains(&a) {
        Some(Prohibited::Metadata)
    } else if a.is_loopback() {
        Some(Prohibited::Loopback)
    } else if a.is_private() {
        Some(Prohibited::Private)
    } else if a.is_link_local() {
        Some(Prohibited::LinkLocal)
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Some(Prohibited::SharedCgnat)
    } else if a.is_multicast() {
        Some(Prohibited::Multicast)
    } else if a.is_broadcast() {
        Some(Prohibited::Broadcast)
    } else if o[0] >= 240
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
    {
        // 240/4 reserved, 192.0.0.0/24 IETF protocol assignments, 198.18/15 benchmarking.
        Some(Prohibited::Reserved)
    } else {
        None
    }
}

fn classify_v6(a: Ipv6Addr) -> Option<Prohibited> {
    if let Some(v4) = embedded_v4(a) {
        return classify_v4(v4);
    }
    let s = a.segments();
    if a.is_unspecified() {
        Some(Prohibited::Unspecified)
    } else if a.is_loopback() {
        Some(Prohibited::Loopback)
    } else if a == METADATA_V6 {
        Some(Prohibited::Metadata)
    } else if (s[0] & 0xfe00) == 0xfc00 {
        Some(Prohibited::Private)
    } else if (s[0] & 0xffc0) == 0xfe80 {
        Some(Prohibited::LinkLocal)
    } else if a.is_multicast() {
        Some(Prohibited::Multicast)
    } else if s[0] == 0x2001 && s[1] == 0 {
        // Teredo: the embedded client address is obfuscated; refuse the range outright.
        Some(Prohibited::Reserved)
    } else {
        None
    }
}

/// The IPv4 address an IPv6 address stands for: mapped, compatible, NAT64 or 6to4.
fn embedded_v4(a: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = a.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = a.to_ipv4_mapped() {
        Some(v4)
    } else if (s[..6] == [0, 0, 0, 0, 0, 0] && !(s[6] == 0 && s[7] <= 1))
        || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
    {
        // IPv4-compatible (deprecated, but still parsed) and NAT64 well-known prefix.
        Some(tail)
    } else if s[0] == 0x2002 {
        Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn internal_addresses_are_refused_by_default() {
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.1.1",
            "100.64.0.1",
            "100.100.100.200",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "198.18.0.1",
            "::1",
            "::",
            "fd00::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "::127.0.0.1",
        ] {
            assert!(check(ip(s), false).is_err(), "{s} allowed");
        }
        for s in [
            "13.107.6.152",
            "142.250.0.1",
            "2606:4700::1111",
            "203.0.113.5",
            // Embeddings of public IPv4 addresses are as public as the address.
            "64:ff9b::d6b:698",
            "2002:d6b:698::",
            "::ffff:13.107.6.152",
        ] {
            assert!(check(ip(s), false).is_ok(), "{s} refused");
        }
    }

    #[test]
    fn embeddings_have_the_class_of_the_embedded_address() {
        assert_eq!(classify(ip("::ffff:10.0.0.1")), Some(Prohibited::Private));
        assert_eq!(classify(ip("64:ff9b::7f00:1")), Some(Prohibited::Loopback));
        assert_eq!(classify(ip("2002:a9fe:a9fe::")), Some(Prohibited::Metadata));
        assert_eq!(
            classify(ip("::ffff:100.64.1.1")),
            Some(Prohibited::SharedCgnat)
        );
        assert_eq!(
            classify(ip("::1")),
            Some(Prohibited::Loopback),
            "not compatible 0.0.0.1"
        );
    }

    #[test]
    fn allow_private_keeps_the_unconditional_refusals() {
        assert!(check(ip("127.0.0.1"), true).is_ok());
        assert!(check(ip("10.0.0.1"), true).is_ok());
        assert!(check(ip("169.254.169.254"), true).is_ok());
        assert!(check(ip("0.0.0.0"), true).is_err());
        assert!(check(ip("::"), true).is_err());
        assert!(check(ip("224.0.0.1"), true).is_err());
    }

    #[test]
    fn parent_proxies_may_be_private_but_not_loopback_or_metadata() {
        let strict = GuardOptions::default();
        let parent = |s| strict.check(ip(s), Purpose::ParentProxy);
        assert!(parent("10.1.2.3").is_ok());
        assert!(parent("100.64.0.1").is_ok());
        assert_eq!(parent("127.0.0.1"), Err(Prohibited::Loopback));
        assert_eq!(parent("169.254.169.254"), Err(Prohibited::Metadata));
        assert_eq!(parent("0.0.0.0"), Err(Prohibited::Unspecified));
        let lab = GuardOptions::allow_private(true);
        assert!(lab.check(ip("127.0.0.1"), Purpose::ParentProxy).is_ok());
    }

    #[test]
    fn ipv6_is_unusable_from_an_ipv4_egress_address() {
        let o = GuardOptions::default();
        let v = |s, v4| o.verdict(ip(s), Purpose::Destination, v4);
        assert_eq!(v("2606:4700::1111", true), AddressVerdict::Unusable);
        assert_eq!(v("2606:4700::1111", false), AddressVerdict::Allowed);
        assert_eq!(
            v("::1", true),
            AddressVerdict::Prohibited(Prohibited::Loopback)
        );
    }

    #[test]
    fn select_keeps_allowed_addresses_in_order_or_says_why_none() {
        let o = GuardOptions::default();
        let ips = |v: &[&str]| v.iter().map(|s| ip(s)).collect::<Vec<_>>();
        let own: Vec<SocketAddr> = vec!["13.107.6.152:3128".parse().expect("own")];
        let sel = |v: &[&str], v4, port| o.select(&ips(v), port, Purpose::Destination, v4, 2, &own);
        let got = sel(
            &["10.0.0.1", "13.107.6.153", "2606:4700::1", "13.107.6.154"],
            false,
            443,
        );
        let want: Vec<SocketAddr> = vec![
            "13.107.6.153:443".parse().expect("a"),
            "[2606:4700::1]:443".parse().expect("b"),
        ];
        assert_eq!(got, Ok(want), "at most 2, refused ones skipped");
        assert_eq!(
            sel(&["10.0.0.1", "127.0.0.1"], false, 443),
            Err(NoAddress::Prohibited(ip("10.0.0.1"), Prohibited::Private))
        );
        assert_eq!(
            sel(&["2606:4700::1"], true, 443),
            Err(NoAddress::NoneUsable)
        );
        assert_eq!(sel(&["13.107.6.152"], false, 3128), Err(NoAddress::Loop));
    }

    #[test]
    fn a_listener_is_reached_on_its_port_only() {
        let own: Vec<SocketAddr> = vec![
            "127.0.0.1:3128".parse().expect("a"),
            "0.0.0.0:9090".parse().expect("b"),
        ];
        let hit = |s: &str| reaches_listener(&own, s.parse().expect("addr"));
        assert!(hit("127.0.0.1:3128"));
        assert!(
            hit("127.0.0.2:3128"),
            "any loopback address reaches a loopback listener"
        );
        assert!(
            hit("203.0.113.9:9090"),
            "an unspecified listener is reached on any address"
        );
        assert!(!hit("127.0.0.1:3129"));
        assert!(!hit("203.0.113.9:3128"));
    }

    #[test]
    fn allowed_ranges_open_exactly_those_ranges() {
        let opts = GuardOptions {
            allow_private: false,
            allowed_ranges: vec![
                "10.20.0.0/16".parse().expect("net"),
                "0.0.0.0/8".parse().expect("net"),
            ],
        };
        let dest = |s| opts.check(ip(s), Purpose::Destination);
        assert!(dest("10.20.3.4").is_ok());
        assert_eq!(dest("10.21.3.4"), Err(Prohibited::Private));
        assert_eq!(dest("127.0.0.1"), Err(Prohibited::Loopback));
        assert_eq!(
            dest("0.0.0.0"),
            Err(Prohibited::Unspecified),
            "never, even when listed"
        );
        assert!(dest("13.107.6.152").is_ok());
    }
}
