//! The console in a real browser: headless Chromium driven over WebDriver (Debian's
//! `chromium-driver`, through the fantoccini client) against `breakout-control dev`. A tenant
//! signs in, sees its sessions, enters a bad blocklist entry and sees the error next to it,
//! saves a good one and sees it reach the edge (a request through the proxy is then refused),
//! uses explain and signs out; the operator signs in and sees regions, edges and templates
//! (and approves a quarantined template version when one is there).
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
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(bin)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let proc = Proc(child);
    let url = format!("http://127.0.0.1:{port}");
    wait_for(SOON, "chromedriver listens", || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    (proc, url)
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
            c.goto(&format!("http://{api}/ui/t/demo/pac"))
                .await
                .expect("pac");
            shot(&c, "06-pac").await;

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
            if let Ok(approve) = c.find(Locator::Css("button[id^=approve-]")).await {
                shot(&c, "07-operator-quarantine").await;
                approve.click().await.expect("approve");
            }
            shot(&c, "07-operator").await;
            c.goto(&format!("http://{api}/ui/op/audit?actor=tenant:demo"))
                .await
                .expect("audit");
            let audit = c.source().await.expect("source");
            assert!(
                audit.contains("tenant:demo"),
                "the console's write is audited"
            );
            shot(&c, "08-audit").await;
            // Japanese.
            c.goto(&format!("http://{api}/ui/lang/ja?back=/ui/op"))
                .await
                .expect("japanese");
            let page = c.source().await.expect("source");
            assert!(page.contains("運用"), "Japanese after the switch");
            shot(&c, "09-operator-ja").await;
        };
        shots.await;
        let _ = c.close().await;
    });
    drop(origin);
}
