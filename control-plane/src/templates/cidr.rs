//! A real CIDR set difference (`a` minus `b`), IPv4 and IPv6: what Google's own ranges are once
//! the customer-usable Google Cloud ranges are taken out.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// A prefix as bits: `addr` left-aligned in `width` bits (32 or 128), host bits zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bits {
    addr: u128,
    len: u8,
    width: u8,
}

impl Bits {
    fn contains(self, other: Bits) -> bool {
        self.width == other.width && self.len <= other.len && {
            let mask = mask(self.len, self.width);
            other.addr & mask == self.addr
        }
    }

    fn halves(self) -> [Bits; 2] {
        let bit = 1u128 << (self.width - self.len - 1);
        let len = self.len + 1;
        [
            Bits { len, ..self },
            Bits {
                addr: self.addr | bit,
                len,
                ..self
            },
        ]
    }
}

fn mask(len: u8, width: u8) -> u128 {
    let full = if width == 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    if len == 0 {
        0
    } else {
        full & !((1u128 << (width - len)) - 1) & full
    }
}

fn bits(n: IpNet) -> Bits {
    let n = n.trunc();
    match n {
        IpNet::V4(v) => Bits {
            addr: u128::from(u32::from(v.addr())),
            len: v.prefix_len(),
            width: 32,
        },
        IpNet::V6(v) => Bits {
            addr: u128::from(v.addr()),
            len: v.prefix_len(),
            width: 128,
        },
    }
}

fn net(b: Bits) -> Option<IpNet> {
    if b.width == 32 {
        let a = Ipv4Addr::from(u32::try_from(b.addr).ok()?);
        Ipv4Net::new(a, b.len).ok().map(IpNet::V4)
    } else {
        Ipv6Net::new(Ipv6Addr::from(b.addr), b.len)
            .ok()
            .map(IpNet::V6)
    }
}

/// Splits `a` until no piece partly overlaps any of `minus`; keeps the pieces no `minus` covers.
fn subtract(a: Bits, minus: &[Bits], out: &mut Vec<Bits>) {
    if minus.iter().any(|m| m.contains(a)) {
        return;
    }
    let inside: Vec<Bits> = minus.iter().copied().filter(|m| a.contains(*m)).collect();
    if inside.is_empty() {
        out.push(a);
        return;
    }
    for half in a.halves() {
        subtract(half, &inside, out);
    }
}

/// Every address in some prefix of `a` and in none of `b`, as the fewest prefixes (aggregated,
/// IPv4 first, sorted).
pub fn difference(a: &[IpNet], b: &[IpNet]) -> Vec<IpNet> {
    let minus: Vec<Bits> = b.iter().map(|n| bits(*n)).collect();
    let mut pieces = Vec::new();
    for n in a {
        subtract(bits(*n), &minus, &mut pieces);
    }
    let nets: Vec<IpNet> = pieces.into_iter().filter_map(net).collect();
    IpNet::aggregate(&nets)
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn p(s: &str) -> IpNet {
        s.parse().expect("prefix")
    }

    #[test]
    fn a_hole_in_the_middle() {
        let d = difference(&[p("10.0.0.0/8")], &[p("10.1.0.0/16")]);
        assert!(d.contains(&p("10.0.0.0/16")));
        assert!(d.contains(&p("10.128.0.0/9")));
        assert!(!d.iter().any(|n| n.contains(&p("10.1.2.3/32"))));
        assert_eq!(d.len(), 8);
        assert_eq!(difference(&[p("10.1.0.0/16")], &[p("10.0.0.0/8")]), vec![]);
        let v6 = difference(&[p("2001:db8::/32")], &[p("2001:db8:8000::/33")]);
        assert_eq!(v6, vec![p("2001:db8::/33")]);
        // Families never subtract from each other.
        assert_eq!(
            difference(&[p("10.0.0.0/8")], &[p("::/0")]),
            vec![p("10.0.0.0/8")]
        );
    }

    /// Random small prefixes inside one /24 (or /120): every address is checked by brute force.
    fn check(rng: &mut StdRng, base: IpNet, width_bits: u8) {
        let base_bits = bits(base);
        let random = |rng: &mut StdRng| {
            let len = base_bits.len + rng.random_range(0..=width_bits);
            let offset: u128 = rng.random_range(0..(1u128 << width_bits));
            let host = offset << (base_bits.width - base_bits.len - width_bits);
            let b = Bits {
                addr: base_bits.addr | host,
                len,
                width: base_bits.width,
            };
            let b = Bits {
                addr: b.addr & mask(len, b.width),
                ..b
            };
            net(b).expect("valid")
        };
        let a: Vec<IpNet> = (0..rng.random_range(1..5)).map(|_| random(rng)).collect();
        let b: Vec<IpNet> = (0..rng.random_range(0..6)).map(|_| random(rng)).collect();
        let d = difference(&a, &b);
        for i in 0..(1u128 << width_bits) {
            let addr = Bits {
                addr: base_bits.addr | i,
                len: base_bits.width,
                width: base_bits.width,
            };
            let ip = net(addr).expect("valid");
            let want = a.iter().any(|n| n.contains(&ip)) && !b.iter().any(|n| n.contains(&ip));
            let got = d.iter().any(|n| n.contains(&ip));
            assert_eq!(got, want, "{ip} in {a:?} minus {b:?} = {d:?}");
        }
    }

    #[test]
    fn matches_brute_force_on_small_prefixes() {
        let mut rng = StdRng::seed_from_u64(6);
        for _ in 0..400 {
            check(&mut rng, p("192.0.2.0/24"), 8);
            check(&mut rng, p("2001:db8::/120"), 8);
        }
    }
}
