//! `breakout-control dev` as a test process: started on free loopback ports, its addresses read
//! from its addr file, stopped with SIGTERM.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::binaries::{control_bin, ctl_bin, edge_bin};
use crate::wait::{poll_until, wait_for};

const START: Duration = Duration::from_secs(60);

/// A running `breakout-control dev`, stopped (SIGTERM) on drop if the test did not stop it.
pub struct Dev {
    child: Child,
    dir: PathBuf,
    addrs: Value,
}

impl Dev {
    pub fn start(dir: &Path) -> Dev {
        Self::start_within(dir, START)
    }

    /// [`Dev::start`], waiting up to `patience` for it to serve the demo tenant.
    pub fn start_within(dir: &Path, patience: Duration) -> Dev {
        let addr_file = dir.join("dev-addrs.json");
        let _ = std::fs::remove_file(&addr_file);
        let log = std::fs::File::create(dir.join("dev.log")).expect("log");
        let mut child = Command::new(control_bin())
            .arg("dev")
            .arg("--dir")
            .arg(dir.join("data"))
            .arg("--edge-bin")
            .arg(edge_bin())
            .args([
                "--api-listen",
                "127.0.0.1:0",
                "--raft-listen",
                "127.0.0.1:0",
            ])
            .args([
                "--edge-listen",
                "127.0.0.1:0",
                "--proxy-listen",
                "127.0.0.1:0",
            ])
            .args(["--edge-admin-listen", "127.0.0.1:0"])
            .args(["--metrics-listen", "127.0.0.1:0"])
            .arg("--allow-private-destinations")
            .arg("--addr-file")
            .arg(&addr_file)
            .env_remove("BREAKOUT_ADMIN_TOKEN")
            .env_remove("BREAKOUT_EDGE_TOKEN")
            .env("BREAKOUT_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn breakout-control dev");
        let addrs = wait_for(
            patience,
            "the dev deployment serves the demo tenant",
            || {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("dev exited with {status}:\n{}", read(&dir.join("dev.log")));
                }
                serde_json::from_str(&std::fs::read_to_string(&addr_file).ok()?).ok()
            },
        );
        Dev {
            child,
            dir: dir.to_path_buf(),
            addrs,
        }
    }

    /// Everything the addr file says (addresses, the token file).
    pub fn addrs(&self) -> &Value {
        &self.addrs
    }

    pub fn addr(&self, key: &str) -> String {
        self.addrs[key].as_str().expect(key).to_string()
    }

    /// SIGKILL (no shutdown code runs; the edge child it started is left behind), reaped.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and wait until the process is gone.
    pub fn stop(&mut self) {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(ok.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        let status = wait_for(Duration::from_secs(30), "dev stops on SIGTERM", || {
            self.child.try_wait().expect("try_wait")
        });
        assert!(
            status.success(),
            "dev exited with {status}:\n{}",
            read(&self.dir.join("dev.log"))
        );
    }

    /// `breakoutctl -o json ARGS` as the operator: the answer (the command must succeed).
    pub fn ctl(&self, args: &[&str]) -> Value {
        let mut all = vec!["-o", "json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ctl_text(&all)).expect("json")
    }

    /// `breakoutctl ARGS` as the operator: what it printed (the command must succeed).
    pub fn ctl_text(&self, args: &[&str]) -> String {
        let out = Command::new(ctl_bin())
            .args(["--server", &format!("http://{}", self.addr("api"))])
            .arg("--token-file")
            .arg(self.addr("token_file"))
            .args(args)
            .env_remove("BREAKOUT_TOKEN")
            .env_remove("BREAKOUT_SERVER")
            .output()
            .expect("run breakoutctl");
        assert!(out.status.success(), "breakoutctl {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            poll_until(Duration::from_secs(20), || {
                matches!(self.child.try_wait(), Ok(Some(_)))
            });
        }
    }
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
