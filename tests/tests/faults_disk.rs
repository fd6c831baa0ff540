//! Disk faults under a register workload: a node's data directory (a file system of its own,
//! `tests/src/disk.rs`) filled up, or turning read-only under it, while it writes; a power cut
//! in the middle of writes (the last writes torn off) before a restart. The node stops or
//! refuses writes with a clear error; the others go on; after the repair it catches up;
//! nothing acknowledged is lost (history and audit checks, `tests/src/history.rs`).
//!
//! Mounting needs root, as `.ci/run` has; elsewhere these tests say so and do nothing else.

use std::time::Duration;

use breakout_tests::control::{Cluster, ControlNode, ADMIN_TOKEN};
use breakout_tests::disk::{LoopFs, SmallFs};
use breakout_tests::faultcluster::{local_values, register_tenant, report, Workload};
use breakout_tests::history::{check_audits, check_linearizable, Outcome};
use breakout_tests::wait::{poll_until, wait_until};
use serde_json::json;

const SLOW: Duration = Duration::from_secs(60);

/// Three nodes, `victim`'s data in `data`; node 1 initialises (and so leads at first).
fn cluster(victim: u64, data: std::path::PathBuf) -> Cluster {
    let on = |id: u64| (id == victim).then_some(data.as_path());
    let first = ControlNode::start_in(1, false, &[], &[], on(1));
    let mut c = Cluster { nodes: vec![first] };
    c.wait_leader(SLOW);
    for id in 2..=3 {
        let node = ControlNode::start_in(id, true, &[], &[], on(id));
        c.nodes[0]
            .ctl(&[
                "cluster",
                "add-node",
                &id.to_string(),
                &node.api.to_string(),
            ])
            .expect_ok("add-node");
        c.nodes.push(node);
    }
    c.wait_voters(3);
    c
}

fn acked_after(w: &Workload, client: u64, since: Duration) -> bool {
    w.history.ops().iter().any(|o| {
        o.client == client && o.invoked > since && matches!(o.outcome, Outcome::Written { .. })
    })
}

#[derive(Clone, Copy, Debug)]
enum DiskFault {
    Full,
    ReadOnly,
}

enum Disk {
    Small(SmallFs),
    Loop(LoopFs),
}

