//! Starting a `breakout-control` process: its command line, its addresses, free ports, and the
//! development CA every test node serves edges with.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use super::{Launch, ADMIN_TOKEN, START_DEADLINE};
use crate::binaries::control_bin;
use crate::etcd::EtcdBackend;
use crate::tmp::unique_dir;
use crate::wait::{poll_until, wait_for};

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

pub(super) fn spawn(
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
        // BREAKOUT_TEST_CONTROL_LOG: another filter for diagnosis (e.g. `info`).
        .env(
            "BREAKOUT_LOG",
            std::env::var("BREAKOUT_TEST_CONTROL_LOG").unwrap_or_else(|_| "warn".into()),
        )
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
pub(super) fn wait_addrs(mut child: Child, dir: &Path) -> (Child, [SocketAddr; 4]) {
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

/// Waits until `child`, just spawned in `dir`, has written its addr file (its listeners are
/// bound) or has exited, whichever comes first: true if it exited because one of its listen
/// addresses was taken (said in what it wrote to its stderr log past byte `seen`), so that the
/// caller may try again. A time window alone cannot tell: on a loaded machine a node may take
/// longer than any fixed window to reach its listeners.
pub(super) fn port_taken(child: &mut Child, dir: &Path, seen: usize) -> bool {
    let file = dir.join("addrs.json");
    let mut exited = false;
    poll_until(START_DEADLINE, || {
        exited = matches!(child.try_wait(), Ok(Some(_)));
        exited || file.exists()
    });
    let text = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
    exited
        && text
            .get(seen..)
            .unwrap_or_default()
            .contains("Address already in use")
}
