use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use super::*;
use crate::config::EdgeConfig;

fn classify_all(buf: &[u8]) -> Option<Result<(Request<()>, usize), ()>> {
    classify(buf, 16 * 1024, 100)
}

#[test]
fn a_plain_connect_is_taken_with_its_head_length() {
    let head = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
    let mut buf = head.to_vec();
    buf.extend_from_slice(b"\x16\x03\x01tls");
    let Some(Ok((req, len))) = classify_all(&buf) else {
        panic!("a plain CONNECT must be taken");
    };
    assert_eq!(len, head.len());
    assert_eq!(req.method(), Method::CONNECT);
    assert_eq!(
        req.uri().authority().map(|a| a.as_str()),
        Some("example.com:443")
    );
    assert_eq!(
        req.headers().get("host").map(|v| v.as_bytes()),
        Some(&b"example.com:443"[..])
    );
}

#[test]
fn partial_connect_heads_wait_for_more() {
    for part in [
        &b""[..],
        b"CON",
        b"CONNECT ",
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: e",
    ] {
        assert!(
            classify_all(part).is_none(),
            "{:?}",
            String::from_utf8_lossy(part)
        );
    }
}

#[test]
fn everything_else_goes_to_hyper() {
    let cases: [&[u8]; 8] = [
        b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"GET",
        b"GET /pac/x HTTP/1.1\r\n",
        b"CONNECT example.com:443 HTTP/1.0\r\n\r\n",
        b"CONNECT example.com:443 HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
        b"CONNECT example.com:443 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"CONNECT exa mple.com:443 HTTP/1.1\r\n\r\n",
        b"\x00\x01garbage\r\n\r\n",
    ];
    for case in cases {
        assert!(
            matches!(classify_all(case), Some(Err(()))),
            "{:?}",
            String::from_utf8_lossy(case)
        );
    }
}

#[test]
fn heads_over_the_limits_go_to_hyper_and_its_refusal() {
    let mut many = b"CONNECT example.com:443 HTTP/1.1\r\n".to_vec();
    for i in 0..5 {
        many.extend_from_slice(format!("x-{i}: y\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert!(matches!(classify(&many, 16 * 1024, 4), Some(Err(()))));
    assert!(matches!(classify(&many, 20, 100), Some(Err(()))));
    assert!(matches!(classify(&many, 16 * 1024, 100), Some(Ok(_))));
}

#[test]
fn refusals_are_written_with_their_headers_and_length() {
    let resp = ProxyError::PortNotAllowed(25).response("breakout-edge", false);
    let text = String::from_utf8(serialize(&resp)).expect("utf-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    assert!(head.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{head}");
    assert!(
        head.contains("\r\nproxy-status: breakout-edge; error="),
        "{head}"
    );
    assert!(
        head.contains(&format!("\r\ncontent-length: {}", body.len())),
        "{head}"
    );
    assert!(!body.is_empty());
}

/// A connected pair on loopback: (the edge's side, the client's side).
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let addr = listener.local_addr().expect("address");
    let client = TcpStream::connect(addr).await.expect("connect");
    let (server, _) = listener.accept().await.expect("accept");
    (server, client)
}

fn settings(header_read_timeout: Duration) -> Settings {
    let (mut s, _) = EdgeConfig::parse_settings("", "test").expect("defaults");
    s.header_read_timeout = header_read_timeout;
    s
}

#[tokio::test]
async fn a_connect_head_split_over_writes_is_read_whole_with_the_bytes_after_it() {
    let (mut server, mut client) = pair().await;
    let (_tx, mut stop) = watch::channel(false);
    let writer = tokio::spawn(async move {
        client
            .write_all(b"CONNECT example.com:443 HT")
            .await
            .expect("write");
        client.flush().await.expect("flush");
        tokio::task::yield_now().await;
        let rest = b"TP/1.1\r\nHost: example.com:443\r\n\r\nearly tunnel bytes";
        client.write_all(rest).await.expect("write");
        client
    });
    let first = read_first(&mut server, &settings(Duration::from_secs(5)), &mut stop).await;
    let _client = writer.await.expect("writer");
    let mut first = match first {
        First::Connect(h) => *h,
        First::Other(b) => panic!("handed to hyper: {:?}", String::from_utf8_lossy(&b)),
        First::Closed => panic!("closed"),
    };
    // The head may have been complete before the tunnel bytes arrived: read them too.
    while first.buf.len() < first.head + b"early tunnel bytes".len() {
        let mut more = [0u8; 64];
        let n = server.read(&mut more).await.expect("read");
        assert_ne!(n, 0, "client closed early");
        first.buf.extend_from_slice(&more[..n]);
    }
    assert_eq!(&first.buf[first.head..], b"early tunnel bytes");
    assert_eq!(
        first.req.uri().authority().map(|a| a.as_str()),
        Some("example.com:443")
    );
}

#[tokio::test]
async fn a_forward_request_goes_to_hyper_with_every_byte_read() {
    let (mut server, mut client) = pair().await;
    let (_tx, mut stop) = watch::channel(false);
    let req = b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n";
    client.write_all(req).await.expect("write");
    match read_first(&mut server, &settings(Duration::from_secs(5)), &mut stop).await {
        First::Other(bytes) => assert!(req.starts_with(&bytes) && !bytes.is_empty()),
        _ => panic!("a GET must go to hyper"),
    }
}

#[tokio::test]
async fn a_head_that_never_ends_is_cut_off_at_the_header_read_timeout() {
    let (mut server, mut client) = pair().await;
    let (_tx, mut stop) = watch::channel(false);
    client
        .write_all(b"CONNECT example.com:443 HTTP/1.1\r\n")
        .await
        .expect("write");
    let s = settings(Duration::from_millis(100));
    let read = read_first(&mut server, &s, &mut stop);
    let first = tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("deadline");
    assert!(matches!(first, First::Closed));
}

#[tokio::test]
async fn a_drain_before_any_byte_closes_the_connection() {
    let (mut server, _client) = pair().await;
    let (tx, mut stop) = watch::channel(false);
    let s = settings(Duration::from_secs(30));
    let read = read_first(&mut server, &s, &mut stop);
    tx.send(true).expect("send");
    let first = tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("deadline");
    match first {
        First::Closed => {}
        First::Other(b) => panic!("other {:?}", b),
        First::Connect(_) => panic!("connect"),
    }
}
