//! The external-integration pull API end to end (docs/integration.md): a real control plane
//! holding the real Microsoft 365 worldwide list as a tenant's lists; the tenant's own token
//! pulls Squid ACL files through `breakoutctl endpoints`, and the real `squid -k parse` loads
//! them without a complaint; ETag/304 and `?since=` deltas through curl.
//!
//! Needs `squid` (Debian package `squid`); without it the test fails saying so, never skips.

use std::path::Path;
use std::process::Command;

use breakout_tests::control::{Cluster, ControlNode, ADMIN_TOKEN};
use breakout_tests::fleet::tokyo_acme;
use breakout_tests::tmp::unique_dir;
use breakout_tests::Curl;
use serde_json::{json, Value};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/m365-worldwide-endpoints.json"
);

/// The fixture's TCP endpoint sets as two entry files: Optimize and Allow, and Default (URLs
/// and IPv4 ranges, one a line).
fn m365_lists(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let text = std::fs::read_to_string(FIXTURE).expect("read the M365 fixture");
    let sets: Vec<Value> = serde_json::from_str(&text).expect("the fixture is JSON");
    let (mut direct, mut default) = (String::new(), String::new());
    for set in &sets {
        if set["tcpPorts"].as_str().is_none_or(str::is_empty) {
            continue;
        }
        let target = match set["category"].as_str() {
            Some("Optimize" | "Allow") => &mut direct,
            _ => &mut default,
        };
        let urls = set["urls"].as_array().into_iter().flatten();
        let ips = set["ips"].as_array().into_iter().flatten();
        for entry in urls.chain(ips).filter_map(Value::as_str) {
            if !entry.contains(':') {
                target.push_str(entry);
                target.push('\n');
            }
        }
    }
    let (d, u) = (dir.join("direct.txt"), dir.join("default.txt"));
    std::fs::write(&d, direct).expect("write");
    std::fs::write(&u, default).expect("write");
    (d, u)
}

/// Region `tokyo`, tenant `acme` with the M365 lists (Optimize/Allow direct, Default to
/// upstream `corp`) and a blocklist; its token.
fn setup(node: &ControlNode, dir: &Path) -> String {
    tokyo_acme(node);
    let (direct, default) = m365_lists(dir);
    for (name, file) in [("m365-direct", &direct), ("m365-default", &default)] {
        let file = file.to_string_lossy();
        node.ctl(&["list", "set", "acme", name, "--file", &file])
            .expect_ok("list set");
    }
    node.ctl(&[
        "list",
        "set",
        "acme",
        "blocklist",
        "ads.example.net",
        "*.tracker.example",
    ])
    .expect_ok("blocklist");
    let put = |path: &str, body: Value| {
        let (status, answer) = node.send(ADMIN_TOKEN, "PUT", path, &body.to_string());
        assert_eq!(status, 200, "PUT {path}: {answer}");
    };
    put(
        "/v1/tenants/acme/upstreams",
        json!({ "corp": "proxy.acme.example:3128" }),
    );
    put(
        "/v1/tenants/acme/rules",
        json!([
            { "name": "access-control", "action": "block", "lists": ["blocklist"] },
            { "name": "m365", "action": "direct", "lists": ["m365-direct"] },
            { "name": "m365-default", "action": "upstream:corp", "lists": ["m365-default"] },
        ]),
    );
    let created = node
        .ctl(&["token", "create", "acme"])
        .expect_ok("token create")
        .json();
    created["token"].as_str().expect("token").to_string()
}

