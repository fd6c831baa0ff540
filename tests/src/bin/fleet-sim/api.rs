//! The simulator's calls on the control plane's HTTP API.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use breakout_tests::api_conn::ApiConn;
use breakout_tests::control::{Cluster, ADMIN_TOKEN};
use serde_json::Value;

/// One API write; its store version and the instant its answer was read.
pub fn write(api: &mut ApiConn, method: &str, path: &str, body: &str) -> Result<(u64, Instant)> {
    let r = api
        .send(method, path, Some(ADMIN_TOKEN), Some(body))
        .with_context(|| format!("{method} {path}"))?;
    let at = Instant::now();
    let text = String::from_utf8_lossy(&r.body);
    if r.status >= 300 {
        bail!("{method} {path}: {} {text}", r.status);
    }
    let v: Value = serde_json::from_str(&text)?;
    let version = v["version"].as_u64().context("a version in the answer")?;
    Ok((version, at))
}

/// Imports on the leader (a follower would forward the route without its body), trying again
/// if the leadership moved (elections happen on a loaded machine). A write that timed out with
/// its outcome unknown may still land: then the last tenant appears, and that is success.
pub fn import(
    cluster: &Cluster,
    dump: Vec<u8>,
    last_tenant: &str,
    limit: Duration,
) -> Result<usize> {
    let body = String::from_utf8(dump)?;
    let path = "/v1/store/import?replace=true";
    let probe = format!("/v1/tenants/{last_tenant}");
    let mut last = None;
    for _ in 0..5 {
        let leader = cluster.wait_leader(Duration::from_secs(60));
        let mut api = ApiConn::new(Ipv4Addr::LOCALHOST, cluster.nodes[leader].api);
        match write(&mut api, "POST", path, &body) {
            Ok(_) => return Ok(leader),
            Err(e) => last = Some(e),
        }
        let until = Instant::now() + limit.min(Duration::from_secs(60));
        while Instant::now() < until {
            let leader = cluster.wait_leader(Duration::from_secs(60));
            let mut api = ApiConn::new(Ipv4Addr::LOCALHOST, cluster.nodes[leader].api);
            if api
                .send("GET", &probe, Some(ADMIN_TOKEN), None)
                .is_ok_and(|r| r.status == 200)
            {
                return Ok(leader);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no import")))
}
