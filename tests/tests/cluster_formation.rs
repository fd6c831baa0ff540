//! Cluster formation without a human, as the Helm chart's StatefulSet runs it
//! (`--bootstrap-peers`, `--node-id-from-hostname`), with real `breakout-control` processes and
//! no Kubernetes: every "pod" is a process whose HOSTNAME is `breakout-control-<ordinal>` and
//! whose peers are addressed by DNS name (`localhost:<port>`, resolved by hickory from
//! /etc/hosts, as the image resolves the headless Service's names). A restart keeps the data
//! dir, as a rescheduled pod keeps its PersistentVolumeClaim and its name.

use std::collections::BTreeSet;
use std::time::Duration;

use breakout_tests::control::{unused_low_port, ControlNode, Launch, ADMIN_TOKEN};
use breakout_tests::wait::poll_until;
use breakout_tests::wait_until;

use serde_json::Value;

const FORM: Duration = Duration::from_secs(60);

/// The ports of one StatefulSet pod: API, Raft, edge QUIC.
#[derive(Clone, Copy)]
struct Pod {
    ordinal: u64,
    api: u16,
    raft: u16,
    edge: u16,
}

impl Pod {
    fn new(ordinal: u64) -> Pod {
        Pod {
            ordinal,
            api: unused_low_port(),
            raft: unused_low_port(),
            edge: unused_low_port(),
        }
    }

    /// The pod's API address as its peers know it (a name, not an IP).
    fn api_name(&self) -> String {
        format!("localhost:{}", self.api)
    }

    /// Starts the pod with `peers` as its `--bootstrap-peers`.
    fn start(&self, peers: &str) -> ControlNode {
        let launch = Launch {
            args: vec![
                "--node-id-from-hostname".into(),
                "--bootstrap-peers".into(),
                peers.into(),
                "--advertise-api".into(),
                self.api_name(),
                "--advertise-raft".into(),
                format!("localhost:{}", self.raft),
            ],
            env: vec![
                (
                    "HOSTNAME".into(),
                    format!("breakout-control-{}", self.ordinal),
                ),
                ("BREAKOUT_LOG".into(), "info".into()),
            ],
        };
        let listen = [self.api, self.raft, self.edge].map(|p| format!("127.0.0.1:{p}"));
        let node = ControlNode::start_on(
            self.ordinal + 1,
            listen.each_ref().map(String::as_str),
            launch,
        );
        assert_eq!(node.api.port(), self.api);
        node
    }
}

fn peer_list(pods: &[Pod]) -> String {
    pods.iter().map(Pod::api_name).collect::<Vec<_>>().join(",")
}

fn status(node: &ControlNode) -> Option<Value> {
    let (code, body) = node.get(ADMIN_TOKEN, "/v1/cluster/status");
    (code == 200).then(|| serde_json::from_str(&body).ok())?
}

/// Voter ids and the leader in one node's view.
fn view(node: &ControlNode) -> Option<(BTreeSet<u64>, u64)> {
    let s = status(node)?;
    let leader = s.get("leader")?.as_u64()?;
    let voters = s
        .get("nodes")?
        .as_array()?
        .iter()
        .filter(|n| matches!(n["role"].as_str(), Some("leader" | "follower")))
        .filter_map(|n| n["id"].as_u64())
        .collect();
    Some((voters, leader))
}

/// Waits until every running node sees the same leader and exactly `voters`: one cluster.
fn wait_one_cluster(nodes: &[ControlNode], voters: &[u64], phase: &str) {
    let want: BTreeSet<u64> = voters.iter().copied().collect();
    wait_until(
        FORM,
        &format!("{phase}: one cluster of voters {want:?}"),
        || {
            let views: Vec<_> = nodes.iter().filter(|n| n.is_running()).map(view).collect();
            let first = views.first().cloned().flatten();
            first.as_ref().is_some_and(|(v, _)| *v == want) && views.iter().all(|v| *v == first)
        },
    );
}

fn create_tenant(node: &ControlNode, id: &str, n: u32) {
    let cidr = format!("10.77.{n}.0/24");
    let mut last = String::new();
    let acknowledged = poll_until(FORM, || {
        let out = node.ctl(&[
            "tenant",
            "create",
            id,
            "--region",
            "tokyo",
            "--source-cidr",
            &cidr,
            "--session-limit",
            "100",
        ]);
        last = out.stderr();
        out.ok()
    });
    assert!(acknowledged, "tenant {id} never acknowledged: {last}");
}

fn has_tenants(nodes: &[ControlNode], ids: &[&str], phase: &str) {
    for node in nodes.iter().filter(|n| n.is_running()) {
        wait_until(
            FORM,
            &format!("{phase}: node {} has {ids:?}", node.id),
            || {
                node.local_tenant_ids()
                    .is_some_and(|have| ids.iter().all(|t| have.iter().any(|h| h == t)))
            },
        );
    }
}

/// How many times a node logged that it initialised a cluster (over all its starts).
fn initialisations(node: &ControlNode) -> usize {
    node.stderr()
        .matches("initialised a single-node cluster")
        .count()
}

