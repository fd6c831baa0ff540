use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus::IntCounter;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::relay_with;

/// A connected pair on 127.0.0.1: (the far end a test drives, the end the relay owns).
async fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    let (far, near) = tokio::join!(TcpStream::connect(addr), l.accept());
    (far.expect("connect"), near.expect("accept").0)
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Sends 16 MiB up and 8 MiB down at once (more than the socket buffers hold, so writes
/// block and the backlog path runs), each side half-closing; checks every byte and the totals.
async fn both_ways_with_half_close(splice: bool) {
    let (mut client, mut client_near) = pair().await;
    let (mut server, mut server_near) = pair().await;
    let up_bytes = pattern(16 << 20, 1);
    let down_bytes = pattern(8 << 20, 7);
    let (up_c, down_c) = (
        IntCounter::new("u", "u").expect("c"),
        IntCounter::new("d", "d").expect("c"),
    );
    let up_total = AtomicU64::new(0);
    // As the edge does: the sockets are closed when the relay returns (the last direction to
    // end leaves its FIN to that close).
    let relay = async {
        let down = relay_with(
            &mut client_near,
            &mut server_near,
            (b"early-up", b"early-down"),
            Duration::from_secs(30),
            (&up_c, &up_total),
            &down_c,
            splice,
        )
        .await;
        drop((client_near, server_near));
        down
    };
    let client_side = async {
        let (mut r, mut w) = client.split();
        let send = async {
            w.write_all(&up_bytes).await.expect("client write");
            w.shutdown().await.expect("client shutdown");
        };
        let mut got = Vec::new();
        let recv = async { r.read_to_end(&mut got).await.expect("client read") };
        tokio::join!(send, recv);
        got
    };
    let server_side = async {
        let (mut r, mut w) = server.split();
        let send = async {
            w.write_all(&down_bytes).await.expect("server write");
            w.shutdown().await.expect("server shutdown");
        };
        let mut got = Vec::new();
        let recv = async { r.read_to_end(&mut got).await.expect("server read") };
        tokio::join!(send, recv);
        got
    };
    let (down_sent, at_client, at_server) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(relay, client_side, server_side)
    })
    .await
    .expect("the relay finishes once both sides half-closed");
    assert_eq!(&at_server[..8], b"early-up");
    assert!(at_server[8..] == up_bytes[..], "every byte up, in order");
    assert_eq!(&at_client[..10], b"early-down");
    assert!(
        at_client[10..] == down_bytes[..],
        "every byte down, in order"
    );
    assert_eq!(down_sent, 10 + (8 << 20));
    assert_eq!(up_c.get(), 8 + (16 << 20));
    assert_eq!(up_total.into_inner(), 8 + (16 << 20));
    assert_eq!(down_c.get(), 10 + (8 << 20));
}

#[tokio::test]
async fn buffer_path_moves_every_byte_both_ways_and_passes_half_close() {
    both_ways_with_half_close(false).await;
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn splice_path_moves_every_byte_both_ways_and_passes_half_close() {
    both_ways_with_half_close(true).await;
}

#[tokio::test]
async fn a_silent_tunnel_ends_after_the_idle_timeout() {
    let (_client, mut client_near) = pair().await;
    let (_server, mut server_near) = pair().await;
    let (up_c, down_c) = (
        IntCounter::new("u", "u").expect("c"),
        IntCounter::new("d", "d").expect("c"),
    );
    let up_total = AtomicU64::new(0);
    let relay = relay_with(
        &mut client_near,
        &mut server_near,
        (b"", b""),
        Duration::from_millis(300),
        (&up_c, &up_total),
        &down_c,
        true,
    );
    // Neither side sends or closes: only the watchdog can end it.
    let started = std::time::Instant::now();
    let down = tokio::time::timeout(Duration::from_secs(10), relay)
        .await
        .expect("ended by the idle timeout, not by the test's bound");
    assert_eq!(down, 0);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

/// The server resets while the client sends nothing: the tunnel ends at once (it used to wait
/// for the client, up to the idle timeout, holding the session).
#[tokio::test]
async fn a_reset_from_one_side_ends_the_tunnel_without_waiting_for_the_other() {
    let (_client, mut client_near) = pair().await;
    let (server, mut server_near) = pair().await;
    let (up_c, down_c) = (
        IntCounter::new("u", "u").expect("c"),
        IntCounter::new("d", "d").expect("c"),
    );
    let up_total = AtomicU64::new(0);
    let relay = relay_with(
        &mut client_near,
        &mut server_near,
        (b"", b""),
        Duration::from_secs(300),
        (&up_c, &up_total),
        &down_c,
        false,
    );
    let reset = async {
        let std = server.into_std().expect("std");
        socket2::SockRef::from(&std)
            .set_linger(Some(Duration::ZERO))
            .expect("linger");
        drop(std);
    };
    tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(relay, reset)
    })
    .await
    .expect("the relay ends when the server resets");
}
