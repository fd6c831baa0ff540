//! Linux `splice(2)`: bytes move socket → pipe → socket inside the kernel, never through a
//! user-space buffer. Pipes come from a small per-thread pool and are held only while bytes are
//! in flight, so an idle tunnel owns no pipe (and no buffer).
//!
//! This is most of the crate's `unsafe` code (the rest is one `setsockopt` in `dial`): two libc
//! calls (`pipe2`, `splice`) on descriptors this module owns or borrows for the length of the
//! call.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Most bytes asked of one `splice` call: the default pipe capacity (16 pages).
pub const CHUNK: usize = 64 * 1024;
/// Empty pipes kept per worker thread; more are closed when given back. Each costs two file
/// descriptors and no memory while empty.
const POOL_PER_THREAD: usize = 32;

/// A pipe whose contents are known: `queued` bytes written and not yet read.
#[derive(Debug)]
pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    pub queued: usize,
}

impl Pipe {
    fn new() -> io::Result<Pipe> {
        let mut fds: [RawFd; 2] = [-1, -1];
        // SAFETY: `fds` is a valid, writable array of two descriptors, as pipe2 requires.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(Pipe {
            read,
            write,
            queued: 0,
        })
    }

    /// Moves up to `CHUNK` bytes from socket `from` into the pipe (`Ok(0)`: `from` is at EOF).
    pub fn fill_from(&mut self, from: &impl AsRawFd) -> io::Result<usize> {
        let n = splice(from.as_raw_fd(), self.write.as_raw_fd(), CHUNK)?;
        self.queued += n;
        Ok(n)
    }

    /// Moves queued bytes from the pipe to socket `to`; returns how many went.
    pub fn drain_to(&mut self, to: &impl AsRawFd) -> io::Result<usize> {
        let n = splice(self.read.as_raw_fd(), to.as_raw_fd(), self.queued)?;
        self.queued -= n.min(self.queued);
        Ok(n)
    }
}

fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: both descriptors are open for the duration of the call (borrowed from live
    // owners); null offsets are required for pipes and sockets; no memory is passed.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

thread_local! {
    static POOL: RefCell<Vec<Pipe>> = const { RefCell::new(Vec::new()) };
}

/// An empty pipe from this thread's pool, or a new one; `Err` when no pipe can be made (out of
/// descriptors, say): the caller then copies through a buffer instead.
pub fn take() -> io::Result<Pipe> {
    match POOL.with(|p| p.borrow_mut().pop()) {
        Some(pipe) => Ok(pipe),
        None => Pipe::new(),
    }
}

/// Gives a pipe back. Only an empty pipe is pooled: one with bytes still queued (its writer
/// failed) is closed, so no pipe ever carries one tunnel's bytes into another.
pub fn give_back(pipe: Pipe) {
    if pipe.queued != 0 {
        return;
    }
    POOL.with(|p| {
        let mut pool = p.borrow_mut();
        if pool.len() < POOL_PER_THREAD {
            pool.push(pipe);
        }
    });
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    use super::*;

    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let a = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (b, _) = l.accept().expect("accept");
        (a, b)
    }

    #[test]
    fn bytes_cross_from_socket_to_socket_through_a_pooled_pipe() {
        let (mut a_out, a_in) = pair();
        let (b_out, mut b_in) = pair();
        a_out.write_all(b"spliced bytes").expect("write");
        a_out.shutdown(std::net::Shutdown::Write).expect("shutdown");
        let mut pipe = take().expect("pipe");
        let mut moved = 0;
        loop {
            match pipe.fill_from(&a_in) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("splice in: {e}"),
            }
            while pipe.queued > 0 {
                moved += pipe.drain_to(&b_out).expect("splice out");
            }
        }
        assert_eq!(moved, 13);
        give_back(pipe);
        assert_eq!(
            POOL.with(|p| p.borrow().len()),
            1,
            "an empty pipe is pooled"
        );
        drop(b_out);
        let mut got = String::new();
        b_in.read_to_string(&mut got).expect("read");
        assert_eq!(got, "spliced bytes");
    }

    #[test]
    fn a_pipe_with_bytes_left_is_not_pooled() {
        let mut pipe = take().expect("pipe");
        pipe.queued = 1;
        let before = POOL.with(|p| p.borrow().len());
        give_back(pipe);
        assert_eq!(POOL.with(|p| p.borrow().len()), before);
    }
}
