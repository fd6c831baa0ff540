//! Source addresses at accept (issue #13 item 7): an address no tenant registered is closed at
//! once (art. 8), and one address's connections waiting to send a request head are capped,
//! without affecting other sources.

use std::net::Ipv4Addr;
use std::time::Duration;

use breakout_tests::assert_refused;
use breakout_tests::limits::{open_files, raise_open_files};
use breakout_tests::raw::RawConn;
use breakout_tests::wait::SOON;
use breakout_tests::{wait_until, Tenant, World, TENANT};

const REFUSALS: &str = "breakout_edge_refusals_total";
const SESSIONS_REFUSED: &str = "breakout_edge_sessions_refused_total";
const SLOW: usize = 1000;

#[test]
fn a_thousand_slow_connections_from_an_unregistered_source_hold_no_descriptors() {
    let w = World::start();
    assert!(
        raise_open_files(SLOW as u64 + 512) > SLOW as u64,
        "open-file limit"
    );
    let before = open_files(w.edge.pid());

    // Phase: 1,000 connections from an address no tenant registered, sending nothing.
    let stranger = Ipv4Addr::new(127, 0, 0, 9);
    let mut slow: Vec<RawConn> = (0..SLOW)
        .map(|i| {
            RawConn::connect_from(stranger, w.edge.proxy())
                .unwrap_or_else(|e| panic!("connection {i}: {e}"))
        })
        .collect();

    // Phase: each is closed by the edge without a byte, long before the 10 s head timeout,
    // while this side still holds all of them open.
    for (i, c) in slow.iter_mut().enumerate() {
        assert!(
            c.closed_unanswered(Duration::from_secs(3)),
            "connection {i} held"
        );
    }
    let during = open_files(w.edge.pid());
    assert!(
        during < before + 50,
        "the edge holds {during} descriptors (was {before}) with {SLOW} slow strangers"
    );
    let unregistered = [("tenant", ""), ("reason", "unregistered_source")];
    assert_eq!(w.edge.counter(REFUSALS, &unregistered), SLOW as f64);
    let unknown = [("tenant", ""), ("reason", "unknown_source")];
    assert_eq!(w.edge.counter(SESSIONS_REFUSED, &unknown), SLOW as f64);

    // Phase: the tenant is served as before.
    assert_eq!(w.curl(&w.origin_url("/")).run().status(), 200);
    drop(slow);
}

#[test]
fn the_per_source_cap_holds_and_other_sources_are_unaffected() {
    const CAP: usize = 5;
    let w = World::start_with(|mut c, p| {
        c.max_pending_per_source = CAP as u32;
        c.tenant(Tenant::new("beta", "127.0.0.2/32", "direct").upstream("corp", p.parent))
    });

    // Phase: acme's address opens CAP connections and sends nothing on them.
    let mut slow: Vec<RawConn> = (0..CAP).map(|_| w.raw()).collect();

    // Phase: one more from the same address is refused at accept (429, then closed), before
    // it sends anything; another tenant's address is served.
    let mut over = w.raw();
    let resp = over.read_head().expect("the refusal");
    assert_refused(&resp, 429, "http_request_denied");
    assert!(resp.header("retry-after").is_some(), "{resp:?}");
    assert!(over.read_to_close(Duration::from_secs(3)).is_ok());
    let beta = w.curl(&w.origin_url("/")).interface("127.0.0.2").run();
    assert_eq!(beta.status(), 200, "{beta:#?}");

    // Phase: one waiting connection sends its head: its place is given back, and the address
    // may connect again.
    let tunnel = slow[0].connect_tunnel(&w.echo_target()).expect("CONNECT");
    assert_eq!(tunnel.status, 200, "{tunnel:?}");
    assert_eq!(w.curl(&w.origin_url("/")).run().status(), 200);

    let limited = [("tenant", TENANT), ("reason", "source_connection_limit")];
    wait_until(SOON, "the refusal is counted", || {
        w.edge.counter(REFUSALS, &limited) == 1.0
    });
    let sessions = [("tenant", TENANT), ("reason", "source_limit")];
    assert_eq!(w.edge.counter(SESSIONS_REFUSED, &sessions), 1.0);
    drop(slow);
}

#[test]
fn a_head_sent_one_byte_at_a_time_keeps_its_place_until_complete() {
    let w = World::start_with(|mut c, _| {
        c.max_pending_per_source = 1;
        c
    });
    let mut trickle = w.raw();
    let head = format!("CONNECT {} HTTP/1.1\r\n", w.echo_target());
    for b in head.as_bytes() {
        trickle.send(&[*b]).expect("a byte");
    }
    // Still waiting for the end of the head: a second connection is refused.
    let mut second = w.raw();
    assert_eq!(second.read_head().expect("refusal").status, 429);
    trickle.send(b"\r\n").expect("end of head");
    assert_eq!(trickle.read_head().expect("answer").status, 200);
    let mut third = w.raw();
    let resp = third.connect_tunnel(&w.echo_target()).expect("CONNECT");
    assert_eq!(resp.status, 200, "the place came back: {resp:?}");
}
