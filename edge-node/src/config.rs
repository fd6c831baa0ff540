//! The edge config file (TOML): listener and safety settings plus, for a standalone edge, the
//! same [`RegionPolicy`] the control plane sends. With a control plane the file gives settings
//! only ([`EdgeConfig::parse_settings`]). Every field is documented in `docs/edge-config.md`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use breakout_policy::model::{NamedList, RegionPolicy, Tenant, SCHEMA_VERSION};
use breakout_policy::validate::validate;
use serde::Deserialize;

/// Why a config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Invalid {
        path: PathBuf,
        source: breakout_policy::PolicyError,
    },
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EdgeFile {
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    node_id: Option<String>,
    #[serde(default = "default_listen")]
    listen: SocketAddr,
    #[serde(default = "default_admin_listen")]
    admin_listen: SocketAddr,
    #[serde(default)]
    pac_listen: Option<SocketAddr>,
    #[serde(default)]
    allow_private_destinations: bool,
    #[serde(default)]
    full_error_details: bool,
    #[serde(default = "default_connect_ports")]
    allowed_connect_ports: Vec<u16>,
    #[serde(default = "default_access_log")]
    access_log: String,
    #[serde(default = "ms::<10_000>")]
    header_read_timeout_ms: u64,
    #[serde(default = "ms::<5_000>")]
    connect_timeout_ms: u64,
    #[serde(default = "ms::<300_000>")]
    tunnel_idle_timeout_ms: u64,
    #[serde(default = "ms::<60_000>")]
    response_timeout_ms: u64,
    #[serde(default = "ms::<30_000>")]
    drain_grace_ms: u64,
    #[serde(default = "default_max_header_bytes")]
    max_header_bytes: usize,
    #[serde(default = "default_max_headers")]
    max_headers: usize,
    #[serde(default = "default_max_pending_per_source")]
    max_pending_per_source: u32,
    #[serde(default)]
    static_hosts: BTreeMap<String, Ipv4Addr>,
    #[serde(default)]
    dns_servers: Option<Vec<std::net::IpAddr>>,
    #[serde(default)]
    tenants: Vec<Tenant>,
    #[serde(default)]
    lists: BTreeMap<String, NamedList>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 3128))
}
fn default_admin_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9090))
}
fn default_connect_ports() -> Vec<u16> {
    vec![443]
}
fn default_access_log() -> String {
    "stdout".to_string()
}
fn ms<const N: u64>() -> u64 {
    N
}
fn default_max_header_bytes() -> usize {
    32 * 1024
}
fn default_max_headers() -> usize {
    100
}
/// Enough for thousands of users behind one NAT address (each head arrives within a round
/// trip of the connection), few enough that one address cannot hold the edge's descriptors.
fn default_max_pending_per_source() -> u32 {
    512
}

/// Where access-log lines go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessLogTarget {
    Stdout,
    Off,
    File(PathBuf),
}

/// Settings of the edge process (not per tenant). Listener addresses are read once at start;
/// the rest is swapped in on reload with the policy.
#[derive(Clone, Debug)]
pub struct Settings {
    pub node_id: String,
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    /// A listener that serves only `GET /pac/{tenant}.pac` (the proxy listener serves them too).
    pub pac_listen: Option<SocketAddr>,
    pub allow_private_destinations: bool,
    /// Tell clients resolved addresses and OS errors in `Proxy-Status` details and error
    /// bodies (debugging); off, they name only the host they asked for.
    pub full_error_details: bool,
    pub allowed_connect_ports: Vec<u16>,
    pub access_log: AccessLogTarget,
    pub header_read_timeout: Duration,
    pub connect_timeout: Duration,
    pub tunnel_idle_timeout: Duration,
    /// From a forwarded request sent to the destination or parent proxy to its response head.
    pub response_timeout: Duration,
    pub drain_grace: Duration,
    pub max_header_bytes: usize,
    pub max_headers: usize,
    /// Connections from one source address that may be open at once before sending their first
    /// complete request head; more are refused at accept.
    pub max_pending_per_source: u32,
    pub static_hosts: BTreeMap<String, Ipv4Addr>,
    pub dns_servers: Option<Vec<std::net::IpAddr>>,
}

