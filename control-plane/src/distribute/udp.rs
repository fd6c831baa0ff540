//! The edge endpoint's UDP socket, with receive and send buffers sized for a fleet.
//!
//! One socket carries every edge's QUIC traffic to a node: reports (about 4 KiB per edge per
//! second at 1,000 tenants a region), acknowledgements and, after a node dies, a thousand
//! handshakes at once. With the kernel's default buffer (208 KiB on Linux) a burst that arrives
//! while the node is busy overflows it; QUIC recovers from each loss only after a probe timeout
//! that doubles, so under sustained loss connections go silent past the idle timeout and drop,
//! and their edges reconnect, adding to the burst (measured: BENCHMARKS.md, "Full fleet
//! reconnect, diagnosed"). Linux caps what a process may ask at `net.core.rmem_max` /
//! `wmem_max`; the size obtained is logged, with a warning when it is far below the request.

use std::net::SocketAddr;
use std::sync::Arc;

use socket2::{Domain, Protocol, Socket, Type};

/// Bytes asked for each of the receive and send buffers (Linux doubles what it grants, for its
/// own bookkeeping).
pub const BUFFER_BYTES: usize = 8 * 1024 * 1024;

/// A received buffer under this fraction of [`BUFFER_BYTES`] is warned about.
const WARN_BELOW: usize = BUFFER_BYTES / 4;

/// Binds `addr` with large buffers and serves QUIC on it with `config`.
pub fn bind(addr: SocketAddr, config: quinn::ServerConfig) -> std::io::Result<quinn::Endpoint> {
    let socket = socket(addr)?;
    let runtime = quinn::default_runtime()
        .ok_or_else(|| std::io::Error::other("no async runtime for the QUIC endpoint"))?;
    quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        Some(config),
        socket.into(),
        Arc::clone(&runtime),
    )
}

/// A UDP socket bound to `addr` with buffers of [`BUFFER_BYTES`], or what the kernel allows.
fn socket(addr: SocketAddr) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        // As std's bind: an IPv6 address does not take IPv4 traffic too.
        socket.set_only_v6(true)?;
    }
    // Best effort: a smaller buffer still works, as before.
    let _ = socket.set_recv_buffer_size(BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(BUFFER_BYTES);
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    let recv = socket.recv_buffer_size().unwrap_or(0);
    let send = socket.send_buffer_size().unwrap_or(0);
    if recv < WARN_BELOW {
        tracing::warn!(%addr, recv_buffer = recv, asked = BUFFER_BYTES,
            "the edge endpoint's UDP receive buffer is small; a fleet reconnect may lose \
             datagrams (raise net.core.rmem_max)");
    } else {
        tracing::info!(%addr, recv_buffer = recv, send_buffer = send, "edge endpoint bound");
    }
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Linux lets a process ask for (`net.core.rmem_max`), if readable.
    fn rmem_max() -> Option<usize> {
        std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    #[test]
    fn the_receive_buffer_is_as_large_as_the_kernel_allows() {
        let s = socket("127.0.0.1:0".parse().expect("addr")).expect("bound");
        let local = s.local_addr().expect("local").as_socket().expect("inet");
        assert!(local.ip().is_loopback() && local.port() != 0, "{local}");
        let got = s.recv_buffer_size().expect("SO_RCVBUF");
        let default = 212_992; // Linux's usual net.core.rmem_default
        if let Some(max) = rmem_max() {
            // Linux grants min(asked, rmem_max), doubled.
            assert!(got >= BUFFER_BYTES.min(max), "got {got}, rmem_max {max}");
            if max > default {
                assert!(got > default * 2, "got {got}: not raised above the default");
            }
        }
    }
}
