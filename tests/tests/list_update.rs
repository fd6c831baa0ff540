//! The list-update API option (art. 10-4) end to end: a real control plane, the tenant's own
//! token driving `breakoutctl list patch|set`, refused without the option (naming it), working
//! with it, `If-Match` honoured, and bad entries named by index by the server.

use breakout_tests::control::{Cluster, ControlNode};
use breakout_tests::fleet::tokyo_acme;

fn blocklist(node: &ControlNode) -> Vec<String> {
    let out = node
        .ctl(&["list", "show", "acme", "blocklist"])
        .expect_ok("list show")
        .json();
    out["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_tenant_token_patches_its_blocklist_only_with_the_option() {
    let cluster = Cluster::start(1);
    let node = &cluster.nodes[0];
    tokyo_acme(node);
    node.ctl(&["tenant", "attributes", "acme", "--private-backbone", "true"])
        .expect_ok("attributes");
    node.ctl(&[
        "contract",
        "add",
        "acme",
        "list-template",
        "--item",
        "microsoft365",
    ])
    .expect_ok("list template");
    node.ctl(&[
        "contract",
        "add",
        "acme",
        "cloud-bypass",
        "--capacity",
        "20000",
    ])
    .expect_ok("cloud bypass");
    node.ctl(&["list", "set", "acme", "blocklist", "a.example", "b.example"])
        .expect_ok("blocklist");
    let created = node
        .ctl(&["token", "create", "acme"])
        .expect_ok("token")
        .json();
    let token = created["token"].as_str().expect("token").to_string();

    // Without the option: refused, naming it; nothing changed.
    let refused = node.ctl_as(
        &token,
        &["list", "patch", "acme", "blocklist", "--add", "c.example"],
    );
    assert!(!refused.ok());
    assert!(
        refused.stderr().contains("list-update-api"),
        "{}",
        refused.stderr()
    );
    assert_eq!(blocklist(node), ["a.example", "b.example"]);

    node.ctl(&["option", "add", "acme", "list-update-api"])
        .expect_ok("option add");

    // With it: patch and replace as the tenant.
    node.ctl_as(
        &token,
        &[
            "list",
            "patch",
            "acme",
            "blocklist",
            "--add",
            "*.ads.example",
            "--add",
            "198.51.100.0/24",
            "--remove",
            "a.example",
        ],
    )
    .expect_ok("list patch as the tenant");
    assert_eq!(
        blocklist(node),
        ["b.example", "*.ads.example", "198.51.100.0/24"]
    );

    // A stale If-Match is refused.
    let stale = node.ctl_as(
        &token,
        &[
            "list",
            "patch",
            "acme",
            "blocklist",
            "--add",
            "x.example",
            "--if-match",
            "1",
        ],
    );
    assert!(!stale.ok());
    assert!(stale.stderr().contains("version"), "{}", stale.stderr());

    // The server names a bad entry and its index (the CLI would refuse it before sending).
    let (status, body) = node.send(
        &token,
        "PATCH",
        "/v1/tenants/acme/lists/blocklist",
        r#"{"add": ["ok.example", "bad..example"]}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("add[1]") && body.contains("bad..example"),
        "{body}"
    );

    node.ctl_as(
        &token,
        &["list", "set", "acme", "blocklist", "only.example"],
    )
    .expect_ok("list set as the tenant");
    assert_eq!(blocklist(node), ["only.example"]);
}
