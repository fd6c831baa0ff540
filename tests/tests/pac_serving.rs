//! `GET /pac/{tenant}.pac` on the proxy listener (docs/pac.md, "Serving"): a standalone edge
//! whose tenant has a `pac` table serves the file to the tenant's registered sources only, with
//! its content type, a strong ETag and 304s, gzip-compressed when asked (with its own ETag); and
//! the served file, evaluated by pacparser, routes each host where the edge itself sends it.
//!
//! Needs Debian's `python3-pacparser` (run as /usr/bin/python3); without it the test fails with
//! a message saying to install it, never skips.

use std::io::Write;
use std::process::{Command, Stdio};

use breakout_tests::wait::SOON;
use breakout_tests::{tmp, wait_for, Curl, Edge, EdgeConfig, Origin, ParentProxy, Rule, Tenant};

const CONTENT_TYPE: &str = "application/x-ns-proxy-autoconfig";

struct Setup {
    origin: Origin,
    parent: ParentProxy,
    edge: Edge,
}

/// Tenant `beta` (127.0.0.2, no PAC) and tenant `acme` (127.0.0.1): `origin.test` direct,
/// `blocked.test` blocked, everything else through upstream `corp` (the parent proxy), which
/// the PAC names for the browser; `*.corp.example` goes `DIRECT`. The PAC's edge proxy is left
/// to the edge (its own listen address).
fn start() -> Setup {
    start_edge(Edge::start)
}

fn start_edge(start: fn(&str) -> Edge) -> Setup {
    let origin = Origin::start();
    let parent = ParentProxy::start();
    let acme = Tenant::new("acme", "127.0.0.1/32", "upstream:corp")
        .upstream("corp", parent.addr())
        .rule(Rule::new("saas", "direct", &["origin.test"]))
        .rule(Rule::new("deny", "block", &["blocked.test"]));
    let beta = Tenant::new("beta", "127.0.0.2/32", "direct");
    let cfg = EdgeConfig::default()
        .host("origin.test", "127.0.0.1")
        .host("blocked.test", "127.0.0.1")
        .host("other.test", "127.0.0.1")
        .tenant(beta)
        .tenant(acme);
    // `[tenants.pac]` belongs to the last `[[tenants]]` entry: acme.
    let toml = format!(
        "{}\n[tenants.pac]\nupstream_proxies = {{ corp = \"{}\" }}\n\
         direct_exceptions = [\"*.corp.example\"]\n",
        cfg.to_toml(),
        parent.addr()
    );
    let edge = start(&toml);
    Setup {
        origin,
        parent,
        edge,
    }
}

fn pac_url(edge: &Edge, tenant: &str) -> String {
    format!("http://{}/pac/{tenant}.pac", edge.proxy())
}

#[test]
fn pac_is_served_to_the_tenants_sources_with_etag_and_304() {
    let s = start();
    let url = pac_url(&s.edge, "acme");
    let first = Curl::new(&url).run();
    assert_eq!(first.status(), 200, "{}", first.stderr);
    assert_eq!(first.header("content-type"), Some(CONTENT_TYPE));
    assert_eq!(first.header("cache-control"), Some("max-age=300"));
    let etag = first.header("etag").expect("ETag").to_string();
    assert!(
        etag.starts_with('"') && etag.len() == 66,
        "strong sha256 ETag: {etag}"
    );
    let text = first.body_text();
    assert!(text.contains("function FindProxyForURL"), "{text}");
    assert!(
        text.contains(&format!("PROXY {}", s.edge.proxy())),
        "the edge's own address is the default proxy:\n{text}"
    );

    let again = Curl::new(&url)
        .header(&format!("If-None-Match: {etag}"))
        .run();
    assert_eq!(again.status(), 304);
    assert!(again.body().is_empty());
    assert_eq!(again.header("etag"), Some(etag.as_str()));

    let stale = Curl::new(&url).header("If-None-Match: \"0000\"").run();
    assert_eq!(stale.status(), 200);

    // Another tenant's source: the same 404 as for a tenant that does not exist.
    let other = Curl::new(&url).interface("127.0.0.2").run();
    assert_eq!(other.status(), 404);
    let none = Curl::new(&pac_url(&s.edge, "nobody")).run();
    assert_eq!(none.status(), 404);
    assert_eq!(other.body(), none.body());
    // An unregistered source is closed at accept, like any of its connections.
    let stranger = Curl::new(&url).interface("127.0.8.77").run();
    assert_eq!(stranger.status(), 0);
    assert!(!stranger.body_text().contains("FindProxyForURL"));

    let ok = s.edge.counter(
        "breakout_edge_pac_requests_total",
        &[("tenant", "acme"), ("status", "200")],
    );
    assert_eq!(ok, 2.0);
    let not_modified = s.edge.counter(
        "breakout_edge_pac_requests_total",
        &[("tenant", "acme"), ("status", "304")],
    );
    assert_eq!(not_modified, 1.0);
    let bytes = s
        .edge
        .counter("breakout_edge_pac_bytes_total", &[("tenant", "acme")]);
    assert_eq!(bytes, 2.0 * text.len() as f64);
}

