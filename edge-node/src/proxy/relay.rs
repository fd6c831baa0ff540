//! Moves a tunnel's bytes between two sockets without owning a buffer while it waits.
//!
//! Each direction waits for readiness (`readable()`), holding nothing. Bytes first go through a
//! per-thread scratch buffer borrowed for one read and one write (only bytes the destination
//! cannot take yet are copied into an owned backlog, freed once written). Once a direction
//! carries bulk (a read of `BULK_READ` or more, or a destination that cannot keep up), on Linux
//! it moves bytes with `splice(2)` through a pooled pipe instead (see `splice`).
//! A direction ends at its source's EOF (passing the half-close on with `shutdown(Write)`) or at
//! the first error; the tunnel ends when both have, when either ended with an error (a reset
//! peer: nothing more can cross, so the other side is not kept waiting for its idle timeout),
//! or when no byte moved for `idle`.

use std::cell::RefCell;
use std::io;
use std::net::Shutdown;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use prometheus::IntCounter;
use socket2::SockRef;
#[cfg(target_os = "linux")]
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Size of the per-thread scratch buffer of the portable path.
const SCRATCH: usize = 64 * 1024;
/// A read at least this large marks a direction as bulk: from then on it splices.
const BULK_READ: usize = 16 * 1024;

thread_local! {
    static SCRATCH_BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0u8; SCRATCH].into_boxed_slice());
}

/// One direction's accounting: the metric, the tunnel's own total, and the shared clock of the
/// last byte moved (milliseconds since `start`, read by the idle watchdog).
pub struct Meter<'a> {
    pub counter: &'a IntCounter,
    pub total: &'a AtomicU64,
    pub last: &'a AtomicU64,
    pub start: Instant,
}

impl Meter<'_> {
    fn moved(&self, n: usize) {
        self.counter.inc_by(n as u64);
        self.total.fetch_add(n as u64, Ordering::Relaxed);
        self.last
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

/// Relays between `client` and `server` until both directions end or the tunnel sits idle for
/// `idle`. `first_up` / `first_down` are bytes already read from either side (sent first).
/// Returns the bytes sent down to the client.
pub async fn relay(
    client: &TcpStream,
    server: &TcpStream,
    first_up: &[u8],
    first_down: &[u8],
    idle: Duration,
    up: (&IntCounter, &AtomicU64),
    down: &IntCounter,
) -> u64 {
    let firsts = (first_up, first_down);
    relay_with(client, server, firsts, idle, up, down, SPLICE).await
}

async fn relay_with(
    client: &TcpStream,
    server: &TcpStream,
    (first_up, first_down): (&[u8], &[u8]),
    idle: Duration,
    up: (&IntCounter, &AtomicU64),
    down: &IntCounter,
    splice: bool,
) -> u64 {
    let start = Instant::now();
    let last = AtomicU64::new(0);
    let down_total = AtomicU64::new(0);
    let up_meter = Meter {
        counter: up.0,
        total: up.1,
        last: &last,
        start,
    };
    let down_meter = Meter {
        counter: down,
        total: &down_total,
        last: &last,
        start,
    };
    let c2s = direction(client, server, first_up, &up_meter, splice);
    let s2c = direction(server, client, first_down, &down_meter, splice);
    let watchdog = async {
        loop {
            let since = Duration::from_millis(last.load(Ordering::Relaxed));
            let deadline = start + since + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline.into()).await;
        }
    };
    tokio::select! {
        _ = until_both_or_an_error(c2s, s2c) => {}
        _ = watchdog => tracing::debug!("tunnel idle timeout"),
    }
    down_total.load(Ordering::Relaxed)
}

/// Runs both directions until both ended, or one ended with an error.
async fn until_both_or_an_error(
    a: impl std::future::Future<Output = bool>,
    b: impl std::future::Future<Output = bool>,
) {
    tokio::pin!(a, b);
    let (mut a_done, mut b_done) = (false, false);
    while !(a_done && b_done) {
        let failed = tokio::select! {
            ok = &mut a, if !a_done => { a_done = true; !ok }
            ok = &mut b, if !b_done => { b_done = true; !ok }
        };
        if failed {
            return;
        }
    }
}

/// Whether tunnels try `splice(2)` first.
const SPLICE: bool = cfg!(target_os = "linux");

