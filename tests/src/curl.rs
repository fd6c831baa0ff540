//! Driving the proxy with the real curl binary.

use std::path::PathBuf;
use std::process::Command;

use crate::raw::proxy_status_error;

/// Bounds every curl run.
const MAX_TIME_SECS: &str = "30";

/// A curl invocation under construction.
pub struct Curl {
    urls: Vec<String>,
    args: Vec<String>,
}

/// One URL's transfer as reported by `--write-out`.
#[derive(Clone, Debug)]
pub struct Transfer {
    pub status: u16,
    pub connect_status: u16,
    pub num_connects: u32,
    pub body: Vec<u8>,
}

/// The result of a curl run.
#[derive(Clone, Debug)]
pub struct CurlOutput {
    pub exit_code: i32,
    pub transfers: Vec<Transfer>,
    /// Every header block received, in order (CONNECT responses included).
    pub header_blocks: Vec<Vec<(String, String)>>,
    pub stderr: String,
}

impl Curl {
    /// `curl <url>` with proxy environment variables ignored.
    pub fn new(url: &str) -> Curl {
        Curl {
            urls: vec![url.to_string()],
            args: Vec::new(),
        }
    }

    /// Adds another URL fetched in the same run (curl reuses connections between them).
    pub fn also(mut self, url: &str) -> Curl {
        self.urls.push(url.to_string());
        self
    }

    /// Uses `proxy` (`http://host:port`).
    pub fn proxy(self, proxy: &str) -> Curl {
        self.arg("--proxy").arg(proxy)
    }

    /// Tunnels through the proxy with CONNECT (`-p`).
    pub fn tunnel(self) -> Curl {
        self.arg("--proxytunnel")
    }

    /// Binds the client socket to `ip`.
    pub fn interface(self, ip: &str) -> Curl {
        self.arg("--interface").arg(ip)
    }

    pub fn header(self, h: &str) -> Curl {
        self.arg("-H").arg(h)
    }

    /// POSTs the contents of `file` as-is.
    pub fn post_file(self, file: &std::path::Path) -> Curl {
        let a = format!("@{}", file.display());
        self.arg("--data-binary")
            .arg(&a)
            .header("Content-Type: application/octet-stream")
    }

    pub fn arg(mut self, a: &str) -> Curl {
        self.args.push(a.to_string());
        self
    }

    /// Runs curl to completion (at most 30 s).
    pub fn run(self) -> CurlOutput {
        let dir = crate::tmp::unique_dir("breakout-curl");
        let headers = dir.join("headers");
        let mut cmd = Command::new("curl");
        for var in [
            "http_proxy",
            "https_proxy",
            "HTTPS_PROXY",
            "all_proxy",
            "ALL_PROXY",
        ] {
            cmd.env_remove(var);
        }
        cmd.env_remove("no_proxy")
            .env_remove("NO_PROXY")
            .env_remove("CURL_HOME");
        cmd.args([
            "-q",
            "--silent",
            "--show-error",
            "--max-time",
            MAX_TIME_SECS,
        ]);
        cmd.arg("--dump-header").arg(&headers);
        cmd.args([
            "--write-out",
            "%{http_code} %{http_connect} %{num_connects}\\n",
        ]);
        cmd.args(&self.args);
        let bodies: Vec<PathBuf> = (0..self.urls.len())
            .map(|i| dir.join(format!("b{i}")))
            .collect();
        for (url, body) in self.urls.iter().zip(&bodies) {
            cmd.arg(url).arg("--output").arg(body);
        }
        let out = cmd.output().expect("run curl");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let transfers = stdout
            .lines()
            .zip(&bodies)
            .map(|(line, body)| {
                let f: Vec<&str> = line.split(' ').collect();
                Transfer {
                    status: f.first().and_then(|s| s.parse().ok()).unwrap_or(0),
                    connect_status: f.get(1).and_then(|s| s.parse().ok()).unwrap_or(0),
                    num_connects: f.get(2).and_then(|s| s.parse().ok()).unwrap_or(0),
                    body: std::fs::read(body).unwrap_or_default(),
                }
            })
            .collect();
        let header_text = std::fs::read_to_string(&headers).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        CurlOutput {
            exit_code: out.status.code().unwrap_or(-1),
            transfers,
            header_blocks: parse_header_blocks(&header_text),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl CurlOutput {
    /// HTTP status of the first transfer (0 if none was received).
    pub fn status(&self) -> u16 {
        self.transfers.first().map_or(0, |t| t.status)
    }

    /// Status of the CONNECT response of the first transfer (0 without a tunnel).
    pub fn connect_status(&self) -> u16 {
        self.transfers.first().map_or(0, |t| t.connect_status)
    }

    /// Body of the first transfer.
    pub fn body(&self) -> &[u8] {
        self.transfers.first().map_or(&[], |t| &t.body)
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(self.body()).into_owned()
    }

    /// Body of the first transfer as JSON (the origin's request description).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(self.body())
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}; {self:?}", self.body_text()))
    }

    /// First value of `name` in the last header block.
    pub fn header(&self, name: &str) -> Option<&str> {
        let block = self.header_blocks.last()?;
        block
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `error=` type of the last block's Proxy-Status header.
    pub fn proxy_status_error(&self) -> Option<String> {
        self.header("proxy-status").and_then(proxy_status_error)
    }

    /// Panics with everything curl reported unless it exited 0.
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(self.exit_code, 0, "curl failed: {self:#?}");
        self
    }
}

fn parse_header_blocks(text: &str) -> Vec<Vec<(String, String)>> {
    let mut blocks = Vec::new();
    let mut cur: Vec<(String, String)> = Vec::new();
    for line in text.split("\r\n") {
        if line.is_empty() {
            if !cur.is_empty() {
                blocks.push(std::mem::take(&mut cur));
            }
        } else if line.starts_with("HTTP/") {
            cur.push((
                ":status".into(),
                line.split(' ').nth(1).unwrap_or("").into(),
            ));
        } else if let Some((k, v)) = line.split_once(':') {
            cur.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    if !cur.is_empty() {
        blocks.push(cur);
    }
    blocks
}
