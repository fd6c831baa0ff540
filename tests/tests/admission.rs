//! Session admission: tenants by source address and exact per-tenant concurrent limits.

use std::net::Ipv4Addr;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use breakout_tests::assert_refused;
use breakout_tests::raw::{RawConn, RawResponse};
use breakout_tests::wait::SOON;
use breakout_tests::{wait_until, Rule, Tenant, World, TENANT};

const ACTIVE: &str = "breakout_edge_sessions_active";
const REFUSED: &str = "breakout_edge_sessions_refused_total";

fn world_with_limit(n: u32) -> World {
    World::start_with(|mut c, _| {
        c.tenant_mut(TENANT).session_limit = n;
        c
    })
}

/// Opens a tunnel to the echo server from `src` and checks it carries bytes.
fn open_tunnel(w: &World, src: Ipv4Addr) -> RawConn {
    let mut c = w.raw_from(src);
    let resp = c.connect_tunnel(&w.echo_target()).expect("CONNECT");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(c.echo(b"ping").expect("echo"), b"ping");
    c
}

fn assert_limit_refusal(resp: &RawResponse, conn: &mut RawConn) {
    assert_refused(resp, 503, "http_request_denied");
    assert!(
        resp.header("retry-after").is_some(),
        "no Retry-After: {resp:?}"
    );
    conn.read_to_close(Duration::from_secs(5))
        .expect("refused connection must be closed");
}

#[test]
fn over_limit_connection_gets_503_and_is_closed() {
    let w = world_with_limit(1);
    let _held = open_tunnel(&w, Ipv4Addr::LOCALHOST);
    let mut c = w.raw();
    let resp = c
        .connect_tunnel(&w.echo_target())
        .expect("CONNECT gets a response");
    assert_limit_refusal(&resp, &mut c);
    assert_eq!(
        w.echo.peers().len(),
        1,
        "refused session reached the target"
    );
}

#[test]
fn over_limit_http_request_gets_503_with_retry_after() {
    let w = world_with_limit(1);
    let _held = open_tunnel(&w, Ipv4Addr::LOCALHOST);
    let out = w.curl(&w.origin_url("/")).run();
    assert_refused(&out, 503, "http_request_denied");
    assert!(out.header("retry-after").is_some(), "{out:#?}");
    assert!(w.origin.requests().is_empty());
    // Counted and logged as the tenant's, with the reason.
    let refusals = [("tenant", TENANT), ("reason", "session_limit")];
    wait_until(SOON, "the refusal counted as acme's", || {
        w.edge.counter("breakout_edge_refusals_total", &refusals) == 1.0
    });
    wait_until(SOON, "the refusal logged as acme's", || {
        w.edge
            .access_log_lines()
            .iter()
            .any(|l| l["status"] == 503 && l["tenant"] == TENANT && l["reason"] == "session_limit")
    });
}

#[test]
fn session_limit_is_exact_under_concurrent_connects() {
    let (limit, clients) = (5, 20);
    let w = world_with_limit(limit);
    let target = w.echo_target();
    let proxy = w.edge.proxy();

    // Phase 1: all clients connect, then all send CONNECT at once.
    let barrier = Arc::new(Barrier::new(clients));
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let (barrier, target) = (barrier.clone(), target.clone());
            std::thread::spawn(move || {
                let conn = RawConn::connect(proxy);
                barrier.wait();
                let mut conn = conn.expect("connect");
                let resp = conn
                    .connect_tunnel(&target)
                    .expect("CONNECT gets a response");
                (resp, conn)
            })
        })
        .collect();
    let mut results: Vec<(RawResponse, RawConn)> = handles
        .into_iter()
        .map(|h| h.join().expect("client thread"))
        .collect();

    // Phase 2: exactly `limit` tunnels, the rest refused and closed.
    let admitted = results.iter().filter(|(r, _)| r.status == 200).count();
    let statuses: Vec<u16> = results.iter().map(|(r, _)| r.status).collect();
    assert_eq!(admitted, limit as usize, "statuses: {statuses:?}");
    for (resp, conn) in results.iter_mut().filter(|(r, _)| r.status != 200) {
        assert_limit_refusal(resp, conn);
    }
    for (_, conn) in results.iter_mut().filter(|(r, _)| r.status == 200) {
        assert_eq!(conn.echo(b"ok").expect("admitted tunnel works"), b"ok");
    }
    let refused = (clients - limit as usize) as f64;
    assert_eq!(
        w.edge
            .counter(REFUSED, &[("tenant", TENANT), ("reason", "limit")]),
        refused
    );

    // Phase 3: closing everything frees every slot.
    drop(results);
    wait_until(SOON, "sessions_active returns to 0", || {
        w.edge.metric(ACTIVE, &[("tenant", TENANT)]) == Some(0.0)
    });
    open_tunnel(&w, Ipv4Addr::LOCALHOST);
}

#[test]
fn released_session_frees_its_slot() {
    let w = world_with_limit(1);
    drop(open_tunnel(&w, Ipv4Addr::LOCALHOST));
    wait_until(SOON, "slot released", || {
        w.edge.metric(ACTIVE, &[("tenant", TENANT)]) == Some(0.0)
    });
    open_tunnel(&w, Ipv4Addr::LOCALHOST);
}

#[test]
fn limits_are_per_tenant() {
    let w = World::start_with(|mut c, p| {
        c.tenant_mut(TENANT).session_limit = 1;
        let beta = Tenant::new("beta", "127.0.0.2/32", "direct")
            .upstream("corp", p.parent)
            .limit(1);
        c.tenant(beta)
    });
    let _acme = open_tunnel(&w, Ipv4Addr::LOCALHOST);
    let _beta = open_tunnel(&w, Ipv4Addr::new(127, 0, 0, 2));
}

#[test]
fn tenant_is_chosen_by_source_address() {
    let w = World::start_with(|c, p| {
        let beta = Tenant::new("beta", "127.0.0.2/32", "upstream:corp")
            .upstream("corp", p.parent)
            .rule(Rule::new("all-direct", "direct", &["blocked.test"]));
        c.tenant(beta)
    });
    let url = w.url_via("blocked.test", "/");
    let acme = w.curl(&url).run();
    let beta = w.curl(&url).interface("127.0.0.2").run();
    assert_eq!(acme.status(), 403, "acme blocks blocked.test: {acme:#?}");
    assert_eq!(
        beta.status(),
        200,
        "beta sends blocked.test direct: {beta:#?}"
    );
    assert_eq!(beta.header("x-origin"), Some("yes"));
    wait_until(SOON, "two access-log lines", || {
        w.edge.access_log_lines().len() >= 2
    });
    let mut tenants: Vec<String> = w
        .edge
        .access_log_lines()
        .iter()
        .map(|l| l["tenant"].as_str().unwrap_or("").into())
        .collect();
    tenants.sort();
    assert_eq!(tenants, vec!["acme", "beta"]);
}

#[test]
fn client_source_inside_a_cidr_is_admitted() {
    let w = World::start_with(|c, p| {
        let wide = Tenant::new("wide", "127.0.8.0/24", "direct").upstream("corp", p.parent);
        c.tenant(wide)
    });
    let out = w.curl(&w.origin_url("/")).interface("127.0.8.77").run();
    assert_eq!(out.status(), 200, "{out:#?}");
    assert_eq!(out.header("x-origin"), Some("yes"));
}
