//! Webhooks end to end (docs/integration.md): a real control plane sends each change of a
//! tenant's endpoints to three local receivers — one that answers, one that fails its first
//! request, one that never answers. Signatures are checked with Python's own `hmac` module;
//! the failing one is retried; the hanging one delays nobody; the delivery log shows it all;
//! the secret appears nowhere. And without the operator's allowance, no webhook reaches
//! loopback, private or metadata addresses, by literal or by name (issue 13, item 5).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use breakout_tests::control::{Cluster, ControlNode, ADMIN_TOKEN};
use breakout_tests::fleet::tokyo_acme;
use breakout_tests::wait_until;
use serde_json::{json, Value};

const SECRET: &str = "webhook-secret-0123456789abcdef";

/// One request a receiver got: its headers (lowercase names) and body.
#[derive(Clone, Debug)]
struct Received {
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Answer,
    /// 500 to the first request, 200 after.
    FailFirst,
    /// Reads the request, never answers.
    Hang,
}

/// A blocking HTTP/1.1 receiver on 127.0.0.1 (one thread per connection).
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(mode: Mode) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let got = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&got);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || serve(stream, mode, &seen));
            }
        });
        Receiver { url, got }
    }

    fn events(&self, event: &str) -> Vec<Received> {
        let got = self.got.lock().expect("lock");
        got.iter()
            .filter(|r| r.header("x-breakout-event") == Some(event))
            .cloned()
            .collect()
    }

    fn count(&self) -> usize {
        self.got.lock().expect("lock").len()
    }
}

fn serve(stream: TcpStream, mode: Mode, seen: &Mutex<Vec<Received>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let first = {
            let mut s = seen.lock().expect("lock");
            s.push(Received {
                headers,
                body: String::from_utf8_lossy(&body).to_string(),
            });
            s.len() == 1
        };
        let status = match mode {
            Mode::Hang => {
                // Hold the connection open without answering until the sender gives up.
                let mut sink = [0u8; 1];
                let _ = reader.read(&mut sink);
                return;
            }
            Mode::FailFirst if first => "500 Internal Server Error",
            _ => "200 OK",
        };
        let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// `sha256=<hex>` of `body` under `secret`, computed by Python's standard library.
fn python_signature(secret: &str, body: &str) -> String {
    let out = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import hmac,hashlib,sys; \
             print('sha256=' + hmac.new(sys.argv[1].encode(), sys.stdin.buffer.read(), \
             hashlib.sha256).hexdigest())",
            secret,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(body.as_bytes())?;
            }
            child.wait_with_output()
        })
        .expect("run /usr/bin/python3");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn values(body: &Value, key: &str) -> Vec<String> {
    body[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["value"].as_str().map(str::to_string))
        .collect()
}

/// A new token of tenant acme.
fn tenant_token(node: &ControlNode) -> String {
    let created = node
        .ctl(&["token", "create", "acme"])
        .expect_ok("token")
        .json();
    created["token"].as_str().expect("token").to_string()
}

/// Registers a webhook to `url` with acme's `token`: (status, body).
fn register(node: &ControlNode, token: &str, url: &str) -> (u16, String) {
    let body = json!({ "url": url, "secret": SECRET }).to_string();
    node.send(token, "POST", "/v1/tenants/acme/webhooks", &body)
}

/// The operator allows loopback, where this test's receivers listen (by default the
/// destination guard refuses it: see the test below).
const ALLOW_LOOPBACK: (&str, &str) = ("BREAKOUT_WEBHOOK_ALLOW_CIDRS", "127.0.0.0/8");

