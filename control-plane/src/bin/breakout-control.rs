//! `breakout-control`: one control-plane node (Raft store + HTTP API).

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use breakout_control::api::{self, ApiContext};
use breakout_control::store::raft::{self, RaftConfig, RaftStore};
use breakout_control::store::NodeAddr;
use clap::Parser;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// Breakout control plane node: the replicated store of regions, tenants and their policy.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// This node's id; unique and stable within the cluster.
    #[arg(long, default_value_t = 1)]
    node_id: u64,
    /// Raft log, snapshots and the generated admin token (default: ./data/control-<id>).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// HTTP API listen address.
    #[arg(long, default_value = "127.0.0.1:7070")]
    api_listen: String,
    /// Raft RPC listen address.
    #[arg(long, default_value = "127.0.0.1:7071")]
    raft_listen: String,
    /// API address other nodes and clients use (default: the bound API address).
    #[arg(long)]
    advertise_api: Option<String>,
    /// Raft address other nodes use (default: the bound Raft address).
    #[arg(long)]
    advertise_raft: Option<String>,
    /// File holding the operator token. Else `BREAKOUT_ADMIN_TOKEN`, else a token generated on
    /// first start into <data-dir>/admin.token (mode 0600).
    #[arg(long)]
    admin_token_file: Option<PathBuf>,
    /// Do not initialise a new single-node cluster: wait to be added (`POST /v1/cluster/nodes`
    /// on the leader).
    #[arg(long)]
    join: bool,
    /// Once both listeners are bound, write `{"api": "...", "raft": "..."}` here (atomically);
    /// useful with port 0.
    #[arg(long)]
    addr_file: Option<PathBuf>,
    /// Log filter (tracing EnvFilter syntax); JSON logs go to stderr.
    #[arg(long, env = "BREAKOUT_LOG", default_value = "warn")]
    log: String,
}

/// Environment variable holding the operator token (when no `--admin-token-file`).
const ADMIN_TOKEN_ENV: &str = "BREAKOUT_ADMIN_TOKEN";
const ADMIN_TOKEN_FILE: &str = "admin.token";

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
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| format!("./data/control-{}", args.node_id).into());
    create_private_dir(&data_dir)?;
    let admin_token = admin_token(&args, &data_dir)?;

    let api_listener = TcpListener::bind(&args.api_listen)
        .await
        .with_context(|| format!("binding the API listener {}", args.api_listen))?;
    let raft_listener = TcpListener::bind(&args.raft_listen)
        .await
        .with_context(|| format!("binding the Raft listener {}", args.raft_listen))?;
    let api_bound = api_listener.local_addr()?.to_string();
    let raft_bound = raft_listener.local_addr()?.to_string();
    let addr = NodeAddr {
        api: args
            .advertise_api
            .clone()
            .unwrap_or_else(|| api_bound.clone()),
        raft: args
            .advertise_raft
            .clone()
            .unwrap_or_else(|| raft_bound.clone()),
    };

    let store = RaftStore::open(RaftConfig {
        node_id: args.node_id,
        data_dir: data_dir.clone(),
        addr: addr.clone(),
        cluster_token: admin_token.clone(),
        join: args.join,
    })
    .await
    .context("opening the Raft store")?;

    let registry = prometheus::Registry::new();
    registry
        .register(Box::new(store.apply_histogram()))
        .context("registering the apply histogram")?;
    let commit_source = Arc::clone(&store);
    let ctx = ApiContext::new(
        store.clone(),
        args.node_id,
        addr.clone(),
        &admin_token,
        registry,
    )?
    .with_commit_index(move || commit_source.metrics().committed_index)?;
    drop(admin_token);

    let (stop_tx, stop_rx) = watch::channel(false);
    let raft_task = tokio::spawn(serve(
        raft_listener,
        raft::raft_router(Arc::clone(&store)),
        stop_rx.clone(),
    ));
    let api_task = tokio::spawn(serve(api_listener, api::router(Arc::new(ctx)), stop_rx));
    if let Some(path) = &args.addr_file {
        write_addr_file(path, &api_bound, &raft_bound)?;
    }
    tracing::info!(node_id = args.node_id, api = %addr.api, raft = %addr.raft, "serving");

    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    for (name, task) in [("api", api_task), ("raft", raft_task)] {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(listener = name, error = %e, "server error"),
            Err(e) => tracing::warn!(listener = name, error = %e, "server task failed"),
        }
    }
    tracing::info!("listeners closed; stopping raft");
    store.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Serves `router` until `stop` turns true, then lets in-flight requests finish.
async fn serve(
    listener: TcpListener,
    router: axum::Router,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
}

/// The operator token: from `--admin-token-file`, else `BREAKOUT_ADMIN_TOKEN`, else the one
/// generated on first start into `<data_dir>/admin.token`.
fn admin_token(args: &Args, data_dir: &Path) -> anyhow::Result<String> {
    if let Some(path) = &args.admin_token_file {
        let token = std::fs::read_to_string(path)
            .with_context(|| format!("reading the admin token file {}", path.display()))?;
        return non_empty(token, &path.display().to_string());
    }
    if let Ok(token) = std::env::var(ADMIN_TOKEN_ENV) {
        return non_empty(token, ADMIN_TOKEN_ENV);
    }
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(token) => return non_empty(token, &path.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let token = api::auth::hex(&rand::random::<[u8; 32]>());
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(token.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "breakout-control: generated an admin token in {}",
        path.display()
    );
    Ok(token)
}

fn non_empty(token: String, source: &str) -> anyhow::Result<String> {
    let token = token.trim();
    if token.is_empty() {
        bail!("the admin token from {source} is empty");
    }
    Ok(token.to_string())
}

/// Creates `dir` (and parents) readable by the owner only; an existing directory is left as is.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating the data dir {}", dir.display()))
}

/// Writes the bound addresses so that tests (and scripts) using port 0 can find the node; the
/// rename makes the file appear complete or not at all.
fn write_addr_file(path: &Path, api: &str, raft: &str) -> anyhow::Result<()> {
    let body = serde_json::json!({ "api": api, "raft": raft });
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, body.to_string()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
