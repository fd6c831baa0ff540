//! A fault-injecting network between real processes on 127.0.0.1: TCP relays in front of the
//! control-plane nodes (their advertised API and Raft addresses point at the relays) and UDP
//! relays between an edge and each node (its `--control-plane` addresses point at them).
//!
//! Each TCP relay knows which node a connection comes from by asking the kernel which process
//! owns the connecting socket (`/proc/net/tcp` → inode → `/proc/<pid>/fd`), so faults are per
//! directed link `from → to`: pass, delay (with jitter: requests on different connections then
//! overtake each other), drop (a black hole: bytes vanish both ways, connections stay open, as
//! when packets are lost) and cut (connections reset, new ones refused). A connection from a
//! process that is not a registered node (the test itself) always passes.
//!
//! UDP relays carry QUIC datagrams with the same faults per edge link, plus reordering.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::runtime::rt;

/// What a link does to traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Fault {
    #[default]
    Pass,
    /// Each chunk (TCP) or datagram (UDP) waits `base` plus up to `jitter`.
    Delay { base_ms: u64, jitter_ms: u64 },
    /// Everything is silently discarded; connections stay open.
    Drop,
    /// Connections are closed and new ones refused (TCP); datagrams discarded (UDP).
    Cut,
}

/// A node's id as the fault rules name it; `CLIENT` for anything else.
pub type NodeId = u64;
pub const CLIENT: NodeId = 0;

#[derive(Default)]
struct Rules {
    /// `(from, to)` → fault; absent means pass.
    links: HashMap<(NodeId, NodeId), Fault>,
    /// Process id → node id.
    pids: HashMap<u32, NodeId>,
}

/// The fault rules every relay of a test reads; changing them takes effect at once (open
/// connections re-read them per chunk).
#[derive(Clone, Default)]
pub struct Net {
    rules: Arc<Mutex<Rules>>,
    /// Bumped on every change, so that relays re-check open connections.
    epoch: Arc<watch::Sender<u64>>,
    /// Faults set so far (for the report).
    pub injected: Arc<AtomicU64>,
}

