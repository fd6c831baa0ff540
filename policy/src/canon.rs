//! The one host canonicaliser, used for list entries and request hosts alike.
//!
//! Lowercase, IDNA/UTS-46 mapping to punycode A-labels, one trailing dot removed, and IPv4
//! literals in every form a URL parser accepts (`127.1`, `0x7f.1`, `2130706433`, fullwidth digits,
//! `。` dots) turned into the address they denote, so that no spelling slips past a rule or the
//! destination guard. Common hosts (already lowercase ASCII) take a fast path without allocating.

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A canonical host: a name in A-label form, or an IP address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host<'a> {
    Name(Cow<'a, str>),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
}

impl Host<'_> {
    pub fn into_owned(self) -> Host<'static> {
        match self {
            Host::Name(n) => Host::Name(Cow::Owned(n.into_owned())),
            Host::Ipv4(a) => Host::Ipv4(a),
            Host::Ipv6(a) => Host::Ipv6(a),
        }
    }
}

impl std::fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ipv4(a) => a.fmt(f),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Why a host string is not a host.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("empty host")]
    Empty,
    #[error("host {0:?} is not a valid domain name or IP address")]
    Invalid(String),
    #[error("host {0:?} is longer than 253 characters or has a label over 63")]
    TooLong(String),
}

const MAX_NAME: usize = 253;
const MAX_LABEL: usize = 63;

/// Canonicalises `raw` (a request host or list entry, without port).
pub fn canonical_host(raw: &str) -> Result<Host<'_>, HostError> {
    if raw.is_empty() {
        return Err(HostError::Empty);
    }
    if let Some(inner) = raw.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return inner
            .parse::<Ipv6Addr>()
            .map(Host::Ipv6)
            .map_err(|_| HostError::Invalid(raw.to_string()));
    }
    let trimmed = raw.strip_suffix('.').unwrap_or(raw);
    if is_plain_name(trimmed) {
        return Ok(Host::Name(Cow::Borrowed(trimmed)));
    }
    // Four decimal octets without leading zeros (all the standard library's parser accepts)
    // are that address to every parser: no need for the URL parser's IDNA pass.
    if let Ok(a) = trimmed.parse::<Ipv4Addr>() {
        return Ok(Host::Ipv4(a));
    }
    slow_path(raw, trimmed)
}

/// Lowercase ASCII letters, digits, `-` and `_` in well-formed labels, whose last label cannot be
/// read as a number: such a name is already canonical.
fn is_plain_name(s: &str) -> bool {
    if s.is_empty() || s.len() > MAX_NAME {
        return false;
    }
    let mut last = "";
    for label in s.split('.') {
        if label.is_empty() || label.len() > MAX_LABEL || label.starts_with("xn--") {
            return false;
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return false;
        }
        last = label;
    }
    // A numeric-looking last label makes the whole host an IPv4 literal to URL parsers.
    !(last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x"))
}

/// Characters no host may hold, before or after UTS-46 mapping.
const FORBIDDEN: [char; 7] = ['*', '%', '/', '\\', '@', ':', ' '];

fn slow_path<'a>(raw: &'a str, trimmed: &str) -> Result<Host<'a>, HostError> {
    let invalid = || HostError::Invalid(raw.to_string());
    if trimmed.is_empty() || trimmed.contains(FORBIDDEN) {
        return Err(invalid());
    }
    match url::Host::parse(trimmed).map_err(|_| invalid())? {
        url::Host::Ipv4(a) => Ok(Host::Ipv4(a)),
        url::Host::Ipv6(a) => Ok(Host::Ipv6(a)),
        url::Host::Domain(d) => {
            // UTS-46 maps fullwidth and ideographic dots to '.', which can leave a trailing dot.
            let d = d.strip_suffix('.').map(str::to_string).unwrap_or(d);
            // Mapping can make a forbidden character of an allowed one (fullwidth '＊' → '*'):
            // the canonical form must itself canonicalise to itself.
            if d.contains(FORBIDDEN) {
                return Err(invalid());
            }
            if d.is_empty() || d.len() > MAX_NAME {
                return Err(HostError::TooLong(raw.to_string()));
            }
            for label in d.split('.') {
                if label.is_empty() {
                    return Err(invalid());
                }
                if label.len() > MAX_LABEL {
                    return Err(HostError::TooLong(raw.to_string()));
                }
            }
            Ok(Host::Name(Cow::Owned(d)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Host<'static> {
        Host::Name(Cow::Owned(s.to_string()))
    }

    #[test]
    fn plain_names_borrow() {
        assert!(matches!(
            canonical_host("outlook.office365.com"),
            Ok(Host::Name(Cow::Borrowed(_)))
        ));
        assert_eq!(
            canonical_host("outlook.office365.com.").unwrap(),
            name("outlook.office365.com")
        );
    }

    #[test]
    fn case_and_idn_are_folded() {
        assert_eq!(
            canonical_host("Outlook.OFFICE365.com").unwrap(),
            name("outlook.office365.com")
        );
        assert_eq!(
            canonical_host("bücher.example").unwrap(),
            name("xn--bcher-kva.example")
        );
        assert_eq!(
            canonical_host("BÜCHER.example.").unwrap(),
            name("xn--bcher-kva.example")
        );
        assert_eq!(
            canonical_host("xn--bcher-kva.example").unwrap(),
            name("xn--bcher-kva.example")
        );
    }

    #[test]
    fn ipv4_spellings_become_addresses() {
        let lo = Host::Ipv4(Ipv4Addr::LOCALHOST);
        for s in [
            "127.0.0.1",
            "127.1",
            "0x7f.1",
            "2130706433",
            "0x7F000001",
            "１２７．０．０．１",
            "127。0。0。1",
        ] {
            assert_eq!(canonical_host(s).unwrap(), lo, "{s}");
        }
        assert_eq!(
            canonical_host("[::1]").unwrap(),
            Host::Ipv6(Ipv6Addr::LOCALHOST)
        );
    }

    #[test]
    fn the_dotted_quad_shortcut_agrees_with_the_url_parser() {
        for s in [
            "127.0.0.1",
            "127.0.0.1.",
            "0.0.0.0",
            "255.255.255.255",
            "10.1.2.3",
            "010.1.2.3",
            "127.0.0.01",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.3",
        ] {
            let trimmed = s.strip_suffix('.').unwrap_or(s);
            let slow = slow_path(s, trimmed).map(Host::into_owned).ok();
            let fast = canonical_host(s).map(Host::into_owned).ok();
            assert_eq!(fast, slow, "{s}");
        }
    }

    #[test]
    fn garbage_is_refused() {
        for s in [
            "",
            ".",
            "a..b",
            "a b",
            "exa%mple.com",
            "a/b",
            "[zz]",
            "*.x.com",
            // Fullwidth '＊' maps to '*' (found by the host_canon fuzz target).
            "x.$＊",
            "a.＊.example",
        ] {
            assert!(canonical_host(s).is_err(), "{s:?} accepted");
        }
        let long = format!("{}.com", "a".repeat(64));
        assert!(canonical_host(&long).is_err());
    }
}
