//! A real browser follows a served PAC file (docs/pac.md, "Verification"): headless Chromium,
//! pointed at `GET /pac/acme.pac` on an edge, loads a page from a local origin by a name only
//! the edge can resolve (`app.example.test`, a static host of the edge), and the request
//! arrives at the origin through the edge.
//!
//! Needs Debian's `chromium`; without it the test fails with a message saying to install it,
//! never skips.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use breakout_tests::wait::{poll_until, SOON};
use breakout_tests::{tmp, wait_for, Edge, EdgeConfig, Origin, Rule, Tenant};

/// A name that is not loopback-looking, so Chromium's implicit `<-loopback>` bypass does not
/// apply, and that no DNS knows: only the edge (its `[static_hosts]`) resolves it.
const APP_HOST: &str = "app.example.test";
/// Chromium starts, fetches and runs the PAC, and loads one page well within this.
const CHROMIUM_DEADLINE: Duration = Duration::from_secs(60);

#[test]
fn chromium_follows_the_served_pac_through_the_edge() {
    // An origin, and an edge whose tenant `acme` (127.0.0.1) sends app.example.test direct;
    // its PAC names no proxies, so the file points at the edge itself.
    let origin = Origin::start();
    let acme =
        Tenant::new("acme", "127.0.0.1/32", "block").rule(Rule::new("app", "direct", &[APP_HOST]));
    let cfg = EdgeConfig::default()
        .host(APP_HOST, "127.0.0.1")
        .tenant(acme);
    let edge = Edge::start(&format!("{}\n[tenants.pac]\n", cfg.to_toml()));
    let pac_url = format!("http://{}/pac/acme.pac", edge.proxy());

    // Chromium with only the PAC to tell it where to go.
    let page = format!("http://{APP_HOST}:{}/chromium-check", origin.port());
    let run = Chromium::run(&pac_url, &page);
    assert!(
        run.status.success(),
        "chromium exited with {}; stderr:\n{}",
        run.status,
        run.stderr
    );

    // Chromium fetched the PAC from the edge.
    let pac_fetches = edge.counter(
        "breakout_edge_pac_requests_total",
        &[("tenant", "acme"), ("status", "200")],
    );
    assert!(pac_fetches >= 1.0, "the PAC was not fetched from the edge");

    // The page request reached the origin through the edge: with the edge's Via, for the
    // name only the edge resolves.
    let seen = wait_for(SOON, "the origin sees /chromium-check", || {
        origin
            .requests()
            .into_iter()
            .find(|r| r.uri == "/chromium-check")
    });
    let via = seen.header_values("via");
    assert!(
        via.iter().any(|v| v.contains("breakout")),
        "no Via from the edge: {seen:?}"
    );
    assert_eq!(
        seen.header_values("host"),
        [format!("{APP_HOST}:{}", origin.port())]
    );
    // And the edge logged it as the tenant's request for that host.
    wait_until_logged(&edge, APP_HOST);

    // What Chromium rendered is the origin's answer (its JSON echo of this very request).
    assert!(
        run.dom.contains("\"uri\":\"/chromium-check\"") && run.dom.contains(APP_HOST),
        "the page Chromium dumped is not the origin's:\n{}\nstderr:\n{}",
        run.dom,
        run.stderr
    );
}

fn wait_until_logged(edge: &Edge, host: &str) {
    wait_for(SOON, "the edge's access log has the request", || {
        edge.access_log_lines()
            .into_iter()
            .find(|l| l.to_string().contains(host) && l.to_string().contains("acme"))
    });
}

/// One headless Chromium run with `--dump-dom`.
struct Chromium {
    status: ExitStatus,
    dom: String,
    stderr: String,
}

impl Chromium {
    /// Runs Chromium on `page` with `pac_url` as its only proxy configuration, in a fresh
    /// profile, and kills it (its whole process group) if it is not done by the deadline.
    fn run(pac_url: &str, page: &str) -> Chromium {
        let bin = chromium_bin();
        let dir = tmp::unique_dir("breakout-chromium");
        let profile = dir.join("profile");
        let (out, err) = (dir.join("stdout"), dir.join("stderr"));
        let mut cmd = Command::new(&bin);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--proxy-pac-url={pac_url}"))
        .arg("--dump-dom")
        .arg(page)
        .stdin(Stdio::null())
        .stdout(File::create(&out).expect("chromium stdout file"))
        .stderr(File::create(&err).expect("chromium stderr file"));
        for var in ["http_proxy", "https_proxy", "all_proxy", "no_proxy"] {
            cmd.env_remove(var).env_remove(var.to_ascii_uppercase());
        }
        // Its own process group, so that a hung run is ended with every helper it started.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let status = wait_or_kill(&mut child);
        let run = Chromium {
            status,
            dom: read(&out),
            stderr: read(&err),
        };
        let _ = std::fs::remove_dir_all(&dir);
        run
    }
}

/// Chromium's binary; a missing one fails the test with how to install it.
fn chromium_bin() -> std::path::PathBuf {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "Chromium is not installed: this test needs Debian's `chromium` package \
                 (`apt-get install -y chromium`; .ci/run installs it)"
            )
        })
}

fn wait_or_kill(child: &mut Child) -> ExitStatus {
    let mut status = None;
    let done = poll_until(CHROMIUM_DEADLINE, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    if let (true, Some(s)) = (done, status) {
        return s;
    }
    // Past the deadline: end the group we created (its id is the child's pid).
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.kill();
    let _ = child.wait();
    panic!("chromium did not finish within {CHROMIUM_DEADLINE:?}; it was killed");
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
