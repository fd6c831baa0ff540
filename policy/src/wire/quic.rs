//! Frames over one QUIC bidirectional stream: the async shell around the pure codec, shared by
//! the control plane and the edge. Behind the `quic` feature so the policy crate stays I/O-free
//! for everyone else.

use crate::wire::{self, Frame, FrameDecoder, WireError};

/// Why the stream failed.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("reading: {0}")]
    Read(#[from] quinn::ReadError),
    #[error("writing: {0}")]
    Write(#[from] quinn::WriteError),
    #[error("{0}")]
    Wire(#[from] WireError),
}

/// Both halves of the control stream.
pub struct FrameIo {
    send: quinn::SendStream,
    recv: quinn::RecvStream,
    decoder: FrameDecoder,
    chunk: Vec<u8>,
}

impl FrameIo {
    /// `max` bounds the frames accepted from the peer.
    pub fn new(send: quinn::SendStream, recv: quinn::RecvStream, max: usize) -> Self {
        FrameIo {
            send,
            recv,
            decoder: FrameDecoder::new(max),
            chunk: vec![0; 64 * 1024],
        }
    }

    /// The next frame; `None` when the peer finished the stream cleanly. Cancel-safe: bytes
    /// read are in the decoder before the next await.
    pub async fn read(&mut self) -> Result<Option<Frame>, IoError> {
        loop {
            if let Some(frame) = self.decoder.next_frame()? {
                return Ok(Some(frame));
            }
            match self.recv.read(&mut self.chunk).await? {
                Some(n) => self.decoder.push(&self.chunk[..n]),
                None => {
                    self.decoder.finish()?;
                    return Ok(None);
                }
            }
        }
    }

    /// Encodes and writes one frame. Not cancel-safe: await it to completion.
    pub async fn write(&mut self, frame: &Frame) -> Result<(), IoError> {
        let bytes = wire::encode(frame, wire::MAX_FRAME)?;
        self.write_encoded(&bytes).await
    }

    /// Writes an already encoded frame.
    pub async fn write_encoded(&mut self, bytes: &[u8]) -> Result<(), IoError> {
        self.send.write_all(bytes).await?;
        Ok(())
    }

    /// Writes an already encoded frame held in shared bytes: the stream keeps a reference
    /// until the peer acknowledged them, not a copy (a region's snapshot written to a thousand
    /// edges at once is held once).
    pub async fn write_shared(&mut self, bytes: bytes::Bytes) -> Result<(), IoError> {
        self.send.write_chunk(bytes).await?;
        Ok(())
    }

    /// Finishes the send side: the peer reads everything written, then the end.
    pub fn finish(&mut self) {
        let _ = self.send.finish();
    }
}
