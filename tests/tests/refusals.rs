//! Requests the edge must refuse, with the RFC 9209 Proxy-Status type and nothing forwarded.

use std::net::Ipv4Addr;
use std::time::Duration;

use breakout_tests::raw::exchange_from;
use breakout_tests::{assert_refused, Tenant, World, TENANT};

/// A port on 127.0.0.1 with nothing listening, held for as long as the socket lives: bound
/// but never listening, so a connection to it is refused and no other socket of the parallel
/// tests can take it. (A listener bound and dropped gave its port back, and once a test's
/// server bound it between the drop and the connection the CONNECT got 200.)
fn closed_port() -> (socket2::Socket, u16) {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let addr = std::net::SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    socket.bind(&addr.into()).expect("bind");
    let port = socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("addr")
        .port();
    (socket, port)
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
    let resp = w.raw().connect_tunnel(&w.echo_target()).expect("CONNECT");
    assert_refused(&resp, 403, "http_request_denied");
    w.assert_nothing_forwarded("CONNECT to disallowed port");
}

/// Standard world but private destinations are not allowed and acme goes direct by default.
fn world_without_private(full_error_details: bool) -> World {
    World::start_with(move |mut c, p| {
        c.allow_private_destinations = false;
        c.full_error_details = full_error_details;
        c.connect_timeout_ms = 1000;
        c.tenants = vec![Tenant::new(TENANT, "127.0.0.1/32", "direct").upstream("corp", p.parent)];
        c
    })
}

#[test]
fn private_destinations_are_refused_in_every_spelling() {
    let w = world_without_private(false);
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
        assert_refused(&resp, 403, "destination_ip_prohibited");
    }
    w.origin.assert_untouched("private destinations");
}

#[test]
fn connect_to_private_destination_is_refused() {
    let w = world_without_private(false);
    for target in [format!("127.0.0.1:{}", w.echo.port()), w.echo_target()] {
        let resp = w.raw().connect_tunnel(&target).expect("CONNECT");
        assert_refused(&resp, 403, "destination_ip_prohibited");
    }
    assert!(
        w.echo.peers().is_empty(),
        "echo reached: {:?}",
        w.echo.peers()
    );
}

#[test]
fn clients_are_not_told_the_addresses_a_name_resolved_to() {
    // origin.test resolves to 127.0.0.1 (a static host): the client asked for the name.
    let w = world_without_private(false);
    let out = w.curl(&w.origin_url("/")).run();
    let details = assert_refused(&out, 403, "destination_ip_prohibited");
    assert!(details.contains("origin.test"), "{details}");
    assert!(!details.contains("127.0.0.1"), "{details}");
    assert!(
        !out.body_text().contains("127.0.0.1"),
        "{}",
        out.body_text()
    );

    // With full details on (debugging), the address is named.
    let debug = world_without_private(true);
    let out = debug.curl(&debug.origin_url("/")).run();
    let details = assert_refused(&out, 403, "destination_ip_prohibited");
    assert!(details.contains("127.0.0.1"), "{details}");
}

#[test]
fn unresolvable_name_gets_502_dns_error() {
    let w = World::start_with(|mut c, _| {
        c.tenant_mut(TENANT).default_action = "direct".into();
        c
    });
    let out = w.curl("http://no-such-host.invalid/").run();
    assert_refused(&out, 502, "dns_error");
}

#[test]
fn refused_origin_connection_gets_502_connection_refused() {
    let w = World::start();
    let (_held, port) = closed_port();
    let out = w.curl(&format!("http://origin.test:{port}/")).run();
    let details = assert_refused(&out, 502, "connection_refused");
    assert!(details.contains("origin.test"), "{details}");
    assert!(!details.contains("127.0.0.1"), "{details}");
}

#[test]
fn connect_to_closed_port_gets_502_connection_refused() {
    let (_held, port) = closed_port();
    let w = World::start_with(|c, _| c.connect_port(port));
    let resp = w
        .raw()
        .connect_tunnel(&format!("origin.test:{port}"))
        .expect("CONNECT");
    assert_refused(&resp, 502, "connection_refused");
}

#[test]
fn unreachable_parent_gets_502_connection_refused() {
    let (_held, port) = closed_port();
    let w = World::start_with(|mut c, _| {
        c.tenant_mut(TENANT).upstreams = vec![("corp".into(), ([127, 0, 0, 1], port).into())];
        c
    });
    let out = w.curl("http://upstream.test:1234/").run();
    assert_refused(&out, 502, "connection_refused");
}
