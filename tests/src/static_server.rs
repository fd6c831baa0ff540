//! A tiny HTTP/1.1 server on 127.0.0.1 that answers each path with what the test put there
//! (status, body, headers) and records the request targets it saw: vendor list sources for the
//! template poller, changed between fetches.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::runtime::rt;

/// One answer.
#[derive(Clone, Debug)]
pub struct Page {
    pub status: u16,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
    /// How long to wait before answering (a hung vendor).
    pub delay: std::time::Duration,
}

impl Page {
    pub fn ok(body: impl Into<Vec<u8>>) -> Page {
        Page {
            status: 200,
            body: body.into(),
            headers: vec![("content-type".into(), "application/json".into())],
            delay: std::time::Duration::ZERO,
        }
    }

    /// `status` with a short plain body and `headers`.
    pub fn status(status: u16, headers: &[(&str, &str)]) -> Page {
        Page {
            status,
            body: format!("status {status}").into_bytes(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            delay: std::time::Duration::ZERO,
        }
    }

    /// This page, answered only after `delay`.
    pub fn after(self, delay: std::time::Duration) -> Page {
        Page { delay, ..self }
    }
}

#[derive(Default)]
struct Shared {
    pages: Mutex<HashMap<String, Page>>,
    seen: Mutex<Vec<String>>,
}

/// A running server; stopped on drop.
pub struct StaticServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl StaticServer {
    pub fn start() -> StaticServer {
        let shared = Arc::new(Shared::default());
        let listener = rt()
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind static server");
        let addr = listener.local_addr().expect("static server addr");
        let sh = shared.clone();
        let task = rt().spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let sh = sh.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| answer(req, sh.clone()));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        StaticServer { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves `page` at `path` (no query) from now on.
    pub fn put(&self, path: &str, page: Page) {
        self.shared
            .pages
            .lock()
            .expect("pages")
            .insert(path.to_string(), page);
    }

    /// Every request target (path and query) seen so far, in order.
    pub fn seen(&self) -> Vec<String> {
        self.shared.seen.lock().expect("seen").clone()
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    req: Request<Incoming>,
    sh: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_string(), |p| p.to_string());
    sh.seen.lock().expect("seen").push(target);
    let page = sh
        .pages
        .lock()
        .expect("pages")
        .get(req.uri().path())
        .cloned();
    let page = page.unwrap_or(Page::status(404, &[]));
    if !page.delay.is_zero() {
        tokio::time::sleep(page.delay).await;
    }
    let mut resp = Response::new(Full::new(Bytes::from(page.body)));
    *resp.status_mut() = StatusCode::from_u16(page.status).unwrap_or(StatusCode::OK);
    for (k, v) in page.headers {
        if let (Ok(k), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(k.as_bytes()),
            hyper::header::HeaderValue::from_str(&v),
        ) {
            resp.headers_mut().insert(k, v);
        }
    }
    Ok(resp)
}
