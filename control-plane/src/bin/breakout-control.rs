//! `breakout-control`: one control-plane node (Raft store + HTTP API + the edges' QUIC endpoint),
//! and `breakout-control dev-ca` to make development certificates for that endpoint.

use std::fs::DirBuilder;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use breakout_control::api::ApiContext;
use breakout_control::clock::{self, SharedClock};
use breakout_control::distribute::devca::{self, DevCa};
use breakout_control::distribute::tls::{self, TlsFiles};
use breakout_control::distribute::{self, EdgeServer};
use breakout_control::formation::{Formation, FormationArgs};
use breakout_control::metrics::{cert, leader};
use breakout_control::node_tokens;
use breakout_control::store::choice::{Opened, StoreArgs, StoreKind};
use breakout_control::store::etcd::EtcdStore;
use breakout_control::store::raft::{self, RaftConfig, RaftStore, RaftTuning};
use breakout_control::store::NodeAddr;
use breakout_control::templates;
use breakout_control::webhooks;
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// jemalloc, not glibc's malloc: with glibc the node serving edges kept growing with every write
/// at fleet scale (freed region builds fragmented its arenas and were never returned).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    #[command(flatten)]
    formation: FormationArgs,
    #[command(flatten)]
    store: StoreArgs,
    /// Prometheus metrics listener (`GET /metrics`, no credentials: keep it on a network only
    /// Prometheus reaches; `off`: none). The API listener serves no metrics.
    #[arg(long, default_value = "127.0.0.1:9091", value_name = "ADDR")]
    metrics_listen: String,
    /// Once the listeners are bound, write `{"api": "...", "raft": "...", "edge": "...",
    /// "metrics": "..."}` here (atomically; `edge` and `metrics` only when on); useful with port 0.
    #[arg(long)]
    addr_file: Option<PathBuf>,
    /// QUIC address edges connect to (`off`: serve no edges).
    #[arg(long, default_value = "127.0.0.1:7443", value_name = "ADDR")]
    edge_listen: String,
    /// TLS certificate chain (PEM) of the edge endpoint. Without it and --edge-key, a
    /// development CA and certificate are generated on first start into <data-dir>/edge-tls/.
    #[arg(long, requires = "edge_key", value_name = "PATH")]
    edge_cert: Option<PathBuf>,
    /// TLS private key (PEM) of the edge endpoint.
    #[arg(long, requires = "edge_cert", value_name = "PATH")]
    edge_key: Option<PathBuf>,
    /// File holding the token edges present. Else `BREAKOUT_EDGE_TOKEN`, else the admin token.
    #[arg(long, value_name = "PATH")]
    edge_token_file: Option<PathBuf>,
    /// A region's own edge token, `REGION=PATH` (repeatable): edges of that region must present
    /// it, and the shared token no longer admits them.
    #[arg(long = "edge-region-token-file", value_name = "REGION=PATH")]
    edge_region_token_files: Vec<String>,
    #[command(flatten)]
    templates: breakout_control::templates::args::TemplateArgs,
    #[command(flatten)]
    notify: breakout_control::notify::NotifyArgs,
    #[command(flatten)]
    limits: breakout_control::api::ratelimit::LimitArgs,
    #[command(flatten)]
    webhooks: breakout_control::webhooks::args::WebhookArgs,
    /// Log filter (tracing EnvFilter syntax); JSON logs go to stderr.
    #[arg(long, env = "BREAKOUT_LOG", default_value = "warn")]
    log: String,
    /// Fault tests only: this node's wall clock is read this many milliseconds ahead (negative:
    /// behind), as if it had been set wrong.
    #[arg(long, hide = true, default_value_t = 0, allow_negative_numbers = true)]
    wall_clock_offset_ms: i64,
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(Subcommand, Debug)]
enum Sub {
    /// Write a development CA and a server certificate it signs for the edge endpoint:
    /// DIR/ca.pem (give it to edges as --ca-file), DIR/server.pem and DIR/server.key
    /// (--edge-cert, --edge-key). For labs and tests, not production.
    DevCa {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// A name (DNS name or IP address) the server certificate is valid for; repeatable.
        /// Default: localhost, 127.0.0.1 and ::1.
        #[arg(long = "name", value_name = "NAME")]
        names: Vec<String>,
    },
    /// A complete deployment on this machine: a single-node control plane (data in --dir), one
    /// edge for region `local` (the `breakout-edge` binary next to this one) and a demo tenant
    /// in service. Prints the proxy address, the token path and commands to try.
    Dev(Box<breakout_control::dev::DevArgs>),
}

