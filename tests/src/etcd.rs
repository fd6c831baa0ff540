//! A real etcd (Debian `etcd-server`) for tests: one member, or a cluster of several
//! ([`EtcdServer::cluster`]), on 127.0.0.1 with free ports and temp data dirs; killed when
//! dropped. [`store_is_etcd`] says whether the e2e harness runs control planes on etcd
//! (`BREAKOUT_TEST_STORE=etcd`) instead of their own Raft.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::control::unused_low_port;
use crate::tmp::unique_dir;
use crate::wait::poll_until;

const START_DEADLINE: Duration = Duration::from_secs(20);

/// Whether control planes started by the harness keep their state in etcd.
pub fn store_is_etcd() -> bool {
    std::env::var("BREAKOUT_TEST_STORE").is_ok_and(|s| s == "etcd")
}

/// One etcd member.
pub struct EtcdServer {
    child: Mutex<Option<Child>>,
    dir: PathBuf,
    name: String,
    client_port: u16,
    peer_port: u16,
    /// `--initial-cluster`: every member's `name=peer URL`.
    initial_cluster: String,
}

impl EtcdServer {
    /// Starts a fresh member and waits until it answers.
    pub fn start() -> Arc<EtcdServer> {
        let dir = unique_dir("breakout-etcd");
        for _ in 0..10 {
            let mut server = Self::unstarted(dir.clone(), "test");
            server.initial_cluster = format!("test={}", server.peer_url());
            if server.launch() {
                return Arc::new(server);
            }
        }
        panic!("etcd did not start; log:\n{}", read_log(&dir));
    }

    /// Starts a fresh cluster of `n` members (all launched, then each waited for: a member
    /// answers only once a quorum is up).
    pub fn cluster(n: usize) -> Vec<Arc<EtcdServer>> {
        let root = unique_dir("breakout-etcd-cluster");
        for attempt in 0..5 {
            let mut members: Vec<EtcdServer> = (0..n)
                .map(|i| Self::unstarted(root.join(format!("try{attempt}-m{i}")), &format!("m{i}")))
                .collect();
            let initial: Vec<String> = members
                .iter()
                .map(|m| format!("{}={}", m.name, m.peer_url()))
                .collect();
            for m in &mut members {
                m.initial_cluster = initial.join(",");
                m.spawn();
            }
            if members.iter().all(|m| m.wait_up()) {
                return members.into_iter().map(Arc::new).collect();
            }
        }
        panic!(
            "an etcd cluster of {n} did not start under {}",
            root.display()
        );
    }

    fn unstarted(dir: PathBuf, name: &str) -> EtcdServer {
        EtcdServer {
            child: Mutex::new(None),
            dir,
            name: name.into(),
            client_port: unused_low_port(),
            peer_port: unused_low_port(),
            initial_cluster: String::new(),
        }
    }

    fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }

    /// The member's port for clients.
    pub fn client_port(&self) -> u16 {
        self.client_port
    }

    /// The client URL (`--etcd-endpoints`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    fn launch(&self) -> bool {
        self.spawn();
        self.wait_up()
    }

    fn spawn(&self) {
        std::fs::create_dir_all(&self.dir).expect("etcd dir");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("etcd.log"))
            .expect("etcd log");
        let peer = self.peer_url();
        let child = Command::new("etcd")
            .args(["--name", &self.name, "--data-dir"])
            .arg(self.dir.join("data"))
            .args(["--listen-client-urls", &self.url()])
            .args(["--advertise-client-urls", &self.url()])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &self.initial_cluster])
            // An import writes every key of a state in one transaction.
            .args(["--max-txn-ops", "100000", "--max-request-bytes", "33554432"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn etcd (apt-get install etcd-server)");
        *self.child.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
    }

    /// Waits until the member answers (or exits): whether it runs.
    fn wait_up(&self) -> bool {
        let up = poll_until(START_DEADLINE, || {
            if self.exited() {
                return true;
            }
            self.ctl(&["endpoint", "health"]).is_some()
        });
        up && !self.exited()
    }

    fn exited(&self) -> bool {
        let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_mut().map(|c| c.try_wait()) {
            Some(Ok(Some(_))) => {
                *guard = None;
                true
            }
            _ => guard.is_none(),
        }
    }

    /// `etcdctl --endpoints <this> ARGS`: its stdout, or `None` if it failed.
    pub fn ctl(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.url(), "--command-timeout", "5s"])
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The current revision.
    pub fn revision(&self) -> i64 {
        self.status().expect("etcdctl endpoint status").revision
    }

    /// What the member says of itself (`etcdctl endpoint status`), if it answers.
    pub fn status(&self) -> Option<MemberStatus> {
        let out = self.ctl(&["endpoint", "status", "-w", "json"])?;
        let v: serde_json::Value = serde_json::from_str(&out).ok()?;
        let s = &v[0]["Status"];
        Some(MemberStatus {
            revision: s["header"]["revision"].as_i64()?,
            member_id: s["header"]["member_id"].as_u64()?,
            leader: s["leader"].as_u64()?,
        })
    }

    /// Compacts history up to the current revision.
    pub fn compact_now(&self) {
        let rev = self.revision();
        self.ctl(&["compact", &rev.to_string(), "--physical"])
            .expect("etcdctl compact");
    }

    /// SIGKILL.
    pub fn kill9(&self) {
        if let Some(mut c) = self.child.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the member again on its data dir and ports.
    pub fn restart(&self) {
        self.kill9();
        let ok = poll_until(START_DEADLINE, || self.launch());
        assert!(ok, "etcd did not restart; log:\n{}", read_log(&self.dir));
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        self.kill9();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// One member's `etcdctl endpoint status`.
#[derive(Clone, Copy, Debug)]
pub struct MemberStatus {
    /// The revision this member has applied.
    pub revision: i64,
    pub member_id: u64,
    /// The member id of the cluster's leader, as this member knows it.
    pub leader: u64,
}

impl MemberStatus {
    pub fn is_leader(&self) -> bool {
        self.member_id == self.leader
    }
}

fn read_log(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("etcd.log")).unwrap_or_default()
}

/// Where a control plane keeps its state in etcd: a server (or a cluster's members, `server`
/// being the first) and a prefix of its own.
#[derive(Clone)]
pub struct EtcdBackend {
    pub server: Arc<EtcdServer>,
    /// Every member the control plane is told about (`--etcd-endpoints`).
    pub members: Vec<Arc<EtcdServer>>,
    pub prefix: String,
}

impl EtcdBackend {
    /// A new etcd member with a fresh prefix.
    pub fn fresh() -> EtcdBackend {
        Self::on(EtcdServer::start())
    }

    /// A fresh prefix on `server`.
    pub fn on(server: Arc<EtcdServer>) -> EtcdBackend {
        Self::on_members(vec![server])
    }

    /// A fresh prefix on a cluster of `members` (at least one).
    pub fn on_members(members: Vec<Arc<EtcdServer>>) -> EtcdBackend {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        EtcdBackend {
            server: Arc::clone(members.first().expect("an etcd member")),
            members,
            prefix: format!("/breakout-test-{n}/"),
        }
    }

    /// The `breakout-control` flags that select it.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--store".into(),
            "etcd".into(),
            "--etcd-endpoints".into(),
            self.members
                .iter()
                .map(|m| m.url())
                .collect::<Vec<_>>()
                .join(","),
            "--etcd-prefix".into(),
            self.prefix.clone(),
        ]
    }
}

/// The remote ports of the established TCP connections process `pid` holds to 127.0.0.1
/// (from `/proc`: its socket descriptors matched against `/proc/net/tcp`), sorted, repeated
/// once per connection.
pub fn connected_ports(pid: u32) -> Vec<u16> {
    let mut inodes = std::collections::HashSet::new();
    if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
            {
                inodes.insert(inode.to_string());
            }
        }
    }
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap_or_default();
    let mut ports: Vec<u16> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            let (remote, state, inode) = (cols.get(2)?, cols.get(3)?, cols.get(9)?);
            if *state != "01" || !inodes.contains(*inode) {
                return None;
            }
            let (addr, port) = remote.split_once(':')?;
            (addr == "0100007F").then(|| u16::from_str_radix(port, 16).ok())?
        })
        .collect();
    ports.sort_unstable();
    ports
}