#[test]
fn pac_is_gzipped_when_asked_with_its_own_etag_and_304s() {
    let s = start();
    let url = pac_url(&s.edge, "acme");

    // Without Accept-Encoding: the file as rendered, and a Vary so caches keep both apart.
    let plain = Curl::new(&url).run();
    assert_eq!(plain.status(), 200, "{}", plain.stderr);
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));
    let text = plain.body_text();
    assert!(text.contains("function FindProxyForURL"), "{text}");
    let plain_etag = plain.header("etag").expect("ETag").to_string();
    let gz_etag = format!("{}-gz\"", plain_etag.trim_end_matches('"'));

    // curl --compressed asks for gzip (among others) and decodes what it gets.
    let decoded = Curl::new(&url).arg("--compressed").run();
    assert_eq!(decoded.status(), 200, "{}", decoded.stderr);
    assert_eq!(decoded.header("content-encoding"), Some("gzip"));
    assert_eq!(decoded.header("etag"), Some(gz_etag.as_str()));
    assert_eq!(decoded.header("vary"), Some("Accept-Encoding"));
    assert_eq!(decoded.body_text(), text);

    // The raw bytes: a gzip stream of exactly Content-Length bytes that gunzip turns back into
    // the file, and much smaller than it.
    let raw = Curl::new(&url).header("Accept-Encoding: gzip").run();
    assert_eq!(raw.status(), 200);
    assert_eq!(raw.header("content-encoding"), Some("gzip"));
    assert_eq!(raw.header("content-type"), Some(CONTENT_TYPE));
    let gz = raw.body().to_vec();
    assert_eq!(
        raw.header("content-length"),
        Some(gz.len().to_string().as_str())
    );
    assert!(gz.starts_with(&[0x1f, 0x8b]), "not gzip: {:?}", &gz[..4]);
    assert_eq!(gunzip(&gz), text);
    assert!(
        gz.len() * 2 < text.len(),
        "{} gzip bytes for {}",
        gz.len(),
        text.len()
    );

    // `q=0` means "not gzip"; so does a preference for the uncompressed file.
    for refusal in ["gzip;q=0", "gzip;q=0.5, identity", "br"] {
        let got = Curl::new(&url)
            .header(&format!("Accept-Encoding: {refusal}"))
            .run();
        assert_eq!(got.status(), 200);
        assert_eq!(got.header("content-encoding"), None, "{refusal}");
        assert_eq!(got.header("etag"), Some(plain_etag.as_str()), "{refusal}");
        assert_eq!(got.body_text(), text, "{refusal}");
    }

    // Each encoding revalidates with its own ETag; the other one's is a miss.
    let conditional = |accept: &str, etag: &str| {
        Curl::new(&url)
            .header(&format!("Accept-Encoding: {accept}"))
            .header(&format!("If-None-Match: {etag}"))
            .run()
    };
    let gz_304 = conditional("gzip", &gz_etag);
    assert_eq!(gz_304.status(), 304);
    assert!(gz_304.body().is_empty());
    assert_eq!(gz_304.header("etag"), Some(gz_etag.as_str()));
    assert_eq!(gz_304.header("vary"), Some("Accept-Encoding"));
    let plain_304 = conditional("identity", &plain_etag);
    assert_eq!(plain_304.status(), 304);
    assert_eq!(plain_304.header("etag"), Some(plain_etag.as_str()));
    let gz_miss = conditional("gzip", &plain_etag);
    assert_eq!(gz_miss.status(), 200);
    assert_eq!(gz_miss.body(), gz.as_slice());
    let plain_miss = conditional("identity", &gz_etag);
    assert_eq!(plain_miss.status(), 200);
    assert_eq!(plain_miss.body_text(), text);

    // HEAD: the compressed length, no body.
    let head = Curl::new(&url)
        .arg("--head")
        .header("Accept-Encoding: gzip")
        .run();
    assert_eq!(head.status(), 200);
    assert_eq!(head.header("content-encoding"), Some("gzip"));
    assert_eq!(
        head.header("content-length"),
        Some(gz.len().to_string().as_str())
    );

    // Bytes are what went on the wire: 5 uncompressed bodies (plain, 3 refusals, plain_miss)
    // and 3 compressed ones (decoded, raw, gz_miss); HEAD and 304s send none.
    let ok = s.edge.counter(
        "breakout_edge_pac_requests_total",
        &[("tenant", "acme"), ("status", "200")],
    );
    assert_eq!(ok, 9.0);
    let not_modified = s.edge.counter(
        "breakout_edge_pac_requests_total",
        &[("tenant", "acme"), ("status", "304")],
    );
    assert_eq!(not_modified, 2.0);
    let bytes = s
        .edge
        .counter("breakout_edge_pac_bytes_total", &[("tenant", "acme")]);
    assert_eq!(bytes, (5 * text.len() + 3 * gz.len()) as f64);
}

