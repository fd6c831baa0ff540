//! Request framing, checked before hyper sees a byte.
//!
//! hyper parses requests leniently for a proxy's needs: it quietly resolves `Content-Length`
//! together with `Transfer-Encoding`, and answers what it cannot parse with a bare 400 of its own.
//! [`Framer`] (sans-IO) follows the client's byte stream message by message with httparse — head,
//! then body by `Content-Length` or chunked framing, then the next head; a `CONNECT` head turns
//! it into a pass-through — and [`Guarded`] applies it to the socket. A head that is malformed,
//! too large or ambiguously framed never reaches hyper: hyper gets a marker request instead, and
//! the service answers it with the recorded reason (and a `Proxy-Status`), then the stream ends.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::error::ProxyError;
use crate::config::PARSER_MAX_HEADERS;
use crate::waiting::Ticket;

/// Why a request head was refused, and which head (1-based) of the connection it was.
#[derive(Debug)]
pub struct Rejected {
    pub head: u64,
    pub error: ProxyError,
}

/// Shared between the connection's byte stream and its request handler.
#[derive(Debug, Default)]
pub struct Verdict(OnceLock<Rejected>);

impl Verdict {
    /// The refusal recorded for head number `n`, if that head was refused.
    pub fn for_head(&self, n: u64) -> Option<&ProxyError> {
        self.0.get().filter(|r| r.head == n).map(|r| &r.error)
    }
}

/// What hyper parses in place of a refused head: valid, bodiless, and closing.
const MARKER: &[u8] = b"GET / HTTP/1.1\r\nhost: breakout.invalid\r\nconnection: close\r\n\r\n";
const MAX_CHUNK_LINE: usize = 4096;

