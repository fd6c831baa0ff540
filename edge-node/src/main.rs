//! `breakout-edge`: run the edge proxy, with its tenants from a config file (standalone) or from
//! the control plane (`--control-plane`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::Context;
use breakout_edge::access_log::AccessLog;
use breakout_edge::config::{EdgeConfig, Overrides};
use breakout_edge::metrics::Metrics;
use breakout_edge::proxy;
use breakout_edge::resolve::Resolver;
use breakout_edge::shared::Shared;
use breakout_edge::snapshot::Snapshot;
use breakout_edge::sync::{self, SyncConfig};
use breakout_edge::{admin, pac_listener, reload};
use breakout_policy::RegionPolicy;
use clap::Parser;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// Breakout edge node: a forward proxy for local breakout of SaaS traffic.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Config file (TOML); see docs/edge-config.md. With --control-plane it is optional and
    /// gives settings only (its tenants are ignored).
    #[arg(
        long,
        env = "BREAKOUT_EDGE_CONFIG",
        required_unless_present = "control_plane"
    )]
    config: Option<PathBuf>,
    /// Take the tenants from the control plane: its edge endpoints, HOST:PORT[,HOST:PORT…], tried
    /// in order (the next one on failure).
    #[arg(long, value_delimiter = ',', value_name = "HOST:PORT", requires_all = ["region", "ca_file"])]
    control_plane: Vec<String>,
    /// The region this edge serves (with --control-plane).
    #[arg(long, value_name = "R")]
    region: Option<String>,
    /// This edge's id: in the control plane's edge list and in `Via` (overrides `node_id`).
    #[arg(long, value_name = "ID")]
    node_id: Option<String>,
    /// CA certificate(s), PEM, that the control plane's certificate must chain to.
    #[arg(long, value_name = "PATH")]
    ca_file: Option<PathBuf>,
    /// File holding the edge token; else `BREAKOUT_EDGE_TOKEN`.
    #[arg(long, value_name = "PATH")]
    edge_token_file: Option<PathBuf>,
    /// Proxy listen address (overrides `listen` in the file).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Admin listen address for /metrics, /healthz, /readyz (overrides `admin_listen`).
    #[arg(long)]
    admin_listen: Option<SocketAddr>,
    /// A listener that serves only PAC files, `GET /pac/{tenant}.pac` (overrides `pac_listen`).
    #[arg(long)]
    pac_listen: Option<SocketAddr>,
    /// Let `direct` traffic reach loopback, private, link-local and CGNAT addresses (labs and
    /// tests only; sets `allow_private_destinations`).
    #[arg(long)]
    allow_private_destinations: bool,
    /// Once the listeners are bound, write their addresses here as JSON
    /// (`{"proxy": "...", "admin": "...", "pac": "..."}`, `pac` only with a PAC listener);
    /// useful with port 0.
    #[arg(long)]
    addr_file: Option<PathBuf>,
    /// Threads serving connections (default: one per CPU core). Benchmarks give every proxy
    /// the same number (squid's `workers`).
    #[arg(long, env = "BREAKOUT_EDGE_WORKERS", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    workers: Option<u16>,
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
    // One worker: a current-thread runtime (no work stealing, no wake-ups across threads).
    let mut runtime = match args.workers {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    if let Some(n) = args.workers.filter(|n| *n > 1) {
        runtime.worker_threads(usize::from(n));
    }
    runtime
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(run(args))
}

/// Settings and the policy to start with; with a control plane, the empty policy of its region
/// (not ready until the first snapshot) and where to connect.
fn load(args: &Args) -> anyhow::Result<(EdgeConfig, Option<SyncConfig>)> {
    let Some(region) = args.control_plane.first().and(args.region.clone()) else {
        let path = args.config.as_deref().context("--config is required")?;
        let mut cfg = EdgeConfig::load(path)?;
        overrides(args).apply(&mut cfg.settings);
        return Ok((cfg, None));
    };
    let (mut settings, ignored) = match &args.config {
        Some(path) => EdgeConfig::load_settings(path, &region)?,
        None => EdgeConfig::parse_settings("", &region)?,
    };
    if ignored > 0 {
        tracing::warn!(
            ignored,
            "the config file's tenants are ignored: they come from the control plane"
        );
    }
    overrides(args).apply(&mut settings);
    let token = sync::read_token(args.edge_token_file.as_deref()).map_err(anyhow::Error::msg)?;
    let sync = SyncConfig {
        control_plane: args.control_plane.clone(),
        region: region.clone(),
        node_id: settings.node_id.clone(),
        ca_file: args.ca_file.clone().context("--ca-file is required")?,
        token,
    };
    let policy = RegionPolicy {
        region,
        ..RegionPolicy::default()
    };
    Ok((EdgeConfig { settings, policy }, Some(sync)))
}

