//! `breakout-control dev`: the single-machine deployment starts a control plane and an edge,
//! puts the demo tenant in service through the API, proxies for 127.0.0.1 (a local origin
//! direct, the demo blocklist refused), and leaves no process behind when stopped.

use breakout_tests::dev::{read, Dev};
use breakout_tests::tmp::unique_dir;
use breakout_tests::{Curl, Origin};

/// Processes whose command line mentions `needle` (the test's unique directory).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push(format!(
                "{}: {cmdline}",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    found
}

#[test]
fn dev_serves_the_demo_tenant_and_stops_cleanly() {
    let dir = unique_dir("breakout-dev");
    let origin = Origin::start();
    let mut dev = Dev::start(&dir);
    let proxy = format!("http://{}", dev.addr("proxy"));

    // A local origin: direct (the test-only local-origins rule).
    let url = format!("http://127.0.0.1:{}/hello", origin.port());
    let out = Curl::new(&url).proxy(&proxy).run();
    assert_eq!(out.status(), 200, "{out:?}");
    assert_eq!(origin.requests().len(), 1);

    // The demo blocklist: refused at the edge, naming the rule.
    let out = Curl::new("http://blocked.example.net/").proxy(&proxy).run();
    assert_eq!(out.status(), 403, "{out:?}");
    let status = out.header("proxy-status").unwrap_or_default().to_string();
    assert!(status.contains("access-control"), "{status}");

    // The tenant is in service with its contracts; the edge is listed, current.
    let tenant = dev.ctl(&["tenant", "get", "demo"]);
    assert_eq!(tenant["effective"]["in_service"], true, "{tenant}");
    assert_eq!(tenant["effective"]["session_limit"], 20000, "{tenant}");
    let edges = dev.ctl(&["edge", "list"]);
    assert_eq!(edges["items"][0]["edge_id"], "local-1", "{edges}");
    assert_eq!(edges["items"][0]["region"], "local", "{edges}");

    // The control plane's metrics are on their own listener, not the API's.
    let metrics = format!("http://{}/metrics", dev.addr("metrics"));
    let out = Curl::new(&metrics).run();
    assert_eq!(out.status(), 200, "{out:?}");
    assert!(
        out.body_text()
            .contains("breakout_control_edges_connected{region=\"local\"} 1"),
        "{out:?}"
    );
    let on_api = Curl::new(&format!("http://{}/metrics", dev.addr("api"))).run();
    assert_eq!(on_api.status(), 404, "{on_api:?}");

    // Every feature shows: the PAC served by the edge, a bill from the sample price book, the
    // console, explain.
    let pac = Curl::new(&format!("http://{}/pac/demo.pac", dev.addr("proxy"))).run();
    assert_eq!(pac.status(), 200, "{pac:?}");
    assert!(pac.body_text().contains("FindProxyForURL"), "{pac:?}");
    let bill = dev.ctl(&["billing", "preview", "demo"]);
    assert!(bill.is_object(), "{bill}");
    let console = Curl::new(&format!("http://{}/ui/login", dev.addr("api"))).run();
    assert_eq!(console.status(), 200, "{console:?}");
    let explained = dev.ctl(&["explain", "demo", "blocked.example.net"]);
    assert_eq!(explained["decision"], "block", "{explained}");

    // Templates have versions: dev serves the shipped vendor lists to its own poller on
    // loopback, and the demo tenant subscribes to microsoft365.
    let templates = dev.ctl(&["template", "list"]);
    for item in ["microsoft365", "azure-expressroute", "google-workspace"] {
        let row = templates["items"]
            .as_array()
            .and_then(|items| items.iter().find(|i| i["item"] == item))
            .unwrap_or_else(|| panic!("{item} in {templates}"));
        assert!(row["live"]["number"].is_u64(), "{item}: {row}");
    }
    let shown = dev.ctl(&["template", "show", "microsoft365"]);
    assert!(
        shown.to_string().contains("outlook.office365.com"),
        "{shown}"
    );
    let subs = dev.ctl(&["template", "subscriptions", "demo"]);
    assert_eq!(subs["items"][0]["item"], "microsoft365", "{subs}");

    // -o yaml: the same answer as YAML.
    let yaml = dev.ctl_text(&["-o", "yaml", "edge", "list"]);
    assert!(yaml.starts_with("items:\n  - "), "{yaml}");
    assert!(yaml.contains("\n    edge_id: local-1\n"), "{yaml}");

    // Stopped with SIGTERM: the edge child goes too.
    let needle = dir.display().to_string();
    assert!(
        processes_mentioning(&needle).len() >= 2,
        "dev and its edge run"
    );
    let before = dev.ctl(&["tenant", "get", "demo"]);
    dev.stop();
    let left = processes_mentioning(&needle);
    assert!(left.is_empty(), "processes left behind: {left:?}");

    // A restart on the same directory is idempotent: the tenant is kept and served again.
    let mut dev = Dev::start(&dir);
    let out = Curl::new(&url)
        .proxy(&format!("http://{}", dev.addr("proxy")))
        .run();
    assert_eq!(out.status(), 200, "{out:?}");
    let tenant = dev.ctl(&["tenant", "get", "demo"]);
    assert_eq!(
        before["changed_version"], tenant["changed_version"],
        "a restart changes nothing: {tenant}"
    );

    // SIGKILL cannot stop the edge child; the next start stops what it left.
    let orphan = read(&dir.join("data/edge.pid")).trim().to_string();
    assert!(alive(&orphan), "the edge runs");
    dev.kill9();
    assert!(alive(&orphan), "SIGKILL leaves the edge");
    let mut dev = Dev::start(&dir);
    assert!(
        !alive(&orphan),
        "the next start stopped the edge left behind"
    );
    dev.stop();
    let left = processes_mentioning(&needle);
    assert!(left.is_empty(), "processes left behind: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `pid` is a live process (not a zombie waiting for its parent).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| Some(stat.rsplit_once(')')?.1.trim_start().starts_with('Z')))
        .is_some_and(|zombie| !zombie)
}