/// The fault on `victim`'s disk mid-write; the repair; every check.
fn disk_fault(victim: u64, fault: DiskFault, what: &str) {
    let disk = match fault {
        DiskFault::Full => SmallFs::mount(32).map(Disk::Small),
        DiskFault::ReadOnly => LoopFs::mount(64).map(Disk::Loop),
    };
    let Some(disk) = disk else {
        eprintln!("{what}: not run: mounting a file system needs root");
        return;
    };
    let data = match &disk {
        Disk::Small(fs) => fs.data(),
        Disk::Loop(fs) => fs.data(),
    };
    let mut c = cluster(victim, data);
    register_tenant(&c.nodes[0]);
    let w = Workload::start(&[(1, &c.nodes[0]), (2, &c.nodes[1]), (3, &c.nodes[2])]);
    let others: Vec<u64> = (1..=3).filter(|i| *i != victim).collect();
    wait_until(SLOW, "writes are acknowledged", || {
        acked_after(&w, others[0], Duration::ZERO)
    });

    let at = w.history.now();
    match &disk {
        Disk::Small(fs) => {
            fs.fill();
        }
        Disk::Loop(fs) => fs.shut_down(true),
    }
    let v = &c.nodes[(victim - 1) as usize];
    wait_until(SLOW, "the victim reports its storage failing", || {
        v.stderr().contains("raft storage: ")
    });
    // It says it stopped, to supervisors and clients alike.
    wait_until(SLOW, "the victim's /healthz says it stopped", || {
        v.get("", "/healthz").0 == 503
    });
    let (_, health) = v.get("", "/healthz");
    assert!(health.contains("node_stopped"), "{what}: {health}");
    // The others go on.
    let detected = w.history.now();
    wait_until(SLOW, "the others acknowledge writes", || {
        acked_after(&w, others[0], detected) && acked_after(&w, others[1], detected)
    });
    // The victim refuses writes, clearly.
    let (status, body) = v.send(
        ADMIN_TOKEN,
        "PUT",
        "/v1/tenants/hist/lists/direct-probe",
        "[\"probe.example\"]",
    );
    assert_eq!(status, 503, "{what}: the victim answered a write: {body}");
    assert!(body.contains("node_stopped"), "{what}: {body}");

    // Repair, restart, catch up.
    c.nodes[(victim - 1) as usize].kill9();
    match &disk {
        Disk::Small(fs) => fs.unfill(),
        Disk::Loop(fs) => fs.remount(),
    }
    c.nodes[(victim - 1) as usize].restart();
    c.wait_leader(SLOW);
    let (history, acked) = w.stop();
    let newest = acked.iter().map(|(v, _)| *v).max().unwrap_or(0);
    for node in &c.nodes {
        let ok = poll_until(SLOW, || {
            breakout_tests::faultcluster::applied(node).is_some_and(|v| v >= newest)
        });
        assert!(ok, "{what}: node {} never caught up to {newest}", node.id);
    }
    let ops = history.ops();
    let summary = check_linearizable(&ops).unwrap_or_else(|e| panic!("{what}: {e}"));
    let audits = c
        .nodes
        .iter()
        .map(|n| (n.id, breakout_tests::faultcluster::audit_log(n)))
        .collect::<Vec<_>>();
    let checked = check_audits(&acked, &audits).unwrap_or_else(|e| panic!("{what}: {e}"));
    let values = local_values(&c.nodes[0]);
    for n in &c.nodes[1..] {
        assert_eq!(local_values(n), values, "{what}: node {} differs", n.id);
    }
    let after = ops.iter().filter(|o| o.invoked > at).count();
    assert!(after > 0, "{what}: no operation during the fault");
    report(
        &format!(
            "disk-{fault:?}-{}",
            if victim == 1 { "leader" } else { "follower" }
        ),
        json!({
            "operations_checked": summary.ops,
            "acknowledged_writes": summary.acknowledged_writes,
            "unknown_writes": summary.unknown_writes,
            "write_node_pairs_in_audit": checked,
            "lost": 0,
        }),
    );
}

#[test]
fn a_full_disk_on_a_follower_loses_nothing() {
    disk_fault(3, DiskFault::Full, "full disk on a follower");
}

#[test]
fn a_read_only_disk_on_the_leader_loses_nothing() {
    disk_fault(1, DiskFault::ReadOnly, "read-only disk on the leader");
}

/// Power cuts on the only node in the middle of writes (three clients writing back to back, so
/// a cut lands inside a commit: the torn last write): its file system stops without flushing
/// its journal (what was not on the device is torn off), the process dies, the file system is
/// mounted again (journal replayed) and the node restarts. Every write it acknowledged was
/// fsync'd first, so every one is there; the log ends cleanly; it takes writes again.
#[test]
fn a_power_cut_mid_write_loses_no_acknowledged_write() {
    let what = "power cut on a single node";
    let Some(fs) = LoopFs::mount(64) else {
        eprintln!("{what}: not run: mounting a file system needs root");
        return;
    };
    let data = fs.data();
    let mut c = Cluster {
        nodes: vec![ControlNode::start_in(
            1,
            false,
            &[],
            &[],
            Some(data.as_path()),
        )],
    };
    c.wait_leader(SLOW);
    register_tenant(&c.nodes[0]);
    let (mut ops, mut all_acked) = (0, Vec::new());
    let mut acknowledged = 0;
    const CUTS: usize = 3;
    for cut in 0..CUTS {
        let targets = [(1, &c.nodes[0]), (2, &c.nodes[0]), (3, &c.nodes[0])];
        let w = Workload::start_at(&targets, cut as u64);
        wait_until(SLOW, "writes are acknowledged", || {
            w.history
                .ops()
                .iter()
                .filter(|o| matches!(o.outcome, Outcome::Written { .. }))
                .count()
                >= 20
        });
        fs.shut_down(false);
        c.nodes[0].kill9();
        let (history, acked) = w.stop();
        fs.remount();
        c.nodes[0].restart();
        c.wait_leader(SLOW);
        // Each round's clients start over on the same keys: check each round on its own.
        let summary = check_linearizable(&history.ops()).unwrap_or_else(|e| panic!("{what}: {e}"));
        ops += summary.ops;
        acknowledged += summary.acknowledged_writes;
        all_acked.extend(acked);
    }
    let audit = breakout_tests::faultcluster::audit_log(&c.nodes[0]);
    let checked = check_audits(&all_acked, &[(1, audit)]).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(
        checked,
        all_acked.len(),
        "{what}: every acknowledged write checked"
    );
    // It takes writes again.
    let (status, body) = c.nodes[0].send(
        ADMIN_TOKEN,
        "PUT",
        "/v1/tenants/hist/lists/after-the-cut",
        "[\"v1.example\"]",
    );
    assert_eq!(status, 200, "{what}: {body}");
    report(
        "disk-power-cut",
        json!({
            "cuts": CUTS,
            "operations_checked": ops,
            "acknowledged_writes": acknowledged,
            "lost": 0,
        }),
    );
}

