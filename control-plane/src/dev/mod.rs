//! `breakout-control dev`: a complete deployment on one machine. A single-node control plane
//! (the server's own code path, in this process) with its data in a local directory, a
//! development CA and tokens there, one edge for region `local` as a child process, and a demo
//! tenant in service bootstrapped through the API. Ctrl-C or SIGTERM stops the edge, then the
//! control plane. See README.md and docs/operations.md.

mod bootstrap;
mod edge;
mod files;
mod vendor;

use std::ffi::OsString;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::signal::unix::{signal, Signal, SignalKind};

use self::bootstrap::Api;
use self::edge::EdgeProc;
use self::files::{read_addrs, Layout};

/// The region of the dev deployment.
pub const REGION: &str = "local";

/// `breakout-control dev` flags.
#[derive(clap::Args, Debug, Clone)]
pub struct DevArgs {
    /// Data directory: Raft data, tokens, the dev CA, the edge's settings and logs.
    #[arg(long, default_value = "./.breakout-dev", value_name = "DIR")]
    pub dir: PathBuf,
    /// Control-plane HTTP API.
    #[arg(long, default_value = "127.0.0.1:7070", value_name = "ADDR")]
    pub api_listen: String,
    /// Control-plane Raft RPC.
    #[arg(long, default_value = "127.0.0.1:7071", value_name = "ADDR")]
    pub raft_listen: String,
    /// Control-plane QUIC endpoint the edge connects to.
    #[arg(long, default_value = "127.0.0.1:7443", value_name = "ADDR")]
    pub edge_listen: String,
    /// Control-plane Prometheus metrics (`GET /metrics`).
    #[arg(long, default_value = "127.0.0.1:9091", value_name = "ADDR")]
    pub metrics_listen: String,
    /// The edge's proxy listener.
    #[arg(long, default_value = "127.0.0.1:3128", value_name = "ADDR")]
    pub proxy_listen: SocketAddr,
    /// The edge's admin listener (/metrics, /readyz, /explain).
    #[arg(long, default_value = "127.0.0.1:9090", value_name = "ADDR")]
    pub edge_admin_listen: SocketAddr,
    /// The edge binary (default: `breakout-edge` next to this executable).
    #[arg(long, value_name = "PATH")]
    pub edge_bin: Option<PathBuf>,
    /// Let the edge connect `direct` to loopback and private addresses, and give the demo tenant
    /// a `direct` rule for 127.0.0.0/8 (when it is created): for tests with local origins.
    #[arg(long)]
    pub allow_private_destinations: bool,
    /// Once everything serves, write the bound addresses here as JSON
    /// (`api`, `raft`, `edge`, `metrics`, `proxy`, `admin`, `token_file`); useful with port 0.
    #[arg(long, value_name = "PATH")]
    pub addr_file: Option<PathBuf>,
    /// More `breakout-control` flags for the control-plane node, after `--` (e.g.
    /// `-- --template-poll --template-m365-url http://…`).
    #[arg(last = true, value_name = "SERVER FLAGS")]
    pub server_args: Vec<OsString>,
}

/// How the deployment ended.
enum End {
    Signal,
    Failed(anyhow::Error),
    Server(anyhow::Result<()>),
}

/// Runs the dev deployment. `serve` runs one control-plane node from its command line (the
/// `breakout-control` binary's own `run`); it stops on SIGINT/SIGTERM, as this does.
pub async fn run<F, Fut>(args: DevArgs, serve: F) -> anyhow::Result<()>
where
    F: FnOnce(Vec<OsString>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut signals = Signals::new()?;
    let edge_bin = edge::locate(args.edge_bin.as_deref())?;
    let layout = Layout::new(&args.dir)?;
    layout.prepare()?;
    edge::stop_leftover(&layout).await;
    let mut argv = layout.server_argv(&args.api_listen, &args.raft_listen, &args.edge_listen);
    argv.extend([
        "--metrics-listen".into(),
        args.metrics_listen.clone().into(),
    ]);
    // The shipped vendor lists, served to this node's own poller on loopback, unless the
    // operator points the poller somewhere else after `--`.
    let own_poller = args
        .server_args
        .iter()
        .any(|a| a.to_string_lossy().starts_with("--template-"));
    if !own_poller {
        let vendor = vendor::start(&layout.dir).await?;
        argv.extend(vendor::poller_flags(vendor));
    }
    argv.extend(args.server_args.iter().cloned());
    let server = serve(argv);
    tokio::pin!(server);
    let mut edge: Option<EdgeProc> = None;
    let end = tokio::select! {
        r = &mut server => End::Server(r),
        _ = signals.recv() => End::Signal,
        r = start(&args, &layout, &edge_bin, &mut edge) => match r {
            Err(e) => End::Failed(e),
            Ok(()) => {
                let running = edge.as_mut().expect("started");
                tokio::select! {
                    r = &mut server => End::Server(r),
                    _ = signals.recv() => End::Signal,
                    status = running.exited() => End::Failed(anyhow::anyhow!(
                        "breakout-edge exited ({}); see {}",
                        status.map_or_else(|e| e.to_string(), |s| s.to_string()),
                        layout.edge_log().display()
                    )),
                }
            }
        },
    };
    if let Some(edge) = edge.take() {
        edge.stop(&layout.edge_pid()).await;
    }
    match end {
        End::Signal => {
            // The server saw the same signal; it may not have been listening yet.
            match tokio::time::timeout(Duration::from_secs(15), &mut server).await {
                Ok(r) => r?,
                Err(_) => eprintln!("breakout-control dev: the control plane did not stop in 15 s"),
            }
            eprintln!(
                "breakout-control dev: stopped (state kept in {})",
                layout.dir.display()
            );
            Ok(())
        }
        End::Failed(e) => Err(e),
        End::Server(Ok(())) => Ok(()),
        End::Server(Err(e)) => Err(e.context("the control plane stopped")),
    }
}