/// One direction: `first`, then everything `from` sends, then the half-close. False if it
/// ended with an error.
async fn direction(
    from: &TcpStream,
    to: &TcpStream,
    first: &[u8],
    meter: &Meter<'_>,
    splice: bool,
) -> bool {
    let result = copy(from, to, first, meter, splice).await;
    if let Err(e) = &result {
        tracing::debug!(error = %e, "tunnel direction ended with an error");
    }
    let _ = SockRef::from(to).shutdown(Shutdown::Write);
    result.is_ok()
}

async fn copy(
    from: &TcpStream,
    to: &TcpStream,
    first: &[u8],
    meter: &Meter<'_>,
    splice: bool,
) -> io::Result<()> {
    write_all(to, first, meter).await?;
    // Splice only once the direction carries bulk: for a few hundred bytes, read and write
    // cost less than the two splices and the pipe.
    let mut bulk = false;
    #[cfg(target_os = "linux")]
    let mut splice = splice;
    #[cfg(not(target_os = "linux"))]
    let _ = splice;
    loop {
        from.readable().await?;
        #[cfg(target_os = "linux")]
        if splice && bulk {
            match splice_step(from, to, meter).await? {
                Step::Eof => return Ok(()),
                Step::Again => continue,
                // No pipe to be had (descriptors exhausted): this round goes through the buffer.
                Step::NoPipe => {}
                // A socket splice cannot read: copy from now on.
                Step::Unsupported => splice = false,
            }
        }
        match buffer_step(from, to, meter)? {
            BufStep::Eof => return Ok(()),
            BufStep::Again => {}
            BufStep::Moved(n) => bulk |= n >= BULK_READ,
            BufStep::Backlog(rest) => {
                bulk = true;
                write_all(to, &rest, meter).await?;
            }
        }
    }
}

#[cfg(target_os = "linux")]
enum Step {
    Eof,
    Again,
    NoPipe,
    Unsupported,
}

/// One splice round: socket → pipe, then pipe → socket until the pipe is empty. The pipe is
/// held across the wait for `to` to become writable (a slow reader keeps it until it drains).
#[cfg(target_os = "linux")]
async fn splice_step(from: &TcpStream, to: &TcpStream, meter: &Meter<'_>) -> io::Result<Step> {
    use super::splice;
    let Ok(mut pipe) = splice::take() else {
        return Ok(Step::NoPipe);
    };
    // try_io clears the readiness on EAGAIN, so the next readable() really waits.
    let filled = from.try_io(Interest::READABLE, || pipe.fill_from(from));
    match filled {
        Ok(0) => {
            splice::give_back(pipe);
            return Ok(Step::Eof);
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            splice::give_back(pipe);
            return Ok(Step::Again);
        }
        Err(e) => {
            splice::give_back(pipe);
            if e.raw_os_error() == Some(libc::EINVAL) {
                return Ok(Step::Unsupported);
            }
            return Err(e);
        }
    }
    while pipe.queued > 0 {
        match to.try_io(Interest::WRITABLE, || pipe.drain_to(to)) {
            Ok(n) => meter.moved(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => to.writable().await?,
            // The pipe still holds bytes: it is closed, not pooled.
            Err(e) => return Err(e),
        }
    }
    splice::give_back(pipe);
    Ok(Step::Again)
}

enum BufStep {
    Eof,
    /// Nothing to read after all.
    Again,
    /// `n` bytes read and written.
    Moved(usize),
    /// Bytes read that `to` could not take yet.
    Backlog(Vec<u8>),
}

/// One read into the thread's scratch buffer and one write of it, with no await in between (so
/// the buffer is never held across one); what `to` does not take is copied out.
fn buffer_step(from: &TcpStream, to: &TcpStream, meter: &Meter<'_>) -> io::Result<BufStep> {
    SCRATCH_BUF.with(|cell| {
        let mut buf = cell.borrow_mut();
        let n = match from.try_read(&mut buf) {
            Ok(0) => return Ok(BufStep::Eof),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(BufStep::Again),
            Err(e) => return Err(e),
        };
        let written = match to.try_write(&buf[..n]) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e),
        };
        meter.moved(written);
        Ok(if written == n {
            BufStep::Moved(n)
        } else {
            BufStep::Backlog(buf[written..n].to_vec())
        })
    })
}

/// Writes all of `data` to `to`, waiting for writability as needed.
async fn write_all(to: &TcpStream, mut data: &[u8], meter: &Meter<'_>) -> io::Result<()> {
    while !data.is_empty() {
        to.writable().await?;
        match to.try_write(data) {
            Ok(n) => {
                meter.moved(n);
                data = &data[n..];
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