/// Reverts every other 4 KiB page where `new` differs from `old` (and cuts any growth in half):
/// the file as a crash in the middle of writing `new` over `old` could leave it.
fn torn(old: &[u8], new: &[u8]) -> Vec<u8> {
    const PAGE: usize = 4096;
    let mut out = new.to_vec();
    let mut differing = 0;
    for (i, page) in out.chunks_mut(PAGE).enumerate() {
        let at = i * PAGE;
        let Some(before) = old.get(at..(at + page.len()).min(old.len())) else {
            continue;
        };
        if before.len() == page.len() && before != page {
            if differing % 2 == 0 {
                page.copy_from_slice(before);
            }
            differing += 1;
        }
    }
    if new.len() > old.len() {
        out.truncate(old.len() + (new.len() - old.len()) / 2);
    }
    out
}

/// A Raft file whose pages mix different commits (every other changed page reverted to an
/// older copy: not a state a crash can leave, since redb writes copy-on-write and commits by a
/// checksummed header, but what a failing disk can). The node must refuse to start, naming the
/// file, rather than start with part of its log; its peers then rebuild it (re-join).
#[test]
fn a_corrupted_raft_file_is_refused_with_a_clear_error() {
    let mut c = Cluster {
        nodes: vec![ControlNode::start(1, false)],
    };
    c.wait_leader(SLOW);
    register_tenant(&c.nodes[0]);
    let file = c.nodes[0].data_dir().join("raft.redb");
    let put = |c: &Cluster, key: &str| {
        let (status, body) = c.nodes[0].send(
            ADMIN_TOKEN,
            "PUT",
            &format!("/v1/tenants/hist/lists/{key}"),
            "[\"v1.example\"]",
        );
        assert_eq!(status, 200, "{body}");
    };
    for i in 0..20 {
        put(&c, &format!("before-{i}"));
    }
    c.nodes[0].kill9();
    let old = std::fs::read(&file).expect("raft file");
    c.nodes[0].restart();
    c.wait_leader(SLOW);
    // Several commits after `old` (each write is one fsync'd commit): a mix of pages from only
    // one or two commits can be exactly the older commit, which is no corruption at all.
    for i in 0..10 {
        put(&c, &format!("after-{i}"));
    }
    c.nodes[0].kill9();
    let new = std::fs::read(&file).expect("raft file");
    std::fs::write(&file, torn(&old, &new)).expect("write the mixed file");
    let (status, stderr) = c.nodes[0].restart_expecting_exit();
    assert!(!status.success());
    assert!(
        stderr.contains("raft storage: opening") && stderr.contains("raft.redb"),
        "the refusal does not name the file: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    report("disk-corrupted-file", json!({ "refused_to_start": true }));
}
