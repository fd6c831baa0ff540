//! Short-CONNECT benchmark client: new connections per second through a proxy. Each connection
//! opens a `CONNECT` tunnel to the origin, waits for the `200`, sends one small `GET` through it,
//! reads the whole
//! response, and closes (the client closes first, so TIME_WAIT lands on the connecting sides,
//! which loopback may reuse). Run by `deploy/bench/run.sh`:
//!
//! `connect-bench PROXY ORIGIN PATH CONCURRENCY SECONDS [WARMUP_SECONDS [THREADS [ADDRS]]]`
//!
//! THREADS (default 1) client threads, each with its own single-threaded runtime, share the
//! CONCURRENCY sessions: on a machine that also runs the proxy and the origin, one client
//! thread gets one thread's share of the CPU and can be what limits the figure.
//!
//! ADDRS (default 1): session `i` connects from `127.0.0.(1 + i % ADDRS)` and asks for
//! `127.0.0.(o + i % ADDRS):PORT`, where ORIGIN is `127.0.0.o:PORT` (the origin must listen on
//! all of them). Each side that closes first keeps its end in `TIME_WAIT`, and loopback reuses
//! such a port only once its last timestamp is over a second old: ~28k ports per 4-tuple
//! family cap one family at ~14k new connections/s (measured), whichever proxy is in between.
//! Spreading over addresses lifts that cap for the client → proxy and proxy → origin legs.
//!
//! Prints one line: `connections N errors E per_s X p50_ms Y p99_ms Z client_cpu_us C`, where C
//! is this client's own CPU time per session over the measured run (Linux: from
//! `/proc/thread-self/schedstat`; the client runs on one thread; `NA` elsewhere), so that the
//! load generator's share of a shared machine can be told apart from the proxy's.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

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
    /// Loopback addresses to spread sessions over (client source and origin address).
    addrs: u8,
}

fn args() -> Result<Args> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() < 5 {
        bail!(
            "usage: connect-bench PROXY ORIGIN PATH CONCURRENCY SECONDS [WARMUP_SECONDS [THREADS [ADDRS]]]"
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
        addrs: a.get(7).map_or(Ok(1), |s| s.parse()).context("ADDRS")?,
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
async fn one(
    proxy: SocketAddr,
    source: Option<Ipv4Addr>,
    connect: &[u8],
    get: &[u8],
) -> Result<Duration> {
    let start = Instant::now();
    let mut s = match source {
        None => TcpStream::connect(proxy).await?,
        Some(ip) => {
            let socket = TcpSocket::new_v4()?;
            bind_address_no_port(&socket);
            socket.bind(SocketAddr::new(IpAddr::V4(ip), 0))?;
            socket.connect(proxy).await?
        }
    };
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

/// The request heads of each address's sessions, and the source address to use.
#[derive(Clone)]
struct Heads(std::sync::Arc<Vec<Session>>);

/// One address's sessions: the client's source address (none: the kernel's choice), and the
/// `CONNECT` and `GET` heads naming that address's origin.
type Session = (Option<Ipv4Addr>, Vec<u8>, Vec<u8>);

impl Heads {
    fn new(a: &Args) -> Result<Heads> {
        let n = a.addrs.max(1);
        let mut all = Vec::with_capacity(n.into());
        for k in 0..n {
            let origin = match (a.origin, n) {
                (o, 1) => o,
                (SocketAddr::V4(o), _) if o.ip().is_loopback() => {
                    let [a0, a1, a2, a3] = o.ip().octets();
                    let last = a3.checked_add(k).context("ADDRS runs past 127.x.y.255")?;
                    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a0, a1, a2, last)), o.port())
                }
                _ => bail!("ADDRS above 1 needs a 127.x.y.z ORIGIN"),
            };
            let source = (n > 1).then(|| Ipv4Addr::new(127, 0, 0, 1 + k));
            all.push((
                source,
                format!("CONNECT {origin} HTTP/1.1\r\nHost: {origin}\r\n\r\n").into_bytes(),
                format!("GET {} HTTP/1.1\r\nHost: {origin}\r\n\r\n", a.path).into_bytes(),
            ));
        }
        Ok(Heads(std::sync::Arc::new(all)))
    }

    fn session(&self, i: usize) -> (Option<Ipv4Addr>, &[u8], &[u8]) {
        let (source, connect, get) = &self.0[i % self.0.len()];
        (*source, connect, get)
    }
}

/// `IP_BIND_ADDRESS_NO_PORT`: the source port is chosen at `connect()` by 4-tuple, not reserved
/// at `bind()` for every destination.
#[allow(unsafe_code)]
fn bind_address_no_port(socket: &TcpSocket) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a valid descriptor owned by `socket`; a c_int of the length passed.
    let _ = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

async fn worker(proxy: SocketAddr, heads: Heads, first: usize, until: Instant) -> (Vec<u32>, u64) {
    let mut lat = Vec::new();
    let mut errors = 0;
    let mut i = first;
    while Instant::now() < until {
        let (source, connect, get) = heads.session(i);
        i = i.wrapping_add(1);
        match tokio::time::timeout(CONN_TIMEOUT, one(proxy, source, connect, get)).await {
            Ok(Ok(d)) => lat.push(d.as_micros().min(u32::MAX as u128) as u32),
            _ => errors += 1,
        }
    }
    (lat, errors)
}

async fn run(a: &Args, heads: &Heads, duration: Duration) -> (Vec<u32>, u64, Duration) {
    let start = Instant::now();
    let until = start + duration;
    let tasks: Vec<_> = (0..a.concurrency)
        .map(|i| tokio::spawn(worker(a.proxy, heads.clone(), i, until)))
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
fn client_thread(a: &Args, heads: &Heads, concurrency: usize, warm: &Barrier) -> Result<Share> {
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
    let heads = Heads::new(&a)?;
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
