//! Real `breakout-control` processes and the `breakoutctl` CLI.
//!
//! A node starts on ephemeral ports (reported through `--addr-file`); a restart reuses the same
//! addresses, since its peers know it by them. `kill9` is SIGKILL: no shutdown code runs. Every
//! node serves edges (QUIC) with the certificate of one development CA per test process
//! ([`dev_ca`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use crate::etcd::{store_is_etcd, EtcdBackend};
use crate::tmp::unique_dir;
use crate::wait::{poll_until, wait_for};

mod client;
mod cluster;
mod process;

pub use client::CtlOutput;
pub use cluster::Cluster;
pub use process::{dev_ca, unused_low_port, DevCa};
use process::{port_taken, spawn, wait_addrs};

const START_DEADLINE: Duration = Duration::from_secs(30);

/// The admin token every node of a test cluster shares (also the Raft RPC credential).
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// One control-plane node.
pub struct ControlNode {
    pub id: u64,
    child: Option<Child>,
    dir: PathBuf,
    pub api: SocketAddr,
    pub raft: SocketAddr,
    /// The QUIC endpoint edges connect to.
    pub edge: SocketAddr,
    /// The metrics listener (`--metrics-listen`; a new port after a restart).
    pub metrics: SocketAddr,
    /// Flags and environment every start of this node repeats (see [`ControlNode::start_on`]).
    launch: Launch,
    /// `--data-dir`.
    data: PathBuf,
    /// The etcd the node keeps its state in (`BREAKOUT_TEST_STORE=etcd`), else its own Raft.
    pub etcd: Option<EtcdBackend>,
}

/// Extra flags and environment for a node, repeated by its restarts.
#[derive(Clone, Debug, Default)]
pub struct Launch {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl ControlNode {
    /// Starts node `id` with a fresh data dir; `join` nodes wait to be added to a cluster.
    pub fn start(id: u64, join: bool) -> ControlNode {
        Self::start_with_env(id, join, &[])
    }

    /// [`ControlNode::start`] with extra environment variables for the process (e.g. the
    /// `BREAKOUT_TEMPLATE_*` poller settings). A [`ControlNode::restart`] does not repeat them.
    pub fn start_with_env(id: u64, join: bool, env: &[(&str, &str)]) -> ControlNode {
        let etcd = (store_is_etcd() && !join).then(EtcdBackend::fresh);
        Self::launch_node(id, join, env, &[], None, etcd)
    }

    /// [`ControlNode::start_with_env`] on the given etcd (`None`: on its own Raft).
    pub fn start_with_store(
        id: u64,
        join: bool,
        env: &[(&str, &str)],
        etcd: Option<EtcdBackend>,
    ) -> ControlNode {
        Self::launch_node(id, join, env, &[], None, etcd)
    }

    /// [`ControlNode::start_with_env`] with extra arguments (e.g. `--advertise-raft`), which a
    /// restart repeats (on its own Raft).
    pub fn start_with(id: u64, join: bool, env: &[(&str, &str)], args: &[String]) -> ControlNode {
        Self::start_in(id, join, env, args, None)
    }

    /// [`ControlNode::start_with`] keeping its data in `data` (e.g. a small file system of its
    /// own) instead of a fresh directory.
    pub fn start_in(
        id: u64,
        join: bool,
        env: &[(&str, &str)],
        args: &[String],
        data: Option<&Path>,
    ) -> ControlNode {
        Self::launch_node(id, join, env, args, data, None)
    }

    fn launch_node(
        id: u64,
        join: bool,
        env: &[(&str, &str)],
        args: &[String],
        data: Option<&Path>,
        etcd: Option<EtcdBackend>,
    ) -> ControlNode {
        let dir = unique_dir(&format!("breakout-control-{id}"));
        let data = data.map_or_else(|| dir.join("data"), Path::to_path_buf);
        // Fixed ports below the kernel's ephemeral range: a restart must get the same ports
        // back, and an ephemeral port of some other process's outgoing connection (tests run
        // in parallel) could otherwise hold one of them for as long as that connection lives.
        let log = dir.join("stderr.log");
        let mut child = None;
        for _ in 0..20 {
            let ports = [0; 3].map(|_| format!("127.0.0.1:{}", unused_low_port()));
            let seen = std::fs::metadata(&log).map_or(0, |m| m.len() as usize);
            let launch = Launch {
                env: env
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                args: join
                    .then(|| "--join".to_string())
                    .into_iter()
                    .chain(args.iter().cloned())
                    .collect(),
            };
            let listen = ports.each_ref().map(String::as_str);
            let mut c = spawn(id, &dir, &data, listen, &launch, etcd.as_ref());
            if port_taken(&mut c, &dir, seen) {
                continue;
            }
            child = Some(c);
            break;
        }
        let child = child.unwrap_or_else(|| panic!("node {id}: no free ports found"));
        let launch = Launch {
            args: args.to_vec(),
            env: Vec::new(),
        };
        Self::started(id, dir, data, child, launch, etcd)
    }