/// What the framer makes of the bytes it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// This many bytes pass to hyper unchanged (0: more are needed).
    Pass(usize),
    /// This many bytes are dropped: the head is refused.
    Refuse(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Length(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkDataEnd(u8),
    Trailers,
    /// A tunnel, or a stream the framer stopped following (hyper will refuse the body).
    Passthrough,
    Refused,
}

/// The sans-IO framing follower.
#[derive(Debug)]
pub struct Framer {
    state: State,
    heads: u64,
    line: Vec<u8>,
    max_header_bytes: usize,
    max_headers: usize,
}

impl Framer {
    pub fn new(max_header_bytes: usize, max_headers: usize) -> Framer {
        Framer {
            state: State::Head,
            heads: 0,
            line: Vec::new(),
            max_header_bytes,
            max_headers,
        }
    }

    /// Looks at `input` (the bytes not yet given to hyper): how many of them pass to hyper
    /// as they are (0: more input is needed), or that the head they start is refused (recorded
    /// in `verdict`; hyper gets [`MARKER`] instead, and nothing after it).
    pub fn step(&mut self, input: &[u8], verdict: &Verdict) -> Step {
        let take = |n: u64| n.min(input.len() as u64) as usize;
        match self.state {
            State::Head => self.head(input, verdict),
            State::Length(n) => {
                let t = take(n);
                self.state = match t as u64 == n {
                    true => State::Head,
                    false => State::Length(n - t as u64),
                };
                Step::Pass(t)
            }
            State::ChunkData(n) => {
                let t = take(n);
                self.state = match t as u64 == n {
                    true => State::ChunkDataEnd(0),
                    false => State::ChunkData(n - t as u64),
                };
                Step::Pass(t)
            }
            State::ChunkDataEnd(seen) => {
                let Some(&b) = input.first() else {
                    return Step::Pass(0);
                };
                let expected = [b'\r', b'\n'][seen as usize];
                self.state = match (b == expected, seen) {
                    (true, 0) => State::ChunkDataEnd(1),
                    (true, _) => State::ChunkSize,
                    (false, _) => State::Passthrough,
                };
                Step::Pass(1)
            }
            State::ChunkSize | State::Trailers => Step::Pass(self.chunk_line(input)),
            State::Passthrough => Step::Pass(input.len()),
            // Nothing after a refused head reaches hyper.
            State::Refused => Step::Refuse(input.len()),
        }
    }

    /// [`Framer::step`], appending what hyper sees to `out`; returns the bytes consumed.
    pub fn process(&mut self, input: &[u8], out: &mut Vec<u8>, verdict: &Verdict) -> usize {
        let was_refused = self.refused();
        match self.step(input, verdict) {
            Step::Pass(n) => {
                out.extend_from_slice(&input[..n]);
                n
            }
            Step::Refuse(n) => {
                if !was_refused {
                    out.extend_from_slice(MARKER);
                }
                n
            }
        }
    }

    /// True when bytes may go straight to hyper without being looked at (and how many at most).
    pub fn direct_limit(&self) -> Option<u64> {
        match self.state {
            State::Passthrough => Some(u64::MAX),
            State::Length(n) => Some(n),
            _ => None,
        }
    }

    /// Records that `n` bytes went to hyper directly.
    pub fn passed_directly(&mut self, n: usize) {
        if let State::Length(left) = self.state {
            let left = left - (n as u64).min(left);
            self.state = if left == 0 {
                State::Head
            } else {
                State::Length(left)
            };
        }
    }

    pub fn refused(&self) -> bool {
        self.state == State::Refused
    }

    /// Request heads seen so far (complete or refused).
    pub fn heads(&self) -> u64 {
        self.heads
    }

    /// Refuses the current head; everything in `input` is dropped.
    fn refuse(&mut self, error: ProxyError, verdict: &Verdict, input: &[u8]) -> Step {
        let _ = verdict.0.set(Rejected {
            head: self.heads,
            error,
        });
        self.state = State::Refused;
        Step::Refuse(input.len())
    }

    fn head(&mut self, input: &[u8], verdict: &Verdict) -> Step {
        // Uninitialised: httparse fills what it finds (see `direct::classify`).
        let mut headers =
            [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; PARSER_MAX_HEADERS];
        let mut req = httparse::Request::new(&mut []);
        let parsed = req.parse_with_uninit_headers(input, &mut headers);
        let too_large = |what: String| ProxyError::HeadersTooLarge(what);
        match parsed {
            Ok(httparse::Status::Partial) if input.len() > self.max_header_bytes => {
                self.heads += 1;
                let e = too_large(format!("request head over {} bytes", self.max_header_bytes));
                self.refuse(e, verdict, input)
            }
            Ok(httparse::Status::Partial) => Step::Pass(0),
            Err(httparse::Error::TooManyHeaders) => {
                self.heads += 1;
                let e = too_large(format!("more than {} header fields", self.max_headers));
                self.refuse(e, verdict, input)
            }
            Err(e) => {
                self.heads += 1;
                let e = ProxyError::BadRequest(format!("malformed request head: {e}"));
                self.refuse(e, verdict, input)
            }
            Ok(httparse::Status::Complete(len)) => {
                self.heads += 1;
                let next = if len > self.max_header_bytes {
                    Err(too_large(format!(
                        "request head over {} bytes",
                        self.max_header_bytes
                    )))
                } else if req.headers.len() > self.max_headers {
                    Err(too_large(format!(
                        "{} header fields (limit {})",
                        req.headers.len(),
                        self.max_headers
                    )))
                } else {
                    body_framing(&req)
                };
                match next {
                    Ok(state) => {
                        self.state = state;
                        Step::Pass(len)
                    }
                    Err(e) => self.refuse(e, verdict, input),
                }
            }
        }
    }

    /// Chunk-size lines and trailer lines: passed on as they are, followed to find the end.
    fn chunk_line(&mut self, input: &[u8]) -> usize {
        let Some(nl) = input.iter().position(|b| *b == b'\n') else {
            self.line.extend_from_slice(input);
            if self.line.len() > MAX_CHUNK_LINE {
                self.state = State::Passthrough;
            }
            return input.len();
        };
        self.line.extend_from_slice(&input[..nl]);
        let line = std::mem::take(&mut self.line);
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        self.state = match self.state {
            State::ChunkSize => match chunk_size(line) {
                Some(0) => State::Trailers,
                Some(n) => State::ChunkData(n),
                None => State::Passthrough,
            },
            _ if line.is_empty() => State::Head,
            other => other,
        };
        nl + 1
    }
}

fn chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line.split(|b| *b == b';').next()?.trim_ascii();
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    let s = std::str::from_utf8(digits).ok()?;
    u64::from_str_radix(s, 16).ok()
}

/// How the body of a parsed request is framed, or why the head is refused.
fn body_framing(req: &httparse::Request<'_, '_>) -> Result<State, ProxyError> {
    let bad = |m: &str| Err(ProxyError::BadRequest(m.to_string()));
    let mut te = req
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("transfer-encoding"));
    let mut cl = req
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("content-length"));
    let (te1, te2, cl1, cl2) = (te.next(), te.next(), cl.next(), cl.next());
    if te1.is_some() && cl1.is_some() {
        return bad("both Content-Length and Transfer-Encoding");
    }
    if req.method == Some("CONNECT") {
        return Ok(State::Passthrough);
    }
    if let Some(te) = te1 {
        if te2.is_some() || !te.value.trim_ascii().eq_ignore_ascii_case(b"chunked") {
            return bad("Transfer-Encoding other than a single \"chunked\"");
        }
        if req.version == Some(0) {
            return bad("Transfer-Encoding in an HTTP/1.0 request");
        }
        return Ok(State::ChunkSize);
    }
    match (cl1, cl2) {
        (Some(_), Some(_)) => bad("more than one Content-Length"),
        (Some(h), None) => {
            let v = h.value.trim_ascii();
            if v.is_empty() || v.len() > 18 || !v.iter().all(u8::is_ascii_digit) {
                return bad("Content-Length is not a number");
            }
            let n: u64 = std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            Ok(if n == 0 {
                State::Head
            } else {
                State::Length(n)
            })
        }
        _ => Ok(State::Head),
    }
}