/// Decompresses with the system's gzip, an implementation independent of the edge's.
fn gunzip(gz: &[u8]) -> String {
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gzip -dc (Debian package gzip)");
    let mut stdin = child.stdin.take().expect("gzip stdin");
    let input = gz.to_vec();
    // Fed from a thread so that a full stdout pipe cannot stall the write.
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("gzip output");
    feeder.join().expect("feeder").expect("feed gzip");
    assert!(
        out.status.success(),
        "gzip -dc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the PAC is ASCII")
}

#[test]
fn served_pac_routes_like_the_edge_in_pacparser() {
    let s = start();
    let pac = Curl::new(&pac_url(&s.edge, "acme")).run();
    assert_eq!(pac.status(), 200);
    let edge_proxy = format!("PROXY {}", s.edge.proxy());
    let parent_proxy = format!("PROXY {}", s.parent.addr());
    let port = s.origin.port();

    // What the edge does with each host, observed through it.
    let direct = Curl::new(&format!("http://origin.test:{port}/"))
        .proxy(&s.edge.proxy_url())
        .run();
    assert_eq!(direct.status(), 200, "origin.test goes direct");
    let blocked = Curl::new(&format!("http://blocked.test:{port}/"))
        .proxy(&s.edge.proxy_url())
        .run();
    assert_eq!(blocked.status(), 403, "blocked.test is blocked");
    let chained = Curl::new(&format!("http://other.test:{port}/"))
        .proxy(&s.edge.proxy_url())
        .run();
    assert!(chained.status() > 0, "{}", chained.stderr);
    wait_for(SOON, "the parent proxy sees other.test", || {
        s.parent
            .lines()
            .iter()
            .any(|l| l.contains("other.test"))
            .then_some(())
    });

    // The same hosts in pacparser: the edge for what it handles itself, the tenant's proxy for
    // `upstream:corp`, DIRECT for the local exception and plain names.
    let cases = [
        (format!("http://origin.test:{port}/"), edge_proxy.clone()),
        ("https://blocked.test/".to_string(), edge_proxy.clone()),
        (format!("http://other.test:{port}/"), parent_proxy.clone()),
        ("https://www.example.com/".to_string(), parent_proxy),
        (
            "http://wiki.corp.example/".to_string(),
            "DIRECT".to_string(),
        ),
        ("http://intranet/".to_string(), "DIRECT".to_string()),
    ];
    let dir = tmp::unique_dir("breakout-pac");
    let pac_file = dir.join("acme.pac");
    let reqs_file = dir.join("requests");
    std::fs::write(&pac_file, pac.body()).expect("write pac");
    let reqs: String = cases.iter().map(|(u, _)| format!("{u}\n")).collect();
    std::fs::write(&reqs_file, reqs).expect("write requests");
    let out = Command::new("/usr/bin/python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/pac/evaluate.py"))
        .arg(&pac_file)
        .arg(&reqs_file)
        .output()
        .expect("run /usr/bin/python3 tests/pac/evaluate.py");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "evaluate.py failed ({}): {stderr}\n(pacparser is Debian's python3-pacparser: \
         `apt-get install -y python3-pacparser`)",
        out.status
    );
    let answers: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let expected: Vec<String> = cases.iter().map(|(_, e)| e.clone()).collect();
    assert_eq!(answers, expected, "pacparser vs the edge for {cases:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_pac_listener_serves_the_same_file_to_the_same_sources_only() {
    let s = start_edge(Edge::start_with_pac_listener);
    let pac = s.edge.pac().expect("a PAC listener");
    let on_proxy = Curl::new(&pac_url(&s.edge, "acme")).run();
    let url = format!("http://{pac}/pac/acme.pac");
    let here = Curl::new(&url).run();
    assert_eq!(here.status(), 200, "{}", here.stderr);
    assert_eq!(here.header("content-type"), Some(CONTENT_TYPE));
    assert_eq!(here.body(), on_proxy.body());
    assert_eq!(here.header("etag"), on_proxy.header("etag"));
    let etag = here.header("etag").expect("ETag").to_string();
    let again = Curl::new(&url)
        .header(&format!("If-None-Match: {etag}"))
        .run();
    assert_eq!(again.status(), 304);
    // Another tenant's source and any other path: the same 404, nothing else; an
    // unregistered source is closed at accept, as on the proxy listener.
    let other = Curl::new(&url).interface("127.0.0.2").run();
    let elsewhere = Curl::new(&format!("http://{pac}/metrics")).run();
    for r in [&other, &elsewhere] {
        assert_eq!(r.status(), 404);
        assert!(!r.body_text().contains("FindProxyForURL"));
    }
    let stranger = Curl::new(&url).interface("127.0.8.77").run();
    assert_eq!(stranger.status(), 0);
    // Fetching the file there took no session slot.
    let admitted = s.edge.counter(
        "breakout_edge_sessions_admitted_total",
        &[("tenant", "acme")],
    );
    assert_eq!(admitted, 1.0, "only the proxy-listener fetch was a session");
}