impl Net {
    pub fn new() -> Net {
        Net::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Rules> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Process `pid` is node `node` (call again after a restart).
    pub fn register(&self, pid: u32, node: NodeId) {
        self.lock().pids.insert(pid, node);
    }

    pub fn set(&self, from: NodeId, to: NodeId, fault: Fault) {
        {
            let mut r = self.lock();
            if fault == Fault::Pass {
                r.links.remove(&(from, to));
            } else {
                r.links.insert((from, to), fault);
            }
        }
        if fault != Fault::Pass {
            self.injected.fetch_add(1, Ordering::Relaxed);
        }
        self.epoch.send_modify(|e| *e += 1);
    }

    /// `fault` on every link between a node of `a` and a node of `b`, both ways.
    pub fn between(&self, a: &[NodeId], b: &[NodeId], fault: Fault) {
        for &x in a {
            for &y in b {
                self.set(x, y, fault);
                self.set(y, x, fault);
            }
        }
    }

    /// Every link passes again.
    pub fn heal(&self) {
        self.lock().links.clear();
        self.epoch.send_modify(|e| *e += 1);
    }

    fn fault(&self, from: NodeId, to: NodeId) -> Fault {
        self.lock()
            .links
            .get(&(from, to))
            .copied()
            .unwrap_or_default()
    }

    fn node_of_pid(&self, pid: u32) -> Option<NodeId> {
        self.lock().pids.get(&pid).copied()
    }

    /// A TCP relay on 127.0.0.1 in front of node `to`; its target is set with
    /// [`TcpRelay::target`] once the node listens.
    pub fn tcp_relay(&self, to: NodeId) -> TcpRelay {
        let listener = rt()
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind relay");
        let addr = listener.local_addr().expect("relay addr");
        let target = Arc::new(Mutex::new(None::<SocketAddr>));
        let net = self.clone();
        let t = Arc::clone(&target);
        let task = rt().spawn(async move {
            while let Ok((client, peer)) = listener.accept().await {
                let net = net.clone();
                let t = *t.lock().unwrap_or_else(|e| e.into_inner());
                tokio::spawn(async move {
                    let from = source_pid(peer, addr)
                        .and_then(|pid| net.node_of_pid(pid))
                        .unwrap_or(CLIENT);
                    if let Some(target) = t {
                        relay_tcp(net, from, to, client, target).await;
                    }
                });
            }
        });
        TcpRelay { addr, target, task }
    }

    /// A UDP relay on 127.0.0.1 to `target`, for the link `from → to` (an edge to a node).
    pub fn udp_relay(&self, from: NodeId, to: NodeId, target: SocketAddr) -> UdpRelay {
        let sock = rt()
            .block_on(UdpSocket::bind("127.0.0.1:0"))
            .expect("bind udp relay");
        let addr = sock.local_addr().expect("udp relay addr");
        let net = self.clone();
        let task = rt().spawn(relay_udp(net, from, to, Arc::new(sock), target));
        UdpRelay { addr, task }
    }
}

/// A running TCP relay; stopped on drop.
pub struct TcpRelay {
    pub addr: SocketAddr,
    target: Arc<Mutex<Option<SocketAddr>>>,
    task: JoinHandle<()>,
}

impl TcpRelay {
    pub fn target(&self, to: SocketAddr) {
        *self.target.lock().unwrap_or_else(|e| e.into_inner()) = Some(to);
    }
}

impl Drop for TcpRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A running UDP relay; stopped on drop.
pub struct UdpRelay {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for UdpRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn jitter(max_ms: u64) -> u64 {
    if max_ms == 0 {
        return 0;
    }
    static SEED: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    let mut x = SEED.fetch_add(0x6A09_E667_F3BC_C909, Ordering::Relaxed);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x % (max_ms + 1)
}

async fn relay_tcp(net: Net, from: NodeId, to: NodeId, client: TcpStream, target: SocketAddr) {
    if net.fault(from, to) == Fault::Cut {
        return;
    }
    let Ok(server) = TcpStream::connect(target).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    // Requests go from → to, answers to → from: each direction obeys its own link.
    let up = pipe(net.clone(), (from, to), cr, sw);
    let down = pipe(net, (to, from), sr, cw);
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

async fn pipe(
    net: Net,
    link: (NodeId, NodeId),
    mut r: tokio::net::tcp::OwnedReadHalf,
    mut w: tokio::net::tcp::OwnedWriteHalf,
) {
    let mut epoch = net.epoch.subscribe();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if net.fault(link.0, link.1) == Fault::Cut {
            return;
        }
        let n = tokio::select! {
            read = r.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            // A rule changed: a cut must close even an idle connection.
            _ = epoch.changed() => continue,
        };
        match net.fault(link.0, link.1) {
            Fault::Pass => {}
            Fault::Delay { base_ms, jitter_ms } => {
                tokio::time::sleep(Duration::from_millis(base_ms + jitter(jitter_ms))).await;
            }
            Fault::Drop => continue,
            Fault::Cut => return,
        }
        if w.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

async fn relay_udp(net: Net, from: NodeId, to: NodeId, sock: Arc<UdpSocket>, target: SocketAddr) {
    // One upstream socket per client address (an edge reconnecting gets a new port).
    let mut upstreams: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((n, client)) = sock.recv_from(&mut buf).await else {
            return;
        };
        let up = match upstreams.get(&client) {
            Some(u) => Arc::clone(u),
            None => {
                let Ok(u) = UdpSocket::bind("127.0.0.1:0").await else {
                    continue;
                };
                let u = Arc::new(u);
                upstreams.insert(client, Arc::clone(&u));
                tokio::spawn(udp_back(
                    net.clone(),
                    (to, from),
                    Arc::clone(&u),
                    Arc::clone(&sock),
                    client,
                ));
                u
            }
        };
        send_datagram(&net, (from, to), buf[..n].to_vec(), up, target);
    }
}

async fn udp_back(
    net: Net,
    link: (NodeId, NodeId),
    up: Arc<UdpSocket>,
    sock: Arc<UdpSocket>,
    client: SocketAddr,
) {
    let mut buf = vec![0u8; 65_536];
    while let Ok(n) = up.recv(&mut buf).await {
        send_datagram(&net, link, buf[..n].to_vec(), Arc::clone(&sock), client);
    }
}

/// Sends one datagram through the link's fault: delayed datagrams are sent from their own
/// tasks, so jitter reorders them.
fn send_datagram(
    net: &Net,
    link: (NodeId, NodeId),
    data: Vec<u8>,
    via: Arc<UdpSocket>,
    to: SocketAddr,
) {
    match net.fault(link.0, link.1) {
        Fault::Drop | Fault::Cut => {}
        Fault::Pass => {
            let _ = via.try_send_to(&data, to);
        }
        Fault::Delay { base_ms, jitter_ms } => {
            let wait = Duration::from_millis(base_ms + jitter(jitter_ms));
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                let _ = via.send_to(&data, to).await;
            });
        }
    }
}

/// The pid of the local process whose TCP socket `peer` is connected to `listener` (Linux).
pub fn source_pid(peer: SocketAddr, listener: SocketAddr) -> Option<u32> {
    let inode = socket_inode(peer, listener)?;
    let needle = format!("socket:[{inode}]");
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l.to_str() == Some(needle.as_str())) {
                return Some(pid);
            }
        }
    }
    None
}

/// The inode of the socket whose local address is `local` and remote address `remote`.
fn socket_inode(local: SocketAddr, remote: SocketAddr) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let (l, r) = (proc_addr(local)?, proc_addr(remote)?);
    text.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        (cols.get(1) == Some(&l.as_str()) && cols.get(2) == Some(&r.as_str()))
            .then(|| cols.get(9)?.parse().ok())
            .flatten()
    })
}

/// `127.0.0.1:8080` as `/proc/net/tcp` writes it: `0100007F:1F90`.
fn proc_addr(a: SocketAddr) -> Option<String> {
    match a {
        SocketAddr::V4(v4) => Some(format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(v4.ip().octets()),
            v4.port()
        )),
        SocketAddr::V6(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_addresses_are_little_endian_hex() {
        let a: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        assert_eq!(proc_addr(a).as_deref(), Some("0100007F:1F90"));
    }

    #[test]
    fn the_owner_of_a_connecting_socket_is_found() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (_, peer) = listener.accept().expect("accept");
        assert_eq!(peer, client.local_addr().expect("local"));
        let pid = source_pid(peer, listener.local_addr().expect("addr"));
        assert_eq!(pid, Some(std::process::id()));
    }

    #[test]
    fn a_link_rule_applies_one_way_until_healed() {
        let net = Net::new();
        net.set(1, 2, Fault::Drop);
        assert_eq!(net.fault(1, 2), Fault::Drop);
        assert_eq!(net.fault(2, 1), Fault::Pass);
        net.between(&[1], &[2, 3], Fault::Cut);
        assert_eq!(net.fault(3, 1), Fault::Cut);
        net.heal();
        assert_eq!(net.fault(1, 3), Fault::Pass);
        assert_eq!(net.injected.load(Ordering::Relaxed), 5);
    }
}