/// Everything up to "serving": the node's addresses, bootstrap, the edge serving the demo tenant.
async fn start(
    args: &DevArgs,
    layout: &Layout,
    edge_bin: &Path,
    slot: &mut Option<EdgeProc>,
) -> anyhow::Result<()> {
    let (api_addr, raft_addr, quic, metrics) = control_addrs(layout).await?;
    let token = std::fs::read_to_string(layout.admin_token())?
        .trim()
        .to_string();
    let api = Api::new(&api_addr, token)?;
    api.wait_ready(Duration::from_secs(30)).await?;
    let outcome = bootstrap::bootstrap(&api, args.allow_private_destinations).await?;
    edge::start(edge_bin, layout, args, quic, slot).await?;
    let running = slot.as_mut().expect("started");
    running
        .wait_serving(bootstrap::TENANT, Duration::from_secs(30))
        .await?;
    if let Some(path) = &args.addr_file {
        let body = serde_json::json!({
            "api": api_addr, "raft": raft_addr, "edge": quic.to_string(), "metrics": metrics,
            "proxy": running.proxy.to_string(), "admin": running.admin.to_string(),
            "token_file": layout.admin_token(), "dir": layout.dir,
        });
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, body.to_string())?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    }
    banner(layout, &api_addr, metrics.as_deref(), running, &outcome);
    Ok(())
}

/// Waits for the server's addr file: (API, Raft, QUIC endpoint, metrics if on).
async fn control_addrs(
    layout: &Layout,
) -> anyhow::Result<(String, String, SocketAddr, Option<String>)> {
    for _ in 0..600 {
        if let Some(v) = read_addrs(&layout.control_addrs()) {
            let s = |k: &str| v[k].as_str().map(str::to_string);
            if let (Some(api), Some(raft), Some(edge)) = (s("api"), s("raft"), s("edge")) {
                return Ok((api, raft, edge.parse()?, s("metrics")));
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the control plane did not bind its listeners within 30 s")
}

fn banner(
    layout: &Layout,
    api: &str,
    metrics: Option<&str>,
    edge: &EdgeProc,
    outcome: &bootstrap::Outcome,
) {
    let ctl = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join("breakoutctl")))
        .map(|p| shorten(&p))
        .unwrap_or_else(|| "breakoutctl".into());
    let token = layout.admin_token();
    let proxy = format!("http://{}", edge.proxy);
    let tenant = if outcome.created {
        "created"
    } else {
        "kept as it was"
    };
    println!(
        "Breakout dev deployment is serving (data in {dir}; Ctrl-C stops it).\n\
         \n  proxy:          {proxy}  (tenant {t} from 127.0.0.1, region {REGION})\
         \n  control plane:  http://{api}  (metrics: {metrics})\
         \n  console:        http://{api}/ui  (sign in with the operator token below)\
         \n  operator token: {token}\
         \n  edge admin:     http://{admin}  (/metrics /readyz /explain)\
         \n  logs:           {edge_log}, {access_log}\
         \n\nTenant {t} ({tenant}): Microsoft 365 Optimize/Allow ({n} entries) direct, \
         demo blocklist blocked, anything else direct; plan-1 cloud bypass of {cap} sessions.\
         \nTemplates: the shipped vendor lists are served to the poller from {vendor_dir} \
         (a file there replaces the shipped one; then `template sync`){subscribed}.\
         \n\nTry:\
         \n  curl -x {proxy} https://outlook.office365.com/ -I\
         \n  curl -x {proxy} http://blocked.example.net/\
         \n  {ctl} --server http://{api} --token-file {tok} tenant get {t}\
         \n  {ctl} --server http://{api} --token-file {tok} edge list\
         \n  {ctl} --server http://{api} --token-file {tok} sessions\
         \n  {ctl} --server http://{api} --token-file {tok} explain {t} blocked.example.net\
         \n  {ctl} --server http://{api} --token-file {tok} billing preview {t}\
         \n  {ctl} --server http://{api} --token-file {tok} template list\
         \n  curl http://{pac_host}/pac/{t}.pac  (the PAC file, served by the edge to 127.0.0.1)",
        pac_host = edge.proxy,
        dir = layout.dir.display(),
        metrics = metrics.map_or("off".to_string(), |m| format!("http://{m}/metrics")),
        t = bootstrap::TENANT,
        token = token.display(),
        tok = shorten(&token),
        admin = edge.admin,
        edge_log = layout.edge_log().display(),
        access_log = layout.access_log().display(),
        n = outcome.m365_entries,
        cap = bootstrap::CAPACITY,
        vendor_dir = shorten(&vendor::override_dir(&layout.dir)),
        subscribed = if outcome.subscribed {
            "; demo subscribes to microsoft365"
        } else {
            "; no microsoft365 version yet, so demo is not subscribed"
        },
    );
}

/// `path` relative to the working directory when it lies under it (shorter commands).
fn shorten(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// SIGINT or SIGTERM, registered before anything starts.
struct Signals {
    int: Signal,
    term: Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}
