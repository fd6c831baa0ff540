//! What a node started with `--bootstrap-peers` does next, from what its peers answered (pure).
//!
//! The rules (docs/kubernetes.md, "Cluster formation"):
//! - A peer that belongs to a cluster with a known leader is asked about this node: a voter is
//!   done; a learner or a node the cluster does not list joins (learner, then voter). A voter
//!   whose own storage is empty was wiped: it must not take part again under the same id
//!   (it could vote twice in a term), so that is fatal until an operator removes it.
//! - Only the node allowed to initialise (node 1, pod ordinal 0), with empty storage, and only
//!   when every other peer answered and none belongs to a cluster, initialises a cluster of
//!   itself; the others then join it. A peer that does not answer may hold a cluster, so
//!   nothing is initialised while any is silent.
//! - A node with data never initialises; without a peer that knows better it keeps running on
//!   what it has (a restart, or a one-node cluster).

use std::collections::BTreeSet;

use crate::store::ClusterStatus;

/// One peer's answer to `GET /v1/cluster/status`.
#[derive(Clone, Debug)]
pub struct PeerAnswer {
    /// The peer's API address as given in `--bootstrap-peers`.
    pub addr: String,
    /// `None`: no answer (not resolvable, not listening, refused).
    pub status: Option<ClusterStatus>,
}

/// This node, as the decision needs it.
#[derive(Clone, Copy, Debug)]
pub struct Me {
    pub id: u64,
    /// Storage holds no vote, entry or membership.
    pub pristine: bool,
    /// This node's own Raft says it leads.
    pub leads: bool,
    /// It may initialise a new cluster (node 1).
    pub may_initialize: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Ask again later; the reason is logged.
    Wait(String),
    /// Initialise a one-node cluster of this node.
    Initialize,
    /// Ask the cluster, through this peer's API, to add this node.
    Join { via: String },
    /// This node is a voter: nothing left to do.
    Member,
    /// Stop the process with this message.
    Fatal(String),
}

