//! Builds edge TOML configs so tests state only what matters to them.

use std::fmt::Write as _;
use std::net::SocketAddr;

/// Top-level edge config; `to_toml` renders it in the edge's file format.
#[derive(Clone, Debug)]
pub struct EdgeConfig {
    pub allow_private_destinations: bool,
    pub full_error_details: bool,
    pub allowed_connect_ports: Vec<u16>,
    pub access_log: String,
    pub connect_timeout_ms: u64,
    pub header_read_timeout_ms: u64,
    pub tunnel_idle_timeout_ms: u64,
    /// `response_timeout_ms`, written only when set.
    pub response_timeout_ms: Option<u64>,
    pub drain_grace_ms: u64,
    pub max_pending_per_source: u32,
    pub static_hosts: Vec<(String, String)>,
    /// `dns_servers` (default: a loopback address where no DNS server listens, so tests never
    /// query the machine's resolver; empty turns DNS off).
    pub dns_servers: Vec<String>,
    pub tenants: Vec<Tenant>,
}

/// One `[[tenants]]` entry.
#[derive(Clone, Debug)]
pub struct Tenant {
    pub id: String,
    pub source_cidrs: Vec<String>,
    pub session_limit: u32,
    pub default_action: String,
    pub upstreams: Vec<(String, SocketAddr)>,
    pub egress_address: Option<String>,
    pub rules: Vec<Rule>,
    pub lists: Vec<(String, Vec<String>)>,
}

/// One `[[tenants.rules]]` entry.
#[derive(Clone, Debug)]
pub struct Rule {
    pub name: Option<String>,
    pub action: String,
    pub destinations: Vec<String>,
    pub ports: Option<Vec<u16>>,
    pub lists: Vec<String>,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            allow_private_destinations: true,
            full_error_details: false,
            allowed_connect_ports: vec![443],
            access_log: "stdout".into(),
            connect_timeout_ms: 5000,
            header_read_timeout_ms: 10_000,
            tunnel_idle_timeout_ms: 300_000,
            response_timeout_ms: None,
            drain_grace_ms: 30_000,
            max_pending_per_source: 512,
            static_hosts: Vec::new(),
            dns_servers: vec!["127.0.0.1".into()],
            tenants: Vec::new(),
        }
    }
}

impl EdgeConfig {
    /// Adds `name -> ip` to `[static_hosts]`.
    pub fn host(mut self, name: &str, ip: &str) -> Self {
        self.static_hosts.push((name.into(), ip.into()));
        self
    }

    /// Appends a tenant.
    pub fn tenant(mut self, t: Tenant) -> Self {
        self.tenants.push(t);
        self
    }

    /// Allows CONNECT to `port` in addition to the current list.
    pub fn connect_port(mut self, port: u16) -> Self {
        self.allowed_connect_ports.push(port);
        self
    }

    /// Mutable access to the tenant called `id`.
    pub fn tenant_mut(&mut self, id: &str) -> &mut Tenant {
        self.tenants
            .iter_mut()
            .find(|t| t.id == id)
            .expect("tenant in config")
    }

    /// The config as the edge's TOML file.
    pub fn to_toml(&self) -> String {
        let mut s = format!("region = \"test\"\n{}", self.to_settings_toml());
        for t in &self.tenants {
            t.write_toml(&mut s);
        }
        s
    }

    /// The settings only (no region, no tenants), as an edge fed by a control plane reads them.
    pub fn to_settings_toml(&self) -> String {
        let mut s = String::new();
        let w = &mut s;
        let _ = writeln!(w, "listen = \"127.0.0.1:3128\"");
        let _ = writeln!(w, "admin_listen = \"127.0.0.1:9090\"");
        let _ = writeln!(
            w,
            "allow_private_destinations = {}",
            self.allow_private_destinations
        );
        let _ = writeln!(w, "full_error_details = {}", self.full_error_details);
        let _ = writeln!(
            w,
            "allowed_connect_ports = {:?}",
            self.allowed_connect_ports
        );
        let _ = writeln!(w, "access_log = {}", quote(&self.access_log));
        let _ = writeln!(
            w,
            "header_read_timeout_ms = {}",
            self.header_read_timeout_ms
        );
        let _ = writeln!(w, "connect_timeout_ms = {}", self.connect_timeout_ms);
        let _ = writeln!(
            w,
            "tunnel_idle_timeout_ms = {}",
            self.tunnel_idle_timeout_ms
        );
        let _ = writeln!(w, "drain_grace_ms = {}", self.drain_grace_ms);
        if let Some(ms) = self.response_timeout_ms {
            let _ = writeln!(w, "response_timeout_ms = {ms}");
        }
        let _ = writeln!(w, "max_header_bytes = 32768");
        let _ = writeln!(w, "max_headers = 100");
        let _ = writeln!(
            w,
            "max_pending_per_source = {}",
            self.max_pending_per_source
        );
        // Tests never query the machine's resolver: names resolve through [static_hosts], and
        // anything else asks a loopback port where no DNS server listens (a real failure, after
        // the edge's lookup deadline), or nothing at all when `dns_servers` is empty.
        let _ = writeln!(w, "dns_servers = {}", list(&self.dns_servers));
        let _ = writeln!(w, "\n[static_hosts]");
        for (name, ip) in &self.static_hosts {
            let _ = writeln!(w, "{} = {}", quote(name), quote(ip));
        }
        s
    }
}