#[test]
fn a_statefulset_forms_once_survives_restarts_and_grows_from_three_to_five() {
    let pods: Vec<Pod> = (0..5).map(Pod::new).collect();
    let first_three = peer_list(&pods[..3]);

    // All three pods at once (podManagementPolicy: Parallel), the last ordinal first.
    let mut nodes: Vec<ControlNode> = pods[..3]
        .iter()
        .rev()
        .map(|p| p.start(&first_three))
        .collect();
    nodes.reverse();
    wait_one_cluster(&nodes, &[1, 2, 3], "fresh formation");
    nodes[1]
        .ctl(&["region", "create", "tokyo"])
        .expect_ok("region create");
    create_tenant(&nodes[2], "formed", 1);
    has_tenants(&nodes, &["formed"], "after formation");

    // Each member restarted with its data, one at a time (a rolling update, a rescheduled pod
    // with its volume): the same cluster, nothing lost, nothing initialised again.
    for i in 0..3 {
        nodes[i].kill9();
        create_tenant(
            &nodes[(i + 1) % 3],
            &format!("during-restart-{i}"),
            10 + i as u32,
        );
        nodes[i].restart();
        wait_one_cluster(&nodes, &[1, 2, 3], &format!("after restarting pod {i}"));
    }
    let written = [
        "formed",
        "during-restart-0",
        "during-restart-1",
        "during-restart-2",
    ];
    has_tenants(&nodes, &written, "after the restarts");

    // Scale 3 → 5: the new pods join (learner, then voter); nobody initialises.
    let all_five = peer_list(&pods);
    nodes.push(pods[3].start(&all_five));
    nodes.push(pods[4].start(&all_five));
    wait_one_cluster(&nodes, &[1, 2, 3, 4, 5], "after scaling to five");
    has_tenants(&nodes, &written, "on the new members");

    // Every pod down at once and back (a cluster-wide outage): the same five-voter cluster.
    for node in &mut nodes {
        node.kill9();
    }
    for node in &mut nodes {
        node.restart();
    }
    wait_one_cluster(&nodes, &[1, 2, 3, 4, 5], "after a full restart");
    create_tenant(&nodes[4], "after-full-restart", 30);
    has_tenants(
        &nodes,
        &["formed", "after-full-restart"],
        "after a full restart",
    );

    let inits: Vec<usize> = nodes.iter().map(initialisations).collect();
    assert_eq!(inits, [1, 0, 0, 0, 0], "only pod 0 initialised, once");
}

#[test]
fn the_first_pod_waits_for_silent_peers_and_a_wiped_member_is_refused() {
    let pods: Vec<Pod> = (0..3).map(Pod::new).collect();
    let peers = peer_list(&pods);

    // Pod 2 is not running (unschedulable, say): a silent peer might hold a cluster, so pod 0
    // does not initialise.
    let mut nodes = vec![pods[0].start(&peers), pods[1].start(&peers)];
    let silent = pods[2].api_name();
    wait_until(FORM, "pod 0 says it waits for the silent peer", || {
        nodes[0].stderr().contains(&format!(
            "not initialising while a peer might hold a cluster; no answer from {silent}"
        ))
    });
    let before = status(&nodes[0]).expect("status");
    assert_eq!(before["nodes"], Value::Array(vec![]), "{before}");
    assert_eq!(before["leader"], Value::Null, "{before}");

    nodes.push(pods[2].start(&peers));
    wait_one_cluster(&nodes, &[1, 2, 3], "once every peer answered");
    nodes[0]
        .ctl(&["region", "create", "tokyo"])
        .expect_ok("region create");
    create_tenant(&nodes[0], "kept", 1);
    has_tenants(&nodes, &["kept"], "formed");

    // Pod 1 loses its volume: with empty storage it must not vote again as node 2.
    nodes[1].kill9();
    std::fs::remove_dir_all(nodes[1].data_dir()).expect("wipe pod 1's data");
    nodes[1].restart_unchecked();
    let exit = nodes[1]
        .wait_exit(FORM)
        .expect("the wiped node stops by itself");
    assert!(!exit.success(), "{exit:?}");
    let log = nodes[1].stderr();
    assert!(
        log.contains("breakoutctl cluster remove-node 2"),
        "the refusal says what to do:\n{log}"
    );

    // The operator removes the lost member; the pod then rejoins as a new voter.
    nodes[0]
        .ctl(&["cluster", "remove-node", "2"])
        .expect_ok("remove-node");
    wait_one_cluster(&nodes, &[1, 3], "after removing the lost member");
    nodes[1].restart();
    wait_one_cluster(&nodes, &[1, 2, 3], "after the wiped pod rejoined");
    has_tenants(&nodes, &["kept"], "on the rejoined member");
    let inits: Vec<usize> = nodes.iter().map(initialisations).collect();
    assert_eq!(inits, [1, 0, 0], "only pod 0 initialised, once");
}
