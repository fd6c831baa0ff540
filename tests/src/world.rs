//! The standard fixture: an origin, an echo server, a parent proxy and an edge in front.

use std::net::{Ipv4Addr, SocketAddr};

use crate::config::{EdgeConfig, Rule, Tenant};
use crate::curl::Curl;
use crate::echo::EchoServer;
use crate::edge::Edge;
use crate::origin::Origin;
use crate::parent_proxy::ParentProxy;
use crate::raw::RawConn;

/// The tenant of clients connecting from 127.0.0.1 in the standard config.
pub const TENANT: &str = "acme";

/// Addresses of the servers, for tests that adjust the standard config.
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    pub origin: SocketAddr,
    pub echo: SocketAddr,
    pub parent: SocketAddr,
}

/// Servers plus an edge configured to reach them.
pub struct World {
    pub origin: Origin,
    pub echo: EchoServer,
    pub parent: ParentProxy,
    pub config: EdgeConfig,
    pub edge: Edge,
}

impl World {
    /// The standard config (see [`World::standard_config`]).
    pub fn start() -> World {
        Self::start_with(|c, _| c)
    }

    /// The standard config as adjusted by `adjust`.
    pub fn start_with(adjust: impl FnOnce(EdgeConfig, Ports) -> EdgeConfig) -> World {
        let (origin, echo, parent) = (Origin::start(), EchoServer::start(), ParentProxy::start());
        let ports = Ports {
            origin: origin.addr(),
            echo: echo.addr(),
            parent: parent.addr(),
        };
        let config = adjust(Self::standard_config(ports), ports);
        let edge = Edge::start(&config.to_toml());
        World {
            origin,
            echo,
            parent,
            config,
            edge,
        }
    }

    /// Tenant `acme` (127.0.0.1/32): `origin.test` and `echo.test` go direct (rule `saas`),
    /// `blocked.test` is blocked (rule `deny`), everything else goes to upstream `corp`
    /// (the parent proxy). All `.test` names map to 127.0.0.1; CONNECT may reach the origin
    /// and echo ports.
    pub fn standard_config(p: Ports) -> EdgeConfig {
        let tenant = Tenant::new(TENANT, "127.0.0.1/32", "upstream:corp")
            .upstream("corp", p.parent)
            .rule(Rule::new("saas", "direct", &["origin.test", "echo.test"]))
            .rule(Rule::new("deny", "block", &["blocked.test"]));
        EdgeConfig::default()
            .host("origin.test", "127.0.0.1")
            .host("echo.test", "127.0.0.1")
            .host("blocked.test", "127.0.0.1")
            .host("upstream.test", "127.0.0.1")
            .connect_port(p.echo.port())
            .connect_port(p.origin.port())
            .tenant(tenant)
    }

    /// `http://origin.test:<port><path>`.
    pub fn origin_url(&self, path: &str) -> String {
        format!("http://origin.test:{}{path}", self.origin.port())
    }

    /// `http://<name>:<origin port><path>` (another name for the same origin).
    pub fn url_via(&self, name: &str, path: &str) -> String {
        format!("http://{name}:{}{path}", self.origin.port())
    }

    /// `echo.test:<port>`, a CONNECT target.
    pub fn echo_target(&self) -> String {
        format!("echo.test:{}", self.echo.port())
    }

    /// curl fetching `url` through the edge.
    pub fn curl(&self, url: &str) -> Curl {
        Curl::new(url).proxy(&self.edge.proxy_url())
    }

    /// A raw connection to the edge's proxy port from 127.0.0.1.
    pub fn raw(&self) -> RawConn {
        self.raw_from(Ipv4Addr::LOCALHOST)
    }

    /// A raw connection to the edge's proxy port from `src`.
    pub fn raw_from(&self, src: Ipv4Addr) -> RawConn {
        RawConn::connect_from(src, self.edge.proxy()).expect("connect to edge")
    }

    /// Asserts neither the origin, the echo server nor the parent saw anything.
    pub fn assert_nothing_forwarded(&self, context: &str) {
        self.origin.assert_untouched(context);
        assert!(
            self.echo.peers().is_empty(),
            "{context}: echo saw {:?}",
            self.echo.peers()
        );
        assert!(
            self.parent.lines().is_empty(),
            "{context}: parent saw {:?}",
            self.parent.lines()
        );
    }
}
