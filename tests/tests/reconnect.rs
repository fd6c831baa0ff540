//! Reconnecting edges (docs/distribution.md, "Reconnects without a snapshot"), with real
//! processes: an edge whose node dies while its content is current is confirmed by the node it
//! moves to with an empty update, not sent the snapshot again, and takes later changes as
//! before; an edge cut off while its region changed gets the new content whole when it is back.
//! What each node sent first is read from `breakout_control_edge_session_starts_total{sent}`.

use std::time::Duration;

use breakout_tests::control::{dev_ca, Cluster, ControlNode, ADMIN_TOKEN};
use breakout_tests::edge::Synced;
use breakout_tests::faultnet::{Fault, Net};
use breakout_tests::fleet::{
    applied, edge_view, new_tenant, put_in_service, serves, settings, start_edge, write,
};
use breakout_tests::metrics::sum;
use breakout_tests::wait::wait_until;
use breakout_tests::Edge;

const CONVERGE: Duration = Duration::from_secs(30);
const STARTS: &str = "breakout_control_edge_session_starts_total";
const REJECTED: (&str, &str) = ("result", "rejected");

/// Sessions started on `nodes` whose first send was `sent` (`snapshot`, `empty_update`).
fn starts(nodes: &[&ControlNode], sent: &str) -> f64 {
    nodes
        .iter()
        .map(|n| match n.scrape() {
            (200, text) => sum(&text, STARTS, &[("sent", sent)]),
            _ => 0.0,
        })
        .sum()
}

/// Region `tokyo` with tenant `id` in service for clients on `cidr`; the last write's version.
fn tokyo_tenant(node: &ControlNode, id: &str, cidr: &str) -> u64 {
    new_tenant(node, id, "tokyo", cidr, CONVERGE);
    put_in_service(node, id, None, CONVERGE)
}

fn rejected(edge: &Edge) -> f64 {
    edge.counter("breakout_edge_sync_snapshots_total", &[REJECTED])
}

#[test]
fn an_edge_whose_node_dies_with_current_content_gets_an_empty_update_not_the_snapshot() {
    let mut cluster = Cluster::start(3);
    write(&cluster.nodes[0], &["region", "create", "tokyo"], CONVERGE);
    let v1 = tokyo_tenant(&cluster.nodes[0], "acme", "127.0.0.1/32");
    // The edge's first attempt goes to the first node listed: node 0.
    let nodes: Vec<&ControlNode> = cluster.nodes.iter().collect();
    let edge = start_edge(&nodes, "tokyo", "tk-1");
    let first_id = cluster.nodes[0].id;
    wait_until(CONVERGE, "the edge serves acme from node 0", || {
        serves(&edge, "acme")
            && applied(&edge) >= v1
            && edge_view(&cluster.nodes[0], "tk-1")
                .is_some_and(|e| e["control_node"] == first_id && e["connected"] == true)
    });
    let held = applied(&edge);
    wait_until(CONVERGE, "node 0 counted the edge's snapshot", || {
        starts(&[&cluster.nodes[0]], "snapshot") == 1.0
    });

    // Phase: node 0 dies (perhaps the leader: the survivors' store versions then move past
    // the edge's with an election). Its content is still the region's: the node it moves to
    // confirms it with an empty update and sends no snapshot.
    cluster.nodes[0].kill9();
    let survivors: Vec<&ControlNode> = cluster.nodes[1..].iter().collect();
    wait_until(CONVERGE, "a survivor confirms the edge's content", || {
        starts(&survivors, "empty_update") == 1.0
    });
    wait_until(CONVERGE, "the edge is back on a survivor", || {
        edge.metric("breakout_edge_sync_connected", &[]) == Some(1.0)
            && survivors.iter().any(|n| {
                edge_view(n, "tk-1")
                    .is_some_and(|e| e["connected"] == true && e["control_node"] != first_id)
            })
    });
    assert_eq!(starts(&survivors, "snapshot"), 0.0, "no snapshot was sent");
    assert!(
        applied(&edge) >= held,
        "the edge moved to the node's version"
    );
    assert!(serves(&edge, "acme"));

    // Phase: the next change goes on top of the confirmed version.
    let v2 = write(survivors[0], &["tenant", "set-cap", "acme", "7"], CONVERGE);
    wait_until(
        CONVERGE,
        "the edge applies a change after the reconnect",
        || applied(&edge) >= v2,
    );
    assert_eq!(rejected(&edge), 0.0, "the edge refused nothing");
    assert_eq!(starts(&survivors, "snapshot"), 0.0);
}

#[test]
fn an_edge_cut_off_while_its_region_changed_gets_the_new_content_when_back() {
    let cluster = Cluster::start(3);
    let nodes: Vec<&ControlNode> = cluster.nodes.iter().collect();
    write(nodes[0], &["region", "create", "tokyo"], CONVERGE);
    tokyo_tenant(nodes[0], "acme", "127.0.0.1/32");
    // The edge reaches every node through its own relays, so its links can be cut.
    const EDGE: u64 = 100;
    let net = Net::new();
    let relays: Vec<_> = nodes
        .iter()
        .map(|n| net.udp_relay(EDGE, n.id, n.edge))
        .collect();
    let edge = Edge::start_synced(
        &settings(),
        &Synced {
            control_plane: relays.iter().map(|r| r.addr).collect(),
            region: "tokyo".into(),
            node_id: "tk-cut".into(),
            ca_file: dev_ca().ca(),
            token: ADMIN_TOKEN.into(),
        },
    );
    wait_until(CONVERGE, "the edge serves acme, sent as a snapshot", || {
        serves(&edge, "acme") && starts(&nodes, "snapshot") == 1.0
    });

    // Phase: cut off; its region gets a tenant meanwhile.
    let ids: Vec<u64> = nodes.iter().map(|n| n.id).collect();
    net.between(&[EDGE], &ids, Fault::Cut);
    wait_until(CONVERGE, "the edge notices the cut", || {
        edge.metric("breakout_edge_sync_connected", &[]) == Some(0.0)
    });
    let held = applied(&edge);
    let changed = tokyo_tenant(nodes[0], "globex", "127.0.0.2/32");
    assert!(changed > held);
    assert!(
        !serves(&edge, "globex"),
        "nothing reached the edge while cut"
    );

    // Phase: back: its content is not the region's, so it gets the new content whole.
    net.heal();
    wait_until(
        CONVERGE,
        "the edge serves the tenant added while it was cut",
        || serves(&edge, "globex") && applied(&edge) >= changed,
    );
    // One session since the heal (the relays pass everything again).
    wait_until(CONVERGE, "the node that took it back counted it", || {
        starts(&nodes, "snapshot") >= 2.0
    });
    assert!(serves(&edge, "acme"));
    assert_eq!(
        starts(&nodes, "empty_update"),
        0.0,
        "stale content is never confirmed"
    );
    assert_eq!(starts(&nodes, "snapshot"), 2.0);
    assert_eq!(rejected(&edge), 0.0);
}
