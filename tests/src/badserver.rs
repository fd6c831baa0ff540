//! Servers that misbehave on purpose, for the edge's fault tests: one that accepts and never
//! answers (a hung parent proxy or origin), one that resets every connection once it has read
//! a request, and a DNS server that swallows queries (a DNS timeout).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

use crate::runtime::rt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Reads whatever comes, never writes, never closes.
    Silent,
    /// Reads the first bytes, then resets the connection (RST, via SO_LINGER 0).
    Reset,
}

/// A misbehaving TCP server on 127.0.0.1; stopped on drop.
pub struct BadServer {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl BadServer {
    pub fn start(how: Misbehaviour) -> BadServer {
        let listener = rt()
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&connections);
        let task = rt().spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    match how {
                        Misbehaviour::Silent => {
                            while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
                        }
                        Misbehaviour::Reset => {
                            let _ = stream.read(&mut buf).await;
                            // SO_LINGER 0: the close sends a RST (no data is pending, so the
                            // close does not block).
                            if let Ok(std) = stream.into_std() {
                                let sock = socket2::Socket::from(std);
                                let _ = sock.set_linger(Some(std::time::Duration::ZERO));
                            }
                        }
                    }
                });
            }
        });
        BadServer {
            addr,
            connections,
            task,
        }
    }
}

impl Drop for BadServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A DNS server on `ip:53` (UDP and TCP) that reads queries and never answers; `None` if the
/// port cannot be bound (binding port 53 needs root).
pub struct SilentDns {
    pub queries: Arc<AtomicUsize>,
    tasks: Vec<JoinHandle<()>>,
}

impl SilentDns {
    pub fn start(ip: std::net::Ipv4Addr) -> Option<SilentDns> {
        let addr = SocketAddr::from((ip, 53));
        let udp = rt().block_on(UdpSocket::bind(addr)).ok()?;
        let tcp = rt().block_on(TcpListener::bind(addr)).ok()?;
        let queries = Arc::new(AtomicUsize::new(0));
        let (q1, q2) = (Arc::clone(&queries), Arc::clone(&queries));
        let udp_task = rt().spawn(async move {
            let mut buf = [0u8; 4096];
            while udp.recv_from(&mut buf).await.is_ok() {
                q1.fetch_add(1, Ordering::Relaxed);
            }
        });
        let tcp_task = rt().spawn(async move {
            while let Ok((mut s, _)) = tcp.accept().await {
                q2.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
                });
            }
        });
        Some(SilentDns {
            queries,
            tasks: vec![udp_task, tcp_task],
        })
    }
}

impl Drop for SilentDns {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
