use super::*;

/// Feeds `input` in pieces of `step` bytes; returns what hyper would see.
fn run(input: &[u8], step: usize) -> (Vec<u8>, Verdict, Framer) {
    let verdict = Verdict::default();
    let mut framer = Framer::new(1024, 10);
    let mut out = Vec::new();
    let mut pending = Vec::new();
    for piece in input.chunks(step) {
        pending.extend_from_slice(piece);
        loop {
            let used = framer.process(&pending, &mut out, &verdict);
            if used == 0 || pending.is_empty() {
                break;
            }
            pending.drain(..used);
            if pending.is_empty() {
                break;
            }
        }
    }
    (out, verdict, framer)
}

#[test]
fn well_framed_requests_pass_unchanged_whatever_the_read_sizes() {
    let input: &[u8] = b"GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n\
POST http://a.test/x HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello\
POST http://a.test/y HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n\
3;ext=1\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n\
GET http://a.test/z HTTP/1.1\r\nHost: a.test\r\n\r\n";
    for step in [1, 2, 7, 64, 4096] {
        let (out, verdict, framer) = run(input, step);
        assert_eq!(out, input, "step {step}");
        assert!(verdict.for_head(1).is_none() && verdict.for_head(4).is_none());
        assert_eq!(framer.heads, 4, "step {step}");
        assert_eq!(framer.state, State::Head);
    }
}

#[test]
fn content_length_with_transfer_encoding_is_replaced_by_the_marker() {
    let (out, verdict, framer) = run(
        b"POST http://a.test/ HTTP/1.1\r\nHost: a.test\r\nContent-Length: 4\r\n\
Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
        4096,
    );
    assert_eq!(out, MARKER);
    assert!(framer.refused());
    let err = verdict.for_head(1).expect("refused");
    assert!(err
        .to_string()
        .contains("both Content-Length and Transfer-Encoding"));
}

#[test]
fn ambiguous_or_odd_framing_is_refused() {
    for head in [
        "Transfer-Encoding: xchunked\r\n",
        "Transfer-Encoding: chunked, chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        "Content-Length: 5\r\nContent-Length: 5\r\n",
        "Content-Length: +5\r\n",
        "Content-Length: 0x5\r\n",
    ] {
        let req = format!("POST http://a.test/ HTTP/1.1\r\nHost: a.test\r\n{head}\r\n");
        let (out, verdict, _) = run(req.as_bytes(), 4096);
        assert_eq!(out, MARKER, "{head:?}");
        assert!(
            matches!(verdict.for_head(1), Some(ProxyError::BadRequest(_))),
            "{head:?}"
        );
    }
}

#[test]
fn oversized_heads_get_431_and_garbage_gets_400() {
    let many: String = (0..11).map(|i| format!("X-{i}: v\r\n")).collect();
    let req = format!("GET http://a.test/ HTTP/1.1\r\n{many}\r\n");
    let (_, verdict, _) = run(req.as_bytes(), 4096);
    assert!(matches!(
        verdict.for_head(1),
        Some(ProxyError::HeadersTooLarge(_))
    ));

    let req = format!(
        "GET http://a.test/ HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(2000)
    );
    let (_, verdict, _) = run(req.as_bytes(), 100);
    assert!(matches!(
        verdict.for_head(1),
        Some(ProxyError::HeadersTooLarge(_))
    ));

    let (_, verdict, _) = run(b"\x16\x03\x01\x02\x00 not http\r\n\r\n", 4096);
    assert!(matches!(
        verdict.for_head(1),
        Some(ProxyError::BadRequest(_))
    ));
}

#[test]
fn the_refusal_names_the_head_it_belongs_to() {
    let (out, verdict, _) = run(
        b"GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\nGET bad head\r\n\r\n",
        4096,
    );
    assert!(out.ends_with(MARKER));
    assert!(verdict.for_head(1).is_none());
    assert!(verdict.for_head(2).is_some());
}

#[test]
fn connect_turns_into_a_pass_through() {
    let tail: &[u8] = b"\x16\x03\x01 anything Content-Length: 1\r\nTransfer-Encoding: x\r\n\r\n";
    let mut input = b"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n".to_vec();
    input.extend_from_slice(tail);
    let (out, verdict, framer) = run(&input, 5);
    assert_eq!(out, input);
    assert!(verdict.for_head(1).is_none());
    assert_eq!(framer.direct_limit(), Some(u64::MAX));
}

#[test]
fn malformed_chunking_is_left_to_hyper_to_refuse() {
    let input: &[u8] =
        b"POST http://a.test/ HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    let (out, verdict, framer) = run(input, 4096);
    assert_eq!(out, input);
    assert!(verdict.for_head(1).is_none());
    assert_eq!(framer.state, State::Passthrough);
}