/// `squid -k parse` of a config loading `acls` (ACL type, file); (success, output).
fn squid_parse(dir: &Path, acls: &[(&str, &Path)]) -> (bool, String) {
    let mut conf =
        String::from("http_port 127.0.0.1:39997\npid_filename none\ncache_log /dev/stderr\n");
    for (i, (kind, file)) in acls.iter().enumerate() {
        conf.push_str(&format!(
            "acl a{i} {kind} \"{}\"\nhttp_access allow a{i}\n",
            file.display()
        ));
    }
    conf.push_str("http_access deny all\n");
    let path = dir.join("squid.conf");
    std::fs::write(&path, conf).expect("write squid.conf");
    let out = Command::new("squid")
        .args(["-k", "parse", "-f"])
        .arg(&path)
        .output()
        .expect("run squid -k parse: install the Debian package squid");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_tenant_pulls_squid_acls_of_the_m365_list_that_squid_loads_cleanly() {
    let cluster = Cluster::start(1);
    let node = &cluster.nodes[0];
    let dir = unique_dir("breakout-integration");
    let token = setup(node, &dir);

    // Without an external-integration (or list-template) contract the token is refused.
    let refused = node.ctl_as(&token, &["endpoints", "acme", "--format", "squid"]);
    assert!(!refused.ok());
    assert!(
        refused.stderr().contains("external-integration"),
        "{}",
        refused.stderr()
    );

    node.ctl(&["contract", "add", "acme", "external-integration"])
        .expect_ok("contract add external-integration");

    // Each action's names as dstdomain (+ dstdom_regex) and networks as dst, as the tenant.
    let mut acls = Vec::new();
    for (action, tag) in [("direct", "d"), ("upstream:corp", "u"), ("block", "b")] {
        for (format, kind, acl) in [
            ("squid", "hosts", "dstdomain"),
            ("squid-regex", "hosts", "dstdom_regex"),
            ("squid", "cidrs", "dst"),
        ] {
            let out = node
                .ctl_as(
                    &token,
                    &[
                        "endpoints",
                        "acme",
                        "--format",
                        format,
                        "--action",
                        action,
                        "--kind",
                        kind,
                    ],
                )
                .expect_ok("endpoints");
            let text = out.stdout();
            if text.trim().is_empty() {
                continue;
            }
            let file = dir.join(format!("{tag}-{format}-{kind}.txt"));
            std::fs::write(&file, text).expect("write acl");
            acls.push((acl, file));
        }
    }
    let kinds: Vec<&str> = acls.iter().map(|(k, _)| *k).collect();
    for k in ["dstdomain", "dstdom_regex", "dst"] {
        assert!(
            kinds.contains(&k),
            "the M365 list yields a {k} file: {kinds:?}"
        );
    }
    let borrowed: Vec<(&str, &Path)> = acls.iter().map(|(k, f)| (*k, f.as_path())).collect();
    let (ok, output) = squid_parse(&dir, &borrowed);
    assert!(ok, "squid -k parse failed:\n{output}");
    let complaints: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("WARNING") || l.contains("ERROR") || l.contains("FATAL"))
        .collect();
    assert!(complaints.is_empty(), "squid complained:\n{output}");
}

#[test]
fn etag_304_and_since_deltas_over_http() {
    let cluster = Cluster::start(1);
    let node = &cluster.nodes[0];
    let dir = unique_dir("breakout-integration-delta");
    let token = setup(node, &dir);
    node.ctl(&["contract", "add", "acme", "external-integration"])
        .expect_ok("contract add");
    let url = format!("{}/v1/tenants/acme/endpoints", node.api_url());
    let auth = format!("Authorization: Bearer {token}");

    let first = Curl::new(&url).header(&auth).run();
    assert_eq!(first.status(), 200, "{}", first.stderr);
    let etag = first.header("etag").expect("ETag").to_string();
    let version = first
        .header("x-breakout-version")
        .expect("version")
        .to_string();
    let again = Curl::new(&url)
        .header(&auth)
        .header(&format!("If-None-Match: {etag}"))
        .run();
    assert_eq!(again.status(), 304);

    node.ctl(&[
        "list",
        "patch",
        "acme",
        "blocklist",
        "--add",
        "new.example",
        "--remove",
        "ads.example.net",
    ])
    .expect_ok("list patch");
    let delta = Curl::new(&format!("{url}?since={version}"))
        .header(&auth)
        .run();
    assert_eq!(delta.status(), 200, "{}", delta.stderr);
    assert_eq!(delta.header("x-breakout-delta"), Some("delta"));
    let body = delta.json();
    let values = |k: &str| -> Vec<String> {
        body[k]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["value"].as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(values("added"), ["new.example"]);
    assert_eq!(values("removed"), ["ads.example.net"]);
    let changed = Curl::new(&url)
        .header(&auth)
        .header(&format!("If-None-Match: {etag}"))
        .run();
    assert_eq!(changed.status(), 200);
}

#[test]
fn a_follower_forwards_the_pull_keeping_etag_304_and_delta_headers() {
    let cluster = Cluster::start(2);
    let leader = cluster.wait_leader(std::time::Duration::from_secs(10));
    let follower = &cluster.nodes[1 - leader];
    let dir = unique_dir("breakout-integration-follower");
    let token = setup(&cluster.nodes[leader], &dir);
    cluster.nodes[leader]
        .ctl(&["contract", "add", "acme", "external-integration"])
        .expect_ok("contract add");
    let url = format!(
        "{}/v1/tenants/acme/endpoints?format=squid&action=direct",
        follower.api_url()
    );
    let auth = format!("Authorization: Bearer {token}");

    let first = Curl::new(&url).header(&auth).run();
    assert_eq!(first.status(), 200, "{}", first.stderr);
    assert!(
        first.header("x-breakout-omitted").is_some(),
        "relayed headers"
    );
    let etag = first.header("etag").expect("ETag").to_string();
    let version = first
        .header("x-breakout-version")
        .expect("version")
        .to_string();
    let again = Curl::new(&url)
        .header(&auth)
        .header(&format!("If-None-Match: {etag}"))
        .run();
    assert_eq!(again.status(), 304, "If-None-Match reaches the leader");

    let since = format!(
        "{}/v1/tenants/acme/endpoints?since={version}",
        follower.api_url()
    );
    let delta = Curl::new(&since).header(&auth).run();
    assert_eq!(delta.status(), 200, "{}", delta.stderr);
    assert_eq!(delta.header("x-breakout-delta"), Some("delta"));
}
