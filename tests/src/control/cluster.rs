//! A cluster of test nodes: formation, the leader, voters.

use std::time::Duration;

use super::{ControlNode, ADMIN_TOKEN, START_DEADLINE};
use crate::wait::{poll_until, wait_for};

/// A cluster of `n` nodes: node 1 initialises, the others join through `cluster add-node`.
pub struct Cluster {
    pub nodes: Vec<ControlNode>,
}

impl Cluster {
    pub fn start(n: u64) -> Cluster {
        let first = ControlNode::start(1, false);
        wait_leader_on(&first);
        let mut nodes = vec![first];
        if let Some(etcd) = nodes[0].etcd.clone() {
            // On etcd every instance is a member as soon as it runs.
            for id in 2..=n {
                nodes.push(ControlNode::start_with_store(
                    id,
                    false,
                    &[],
                    Some(etcd.clone()),
                ));
            }
            let c = Cluster { nodes };
            c.wait_voters(n as usize);
            return c;
        }
        for id in 2..=n {
            let node = ControlNode::start(id, true);
            nodes[0]
                .ctl(&[
                    "cluster",
                    "add-node",
                    &id.to_string(),
                    &node.api.to_string(),
                ])
                .expect_ok("add-node");
            nodes.push(node);
        }
        let c = Cluster { nodes };
        c.wait_voters(n as usize);
        c
    }

    /// A one-node cluster whose node runs with extra environment variables (e.g.
    /// `BREAKOUT_WEBHOOK_ALLOW_CIDRS`).
    pub fn single_with_env(env: &[(&str, &str)]) -> Cluster {
        let node = ControlNode::start_with_env(1, false, env);
        wait_leader_on(&node);
        Cluster { nodes: vec![node] }
    }

    /// Index of the node the cluster reports as leader, asked of any running node.
    pub fn leader(&self) -> Option<usize> {
        self.nodes.iter().filter(|n| n.is_running()).find_map(|n| {
            let (status, body) = n.get(ADMIN_TOKEN, "/v1/cluster/status");
            if status != 200 {
                return None;
            }
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            let id = v.get("leader")?.as_u64()?;
            self.nodes.iter().position(|n| n.id == id && n.is_running())
        })
    }

    pub fn wait_leader(&self, timeout: Duration) -> usize {
        wait_for(timeout, "a leader among the running nodes", || {
            self.leader()
        })
    }

    /// Waits until the cluster status lists `n` voters.
    pub fn wait_voters(&self, n: usize) {
        wait_until_status(&self.nodes[0], |v| {
            let voters = v.get("nodes").and_then(|n| n.as_array()).map(|nodes| {
                nodes
                    .iter()
                    .filter(|x| {
                        matches!(
                            x.get("role").and_then(|r| r.as_str()),
                            Some("leader" | "follower")
                        )
                    })
                    .count()
            });
            voters == Some(n)
        });
    }
}

fn wait_leader_on(node: &ControlNode) {
    wait_until_status(node, |v| v.get("leader").and_then(|l| l.as_u64()).is_some());
}

fn wait_until_status(node: &ControlNode, cond: impl Fn(&serde_json::Value) -> bool) {
    let ok = poll_until(START_DEADLINE, || {
        let (status, body) = node.get(ADMIN_TOKEN, "/v1/cluster/status");
        status == 200
            && serde_json::from_str(&body)
                .map(|v| cond(&v))
                .unwrap_or(false)
    });
    assert!(
        ok,
        "cluster status never satisfied the condition; stderr of node {}:\n{}",
        node.id,
        node.stderr()
    );
}
