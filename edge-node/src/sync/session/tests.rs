//! A session against a scripted control-plane node over real QUIC: which acks are followed by a
//! report at once.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use breakout_policy::wire::{Changes, Grants, Report, SnapshotFrame, UpdateFrame, ALPN};
use breakout_policy::RegionPolicy;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use super::*;
use crate::sync::apply::Held;
use crate::sync::client::client_config;

/// Applies anything: a version ending in 1 adds or removes tenants, any other changes rules only.
#[derive(Default)]
struct Scripted {
    reports: AtomicU64,
}

impl SyncNode for Scripted {
    fn held(&self) -> Held {
        Held::default()
    }

    fn apply(&self, config: Config) -> Result<Applied, String> {
        let version = config.version();
        Ok(Applied::New {
            version,
            generation: version,
            tenants_changed: version % 10 == 1,
        })
    }

    fn report(&self, into: &mut Report) {
        *into = Report {
            seq: self.reports.fetch_add(1, Ordering::Relaxed) + 1,
            ..Report::default()
        };
    }

    fn grants(&self, _grants: &Grants, _wire_bytes: usize) {}
    fn touch(&self) {}
    fn connected(&self, _target: &str, _up: bool) {}
    fn applied(&self, _ok: bool) {}
}

/// A CA file for the client, and a QUIC server on 127.0.0.1 with a certificate it signed.
fn server(dir: &std::path::Path) -> (quinn::Endpoint, SocketAddr) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let ca_key = KeyPair::generate().expect("ca key");
    let ca_cert = ca.self_signed(&ca_key).expect("ca");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("key");
    let params = CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params");
    let cert = params.signed_by(&key, &issuer).expect("cert");
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).expect("write ca");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls 1.3")
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .expect("server tls");
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls).expect("quic tls");
    let config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let endpoint =
        quinn::Endpoint::server(config, ([127, 0, 0, 1], 0).into()).expect("server endpoint");
    let addr = endpoint.local_addr().expect("address");
    (endpoint, addr)
}

/// The frames the edge sends after a configuration of `version` and before the pong to a ping
/// sent right behind it: its answer, and any report it sent at once.
async fn answer(io: &mut FrameIo, config: Frame, version: u64) -> (Frame, Vec<(u64, Instant)>) {
    io.write(&config).await.expect("send configuration");
    io.write(&Frame::Ping { nonce: version })
        .await
        .expect("send ping");
    let mut reports = Vec::new();
    let mut ack = None;
    loop {
        match io.read().await.expect("read").expect("open") {
            Frame::Pong { nonce } if nonce == version => break,
            Frame::Report(r) => reports.push((r.seq, Instant::now())),
            f @ (Frame::Ack { .. } | Frame::Nack { .. }) => ack = Some(f),
            other => panic!("unexpected {other:?}"),
        }
    }
    (ack.expect("answered before the pong"), reports)
}

fn update(from: u64, to: u64) -> Frame {
    Frame::Update(UpdateFrame {
        from,
        to,
        changes: Changes {
            version: to,
            region: "tokyo".into(),
            ..Changes::default()
        },
    })
}

/// A configuration that added or removed tenants is answered with its ack and a report at once;
/// one that changed rules only with its ack alone (the report waits for the tick), however many
/// come in a row.
#[tokio::test]
async fn only_acks_of_a_change_of_tenants_are_followed_by_a_report_at_once() {
    let dir = std::env::temp_dir().join(format!("breakout-session-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (endpoint, addr) = server(&dir);
    let cfg = SyncConfig {
        control_plane: vec![addr.to_string()],
        region: "tokyo".into(),
        node_id: "edge-1".into(),
        ca_file: dir.join("ca.pem"),
        token: "t".into(),
    };
    let client = client_config(&cfg.ca_file).expect("client config");
    let node = Arc::new(Scripted::default());
    let edge = {
        let node = Arc::clone(&node);
        tokio::spawn(async move { run(&cfg, &client, &addr.to_string(), &node).await })
    };
    let conn = endpoint
        .accept()
        .await
        .expect("incoming")
        .await
        .expect("connection");
    let (send, recv) = conn.accept_bi().await.expect("stream");
    let mut io = FrameIo::new(send, recv, MAX_FRAME);
    let Some(Frame::Hello(hello)) = io.read().await.expect("hello") else {
        panic!("no hello");
    };
    assert_eq!((hello.last_version, hello.region.as_str()), (0, "tokyo"));

    let snapshot = Frame::Snapshot(SnapshotFrame {
        version: 11,
        policy: RegionPolicy {
            version: 11,
            region: "tokyo".into(),
            ..RegionPolicy::default()
        },
    });
    let (ack, at_once) = answer(&mut io, snapshot, 11).await;
    assert_eq!(ack, Frame::Ack { version: 11 });
    // The session's first tick may have reported before the snapshot arrived; the last report
    // is the one sent with the ack.
    assert!((1..=2).contains(&at_once.len()), "{at_once:?}");
    let mut last = at_once
        .last()
        .expect("a report with the ack of new tenants")
        .1;
    for version in [12, 13, 14] {
        let (ack, reports) = answer(&mut io, update(version - 1, version), version).await;
        assert_eq!(ack, Frame::Ack { version });
        // A report here can only be the tick's, an interval after the one before it.
        for &(_, at) in &reports {
            assert!(
                at.duration_since(last) >= REPORT_INTERVAL / 2,
                "{reports:?}"
            );
            last = at;
        }
    }
    let (ack, reports) = answer(&mut io, update(14, 21), 21).await;
    assert_eq!(ack, Frame::Ack { version: 21 });
    assert!(!reports.is_empty(), "no report with the ack of new tenants");
    edge.abort();
    let _ = std::fs::remove_dir_all(&dir);
}