pub fn decide(me: Me, peers: &[PeerAnswer]) -> Step {
    if me.leads && !me.pristine {
        return Step::Member;
    }
    let others: Vec<&PeerAnswer> = peers
        .iter()
        .filter(|p| p.status.as_ref().is_none_or(|s| s.node_id != me.id))
        .collect();
    let in_cluster: Vec<(&str, &ClusterStatus)> = others
        .iter()
        .filter_map(|p| Some((p.addr.as_str(), p.status.as_ref()?)))
        .filter(|(_, s)| !s.nodes.is_empty())
        .collect();
    // The leader's own view first: it is the one that changes membership.
    let best = in_cluster
        .iter()
        .filter(|(_, s)| s.leader.is_some())
        .max_by_key(|(_, s)| (s.leader == Some(s.node_id), s.term));
    if let Some((addr, status)) = best {
        let voters: BTreeSet<u64> = status
            .nodes
            .iter()
            .filter(|n| matches!(n.role.as_str(), "leader" | "follower" | "candidate"))
            .map(|n| n.id)
            .collect();
        return match (voters.contains(&me.id), me.pristine) {
            (true, false) => Step::Member,
            (true, true) => Step::Fatal(format!(
                "node {id} has empty storage but the cluster (as {addr} sees it) lists it as a \
                 voter: its data was lost. Remove it (`breakoutctl cluster remove-node {id}`), \
                 then start it again to rejoin as a new member",
                id = me.id
            )),
            (false, _) => Step::Join {
                via: addr.to_string(),
            },
        };
    }
    if !in_cluster.is_empty() {
        return Step::Wait("a cluster exists but has no leader right now".into());
    }
    let silent: Vec<&str> = others
        .iter()
        .filter(|p| p.status.is_none())
        .map(|p| p.addr.as_str())
        .collect();
    match (me.pristine, me.may_initialize, silent.is_empty()) {
        (false, _, true) => Step::Member,
        (false, _, false) => Step::Wait(format!(
            "keeping this node's data; peers not answering yet: {}",
            silent.join(", ")
        )),
        (true, true, true) => Step::Initialize,
        (true, true, false) => Step::Wait(format!(
            "not initialising while a peer might hold a cluster; no answer from {}",
            silent.join(", ")
        )),
        (true, false, _) => Step::Wait("waiting for the first node to form the cluster".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NodeAddr, NodeStatus};

    fn me(id: u64, pristine: bool) -> Me {
        Me {
            id,
            pristine,
            leads: false,
            may_initialize: id == 1,
        }
    }

    fn pristine_peer(addr: &str, id: u64) -> PeerAnswer {
        PeerAnswer {
            addr: addr.into(),
            status: Some(ClusterStatus {
                node_id: id,
                leader: None,
                term: 0,
                last_log_index: None,
                last_applied: None,
                nodes: vec![],
                stopped: None,
            }),
        }
    }

    fn silent(addr: &str) -> PeerAnswer {
        PeerAnswer {
            addr: addr.into(),
            status: None,
        }
    }

    /// A member's view: `(id, role)` of every node, led by `leader`.
    fn member(addr: &str, id: u64, leader: Option<u64>, nodes: &[(u64, &str)]) -> PeerAnswer {
        let nodes = nodes
            .iter()
            .map(|(id, role)| NodeStatus {
                id: *id,
                addr: NodeAddr::default(),
                role: role.to_string(),
                matched: None,
                lag: None,
            })
            .collect();
        PeerAnswer {
            addr: addr.into(),
            status: Some(ClusterStatus {
                node_id: id,
                leader,
                term: 3,
                last_log_index: Some(9),
                last_applied: Some(9),
                nodes,
                stopped: None,
            }),
        }
    }

    #[test]
    fn the_first_node_initialises_only_when_every_peer_answered_pristine() {
        let all = [pristine_peer("b", 2), pristine_peer("c", 3)];
        assert_eq!(decide(me(1, true), &all), Step::Initialize);
        let one_silent = [pristine_peer("b", 2), silent("c")];
        assert!(matches!(decide(me(1, true), &one_silent), Step::Wait(w) if w.contains('c')));
        // A one-node cluster has no other peer.
        assert_eq!(decide(me(1, true), &[]), Step::Initialize);
    }

    #[test]
    fn other_nodes_never_initialise() {
        let all = [pristine_peer("a", 1), pristine_peer("c", 3)];
        assert!(matches!(decide(me(2, true), &all), Step::Wait(_)));
    }

    #[test]
    fn a_node_answering_for_itself_is_not_a_peer() {
        // Its own address in the list: its answer (pristine) neither blocks nor counts.
        let list = [pristine_peer("a", 1), pristine_peer("b", 2)];
        assert_eq!(decide(me(1, true), &list), Step::Initialize);
    }

    #[test]
    fn a_pristine_node_joins_an_existing_cluster_through_the_leader_view() {
        let peers = [
            member("a", 1, Some(1), &[(1, "leader"), (2, "follower")]),
            member("b", 2, Some(1), &[(1, "leader"), (2, "follower")]),
        ];
        assert_eq!(decide(me(3, true), &peers), Step::Join { via: "a".into() });
        // Node 1 too, when the cluster exists without it (it was removed): join, not initialise.
        let without_1 = [member("b", 2, Some(2), &[(2, "leader"), (3, "follower")])];
        assert_eq!(
            decide(me(1, true), &without_1),
            Step::Join { via: "b".into() }
        );
    }

    #[test]
    fn a_learner_asks_again_to_be_promoted() {
        let peers = [member("a", 1, Some(1), &[(1, "leader"), (4, "learner")])];
        assert_eq!(decide(me(4, false), &peers), Step::Join { via: "a".into() });
    }

    #[test]
    fn a_voter_with_data_is_done_and_a_wiped_voter_is_stopped() {
        let peers = [member("a", 1, Some(1), &[(1, "leader"), (2, "follower")])];
        assert_eq!(decide(me(2, false), &peers), Step::Member);
        let wiped = decide(me(2, true), &peers);
        assert!(
            matches!(&wiped, Step::Fatal(m) if m.contains("remove-node 2")),
            "{wiped:?}"
        );
    }

    #[test]
    fn a_cluster_without_a_leader_means_wait_even_for_the_first_node() {
        let peers = [member("b", 2, None, &[(1, "follower"), (2, "follower")])];
        assert!(matches!(decide(me(1, true), &peers), Step::Wait(_)));
    }

    #[test]
    fn a_restarted_node_keeps_its_data_and_never_initialises() {
        assert_eq!(decide(me(1, false), &[pristine_peer("b", 2)]), Step::Member);
        assert!(matches!(
            decide(me(1, false), &[silent("b")]),
            Step::Wait(_)
        ));
        let leads = Me {
            leads: true,
            ..me(1, false)
        };
        assert_eq!(decide(leads, &[silent("b")]), Step::Member);
    }
}
