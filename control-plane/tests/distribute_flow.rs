//! Flow control on the edge stream: a node whose write waits for an edge to read keeps reading
//! what the edge sends (up to one frame of the largest size it takes), so two sides writing past
//! each other's window never wait on each other for ever (the connection alive, the edge never
//! sent another configuration).

use std::collections::BTreeMap;
use std::time::Instant;

use breakout_policy::wire::{Frame, Grant, Grants, Report, TenantUsage};

use crate::distribute_server::{acked_edge, start, DEADLINE};

#[tokio::test]
async fn a_node_writing_to_an_edge_that_does_not_read_still_reads_its_reports() {
    let f = start().await;
    let mut c = acked_edge(&f).await;

    // Grants of about 3 MB, past the edge's stream window (quinn's 1.25 MB): the node's write
    // waits for this edge, which does not read.
    let grant = Grant {
        sessions: 1,
        ttl_ms: 30_000,
        floor: 0,
    };
    let many = 60_000;
    let grants: BTreeMap<String, Grant> = (0..many)
        .map(|i| (format!("tenant-{i:06}"), grant))
        .collect();
    let epoch = 3;
    let frame = Grants {
        epoch,
        grants,
        ..Grants::default()
    };
    f.registry.send_leases("edge-tokyo", frame);

    // Whole reports of about 1.4 MB each, written without reading: three are past the node's
    // window (1.25 MB) and within what it reads ahead while its own write waits (one frame of
    // the largest size it takes from an edge, 4 MiB).
    let usage = TenantUsage {
        active: 1,
        ..TenantUsage::default()
    };
    let tenants: BTreeMap<String, TenantUsage> = (0..20_000)
        .map(|i| (format!("tenant-{i:06}"), usage))
        .collect();
    let reports = async {
        for seq in 1..=3 {
            let report = Report {
                seq,
                tenants: tenants.clone(),
                ..Report::default()
            };
            c.send(&Frame::Report(report)).await;
        }
    };
    tokio::time::timeout(DEADLINE, reports)
        .await
        .expect("the node read the reports while its grants waited");

    // Now the edge reads: the grants, whole, then the pong that follows the last report.
    let got = loop {
        match c.next().await {
            Frame::Grants(g) => break g,
            Frame::Ping { .. } | Frame::Pong { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!((got.epoch, got.grants.len()), (epoch, many));
    c.send(&Frame::Ping { nonce: 7 }).await;
    loop {
        match c.next().await {
            Frame::Pong { nonce: 7 } => break,
            Frame::Ping { .. } | Frame::Pong { .. } | Frame::Grants(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let edge = f.registry.list(Instant::now()).pop().expect("listed");
    assert_eq!(
        edge.tenants.len(),
        tenants.len(),
        "the last report recorded"
    );
}
