//! `breakout-edge`: run the edge proxy from a config file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::Context;
use breakout_edge::access_log::AccessLog;
use breakout_edge::config::EdgeConfig;
use breakout_edge::metrics::Metrics;
use breakout_edge::proxy::{self, Shared};
use breakout_edge::resolve::Resolver;
use breakout_edge::snapshot::Snapshot;
use breakout_edge::{admin, reload};
use clap::Parser;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// Breakout edge node: a forward proxy for local breakout of SaaS traffic.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Config file (TOML); see docs/edge-config.md.
    #[arg(long, env = "BREAKOUT_EDGE_CONFIG")]
    config: PathBuf,
    /// Proxy listen address (overrides `listen` in the file).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Admin listen address for /metrics, /healthz, /readyz (overrides `admin_listen`).
    #[arg(long)]
    admin_listen: Option<SocketAddr>,
    /// Once both listeners are bound, write their addresses here as JSON
    /// (`{"proxy": "...", "admin": "..."}`); useful with port 0.
    #[arg(long)]
    addr_file: Option<PathBuf>,
    /// Log filter (tracing EnvFilter syntax); logs go to stderr.
    #[arg(long, env = "BREAKOUT_LOG", default_value = "warn")]
    log: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&args.log).context("--log")?)
        .with_writer(std::io::stderr)
        .json()
        .init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let mut cfg = EdgeConfig::load(&args.config)?;
    if let Some(l) = args.listen {
        cfg.settings.listen = l;
    }
    if let Some(l) = args.admin_listen {
        cfg.settings.admin_listen = l;
    }
    let proxy_listener = TcpListener::bind(cfg.settings.listen)
        .await
        .with_context(|| format!("binding proxy listener {}", cfg.settings.listen))?;
    let admin_listener = TcpListener::bind(cfg.settings.admin_listen)
        .await
        .with_context(|| format!("binding admin listener {}", cfg.settings.admin_listen))?;
    let proxy_addr = proxy_listener.local_addr()?;
    let admin_addr = admin_listener.local_addr()?;
    cfg.settings.listen = proxy_addr;
    cfg.settings.admin_listen = admin_addr;

    let metrics = Metrics::new().context("registering metrics")?;
    let resolver = Resolver::new(
        cfg.settings.dns_servers.as_deref(),
        metrics.dns_duration.clone(),
    );
    let access_log =
        AccessLog::start(&cfg.settings.access_log).context("opening the access log")?;
    let drain_grace = cfg.settings.drain_grace;
    let snapshot = Snapshot::build(&cfg.policy, Arc::new(cfg.settings), None, &metrics, 1)?;
    metrics.config_generation.set(1);
    metrics.config_version.set(snapshot.version as i64);
    let shared = Arc::new(Shared::new(
        snapshot,
        metrics,
        resolver,
        access_log,
        vec![proxy_addr, admin_addr],
    ));

    let (stop_tx, stop_rx) = watch::channel(false);
    // The admin listener outlives the drain: /readyz must say 503 while sessions finish.
    tokio::spawn(admin::serve(admin_listener, Arc::clone(&shared)));
    let proxy_task = tokio::spawn(proxy::serve(proxy_listener, Arc::clone(&shared), stop_rx));
    if let Some(path) = &args.addr_file {
        write_addr_file(path, proxy_addr, admin_addr)?;
    }
    tracing::info!(proxy = %proxy_addr, admin = %admin_addr, "serving");

    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            _ = hup.recv() => { let _ = reload::reload(&args.config, &shared); }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }

    tracing::info!(open = shared.conns.open(), "draining");
    shared.draining.store(true, Ordering::Release);
    let _ = stop_tx.send(true);
    let _ = proxy_task.await;
    let drained = shared.conns.drained(drain_grace).await;
    if !drained {
        tracing::warn!(
            open = shared.conns.open(),
            "drain grace period over; closing open sessions"
        );
    }
    Ok(())
}

fn write_addr_file(path: &Path, proxy: SocketAddr, admin: SocketAddr) -> anyhow::Result<()> {
    let body = serde_json::json!({ "proxy": proxy.to_string(), "admin": admin.to_string() });
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, body.to_string()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