#[test]
fn each_change_reaches_every_webhook_signed_retried_and_isolated() {
    let cluster = Cluster::single_with_env(&[ALLOW_LOOPBACK]);
    let node = &cluster.nodes[0];
    tokyo_acme(node);
    node.ctl(&["list", "set", "acme", "blocklist", "a.example"])
        .expect_ok("list");
    let rules = json!([{ "name": "deny", "action": "block", "lists": ["blocklist"] }]);
    let (status, body) = node.send(
        ADMIN_TOKEN,
        "PUT",
        "/v1/tenants/acme/rules",
        &rules.to_string(),
    );
    assert_eq!(status, 200, "{body}");
    let token = tenant_token(node);

    // The tenant registers its webhooks: refused before an integration contract, then accepted.
    let register = |url: &str| register(node, &token, url);
    let hang = Receiver::start(Mode::Hang);
    let (status, body) = register(&hang.url);
    assert_eq!(status, 403, "{body}");
    node.ctl(&["contract", "add", "acme", "external-integration"])
        .expect_ok("contract");
    let good = Receiver::start(Mode::Answer);
    let flaky = Receiver::start(Mode::FailFirst);
    for r in [&hang, &good, &flaky] {
        let (status, body) = register(&r.url);
        assert_eq!(status, 201, "{body}");
        assert!(!body.contains(SECRET), "the secret is never shown: {body}");
    }
    let (_, listed) = node.get(&token, "/v1/tenants/acme/webhooks");
    assert!(
        listed.contains(&good.url) && !listed.contains(SECRET),
        "{listed}"
    );

    // Every target gets the full list first (the flaky one after a retry).
    wait_until(
        Duration::from_secs(10),
        "the full list at the good receiver",
        || !good.events("endpoints.full").is_empty(),
    );
    wait_until(
        Duration::from_secs(10),
        "the full list at the flaky receiver, retried",
        || !flaky.events("endpoints.full").is_empty() && flaky.count() >= 2,
    );
    let full = &good.events("endpoints.full")[0];
    let entries: Value = serde_json::from_str(&full.body).expect("JSON");
    assert_eq!(entries["entries"][0]["value"], "a.example");

    // A change: a delta to each target, while the hanging one still holds its connection.
    let changed_at = Instant::now();
    node.ctl(&[
        "list",
        "patch",
        "acme",
        "blocklist",
        "--add",
        "b.example",
        "--remove",
        "a.example",
    ])
    .expect_ok("list patch");
    wait_until(
        Duration::from_secs(4),
        "the delta at the good receiver, undelayed",
        || !good.events("endpoints.delta").is_empty(),
    );
    let took = changed_at.elapsed();
    let delta = &good.events("endpoints.delta")[0];
    let body: Value = serde_json::from_str(&delta.body).expect("JSON");
    assert_eq!(values(&body, "added"), ["b.example"]);
    assert_eq!(values(&body, "removed"), ["a.example"]);
    assert_eq!(
        delta.header("x-breakout-signature"),
        Some(python_signature(SECRET, &delta.body).as_str()),
        "signature"
    );
    assert!(
        took < Duration::from_secs(4),
        "the hanging target (5 s per attempt) must not delay the others: {took:?}"
    );
    wait_until(
        Duration::from_secs(10),
        "the delta at the flaky receiver",
        || !flaky.events("endpoints.delta").is_empty(),
    );

    // The delivery log: the flaky target's 500 then its success, the hanging one's timeout.
    wait_until(
        Duration::from_secs(20),
        "the hanging target's timeout in the log",
        || {
            let (_, log) = node.get(&token, "/v1/tenants/acme/webhook-deliveries");
            log.contains("no answer within")
        },
    );
    let (status, log) = node.get(&token, "/v1/tenants/acme/webhook-deliveries");
    assert_eq!(status, 200, "{log}");
    let log: Value = serde_json::from_str(&log).expect("JSON");
    let attempts = log["items"].as_array().expect("items");
    let of = |url: &str| -> Vec<&Value> { attempts.iter().filter(|a| a["url"] == url).collect() };
    let flaky_log = of(&flaky.url);
    assert_eq!(flaky_log[0]["status"], 500, "{flaky_log:?}");
    assert_eq!(flaky_log[0]["delivered"], false);
    assert!(flaky_log
        .iter()
        .any(|a| a["attempt"] == 2 && a["delivered"] == true));
    assert!(of(&good.url).iter().all(|a| a["delivered"] == true));
    assert!(!log.to_string().contains(SECRET));
    assert!(
        !node.stderr().contains(SECRET),
        "the secret is never logged"
    );
}

/// Issue 13, item 5: a tenant token registered webhooks to `127.0.0.1:<raft port>`, port 22 and
/// `169.254.169.254`, the control plane POSTed there, and the delivery log told the tenant what
/// answered. By default literals of refused addresses are refused at registration, a name that
/// resolves to one (`localhost`) is never connected to, and the tenant's log says only that the
/// host has no address webhooks may be sent to; the operator's log says which and why.
#[test]
fn by_default_no_webhook_reaches_an_internal_address() {
    let cluster = Cluster::start(1);
    let node = &cluster.nodes[0];
    tokyo_acme(node);
    node.ctl(&["contract", "add", "acme", "external-integration"])
        .expect_ok("contract");
    let token = tenant_token(node);
    let register = |url: &str| register(node, &token, url);
    let raft = format!("http://127.0.0.1:{}/raft", node.raft.port());
    for (url, class) in [
        (raft.as_str(), "loopback address"),
        ("http://127.0.0.1:22/", "loopback address"),
        ("http://0x7f.1:22/", "loopback address"),
        (
            "http://169.254.169.254/latest/meta-data/",
            "cloud metadata address",
        ),
        ("http://10.0.0.1/hook", "private address"),
        ("http://[::ffff:a9fe:a9fe]/", "cloud metadata address"),
    ] {
        let (status, body) = register(url);
        assert_eq!(status, 400, "{url}: {body}");
        assert!(body.contains(class), "{url}: {body}");
    }

    let receiver = Receiver::start(Mode::Answer);
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let (status, body) = register(&by_name);
    assert_eq!(status, 201, "a name is checked when delivering: {body}");
    let deliveries = || {
        let (status, log) = node.get(&token, "/v1/tenants/acme/webhook-deliveries");
        assert_eq!(status, 200, "{log}");
        serde_json::from_str::<Value>(&log).expect("JSON")
    };
    wait_until(
        Duration::from_secs(10),
        "the refused attempt in the log",
        || {
            deliveries()["items"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        },
    );
    let log = deliveries();
    let attempt = &log["items"][0];
    assert_eq!(attempt["delivered"], false, "{log}");
    assert!(attempt.get("status").is_none(), "{log}");
    let error = attempt["error"].as_str().expect("an error");
    assert!(
        error.contains("no address webhooks may be sent to"),
        "{error}"
    );
    assert!(
        !error.contains("127.0.0.1") && !error.contains("loopback"),
        "the tenant is told nothing of the far side: {error}"
    );
    assert_eq!(receiver.count(), 0, "the receiver was reached");
    wait_until(
        Duration::from_secs(5),
        "the operator's log says why",
        || node.stderr().contains("loopback address"),
    );
}