/// The settings the command line gives (they win over the file, also on reload).
fn overrides(args: &Args) -> Overrides {
    Overrides {
        node_id: args.node_id.clone(),
        listen: args.listen,
        admin_listen: args.admin_listen,
        pac_listen: args.pac_listen,
        allow_private_destinations: args.allow_private_destinations,
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    // One crypto provider for the whole process (quinn, rustls): ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (mut cfg, sync_cfg) = load(&args)?;
    let sync_client = sync_cfg.as_ref().map(sync::prepare).transpose()?;
    let proxy_listener = TcpListener::bind(cfg.settings.listen)
        .await
        .with_context(|| format!("binding proxy listener {}", cfg.settings.listen))?;
    let admin_listener = TcpListener::bind(cfg.settings.admin_listen)
        .await
        .with_context(|| format!("binding admin listener {}", cfg.settings.admin_listen))?;
    let pac_listener = match cfg.settings.pac_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding PAC listener {addr}"))?,
        ),
        None => None,
    };
    let proxy_addr = proxy_listener.local_addr()?;
    let admin_addr = admin_listener.local_addr()?;
    let pac_addr = pac_listener
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()?;
    cfg.settings.listen = proxy_addr;
    cfg.settings.admin_listen = admin_addr;
    cfg.settings.pac_listen = pac_addr;

    let metrics = Metrics::new().context("registering metrics")?;
    let resolver = Resolver::new(
        cfg.settings.dns_servers.as_deref(),
        metrics.dns_duration.clone(),
    );
    let access_log =
        AccessLog::start(&cfg.settings.access_log).context("opening the access log")?;
    let drain_grace = cfg.settings.drain_grace;
    // Generation 0 is the empty placeholder a control-plane edge starts with.
    let generation = if sync_cfg.is_some() { 0 } else { 1 };
    let snapshot = Snapshot::build(
        &cfg.policy,
        Arc::new(cfg.settings),
        None,
        &metrics,
        generation,
    )?;
    metrics.config_generation.set(generation as i64);
    metrics.config_version.set(snapshot.version as i64);
    let shared = Arc::new(Shared::new(
        snapshot,
        metrics,
        resolver,
        access_log,
        [proxy_addr, admin_addr]
            .into_iter()
            .chain(pac_addr)
            .collect(),
    ));

    if let (Some(sync_cfg), Some(client)) = (sync_cfg.clone(), sync_client) {
        shared.awaiting_config.store(true, Ordering::Release);
        shared.quotas.enforce();
        tokio::spawn(sync::expire_grants(Arc::clone(&shared)));
        tokio::spawn(sync::run(sync_cfg, client, Arc::clone(&shared)));
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    // The admin listener outlives the drain: /readyz must say 503 while sessions finish.
    tokio::spawn(admin::serve(admin_listener, Arc::clone(&shared)));
    if let Some(listener) = pac_listener {
        let pac = pac_listener::serve(listener, Arc::clone(&shared), stop_rx.clone());
        tokio::spawn(pac);
    }
    let proxy_task = tokio::spawn(proxy::serve(proxy_listener, Arc::clone(&shared), stop_rx));
    if let Some(path) = &args.addr_file {
        write_addr_file(path, proxy_addr, admin_addr, pac_addr)?;
    }
    tracing::info!(proxy = %proxy_addr, admin = %admin_addr, pac = ?pac_addr, "serving");

    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            _ = hup.recv() => match (&args.config, &sync_cfg) {
                (Some(path), None) => { let _ = reload::reload(path, &overrides(&args), &shared); }
                _ => tracing::warn!("SIGHUP ignored: the configuration comes from the control plane"),
            },
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

fn write_addr_file(
    path: &Path,
    proxy: SocketAddr,
    admin: SocketAddr,
    pac: Option<SocketAddr>,
) -> anyhow::Result<()> {
    let mut body = serde_json::json!({ "proxy": proxy.to_string(), "admin": admin.to_string() });
    if let Some(pac) = pac {
        body["pac"] = serde_json::json!(pac.to_string());
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, body.to_string()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
