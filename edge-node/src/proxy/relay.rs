//! Moves a tunnel's bytes between two sockets without owning a buffer while it waits.
//!
//! Each direction waits for readiness (`readable()`), holding nothing. Bytes first go through a
//! per-thread scratch buffer borrowed for one read and one write (only bytes the destination
//! cannot take yet are copied into an owned backlog, freed once written). Once a direction
//! carries bulk (a read of `BULK_READ` or more, or a destination that cannot keep up), on Linux
//! it moves bytes with `splice(2)` through a pooled pipe instead (see `splice`).
//! Reads go through tokio's `AsyncRead`, which marks a socket not-ready after a short read, so
//! a direction waits for the next bytes instead of trying a read that can only say `EAGAIN`.
//! A direction ends at its source's EOF (passing the half-close on with `shutdown(Write)`, unless
//! the other direction has already ended: then the tunnel is over and closing the socket sends
//! the same FIN, one system call fewer) or at the first error; the tunnel ends when both have, when either ended with an error (a reset
//! peer: nothing more can cross, so the other side is not kept waiting for its idle timeout),
//! or when no byte moved for `idle`.

use std::cell::RefCell;
use std::io;
use std::net::Shutdown;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use prometheus::IntCounter;
use socket2::SockRef;
#[cfg(target_os = "linux")]
use tokio::io::Interest;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::tcp::{ReadHalf, WriteHalf};
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
/// Returns the bytes sent down to the client. The caller closes both sockets when it returns:
/// the direction that ends last leaves its FIN to that close.
pub async fn relay(
    client: &mut TcpStream,
    server: &mut TcpStream,
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
    client: &mut TcpStream,
    server: &mut TcpStream,
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
    let (client_read, client_write) = client.split();
    let (server_read, server_write) = server.split();
    let (up_done, down_done) = (AtomicBool::new(false), AtomicBool::new(false));
    // An idle tunnel is this future (the task holding it is mostly this): each direction is
    // pinned where it is made and only referred to after, because a future moved into another
    // (a named local, an argument pinned again) keeps a slot in both, twice the memory.
    let c2s = std::pin::pin!(direction(
        client_read,
        &server_write,
        first_up,
        &up_meter,
        (&up_done, &down_done),
        splice,
    ));
    let s2c = std::pin::pin!(direction(
        server_read,
        &client_write,
        first_down,
        &down_meter,
        (&down_done, &up_done),
        splice,
    ));
    tokio::select! {
        _ = until_both_or_an_error(c2s, s2c) => {}
        _ = watchdog(&last, start, idle) => tracing::debug!("tunnel idle timeout"),
    }
    down_total.load(Ordering::Relaxed)
}

/// Returns once no byte has moved for `idle` (`last`: milliseconds since `start` at the last).
async fn watchdog(last: &AtomicU64, start: Instant, idle: Duration) {
    loop {
        let since = Duration::from_millis(last.load(Ordering::Relaxed));
        let deadline = start + since + idle;
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep_until(deadline.into()).await;
    }
}

/// Runs both directions until both ended, or one ended with an error.
async fn until_both_or_an_error(
    mut a: Pin<&mut impl std::future::Future<Output = bool>>,
    mut b: Pin<&mut impl std::future::Future<Output = bool>>,
) {
    let (mut a_done, mut b_done) = (false, false);
    while !(a_done && b_done) {
        let failed = tokio::select! {
            ok = a.as_mut(), if !a_done => { a_done = true; !ok }
            ok = b.as_mut(), if !b_done => { b_done = true; !ok }
        };
        if failed {
            return;
        }
    }
}

/// Whether tunnels try `splice(2)` first.
const SPLICE: bool = cfg!(target_os = "linux");

/// One direction: `first`, then everything `from` sends, then the half-close. False if it
/// ended with an error. `(done, other_done)`: whether this direction, the other, has ended.
async fn direction(
    mut from: ReadHalf<'_>,
    to: &WriteHalf<'_>,
    first: &[u8],
    meter: &Meter<'_>,
    (done, other_done): (&AtomicBool, &AtomicBool),
    splice: bool,
) -> bool {
    let result = copy(&mut from, to.as_ref(), first, meter, splice).await;
    if let Err(e) = &result {
        tracing::debug!(error = %e, "tunnel direction ended with an error");
    }
    // The other direction read its source to EOF (or failed, which ends the tunnel): `to` is
    // closed next, which sends the FIN that `shutdown` would.
    if !(result.is_ok() && other_done.load(Ordering::Relaxed)) {
        let _ = SockRef::from(to.as_ref()).shutdown(Shutdown::Write);
    }
    done.store(true, Ordering::Relaxed);
    result.is_ok()
}

async fn copy(
    from: &mut ReadHalf<'_>,
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
        #[cfg(target_os = "linux")]
        if splice && bulk {
            from.as_ref().readable().await?;
            match splice_step(from.as_ref(), to, meter).await? {
                Step::Eof => return Ok(()),
                Step::Again => continue,
                // No pipe to be had (descriptors exhausted): this round goes through the buffer.
                Step::NoPipe => {}
                // A socket splice cannot read: copy from now on.
                Step::Unsupported => splice = false,
            }
        }
        match buffer_step(from, to, meter).await? {
            BufStep::Eof => return Ok(()),
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
    /// `n` bytes read and written.
    Moved(usize),
    /// Bytes read that `to` could not take yet.
    Backlog(Vec<u8>),
}

/// Waits for bytes, then one read into the thread's scratch buffer and one write of it within
/// one poll (so the buffer is never held across an await); what `to` does not take is copied
/// out.
async fn buffer_step(
    from: &mut ReadHalf<'_>,
    to: &TcpStream,
    meter: &Meter<'_>,
) -> io::Result<BufStep> {
    std::future::poll_fn(|cx| {
        SCRATCH_BUF.with(|cell| {
            let mut scratch = cell.borrow_mut();
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut *from).poll_read(cx, &mut buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {}
            }
            let read = buf.filled();
            let n = read.len();
            if n == 0 {
                return Poll::Ready(Ok(BufStep::Eof));
            }
            let written = match to.try_write(read) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                Err(e) => return Poll::Ready(Err(e)),
            };
            meter.moved(written);
            Poll::Ready(Ok(if written == n {
                BufStep::Moved(n)
            } else {
                BufStep::Backlog(read[written..].to_vec())
            }))
        })
    })
    .await
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
