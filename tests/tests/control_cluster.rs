//! The control plane as operators run it: real `breakout-control` processes written to through
//! `breakoutctl`, nodes killed with SIGKILL, every acknowledged write checked on every node.

use std::time::{Duration, Instant};

use breakout_tests::control::{Cluster, ControlNode, ADMIN_TOKEN};
use breakout_tests::wait_until;

const CONVERGE: Duration = Duration::from_secs(30);

/// Creates tenant `id` through `node`, retrying while the cluster has no leader; true once
/// the CLI reported success (the write is acknowledged).
fn create_tenant(node: &ControlNode, id: &str, n: u32, deadline: Duration) -> bool {
    let cidr = format!("10.{}.{}.0/24", n / 256, n % 256);
    let until = Instant::now() + deadline;
    loop {
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
        if out.ok() {
            return true;
        }
        if Instant::now() >= until {
            eprintln!("write {id} not acknowledged: {}", out.stderr());
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn assert_everywhere(cluster: &Cluster, acknowledged: &[String], phase: &str) {
    for node in cluster.nodes.iter().filter(|n| n.is_running()) {
        wait_until(
            CONVERGE,
            &format!("{phase}: node {} has every acknowledged tenant", node.id),
            || {
                node.local_tenant_ids()
                    .is_some_and(|ids| acknowledged.iter().all(|t| ids.contains(t)))
            },
        );
    }
}

#[test]
fn acknowledged_writes_survive_leader_kill_and_full_restart() {
    // Phase 1: three nodes, writes through every node (followers forward to the leader).
    let mut cluster = Cluster::start(3);
    cluster.nodes[0]
        .ctl(&["region", "create", "tokyo"])
        .expect_ok("region create");
    let mut acknowledged = Vec::new();
    for n in 0..9u32 {
        let id = format!("t{n:02}");
        let node = &cluster.nodes[n as usize % 3];
        assert!(
            create_tenant(node, &id, n, Duration::from_secs(10)),
            "healthy cluster refused {id}"
        );
        acknowledged.push(id);
    }
    assert_everywhere(&cluster, &acknowledged, "before the kill");

    // Phase 2: SIGKILL the leader; the survivors elect another and keep acknowledging writes.
    let leader = cluster.wait_leader(CONVERGE);
    cluster.nodes[leader].kill9();
    let survivor = (leader + 1) % 3;
    for n in 9..18u32 {
        let id = format!("t{n:02}");
        if create_tenant(&cluster.nodes[survivor], &id, n, Duration::from_secs(20)) {
            acknowledged.push(id);
        }
    }
    assert!(
        acknowledged.len() >= 17,
        "the surviving majority must keep accepting writes"
    );
    let new_leader = cluster.wait_leader(CONVERGE);
    assert_ne!(new_leader, leader);

    // Phase 3: the killed node comes back and catches up.
    cluster.nodes[leader].restart();
    assert_everywhere(&cluster, &acknowledged, "after the old leader restarted");

    // Phase 4: every node SIGKILLed at once, then restarted: nothing acknowledged is lost.
    for node in &mut cluster.nodes {
        node.kill9();
    }
    for node in &mut cluster.nodes {
        node.restart();
    }
    cluster.wait_leader(CONVERGE);
    assert_everywhere(&cluster, &acknowledged, "after a full restart");
    // And the restarted cluster still takes writes (it was not re-initialised into three).
    assert!(create_tenant(
        &cluster.nodes[0],
        "after-restart",
        900,
        Duration::from_secs(20)
    ));

    // Phase 5: shrink to two voters.
    cluster.nodes[0]
        .ctl(&["cluster", "remove-node", "3"])
        .expect_ok("remove-node");
    cluster.wait_voters(2);
}

#[test]
fn tenant_tokens_see_only_their_own_tenant() {
    let cluster = Cluster::start(1);
    let node = &cluster.nodes[0];
    node.ctl(&["region", "create", "tokyo"])
        .expect_ok("region create");
    assert!(create_tenant(node, "alpha", 1, Duration::from_secs(10)));
    assert!(create_tenant(node, "beta", 2, Duration::from_secs(10)));
    let created = node
        .ctl(&["token", "create", "alpha"])
        .expect_ok("token create")
        .json();
    let token = created["token"]
        .as_str()
        .expect("the secret is shown once")
        .to_string();

    assert_eq!(
        node.get(&token, "/v1/tenants/alpha").0,
        200,
        "own tenant is readable"
    );
    assert_eq!(
        node.get(&token, "/v1/tenants/alpha/lists").0,
        200,
        "own lists are readable"
    );
    let (status, body) = node.get(&token, "/v1/tenants/beta");
    assert_eq!(
        status, 404,
        "another tenant must look absent, not forbidden: {body}"
    );
    assert!(
        !body.contains("10.0.2.0"),
        "nothing of beta may leak: {body}"
    );
    assert_eq!(node.get(&token, "/v1/tenants/nonexistent").0, 404);
    assert_eq!(
        node.get(&token, "/v1/tenants").0,
        403,
        "listing tenants is the operator's"
    );
    assert_eq!(node.get(&token, "/v1/audit").0, 403);
    assert_eq!(node.get("bk_nope_wrong", "/v1/tenants/alpha").0, 401);
    assert_eq!(node.get(ADMIN_TOKEN, "/v1/tenants/beta").0, 200);

    let via_cli = node.ctl_as(&token, &["tenant", "get", "beta"]);
    assert!(
        !via_cli.ok(),
        "the CLI must fail for another tenant: {}",
        via_cli.stdout()
    );
}
