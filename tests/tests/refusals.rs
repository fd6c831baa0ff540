//! Requests the edge must refuse, with the RFC 9209 Proxy-Status type and nothing forwarded.

use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

use breakout_tests::raw::exchange_from;
use breakout_tests::{Tenant, World, TENANT};

/// A port on 127.0.0.1 with nothing listening.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn unknown_source_is_closed_unanswered_and_nothing_is_forwarded() {
    let w = World::start();
    let out = w.curl(&w.origin_url("/")).interface("127.0.0.9").run();
    assert_eq!(out.status(), 0, "closed before any answer: {out:#?}");
    w.assert_nothing_forwarded("unknown source");
}

#[test]
fn unknown_source_connect_is_closed_before_its_head_is_read() {
    let w = World::start();
    let mut c = w.raw_from(Ipv4Addr::new(127, 0, 0, 9));
    // Nothing sent: the edge closes at accept, not at the head timeout.
    assert!(c.closed_unanswered(Duration::from_secs(5)));
    w.assert_nothing_forwarded("unknown source CONNECT");
}

#[test]
fn connect_to_port_not_allowed_gets_403() {
    let w = World::start_with(|mut c, _| {
        c.allowed_connect_ports = vec![443];
        c
    });
    let mut c = w.raw();
    let resp = c.connect_tunnel(&w.echo_target()).expect("CONNECT");
    assert_eq!(resp.status, 403, "{resp:?}");
    assert_eq!(
        resp.proxy_status_error().as_deref(),
        Some("http_request_denied"),
        "{resp:?}"
    );
    w.assert_nothing_forwarded("CONNECT to disallowed port");
}

/// Standard world but private destinations are not allowed and acme goes direct by default.
fn world_without_private() -> World {
    World::start_with(|mut c, p| {
        c.allow_private_destinations = false;
        c.connect_timeout_ms = 1000;
        c.tenants = vec![Tenant::new(TENANT, "127.0.0.1/32", "direct").upstream("corp", p.parent)];
        c
    })
}

#[test]
fn private_destinations_are_refused_in_every_spelling() {
    let w = world_without_private();
    let port = w.origin.port();
    let hosts = [
        "127.0.0.1",
        "2130706433",
        "0x7f.1",
        "0x7f000001",
        "0177.0.0.1",
        "127.1",
        "localhost",
        "origin.test",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "0.0.0.0",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
    ];
    for host in hosts {
        let req = format!("GET http://{host}:{port}/ HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n");
        let resp = exchange_from(Ipv4Addr::LOCALHOST, w.edge.proxy(), &req)
            .unwrap_or_else(|e| panic!("{host}: no response: {e}"));
        assert_eq!(resp.status, 403, "{host}: {resp:?}");
        let err = resp.proxy_status_error();
        assert_eq!(
            err.as_deref(),
            Some("destination_ip_prohibited"),
            "{host}: {resp:?}"
        );
    }
    w.origin.assert_untouched("private destinations");
}

#[test]
fn connect_to_private_destination_is_refused() {
    let w = world_without_private();
    for target in [format!("127.0.0.1:{}", w.echo.port()), w.echo_target()] {
        let mut c = w.raw();
        let resp = c.connect_tunnel(&target).expect("CONNECT");
        assert_eq!(resp.status, 403, "{target}: {resp:?}");
        let err = resp.proxy_status_error();
        assert_eq!(
            err.as_deref(),
            Some("destination_ip_prohibited"),
            "{target}: {resp:?}"
        );
    }
    assert!(
        w.echo.peers().is_empty(),
        "echo reached: {:?}",
        w.echo.peers()
    );
}

#[test]
fn unresolvable_name_gets_502_dns_error() {
    let w = World::start_with(|mut c, _| {
        c.tenant_mut(TENANT).default_action = "direct".into();
        c
    });
    let out = w.curl("http://no-such-host.invalid/").run();
    assert_eq!(out.status(), 502, "{out:#?}");
    assert_eq!(
        out.proxy_status_error().as_deref(),
        Some("dns_error"),
        "{out:#?}"
    );
}

#[test]
fn refused_origin_connection_gets_502_connection_refused() {
    let w = World::start();
    let out = w
        .curl(&format!("http://origin.test:{}/", closed_port()))
        .run();
    assert_eq!(out.status(), 502, "{out:#?}");
    assert_eq!(
        out.proxy_status_error().as_deref(),
        Some("connection_refused"),
        "{out:#?}"
    );
}

#[test]
fn connect_to_closed_port_gets_502_connection_refused() {
    let port = closed_port();
    let w = World::start_with(|c, _| c.connect_port(port));
    let mut c = w.raw();
    let resp = c
        .connect_tunnel(&format!("origin.test:{port}"))
        .expect("CONNECT");
    assert_eq!(resp.status, 502, "{resp:?}");
    assert_eq!(
        resp.proxy_status_error().as_deref(),
        Some("connection_refused"),
        "{resp:?}"
    );
}

#[test]
fn unreachable_parent_gets_502_connection_refused() {
    let port = closed_port();
    let w = World::start_with(|mut c, _| {
        c.tenant_mut(TENANT).upstreams = vec![("corp".into(), ([127, 0, 0, 1], port).into())];
        c
    });
    let out = w.curl("http://upstream.test:1234/").run();
    assert_eq!(out.status(), 502, "{out:#?}");
    assert_eq!(
        out.proxy_status_error().as_deref(),
        Some("connection_refused"),
        "{out:#?}"
    );
}
