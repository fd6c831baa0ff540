//! Test harness: start real binaries, origins and parent proxies on 127.0.0.1.
//!
//! Everything here is blocking from the test's point of view: servers run on a shared
//! background tokio runtime ([`runtime`]), the edge is a child process ([`edge`]), and clients
//! are curl ([`curl`]) or a raw `std::net::TcpStream` ([`raw`]). Every wait has a deadline.

pub mod answer;
pub mod api_conn;
pub mod badserver;
pub mod binaries;
pub mod capacity;
pub mod config;
pub mod control;
pub mod curl;
pub mod dev;
pub mod disk;
pub mod echo;
pub mod edge;
pub mod etcd;
pub mod faultcluster;
pub mod faultnet;
pub mod fleet;
pub mod history;
pub mod limits;
pub mod metrics;
pub mod origin;
pub mod parent_proxy;
pub mod raw;
pub mod runtime;
pub mod smtp_sink;
pub mod static_server;
pub mod tmp;
pub mod vendor;
pub mod wait;
pub mod world;

pub use answer::assert_refused;
pub use config::{EdgeConfig, Rule, Tenant};
pub use curl::{Curl, CurlOutput};
pub use echo::EchoServer;
pub use edge::Edge;
pub use origin::Origin;
pub use parent_proxy::ParentProxy;
pub use raw::{RawConn, RawResponse};
pub use wait::{wait_for, wait_until};
pub use world::{Ports, World, TENANT};
