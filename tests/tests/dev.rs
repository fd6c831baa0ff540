//! `breakout-control dev`: the single-machine deployment starts a control plane and an edge,
//! puts the demo tenant in service through the API, proxies for 127.0.0.1 (a local origin
//! direct, the demo blocklist refused), and leaves no process behind when stopped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use breakout_tests::binaries::{control_bin, ctl_bin, edge_bin};
use breakout_tests::tmp::unique_dir;
use breakout_tests::wait::poll_until;
use breakout_tests::{wait_for, Curl, Origin};
use serde_json::Value;

const START: Duration = Duration::from_secs(60);

/// A running `breakout-control dev`, stopped (SIGTERM) on drop if the test did not stop it.
struct Dev {
    child: Child,
    dir: PathBuf,
    addrs: Value,
}

impl Dev {
    fn start(dir: &Path) -> Dev {
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
        let addrs = wait_for(START, "the dev deployment serves the demo tenant", || {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("dev exited with {status}:\n{}", read(&dir.join("dev.log")));
            }
            serde_json::from_str(&std::fs::read_to_string(&addr_file).ok()?).ok()
        });
        Dev {
            child,
            dir: dir.to_path_buf(),
            addrs,
        }
    }

    fn addr(&self, key: &str) -> String {
        self.addrs[key].as_str().expect(key).to_string()
    }

    /// SIGTERM, and wait until the process is gone.
    fn stop(&mut self) {
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

    fn ctl(&self, args: &[&str]) -> Value {
        let out = Command::new(ctl_bin())
            .args(["--server", &format!("http://{}", self.addr("api"))])
            .arg("--token-file")
            .arg(self.addr("token_file"))
            .args(["-o", "json"])
            .args(args)
            .env_remove("BREAKOUT_TOKEN")
            .env_remove("BREAKOUT_SERVER")
            .output()
            .expect("run breakoutctl");
        assert!(out.status.success(), "breakoutctl {args:?}: {out:?}");
        serde_json::from_slice(&out.stdout).expect("json")
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

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Processes whose command line mentions `needle` (the test's unique directory).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push(format!(
                "{}: {cmdline}",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    found
}

#[test]
fn dev_serves_the_demo_tenant_and_stops_cleanly() {
    let dir = unique_dir("breakout-dev");
    let origin = Origin::start();
    let mut dev = Dev::start(&dir);
    let proxy = format!("http://{}", dev.addr("proxy"));

    // A local origin: direct (the test-only local-origins rule).
    let url = format!("http://127.0.0.1:{}/hello", origin.port());
    let out = Curl::new(&url).proxy(&proxy).run();
    assert_eq!(out.status(), 200, "{out:?}");
    assert_eq!(origin.requests().len(), 1);

    // The demo blocklist: refused at the edge, naming the rule.
    let out = Curl::new("http://blocked.example.net/").proxy(&proxy).run();
    assert_eq!(out.status(), 403, "{out:?}");
    let status = out.header("proxy-status").unwrap_or_default().to_string();
    assert!(status.contains("access-control"), "{status}");

    // The tenant is in service with its contracts; the edge is listed, current.
    let tenant = dev.ctl(&["tenant", "get", "demo"]);
    assert_eq!(tenant["effective"]["in_service"], true, "{tenant}");
    assert_eq!(tenant["effective"]["session_limit"], 20000, "{tenant}");
    let edges = dev.ctl(&["edge", "list"]);
    assert_eq!(edges["items"][0]["edge_id"], "local-1", "{edges}");
    assert_eq!(edges["items"][0]["region"], "local", "{edges}");

    // The control plane's metrics are on their own listener, not the API's.
    let metrics = format!("http://{}/metrics", dev.addr("metrics"));
    let out = Curl::new(&metrics).run();
    assert_eq!(out.status(), 200, "{out:?}");
    assert!(
        out.body_text()
            .contains("breakout_control_edges_connected{region=\"local\"} 1"),
        "{out:?}"
    );
    let on_api = Curl::new(&format!("http://{}/metrics", dev.addr("api"))).run();
    assert_eq!(on_api.status(), 404, "{on_api:?}");

    // Stopped with SIGTERM: the edge child goes too.
    let needle = dir.display().to_string();
    assert!(
        processes_mentioning(&needle).len() >= 2,
        "dev and its edge run"
    );
    dev.stop();
    let left = processes_mentioning(&needle);
    assert!(left.is_empty(), "processes left behind: {left:?}");

    // A restart on the same directory is idempotent: the tenant is kept and served again.
    let mut dev = Dev::start(&dir);
    let out = Curl::new(&url)
        .proxy(&format!("http://{}", dev.addr("proxy")))
        .run();
    assert_eq!(out.status(), 200, "{out:?}");
    let tenant = dev.ctl(&["tenant", "get", "demo"]);
    assert_eq!(
        tenant["created_version"], tenant["changed_version"],
        "{tenant}"
    );

    // SIGKILL cannot stop the edge child; the next start stops what it left.
    let orphan = read(&dir.join("data/edge.pid")).trim().to_string();
    assert!(alive(&orphan), "the edge runs");
    let _ = dev.child.kill();
    let _ = dev.child.wait();
    assert!(alive(&orphan), "SIGKILL leaves the edge");
    let mut dev = Dev::start(&dir);
    assert!(
        !alive(&orphan),
        "the next start stopped the edge left behind"
    );
    dev.stop();
    let left = processes_mentioning(&needle);
    assert!(left.is_empty(), "processes left behind: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `pid` is a live process (not a zombie waiting for its parent).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| Some(stat.rsplit_once(')')?.1.trim_start().starts_with('Z')))
        .is_some_and(|zombie| !zombie)
}
