//! Time limits: slow request heads and idle tunnels are cut off, and their slots freed.

use std::time::Duration;

use breakout_tests::wait::SOON;
use breakout_tests::{wait_until, World, TENANT};

const ACTIVE: &str = "breakout_edge_sessions_active";

#[test]
fn slow_request_head_is_cut_off_after_header_read_timeout() {
    let w = World::start_with(|mut c, _| {
        c.header_read_timeout_ms = 500;
        c
    });
    let mut c = w.raw();
    c.send(b"GET http://origin.test/ HTTP/1.1\r\nHost: orig")
        .expect("send partial head");
    // Whatever the edge says (408 or nothing), it must hang up well within the deadline.
    c.read_to_close(Duration::from_secs(5))
        .expect("slow head must be cut off");
    wait_until(SOON, "slot freed", || {
        w.edge.metric(ACTIVE, &[("tenant", TENANT)]) == Some(0.0)
    });
    w.origin.assert_untouched("slow head");
}

#[test]
fn idle_tunnel_is_closed_after_tunnel_idle_timeout() {
    let w = World::start_with(|mut c, _| {
        c.tunnel_idle_timeout_ms = 500;
        c
    });
    let mut c = w.raw();
    assert_eq!(
        c.connect_tunnel(&w.echo_target()).expect("CONNECT").status,
        200
    );
    assert_eq!(c.echo(b"awake").expect("echo"), b"awake");
    c.read_to_close(Duration::from_secs(5))
        .expect("idle tunnel must be closed");
    wait_until(SOON, "slot freed", || {
        w.edge.metric(ACTIVE, &[("tenant", TENANT)]) == Some(0.0)
    });
}

#[test]
fn busy_tunnel_outlives_tunnel_idle_timeout() {
    let w = World::start_with(|mut c, _| {
        c.tunnel_idle_timeout_ms = 500;
        c
    });
    let mut c = w.raw();
    assert_eq!(
        c.connect_tunnel(&w.echo_target()).expect("CONNECT").status,
        200
    );
    // Traffic every ~100 ms for ~2 s (4x the idle timeout) keeps the tunnel alive.
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        assert_eq!(c.echo(b"tick").expect("busy tunnel stays open"), b"tick");
        std::thread::sleep(Duration::from_millis(100));
    }
}
