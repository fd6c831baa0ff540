//! The admin listener's Prometheus metrics: families present, counters counting.

use std::net::Ipv4Addr;

use breakout_tests::metrics::has_family;
use breakout_tests::wait::SOON;
use breakout_tests::{wait_until, World, TENANT};

const REQUESTS: &str = "breakout_edge_requests_total";
const BYTES: &str = "breakout_edge_bytes_total";
const ACTIVE: &str = "breakout_edge_sessions_active";
const REFUSED: &str = "breakout_edge_sessions_refused_total";
const REFUSALS: &str = "breakout_edge_refusals_total";

/// One direct, one upstream and one blocked request, plus one refused unknown source.
fn mixed_traffic(w: &World) {
    assert_eq!(w.curl(&w.origin_url("/")).run().status(), 200);
    assert_eq!(w.curl("http://upstream.test:1234/").run().status(), 200);
    assert_eq!(w.curl("http://blocked.test/").run().status(), 403);
    let unknown = w.curl(&w.origin_url("/")).interface("127.0.0.9").run();
    assert_eq!(unknown.status(), 0, "closed unanswered");
}

#[test]
fn all_metric_families_are_exposed() {
    let w = World::start();
    mixed_traffic(&w);
    let text = w.edge.metrics();
    for family in [
        "breakout_edge_sessions_active",
        "breakout_edge_sessions_admitted_total",
        "breakout_edge_sessions_refused_total",
        "breakout_edge_requests_total",
        "breakout_edge_refusals_total",
        "breakout_edge_bytes_total",
        "breakout_edge_connect_duration_seconds",
        "breakout_edge_dns_duration_seconds",
        "breakout_edge_config_generation",
        "breakout_edge_config_reloads_total",
        "breakout_edge_request_duration_seconds",
        "breakout_edge_sync_last_contact_timestamp_seconds",
        "breakout_build_info",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_resident_memory_bytes",
    ] {
        assert!(
            has_family(&text, family),
            "missing family {family} in:\n{text}"
        );
    }
}

