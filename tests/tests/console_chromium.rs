//! The console in a real browser: headless Chromium driven over WebDriver (Debian's
//! `chromium-driver`, through the fantoccini client) against `breakout-control dev`. A tenant
//! signs in, sees its sessions, enters a bad blocklist entry and sees the error next to it,
//! saves a good one and sees it reach the edge (a request through the proxy is then refused),
//! previews a PAC change with its diff, sees its webhook deliveries, uses explain and signs
//! out; the operator signs in, sees regions, edges and templates, and approves a quarantined
//! template version with its diff in view (quarantined because dev's own vendor-list server
//! is made to serve a shrunk Microsoft 365 list).
//!
//! Screenshots of each page go to `$BREAKOUT_CONSOLE_SCREENSHOTS` (default
//! `<CARGO_TARGET_DIR or target>/console-screenshots`); docs/console.md links a copy.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use breakout_tests::binaries::ctl_bin;
use breakout_tests::dev::Dev;
use breakout_tests::tmp::unique_dir;
use breakout_tests::wait::poll_until;
use breakout_tests::{wait_for, Curl, Origin};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

const START: Duration = Duration::from_secs(90);
const SOON: Duration = Duration::from_secs(60);
const BLOCKED: &str = "console-blocked.example";

/// A child process stopped (SIGTERM, then waited for) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.0.id().to_string()])
                .status();
            if !poll_until(Duration::from_secs(20), || {
                matches!(self.0.try_wait(), Ok(Some(_)))
            }) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
    }
}

fn start_dev(dir: &Path) -> (Dev, Value) {
    let dev = Dev::start_within(dir, START);
    let addrs = dev.addrs().clone();
    (dev, addrs)
}

fn addr(addrs: &Value, key: &str) -> String {
    addrs[key].as_str().expect(key).to_string()
}

/// `breakoutctl -o json ARGS` as the operator: (success, answer).
fn ctl(addrs: &Value, args: &[&str]) -> (bool, Value) {
    let out = Command::new(ctl_bin())
        .args(["--server", &format!("http://{}", addr(addrs, "api"))])
        .args(["--token-file", &addr(addrs, "token_file")])
        .args(["-o", "json"])
        .args(args)
        .env_remove("BREAKOUT_TOKEN")
        .env_remove("BREAKOUT_SERVER")
        .output()
        .expect("run breakoutctl");
    let answer = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.success(), answer)
}

fn chromedriver() -> (Proc, String) {
    let bin = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "chromedriver is not installed: this test needs Debian's `chromium-driver` \
                 (`apt-get install -y chromium chromium-driver`; .ci/console.sh installs them)"
            )
        });
    // The free port is given back before chromedriver binds it, so another test can take it
    // first: then chromedriver exits, and this tries again on another port.
    for _ in 0..3 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(&bin)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let mut proc = Proc(child);
        let serving = wait_for(SOON, "chromedriver listens or exits", || {
            if !matches!(proc.0.try_wait(), Ok(None)) {
                return Some(false);
            }
            webdriver_ready(port).then_some(true)
        });
        if serving {
            return (proc, format!("http://127.0.0.1:{port}"));
        }
    }
    panic!("chromedriver exited three times: could not bind a free port");
}

/// Whether what listens on `port` is a WebDriver that is ready (its `/status`), not some other
/// test's server that took the port. (chromedriver refuses HTTP/1.0 and keeps the connection
/// open after its answer: read until the answer says ready, or the read fails.)
fn webdriver_ready(port: u16) -> bool {
    let Ok(mut conn) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let ask = b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if conn.write_all(ask).is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n @ 1..) = std::io::Read::read(&mut conn, &mut chunk) {
        answer.extend_from_slice(&chunk[..n]);
        if String::from_utf8_lossy(&answer).contains("\"ready\":true") {
            return true;
        }
    }
    false
}

async fn browser(webdriver: &str, profile: &Path) -> Client {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-proxy-server",
        "--lang=en-US",
        "--window-size=1280,1000",
    ];
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "binary": "/usr/bin/chromium", "args": args }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(webdriver)
        .await
        .expect("a WebDriver session with headless Chromium")
}

