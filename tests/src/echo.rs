//! A raw TCP echo server, the far end of CONNECT tunnels.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::runtime::rt;

/// A running echo server on 127.0.0.1; records the peer of every connection; stopped on drop.
pub struct EchoServer {
    addr: SocketAddr,
    peers: Arc<Mutex<Vec<SocketAddr>>>,
    task: JoinHandle<()>,
}

impl EchoServer {
    pub fn start() -> EchoServer {
        let listener = rt()
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind echo");
        let addr = listener.local_addr().expect("echo addr");
        let peers = Arc::new(Mutex::new(Vec::new()));
        let p = peers.clone();
        let task = rt().spawn(async move {
            while let Ok((mut stream, peer)) = listener.accept().await {
                p.lock().expect("echo peers").push(peer);
                tokio::spawn(async move {
                    let (mut r, mut w) = stream.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                    let _ = w.shutdown().await;
                });
            }
        });
        EchoServer { addr, peers, task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Peer address of every connection accepted so far.
    pub fn peers(&self) -> Vec<SocketAddr> {
        self.peers.lock().expect("echo peers").clone()
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
