//! Which resolved addresses the edge may connect to.
//!
//! The check applies to the *resolved* address, and the edge connects to exactly the address it
//! checked, so DNS rebinding and odd host spellings cannot reach internal networks. IPv6 forms
//! that embed an IPv4 address (mapped, NAT64, 6to4, Teredo) are judged by the embedded address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prohibited {
    Unspecified,
    Loopback,
    Private,
    LinkLocal,
    SharedCgnat,
    Multicast,
    Broadcast,
    Reserved,
}

impl Prohibited {
    pub fn describe(self) -> &'static str {
        match self {
            Prohibited::Unspecified => "unspecified address",
            Prohibited::Loopback => "loopback address",
            Prohibited::Private => "private address",
            Prohibited::LinkLocal => "link-local address",
            Prohibited::SharedCgnat => "shared (CGNAT) address",
            Prohibited::Multicast => "multicast address",
            Prohibited::Broadcast => "broadcast address",
            Prohibited::Reserved => "reserved address",
        }
    }

    /// Kinds that are never a destination, whatever the config says: connecting to them reaches
    /// this host's own listeners or nothing at all.
    fn always(self) -> bool {
        matches!(
            self,
            Prohibited::Unspecified
                | Prohibited::Multicast
                | Prohibited::Broadcast
                | Prohibited::Reserved
        )
    }
}

/// `Err` with the reason if `ip` may not be a `direct` destination.
pub fn check(ip: IpAddr, allow_private: bool) -> Result<(), Prohibited> {
    match classify(ip) {
        Some(p) if p.always() || !allow_private => Err(p),
        _ => Ok(()),
    }
}

/// The class of a special-purpose address, or `None` for a global one.
pub fn classify(ip: IpAddr) -> Option<Prohibited> {
    match ip {
        IpAddr::V4(a) => classify_v4(a),
        IpAddr::V6(a) => classify_v6(a),
    }
}

fn classify_v4(a: Ipv4Addr) -> Option<Prohibited> {
    let o = a.octets();
    if o[0] == 0 {
        Some(Prohibited::Unspecified)
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
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
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
        ] {
            assert!(check(ip(s), false).is_ok(), "{s} refused");
        }
    }

    #[test]
    fn allow_private_keeps_the_unconditional_refusals() {
        assert!(check(ip("127.0.0.1"), true).is_ok());
        assert!(check(ip("10.0.0.1"), true).is_ok());
        assert!(check(ip("0.0.0.0"), true).is_err());
        assert!(check(ip("::"), true).is_err());
        assert!(check(ip("224.0.0.1"), true).is_err());
    }
}
