//! Real `breakout-control` processes and the `breakoutctl` CLI.
//!
//! A node starts on ephemeral ports (reported through `--addr-file`); a restart reuses the same
//! addresses, since its peers know it by them. `kill9` is SIGKILL: no shutdown code runs. Every
//! node serves edges (QUIC) with the certificate of one development CA per test process
//! ([`dev_ca`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::binaries::{control_bin, ctl_bin};
use crate::etcd::{store_is_etcd, EtcdBackend};
use crate::tmp::unique_dir;
use crate::wait::{poll_until, wait_for};

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

/// A development CA (`breakout-control dev-ca`) and the server certificate every test node uses.
pub struct DevCa {
    pub dir: PathBuf,
}

impl DevCa {
    /// What edges trust (`--ca-file`).
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
}

/// The test process's development CA, made on first use.
pub fn dev_ca() -> &'static DevCa {
    static CA: OnceLock<DevCa> = OnceLock::new();
    CA.get_or_init(|| {
        let dir = unique_dir("breakout-dev-ca");
        let out = Command::new(control_bin())
            .arg("dev-ca")
            .arg("--out")
            .arg(&dir)
            .output()
            .expect("run breakout-control dev-ca");
        assert!(
            out.status.success(),
            "dev-ca failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        DevCa { dir }
    })
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
            let exited = poll_until(Duration::from_millis(300), || {
                matches!(c.try_wait(), Ok(Some(_)))
            });
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if exited
                && text
                    .get(seen..)
                    .unwrap_or_default()
                    .contains("Address already in use")
            {
                continue;
            }
            child = Some(c);
            break;
        }
        let child = child.unwrap_or_else(|| panic!("node {id}: no free ports found"));
        let (child, [api, raft, edge, metrics]) = wait_addrs(child, &dir);
        ControlNode {
            id,
            child: Some(child),
            dir,
            api,
            raft,
            edge,
            metrics,
            launch: Launch {
                args: args.to_vec(),
                env: Vec::new(),
            },
            data,
            etcd,
        }
    }

    /// Starts node `id` on the given `[api, raft, edge]` addresses with `launch`'s flags and
    /// environment, which its restarts repeat (no retry on a taken port: pick them just before).
    pub fn start_on(id: u64, listen: [&str; 3], launch: Launch) -> ControlNode {
        let dir = unique_dir(&format!("breakout-control-{id}"));
        let data = dir.join("data");
        let child = spawn(id, &dir, &data, listen, &launch, None);
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
            etcd: None,
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
            let exited = poll_until(Duration::from_millis(500), || {
                matches!(c.try_wait(), Ok(Some(_)))
            });
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let taken = text
                .get(seen..)
                .unwrap_or_default()
                .contains("Address already in use");
            if exited && taken {
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

    /// Runs `breakoutctl --server <this node> --token <admin> -o json ARGS`.
    pub fn ctl(&self, args: &[&str]) -> CtlOutput {
        self.ctl_as(ADMIN_TOKEN, args)
    }

    pub fn ctl_as(&self, token: &str, args: &[&str]) -> CtlOutput {
        let out = Command::new(ctl_bin())
            .args(["--server", &self.api_url(), "--token", token, "-o", "json"])
            .args(args)
            .env_remove("BREAKOUT_SERVER")
            .env_remove("BREAKOUT_TOKEN")
            .stdin(Stdio::null())
            .output()
            .expect("run breakoutctl");
        CtlOutput(out)
    }

    /// GET `path` on this node's API with `token`, through curl: (status, body).
    pub fn get(&self, token: &str, path: &str) -> (u16, String) {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"])
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .arg(format!("{}{path}", self.api_url()))
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("all_proxy")
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// `method path` with a JSON `body` on this node's API with `token`, through curl:
    /// (status, body).
    pub fn send(&self, token: &str, method: &str, path: &str, body: &str) -> (u16, String) {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"])
            .args(["-X", method, "--data-binary", body])
            .args(["-H", "Content-Type: application/json"])
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .arg(format!("{}{path}", self.api_url()))
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("all_proxy")
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// `GET /metrics` on the metrics listener: (status, body).
    pub fn scrape(&self) -> (u16, String) {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"])
            .arg(format!("http://{}/metrics", self.metrics))
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("all_proxy")
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// This node's stale (local) view of the tenants: their ids.
    pub fn local_tenant_ids(&self) -> Option<Vec<String>> {
        let (status, body) = self.get(ADMIN_TOKEN, "/v1/tenants?stale=true");
        if status != 200 {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let items = v.get("items")?.as_array()?;
        Some(
            items
                .iter()
                .filter_map(|t| t.get("id")?.as_str().map(str::to_string))
                .collect(),
        )
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

/// What `breakoutctl` printed and how it exited.
#[derive(Debug)]
pub struct CtlOutput(pub Output);

impl CtlOutput {
    pub fn ok(&self) -> bool {
        self.0.status.success()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).to_string()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).to_string()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.0.stdout)
            .unwrap_or_else(|e| panic!("breakoutctl printed no JSON ({e}): {self:?}"))
    }

    /// Panics with both streams unless the command succeeded.
    pub fn expect_ok(self, what: &str) -> CtlOutput {
        assert!(
            self.ok(),
            "{what}: breakoutctl failed\nstdout: {}\nstderr: {}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// A cluster of `n` nodes: node 1 initialises, the others join through `cluster add-node`.
pub struct Cluster {
    pub nodes: Vec<ControlNode>,
}

impl Cluster {
    pub fn start(n: u64) -> Cluster {
        let first = ControlNode::start(1, false);
        wait_leader_on(&first);
        let mut nodes = vec![first];
        if let Some(etcd) = nodes[0].etcd.clone() {
            // On etcd every instance is a member as soon as it runs.
            for id in 2..=n {
                nodes.push(ControlNode::start_with_store(
                    id,
                    false,
                    &[],
                    Some(etcd.clone()),
                ));
            }
            let c = Cluster { nodes };
            c.wait_voters(n as usize);
            return c;
        }
        for id in 2..=n {
            let node = ControlNode::start(id, true);
            nodes[0]
                .ctl(&[
                    "cluster",
                    "add-node",
                    &id.to_string(),
                    &node.api.to_string(),
                ])
                .expect_ok("add-node");
            nodes.push(node);
        }
        let c = Cluster { nodes };
        c.wait_voters(n as usize);
        c
    }

    /// A one-node cluster whose node runs with extra environment variables (e.g.
    /// `BREAKOUT_WEBHOOK_ALLOW_CIDRS`).
    pub fn single_with_env(env: &[(&str, &str)]) -> Cluster {
        let node = ControlNode::start_with_env(1, false, env);
        wait_leader_on(&node);
        Cluster { nodes: vec![node] }
    }

    /// Index of the node the cluster reports as leader, asked of any running node.
    pub fn leader(&self) -> Option<usize> {
        self.nodes.iter().filter(|n| n.is_running()).find_map(|n| {
            let (status, body) = n.get(ADMIN_TOKEN, "/v1/cluster/status");
            if status != 200 {
                return None;
            }
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            let id = v.get("leader")?.as_u64()?;
            self.nodes.iter().position(|n| n.id == id && n.is_running())
        })
    }

    pub fn wait_leader(&self, timeout: Duration) -> usize {
        wait_for(timeout, "a leader among the running nodes", || {
            self.leader()
        })
    }

    /// Waits until the cluster status lists `n` voters.
    pub fn wait_voters(&self, n: usize) {
        wait_until_status(&self.nodes[0], |v| {
            let voters = v.get("nodes").and_then(|n| n.as_array()).map(|nodes| {
                nodes
                    .iter()
                    .filter(|x| {
                        matches!(
                            x.get("role").and_then(|r| r.as_str()),
                            Some("leader" | "follower")
                        )
                    })
                    .count()
            });
            voters == Some(n)
        });
    }
}

fn wait_leader_on(node: &ControlNode) {
    wait_until_status(node, |v| v.get("leader").and_then(|l| l.as_u64()).is_some());
}

fn wait_until_status(node: &ControlNode, cond: impl Fn(&serde_json::Value) -> bool) {
    let ok = poll_until(START_DEADLINE, || {
        let (status, body) = node.get(ADMIN_TOKEN, "/v1/cluster/status");
        status == 200
            && serde_json::from_str(&body)
                .map(|v| cond(&v))
                .unwrap_or(false)
    });
    assert!(
        ok,
        "cluster status never satisfied the condition; stderr of node {}:\n{}",
        node.id,
        node.stderr()
    );
}

/// A port in 20000..32000 (below Linux's default ephemeral range, 32768–60999) that is free for
/// TCP and UDP right now.
pub fn unused_low_port() -> u16 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEED: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    let mut x = SEED.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        ^ nanos
        ^ (u64::from(std::process::id()) << 20);
    loop {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let port = 20_000 + (x % 12_000) as u16;
        let tcp = std::net::TcpListener::bind(("127.0.0.1", port));
        let udp = std::net::UdpSocket::bind(("127.0.0.1", port));
        if tcp.is_ok() && udp.is_ok() {
            return port;
        }
    }
}

fn spawn(
    id: u64,
    dir: &Path,
    data: &Path,
    listen: [&str; 3],
    launch: &Launch,
    etcd: Option<&EtcdBackend>,
) -> Child {
    let out = std::fs::File::create(dir.join("stdout.log")).expect("stdout log");
    // Appended: a restarted node's log follows the killed one's.
    let err = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("stderr.log"))
        .expect("stderr log");
    let [api, raft, edge] = listen;
    let ca = dev_ca();
    let mut cmd = Command::new(control_bin());
    cmd.args(["--node-id", &id.to_string()])
        .arg("--data-dir")
        .arg(data)
        .args([
            "--api-listen",
            api,
            "--raft-listen",
            raft,
            "--edge-listen",
            edge,
            // Several nodes run on one machine: any free port (reported in the addr file).
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .arg("--edge-cert")
        .arg(ca.dir.join("server.pem"))
        .arg("--edge-key")
        .arg(ca.dir.join("server.key"))
        .arg("--addr-file")
        .arg(dir.join("addrs.json"))
        .env("BREAKOUT_ADMIN_TOKEN", ADMIN_TOKEN)
        // Edges authenticate with the admin token (the default edge token).
        .env_remove("BREAKOUT_EDGE_TOKEN")
        .env("BREAKOUT_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    cmd.args(&launch.args);
    if let Some(etcd) = etcd {
        cmd.args(etcd.args());
    }
    cmd.envs(launch.env.iter().map(|(k, v)| (k, v)));
    cmd.spawn().expect("spawn breakout-control")
}

/// The node's `[api, raft, edge, metrics]` addresses, once its addr file says them.
fn wait_addrs(mut child: Child, dir: &Path) -> (Child, [SocketAddr; 4]) {
    let file = dir.join("addrs.json");
    let addrs = wait_for(
        START_DEADLINE,
        "breakout-control writes its addr file",
        || {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "breakout-control exited with {status}; stderr:\n{}",
                    std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
                );
            }
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&file).ok()?).ok()?;
            let addr = |k: &str| v.get(k)?.as_str()?.parse().ok();
            // On etcd there is no Raft listener.
            let raft = addr("raft").unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
            Some([addr("api")?, raft, addr("edge")?, addr("metrics")?])
        },
    );
    (child, addrs)
}
