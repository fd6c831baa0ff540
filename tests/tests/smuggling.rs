//! Malformed and smuggling-shaped requests, sent byte-exact over raw TCP.
//!
//! Each must get 400 `http_request_error` (431 for oversized heads), the connection must then
//! close, and no complete request may reach the origin.

use std::time::Duration;

use breakout_tests::assert_refused;
use breakout_tests::{RawResponse, World};

const CLOSE_DEADLINE: Duration = Duration::from_secs(5);

/// Sends `req` on a fresh connection; returns the response once the edge has closed it.
fn send_expecting_close(w: &World, req: &[u8]) -> RawResponse {
    let mut c = w.raw();
    c.send(req).expect("send request");
    let method = std::str::from_utf8(req)
        .unwrap_or("")
        .split(' ')
        .next()
        .unwrap_or("");
    let resp = c.read_response(method).expect("a response");
    c.read_to_close(CLOSE_DEADLINE)
        .expect("connection must close after a refused request");
    resp
}

fn assert_400_request_error(w: &World, req: &str) {
    let resp = send_expecting_close(w, req.as_bytes());
    assert_refused(&resp, 400, "http_request_error");
    let seen = w.origin.requests();
    assert!(
        seen.is_empty(),
        "origin received a request for {req:?}: {seen:?}"
    );
}

fn host(w: &World) -> String {
    format!("origin.test:{}", w.origin.port())
}

#[test]
fn content_length_with_transfer_encoding_is_refused() {
    let w = World::start();
    let h = host(&w);
    let smuggled = format!("GET http://{h}/smuggled HTTP/1.1\r\nHost: {h}\r\n\r\n");
    let body = format!("0\r\n\r\n{smuggled}");
    let req = format!(
        "POST http://{h}/ HTTP/1.1\r\nHost: {h}\r\nContent-Length: {}\r\n\
         Transfer-Encoding: chunked\r\n\r\n{body}",
        body.len()
    );
    assert_400_request_error(&w, &req);
    w.origin.assert_untouched("CL+TE");
}

#[test]
fn doubled_chunked_transfer_encoding_is_refused() {
    let w = World::start();
    let h = host(&w);
    let req = format!(
        "POST http://{h}/ HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding: chunked, chunked\r\n\r\n\
         5\r\nhello\r\n0\r\n\r\n"
    );
    assert_400_request_error(&w, &req);
}

#[test]
fn unknown_transfer_encoding_is_refused() {
    let w = World::start();
    let h = host(&w);
    let req = format!(
        "POST http://{h}/ HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding: xchunked\r\n\r\n\
         5\r\nhello\r\n0\r\n\r\n"
    );
    assert_400_request_error(&w, &req);
    w.origin.assert_untouched("xchunked");
}

#[test]
fn bad_chunk_size_is_refused() {
    let w = World::start();
    let h = host(&w);
    let req = format!(
        "POST http://{h}/ HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding: chunked\r\n\r\n\
         zz\r\nhello\r\n0\r\n\r\n"
    );
    assert_400_request_error(&w, &req);
}

#[test]
fn duplicate_host_header_is_refused() {
    let w = World::start();
    let h = host(&w);
    let req = format!("GET http://{h}/ HTTP/1.1\r\nHost: {h}\r\nHost: evil.test\r\n\r\n");
    assert_400_request_error(&w, &req);
    w.origin.assert_untouched("duplicate Host");
}

#[test]
fn absolute_uri_host_differing_from_host_header_is_refused() {
    let w = World::start();
    let h = host(&w);
    let req = format!("GET http://{h}/ HTTP/1.1\r\nHost: blocked.test\r\n\r\n");
    assert_400_request_error(&w, &req);
    w.origin.assert_untouched("URI/Host mismatch");
}

#[test]
fn connect_without_port_is_refused() {
    let w = World::start();
    assert_400_request_error(&w, "CONNECT echo.test HTTP/1.1\r\nHost: echo.test\r\n\r\n");
    assert!(w.echo.peers().is_empty());
}

#[test]
fn origin_form_request_for_a_non_edge_path_is_refused() {
    let w = World::start();
    let h = host(&w);
    assert_400_request_error(&w, &format!("GET /secret HTTP/1.1\r\nHost: {h}\r\n\r\n"));
    w.assert_nothing_forwarded("origin-form request");
}

#[test]
fn conflicting_content_lengths_are_refused() {
    let w = World::start();
    let h = host(&w);
    let req = format!(
        "POST http://{h}/ HTTP/1.1\r\nHost: {h}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n\
         hello!"
    );
    let resp = send_expecting_close(&w, req.as_bytes());
    assert_refused(&resp, 400, "http_request_error");
    w.origin.assert_untouched("conflicting Content-Length");
}

#[test]
fn too_many_headers_get_431() {
    let w = World::start();
    let h = host(&w);
    let extra: String = (0..150).map(|i| format!("X-Filler-{i}: v\r\n")).collect();
    let req = format!("GET http://{h}/ HTTP/1.1\r\nHost: {h}\r\n{extra}\r\n");
    let resp = send_expecting_close(&w, req.as_bytes());
    assert_refused(&resp, 431, "http_request_error");
    w.origin.assert_untouched("too many headers");
}

#[test]
fn oversized_header_gets_431() {
    let w = World::start();
    let h = host(&w);
    let big = "a".repeat(40_000);
    let req = format!("GET http://{h}/ HTTP/1.1\r\nHost: {h}\r\nX-Big: {big}\r\n\r\n");
    let resp = send_expecting_close(&w, req.as_bytes());
    assert_refused(&resp, 431, "http_request_error");
    w.origin.assert_untouched("oversized header");
}
