//! Self-checks of the harness servers and clients, without the edge, so that a failure
//! elsewhere points at the edge rather than at the fixtures.

use breakout_tests::origin::pattern;
use breakout_tests::parent_proxy::PARENT_BODY;
use breakout_tests::raw::http_get;
use breakout_tests::{Curl, EchoServer, Origin, ParentProxy, RawConn};

#[test]
fn origin_describes_the_request_it_received() {
    let origin = Origin::start();
    let out = Curl::new(&format!("http://{}/a?b=c", origin.addr()))
        .header("X-T: 1")
        .run();
    out.assert_ok();
    let json = out.json();
    assert_eq!(json["method"], "GET");
    assert_eq!(json["uri"], "/a?b=c");
    let seen = origin.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header_values("x-t"), vec!["1"]);
    assert_eq!(origin.connections(), 1);
}

#[test]
fn origin_serves_bytes_and_statuses() {
    let origin = Origin::start();
    let out = Curl::new(&format!("http://{}/bytes/1000", origin.addr())).run();
    assert_eq!(out.body().len(), 1000);
    assert!(out.body().iter().enumerate().all(|(i, b)| *b == pattern(i)));
    let (status, _) = http_get(origin.addr(), "/status/418").expect("GET");
    assert_eq!(status, 418);
}

#[test]
fn parent_answers_absolute_form_and_records_it() {
    let (origin, parent) = (Origin::start(), ParentProxy::start());
    let out = Curl::new("http://anything.test:99/p")
        .proxy(&format!("http://{}", parent.addr()))
        .run();
    out.assert_ok();
    assert_eq!(out.body_text(), PARENT_BODY);
    assert_eq!(out.header("x-parent"), Some("yes"));
    assert_eq!(
        parent.lines(),
        vec!["GET http://anything.test:99/p HTTP/1.1"]
    );
    origin.assert_untouched("parent answers itself");
}

#[test]
fn parent_tunnels_connect_to_test_names() {
    let (echo, parent) = (EchoServer::start(), ParentProxy::start());
    let mut c = RawConn::connect(parent.addr()).expect("connect");
    let target = format!("echo.test:{}", echo.port());
    assert_eq!(c.connect_tunnel(&target).expect("CONNECT").status, 200);
    assert_eq!(c.echo(b"hello").expect("echo"), b"hello");
    assert_eq!(parent.lines(), vec![format!("CONNECT {target} HTTP/1.1")]);
}

#[test]
fn curl_reports_connect_status_and_header_blocks() {
    let (origin, parent) = (Origin::start(), ParentProxy::start());
    let url = format!("http://origin.test:{}/x", origin.port());
    let out = Curl::new(&url)
        .proxy(&format!("http://{}", parent.addr()))
        .tunnel()
        .run();
    out.assert_ok();
    assert_eq!(out.connect_status(), 200);
    assert_eq!(out.status(), 200);
    assert_eq!(out.header_blocks.len(), 2, "{out:#?}");
    assert_eq!(out.header("x-origin"), Some("yes"));
}

#[test]
fn raw_client_binds_the_requested_source_address() {
    let echo = EchoServer::start();
    let c =
        RawConn::connect_from(std::net::Ipv4Addr::new(127, 0, 0, 3), echo.addr()).expect("connect");
    assert_eq!(c.local_addr().ip().to_string(), "127.0.0.3");
}
