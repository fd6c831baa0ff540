//! The real `breakout-edge` process: start (from a config file, or fed by a control plane),
//! reload, signal, scrape, read its access log.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::metrics;
use crate::raw::http_get;
use crate::wait::wait_for;

const START_DEADLINE: Duration = Duration::from_secs(20);

/// A running edge; killed on drop. Its temp dir is kept (and printed) if the test panicked.
pub struct Edge {
    child: Child,
    dir: PathBuf,
    proxy: SocketAddr,
    admin: SocketAddr,
    pac: Option<SocketAddr>,
    exited: Option<ExitStatus>,
}

/// How an edge fed by a control plane connects (`--control-plane` and friends).
#[derive(Clone, Debug)]
pub struct Synced {
    pub control_plane: Vec<SocketAddr>,
    pub region: String,
    pub node_id: String,
    pub ca_file: PathBuf,
    pub token: String,
}

impl Synced {
    fn args(&self, dir: &Path) -> Vec<String> {
        let token_file = dir.join("edge.token");
        std::fs::write(&token_file, &self.token).expect("write the edge token");
        let nodes: Vec<String> = self.control_plane.iter().map(|a| a.to_string()).collect();
        vec![
            "--control-plane".into(),
            nodes.join(","),
            "--region".into(),
            self.region.clone(),
            "--node-id".into(),
            self.node_id.clone(),
            "--ca-file".into(),
            self.ca_file.display().to_string(),
            "--edge-token-file".into(),
            token_file.display().to_string(),
        ]
    }
}

impl Edge {
    /// Writes `config_toml` and starts the edge on ephemeral ports; waits for its addr file.
    pub fn start(config_toml: &str) -> Edge {
        Self::start_args(config_toml, |_| Vec::new())
    }

    /// Starts an edge that takes its tenants from a control plane; `settings_toml` gives the
    /// rest (see `EdgeConfig::to_settings_toml`). Returns once it listens, not once it is ready.
    pub fn start_synced(settings_toml: &str, sync: &Synced) -> Edge {
        Self::start_args(settings_toml, |dir| sync.args(dir))
    }

    /// [`Edge::start_synced`] with extra command-line arguments (e.g. `--log debug`).
    pub fn start_synced_with(settings_toml: &str, sync: &Synced, extra: &[&str]) -> Edge {
        Self::start_args(settings_toml, |dir| {
            let mut args = sync.args(dir);
            args.extend(extra.iter().map(|a| a.to_string()));
            args
        })
    }

    /// Like [`Edge::start`], with a PAC-only listener on an ephemeral port ([`Edge::pac`]).
    pub fn start_with_pac_listener(config_toml: &str) -> Edge {
        Self::start_args(config_toml, |_| {
            vec!["--pac-listen".to_string(), "127.0.0.1:0".to_string()]
        })
    }

    /// [`Edge::start`] with its open-file limit (soft and hard) set to `nofile`.
    pub fn start_with_nofile(config_toml: &str, nofile: u32) -> Edge {
        Self::start_limited(config_toml, |_| Vec::new(), Some(nofile))
    }

    fn start_args(config_toml: &str, extra: impl FnOnce(&Path) -> Vec<String>) -> Edge {
        Self::start_limited(config_toml, extra, None)
    }