/// Settings given on the command line: they win over the file, at start and at every reload.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub node_id: Option<String>,
    pub listen: Option<SocketAddr>,
    pub admin_listen: Option<SocketAddr>,
    pub pac_listen: Option<SocketAddr>,
    /// Only ever turns the setting on.
    pub allow_private_destinations: bool,
}

impl Overrides {
    pub fn apply(&self, s: &mut Settings) {
        if let Some(id) = &self.node_id {
            s.node_id = id.clone();
        }
        if let Some(l) = self.listen {
            s.listen = l;
        }
        if let Some(l) = self.admin_listen {
            s.admin_listen = l;
        }
        if let Some(l) = self.pac_listen {
            s.pac_listen = Some(l);
        }
        s.allow_private_destinations |= self.allow_private_destinations;
    }
}

/// A loaded, validated config: settings and the region's policy.
#[derive(Clone, Debug)]
pub struct EdgeConfig {
    pub settings: Settings,
    pub policy: RegionPolicy,
}

/// Hard ceilings of the HTTP parser; our own limits must stay below them so that we, not the
/// parser, answer an oversized request (with a Proxy-Status).
pub const PARSER_MAX_HEADERS: usize = 256;
pub const PARSER_MAX_BUF: usize = 256 * 1024;

impl EdgeConfig {
    pub fn load(path: &Path) -> Result<EdgeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|e| e.at(path))
    }

    pub fn parse(text: &str) -> Result<EdgeConfig, ConfigError> {
        let mut f: EdgeFile = toml::from_str(text).map_err(|e| parse_err(e.to_string()))?;
        let Some(region) = f.region.take() else {
            return Err(invalid(
                "region",
                "required (unless the edge takes its tenants from a control plane)".into(),
            ));
        };
        let policy = RegionPolicy {
            schema: SCHEMA_VERSION,
            version: 0,
            region,
            tenants: std::mem::take(&mut f.tenants)
                .into_iter()
                .map(std::sync::Arc::new)
                .collect(),
            lists: std::mem::take(&mut f.lists),
            foreign_sources: Default::default(),
            out_of_service: Vec::new(),
        };
        validate(&policy).map_err(|source| ConfigError::Invalid {
            path: PathBuf::new(),
            source,
        })?;
        Ok(EdgeConfig {
            settings: settings(f)?,
            policy,
        })
    }

    /// The settings of a file for an edge of `region` that takes its tenants from a control
    /// plane: the file's `region`, if any, must be `region`; its `tenants` and `lists` are
    /// ignored (the second value counts the tenants ignored). `""` gives every default.
    pub fn parse_settings(text: &str, region: &str) -> Result<(Settings, usize), ConfigError> {
        let f: EdgeFile = toml::from_str(text).map_err(|e| parse_err(e.to_string()))?;
        if let Some(r) = f.region.as_deref().filter(|r| *r != region) {
            return Err(invalid(
                "region",
                format!("the file says {r:?} but --region says {region:?}"),
            ));
        }
        let ignored = f.tenants.len();
        Ok((settings(f)?, ignored))
    }

    /// [`EdgeConfig::parse_settings`] of the file at `path`.
    pub fn load_settings(path: &Path, region: &str) -> Result<(Settings, usize), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse_settings(&text, region).map_err(|e| e.at(path))
    }
}

fn parse_err(message: String) -> ConfigError {
    ConfigError::Parse {
        path: PathBuf::new(),
        message,
    }
}

fn invalid(field: &str, message: String) -> ConfigError {
    ConfigError::Invalid {
        path: PathBuf::new(),
        source: breakout_policy::PolicyError::new(field, message),
    }
}

impl ConfigError {
    /// The same error, naming `path`.
    fn at(self, path: &Path) -> ConfigError {
        match self {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            },
            ConfigError::Invalid { source, .. } => ConfigError::Invalid {
                path: path.to_path_buf(),
                source,
            },
            other => other,
        }
    }
}

