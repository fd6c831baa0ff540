//! Short-CONNECT benchmark client: new connections per second through a proxy. Each connection
//! opens a `CONNECT` tunnel to the origin, waits for the `200`, sends one small `GET` through it,
//! reads the whole
//! response, and closes (the client closes first, so TIME_WAIT lands on the connecting sides,
//! which loopback may reuse). Run by `deploy/bench/run.sh`:
//!
//! `connect-bench PROXY ORIGIN PATH CONCURRENCY SECONDS [WARMUP_SECONDS [THREADS]]`
//!
//! THREADS (default 1) client threads, each with its own single-threaded runtime, share the
//! CONCURRENCY sessions: on a machine that also runs the proxy and the origin, one client
//! thread gets one thread's share of the CPU and can be what limits the figure.
//!
//! Prints one line: `connections N errors E per_s X p50_ms Y p99_ms Z client_cpu_us C`, where C
//! is this client's own CPU time per session over the measured run (Linux: from
//! `/proc/thread-self/schedstat`; the client runs on one thread; `NA` elsewhere), so that the
//! load generator's share of a shared machine can be told apart from the proxy's.

use std::net::SocketAddr;
use std::sync::Barrier;
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
    threads: usize,
}

fn args() -> Result<Args> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() < 5 {
        bail!(
            "usage: connect-bench PROXY ORIGIN PATH CONCURRENCY SECONDS [WARMUP_SECONDS [THREADS]]"
        );
    }
    Ok(Args {
        proxy: a[0].parse().context("PROXY is HOST:PORT")?,
        origin: a[1].parse().context("ORIGIN is HOST:PORT")?,
        path: a[2].clone(),
        concurrency: a[3].parse().context("CONCURRENCY")?,
        duration: Duration::from_secs_f64(a[4].parse().context("SECONDS")?),
        warmup: Duration::from_secs_f64(a.get(5).map_or(Ok(0.0), |s| s.parse()).context("WARMUP")?),
        threads: a.get(6).map_or(Ok(1), |s| s.parse()).context("THREADS")?,
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

/// CPU time this thread has run, in nanoseconds (first field of `schedstat`).
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// One client thread's share of the measured run: latencies, errors, wall time, CPU time.
struct Share {
    lat: Vec<u32>,
    errors: u64,
    took: Duration,
    cpu_ns: Option<u64>,
}

/// One client thread: its own single-threaded runtime and `concurrency` sessions at a time;
/// the warm-up, then (once every thread is warm) the measured run.
fn client_thread(
    a: &Args,
    heads: &(Vec<u8>, Vec<u8>),
    concurrency: usize,
    warm: &Barrier,
) -> Result<Share> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let a = Args {
        concurrency,
        path: a.path.clone(),
        ..*a
    };
    rt.block_on(async {
        if !a.warmup.is_zero() {
            run(&a, heads, a.warmup).await;
        }
        warm.wait();
        let cpu0 = thread_cpu_ns();
        let (lat, errors, took) = run(&a, heads, a.duration).await;
        let cpu_ns = thread_cpu_ns()
            .zip(cpu0)
            .map(|(c1, c0)| c1.saturating_sub(c0));
        Ok(Share {
            lat,
            errors,
            took,
            cpu_ns,
        })
    })
}

fn main() -> Result<()> {
    let a = args()?;
    let o = a.origin;
    let heads = (
        format!("CONNECT {o} HTTP/1.1\r\nHost: {o}\r\n\r\n").into_bytes(),
        format!("GET {} HTTP/1.1\r\nHost: {o}\r\n\r\n", a.path).into_bytes(),
    );
    // THREADS client threads (default one, like `wrk -t1`), the sessions split between them.
    let threads = a.threads.clamp(1, a.concurrency.max(1));
    let warm = Barrier::new(threads);
    let shares: Vec<Result<Share>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let n = a.concurrency / threads + usize::from(i < a.concurrency % threads);
                let (a, heads, warm) = (&a, &heads, &warm);
                scope.spawn(move || client_thread(a, heads, n, warm))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("client thread panicked")))
            })
            .collect()
    });
    let (mut lat, mut errors, mut took, mut cpu_ns) = (Vec::new(), 0, Duration::ZERO, Some(0));
    for share in shares {
        let share = share?;
        lat.extend(share.lat);
        errors += share.errors;
        took = took.max(share.took);
        cpu_ns = cpu_ns.zip(share.cpu_ns).map(|(x, y)| x + y);
    }
    let client_cpu = match cpu_ns {
        Some(ns) if !lat.is_empty() => format!("{:.1}", ns as f64 / 1000.0 / lat.len() as f64),
        _ => "NA".to_string(),
    };
    lat.sort_unstable();
    println!(
        "connections {} errors {} per_s {:.0} p50_ms {:.2} p99_ms {:.2} client_cpu_us {}",
        lat.len(),
        errors,
        lat.len() as f64 / took.as_secs_f64().max(1e-9),
        percentile_ms(&lat, 0.50),
        percentile_ms(&lat, 0.99),
        client_cpu,
    );
    Ok(())
}
