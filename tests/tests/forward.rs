//! Absolute-form HTTP requests through the edge: direct, upstream and block, bodies, keep-alive.

use breakout_tests::assert_refused;
use breakout_tests::origin::{fnv1a, pattern, FNV_INIT};
use breakout_tests::parent_proxy::PARENT_BODY;
use breakout_tests::wait::SOON;
use breakout_tests::{wait_until, Rule, Tenant, World, TENANT};

#[test]
fn direct_request_reaches_origin_in_origin_form_with_host_header() {
    let w = World::start();
    let out = w.curl(&w.origin_url("/path/x?q=1&r=2")).run();
    out.assert_ok();
    assert_eq!(out.status(), 200, "{out:#?}");
    assert_eq!(
        out.header("x-origin"),
        Some("yes"),
        "response must come from the origin"
    );

    let seen = w.origin.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(
        seen[0].uri, "/path/x?q=1&r=2",
        "origin must get origin-form"
    );
    let host = format!("origin.test:{}", w.origin.port());
    assert_eq!(seen[0].header_values("host"), vec![host.as_str()]);
    assert!(
        w.parent.lines().is_empty(),
        "direct must bypass the parent: {:?}",
        w.parent.lines()
    );
}

#[test]
fn direct_request_gets_a_via_header() {
    let w = World::start();
    w.curl(&w.origin_url("/")).run().assert_ok();
    let seen = w.origin.requests();
    assert_eq!(seen.len(), 1);
    assert!(
        !seen[0].header_values("via").is_empty(),
        "no Via header: {:?}",
        seen[0].headers
    );
}

#[test]
fn hop_by_hop_headers_are_stripped_before_origin() {
    let w = World::start();
    let out = w
        .curl(&w.origin_url("/"))
        .header("Connection: keep-alive, X-Conn-Named")
        .header("X-Conn-Named: secret")
        .header("Keep-Alive: timeout=5")
        .header("TE: trailers")
        .header("Proxy-Authorization: Basic dXNlcjpwYXNz")
        .header("Proxy-Connection: keep-alive")
        .header("X-End-To-End: kept")
        .run();
    out.assert_ok();
    assert_eq!(out.status(), 200);

    let seen = &w.origin.requests()[0];
    for h in [
        "x-conn-named",
        "keep-alive",
        "te",
        "proxy-authorization",
        "proxy-connection",
    ] {
        assert!(
            seen.header_values(h).is_empty(),
            "{h} reached the origin: {:?}",
            seen.headers
        );
    }
    for v in seen.header_values("connection") {
        assert!(
            !v.to_ascii_lowercase().contains("x-conn-named"),
            "Connection leaked: {v}"
        );
    }
    assert_eq!(seen.header_values("x-end-to-end"), vec!["kept"]);
}

#[test]
fn origin_error_status_is_passed_through_without_proxy_status() {
    let w = World::start();
    let out = w.curl(&w.origin_url("/status/404")).run();
    assert_eq!(out.status(), 404, "{out:#?}");
    assert_eq!(out.header("x-origin"), Some("yes"));
    assert_eq!(
        out.header("proxy-status"),
        None,
        "the edge did not fail: {out:#?}"
    );
}

#[test]
fn upstream_request_goes_to_parent_in_absolute_form() {
    let w = World::start();
    let out = w.curl("http://upstream.test:1234/some/path?x=1").run();
    out.assert_ok();
    assert_eq!(out.status(), 200, "{out:#?}");
    assert_eq!(out.body_text(), PARENT_BODY);
    assert_eq!(out.header("x-parent"), Some("yes"));
    assert_eq!(
        w.parent.lines(),
        vec!["GET http://upstream.test:1234/some/path?x=1 HTTP/1.1"]
    );
    w.origin.assert_untouched("upstream request");
}