/// The process settings of a parsed file, checked.
fn settings(f: EdgeFile) -> Result<Settings, ConfigError> {
    if f.allowed_connect_ports.contains(&0) {
        return Err(invalid(
            "allowed_connect_ports",
            "port 0 is not a port".into(),
        ));
    }
    if f.max_headers == 0 || f.max_headers >= PARSER_MAX_HEADERS {
        return Err(invalid(
            "max_headers",
            format!("must be between 1 and {}", PARSER_MAX_HEADERS - 1),
        ));
    }
    if f.max_header_bytes < 1024 || f.max_header_bytes >= PARSER_MAX_BUF / 2 {
        return Err(invalid(
            "max_header_bytes",
            format!("must be between 1024 and {}", PARSER_MAX_BUF / 2 - 1),
        ));
    }
    if f.max_pending_per_source == 0 {
        return Err(invalid(
            "max_pending_per_source",
            "must be at least 1".into(),
        ));
    }
    for (field, v) in [
        ("header_read_timeout_ms", f.header_read_timeout_ms),
        ("connect_timeout_ms", f.connect_timeout_ms),
        ("tunnel_idle_timeout_ms", f.tunnel_idle_timeout_ms),
        ("response_timeout_ms", f.response_timeout_ms),
    ] {
        if v == 0 {
            return Err(invalid(field, "must be greater than 0".into()));
        }
    }
    let access_log = match f.access_log.as_str() {
        "stdout" | "-" => AccessLogTarget::Stdout,
        "off" | "" => AccessLogTarget::Off,
        path => AccessLogTarget::File(PathBuf::from(path)),
    };
    let static_hosts = f
        .static_hosts
        .into_iter()
        .map(|(name, ip)| match breakout_policy::canonical_host(&name) {
            Ok(breakout_policy::Host::Name(n)) => Ok((n.into_owned(), ip)),
            _ => Err(invalid(
                "static_hosts",
                format!("{name:?} is not a host name"),
            )),
        })
        .collect::<Result<_, _>>()?;
    let node_id = f.node_id.unwrap_or_else(default_node_id);
    Ok(Settings {
        node_id,
        listen: f.listen,
        admin_listen: f.admin_listen,
        pac_listen: f.pac_listen,
        allow_private_destinations: f.allow_private_destinations,
        full_error_details: f.full_error_details,
        allowed_connect_ports: f.allowed_connect_ports,
        access_log,
        header_read_timeout: Duration::from_millis(f.header_read_timeout_ms),
        connect_timeout: Duration::from_millis(f.connect_timeout_ms),
        tunnel_idle_timeout: Duration::from_millis(f.tunnel_idle_timeout_ms),
        response_timeout: Duration::from_millis(f.response_timeout_ms),
        drain_grace: Duration::from_millis(f.drain_grace_ms),
        max_header_bytes: f.max_header_bytes,
        max_headers: f.max_headers,
        max_pending_per_source: f.max_pending_per_source,
        static_hosts,
        dns_servers: f.dns_servers,
    })
}

fn default_node_id() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "edge".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../deploy/examples/edge.toml");

    #[test]
    fn example_config_loads() {
        let c = EdgeConfig::parse(EXAMPLE).expect("example config");
        assert_eq!(c.settings.allowed_connect_ports, vec![443]);
        assert!(!c.settings.allow_private_destinations);
        assert!(!c.policy.tenants.is_empty());
    }

    #[test]
    fn unknown_keys_and_ipv6_sources_are_refused() {
        let e = EdgeConfig::parse("region = \"r\"\nlisten_port = 1\n").unwrap_err();
        assert!(e.to_string().contains("listen_port"), "{e}");
        let e = EdgeConfig::parse(
            "region = \"r\"\n[[tenants]]\nid = \"a\"\nsource_cidrs = [\"2001:db8::/32\"]\nsession_limit = 1\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("IPv6"), "{e}");
    }

    #[test]
    fn a_standalone_file_needs_a_region_but_a_control_plane_edge_does_not() {
        let e = EdgeConfig::parse("listen = \"127.0.0.1:1\"\n").unwrap_err();
        assert!(e.to_string().contains("region"), "{e}");
        let (settings, ignored) = EdgeConfig::parse_settings("", "tokyo").expect("defaults");
        assert_eq!((settings.allowed_connect_ports, ignored), (vec![443], 0));
        let (_, ignored) = EdgeConfig::parse_settings(EXAMPLE, "local").expect("example");
        assert!(ignored > 0, "the example's tenants are counted as ignored");
        let e = EdgeConfig::parse_settings("region = \"osaka\"\n", "tokyo").unwrap_err();
        assert!(e.to_string().contains("osaka"), "{e}");
    }
}