fn shots_dir() -> PathBuf {
    let dir = std::env::var_os("BREAKOUT_CONSOLE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
            target.join("console-screenshots")
        });
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(shots_dir().join(format!("{name}.png")), png).expect("write screenshot");
}

/// Polls `probe` (async) until it yields a value, or panics naming `what`.
async fn until<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + SOON;
    let mut pause = Duration::from_millis(50);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

async fn text_of(c: &Client, css: &str) -> Option<String> {
    c.find(Locator::Css(css)).await.ok()?.text().await.ok()
}

async fn sign_in(c: &Client, api: &str, token: &str) {
    c.goto(&format!("http://{api}/ui"))
        .await
        .expect("open the console");
    let url = c.current_url().await.expect("url");
    assert!(
        url.path() == "/ui/login",
        "signed out, /ui asks to sign in: {url}"
    );
    c.find(Locator::Id("token"))
        .await
        .expect("token field")
        .send_keys(token)
        .await
        .expect("type the token");
    c.find(Locator::Id("sign-in"))
        .await
        .expect("sign-in button")
        .click()
        .await
        .expect("sign in");
}

/// Starts a request through the edge to `origin` whose body never finishes: one open session
/// while the connection lasts.
fn hold_session(proxy: &str, origin: u16) -> TcpStream {
    let mut s = TcpStream::connect(proxy).expect("connect to the proxy");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let target = format!("127.0.0.1:{origin}");
    write!(
        s,
        "POST http://{target}/held HTTP/1.1\r\nHost: {target}\r\nContent-Length: 1000000\r\n\r\nstarted"
    )
    .expect("POST");
    s
}

/// `item`'s row of a `template list` answer.
fn item(list: &Value, item: &str) -> Option<Value> {
    list["items"]
        .as_array()?
        .iter()
        .find(|i| i["item"] == item)
        .cloned()
}

fn live_version(addrs: &Value) -> u64 {
    let (_, list) = ctl(addrs, &["template", "list"]);
    item(&list, "microsoft365")
        .and_then(|m| m["live"]["number"].as_u64())
        .expect("a live microsoft365 version")
}

/// The newest quarantined microsoft365 candidate's id.
fn quarantined(addrs: &Value) -> u64 {
    let (ok, versions) = ctl(addrs, &["template", "versions", "microsoft365"]);
    assert!(ok, "template versions: {versions}");
    versions["quarantine"]
        .as_array()
        .and_then(|c| c.last())
        .and_then(|c| c["id"].as_u64())
        .unwrap_or_else(|| panic!("no candidate: {versions}"))
}

/// Puts a third of the shipped Microsoft 365 list where dev's vendor-list server serves it
/// from instead of the shipped one (`<data dir>/vendor-lists/`).
fn shrink_m365(addrs: &Value) {
    let shipped = include_str!("../../deploy/lists/m365-worldwide-endpoints.json");
    let sets: Vec<Value> = serde_json::from_str(shipped).expect("the shipped list");
    let kept: Vec<Value> = sets.iter().take(sets.len() / 3).cloned().collect();
    let dir = PathBuf::from(addr(addrs, "dir")).join("vendor-lists");
    std::fs::create_dir_all(&dir).expect("vendor-lists dir");
    let body = serde_json::to_string(&kept).expect("json");
    std::fs::write(dir.join("m365-worldwide-endpoints.json"), body).expect("write the list");
}

