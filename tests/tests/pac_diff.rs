//! `breakoutctl pac show TENANT --diff` (docs/pac.md) with real processes: a control plane, an
//! edge fed by it that serves the tenant's PAC, and the CLI comparing its preview with what the
//! edge serves (`--edge`) or with the stored settings (`--settings`), exiting like diff(1).

use std::time::Duration;

use breakout_tests::control::{Cluster, ControlNode, CtlOutput};
use breakout_tests::fleet::{put_in_service, serves, start_edge, write};
use breakout_tests::{tmp, wait_until, Curl, Edge};

const CONVERGE: Duration = Duration::from_secs(30);
const WRITE: Duration = Duration::from_secs(20);

/// Tenant `acme` in region `tokyo` for clients on 127.0.0.1, in service, with the PAC option
/// and PAC settings `{}` (so each edge names itself).
fn acme_with_pac(node: &ControlNode) {
    node.ctl(&["region", "create", "tokyo"])
        .expect_ok("region create");
    let create = [
        "tenant",
        "create",
        "acme",
        "--region",
        "tokyo",
        "--source-cidr",
        "127.0.0.1/32",
        "--session-limit",
        "10",
        "--default-action",
        "direct",
    ];
    write(node, &create, WRITE);
    put_in_service(node, "acme", Some(10), WRITE);
    write(node, &["option", "add", "acme", "pac"], WRITE);
    let settings = settings_file("stored", "{}");
    write(node, &["pac", "set", "acme", "--file", &settings], WRITE);
}

fn settings_file(name: &str, json: &str) -> String {
    let path = tmp::unique_dir("breakout-pac-diff").join(format!("{name}.json"));
    std::fs::write(&path, json).expect("write settings");
    path.display().to_string()
}

/// The PAC `edge` serves to 127.0.0.1, once it serves one containing `needle`.
fn wait_served(edge: &Edge, needle: &str) {
    let url = format!("http://{}/pac/acme.pac", edge.proxy());
    wait_until(
        CONVERGE,
        &format!("the edge serves a PAC with {needle}"),
        || {
            let got = Curl::new(&url).run();
            got.status() == 200 && got.body_text().contains(needle)
        },
    );
}

/// The unified diff of a `-o json` comparison that found a difference.
fn unified(out: &CtlOutput) -> String {
    let v = out.json();
    assert_eq!(v["differs"], true, "{v}");
    v["unified"].as_str().expect("unified").to_string()
}

fn code(out: &CtlOutput) -> Option<i32> {
    out.0.status.code()
}

#[test]
fn pac_show_diff_compares_with_the_edge_and_the_store_and_exits_like_diff() {
    let cluster = Cluster::start(1);
    let node = &cluster.nodes[0];
    acme_with_pac(node);
    let edge = start_edge(&[node], "tokyo", "edge-1");
    wait_until(CONVERGE, "the edge serves acme", || serves(&edge, "acme"));
    wait_served(&edge, "FindProxyForURL");
    let edge_url = format!("http://{}", edge.proxy());

    // The store's settings rendered for this edge are what it serves: no difference, exit 0.
    let same = node.ctl(&["pac", "show", "acme", "--diff", "--edge", &edge_url]);
    assert_eq!(code(&same), Some(0), "{same:?}");
    // -o json (the harness's): the comparison as data.
    assert_eq!(same.json()["differs"], false, "{}", same.stdout());

    // A proposal against the edge: the diff on stdout, a summary on stderr, exit 1.
    let proposed = settings_file("proposed", r#"{"direct_exceptions": ["*.corp.example"]}"#);
    let args = [
        "pac",
        "show",
        "acme",
        "--diff",
        "--edge",
        &edge_url,
        "--settings",
        &proposed,
    ];
    let differs = node.ctl(&args);
    assert_eq!(code(&differs), Some(1), "{differs:?}");
    let diff = unified(&differs);
    assert!(
        diff.starts_with(&format!(
            "--- edge {edge_url}/pac/acme.pac\n+++ preview of "
        )),
        "{diff}"
    );
    assert!(
        diff.lines()
            .any(|l| l.starts_with('+') && l.contains(".corp.example")),
        "{diff}"
    );
    assert!(
        !diff.contains("policy version"),
        "headers are not compared:\n{diff}"
    );
    assert!(
        differs.stderr().contains("differs from the edge"),
        "{}",
        differs.stderr()
    );

    // Against the store without an edge: settings without proxies cannot be rendered there.
    let vs_store = node.ctl(&["pac", "show", "acme", "--diff", "--settings", &proposed]);
    assert_eq!(code(&vs_store), Some(2), "{vs_store:?}");
    assert!(
        vs_store.stderr().contains("--edge"),
        "{}",
        vs_store.stderr()
    );

    // Settings that name the edge: once stored and applied, the edge and the preview agree.
    let own = edge.proxy().to_string();
    let named = format!(r#"{{"proxies": ["{own}"], "direct_exceptions": ["*.corp.example"]}}"#);
    let named = settings_file("named", &named);
    write(node, &["pac", "set", "acme", "--file", &named], WRITE);
    wait_served(&edge, ".corp.example");
    let agreed = node.ctl(&["pac", "show", "acme", "--diff", "--edge", &edge_url]);
    assert_eq!(code(&agreed), Some(0), "{agreed:?}");

    // The store against a proposal: the same settings are no difference; a second edge is.
    let unchanged = node.ctl(&["pac", "show", "acme", "--diff", "--settings", &named]);
    assert_eq!(code(&unchanged), Some(0), "{unchanged:?}");
    let two = format!(r#"{{"proxies": ["{own}", "edge-2.example:3128"]}}"#);
    let two = settings_file("two", &two);
    let grown = node.ctl(&["pac", "show", "acme", "--diff", "--settings", &two]);
    assert_eq!(code(&grown), Some(1), "{grown:?}");
    let diff = unified(&grown);
    assert!(
        diff.starts_with("--- stored settings (tenant version "),
        "{diff}"
    );
    assert!(
        diff.contains(&format!(
            "+var RESULTS = [\"PROXY {own}; PROXY edge-2.example:3128\""
        )),
        "{diff}"
    );
    assert!(
        diff.lines()
            .any(|l| l.starts_with('-') && l.contains(".corp.example")),
        "the exception goes: {diff}"
    );

    // --diff needs something to compare with.
    let alone = node.ctl(&["pac", "show", "acme", "--diff"]);
    assert_eq!(code(&alone), Some(2), "{alone:?}");
}