impl Tenant {
    /// A tenant for `cidr` with `session_limit` 100 and the given default action.
    pub fn new(id: &str, cidr: &str, default_action: &str) -> Self {
        Self {
            id: id.into(),
            source_cidrs: vec![cidr.into()],
            session_limit: 100,
            default_action: default_action.into(),
            upstreams: Vec::new(),
            egress_address: None,
            rules: Vec::new(),
            lists: Vec::new(),
        }
    }

    /// Names an upstream (parent proxy) usable as `upstream:<name>`.
    pub fn upstream(mut self, name: &str, addr: SocketAddr) -> Self {
        self.upstreams.push((name.into(), addr));
        self
    }

    pub fn rule(mut self, r: Rule) -> Self {
        self.rules.push(r);
        self
    }

    pub fn limit(mut self, n: u32) -> Self {
        self.session_limit = n;
        self
    }

    pub fn egress(mut self, ip: &str) -> Self {
        self.egress_address = Some(ip.into());
        self
    }

    pub fn list(mut self, name: &str, entries: &[&str]) -> Self {
        self.lists
            .push((name.into(), entries.iter().map(|e| e.to_string()).collect()));
        self
    }

    fn write_toml(&self, w: &mut String) {
        let _ = writeln!(w, "\n[[tenants]]");
        let _ = writeln!(w, "id = {}", quote(&self.id));
        let _ = writeln!(w, "source_cidrs = {}", list(&self.source_cidrs));
        let _ = writeln!(w, "session_limit = {}", self.session_limit);
        let _ = writeln!(w, "default_action = {}", quote(&self.default_action));
        let ups: Vec<String> = self
            .upstreams
            .iter()
            .map(|(n, a)| format!("{} = \"{a}\"", quote(n)))
            .collect();
        let _ = writeln!(w, "upstreams = {{ {} }}", ups.join(", "));
        if let Some(e) = &self.egress_address {
            let _ = writeln!(w, "egress_address = {}", quote(e));
        }
        let lists: Vec<String> = self
            .lists
            .iter()
            .map(|(n, v)| format!("{} = {}", quote(n), list(v)))
            .collect();
        let _ = writeln!(w, "lists = {{ {} }}", lists.join(", "));
        for r in &self.rules {
            let _ = writeln!(w, "\n[[tenants.rules]]");
            if let Some(n) = &r.name {
                let _ = writeln!(w, "name = {}", quote(n));
            }
            let _ = writeln!(w, "action = {}", quote(&r.action));
            let _ = writeln!(w, "destinations = {}", list(&r.destinations));
            if let Some(p) = &r.ports {
                let _ = writeln!(w, "ports = {p:?}");
            }
            if !r.lists.is_empty() {
                let _ = writeln!(w, "lists = {}", list(&r.lists));
            }
        }
    }
}

impl Rule {
    /// A named rule applying `action` to `destinations`.
    pub fn new(name: &str, action: &str, destinations: &[&str]) -> Self {
        Self {
            name: Some(name.into()),
            action: action.into(),
            destinations: destinations.iter().map(|d| d.to_string()).collect(),
            ports: None,
            lists: Vec::new(),
        }
    }

    pub fn ports(mut self, ports: &[u16]) -> Self {
        self.ports = Some(ports.to_vec());
        self
    }

    pub fn lists(mut self, names: &[&str]) -> Self {
        self.lists = names.iter().map(|n| n.to_string()).collect();
        self
    }
}

fn quote(s: &str) -> String {
    // TOML basic strings share JSON's escapes for everything tests put in them.
    serde_json::to_string(s).expect("string serialises")
}

fn list(items: &[String]) -> String {
    let q: Vec<String> = items.iter().map(|i| quote(i)).collect();
    format!("[{}]", q.join(", "))
}