#[test]
fn build_info_names_the_version() {
    let w = World::start();
    let text = w.edge.metrics();
    let info = breakout_tests::metrics::parse(&text)
        .into_iter()
        .find(|s| s.name == "breakout_build_info")
        .unwrap_or_else(|| panic!("no build info in:\n{text}"));
    assert_eq!(info.value, 1.0);
    assert_eq!(
        info.labels.get("version").map(String::as_str),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert!(info.labels.contains_key("commit"), "{info:?}");
    let standalone = breakout_tests::metrics::find(
        &text,
        "breakout_edge_sync_last_contact_timestamp_seconds",
        &[],
    );
    assert_eq!(
        standalone,
        Some(0.0),
        "a standalone edge has no control plane"
    );
}

#[test]
fn whole_request_durations_are_observed_per_kind() {
    let w = World::start();
    w.curl(&w.origin_url("/")).run().assert_ok();
    let mut c = w.raw();
    assert_eq!(
        c.connect_tunnel(&w.echo_target()).expect("CONNECT").status,
        200
    );
    assert_eq!(c.echo(b"ping").expect("echo"), b"ping");
    drop(c);
    let count = |kind| {
        w.edge.counter(
            "breakout_edge_request_duration_seconds_count",
            &[("kind", kind)],
        )
    };
    wait_until(
        SOON,
        "the tunnel's duration is observed when it closes",
        || count("tunnel") == 1.0,
    );
    assert_eq!(count("forward"), 1.0, "{}", w.edge.metrics());
}

#[test]
fn config_generation_starts_at_one() {
    let w = World::start();
    assert_eq!(
        w.edge.metric("breakout_edge_config_generation", &[]),
        Some(1.0)
    );
}

#[test]
fn requests_are_counted_by_tenant_action_class_and_result() {
    let w = World::start();
    mixed_traffic(&w);
    assert_eq!(w.curl(&w.origin_url("/again")).run().status(), 200);
    let count = |action, class, result| {
        w.edge.counter(
            REQUESTS,
            &[
                ("tenant", TENANT),
                ("action", action),
                ("class", class),
                ("result", result),
            ],
        )
    };
    wait_until(SOON, "direct requests counted", || {
        count("direct", "2xx", "ok") == 2.0
    });
    let text = w.edge.metrics();
    assert_eq!(count("upstream", "2xx", "ok"), 1.0, "{text}");
    assert_eq!(count("block", "4xx", "refused"), 1.0, "{text}");
    let unregistered = [("tenant", ""), ("reason", "unregistered_source")];
    assert_eq!(w.edge.counter(REFUSALS, &unregistered), 1.0, "{text}");
    let none = [("tenant", "")];
    assert_eq!(
        w.edge.counter_sum(REQUESTS, &none),
        0.0,
        "no request was read: {text}"
    );
}

#[test]
fn refusals_and_upstream_errors_are_told_apart() {
    let w = World::start_with(|mut c, _| {
        c.tenant_mut(TENANT).default_action = "direct".into();
        c.allow_private_destinations = false;
        c
    });
    // Refused by the destination guard, failed by DNS, refused by a rule.
    assert_eq!(w.curl("http://127.0.0.1:1/").run().status(), 403);
    assert_eq!(w.curl("http://no-such-host.invalid/").run().status(), 502);
    assert_eq!(w.curl("http://blocked.test/").run().status(), 403);
    let text = w.edge.metrics();
    let result = |r| breakout_tests::metrics::sum(&text, REQUESTS, &[("result", r)]);
    assert_eq!(result("refused"), 2.0, "{text}");
    assert_eq!(result("upstream_error"), 1.0, "{text}");
    let reason =
        |r| breakout_tests::metrics::find(&text, REFUSALS, &[("tenant", TENANT), ("reason", r)]);
    assert_eq!(reason("destination_ip_prohibited"), Some(1.0), "{text}");
    assert_eq!(reason("dns_error"), Some(1.0), "{text}");
    assert_eq!(reason("blocked_by_rule"), Some(1.0), "{text}");
}

#[test]
fn bytes_are_counted_in_both_directions() {
    let w = World::start();
    let file = breakout_tests::tmp::unique_dir("upload").join("body");
    std::fs::write(&file, vec![7u8; 1_000_000]).expect("write body");
    w.curl(&w.origin_url("/up"))
        .post_file(&file)
        .run()
        .assert_ok();
    w.curl(&w.origin_url("/bytes/1000000")).run().assert_ok();
    let bytes = |dir| {
        w.edge
            .counter(BYTES, &[("tenant", TENANT), ("direction", dir)])
    };
    wait_until(SOON, "bytes counted both ways", || {
        bytes("up") >= 1_000_000.0 && bytes("down") >= 1_000_000.0
    });
}

#[test]
fn connect_durations_are_observed_per_kind() {
    let w = World::start();
    mixed_traffic(&w);
    let count = "breakout_edge_connect_duration_seconds_count";
    let text = w.edge.metrics();
    let origin = breakout_tests::metrics::find(&text, count, &[("kind", "origin")]);
    let upstream = breakout_tests::metrics::find(&text, count, &[("kind", "upstream")]);
    assert!(
        origin.is_some_and(|c| c >= 1.0),
        "origin connects not observed:\n{text}"
    );
    assert!(
        upstream.is_some_and(|c| c >= 1.0),
        "upstream connects not observed:\n{text}"
    );
}

#[test]
fn sessions_active_tracks_open_connections() {
    let w = World::start();
    let tunnels: Vec<_> = (0..3)
        .map(|_| {
            let mut c = w.raw();
            assert_eq!(
                c.connect_tunnel(&w.echo_target()).expect("CONNECT").status,
                200
            );
            c
        })
        .collect();
    let active = || w.edge.metric(ACTIVE, &[("tenant", TENANT)]);
    wait_until(SOON, "3 active sessions", || active() == Some(3.0));
    drop(tunnels);
    wait_until(SOON, "0 active sessions", || active() == Some(0.0));
}

#[test]
fn refusals_are_counted_by_reason() {
    let w = World::start_with(|mut c, _| {
        c.tenant_mut(TENANT).session_limit = 1;
        c
    });
    let mut held = w.raw();
    assert_eq!(
        held.connect_tunnel(&w.echo_target())
            .expect("CONNECT")
            .status,
        200
    );
    let mut over = w.raw();
    assert_eq!(
        over.connect_tunnel(&w.echo_target())
            .expect("CONNECT")
            .status,
        503
    );
    let mut unknown = w.raw_from(Ipv4Addr::new(127, 0, 0, 9));
    assert!(unknown.closed_unanswered(std::time::Duration::from_secs(5)));

    let text = w.edge.metrics();
    let find = |labels: &[(&str, &str)]| breakout_tests::metrics::find(&text, REFUSED, labels);
    assert_eq!(
        find(&[("tenant", TENANT), ("reason", "limit")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        find(&[("tenant", ""), ("reason", "unknown_source")]),
        Some(1.0),
        "{text}"
    );
}