#[test]
fn a_tenant_and_the_operator_use_the_console_in_chromium() {
    let dir = unique_dir("breakout-console-chromium");
    let (_dev, addrs) = start_dev(&dir);
    let api = addr(&addrs, "api");
    let proxy = addr(&addrs, "proxy");
    // The demo tenant may edit its lists (art. 10-4's option) and gets a token.
    let (ok, answer) = ctl(&addrs, &["option", "add", "demo", "list-update-api"]);
    assert!(ok || answer.is_null(), "option add: {answer}");
    let (ok, token) = ctl(&addrs, &["token", "create", "demo"]);
    assert!(ok, "token create: {token}");
    let token = token["token"].as_str().expect("token").to_string();

    // Templates have versions from the first start (dev serves the shipped lists to its own
    // poller); a shrunk Microsoft 365 list served next is quarantined by the guard.
    wait_for(SOON, "the microsoft365 template has a live version", || {
        let (_, list) = ctl(&addrs, &["template", "list"]);
        item(&list, "microsoft365").filter(|m| !m["live"].is_null())
    });
    shrink_m365(&addrs);
    let (ok, answer) = ctl(&addrs, &["template", "sync"]);
    assert!(ok, "template sync: {answer}");
    wait_for(SOON, "the shrunk list is quarantined", || {
        let (_, list) = ctl(&addrs, &["template", "list"]);
        item(&list, "microsoft365").filter(|m| m["quarantined"].as_u64() > Some(0))
    });

    let origin = Origin::start();
    let _session = hold_session(&proxy, origin.port());

    let (_driver, webdriver) = chromedriver();
    // The origin runs its own runtime: the browser gets another one, not nested in it.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let c = browser(&webdriver, &dir.join("profile")).await;
        let shots = async {
            sign_in(&c, &api, &token).await;
            shot(&c, "01-signed-in").await;
            // Its sessions: the tunnel above is one; the chart fills as the node samples usage.
            until(
                "the overview shows the open session and its chart",
                || async {
                    c.refresh().await.ok()?;
                    let now = text_of(&c, "#sessions-now").await?;
                    let chart = c.find(Locator::Css(".chart polyline")).await.ok();
                    (now.trim() != "0" && chart.is_some()).then_some(())
                },
            )
            .await;
            let path = c.current_url().await.expect("url").path().to_string();
            assert_eq!(path, "/ui/t/demo");
            shot(&c, "02-tenant-overview").await;

            // A bad entry: the error next to it, nothing saved.
            c.goto(&format!("http://{api}/ui/t/demo/lists"))
                .await
                .expect("lists");
            let area = c
                .find(Locator::Id("entries-demo-blocklist"))
                .await
                .expect("the blocklist editor");
            let original = area.prop("value").await.expect("value").unwrap_or_default();
            area.send_keys("\nbad..entry").await.expect("type");
            c.find(Locator::Id("save-demo-blocklist"))
                .await
                .expect("save")
                .click()
                .await
                .expect("click save");
            let error = until("the error next to the bad entry", || async {
                text_of(&c, "#errors-demo-blocklist .entry-error").await
            })
            .await;
            assert!(error.contains("bad..entry"), "{error}");
            shot(&c, "03-blocklist-error").await;
            let (_, view) = ctl(&addrs, &["tenant", "get", "demo"]);
            let stored = view["lists"]["demo-blocklist"].to_string();
            assert!(!stored.contains("bad..entry"), "nothing saved: {stored}");

            // A good one: saved, and the edge refuses it.
            let area = c
                .find(Locator::Id("entries-demo-blocklist"))
                .await
                .expect("the blocklist editor");
            area.clear().await.expect("clear");
            area.send_keys(&format!("{original}\n{BLOCKED}"))
                .await
                .expect("type");
            c.find(Locator::Id("save-demo-blocklist"))
                .await
                .expect("save")
                .click()
                .await
                .expect("click save");
            until("the list is saved", || async {
                let url = c.current_url().await.ok()?;
                url.query()
                    .is_some_and(|q| q.contains("saved="))
                    .then_some(())
            })
            .await;
            shot(&c, "04-blocklist-saved").await;
            let url = format!("http://{BLOCKED}/");
            wait_for(SOON, "the edge refuses the newly blocked host", || {
                let out = Curl::new(&url).proxy(&proxy).run();
                (out.status() == 403).then_some(())
            });

            // Explain: the same decision.
            c.goto(&format!("http://{api}/ui/t/demo/explain"))
                .await
                .expect("explain");
            c.find(Locator::Id("host"))
                .await
                .expect("host field")
                .send_keys(BLOCKED)
                .await
                .expect("type host");
            c.find(Locator::Id("explain-go"))
                .await
                .expect("explain button")
                .click()
                .await
                .expect("explain");
            let decision = until("the explain answer", || async {
                text_of(&c, "#explain-decision").await
            })
            .await;
            assert_eq!(decision.trim(), "block");
            shot(&c, "05-explain").await;
            // The PAC: the live file, its URL, and a proposal's diff against it.
            c.goto(&format!("http://{api}/ui/t/demo/pac"))
                .await
                .expect("pac");
            let area = c
                .find(Locator::Id("pac-settings"))
                .await
                .expect("the settings field");
            area.clear().await.expect("clear");
            // Everything not listed goes direct for demo, so an exception would change
            // nothing: name a proxy instead (the edges write their own address today).
            area.send_keys(r#"{"proxies": ["proxy.corp.example:8080"]}"#)
                .await
                .expect("type settings");
            c.find(Locator::Id("pac-preview"))
                .await
                .expect("preview")
                .click()
                .await
                .expect("click preview");
            let diff = until("the diff against the live PAC", || async {
                text_of(&c, "#pac-diff").await
            })
            .await;
            assert!(diff.contains("corp.example"), "{diff}");
            assert!(
                text_of(&c, "#pac-url")
                    .await
                    .is_some_and(|u| u.ends_with("/pac/demo.pac")),
                "the PAC's URL"
            );
            shot(&c, "06-pac-diff").await;
            c.goto(&format!("http://{api}/ui/t/demo/webhooks"))
                .await
                .expect("webhooks");
            let page = c.source().await.expect("source");
            assert!(
                page.contains("id=\"deliveries-h\""),
                "the deliveries section"
            );
            shot(&c, "07-webhooks").await;

            // Sign out: the session is gone.
            c.find(Locator::Id("sign-out"))
                .await
                .expect("sign-out")
                .click()
                .await
                .expect("sign out");
            until("back at sign-in", || async {
                let url = c.current_url().await.ok()?;
                (url.path() == "/ui/login").then_some(())
            })
            .await;
            c.goto(&format!("http://{api}/ui/t/demo"))
                .await
                .expect("overview");
            let url = c.current_url().await.expect("url");
            assert_eq!(url.path(), "/ui/login", "signed out");

            // The operator.
            let admin = std::fs::read_to_string(addr(&addrs, "token_file")).expect("admin token");
            sign_in(&c, &api, admin.trim()).await;
            until("the operator page", || async {
                let url = c.current_url().await.ok()?;
                (url.path() == "/ui/op").then_some(())
            })
            .await;
            let edges = text_of(&c, "#edges-h").await.unwrap_or_default();
            assert!(!edges.is_empty());
            let page = c.source().await.expect("source");
            assert!(page.contains("local"), "region local and its edge");
            // The quarantined candidate (below), with its diff in view, approved.
            let candidate = quarantined(&addrs);
            c.goto(&format!("http://{api}/ui/op#cand-microsoft365-{candidate}"))
                .await
                .expect("the candidate");
            let reason = text_of(&c, &format!("#cand-microsoft365-{candidate}"))
                .await
                .expect("the candidate's heading");
            assert!(reason.contains("microsoft365"), "{reason}");
            let page = c.source().await.expect("source");
            assert!(page.contains("<del>- "), "the diff shows removed hosts");
            shot(&c, "08-operator-quarantine").await;
            let live_before = live_version(&addrs);
            c.find(Locator::Id(&format!("approve-microsoft365-{candidate}")))
                .await
                .expect("the approve button")
                .click()
                .await
                .expect("approve");
            wait_for(SOON, "the approved candidate is live", || {
                let (ok, list) = ctl(&addrs, &["template", "list"]);
                let m365 = item(&list, "microsoft365")?;
                (ok && m365["quarantined"] == 0
                    && m365["live"]["number"].as_u64() > Some(live_before))
                .then_some(())
            });
            c.goto(&format!("http://{api}/ui/op#templates"))
                .await
                .expect("operator page");
            shot(&c, "09-operator").await;
            c.goto(&format!("http://{api}/ui/op/audit?actor=tenant:demo"))
                .await
                .expect("audit");
            let audit = c.source().await.expect("source");
            assert!(
                audit.contains("tenant:demo"),
                "the console's write is audited"
            );
            shot(&c, "10-audit").await;
            // Japanese.
            c.goto(&format!("http://{api}/ui/lang/ja?back=/ui/op"))
                .await
                .expect("japanese");
            let page = c.source().await.expect("source");
            assert!(page.contains("運用"), "Japanese after the switch");
            shot(&c, "11-operator-ja").await;
        };
        shots.await;
        let _ = c.close().await;
    });
    drop(origin);
}