/// Where development certificates for the edge endpoint go, under the data dir.
const DEV_TLS_DIR: &str = "edge-tls";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // One crypto provider for the whole process (quinn, rustls): ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    if let Some(Sub::DevCa { out, names }) = &args.command {
        return dev_ca(out, names);
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&args.log).context("--log")?)
        .with_writer(std::io::stderr)
        .json()
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    if let Some(Sub::Dev(dev)) = args.command {
        // The dev deployment runs this very server, from the command line it builds.
        return runtime.block_on(breakout_control::dev::run(*dev, |argv| async move {
            run(Args::try_parse_from(argv)?).await
        }));
    }
    runtime.block_on(run(args))
}

async fn run(mut args: Args) -> anyhow::Result<()> {
    args.node_id = args
        .formation
        .node_id(args.node_id)
        .map_err(anyhow::Error::msg)
        .context("--node-id-from-hostname")?;
    let raft_tuning = RaftTuning::from_env();
    if matches!(args.store.kind, StoreKind::Raft) {
        // Before anything is written or bound: a node that cannot run Raft with these values
        // leaves no data dir and holds no port.
        raft_tuning.check()?;
    }
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| format!("./data/control-{}", args.node_id).into());
    create_private_dir(&data_dir)?;
    let admin_token = node_tokens::admin_token(args.admin_token_file.as_deref(), &data_dir)?;
    let edge_token = node_tokens::edge_token(args.edge_token_file.as_deref(), &admin_token)?;

    let api_listener = TcpListener::bind(&args.api_listen)
        .await
        .with_context(|| format!("binding the API listener {}", args.api_listen))?;
    // On etcd there is no Raft traffic, so no Raft listener.
    let raft_listener = match args.store.kind {
        StoreKind::Raft => Some(
            TcpListener::bind(&args.raft_listen)
                .await
                .with_context(|| format!("binding the Raft listener {}", args.raft_listen))?,
        ),
        StoreKind::Etcd => None,
    };
    let metrics_listener = match args.metrics_listen.as_str() {
        "off" => None,
        addr => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding the metrics listener {addr}"))?,
        ),
    };
    let (edge_endpoint, edge_cert) = match edge_listen(&args.edge_listen)? {
        Some(addr) => {
            let (endpoint, cert) = bind_edges(&args, &data_dir, addr)?;
            (Some(endpoint), Some(cert))
        }
        None => (None, None),
    };
    let edge_bound = match &edge_endpoint {
        Some(e) => Some(e.local_addr().context("the edge endpoint's address")?),
        None => None,
    };
    let api_bound = api_listener.local_addr()?.to_string();
    let raft_bound = match &raft_listener {
        Some(l) => l.local_addr()?.to_string(),
        None => String::new(),
    };
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

    let own_clock: SharedClock = match args.wall_clock_offset_ms {
        0 => clock::system(),
        offset_ms => {
            tracing::warn!(offset_ms, "this node's wall clock is offset (a fault test)");
            Arc::new(clock::OffsetClock {
                inner: clock::system(),
                offset_ms,
            })
        }
    };
    let opened = match args.store.kind {
        StoreKind::Raft => Opened::Raft(
            RaftStore::open_with(
                RaftConfig {
                    node_id: args.node_id,
                    data_dir: data_dir.clone(),
                    addr: addr.clone(),
                    cluster_token: admin_token.clone(),
                    join: args.join || args.formation.enabled(),
                    hold_rpcs_while_pristine: args.formation.enabled(),
                    clock: Arc::clone(&own_clock),
                },
                raft_tuning,
            )
            .await
            .context("opening the Raft store")?,
        ),
        StoreKind::Etcd => {
            if args.formation.enabled() || args.join {
                bail!(
                    "--bootstrap-peers and --join form a Raft cluster; on --store etcd every \
                       instance just connects to etcd"
                );
            }
            let cfg = args.store.etcd_config(args.node_id, &addr.api)?;
            Opened::Etcd(
                EtcdStore::open(cfg)
                    .await
                    .context("opening the etcd store")?,
            )
        }
    };
    let store = opened.store();

    // Raft members stamp requests with the cluster's time, so one wrong clock is outvoted.
    let clock = match &opened {
        Opened::Raft(raft) => raft.cluster_clock(),
        Opened::Etcd(_) => own_clock,
    };
    let registry = prometheus::Registry::new();
    let template_metrics =
        templates::poll::PollMetrics::new(&registry).context("registering the template metrics")?;
    opened.registry_collectors(&registry)?;
    let leader_changes = leader::counter(&registry).context("registering leader changes")?;
    let cert_expiry = cert::gauge(&registry).context("registering certificate expiry")?;
    let session_starts = distribute::starts::SessionStarts::register(&registry)
        .context("registering edge session starts")?;
    let build_times = distribute::build_times::BuildTimes::register(&registry)
        .context("registering region build times")?;
    if let Some(path) = &edge_cert {
        match cert::not_after(path) {
            Ok(at) => cert_expiry.with_label_values(&["edge"]).set(at as f64),
            Err(e) => tracing::warn!(error = %e, "reading the edge certificate's expiry"),
        }
    }
    let notifier = args
        .notify
        .notifier(store.clone(), args.node_id, &registry, Arc::clone(&clock))
        .map_err(anyhow::Error::msg)
        .context("change notifications")?;
    let commit_source = opened.clone();
    let ctx = ApiContext::new(
        store.clone(),
        args.node_id,
        addr.clone(),
        &admin_token,
        registry,
    )?
    .with_commit_index(move || commit_source.committed_index())?
    .with_clock(Arc::clone(&clock))
    .with_limits(args.limits.config())
    .with_webhook_guard(args.webhooks.guard());
    // Session leases: relay this node's edges' reports to the leader, grants back.
    let pump = distribute::pump::Pump {
        hub: Arc::clone(&ctx.leases),
        store: store.clone(),
        registry: Arc::clone(&ctx.edges),
        node_id: args.node_id,
        client: ctx.client.clone(),
        token: admin_token.clone(),
        clock: Arc::clone(&clock),
    };
    let formation = match &opened {
        Opened::Raft(raft) if args.formation.enabled() => Some(raft),
        _ => None,
    }
    .map(|raft| Formation {
        store: Arc::clone(raft),
        api_addr: addr.api.clone(),
        peers: args.formation.bootstrap_peers.clone(),
        token: admin_token.clone(),
        client: ctx.client.clone(),
    });
    drop(admin_token);
    let region_tokens = node_tokens::region_tokens(&args.edge_region_token_files)?;
    let edge_server = Arc::new(
        EdgeServer::new(store.clone(), Arc::clone(&ctx.edges), &edge_token)
            .with_region_tokens(&region_tokens)
            .with_clock(Arc::clone(&clock))
            .with_session_starts(session_starts)
            .with_build_times(build_times),
    );
    drop(edge_token);
    drop(region_tokens);

    let (stop_tx, stop_rx) = watch::channel(false);
    let raft_task = match (&opened, raft_listener) {
        (Opened::Raft(raft), Some(listener)) => Some(tokio::spawn(serve(
            listener,
            raft::raft_router(Arc::clone(raft)),
            stop_rx.clone(),
        ))),
        _ => None,
    };
    let edge_task = edge_endpoint
        .map(|endpoint| tokio::spawn(distribute::serve(endpoint, edge_server, stop_rx.clone())));
    let pump_task = tokio::spawn(pump.run(stop_rx.clone()));
    let poll_task = match args.templates.template_poll {
        true => {
            let poller = args.templates.poller(
                &data_dir,
                store.clone(),
                args.node_id,
                template_metrics,
                Arc::clone(&clock),
            )?;
            Some(tokio::spawn(poller.run(stop_rx.clone())))
        }
        false => None,
    };
    // Webhooks: sent by whichever node leads (docs/integration.md).
    let dispatcher = webhooks::Dispatcher::new(
        store.clone(),
        args.node_id,
        Arc::clone(&ctx.webhooks),
        clock,
    )
    .context("building the webhook client")?;
    tokio::spawn(dispatcher.run(stop_rx.clone()));
    let notify_task = notifier.map(|n| tokio::spawn(n.run(stop_rx.clone())));
    if let Opened::Raft(raft) = &opened {
        tokio::spawn(leader::watch(raft.raft_metrics(), leader_changes));
    }
    let ctx = Arc::new(ctx);
    let metrics_bound = match metrics_listener {
        Some(l) => {
            let bound = l.local_addr()?.to_string();
            let router = breakout_control::api::metrics::listener_router(Arc::clone(&ctx));
            tokio::spawn(serve(l, router, stop_rx.clone()));
            Some(bound)
        }
        None => None,
    };
    let (fatal_tx, mut fatal_rx) = tokio::sync::mpsc::channel::<String>(1);
    if let Some(formation) = formation {
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            if let Err(why) = formation.run(stop).await {
                let _ = fatal_tx.send(why).await;
            }
        });
    }
    let api_task = tokio::spawn(serve(
        api_listener,
        breakout_control::console::app(ctx),
        stop_rx,
    ));
    if let Some(path) = &args.addr_file {
        let bound = Bound {
            api: &api_bound,
            raft: &raft_bound,
            edge: edge_bound,
            metrics: metrics_bound.as_deref(),
        };
        write_addr_file(path, &bound)?;
    }
    tracing::info!(node_id = args.node_id, api = %addr.api, raft = %addr.raft,
        edge = ?edge_bound, "serving");

    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut failure = None;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        Some(why) = fatal_rx.recv() => {
            tracing::error!(reason = %why, "cluster formation: this node must not take part");
            failure = Some(why);
        }
    }
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    for (name, task) in [("api", Some(api_task)), ("raft", raft_task)] {
        let Some(task) = task else { continue };
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(listener = name, error = %e, "server error"),
            Err(e) => tracing::warn!(listener = name, error = %e, "server task failed"),
        }
    }
    if let Some(task) = edge_task {
        let _ = task.await;
    }
    let _ = pump_task.await;
    if let Some(task) = poll_task {
        let _ = task.await;
    }
    if let Some(task) = notify_task {
        let _ = task.await;
    }
    tracing::info!("listeners closed; stopping the store");
    opened.shutdown().await;
    tracing::info!("stopped");
    match failure {
        Some(why) => bail!("cluster formation: {why}"),
        None => Ok(()),
    }
}

