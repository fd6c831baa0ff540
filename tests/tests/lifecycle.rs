//! Health, readiness, graceful drain on SIGTERM, and startup failures.

use std::io::ErrorKind;
use std::time::Duration;

use breakout_tests::raw::{RawConn, READ_TIMEOUT};
use breakout_tests::wait::{poll_until, SOON};
use breakout_tests::{Edge, World};

#[test]
fn healthz_and_readyz_are_ok_while_serving() {
    let w = World::start();
    assert_eq!(w.edge.admin_status("/healthz"), Some(200));
    assert_eq!(w.edge.admin_status("/readyz"), Some(200));
}

#[test]
fn sigterm_without_sessions_exits_zero_promptly() {
    let mut w = World::start();
    w.edge.signal("TERM");
    let status = w.edge.wait_exit(SOON);
    assert!(
        status.success(),
        "exit status {status}; stderr:\n{}",
        w.edge.stderr()
    );
}

#[test]
fn sigterm_drains_open_tunnel_then_exits_zero() {
    let mut w = World::start();
    let mut tunnel = w.raw();
    assert_eq!(
        tunnel
            .connect_tunnel(&w.echo_target())
            .expect("CONNECT")
            .status,
        200
    );

    // Phase 1: draining — not ready, no new sessions, the open tunnel keeps working.
    w.edge.signal("TERM");
    let mut readyz = None;
    let draining = poll_until(SOON, || {
        readyz = w.edge.admin_status("/readyz");
        readyz == Some(503)
    });
    assert!(
        draining,
        "/readyz never said 503 while draining; last: {readyz:?} (None: unreachable)"
    );
    assert_new_connection_not_served(&w);
    assert_eq!(
        tunnel.echo(b"during drain").expect("tunnel survives drain"),
        b"during drain"
    );
    assert!(
        !w.edge.has_exited(),
        "edge exited with a session still open"
    );

    // Phase 2: the last session ends, so the edge exits well before drain_grace_ms (30 s).
    drop(tunnel);
    let status = w.edge.wait_exit(SOON);
    assert!(
        status.success(),
        "exit status {status}; stderr:\n{}",
        w.edge.stderr()
    );
}

/// A client arriving during drain is refused (TCP refusal, close, or 503), never left hanging.
fn assert_new_connection_not_served(w: &World) {
    let mut c = match RawConn::connect(w.edge.proxy()) {
        Ok(c) => c,
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => return,
        Err(e) => panic!("unexpected connect error during drain: {e}"),
    };
    let _ = c.send(format!("CONNECT {} HTTP/1.1\r\n\r\n", w.echo_target()).as_bytes());
    match c.read_head() {
        Ok(resp) => assert_eq!(resp.status, 503, "new session during drain: {resp:?}"),
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset
            ) => {}
        Err(e) => panic!("new connection during drain neither refused nor answered: {e}"),
    }
}

#[test]
fn sigterm_closes_sessions_left_open_after_drain_grace() {
    let mut w = World::start_with(|mut c, _| {
        c.drain_grace_ms = 1000;
        c
    });
    let mut tunnel = w.raw();
    assert_eq!(
        tunnel
            .connect_tunnel(&w.echo_target())
            .expect("CONNECT")
            .status,
        200
    );
    w.edge.signal("TERM");
    let status = w.edge.wait_exit(Duration::from_secs(10));
    assert!(
        status.success(),
        "exit status {status}; stderr:\n{}",
        w.edge.stderr()
    );
    tunnel
        .read_to_close(READ_TIMEOUT)
        .expect("tunnel closed by exit");
}

#[test]
fn unparsable_config_at_startup_exits_nonzero() {
    let (status, stderr) = Edge::start_expecting_failure("region = [oops", SOON);
    assert!(
        !status.success(),
        "edge accepted a broken config; stderr:\n{stderr}"
    );
}

#[test]
fn config_with_unknown_action_at_startup_exits_nonzero() {
    let cfg = breakout_tests::EdgeConfig::default().tenant(breakout_tests::Tenant::new(
        "acme",
        "127.0.0.1/32",
        "teleport",
    ));
    let (status, stderr) = Edge::start_expecting_failure(&cfg.to_toml(), SOON);
    assert!(
        !status.success(),
        "edge accepted action `teleport`; stderr:\n{stderr}"
    );
}
