//! The edge endpoint over real QUIC, in process: a [`MemoryStore`] behind the server, a bare
//! QUIC client speaking the wire protocol. Pins the rules an edge relies on: the token is
//! checked; nothing older than the hello is ever sent; a store change that leaves the region's
//! content alone sends nothing; only tenants in service are served (the others are named for
//! refusal); acks and reports reach `GET /v1/edges`' registry; an edge announcing the content
//! the region has gets an empty update instead of the snapshot, any other the snapshot.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use breakout_control::distribute::registry::EdgeRegistry;
use breakout_control::distribute::starts::SessionStarts;
use breakout_control::distribute::tls;
use breakout_control::distribute::{self, devca, EdgeServer};
use breakout_control::state::{serve_commands, Command, Outcome, Request};
use breakout_control::state::{CreateRegion, CreateTenant};
use breakout_control::store::memory::MemoryStore;
use breakout_control::store::{NodeAddr, Store};
use breakout_policy::wire::content::{content_digest, to_hex};
use breakout_policy::wire::{self, Frame, FrameDecoder, Grants, Hello, Report, TenantUsage};
use breakout_policy::{RegionPolicy, SourceCidr, Tenant};
use quinn::crypto::rustls::QuicClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio::sync::watch;

const TOKEN: &str = "edge-secret";
pub(crate) const DEADLINE: Duration = Duration::from_secs(10);

