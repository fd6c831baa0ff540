//! Body types of the proxy: fixed answers the edge writes itself, and metered streams of client
//! and destination bodies that count bytes as they pass (no buffering, no copies).

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Response;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use prometheus::IntCounter;

use super::ending::Ending;
pub use crate::transfer::Transfer;

/// A client's request body on its way to the destination.
pub struct RequestBody {
    inner: Incoming,
    counter: IntCounter,
    transfer: Arc<Transfer>,
}

impl RequestBody {
    pub fn new(inner: Incoming, counter: IntCounter, transfer: Arc<Transfer>) -> Self {
        RequestBody {
            inner,
            counter,
            transfer,
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let n = data.len() as u64;
                    self.counter.inc_by(n);
                    self.transfer.bytes.fetch_add(n, Ordering::Relaxed);
                }
            }
            Poll::Ready(Some(Err(_))) => self.transfer.failed.store(true, Ordering::Relaxed),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A body the client receives.
pub enum ProxyBody {
    /// A short answer of the edge's own.
    Full(Option<Bytes>),
    /// A destination's response, counted; its exchange ends when the body does.
    Stream {
        inner: Incoming,
        counter: IntCounter,
        bytes: u64,
        ending: Option<Ending>,
    },
}

impl ProxyBody {
    pub fn full(b: impl Into<Bytes>) -> Self {
        let b = b.into();
        ProxyBody::Full((!b.is_empty()).then_some(b))
    }

    pub fn empty() -> Self {
        ProxyBody::Full(None)
    }

    pub fn stream(inner: Incoming, counter: IntCounter, ending: Ending) -> Self {
        ProxyBody::Stream {
            inner,
            counter,
            bytes: 0,
            ending: Some(ending),
        }
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            ProxyBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            ProxyBody::Stream {
                inner,
                counter,
                bytes,
                ..
            } => {
                let polled = Pin::new(inner).poll_frame(cx);
                if let Poll::Ready(Some(Ok(frame))) = &polled {
                    if let Some(data) = frame.data_ref() {
                        counter.inc_by(data.len() as u64);
                        *bytes += data.len() as u64;
                    }
                }
                polled
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Full(b) => b.is_none(),
            ProxyBody::Stream { inner, .. } => inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            ProxyBody::Stream { inner, .. } => inner.size_hint(),
        }
    }
}

impl Drop for ProxyBody {
    fn drop(&mut self) {
        if let ProxyBody::Stream { bytes, ending, .. } = self {
            if let Some(r) = ending.take() {
                r.finish(*bytes);
            }
        }
    }
}

/// An edge-made response as HTTP/1.1 bytes, with the `Content-Length` hyper would add.
pub fn serialize(resp: &Response<ProxyBody>) -> Vec<u8> {
    let body: &[u8] = match resp.body() {
        ProxyBody::Full(Some(b)) => b,
        _ => &[],
    };
    let status = resp.status();
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in resp.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}
