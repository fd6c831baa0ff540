//! The dev deployment's edge: the `breakout-edge` binary next to this one, run as a child
//! process against the in-process control plane, and stopped with SIGTERM (then SIGKILL).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

use super::files::{read_addrs, Layout};
use super::{DevArgs, REGION};

/// The edge's id in `breakoutctl edge list`.
pub const EDGE_ID: &str = "local-1";
/// How long a SIGTERMed edge may drain before it is killed (its drain grace is 2 s).
const STOP_GRACE: Duration = Duration::from_secs(5);

/// `--edge-bin`, else `breakout-edge` in the directory of the running executable.
pub fn locate(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        if path.is_file() {
            return Ok(path.to_path_buf());
        }
        bail!("--edge-bin {}: no such file", path.display());
    }
    let exe = std::env::current_exe().context("locating the running executable")?;
    let dir = exe
        .parent()
        .context("the running executable has no directory")?;
    let path = dir.join("breakout-edge");
    if path.is_file() {
        return Ok(path);
    }
    let profile = if dir.ends_with("release") {
        " --release"
    } else {
        ""
    };
    bail!(
        "{} not found: the dev deployment runs the edge binary that sits next to breakout-control. \
         Build it with `cargo build{profile} -p breakout-edge` (or build everything: \
         `cargo build{profile} --bins`), or name it with --edge-bin PATH",
        path.display()
    )
}

/// A running edge child and its bound addresses.
pub struct EdgeProc {
    child: Child,
    pub proxy: SocketAddr,
    pub admin: SocketAddr,
}

/// Starts the edge against the control plane's QUIC endpoint `control` and waits for its
/// listeners (its addr file).
pub async fn start(
    bin: &Path,
    layout: &Layout,
    args: &DevArgs,
    control: SocketAddr,
    slot: &mut Option<EdgeProc>,
) -> anyhow::Result<()> {
    layout.write_edge_settings(args.allow_private_destinations)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(layout.edge_log())
        .with_context(|| format!("opening {}", layout.edge_log().display()))?;
    let mut cmd = Command::new(bin);
    cmd.arg("--config")
        .arg(layout.edge_settings())
        .arg("--control-plane")
        .arg(control.to_string())
        .args(["--region", REGION, "--node-id", EDGE_ID])
        .arg("--ca-file")
        .arg(layout.ca())
        .arg("--edge-token-file")
        .arg(layout.edge_token())
        .arg("--listen")
        .arg(args.proxy_listen.to_string())
        .arg("--admin-listen")
        .arg(args.edge_admin_listen.to_string())
        .arg("--addr-file")
        .arg(layout.edge_addrs())
        .env_remove("BREAKOUT_EDGE_TOKEN")
        .env_remove("BREAKOUT_EDGE_CONFIG")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // A backstop: if this process unwinds without stopping it, the edge is killed.
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    if let Some(pid) = child.id() {
        std::fs::write(layout.edge_pid(), pid.to_string())?;
    }
    let child = slot.insert(EdgeProc {
        child,
        proxy: args.proxy_listen,
        admin: args.edge_admin_listen,
    });
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.child.try_wait()? {
            let log = std::fs::read_to_string(layout.edge_log()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(6).collect();
            bail!(
                "breakout-edge exited with {status} while starting; {}:\n{}",
                layout.edge_log().display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        if let Some(v) = read_addrs(&layout.edge_addrs()) {
            let parse = |k: &str| v[k].as_str().and_then(|s| s.parse().ok());
            if let (Some(proxy), Some(admin)) = (parse("proxy"), parse("admin")) {
                child.proxy = proxy;
                child.admin = admin;
                return Ok(());
            }
        }
        if Instant::now() > until {
            bail!("breakout-edge did not bind its listeners within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stops an edge a previous run left behind (that run was killed with SIGKILL, so it could not
/// stop its child): the pid in `edge.pid`, if that process is a `breakout-edge` of this directory.
pub async fn stop_leftover(layout: &Layout) {
    let Ok(pid) = std::fs::read_to_string(layout.edge_pid()) else {
        return;
    };
    let pid = pid.trim();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline);
    let settings = layout.edge_settings().display().to_string();
    if cmdline.contains("breakout-edge") && cmdline.contains(&settings) {
        eprintln!("breakout-control dev: stopping the edge a previous run left (pid {pid})");
        terminate(pid).await;
        let gone = || !Path::new(&format!("/proc/{pid}")).exists();
        let until = Instant::now() + STOP_GRACE;
        while !gone() && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let _ = std::fs::remove_file(layout.edge_pid());
}

/// SIGTERM to `pid`: std has no SIGTERM, and kill(1) is in every base system.
async fn terminate(pid: &str) {
    let _ = Command::new("kill")
        .args(["-TERM", pid])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
}

impl EdgeProc {
    /// Waits until the edge serves `tenant` with a session grant: `/readyz` answers 200,
    /// `/explain` knows the tenant, and its local session limit is above 0.
    pub async fn wait_serving(&mut self, tenant: &str, deadline: Duration) -> anyhow::Result<()> {
        let http = crate::http_client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()?;
        let base = format!("http://{}", self.admin);
        let limit = format!("breakout_edge_session_limit{{tenant=\"{tenant}\"}} ");
        let until = Instant::now() + deadline;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("breakout-edge exited with {status}");
            }
            let get = |path: String| {
                let http = http.clone();
                async move {
                    let r = http.get(path).send().await.ok()?;
                    let ok = r.status().is_success();
                    Some((ok, r.text().await.ok()?))
                }
            };
            let ready = get(format!("{base}/readyz")).await.is_some_and(|r| r.0);
            let explain = format!("{base}/explain?tenant={tenant}&host=outlook.office365.com");
            let knows = ready && get(explain).await.is_some_and(|r| r.0);
            let granted = knows
                && get(format!("{base}/metrics")).await.is_some_and(|(_, m)| {
                    m.lines().any(|l| {
                        l.strip_prefix(&limit)
                            .and_then(|v| v.trim().parse::<f64>().ok())
                            .is_some_and(|v| v > 0.0)
                    })
                });
            if granted {
                return Ok(());
            }
            if Instant::now() > until {
                bail!(
                    "the edge did not serve tenant {tenant} within {deadline:?} \
                     (ready: {ready}, tenant known: {knows})"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Resolves when the edge exits on its own.
    pub async fn exited(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.child.wait().await
    }

    /// SIGTERM (the edge drains), then SIGKILL after [`STOP_GRACE`]; reaps the child.
    pub async fn stop(mut self, pid_file: &Path) {
        if let Ok(Some(_)) = self.child.try_wait() {
            let _ = std::fs::remove_file(pid_file);
            return;
        }
        if let Some(pid) = self.child.id() {
            terminate(&pid.to_string()).await;
        }
        if tokio::time::timeout(STOP_GRACE, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        let _ = std::fs::remove_file(pid_file);
    }
}
