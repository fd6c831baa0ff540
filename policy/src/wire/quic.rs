//! Frames over one QUIC bidirectional stream: the async shell around the pure codec, shared by
//! the control plane and the edge. Behind the `quic` feature so the policy crate stays I/O-free
//! for everyone else.

use std::future::Future;
use std::task::Poll;

use crate::wire::{self, Frame, FrameDecoder, WireError};

/// Why the stream failed.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("reading: {0}{cause}", cause = cause(.0))]
    Read(#[from] quinn::ReadError),
    #[error("writing: {0}{cause}", cause = cause(.0))]
    Write(#[from] quinn::WriteError),
    #[error("{0}")]
    Wire(#[from] WireError),
}

/// Why the connection under a stream error went, after quinn's bare "connection lost": the idle
/// timeout, the peer's close with its reason, a reset.
fn cause(error: &impl std::error::Error) -> String {
    error.source().map(|s| format!(": {s}")).unwrap_or_default()
}

/// Both halves of the control stream.
pub struct FrameIo {
    send: quinn::SendStream,
    recv: quinn::RecvStream,
    decoder: FrameDecoder,
    chunk: Vec<u8>,
    /// The peer finished its side (seen while writing; [`FrameIo::read`] reports it).
    ended: bool,
}

impl FrameIo {
    /// `max` bounds the frames accepted from the peer.
    pub fn new(send: quinn::SendStream, recv: quinn::RecvStream, max: usize) -> Self {
        FrameIo {
            send,
            recv,
            decoder: FrameDecoder::new(max),
            chunk: vec![0; 64 * 1024],
            ended: false,
        }
    }

    /// The next frame; `None` when the peer finished the stream cleanly. Cancel-safe: bytes
    /// read are in the decoder before the next await.
    pub async fn read(&mut self) -> Result<Option<Frame>, IoError> {
        loop {
            if let Some(frame) = self.decoder.next_frame()? {
                return Ok(Some(frame));
            }
            if self.ended {
                self.decoder.finish()?;
                return Ok(None);
            }
            match self.recv.read(&mut self.chunk).await? {
                Some(n) => self.decoder.push(&self.chunk[..n]),
                None => self.ended = true,
            }
        }
    }

    /// Encodes and writes one frame; the bytes it took on the wire. Not cancel-safe: await it
    /// to completion.
    pub async fn write(&mut self, frame: &Frame) -> Result<usize, IoError> {
        let bytes = wire::encode(frame, wire::MAX_FRAME)?;
        let len = bytes.len();
        self.write_shared(bytes.into()).await?;
        Ok(len)
    }

    /// Bytes the last frame [`FrameIo::read`] returned took on the wire, header included.
    pub fn last_read_len(&self) -> usize {
        self.decoder.last_len()
    }

    /// Writes an already encoded frame held in shared bytes: the stream keeps a reference
    /// until the peer acknowledged them, not a copy (a region's snapshot written to a thousand
    /// edges at once is held once). Not cancel-safe: await it to completion.
    ///
    /// What the peer sends meanwhile is read into the decoder (for [`FrameIo::read`]). Both
    /// sides write without being asked (a node its grants, an edge its reports): if a write
    /// blocked on the peer's flow control stopped this side reading, two peers writing at once
    /// past each other's window would each wait for the other to read, for ever, with the
    /// connection alive.
    pub async fn write_shared(&mut self, bytes: bytes::Bytes) -> Result<(), IoError> {
        let FrameIo {
            send,
            recv,
            decoder,
            chunk,
            ended,
        } = self;
        let mut write = std::pin::pin!(send.write_chunk(bytes));
        loop {
            let step = std::future::poll_fn(|cx| {
                if let Poll::Ready(written) = write.as_mut().poll(cx) {
                    return Poll::Ready(Step::Written(written));
                }
                // Past one frame of the largest size this side accepts (4 MiB on a node), the
                // peer's flow control holds the rest back, as before.
                if *ended || !decoder.has_room() {
                    return Poll::Pending;
                }
                recv.poll_read(cx, chunk).map(Step::Read)
            })
            .await;
            match step {
                Step::Written(written) => return Ok(written?),
                Step::Read(read) => match read? {
                    0 => *ended = true,
                    n => decoder.push(&chunk[..n]),
                },
            }
        }
    }

    /// Finishes the send side: the peer reads everything written, then the end.
    pub fn finish(&mut self) {
        let _ = self.send.finish();
    }
}

/// What a write that reads meanwhile woke up for.
enum Step {
    Written(Result<(), quinn::WriteError>),
    Read(Result<usize, quinn::ReadError>),
}

#[cfg(test)]
mod tests {
    use super::IoError;

    #[test]
    fn a_lost_connection_says_why() {
        let read = IoError::from(quinn::ReadError::ConnectionLost(
            quinn::ConnectionError::TimedOut,
        ));
        assert_eq!(read.to_string(), "reading: connection lost: timed out");
        let write = IoError::from(quinn::WriteError::ConnectionLost(
            quinn::ConnectionError::LocallyClosed,
        ));
        assert_eq!(
            write.to_string(),
            format!(
                "writing: connection lost: {}",
                quinn::ConnectionError::LocallyClosed
            )
        );
        // An error with nothing under it reads as before.
        let stopped = IoError::from(quinn::WriteError::ClosedStream);
        assert_eq!(
            stopped.to_string(),
            format!("writing: {}", quinn::WriteError::ClosedStream)
        );
    }
}