pub(crate) struct Fixture {
    store: Arc<MemoryStore>,
    pub(crate) registry: Arc<EdgeRegistry>,
    starts: SessionStarts,
    addr: SocketAddr,
    ca: std::path::PathBuf,
    dir: std::path::PathBuf,
    _stop: watch::Sender<bool>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) async fn start() -> Fixture {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = std::env::temp_dir().join(format!(
        "breakout-distribute-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    let (files, _) = tls::dev_files(&dir, &devca::default_names()).expect("dev certificates");
    let config = tls::server_config(&files).expect("server config");
    let endpoint = quinn::Endpoint::server(config, "127.0.0.1:0".parse().expect("addr"))
        .expect("bind the endpoint");
    let addr = endpoint.local_addr().expect("local addr");
    let store = MemoryStore::new(1, NodeAddr::default());
    let registry = EdgeRegistry::new(1);
    let starts = SessionStarts::register(&prometheus::Registry::new()).expect("metrics");
    let server = Arc::new(
        EdgeServer::new(store.clone(), Arc::clone(&registry), TOKEN)
            .with_session_starts(starts.clone()),
    );
    let (stop, stop_rx) = watch::channel(false);
    tokio::spawn(distribute::serve(endpoint, server, stop_rx));
    Fixture {
        store,
        registry,
        starts,
        addr,
        ca: dir.join(devca::CA_CERT),
        dir,
        _stop: stop,
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// A connected edge: the stream halves and a decoder.
pub(crate) struct Client {
    _endpoint: quinn::Endpoint,
    send: quinn::SendStream,
    recv: quinn::RecvStream,
    decoder: FrameDecoder,
    /// The last policy received, the base of updates.
    policy: Option<RegionPolicy>,
}

impl Client {
    async fn connect(f: &Fixture, region: &str, last_version: u64, token: &str) -> Client {
        let id = format!("edge-{region}");
        Client::connect_holding(f, &id, region, last_version, token, None).await
    }

    /// An edge `id` that says it serves `last_version` with content of digest `content`.
    async fn connect_holding(
        f: &Fixture,
        id: &str,
        region: &str,
        last_version: u64,
        token: &str,
        content: Option<String>,
    ) -> Client {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&f.ca).expect("ca file") {
            roots.add(cert.expect("ca pem")).expect("add root");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("tls 1.3")
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![wire::ALPN.to_vec()];
        let crypto = QuicClientConfig::try_from(tls).expect("quic client config");
        let mut endpoint =
            quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("client");
        endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
        let conn = endpoint
            .connect(f.addr, "127.0.0.1")
            .expect("connect")
            .await
            .expect("handshake");
        let (send, recv) = conn.open_bi().await.expect("stream");
        let mut c = Client {
            _endpoint: endpoint,
            send,
            recv,
            decoder: FrameDecoder::new(wire::MAX_FRAME),
            policy: None,
        };
        c.send(&Frame::Hello(Hello {
            protocol: wire::PROTOCOL_VERSION,
            edge_id: id.into(),
            region: region.into(),
            last_version,
            token: token.into(),
            updates: true,
            content_sha256: content,
        }))
        .await;
        c
    }

    pub(crate) async fn send(&mut self, frame: &Frame) {
        let bytes = wire::encode(frame, wire::MAX_FRAME).expect("encode");
        self.send.write_all(&bytes).await.expect("write");
    }

    /// The next frame, within the deadline, past the one that says the node takes sparse
    /// reports (`Grants::sparse_only`, sent after the first configuration).
    pub(crate) async fn next(&mut self) -> Frame {
        loop {
            match self.next_any().await {
                Frame::Grants(g) if g == Grants::sparse_only() => {}
                frame => return frame,
            }
        }
    }

    /// The next frame, whatever it is, within the deadline.
    pub(crate) async fn next_any(&mut self) -> Frame {
        let read = async {
            let mut buf = vec![0; 65536];
            loop {
                if let Some(f) = self.decoder.next_frame().expect("a valid frame") {
                    return f;
                }
                let n = self.recv.read(&mut buf).await.expect("read");
                self.decoder
                    .push(&buf[..n.expect("the stream is still open")]);
            }
        };
        tokio::time::timeout(DEADLINE, read)
            .await
            .expect("a frame in time")
    }

    async fn next_snapshot(&mut self) -> (u64, Vec<String>) {
        let (version, served, _) = self.next_snapshot_with_refused().await;
        (version, served)
    }

    /// A configuration's version, the tenants it serves and those it names as not in service:
    /// a snapshot, or an update applied to the previous one.
    async fn next_snapshot_with_refused(&mut self) -> (u64, Vec<String>, Vec<String>) {
        let (version, policy) = match self.next().await {
            Frame::Snapshot(s) => (s.version, s.policy),
            Frame::Update(u) => {
                let base = self.policy.as_ref().expect("an update after a snapshot");
                assert_eq!(base.version, u.from);
                (u.to, wire::delta::apply(base, &u.changes))
            }
            other => panic!("expected a snapshot or an update, got {other:?}"),
        };
        assert_eq!(policy.version, version);
        self.policy = Some(policy.clone());
        (
            version,
            policy.tenants.into_iter().map(|t| t.id.clone()).collect(),
            policy
                .out_of_service
                .into_iter()
                .map(|o| o.tenant)
                .collect(),
        )
    }
}

async fn write(store: &MemoryStore, command: Command) -> u64 {
    let req = Request {
        actor: "test".into(),
        at_ms: 0,
        command,
    };
    match store.write(req).await.expect("write").outcome {
        Outcome::Done { version } => version,
        rejected => panic!("{rejected:?}"),
    }
}

async fn region(store: &MemoryStore, name: &str) -> u64 {
    let command = Command::CreateRegion(CreateRegion {
        name: name.into(),
        description: None,
    });
    write(store, command).await
}

async fn tenant(store: &MemoryStore, id: &str, region: &str, cidr: &str) -> u64 {
    let tenant = Tenant {
        id: id.into(),
        region: Some(region.into()),
        source_cidrs: vec![cidr.parse::<SourceCidr>().expect("cidr")],
        session_limit: 5,
        upstreams: BTreeMap::new(),
        rules: Vec::new(),
        default_action: breakout_policy::Action::Direct,
        lists: BTreeMap::new(),
        egress_address: None,
        pac: None,
    };
    write(store, Command::CreateTenant(CreateTenant { tenant })).await
}

/// Gives tenant `id` what it needs to be served (art. 6-1); the last write's version.
async fn serve(store: &MemoryStore, id: &str) -> u64 {
    let mut version = 0;
    for command in serve_commands(id, 20_000) {
        version = write(store, command).await;
    }
    version
}

/// A tenant in service.
async fn served(store: &MemoryStore, id: &str, region: &str, cidr: &str) -> u64 {
    tenant(store, id, region, cidr).await;
    serve(store, id).await
}

#[tokio::test]
async fn a_wrong_token_is_told_so_and_never_gets_a_snapshot() {
    let f = start().await;
    region(&f.store, "tokyo").await;
    let mut c = Client::connect(&f, "tokyo", 0, "guess").await;
    match c.next().await {
        Frame::Error { message } => assert!(message.contains("unauthorized"), "{message}"),
        other => panic!("expected an error, got {other:?}"),
    }
    assert!(f.registry.list(Instant::now()).is_empty());
}

#[tokio::test]
async fn nothing_older_than_the_hello_is_sent_and_unchanged_content_is_not_resent() {
    let f = start().await;
    region(&f.store, "tokyo").await;
    region(&f.store, "osaka").await;
    tenant(&f.store, "other", "osaka", "11.0.0.0/16").await;
    let now = served(&f.store, "acme", "tokyo", "10.0.0.0/16").await;

    // Phase: the edge applied version now+2 elsewhere; this node reaches it one write at a time.
    // Tenants without contracts are not served, only named for refusal.
    let mut c = Client::connect(&f, "tokyo", now + 2, TOKEN).await;
    tenant(&f.store, "beta", "tokyo", "10.1.0.0/16").await;
    let caught_up = tenant(&f.store, "gamma", "tokyo", "10.2.0.0/16").await;
    let (version, ids, refused) = c.next_snapshot_with_refused().await;
    assert_eq!(
        version, caught_up,
        "the first snapshot is the hello's version, not older"
    );
    assert_eq!(
        (ids, refused),
        (
            vec!["acme".to_string()],
            vec!["beta".into(), "gamma".into()]
        )
    );
    c.send(&Frame::Ack { version }).await;

    // Phase: writes in another region change nothing here; the next one here is sent alone.
    let osaka = serve(&f.store, "other").await;
    let mine = served(&f.store, "delta", "tokyo", "10.3.0.0/16").await;
    let mut version = 0;
    let mut ids = Vec::new();
    while !ids.contains(&"delta".to_string()) {
        (version, ids) = c.next_snapshot().await;
        assert!(
            version > osaka,
            "the osaka writes sent no snapshot to a tokyo edge"
        );
    }
    assert_eq!(version, mine);
    assert_eq!(ids, ["acme", "delta"]);

    // Phase: an ack and a report show in the registry; pings are answered.
    c.send(&Frame::Ack { version }).await;
    let usage = TenantUsage {
        active: 2,
        ..TenantUsage::default()
    };
    let report = Report {
        seq: 1,
        tenants: BTreeMap::from([("acme".to_string(), usage)]),
        ..Report::default()
    };
    c.send(&Frame::Report(report)).await;
    c.send(&Frame::Ping { nonce: 7 }).await;
    assert_eq!(c.next().await, Frame::Pong { nonce: 7 });
    let e = f
        .registry
        .list(Instant::now())
        .pop()
        .expect("the edge is listed");
    assert_eq!(
        (e.region.as_str(), e.applied_version),
        ("tokyo", Some(mine))
    );
    assert_eq!(e.sessions, Some(2));
}

/// Region tokyo with tenant acme in service, and its edge `edge-tokyo` connected, having
/// acknowledged the snapshot.
pub(crate) async fn acked_edge(f: &Fixture) -> Client {
    region(&f.store, "tokyo").await;
    served(&f.store, "acme", "tokyo", "10.0.0.0/16").await;
    let mut c = Client::connect(f, "tokyo", 0, TOKEN).await;
    let (version, _) = c.next_snapshot().await;
    c.send(&Frame::Ack { version }).await;
    c
}

/// Right after the first configuration, before any grant, the node says it takes sparse
/// reports: an edge that moved after a leader change does not report whole every second until
/// the new leader's first round reaches it.
#[tokio::test]
async fn the_first_configuration_is_followed_by_word_that_sparse_reports_are_taken() {
    let f = start().await;
    region(&f.store, "tokyo").await;
    served(&f.store, "acme", "tokyo", "10.0.0.0/16").await;
    let mut c = Client::connect(&f, "tokyo", 0, TOKEN).await;
    assert!(matches!(c.next_any().await, Frame::Snapshot(_)));
    assert_eq!(c.next_any().await, Frame::Grants(Grants::sparse_only()));
}

/// Grants reach the edge marked "this node takes sparse reports"; a sparse report is merged
/// into the whole one it follows, and one on another base is dropped.
#[tokio::test]
async fn a_node_takes_sparse_reports_and_merges_them_into_the_whole_one() {
    let f = start().await;
    let mut c = acked_edge(&f).await;
    let report = |seq, base, tenants: &[(&str, u32)]| {
        let tenants = tenants
            .iter()
            .map(|(t, active)| {
                let usage = TenantUsage {
                    active: *active,
                    ..TenantUsage::default()
                };
                (t.to_string(), usage)
            })
            .collect();
        Frame::Report(Report {
            seq,
            base,
            tenants,
            ..Report::default()
        })
    };
    // Frames are handled in order: once the pong is back, the report before it is recorded.
    let mut nonce = 0;
    let mut listed = async |c: &mut Client, frame: Frame| {
        c.send(&frame).await;
        nonce += 1;
        c.send(&Frame::Ping { nonce }).await;
        loop {
            match c.next().await {
                Frame::Pong { nonce: n } if n == nonce => break,
                Frame::Pong { .. } | Frame::Ping { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        let e = f.registry.list(Instant::now()).pop().expect("listed");
        let tenants: Vec<(String, u32)> = e
            .tenants
            .iter()
            .map(|(t, u)| (t.clone(), u.active))
            .collect();
        tenants
    };
    let whole = listed(&mut c, report(1, None, &[("acme", 2), ("beta", 3)])).await;
    assert_eq!(whole, [("acme".to_string(), 2), ("beta".to_string(), 3)]);

    f.registry.send_leases(
        "edge-tokyo",
        Grants {
            epoch: 3,
            ..Grants::default()
        },
    );
    let grants = loop {
        match c.next().await {
            Frame::Grants(g) => break g,
            Frame::Ping { .. } | Frame::Pong { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(grants.sparse_reports && grants.epoch == 3, "{grants:?}");

    let merged = listed(&mut c, report(2, Some(1), &[("beta", 4)])).await;
    assert_eq!(
        merged,
        [("acme".to_string(), 2), ("beta".to_string(), 4)],
        "acme carried over"
    );
    let dropped = listed(&mut c, report(5, Some(4), &[("acme", 9)])).await;
    assert_eq!(dropped, merged, "not based on the last report: dropped");
}

#[tokio::test]
async fn changes_after_an_ack_go_as_updates_and_a_refused_update_as_a_snapshot() {
    let f = start().await;
    region(&f.store, "tokyo").await;
    // Enough tenants that a small change is well under half the snapshot.
    for i in 0..8 {
        let cidr = format!("10.{}.0.0/16", 10 + i);
        served(&f.store, &format!("t{i}"), "tokyo", &cidr).await;
    }
    let mut c = Client::connect(&f, "tokyo", 0, TOKEN).await;
    let first = match c.next().await {
        Frame::Snapshot(s) => s.version,
        other => panic!("the first configuration is a snapshot, got {other:?}"),
    };
    c.send(&Frame::Ack { version: first }).await;
    // Wait until the server took the ack (the registry shows it), so the next one is an update.
    let deadline = Instant::now() + DEADLINE;
    while f
        .registry
        .list(Instant::now())
        .first()
        .map(|e| e.applied_version)
        != Some(Some(first))
    {
        assert!(Instant::now() < deadline, "the ack never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // A tenant without contracts: only `out_of_service` changes.
    let v = tenant(&f.store, "beta", "tokyo", "10.1.0.0/16").await;
    let u = match c.next().await {
        Frame::Update(u) => u,
        other => panic!("expected an update, got {other:?}"),
    };
    assert_eq!((u.from, u.to), (first, v));
    assert!(u.changes.tenants.is_empty() && u.changes.removed_tenants.is_empty());
    assert_eq!(
        u.changes
            .out_of_service
            .as_ref()
            .map(|o| o[0].tenant.as_str()),
        Some("beta")
    );

    // Refused: the server falls back to a snapshot of the same content.
    c.send(&Frame::Nack {
        version: v,
        reason: "say the base was lost".into(),
    })
    .await;
    let s = match c.next().await {
        Frame::Snapshot(s) => s,
        other => panic!("expected a snapshot after the nack, got {other:?}"),
    };
    assert_eq!(s.version, v);
    assert_eq!(s.policy.out_of_service[0].tenant, "beta");
}

#[tokio::test]
async fn an_edge_announcing_the_current_content_gets_an_empty_update_any_other_the_snapshot() {
    let f = start().await;
    region(&f.store, "tokyo").await;
    region(&f.store, "osaka").await;
    tenant(&f.store, "other", "osaka", "11.0.0.0/16").await;
    served(&f.store, "acme", "tokyo", "10.0.0.0/16").await;
    // Phase: a first edge gets the snapshot; what it holds has this digest.
    let mut first = Client::connect(&f, "tokyo", 0, TOKEN).await;
    let (held, policy) = match first.next().await {
        Frame::Snapshot(s) => (s.version, s.policy),
        other => panic!("the first configuration is a snapshot, got {other:?}"),
    };
    let digest = to_hex(&content_digest(&policy).expect("digest"));
    assert_eq!(f.starts.counts(), (1, 0));
    // Writes elsewhere move the store, not tokyo's content.
    let now = serve(&f.store, "other").await;
    assert!(now > held);

    // Phase: an edge reconnecting with that content: an empty update to this node's version.
    let hello = |id: &'static str, content: Option<String>| {
        Client::connect_holding(&f, id, "tokyo", held, TOKEN, content)
    };
    let mut current = hello("tk-current", Some(digest.clone())).await;
    let u = match current.next().await {
        Frame::Update(u) => u,
        other => panic!("expected an empty update, got {other:?}"),
    };
    assert_eq!((u.from, u.to), (held, now));
    assert!(u.changes.is_empty(), "{:?}", u.changes);
    current.send(&Frame::Ack { version: now }).await;
    assert_eq!(f.starts.counts(), (1, 1));

    // Phase: other content at the same version (another history), or no digest: the snapshot.
    for (id, content) in [("tk-other", Some("00".repeat(32))), ("tk-old-build", None)] {
        let mut c = hello(id, content).await;
        match c.next().await {
            Frame::Snapshot(s) => assert_eq!(s.version, now),
            other => panic!("{id}: expected the snapshot, got {other:?}"),
        }
    }
    assert_eq!(f.starts.counts(), (3, 1));

    // Phase: tokyo changes; an edge holding the old content gets the new one whole.
    let changed = tenant(&f.store, "beta", "tokyo", "10.1.0.0/16").await;
    let mut stale = hello("tk-stale", Some(digest.clone())).await;
    let new_policy = match stale.next().await {
        Frame::Snapshot(s) => {
            assert_eq!(s.version, changed);
            assert_eq!(s.policy.out_of_service[0].tenant, "beta");
            s.policy
        }
        other => panic!("expected the new snapshot, got {other:?}"),
    };
    assert_eq!(f.starts.counts(), (4, 1));

    // Phase: an edge that refuses the empty update (its content was not what it said) gets the
    // snapshot after all. Announced at the very version this node has: an update from it to it.
    let new_digest = to_hex(&content_digest(&new_policy).expect("digest"));
    let mut liar =
        Client::connect_holding(&f, "tk-liar", "tokyo", changed, TOKEN, Some(new_digest)).await;
    let u = match liar.next().await {
        Frame::Update(u) => u,
        other => panic!("expected an empty update, got {other:?}"),
    };
    assert_eq!((u.from, u.to), (changed, changed));
    liar.send(&Frame::Nack {
        version: changed,
        reason: "say its content differs".into(),
    })
    .await;
    match liar.next().await {
        Frame::Snapshot(s) => assert_eq!(s.version, changed),
        other => panic!("expected the snapshot after the nack, got {other:?}"),
    }
    assert_eq!(
        f.starts.counts(),
        (4, 2),
        "a session counts by its first send"
    );
}