    fn start_limited(
        config_toml: &str,
        extra: impl FnOnce(&Path) -> Vec<String>,
        nofile: Option<u32>,
    ) -> Edge {
        let dir = unique_dir();
        let args = extra(&dir);
        let mut child = spawn(&dir, config_toml, &args, nofile);
        let addr_file = dir.join("addrs.json");
        let (proxy, admin, pac) = wait_for(START_DEADLINE, "edge writes its addr file", || {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "breakout-edge exited with {status} before binding; stderr:\n{}",
                    read(&dir.join("stderr.log"))
                );
            }
            parse_addrs(&std::fs::read_to_string(&addr_file).ok()?)
        });
        Edge {
            child,
            dir,
            proxy,
            admin,
            pac,
            exited: None,
        }
    }

    /// Starts the edge expecting it to fail; returns its exit status and stderr.
    pub fn start_expecting_failure(config_toml: &str, timeout: Duration) -> (ExitStatus, String) {
        let dir = unique_dir();
        let mut child = spawn(&dir, config_toml, &[], None);
        let status = wait_for(timeout, "edge exits on a bad config", || {
            child.try_wait().expect("try_wait")
        });
        let stderr = read(&dir.join("stderr.log"));
        let _ = std::fs::remove_dir_all(&dir);
        (status, stderr)
    }

    /// The proxy listener.
    pub fn proxy(&self) -> SocketAddr {
        self.proxy
    }

    /// The PAC-only listener, if the edge was started with one.
    pub fn pac(&self) -> Option<SocketAddr> {
        self.pac
    }

    /// The admin listener (health, readiness, metrics).
    pub fn admin(&self) -> SocketAddr {
        self.admin
    }

    /// `http://<proxy>` for curl's `-x`.
    pub fn proxy_url(&self) -> String {
        format!("http://{}", self.proxy)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Rewrites the config file and sends SIGHUP.
    pub fn reload(&self, config_toml: &str) {
        // Write-then-rename so the edge never reads a half-written file.
        let tmp = self.dir.join("config.toml.tmp");
        std::fs::write(&tmp, config_toml).expect("write config");
        std::fs::rename(&tmp, self.config_path()).expect("rename config");
        self.signal("HUP");
    }

    /// Sends `SIG<name>` (e.g. "TERM", "HUP") with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} {} failed", self.pid());
    }

    /// Body of GET /metrics on the admin listener.
    pub fn metrics(&self) -> String {
        let (status, body) = http_get(self.admin, "/metrics").expect("GET /metrics");
        assert_eq!(status, 200, "GET /metrics: {body}");
        body
    }

    /// Value of the sample `name` whose labels are exactly `labels`.
    pub fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        metrics::find(&self.metrics(), name, labels)
    }

    /// Like [`Edge::metric`] but absent counts as 0 (counters not yet incremented).
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.metric(name, labels).unwrap_or(0.0)
    }

    /// The sum of the samples `name` whose labels include `labels` (see [`metrics::sum`]).
    pub fn counter_sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        metrics::sum(&self.metrics(), name, labels)
    }

    /// `/explain` of `tenant`'s request for `host` (`query` appended as it is, e.g.
    /// `&port=80`): the JSON answer, or `Null` if the status is not 200.
    pub fn explain(&self, tenant: &str, host: &str, query: &str) -> serde_json::Value {
        let path = format!("/explain?tenant={tenant}&host={host}{query}");
        match http_get(self.admin, &path) {
            Ok((200, body)) => serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
            _ => serde_json::Value::Null,
        }
    }

    /// Status of GET `path` on the admin listener, or None if it cannot be reached.
    pub fn admin_status(&self, path: &str) -> Option<u16> {
        http_get(self.admin, path).ok().map(|(s, _)| s)
    }

    /// Every stdout line that parses as a JSON object (the access log).
    pub fn access_log_lines(&self) -> Vec<serde_json::Value> {
        read(&self.dir.join("stdout.log"))
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v.is_object())
            .collect()
    }

    /// Captured stderr so far (for failure messages).
    pub fn stderr(&self) -> String {
        read(&self.dir.join("stderr.log"))
    }

    /// Waits for the process to exit and returns its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        if let Some(s) = self.exited {
            return s;
        }
        let child = &mut self.child;
        let s = wait_for(timeout, "edge process exits", || {
            child.try_wait().expect("try_wait")
        });
        self.exited = Some(s);
        s
    }

    /// True if the process has exited.
    pub fn has_exited(&mut self) -> bool {
        self.exited.is_some() || self.child.try_wait().expect("try_wait").is_some()
    }

    fn config_path(&self) -> PathBuf {
        self.dir.join("config.toml")
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "edge files kept in {}; stderr:\n{}",
                self.dir.display(),
                self.stderr()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn spawn(dir: &Path, config_toml: &str, extra: &[String], nofile: Option<u32>) -> Child {
    let config = dir.join("config.toml");
    std::fs::write(&config, config_toml).expect("write config");
    let stdout = File::create(dir.join("stdout.log")).expect("create stdout.log");
    let stderr = File::create(dir.join("stderr.log")).expect("create stderr.log");
    // prlimit(1) (util-linux) sets the limit and execs the edge: the pid stays the edge's.
    let mut cmd = match nofile {
        Some(n) => {
            let mut c = Command::new("prlimit");
            c.arg(format!("--nofile={n}:{n}"))
                .arg("--")
                .arg(crate::binaries::edge_bin());
            c
        }
        None => Command::new(crate::binaries::edge_bin()),
    };
    cmd.arg("--config")
        .arg(&config)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--addr-file",
        ])
        .arg(dir.join("addrs.json"))
        .args(extra)
        .env_remove("BREAKOUT_EDGE_TOKEN")
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        )
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("spawn breakout-edge")
}

type Addrs = (SocketAddr, SocketAddr, Option<SocketAddr>);

fn parse_addrs(text: &str) -> Option<Addrs> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let proxy = v.get("proxy")?.as_str()?.parse().ok()?;
    let admin = v.get("admin")?.as_str()?.parse().ok()?;
    let pac = v.get("pac").and_then(|p| p.as_str()?.parse().ok());
    Some((proxy, admin, pac))
}

fn unique_dir() -> PathBuf {
    crate::tmp::unique_dir("breakout-edge")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}