/// A client socket whose request heads pass through a [`Framer`] on their way to hyper.
///
/// Bytes are read once into `buf` (kept initialised and reused for the connection's heads,
/// so a read zero-fills nothing) and copied once more, into hyper's buffer, once the framer
/// lets them through. Bodies of known length and tunnel bytes skip `buf` altogether.
pub struct Guarded<S> {
    io: S,
    framer: Framer,
    verdict: Arc<Verdict>,
    /// `buf[start..end]` was read and not yet given to hyper; its first `passed` bytes the
    /// framer let through. `buf.len()` is how much of it is initialised.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    passed: usize,
    /// What hyper still has to read of [`MARKER`] after a refused head.
    marker: &'static [u8],
    eof: bool,
    /// The connection's place among its source's connections waiting for a first head,
    /// given back once one is seen.
    ticket: Option<Ticket>,
}

/// Room made for each read from the socket.
const READ_CHUNK: usize = 8192;

impl<S> Guarded<S> {
    pub fn new(io: S, framer: Framer, verdict: Arc<Verdict>) -> Self {
        Guarded {
            io,
            framer,
            verdict,
            buf: Vec::new(),
            start: 0,
            end: 0,
            passed: 0,
            marker: &[],
            eof: false,
            ticket: None,
        }
    }

    /// Holds `ticket` until the first request head is seen.
    pub fn waiting(mut self, ticket: Option<Ticket>) -> Self {
        self.ticket = ticket;
        self
    }

    /// Starts with `bytes` already read from the socket (they are framed before anything new).
    pub fn preloaded(mut self, bytes: Vec<u8>) -> Self {
        self.end = bytes.len();
        self.buf = bytes;
        self
    }

    /// The socket, and the bytes read from it that hyper has not been given yet (after a
    /// `CONNECT` head they belong to the tunnel).
    pub fn into_parts(mut self) -> (S, Vec<u8>) {
        self.buf.truncate(self.end);
        self.buf.drain(..self.start);
        (self.io, self.buf)
    }

    /// Makes room for a read at `buf[end..]`: moves unconsumed bytes to the front, and grows
    /// (zero-filling only the growth) when that is not enough.
    fn make_room(&mut self) {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        if self.buf.len() - self.end >= READ_CHUNK / 2 {
            return;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        if self.buf.len() - self.end < READ_CHUNK / 2 {
            self.buf.resize(self.end + READ_CHUNK, 0);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.passed > 0 {
                let n = out.remaining().min(this.passed);
                out.put_slice(&this.buf[this.start..this.start + n]);
                this.start += n;
                this.passed -= n;
                return Poll::Ready(Ok(()));
            }
            if !this.marker.is_empty() {
                let n = out.remaining().min(this.marker.len());
                out.put_slice(&this.marker[..n]);
                this.marker = &this.marker[n..];
                return Poll::Ready(Ok(()));
            }
            if this.framer.refused() {
                // Not EOF: hyper would drop the connection without answering. The marker asks
                // for `connection: close`, so hyper closes once the refusal is written.
                return Poll::Pending;
            }
            if this.start == this.end {
                if let Some(limit) = this.framer.direct_limit() {
                    if limit == u64::MAX && this.buf.capacity() > 0 {
                        // A tunnel never needs the head buffer again: give its memory back
                        // (it is most of what an idle tunnel would otherwise hold).
                        this.buf = Vec::new();
                        (this.start, this.end) = (0, 0);
                    }
                    // Bodies of known length and tunnels skip the copy.
                    let room = (out.remaining() as u64).min(limit) as usize;
                    let mut direct = ReadBuf::new(out.initialize_unfilled_to(room));
                    ready!(Pin::new(&mut this.io).poll_read(cx, &mut direct))?;
                    let n = direct.filled().len();
                    out.advance(n);
                    this.framer.passed_directly(n);
                    return Poll::Ready(Ok(()));
                }
            } else {
                let step = this
                    .framer
                    .step(&this.buf[this.start..this.end], &this.verdict);
                if this.ticket.is_some() && this.framer.heads() > 0 {
                    this.ticket = None;
                }
                match step {
                    Step::Pass(0) => {}
                    Step::Pass(n) => {
                        this.passed = n;
                        continue;
                    }
                    Step::Refuse(n) => {
                        this.start += n;
                        this.marker = MARKER;
                        continue;
                    }
                }
            }
            if this.eof {
                // The client left mid-head: hand hyper what there is; it sees the truncation.
                this.passed = this.end - this.start;
                if this.passed == 0 {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            this.make_room();
            let mut rb = ReadBuf::new(&mut this.buf[this.end..]);
            ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?;
            let n = rb.filled().len();
            if n == 0 {
                this.eof = true;
            }
            this.end += n;
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests;
