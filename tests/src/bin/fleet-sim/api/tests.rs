//! [`Api`] against a scripted server on 127.0.0.1: each connection gets the next answer of the
//! script and is closed; the requests are kept to check what was sent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;

/// A policy fast enough for tests: 1 ms waits, a 5 s budget.
fn quick() -> Policy {
    Policy {
        first: Duration::from_millis(1),
        cap: Duration::from_millis(2),
        budget: Duration::from_secs(5),
    }
}

struct Scripted {
    addr: SocketAddr,
    /// The request heads seen, lower-cased.
    seen: Arc<Mutex<Vec<String>>>,
}

/// Serves `answers` (status, extra headers, body) in order, one per connection; past the end,
/// the last one again.
fn serve(answers: Vec<(u16, &'static str, &'static str)>) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&seen);
    std::thread::spawn(move || {
        for (k, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut head = String::new();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                head.push_str(&line.to_ascii_lowercase());
                line.clear();
            }
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            kept.lock().expect("lock").push(head);
            let (status, headers, body) = answers[k.min(answers.len() - 1)];
            let answer = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    Scripted { addr, seen }
}

impl Scripted {
    fn seen(&self) -> Vec<String> {
        self.seen.lock().expect("lock").clone()
    }
}

fn key_of(head: &str) -> Option<&str> {
    head.lines()
        .find_map(|l| l.strip_prefix("idempotency-key:"))
        .map(str::trim)
}

#[test]
fn a_write_answered_503_then_200_succeeds_with_the_same_key_on_both_attempts() {
    let server = serve(vec![
        (503, "", r#"{"error":"no_leader","message":"no leader"}"#),
        (200, "", r#"{"version":7}"#),
    ]);
    let mut api = Api::fixed(server.addr, quick());
    let w = api
        .write("PUT", "/v1/tenants/t1/rules", "[]")
        .expect("written");
    assert_eq!(w.version, 7);
    assert!(!w.replayed, "the second attempt applied it");
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let keys: Vec<_> = seen.iter().map(|h| key_of(h)).collect();
    assert!(keys[0].is_some(), "a write carries a key: {seen:?}");
    assert_eq!(keys[0], keys[1], "a retry repeats the key");
}

#[test]
fn a_400_fails_at_once_with_its_body_in_the_error() {
    let server = serve(vec![
        (400, "", r#"{"error":"invalid","message":"rules[0]: bad"}"#),
        (200, "", r#"{"version":7}"#),
    ]);
    let mut api = Api::fixed(server.addr, quick());
    let err = api.write("PUT", "/v1/tenants/t1/rules", "[]").err();
    let err = format!("{:#}", err.expect("a 400 is final"));
    assert!(err.contains("PUT /v1/tenants/t1/rules: 400"), "{err}");
    assert!(err.contains("rules[0]: bad"), "{err}");
    assert_eq!(server.seen().len(), 1, "not retried");
}

#[test]
fn an_answer_replayed_for_an_earlier_attempt_is_marked_as_such() {
    let server = serve(vec![
        (
            503,
            "",
            r#"{"error":"unavailable","message":"outcome unknown"}"#,
        ),
        (200, "Idempotent-Replayed: true\r\n", r#"{"version":9}"#),
    ]);
    let mut api = Api::fixed(server.addr, quick());
    let w = api
        .write("POST", "/v1/templates/x/rollback", "{}")
        .expect("written");
    assert_eq!(w.version, 9);
    assert!(w.replayed);
}

#[test]
fn a_read_carries_no_key() {
    let server = serve(vec![(200, "", "{}")]);
    let mut api = Api::fixed(server.addr, quick());
    api.call("GET", "/v1/tenants/t1", None).expect("read");
    assert_eq!(key_of(&server.seen()[0]), None);
}

#[test]
fn a_node_that_answers_503_past_the_budget_fails_naming_the_call_and_the_last_answer() {
    let server = serve(vec![(
        503,
        "",
        r#"{"error":"no_leader","message":"still electing"}"#,
    )]);
    let policy = Policy {
        budget: Duration::from_millis(50),
        ..quick()
    };
    let mut api = Api::fixed(server.addr, policy);
    let err = api.write("PUT", "/v1/tenants/t1/rules", "[]").err();
    let err = format!("{:#}", err.expect("gave up"));
    assert!(
        err.contains("PUT /v1/tenants/t1/rules: still failing"),
        "{err}"
    );
    assert!(
        err.contains("503") && err.contains("still electing"),
        "{err}"
    );
    assert!(server.seen().len() > 1, "retried before giving up");
}

#[test]
fn a_refused_connection_is_retried_then_reported() {
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let policy = Policy {
        budget: Duration::from_millis(50),
        ..quick()
    };
    let err = Api::fixed(addr, policy)
        .call("GET", "/v1/regions", None)
        .err();
    let err = format!("{:#}", err.expect("nobody listens"));
    assert!(err.contains("still failing after"), "{err}");
    assert!(err.contains("ConnectionRefused"), "{err}");
}