/// Serves `router` until `stop` turns true, then lets in-flight requests finish.
async fn serve(
    listener: TcpListener,
    router: axum::Router,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    // With the peer's address: the API limits requests per client address.
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
}

/// `--edge-listen`: `off`, or an address (a name is resolved once, here).
fn edge_listen(value: &str) -> anyhow::Result<Option<SocketAddr>> {
    if value == "off" {
        return Ok(None);
    }
    let addr = value
        .to_socket_addrs()
        .with_context(|| format!("--edge-listen {value:?}"))?
        .next()
        .with_context(|| format!("--edge-listen {value:?} resolves to nothing"))?;
    Ok(Some(addr))
}

/// The QUIC endpoint for edges, with the given certificate or the development one, and the path
/// of the certificate it serves.
fn bind_edges(
    args: &Args,
    data_dir: &Path,
    addr: SocketAddr,
) -> anyhow::Result<(quinn::Endpoint, PathBuf)> {
    let files = match (&args.edge_cert, &args.edge_key) {
        (Some(cert), Some(key)) => TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        },
        _ => {
            let dir = data_dir.join(DEV_TLS_DIR);
            let mut names = devca::default_names();
            if !addr.ip().is_unspecified() && !addr.ip().is_loopback() {
                names.push(addr.ip().to_string());
            }
            let (files, generated) = tls::dev_files(&dir, &names)?;
            if generated {
                eprintln!(
                    "breakout-control: generated a development certificate for edges in {} \
                     (edges: --ca-file {}); use --edge-cert/--edge-key in production",
                    dir.display(),
                    dir.join(devca::CA_CERT).display()
                );
            }
            files
        }
    };
    let config = tls::server_config(&files)?;
    let endpoint = breakout_control::distribute::udp::bind(addr, config)
        .with_context(|| format!("binding the edge endpoint {addr} (UDP)"))?;
    Ok((endpoint, files.cert))
}

