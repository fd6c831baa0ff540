//! Talking to a node: `breakoutctl` against it, and its HTTP API through curl.

use std::process::{Command, Output, Stdio};

use super::{ControlNode, ADMIN_TOKEN};
use crate::binaries::ctl_bin;

impl ControlNode {
    /// Runs `breakoutctl --server <this node> --token <admin> -o json ARGS`.
    pub fn ctl(&self, args: &[&str]) -> CtlOutput {
        self.ctl_as(ADMIN_TOKEN, args)
    }

    pub fn ctl_as(&self, token: &str, args: &[&str]) -> CtlOutput {
        let out = Command::new(ctl_bin())
            .args(["--server", &self.api_url(), "--token", token, "-o", "json"])
            .args(args)
            .env_remove("BREAKOUT_SERVER")
            .env_remove("BREAKOUT_TOKEN")
            .stdin(Stdio::null())
            .output()
            .expect("run breakoutctl");
        CtlOutput(out)
    }

    /// GET `path` on this node's API with `token`, through curl: (status, body).
    pub fn get(&self, token: &str, path: &str) -> (u16, String) {
        self.curl(token, &[], path)
    }

    /// `method path` with a JSON `body` on this node's API with `token`, through curl:
    /// (status, body).
    pub fn send(&self, token: &str, method: &str, path: &str, body: &str) -> (u16, String) {
        let json = ["-X", method, "--data-binary", body];
        self.curl(
            token,
            &[&json[..], &["-H", "Content-Type: application/json"]].concat(),
            path,
        )
    }

    /// curl `path` on this node's API with `token` and the `extra` arguments, proxies from the
    /// environment ignored: (status, body).
    fn curl(&self, token: &str, extra: &[&str], path: &str) -> (u16, String) {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"])
            .args(extra)
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .arg(format!("{}{path}", self.api_url()))
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("all_proxy")
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// Signs in to the console with `token` (curl with a cookie jar, as a browser would: the
    /// sign-in form's `pre` value and cookie) and fetches `path`'s HTML.
    pub fn console_page(&self, token: &str, path: &str) -> String {
        let dir = crate::tmp::unique_dir("console-page");
        let jar = dir.join("cookies").to_string_lossy().to_string();
        let curl = |args: &[&str]| -> String {
            let out = Command::new("curl")
                .args(["-sS", "--max-time", "10", "-c", &jar, "-b", &jar])
                .args(args)
                .env_remove("http_proxy")
                .env_remove("all_proxy")
                .output()
                .expect("run curl");
            String::from_utf8_lossy(&out.stdout).to_string()
        };
        let login = curl(&[&format!("{}/ui/login", self.api_url())]);
        let pre = login
            .split("name=\"pre\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the sign-in form's pre value")
            .to_string();
        curl(&[
            "--data-urlencode",
            &format!("token={token}"),
            "--data-urlencode",
            &format!("pre={pre}"),
            &format!("{}/ui/login", self.api_url()),
        ]);
        curl(&[&format!("{}{path}", self.api_url())])
    }

    /// `GET /metrics` on the metrics listener: (status, body).
    pub fn scrape(&self) -> (u16, String) {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"])
            .arg(format!("http://{}/metrics", self.metrics))
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("all_proxy")
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// This node's stale (local) view of the tenants: their ids.
    pub fn local_tenant_ids(&self) -> Option<Vec<String>> {
        let (status, body) = self.get(ADMIN_TOKEN, "/v1/tenants?stale=true");
        if status != 200 {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let items = v.get("items")?.as_array()?;
        Some(
            items
                .iter()
                .filter_map(|t| t.get("id")?.as_str().map(str::to_string))
                .collect(),
        )
    }
}

/// What `breakoutctl` printed and how it exited.
#[derive(Debug)]
pub struct CtlOutput(pub Output);

impl CtlOutput {
    pub fn ok(&self) -> bool {
        self.0.status.success()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).to_string()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).to_string()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.0.stdout)
            .unwrap_or_else(|e| panic!("breakoutctl printed no JSON ({e}): {self:?}"))
    }

    /// Panics with both streams unless the command succeeded.
    pub fn expect_ok(self, what: &str) -> CtlOutput {
        assert!(
            self.ok(),
            "{what}: breakoutctl failed\nstdout: {}\nstderr: {}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}