#[test]
fn upstream_request_does_not_leak_client_proxy_credentials() {
    let w = World::start();
    let out = w
        .curl("http://upstream.test:1234/")
        .header("Proxy-Authorization: Basic dXNlcjpwYXNz")
        .run();
    assert_eq!(out.status(), 200, "{out:#?}");
    let reqs = w.parent.requests();
    assert_eq!(reqs.len(), 1);
    assert!(
        !reqs[0]
            .headers
            .iter()
            .any(|(k, _)| k == "proxy-authorization"),
        "client's Proxy-Authorization forwarded to parent: {:?}",
        reqs[0].headers
    );
}

#[test]
fn blocked_request_gets_403_naming_the_rule() {
    let w = World::start();
    let out = w.curl("http://blocked.test/anything").run();
    assert_refused(&out, 403, "http_request_denied");
    assert!(
        out.body_text().contains("deny"),
        "body should name rule `deny`: {:?}",
        out.body_text()
    );
    w.assert_nothing_forwarded("blocked request");
}

#[test]
fn large_request_body_streams_to_origin() {
    let w = World::start();
    let body: Vec<u8> = (0..4_000_000).map(|i| (i * 7 % 256) as u8).collect();
    let file = breakout_tests::tmp::unique_dir("upload").join("body");
    std::fs::write(&file, &body).expect("write body");
    let out = w.curl(&w.origin_url("/upload")).post_file(&file).run();
    out.assert_ok();
    assert_eq!(out.status(), 200, "{out:#?}");
    let seen = &w.origin.requests()[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.body_len, body.len() as u64);
    assert_eq!(
        seen.body_fnv,
        fnv1a(FNV_INIT, &body),
        "body corrupted in transit"
    );
}

#[test]
fn large_response_body_streams_to_client() {
    let w = World::start();
    let n = 5_000_000;
    let out = w.curl(&w.origin_url(&format!("/bytes/{n}"))).run();
    out.assert_ok();
    assert_eq!(out.status(), 200);
    assert_eq!(out.body().len(), n);
    assert!(
        out.body().iter().enumerate().all(|(i, b)| *b == pattern(i)),
        "body corrupted"
    );
}

#[test]
fn two_requests_on_one_client_connection_are_one_session() {
    let w = World::start();
    let out = w
        .curl(&w.origin_url("/one"))
        .also(&w.origin_url("/two"))
        .run();
    out.assert_ok();
    let statuses: Vec<u16> = out.transfers.iter().map(|t| t.status).collect();
    assert_eq!(statuses, vec![200, 200], "{out:#?}");
    assert_eq!(
        out.transfers[1].num_connects, 0,
        "curl had to reconnect: {out:#?}"
    );

    let admitted = "breakout_edge_sessions_admitted_total";
    wait_until(SOON, "two access-log lines", || {
        w.edge.access_log_lines().len() >= 2
    });
    assert_eq!(
        w.edge.counter(admitted, &[("tenant", TENANT)]),
        1.0,
        "{}",
        w.edge.metrics()
    );
    let uris: Vec<String> = w.origin.requests().into_iter().map(|r| r.uri).collect();
    assert_eq!(uris, vec!["/one", "/two"]);
}

#[test]
fn egress_address_is_the_source_of_direct_connections() {
    let w = World::start_with(|c, p| {
        let beta = Tenant::new("beta", "127.0.0.2/32", "block")
            .upstream("corp", p.parent)
            .egress("127.0.0.2")
            .rule(Rule::new("saas", "direct", &["origin.test"]));
        c.tenant(beta)
    });
    w.curl(&w.origin_url("/from-beta"))
        .interface("127.0.0.2")
        .run()
        .assert_ok();
    w.curl(&w.origin_url("/from-acme")).run().assert_ok();

    let seen = w.origin.requests();
    let peer = |uri: &str| {
        seen.iter()
            .find(|r| r.uri == uri)
            .map(|r| r.peer.ip().to_string())
    };
    assert_eq!(peer("/from-beta").as_deref(), Some("127.0.0.2"), "{seen:?}");
    assert_eq!(peer("/from-acme").as_deref(), Some("127.0.0.1"), "{seen:?}");
}
