//! Control-plane benchmark: acknowledged writes/s and write latency through the HTTP API on a
//! 1-node and a 3-node cluster, and the time from SIGKILL of the leader to the next acknowledged
//! write. Run through `deploy/bench/control-plane.sh` (release binaries).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use breakout_tests::control::{Cluster, ADMIN_TOKEN};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A keep-alive HTTP/1.1 connection that POSTs JSON and reads `Content-Length` responses.
struct Conn {
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        Conn { addr, stream: None }
    }

    /// POSTs `body` to `path`; returns the status code (0 on a transport error).
    fn post(&mut self, path: &str, body: &str) -> u16 {
        match self.try_post(path, body) {
            Ok(s) => s,
            Err(_) => {
                self.stream = None;
                0
            }
        }
    }

    fn try_post(&mut self, path: &str, body: &str) -> std::io::Result<u16> {
        if self.stream.is_none() {
            let s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))?;
            s.set_read_timeout(Some(Duration::from_secs(10)))?;
            s.set_nodelay(true)?;
            self.stream = Some(BufReader::new(s));
        }
        let Some(r) = self.stream.as_mut() else {
            return Ok(0);
        };
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        r.get_mut().write_all(req.as_bytes())?;
        let mut line = String::new();
        r.read_line(&mut line)?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut len = 0usize;
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut sink = vec![0u8; len];
        r.read_exact(&mut sink)?;
        Ok(status)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// `clients` threads write regions as fast as they are acknowledged for `secs` seconds.
fn load(api: SocketAddr, clients: u64, secs: u64, tag: &str) -> (f64, f64, f64) {
    let seq = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let seq = Arc::clone(&seq);
            let tag = tag.to_string();
            std::thread::spawn(move || {
                let mut conn = Conn::new(api);
                let mut lat = Vec::new();
                while Instant::now() < deadline {
                    let n = seq.fetch_add(1, Ordering::Relaxed);
                    let body = format!("{{\"name\":\"{tag}-{n}\"}}");
                    let t = Instant::now();
                    if conn.post("/v1/regions", &body) == 201 {
                        lat.push(t.elapsed());
                    }
                }
                lat
            })
        })
        .collect();
    let mut all: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap_or_default())
        .collect();
    let elapsed = start.elapsed().as_secs_f64();
    all.sort();
    (
        all.len() as f64 / elapsed,
        percentile(&all, 0.5),
        percentile(&all, 0.99),
    )
}

/// SIGKILL the leader; time until a write through a survivor is acknowledged.
fn failover(cluster: &mut Cluster, round: u64) -> f64 {
    let leader = cluster.wait_leader(Duration::from_secs(30));
    let survivor = (leader + 1) % cluster.nodes.len();
    let mut conn = Conn::new(cluster.nodes[survivor].api);
    let warm = format!("{{\"name\":\"warm-{round}\"}}");
    assert_eq!(conn.post("/v1/regions", &warm), 201, "warm-up write");
    let t0 = Instant::now();
    cluster.nodes[leader].kill9();
    let mut n = 0;
    loop {
        n += 1;
        if conn.post("/v1/regions", &format!("{{\"name\":\"fo-{round}-{n}\"}}")) == 201 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no write acknowledged within 60 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let secs = t0.elapsed().as_secs_f64();
    cluster.nodes[leader].restart();
    cluster.wait_voters(cluster.nodes.len());
    secs
}

fn main() {
    let secs = env_u64("DURATION", 10);
    let runs = env_u64("RUNS", 3);
    let failovers = env_u64("FAILOVERS", 3);
    println!("| cluster | clients | writes/s | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|");
    for nodes in [1u64, 3] {
        let cluster = Cluster::start(nodes);
        let leader = cluster.wait_leader(Duration::from_secs(30));
        let api = cluster.nodes[leader].api;
        for clients in [1u64, 16] {
            let mut results: Vec<(f64, f64, f64)> = (0..runs)
                .map(|r| load(api, clients, secs, &format!("n{nodes}c{clients}r{r}")))
                .collect();
            results.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (w, p50, p99) = results[results.len() / 2];
            println!("| {nodes} node(s) | {clients} | {w:.0} | {p50:.2} | {p99:.2} |");
        }
    }
    let mut cluster = Cluster::start(3);
    let mut times: Vec<f64> = (0..failovers)
        .map(|round| failover(&mut cluster, round))
        .collect();
    times.sort_by(f64::total_cmp);
    let all: Vec<String> = times.iter().map(|t| format!("{t:.2}")).collect();
    println!(
        "\nkill -9 of the leader to the next acknowledged write: median {:.2} s (runs: {} s)",
        times[times.len() / 2],
        all.join(", ")
    );
}