    /// Starts node `id` on the given `[api, raft, edge]` addresses with `launch`'s flags and
    /// environment, which its restarts repeat (no retry on a taken port: pick them just before).
    pub fn start_on(id: u64, listen: [&str; 3], launch: Launch) -> ControlNode {
        let dir = unique_dir(&format!("breakout-control-{id}"));
        let data = dir.join("data");
        let child = spawn(id, &dir, &data, listen, &launch, None);
        Self::started(id, dir, data, child, launch, None)
    }

    /// The node `child` runs, once its addr file names its addresses.
    fn started(
        id: u64,
        dir: PathBuf,
        data: PathBuf,
        child: Child,
        launch: Launch,
        etcd: Option<EtcdBackend>,
    ) -> ControlNode {
        let (child, [api, raft, edge, metrics]) = wait_addrs(child, &dir);
        ControlNode {
            id,
            child: Some(child),
            dir,
            api,
            raft,
            edge,
            metrics,
            launch,
            data,
            etcd,
        }
    }

    /// Where the node keeps its data, its `--data-dir` (a restart reuses it).
    pub fn data_dir(&self) -> PathBuf {
        self.data.clone()
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn api_url(&self) -> String {
        format!("http://{}", self.api)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Waits up to `timeout` for the process to exit by itself: its status (the node is then no
    /// longer running), or `None` if it still runs.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        let mut status = None;
        poll_until(timeout, || {
            status = child.try_wait().ok().flatten();
            status.is_some()
        });
        if status.is_some() {
            self.child = None;
        }
        status
    }

    /// SIGKILL, and wait until the process is gone.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the node again on the same data dir and addresses (as `join`: a restart must never
    /// initialise a cluster, whatever the flag says, but joiners make that explicit).
    pub fn restart(&mut self) {
        let child = self.respawn();
        let (child, [api, raft, edge, metrics]) = wait_addrs(child, &self.dir);
        assert_eq!((api, raft, edge), (self.api, self.raft, self.edge));
        self.metrics = metrics;
        self.child = Some(child);
    }

    /// [`ControlNode::restart`] for a node expected to stop by itself (see
    /// [`ControlNode::wait_exit`]): does not wait for its listeners.
    pub fn restart_unchecked(&mut self) {
        let child = self.respawn();
        self.child = Some(child);
    }

    fn respawn(&mut self) -> Child {
        assert!(self.child.is_none(), "node {} still running", self.id);
        let _ = std::fs::remove_file(self.dir.join("addrs.json"));
        let addrs = [self.api, self.raft, self.edge].map(|a| a.to_string());
        // Between the kill and now, another process's outgoing connection may have been given
        // one of these ports as its ephemeral port (tests run in parallel): wait for it to go.
        let log = self.dir.join("stderr.log");
        let mut child = None;
        let started = poll_until(START_DEADLINE, || {
            let seen = std::fs::metadata(&log).map_or(0, |m| m.len() as usize);
            let mut c = spawn(
                self.id,
                &self.dir,
                &self.data,
                addrs.each_ref().map(String::as_str),
                &self.launch,
                self.etcd.as_ref(),
            );
            if port_taken(&mut c, &self.dir, seen) {
                return false;
            }
            child = Some(c);
            true
        });
        assert!(started, "node {}: its ports stayed taken", self.id);
        child.expect("spawned")
    }

    /// Starts the node again expecting it to refuse to start: its exit status and what it
    /// wrote to stderr this time.
    pub fn restart_expecting_exit(&mut self) -> (std::process::ExitStatus, String) {
        assert!(self.child.is_none(), "node {} still running", self.id);
        let log = self.dir.join("stderr.log");
        let seen = std::fs::metadata(&log).map_or(0, |m| m.len() as usize);
        let addrs = [self.api, self.raft, self.edge].map(|a| a.to_string());
        let listen = addrs.each_ref().map(String::as_str);
        let mut c = spawn(
            self.id,
            &self.dir,
            &self.data,
            listen,
            &self.launch,
            self.etcd.as_ref(),
        );
        let status = wait_for(START_DEADLINE, "the node exits", || {
            c.try_wait().ok().flatten()
        });
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        (status, text.get(seen..).unwrap_or_default().to_string())
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for ControlNode {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            eprintln!(
                "node {} kept for inspection: {}",
                self.id,
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
