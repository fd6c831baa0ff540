//! Opening connections to destinations and parent proxies: resolve, check every address, connect
//! to exactly an address that passed, from the tenant's egress address when it has one.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use breakout_policy::guard::{NoAddress, Purpose};
use breakout_policy::route::MAX_ATTEMPTS;
use breakout_policy::Host;
use tokio::net::{TcpSocket, TcpStream};

use super::call::Call;
pub use super::error::DialError;

/// Whom we are dialling: the destination itself, or a tenant's parent proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialKind {
    Origin,
    Upstream,
}

/// Connects to `host:port` for `call`'s tenant. For origins every resolved address passes the
/// destination guard and the connection leaves from the tenant's egress address, if any;
/// parent proxies may sit on private addresses (they are reached over the tenant's private
/// backbone), but never on addresses that reach nothing or this host's listeners.
pub async fn dial(
    call: &Call<'_>,
    host: &Host<'_>,
    port: u16,
    kind: DialKind,
) -> Result<TcpStream, DialError> {
    let (purpose, egress, connects) = match kind {
        DialKind::Origin => (
            Purpose::Destination,
            call.tenant.router.egress(),
            &call.shared.metrics.connect_origin,
        ),
        DialKind::Upstream => (
            Purpose::ParentProxy,
            None,
            &call.shared.metrics.connect_upstream,
        ),
    };
    let settings = &call.snap.settings;
    let addrs = call
        .shared
        .resolver
        .resolve(host, &settings.static_hosts)
        .await?;
    let candidates = call
        .snap
        .guard
        .select(
            &addrs,
            port,
            purpose,
            egress.is_some(),
            MAX_ATTEMPTS,
            &call.shared.own_addrs,
        )
        .map_err(|e| match e {
            NoAddress::Prohibited(addr, class) => DialError::Prohibited { addr, class },
            NoAddress::NoneUsable => DialError::NoUsableAddress,
            NoAddress::Loop => DialError::Loop,
        })?;
    let start = Instant::now();
    let deadline = start + settings.connect_timeout;
    let mut last_err = None;
    for addr in candidates {
        match connect_one(addr, egress, deadline).await {
            Ok(stream) => {
                connects.observe(start.elapsed().as_secs_f64());
                return Ok(stream);
            }
            Err(e) => last_err = Some(e),
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    // `select` never returns an empty list, so some attempt was made.
    Err(last_err.unwrap_or(DialError::NoUsableAddress))
}

async fn connect_one(
    addr: SocketAddr,
    egress: Option<Ipv4Addr>,
    deadline: Instant,
) -> Result<TcpStream, DialError> {
    let failed = |e: io::Error| match e.kind() {
        io::ErrorKind::ConnectionRefused => DialError::Refused { addr },
        io::ErrorKind::TimedOut => DialError::TimedOut { addr },
        _ => DialError::Failed { addr, source: e },
    };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(failed)?;
    if let Some(src) = egress {
        // Without this, bind() picks the local port before connect() knows the destination,
        // so each egress address tops out at one connection per ephemeral port in total
        // (~28k) instead of per destination.
        bind_address_no_port(&socket);
        socket
            .bind(SocketAddr::new(IpAddr::V4(src), 0))
            .map_err(|source| DialError::Bind { addr: src, source })?;
    }
    let remaining = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    let stream = tokio::time::timeout(remaining, socket.connect(addr))
        .await
        .map_err(|_| DialError::TimedOut { addr })?
        .map_err(failed)?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// `IP_BIND_ADDRESS_NO_PORT` (Linux ≥ 4.2): `bind()` to an address with port 0 leaves the port
/// to `connect()`, which may then reuse a local port towards different destinations. Where it
/// is missing the old behaviour stays (one ephemeral port reserved per connection).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn bind_address_no_port(socket: &TcpSocket) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a valid socket descriptor owned by `socket`, and a pointer to a c_int of the
    // length passed, for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "IP_BIND_ADDRESS_NO_PORT not set");
    }
}

#[cfg(not(target_os = "linux"))]
fn bind_address_no_port(_socket: &TcpSocket) {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn egress_bind_leaves_the_port_to_connect() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listener");
        let dest = listener.local_addr().expect("listener address");
        let socket = TcpSocket::new_v4().expect("socket");
        bind_address_no_port(&socket);
        socket
            .bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))
            .expect("bind");
        // A plain bind would have reserved an ephemeral port here already.
        assert_eq!(socket.local_addr().expect("bound address").port(), 0);
        let stream = socket.connect(dest).await.expect("connect");
        let local = stream.local_addr().expect("local address");
        assert_eq!(local.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_ne!(local.port(), 0);
    }
}
