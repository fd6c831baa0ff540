//! A minimal SMTP server on 127.0.0.1 that accepts every mail and keeps (recipient, decoded
//! body): the operator's relay for the change-notification tests.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::runtime::rt;

/// One mail as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// A running sink; stopped on drop.
pub struct SmtpSink {
    addr: SocketAddr,
    inbox: Arc<Mutex<Vec<Received>>>,
    task: JoinHandle<()>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let listener = rt()
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind SMTP sink");
        let addr = listener.local_addr().expect("SMTP sink addr");
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let shared = inbox.clone();
        let task = rt().spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(session(sock, shared.clone()));
            }
        });
        SmtpSink { addr, inbox, task }
    }

    /// `host:port`.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Every mail received so far.
    pub fn mails(&self) -> Vec<Received> {
        self.inbox.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn session(sock: TcpStream, inbox: Arc<Mutex<Vec<Received>>>) {
    let (r, mut w) = sock.into_split();
    let mut lines = BufReader::new(r).lines();
    let _ = w.write_all(b"220 sink ESMTP\r\n").await;
    let mut to = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250-sink\r\n250 8BITMIME\r\n"
        } else if let Some(rcpt) = upper.strip_prefix("RCPT TO:") {
            to = line[line.len() - rcpt.len()..]
                .trim()
                .trim_matches(['<', '>'])
                .to_string();
            b"250 ok\r\n"
        } else if upper == "DATA" {
            let _ = w.write_all(b"354 go on\r\n").await;
            let mut data = Vec::new();
            while let Ok(Some(l)) = lines.next_line().await {
                if l == "." {
                    break;
                }
                data.push(l);
            }
            let (subject, body) = decode(&data);
            if let Ok(mut m) = inbox.lock() {
                m.push(Received {
                    to: to.clone(),
                    subject,
                    body,
                });
            }
            b"250 queued\r\n"
        } else if upper == "QUIT" {
            let _ = w.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"250 ok\r\n"
        };
        let _ = w.write_all(reply).await;
    }
}

/// The raw Subject header and the body of a single-part message, base64-decoded when it says so.
fn decode(lines: &[String]) -> (String, String) {
    let split = lines
        .iter()
        .position(String::is_empty)
        .unwrap_or(lines.len());
    let (head, body) = lines.split_at(split);
    let subject = head
        .iter()
        .find_map(|h| h.strip_prefix("Subject: "))
        .unwrap_or_default()
        .to_string();
    let body: Vec<&str> = body.iter().skip(1).map(String::as_str).collect();
    let base64 = head
        .iter()
        .any(|h| h.eq_ignore_ascii_case("Content-Transfer-Encoding: base64"));
    if !base64 {
        return (subject, body.join("\n"));
    }
    let text = base64::engine::general_purpose::STANDARD
        .decode(body.concat())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| body.join("\n"));
    (subject, text)
}
