//! The `breakout-control` binary: flags, the generated admin token, serving over the real Raft
//! store, graceful shutdown and restart.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(15);

struct Node {
    child: Child,
    api: String,
    metrics: String,
}

impl Node {
    async fn start(dir: &Path) -> Node {
        let addr_file = dir.join("addr.json");
        let _ = std::fs::remove_file(&addr_file);
        let child = Command::new(env!("CARGO_BIN_EXE_breakout-control"))
            .args([
                "--api-listen",
                "127.0.0.1:0",
                "--raft-listen",
                "127.0.0.1:0",
                "--edge-listen",
                "127.0.0.1:0",
                "--metrics-listen",
                "127.0.0.1:0",
                // Little on stderr: it is a pipe, read only after exit.
                "--log",
                "error",
            ])
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--addr-file")
            .arg(&addr_file)
            .env_remove("BREAKOUT_ADMIN_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn breakout-control");
        let addrs: Value = wait_for(|| {
            let text = std::fs::read_to_string(&addr_file).ok()?;
            serde_json::from_str(&text).ok()
        })
        .await;
        let api = addrs["api"].as_str().expect("api address").to_string();
        assert!(
            addrs["raft"].as_str().is_some_and(|r| !r.ends_with(":0")),
            "{addrs}"
        );
        let metrics = addrs["metrics"].as_str().expect("metrics address");
        Node {
            child,
            api,
            metrics: metrics.to_string(),
        }
    }

    /// SIGTERM, then the exit status and everything the node wrote to stderr.
    async fn stop(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        let status = wait_for(|| self.child.try_wait().ok().flatten()).await;
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut err, &mut stderr);
        }
        (status, stderr)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

async fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "condition not met within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_ready(http: &reqwest::Client, api: &str) {
    let start = Instant::now();
    loop {
        let ready = http.get(format!("http://{api}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            return;
        }
        assert!(start.elapsed() < DEADLINE, "no leader within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn test_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("breakout-api-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test dir");
    dir
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_generates_a_private_token_and_a_restart_reuses_it() {
    let dir = test_dir("binary");
    let http = breakout_control::http_client::builder()
        .no_proxy()
        .build()
        .expect("client");

    // Phase: first start initialises a one-node cluster and generates the admin token.
    let node = Node::start(&dir).await;
    let token_path = dir.join("data").join("admin.token");
    let token = std::fs::read_to_string(&token_path).expect("admin.token");
    assert_eq!(token.len(), 64, "32 random bytes in hex");
    assert_eq!(mode(&token_path), 0o600);
    assert_eq!(mode(&dir.join("data")), 0o700);
    wait_ready(&http, &node.api).await;
    let created = http
        .post(format!("http://{}/v1/regions", node.api))
        .bearer_auth(&token)
        .json(&json!({ "name": "eu" }))
        .send()
        .await
        .expect("create region");
    assert_eq!(created.status(), 201);
    let metrics = http
        .get(format!("http://{}/metrics", node.metrics))
        .send()
        .await;
    let metrics = metrics
        .expect("metrics")
        .text()
        .await
        .expect("metrics body");
    for name in [
        "breakout_control_raft_commit_index",
        "breakout_control_raft_is_leader 1",
        "breakout_control_apply_duration_seconds_count",
        "breakout_control_tls_cert_expiry_timestamp_seconds{listener=\"edge\"}",
        "breakout_control_raft_leader_changes_total 0",
    ] {
        assert!(metrics.contains(name), "{name} missing from\n{metrics}");
    }
    let on_api = http
        .get(format!("http://{}/metrics", node.api))
        .send()
        .await;
    assert_eq!(on_api.expect("GET /metrics on the API").status(), 404);

    // Phase: SIGTERM stops it cleanly; it printed where the token is, never the token.
    let (status, stderr) = node.stop().await;
    assert!(status.success(), "exit status {status:?}: {stderr}");
    assert!(stderr.contains("admin.token"), "{stderr}");
    assert!(!stderr.contains(&token), "the token must not be printed");

    // Phase: a restart reuses the token and the data, and generates nothing.
    let node = Node::start(&dir).await;
    wait_ready(&http, &node.api).await;
    assert_eq!(
        std::fs::read_to_string(&token_path).expect("admin.token"),
        token
    );
    let regions: Value = http
        .get(format!("http://{}/v1/regions", node.api))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list regions")
        .json()
        .await
        .expect("JSON");
    assert_eq!(regions["items"][0]["name"], "eu");
    let (status, stderr) = node.stop().await;
    assert!(status.success(), "{stderr}");
    assert!(!stderr.contains("generated"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Raft timing that would have followers call elections under a healthy leader is refused
/// before the node writes or binds anything, with an error naming the variables.
#[test]
fn a_bad_raft_timing_is_refused_before_anything_is_written() {
    let dir = test_dir("bad-raft-timing");
    let out = Command::new(env!("CARGO_BIN_EXE_breakout-control"))
        .args([
            "--api-listen",
            "127.0.0.1:0",
            "--raft-listen",
            "127.0.0.1:0",
        ])
        .args(["--edge-listen", "off", "--metrics-listen", "off"])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("BREAKOUT_RAFT_HEARTBEAT_MS", "400")
        .env_remove("BREAKOUT_RAFT_ELECTION_TIMEOUT_MS")
        .env_remove("BREAKOUT_ADMIN_TOKEN")
        .stdin(Stdio::null())
        .output()
        .expect("run breakout-control");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started: {stderr}");
    assert!(
        stderr.contains("BREAKOUT_RAFT_ELECTION_TIMEOUT_MS") && stderr.contains("400 ms"),
        "{stderr}"
    );
    assert!(!dir.join("data").exists(), "a data dir was made: {stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
