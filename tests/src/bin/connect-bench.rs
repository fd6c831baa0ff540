//! Short-CONNECT benchmark client: new connections per second through a proxy. Each connection
//! opens a `CONNECT` tunnel to the origin, waits for the `200`, sends one small `GET` through it,
//! reads the whole
//! response, and closes (the client closes first, so TIME_WAIT lands on the connecting sides,
//! which loopback may reuse). Run by `deploy/bench/run.sh`:
//!
//! `connect-bench PROXY ORIGIN PATH CONCURRENCY SECONDS [WARMUP_SECONDS]`
//!
//! Prints one line: `connections N errors E per_s X p50_ms Y p99_ms Z`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One connection's deadline; a slower one counts as an error.
const CONN_TIMEOUT: Duration = Duration::from_secs(10);

struct Args {
    proxy: SocketAddr,
    origin: SocketAddr,
    path: String,
    concurrency: usize,
    duration: Duration,
    warmup: Duration,
}

fn args() -> Result<Args> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() < 5 {
        bail!("usage: connect-bench PROXY ORIGIN PATH CONCURRENCY SECONDS [WARMUP_SECONDS]");
    }
    Ok(Args {
        proxy: a[0].parse().context("PROXY is HOST:PORT")?,
        origin: a[1].parse().context("ORIGIN is HOST:PORT")?,
        path: a[2].clone(),
        concurrency: a[3].parse().context("CONCURRENCY")?,
        duration: Duration::from_secs_f64(a[4].parse().context("SECONDS")?),
        warmup: Duration::from_secs_f64(a.get(5).map_or(Ok(0.0), |s| s.parse()).context("WARMUP")?),
    })
}

/// Reads one response head (returned lowercased) into `buf[..*have]`, leaving what follows it.
async fn read_head(s: &mut TcpStream, buf: &mut [u8], have: &mut usize) -> Result<String> {
    loop {
        if let Some(end) = buf[..*have].windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            buf.copy_within(end + 4..*have, 0);
            *have -= end + 4;
            if !text.starts_with("http/1.1 200") && !text.starts_with("http/1.0 200") {
                bail!("status: {}", text.lines().next().unwrap_or(""));
            }
            return Ok(text);
        }
        if *have == buf.len() {
            bail!("response head too large");
        }
        let n = s.read(&mut buf[*have..]).await?;
        if n == 0 {
            bail!("closed early");
        }
        *have += n;
    }
}

/// One short session (CONNECT, wait for 200, GET, read the response, close); returns its
/// duration.
async fn one(proxy: SocketAddr, connect: &[u8], get: &[u8]) -> Result<Duration> {
    let start = Instant::now();
    let mut s = TcpStream::connect(proxy).await?;
    s.set_nodelay(true)?;
    s.write_all(connect).await?;
    let mut buf = [0u8; 4096];
    let mut have = 0;
    read_head(&mut s, &mut buf, &mut have).await?;
    s.write_all(get).await?;
    let head = read_head(&mut s, &mut buf, &mut have).await?;
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .context("response without Content-Length")?;
    while have < len {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            bail!("closed early");
        }
        have += n;
    }
    drop(s);
    Ok(start.elapsed())
}

async fn worker(proxy: SocketAddr, heads: (Vec<u8>, Vec<u8>), until: Instant) -> (Vec<u32>, u64) {
    let mut lat = Vec::new();
    let mut errors = 0;
    while Instant::now() < until {
        match tokio::time::timeout(CONN_TIMEOUT, one(proxy, &heads.0, &heads.1)).await {
            Ok(Ok(d)) => lat.push(d.as_micros().min(u32::MAX as u128) as u32),
            _ => errors += 1,
        }
    }
    (lat, errors)
}

async fn run(
    a: &Args,
    heads: &(Vec<u8>, Vec<u8>),
    duration: Duration,
) -> (Vec<u32>, u64, Duration) {
    let start = Instant::now();
    let until = start + duration;
    let tasks: Vec<_> = (0..a.concurrency)
        .map(|_| tokio::spawn(worker(a.proxy, heads.clone(), until)))
        .collect();
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e)) = t.await {
            lat.extend(l);
            errors += e;
        }
    }
    (lat, errors, start.elapsed())
}

fn percentile_ms(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

fn main() -> Result<()> {
    let a = args()?;
    let o = a.origin;
    let heads = (
        format!("CONNECT {o} HTTP/1.1\r\nHost: {o}\r\n\r\n").into_bytes(),
        format!("GET {} HTTP/1.1\r\nHost: {o}\r\n\r\n", a.path).into_bytes(),
    );
    // One thread, like `wrk -t1`: the client should not take the proxy's cores.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        if !a.warmup.is_zero() {
            run(&a, &heads, a.warmup).await;
        }
        let (mut lat, errors, took) = run(&a, &heads, a.duration).await;
        lat.sort_unstable();
        println!(
            "connections {} errors {} per_s {:.0} p50_ms {:.2} p99_ms {:.2}",
            lat.len(),
            errors,
            lat.len() as f64 / took.as_secs_f64(),
            percentile_ms(&lat, 0.50),
            percentile_ms(&lat, 0.99),
        );
    });
    Ok(())
}
