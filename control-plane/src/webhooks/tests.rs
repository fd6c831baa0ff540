//! Deliveries and the destination guard (issue 13, item 5: a tenant's webhook to
//! `127.0.0.1:<raft port>`, port 22 or `169.254.169.254` was POSTed to, and the log told the
//! tenant what answered). Names are resolved by a table here, so a name can resolve to
//! loopback without real DNS; receivers listen on loopback.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use breakout_policy::guard::GuardOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::dial::{self, Blocked, Lookup, Resolver};
use super::log::Attempt;
use super::sign::RetryPolicy;
use super::target::{Delivery, Event, Target};
use super::WebhookHub;
use crate::state::{Secret, Webhook};

/// Names and their addresses.
struct Table(HashMap<String, Vec<IpAddr>>);

impl Resolver for Table {
    fn lookup(&self, host: &str) -> Lookup {
        let found = self.0.get(host).cloned();
        Box::pin(async move {
            found.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such name"))
        })
    }
}

fn table(entries: &[(&str, &str)]) -> Arc<dyn Resolver> {
    let mut map: HashMap<String, Vec<IpAddr>> = HashMap::new();
    for (name, ip) in entries {
        let ip = ip.parse().expect("ip");
        map.entry(name.to_string()).or_default().push(ip);
    }
    Arc::new(Table(map))
}

/// A receiver on `ip` answering every request with `answer`; how many requests it got.
async fn receiver(ip: &str, answer: &'static str) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind((ip, 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 16 * 1024];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(answer.as_bytes()).await;
        }
    });
    (addr, hits)
}

const OK: &str = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";

/// Delivers one change to `url` with `guard` and `resolver`; the logged attempt.
async fn deliver(url: &str, guard: GuardOptions, resolver: Arc<dyn Resolver>) -> Attempt {
    let hub = Arc::new(WebhookHub::new(guard.clone()));
    let client = dial::client(guard, resolver).expect("client");
    let hook = Webhook {
        id: "h1".into(),
        url: url.into(),
        secret: Secret("webhook-secret-0123456789".into()),
        created_version: 1,
    };
    let policy = RetryPolicy {
        attempts: 1,
        first_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(10),
        attempt_timeout: Duration::from_secs(5),
    };
    let clock: crate::clock::SharedClock = Arc::new(crate::clock::SystemClock);
    let target = Target::spawn(client, "acme".into(), hook, Arc::clone(&hub), policy, clock);
    let d = Delivery {
        event: Event::Full,
        version: 7,
        body: Arc::from("{}"),
    };
    target.send("acme", "h1", d, &hub.log);
    for _ in 0..500 {
        if let Some(a) = hub.log.of("acme").pop() {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no attempt logged");
}

fn allow(ranges: &[&str]) -> GuardOptions {
    GuardOptions {
        allow_private: false,
        allowed_ranges: ranges.iter().map(|r| r.parse().expect("cidr")).collect(),
    }
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_not_sent_to_and_the_tenant_is_told_nothing_of_it() {
    let (addr, hits) = receiver("127.0.0.1", OK).await;
    let url = format!("http://hooks.acme.example:{}/hook", addr.port());
    let names = table(&[("hooks.acme.example", "127.0.0.1")]);
    let a = deliver(&url, GuardOptions::default(), names).await;
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the receiver was reached");
    assert!(!a.delivered && a.status.is_none(), "{a:?}");
    assert_eq!(a.error.as_deref(), Some(Blocked::TENANT_MESSAGE));
    // A name that does not resolve reads the same to the tenant.
    let a = deliver(
        "http://nowhere.example/",
        GuardOptions::default(),
        table(&[]),
    )
    .await;
    assert_eq!(a.error.as_deref(), Some(Blocked::TENANT_MESSAGE));
}

#[tokio::test]
async fn literals_of_loopback_private_and_metadata_are_refused_without_connecting() {
    let (addr, hits) = receiver("127.0.0.1", OK).await;
    let port = addr.port();
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://127.1:{port}/"),
        format!("http://2130706433:{port}/"),
        format!("http://0x7f.1:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://[::1]:{port}/"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.1.2.3/".to_string(),
        "http://100.64.0.1/".to_string(),
        "http://0.0.0.0/".to_string(),
    ] {
        let a = deliver(&url, GuardOptions::default(), table(&[])).await;
        assert_eq!(a.error.as_deref(), Some(Blocked::TENANT_MESSAGE), "{url}");
        assert!(
            dial::check_literal(&GuardOptions::default(), &url).is_err(),
            "{url}"
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    assert!(dial::check_literal(&GuardOptions::default(), "http://192.0.2.1.example/").is_ok());
    assert!(dial::check_literal(&GuardOptions::default(), "https://8.8.8.8/").is_ok());
}

/// The operator's allowance lets a range through; the client connects to exactly the address
/// the guard passed (a name with one refused and one allowed address reaches the allowed one).
#[tokio::test]
async fn an_allowed_range_is_delivered_to_on_the_checked_address() {
    let (addr, hits) = receiver("127.0.0.2", OK).await;
    let url = format!("http://hooks.acme.example:{}/hook", addr.port());
    let names = table(&[
        ("hooks.acme.example", "127.0.0.1"),
        ("hooks.acme.example", "127.0.0.2"),
    ]);
    let a = deliver(&url, allow(&["127.0.0.2/32"]), names).await;
    assert!(a.delivered, "{a:?}");
    assert_eq!((a.status, hits.load(Ordering::SeqCst)), (Some(204), 1));
    // Unspecified stays refused inside an allowed range.
    let a = deliver("http://0.0.0.0:9/", allow(&["0.0.0.0/0"]), table(&[])).await;
    assert_eq!(a.error.as_deref(), Some(Blocked::TENANT_MESSAGE));
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (inner, inner_hits) = receiver("127.0.0.1", OK).await;
    let answer: &'static str = Box::leak(
        format!(
            "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{}/\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n",
            inner.port()
        )
        .into_boxed_str(),
    );
    let (outer, _) = receiver("127.0.0.1", answer).await;
    let url = format!("http://127.0.0.1:{}/hook", outer.port());
    let a = deliver(&url, allow(&["127.0.0.0/8"]), table(&[])).await;
    assert_eq!((a.status, a.delivered), (Some(302), false), "{a:?}");
    assert_eq!(
        inner_hits.load(Ordering::SeqCst),
        0,
        "the redirect was followed"
    );
}

#[test]
fn of_a_name_s_addresses_only_those_the_guard_allows_are_kept() {
    let ips: Vec<IpAddr> = ["10.0.0.5", "93.184.215.14", "169.254.169.254"]
        .iter()
        .map(|s| s.parse().expect("ip"))
        .collect();
    let kept = dial::allowed(&GuardOptions::default(), "h", &ips).expect("one public");
    assert_eq!(kept, [ips[1]]);
    let err = dial::allowed(&GuardOptions::default(), "h", &[ips[2]]).expect_err("metadata");
    assert!(err.to_string().contains("cloud metadata address"), "{err}");
}