/// `breakout-control dev-ca --out DIR`.
fn dev_ca(out: &Path, names: &[String]) -> anyhow::Result<()> {
    let names = if names.is_empty() {
        devca::default_names()
    } else {
        names.to_vec()
    };
    let ca = DevCa::generate(&names).context("generating the certificates")?;
    ca.write(out)
        .map_err(|(path, e)| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    println!(
        "wrote {0}/{1} (edges: --ca-file), {0}/{2} and {0}/{3} (--edge-cert, --edge-key) for {4}",
        out.display(),
        devca::CA_CERT,
        devca::SERVER_CERT,
        devca::SERVER_KEY,
        names.join(", ")
    );
    Ok(())
}

/// Creates `dir` (and parents) readable by the owner only; an existing directory is left as is.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating the data dir {}", dir.display()))
}

/// The bound listeners, as `--addr-file` reports them.
struct Bound<'a> {
    api: &'a str,
    raft: &'a str,
    edge: Option<SocketAddr>,
    metrics: Option<&'a str>,
}

/// Writes the bound addresses so that tests (and scripts) using port 0 can find the node; the
/// rename makes the file appear complete or not at all.
fn write_addr_file(path: &Path, bound: &Bound) -> anyhow::Result<()> {
    let mut body = serde_json::json!({ "api": bound.api, "raft": bound.raft });
    if let Some(edge) = bound.edge {
        body["edge"] = edge.to_string().into();
    }
    if let Some(metrics) = bound.metrics {
        body["metrics"] = metrics.into();
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, body.to_string()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
