//! A real etcd (Debian `etcd-server`) for tests: one member on 127.0.0.1, free ports, a temp
//! data dir; killed when dropped. [`store_is_etcd`] says whether the e2e harness runs control
//! planes on etcd (`BREAKOUT_TEST_STORE=etcd`) instead of their own Raft.

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
    client_port: u16,
    peer_port: u16,
}

impl EtcdServer {
    /// Starts a fresh member and waits until it answers.
    pub fn start() -> Arc<EtcdServer> {
        let dir = unique_dir("breakout-etcd");
        for _ in 0..10 {
            let server = EtcdServer {
                child: Mutex::new(None),
                dir: dir.clone(),
                client_port: unused_low_port(),
                peer_port: unused_low_port(),
            };
            if server.launch() {
                return Arc::new(server);
            }
        }
        panic!("etcd did not start; log:\n{}", read_log(&dir));
    }

    /// The client URL (`--etcd-endpoints`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    fn launch(&self) -> bool {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("etcd.log"))
            .expect("etcd log");
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let child = Command::new("etcd")
            .args(["--name", "test", "--data-dir"])
            .arg(self.dir.join("data"))
            .args(["--listen-client-urls", &self.url()])
            .args(["--advertise-client-urls", &self.url()])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("test={peer}")])
            // An import writes every key of a state in one transaction.
            .args(["--max-txn-ops", "100000", "--max-request-bytes", "33554432"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn etcd (apt-get install etcd-server)");
        *self.child.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
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
        let out = self
            .ctl(&["endpoint", "status", "-w", "json"])
            .expect("etcdctl endpoint status");
        let v: serde_json::Value = serde_json::from_str(&out).expect("status JSON");
        v[0]["Status"]["header"]["revision"]
            .as_i64()
            .expect("a revision")
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

fn read_log(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("etcd.log")).unwrap_or_default()
}

/// Where a control plane keeps its state in etcd: a server and a prefix of its own.
#[derive(Clone)]
pub struct EtcdBackend {
    pub server: Arc<EtcdServer>,
    pub prefix: String,
}

impl EtcdBackend {
    /// A new etcd member with a fresh prefix.
    pub fn fresh() -> EtcdBackend {
        Self::on(EtcdServer::start())
    }

    /// A fresh prefix on `server`.
    pub fn on(server: Arc<EtcdServer>) -> EtcdBackend {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        EtcdBackend {
            server,
            prefix: format!("/breakout-test-{n}/"),
        }
    }

    /// The `breakout-control` flags that select it.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--store".into(),
            "etcd".into(),
            "--etcd-endpoints".into(),
            self.server.url(),
            "--etcd-prefix".into(),
            self.prefix.clone(),
        ]
    }
}
