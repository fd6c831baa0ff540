//! Tunnel-throughput regression check, run by `.ci/run` after the tests: fails when bulk
//! throughput through an edge `CONNECT` tunnel, as a ratio of a direct connection to the same
//! origin, falls below half the ratio recorded in `BENCHMARKS.md` (the line starting with
//! `tunnel-check ratio:`). Only ratios of runs made back to back are compared, never absolute
//! times, and the median of several pairs is taken, so a noisy shared machine does not fail it.
//!
//! `tunnel-check [PAIRS] [MIB]` (defaults 9 and 512). Prints every pair and the verdict.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use breakout_tests::{Edge, EdgeConfig, Tenant};

const MARKER: &str = "tunnel-check ratio:";
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// An origin that sends `bytes` bytes to every connection, then closes it.
fn origin(bytes: u64) -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("bind the origin")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        let block: std::sync::Arc<[u8]> = vec![0x5au8; 256 * 1024].into();
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let block = std::sync::Arc::clone(&block);
            std::thread::spawn(move || {
                let mut left = bytes;
                while left > 0 {
                    let n = left.min(block.len() as u64) as usize;
                    if s.write_all(&block[..n]).is_err() {
                        return;
                    }
                    left -= n as u64;
                }
            });
        }
    });
    Ok(addr)
}

/// Reads `stream` to its end; returns bytes/s (failing on a short download).
fn download(mut stream: TcpStream, expected: u64, start: Instant) -> Result<f64> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0u64;
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        got += n as u64;
    }
    if got != expected {
        bail!("downloaded {got} of {expected} bytes");
    }
    Ok(got as f64 / start.elapsed().as_secs_f64())
}

fn direct(origin: SocketAddr, bytes: u64) -> Result<f64> {
    let start = Instant::now();
    download(TcpStream::connect(origin)?, bytes, start)
}

fn tunnelled(proxy: SocketAddr, origin: SocketAddr, bytes: u64) -> Result<f64> {
    let start = Instant::now();
    let mut s = TcpStream::connect(proxy)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    write!(s, "CONNECT {origin} HTTP/1.1\r\nHost: {origin}\r\n\r\n")?;
    // Read the answer head byte by byte, so no tunnel byte is taken with it.
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut b)? == 0 || head.len() > 4096 {
            bail!("no CONNECT answer");
        }
        head.push(b[0]);
    }
    if !head.starts_with(b"HTTP/1.1 200") {
        bail!("CONNECT answered {}", String::from_utf8_lossy(&head));
    }
    download(s, bytes, start)
}

/// The ratio recorded in BENCHMARKS.md.
fn recorded() -> Result<f64> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../BENCHMARKS.md");
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    let line = text
        .lines()
        .find_map(|l| l.trim_start_matches(['-', ' ', '*']).strip_prefix(MARKER))
        .with_context(|| format!("no line starting with `{MARKER}` in {}", path.display()))?;
    line.trim()
        .trim_matches('*')
        .trim()
        .parse()
        .with_context(|| format!("`{MARKER}` {line}: not a number"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pairs: usize = args.first().map_or(Ok(9), |s| s.parse())?;
    let mib: u64 = args.get(1).map_or(Ok(512), |s| s.parse())?;
    if pairs == 0 {
        bail!("PAIRS must be at least 1");
    }
    let bytes = mib * 1024 * 1024;
    let recorded = recorded()?;
    let origin = origin(bytes)?;
    let config = EdgeConfig {
        access_log: "off".into(),
        ..EdgeConfig::default()
    }
    .connect_port(origin.port())
    .tenant(Tenant::new("check", "127.0.0.0/8", "direct"));
    let edge = Edge::start(&config.to_toml());
    // One unmeasured round each way: connections, page faults and caches warm.
    direct(origin, bytes)?;
    tunnelled(edge.proxy(), origin, bytes)?;
    let mut ratios = Vec::new();
    for i in 0..pairs {
        // Alternate which goes first, so drift does not always favour one side.
        let (d, t) = if i % 2 == 0 {
            let d = direct(origin, bytes)?;
            (d, tunnelled(edge.proxy(), origin, bytes)?)
        } else {
            let t = tunnelled(edge.proxy(), origin, bytes)?;
            (direct(origin, bytes)?, t)
        };
        println!(
            "pair {}: direct {:.0} MB/s, tunnel {:.0} MB/s, ratio {:.2}",
            i + 1,
            d / 1e6,
            t / 1e6,
            t / d
        );
        ratios.push(t / d);
    }
    let ratio = median(ratios);
    let floor = recorded / 2.0;
    println!(
        "tunnel/direct median {ratio:.2}; recorded {recorded:.2}; fails below {floor:.2} ({mib} MiB x {pairs})"
    );
    if ratio < floor {
        bail!("tunnel throughput regressed: {ratio:.2} of direct, below half the recorded {recorded:.2}");
    }
    Ok(())
}
