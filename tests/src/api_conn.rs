//! A keep-alive HTTP/1.1 connection to a control-plane API from a chosen loopback address
//! (`127.x.y.z`), so tests can be several clients at once and send requests fast.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use crate::raw::{RawConn, RawResponse};

pub struct ApiConn {
    src: Ipv4Addr,
    to: SocketAddr,
    conn: Option<RawConn>,
}

impl ApiConn {
    pub fn new(src: Ipv4Addr, to: SocketAddr) -> ApiConn {
        ApiConn {
            src,
            to,
            conn: None,
        }
    }

    /// `method path` with an optional bearer token and JSON body; reconnects once if the server
    /// closed the kept-alive connection.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> io::Result<RawResponse> {
        self.send_with(method, path, token, &[], body)
    }

    /// [`ApiConn::send`] with the extra request `headers` (name, value), e.g. an
    /// `Idempotency-Key`.
    pub fn send_with(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> io::Result<RawResponse> {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.to);
        if let Some(t) = token {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        for (name, value) in headers {
            req.push_str(&format!("{name}: {value}\r\n"));
        }
        let body = body.unwrap_or("");
        if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        req.push_str("\r\n");
        req.push_str(body);
        for attempt in 0..2 {
            if self.conn.is_none() {
                self.conn = Some(RawConn::connect_from(self.src, self.to)?);
            }
            let conn = self.conn.as_mut().expect("connected above");
            let result = conn
                .send(req.as_bytes())
                .and_then(|()| conn.read_response(method));
            match result {
                Ok(r) => {
                    if r.header("connection")
                        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
                    {
                        self.conn = None;
                    }
                    return Ok(r);
                }
                Err(e) if attempt == 0 => {
                    let _ = e;
                    self.conn = None;
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!("two attempts return")
    }

    /// [`ApiConn::send`] of a GET; panics on a transport error.
    pub fn get(&mut self, path: &str, token: Option<&str>) -> RawResponse {
        self.send("GET", path, token, None)
            .unwrap_or_else(|e| panic!("GET {path} from {}: {e}", self.src))
    }
}
