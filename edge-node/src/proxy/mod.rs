//! The proxy data path: accept, identify the tenant, admit, parse, decide, forward or tunnel.
//!
//! Imports point down this list: a module uses only modules below it (docs/architecture.md).
//!
//! 1. `connection`: the accept loop, one connection, hyper's service
//! 2. `accept`: what is refused before a byte is read
//! 3. `direct`: a first `CONNECT` without hyper
//! 4. `forward`, `tunnel`: the two kinds of request
//! 5. `dial`: resolve, guard, connect
//! 6. `call`: one request's context and `decide_or_refuse`
//! 7. `session`, `exchange`: a connection's state; a request as logs and metrics see it
//! 8. `request`, `framing`, `hop`, `pac`, `relay` (→ `splice`): checks, framing, kept
//!    connections, PAC answers, tunnel bytes
//! 9. `error`, `body`, `ending`, `timer`: what clients are told, bodies, an exchange's end,
//!    hyper's timer for a connection

pub mod accept;
pub mod body;
mod call;
mod connection;
mod dial;
mod direct;
mod ending;
pub mod error;
mod exchange;
mod forward;
pub mod framing;
mod hop;
pub mod pac;
mod relay;
pub mod request;
mod session;
#[cfg(target_os = "linux")]
mod splice;
pub(crate) mod timer;
mod tunnel;

pub use self::connection::serve;
pub use self::session::Session;

/// The direct CONNECT path's first-head classifier, for the fuzz targets (`fuzz/`).
#[doc(hidden)]
pub use self::direct::classify as classify_first_head;

/// The name this proxy gives itself in `Proxy-Status`.
pub const PROXY_NAME: &str = "breakout-edge";
