//! The JSON access log: one line per request or tunnel, with every documented key.

use breakout_tests::wait::SOON;
use breakout_tests::{wait_for, wait_until, World};
use serde_json::Value;

const KEYS: [&str; 14] = [
    "ts",
    "tenant",
    "client",
    "method",
    "host",
    "port",
    "action",
    "rule",
    "status",
    "result",
    "reason",
    "bytes_up",
    "bytes_down",
    "duration_ms",
];

fn one_line(w: &World) -> Value {
    let lines = wait_for(SOON, "an access-log line", || {
        let l = w.edge.access_log_lines();
        (!l.is_empty()).then_some(l)
    });
    assert_eq!(lines.len(), 1, "{lines:#?}");
    lines.into_iter().next().expect("one line")
}

fn assert_all_keys(line: &Value) {
    for k in KEYS {
        assert!(line.get(k).is_some(), "access-log line lacks `{k}`: {line}");
    }
}

#[test]
fn request_writes_one_json_line_with_all_keys() {
    let w = World::start();
    w.curl(&w.origin_url("/bytes/1000")).run().assert_ok();
    let line = one_line(&w);
    assert_all_keys(&line);
    assert_eq!(line["tenant"], "acme", "{line}");
    assert_eq!(line["method"], "GET", "{line}");
    assert_eq!(line["host"], "origin.test", "{line}");
    assert_eq!(line["port"], w.origin.port(), "{line}");
    assert_eq!(line["action"], "direct", "{line}");
    assert_eq!(line["rule"], "saas", "{line}");
    assert_eq!(line["status"], 200, "{line}");
    assert_eq!(line["result"], "ok", "{line}");
    assert!(line["reason"].is_null(), "{line}");
    assert!(
        line["client"]
            .as_str()
            .is_some_and(|c| c.starts_with("127.0.0.1")),
        "{line}"
    );
    assert!(
        line["bytes_down"].as_u64().is_some_and(|b| b >= 1000),
        "{line}"
    );
}

#[test]
fn tunnel_writes_one_line_when_it_closes() {
    let w = World::start();
    let mut c = w.raw();
    assert_eq!(
        c.connect_tunnel(&w.echo_target()).expect("CONNECT").status,
        200
    );
    let data = vec![b'x'; 5000];
    assert_eq!(c.echo(&data).expect("echo"), data);
    drop(c);
    let line = one_line(&w);
    assert_all_keys(&line);
    assert_eq!(line["method"], "CONNECT", "{line}");
    assert_eq!(line["host"], "echo.test", "{line}");
    assert_eq!(line["port"], w.echo.port(), "{line}");
    assert_eq!(line["action"], "direct", "{line}");
    assert_eq!(line["status"], 200, "{line}");
    assert!(
        line["bytes_up"].as_u64().is_some_and(|b| b >= 5000),
        "{line}"
    );
    assert!(
        line["bytes_down"].as_u64().is_some_and(|b| b >= 5000),
        "{line}"
    );
}

#[test]
fn blocked_request_line_names_the_rule() {
    let w = World::start();
    assert_eq!(w.curl("http://blocked.test/").run().status(), 403);
    let line = one_line(&w);
    assert_eq!(line["action"], "block", "{line}");
    assert_eq!(line["rule"], "deny", "{line}");
    assert_eq!(line["status"], 403, "{line}");
    assert_eq!(line["result"], "refused", "{line}");
    assert_eq!(line["reason"], "blocked_by_rule", "{line}");
}

#[test]
fn a_failed_request_line_gives_the_reason() {
    let w = World::start_with(|mut c, _| {
        c.tenant_mut("acme").default_action = "direct".into();
        c
    });
    assert_eq!(w.curl("http://no-such-host.invalid/").run().status(), 502);
    let line = one_line(&w);
    assert_eq!(line["action"], "direct", "{line}");
    assert_eq!(line["status"], 502, "{line}");
    assert_eq!(line["result"], "upstream_error", "{line}");
    assert_eq!(line["reason"], "dns_error", "{line}");
}

#[test]
fn access_log_can_go_to_a_file() {
    let path = breakout_tests::tmp::unique_dir("access-log").join("access.log");
    let p = path.to_string_lossy().into_owned();
    let w = World::start_with(|mut c, _| {
        c.access_log = p;
        c
    });
    w.curl(&w.origin_url("/")).run().assert_ok();
    wait_until(SOON, "a line in the access-log file", || {
        std::fs::read_to_string(&path).is_ok_and(|t| {
            t.lines()
                .any(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| v["tenant"] == "acme"))
        })
    });
    assert!(
        w.edge.access_log_lines().is_empty(),
        "stdout still has access-log lines"
    );
}

#[test]
fn access_log_off_writes_no_lines() {
    let w = World::start_with(|mut c, _| {
        c.access_log = "off".into();
        c
    });
    w.curl(&w.origin_url("/")).run().assert_ok();
    let counted = || {
        w.edge.counter_sum(
            "breakout_edge_requests_total",
            &[("tenant", "acme"), ("action", "direct"), ("result", "ok")],
        )
    };
    wait_until(SOON, "request counted", || counted() == 1.0);
    assert!(
        w.edge.access_log_lines().is_empty(),
        "{:?}",
        w.edge.access_log_lines()
    );
}
