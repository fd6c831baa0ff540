//! CONNECT tunnels through the edge: direct, via the parent, blocked, and what they carry.

use std::net::Ipv4Addr;

use breakout_tests::assert_refused;
use breakout_tests::origin::{fnv1a, pattern, FNV_INIT};
use breakout_tests::raw::READ_TIMEOUT;
use breakout_tests::{Rule, Tenant, World};

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 13 % 256) as u8).collect()
}

#[test]
fn connect_direct_tunnels_bytes_to_target() {
    let w = World::start();
    let mut c = w.raw();
    let resp = c.connect_tunnel(&w.echo_target()).expect("CONNECT");
    assert_eq!(resp.status, 200, "{resp:?}");

    let data = payload(256 * 1024);
    assert_eq!(c.echo(&data).expect("echo"), data, "tunnel corrupted bytes");
    assert_eq!(w.echo.peers().len(), 1);
    assert!(
        w.parent.lines().is_empty(),
        "direct tunnel used the parent: {:?}",
        w.parent.lines()
    );
}

#[test]
fn connect_upstream_goes_through_parent_connect() {
    let w = World::start();
    let target = format!("upstream.test:{}", w.echo.port());
    let mut c = w.raw();
    let resp = c.connect_tunnel(&target).expect("CONNECT");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(c.echo(b"via parent").expect("echo"), b"via parent");
    assert_eq!(w.parent.lines(), vec![format!("CONNECT {target} HTTP/1.1")]);
}

#[test]
fn connect_to_blocked_destination_gets_403() {
    let w = World::start();
    let mut c = w.raw();
    let resp = c
        .connect_tunnel(&format!("blocked.test:{}", w.echo.port()))
        .expect("CONNECT");
    assert_refused(&resp, 403, "http_request_denied");
    w.assert_nothing_forwarded("blocked CONNECT");
}

#[test]
fn curl_fetches_http_through_a_connect_tunnel() {
    let w = World::start();
    let out = w.curl(&w.origin_url("/tunnelled")).tunnel().run();
    out.assert_ok();
    assert_eq!(out.connect_status(), 200, "{out:#?}");
    assert_eq!(out.status(), 200, "{out:#?}");
    let seen = w.origin.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].uri, "/tunnelled");
    assert!(
        seen[0].header_values("via").is_empty(),
        "edge must not touch tunnelled bytes"
    );
}

#[test]
fn curl_tunnel_to_upstream_destination_goes_through_parent() {
    let w = World::start();
    let url = w.url_via("upstream.test", "/via-parent");
    let out = w.curl(&url).tunnel().run();
    out.assert_ok();
    assert_eq!(out.connect_status(), 200, "{out:#?}");
    assert_eq!(
        out.header("x-origin"),
        Some("yes"),
        "parent tunnels on to the origin"
    );
    let target = format!("upstream.test:{}", w.origin.port());
    assert_eq!(w.parent.lines(), vec![format!("CONNECT {target} HTTP/1.1")]);
}

#[test]
fn curl_tunnel_to_blocked_destination_gets_403() {
    let w = World::start();
    let out = w.curl(&w.url_via("blocked.test", "/")).tunnel().run();
    assert_ne!(
        out.exit_code, 0,
        "curl must fail when the tunnel is refused: {out:#?}"
    );
    assert_eq!(out.connect_status(), 403, "{out:#?}");
    let err = out.proxy_status_error();
    assert_eq!(err.as_deref(), Some("http_request_denied"), "{out:#?}");
    w.assert_nothing_forwarded("blocked curl tunnel");
}

#[test]
fn tunnel_streams_large_download() {
    let w = World::start();
    let n = 5_000_000;
    let out = w.curl(&w.origin_url(&format!("/bytes/{n}"))).tunnel().run();
    out.assert_ok();
    assert_eq!(out.body().len(), n);
    assert!(
        out.body().iter().enumerate().all(|(i, b)| *b == pattern(i)),
        "body corrupted"
    );
}

#[test]
fn tunnel_streams_large_upload() {
    let w = World::start();
    let body = payload(4_000_000);
    let file = breakout_tests::tmp::unique_dir("upload").join("body");
    std::fs::write(&file, &body).expect("write body");
    let out = w.curl(&w.origin_url("/up")).tunnel().post_file(&file).run();
    out.assert_ok();
    let seen = &w.origin.requests()[0];
    assert_eq!(seen.body_len, body.len() as u64);
    assert_eq!(seen.body_fnv, fnv1a(FNV_INIT, &body));
}

#[test]
fn bytes_sent_right_after_connect_are_not_lost() {
    let w = World::start();
    let mut c = w.raw();
    let target = w.echo_target();
    // The client does not wait for 200 before sending tunnel bytes (optimistic clients do).
    c.send(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\nearly-bytes").as_bytes())
        .expect("send");
    let resp = c.read_head().expect("CONNECT response");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(c.read_exact_buffered(11).expect("echo"), b"early-bytes");
}

#[test]
fn client_half_close_propagates_through_tunnel() {
    let w = World::start();
    let mut c = w.raw();
    assert_eq!(
        c.connect_tunnel(&w.echo_target()).expect("CONNECT").status,
        200
    );
    c.send(b"last words").expect("send");
    c.shutdown_write().expect("shutdown");
    // Echo server answers EOF with EOF; the edge must carry both directions' EOF.
    let rest = c
        .read_to_close(READ_TIMEOUT)
        .expect("tunnel closes after half-close");
    assert_eq!(rest, b"last words");
}

#[test]
fn egress_address_is_the_source_of_direct_tunnels() {
    let w = World::start_with(|c, p| {
        let beta = Tenant::new("beta", "127.0.0.2/32", "block")
            .upstream("corp", p.parent)
            .egress("127.0.0.2")
            .rule(Rule::new("saas", "direct", &["echo.test"]));
        c.tenant(beta)
    });
    let mut c = w.raw_from(Ipv4Addr::new(127, 0, 0, 2));
    assert_eq!(
        c.connect_tunnel(&w.echo_target()).expect("CONNECT").status,
        200
    );
    assert_eq!(c.echo(b"x").expect("echo"), b"x");
    let peers: Vec<String> = w.echo.peers().iter().map(|p| p.ip().to_string()).collect();
    assert_eq!(peers, vec!["127.0.0.2"]);
}
