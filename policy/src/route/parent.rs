//! A tenant's parent proxy, parsed once from its `host:port` (when the policy is validated and
//! when it is compiled), never per request.

use std::net::Ipv6Addr;

use crate::canon::{canonical_host, Host};

/// A parent proxy: its name in the tenant's `upstreams`, and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentProxy {
    name: Box<str>,
    host: Host<'static>,
    port: u16,
}

impl ParentProxy {
    /// Parses `addr`: `host:port`, where host is a name, an IPv4 address or a bracketed IPv6
    /// address; the error says what is wrong with it.
    pub fn parse(name: &str, addr: &str) -> Result<ParentProxy, String> {
        let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
            let (v6, port) = rest.split_once("]:").ok_or("expected [ipv6]:port")?;
            let ip = v6
                .parse::<Ipv6Addr>()
                .map_err(|_| format!("{v6:?} is not an IPv6 address"))?;
            (Host::Ipv6(ip), port)
        } else {
            let (host, port) = addr.rsplit_once(':').ok_or("expected host:port")?;
            if host.is_empty() {
                return Err("the host is empty".into());
            }
            if host.contains(':') {
                return Err("an IPv6 address must be written in brackets: [addr]:port".into());
            }
            match canonical_host(host) {
                Ok(h @ (Host::Name(_) | Host::Ipv4(_))) => (h.into_owned(), port),
                Ok(Host::Ipv6(_)) | Err(_) => return Err(format!("{host:?} is not a host name")),
            }
        };
        let port = match port.parse::<u16>() {
            Ok(p) if p != 0 => p,
            _ => return Err(format!("port {port:?} is not in 1-65535")),
        };
        Ok(ParentProxy {
            name: name.into(),
            host,
            port,
        })
    }

    /// Its name in the tenant's `upstreams`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its host, canonical.
    pub fn host(&self) -> &Host<'static> {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl std::fmt::Display for ParentProxy {
    /// `host:port` (an IPv6 host in brackets).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses_parse_and_bad_ones_say_why() {
        let p = ParentProxy::parse("corp", "Proxy.Example.COM.:3128").expect("name");
        assert_eq!(
            (p.to_string().as_str(), p.name()),
            ("proxy.example.com:3128", "corp")
        );
        let p = ParentProxy::parse("v6", "[2001:db8::1]:8080").expect("v6");
        assert_eq!(p.to_string(), "[2001:db8::1]:8080");
        assert_eq!(
            ParentProxy::parse("x", "10.0.0.1:0").unwrap_err(),
            "port \"0\" is not in 1-65535"
        );
        for bad in ["nohost", ":80", "::1:80", "[::1]80", "bad host:80"] {
            assert!(ParentProxy::parse("x", bad).is_err(), "{bad} accepted");
        }
    }
}
