//! Faults around an edge: a hung or dead parent proxy, DNS that never answers, origins that
//! reset, an edge killed mid-tunnel, a connection flood past the process's open-file limit.
//! Each ends in a clear answer within a bound, frees its session slots, and leaves other
//! requests, tenants and edges serving.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use breakout_tests::badserver::{BadServer, Misbehaviour, SilentDns};
use breakout_tests::config::{EdgeConfig, Rule, Tenant};
use breakout_tests::control::Cluster;
use breakout_tests::faultcluster::report;
use breakout_tests::fleet::{put_in_service, serves, write};
use breakout_tests::raw::RawConn;
use breakout_tests::wait::{poll_until, wait_until, SOON};
use breakout_tests::{EchoServer, Edge, Origin, World, TENANT};
use serde_json::json;

const ACTIVE: &str = "breakout_edge_sessions_active";

fn active(edge: &Edge, tenant: &str) -> f64 {
    edge.metric(ACTIVE, &[("tenant", tenant)]).unwrap_or(0.0)
}

/// `GET url` through `edge` on a fresh connection: the response, and how long it took.
fn get(edge: &Edge, url: &str, host: &str) -> (Option<breakout_tests::RawResponse>, Duration) {
    let started = Instant::now();
    let r = RawConn::connect(edge.proxy()).ok().and_then(|mut c| {
        let req = format!("GET {url} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        c.send(req.as_bytes()).ok()?;
        c.read_response("GET").ok()
    });
    (r, started.elapsed())
}

#[test]
fn a_hung_or_dead_parent_proxy_fails_its_requests_within_bounds_and_frees_their_slots() {
    let hung = BadServer::start(Misbehaviour::Silent);
    let dead = {
        // A port nothing listens on: bound, then closed.
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let w = World::start_with(|c, _| {
        let mut c = c;
        c.response_timeout_ms = Some(3000);
        let t = c.tenant_mut(TENANT);
        t.upstreams.push(("hung".into(), hung.addr));
        t.upstreams.push(("dead".into(), dead));
        t.rules
            .insert(0, Rule::new("to-hung", "upstream:hung", &["hung.example"]));
        t.rules
            .insert(0, Rule::new("to-dead", "upstream:dead", &["dead.example"]));
        c
    });
    // Dead: refused at once, with a Proxy-Status.
    let (r, took) = get(&w.edge, "http://dead.example/", "dead.example");
    let r = r.expect("an answer for a dead parent");
    assert_eq!(r.status, 502, "{r:?}");
    assert!(r.proxy_status_error().is_some(), "{r:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");

    // Hung: the request gets an answer within a bound while other requests go on.
    let edge = &w.edge;
    let hung_req = std::thread::scope(|s| {
        let pending = s.spawn(|| get(edge, "http://hung.example/", "hung.example"));
        wait_until(SOON, "the hung parent got the request", || {
            hung.connections.load(std::sync::atomic::Ordering::Relaxed) > 0
        });
        for _ in 0..5 {
            w.curl(&w.origin_url("/ok")).run().assert_ok();
        }
        pending.join().expect("request thread")
    });
    let (r, took) = hung_req;
    let r = r.expect("an answer for a hung parent");
    assert_eq!(r.status, 504, "{r:?}");
    assert_eq!(
        r.proxy_status_error().as_deref(),
        Some("http_response_timeout"),
        "{r:?}"
    );
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(10),
        "{took:?}"
    );
    wait_until(SOON, "every slot freed", || active(&w.edge, TENANT) == 0.0);
    report(
        "edge-parent",
        json!({ "hung_answered_after_s": took.as_secs_f64() }),
    );
}

#[test]
fn dns_that_never_answers_fails_only_the_requests_that_need_it() {
    let ip = Ipv4Addr::new(127, 0, 9, 53);
    let Some(dns) = SilentDns::start(ip) else {
        eprintln!("not run: binding port 53 needs root");
        return;
    };
    let w = World::start_with(|mut c, _| {
        c.dns_servers = vec![ip.to_string()];
        let t = c.tenant_mut(TENANT);
        t.rules
            .insert(0, Rule::new("slow-dns", "direct", &["*.slow.example"]));
        c
    });
    let edge = &w.edge;
    let (r, took) = std::thread::scope(|s| {
        let pending = s.spawn(|| get(edge, "http://a.slow.example/", "a.slow.example"));
        wait_until(SOON, "the query reached the silent server", || {
            dns.queries.load(std::sync::atomic::Ordering::Relaxed) > 0
        });
        // Names the edge knows keep resolving at once meanwhile.
        let started = Instant::now();
        w.curl(&w.origin_url("/ok")).run().assert_ok();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        pending.join().expect("request thread")
    });
    let r = r.expect("an answer when DNS times out");
    assert!(matches!(r.status, 502 | 504), "{r:?}");
    assert!(
        r.proxy_status_error().is_some_and(|e| e.starts_with("dns")),
        "{r:?}"
    );
    assert!(took < Duration::from_secs(60), "{took:?}");
    wait_until(SOON, "every slot freed", || active(&w.edge, TENANT) == 0.0);
    report(
        "edge-dns-timeout",
        json!({ "answered_after_s": took.as_secs_f64() }),
    );
}

#[test]
fn origins_that_reset_fail_cleanly_and_free_their_slots() {
    let reset = BadServer::start(Misbehaviour::Reset);
    let w = World::start_with(|mut c, _| {
        c = c
            .host("reset.test", "127.0.0.1")
            .connect_port(reset.addr.port());
        let t = c.tenant_mut(TENANT);
        t.rules
            .insert(0, Rule::new("to-reset", "direct", &["reset.test"]));
        c
    });
    let host = format!("reset.test:{}", reset.addr.port());
    let (r, _) = get(&w.edge, &format!("http://{host}/"), &host);
    let r = r.expect("an answer when the origin resets");
    assert_eq!(r.status, 502, "{r:?}");
    assert!(r.proxy_status_error().is_some(), "{r:?}");
    // A tunnel to it: established, then closed when the far side resets.
    let mut c = w.raw();
    let head = c.connect_tunnel(&host).expect("CONNECT");
    assert_eq!(head.status, 200, "{head:?}");
    c.send(b"hello").expect("send");
    let rest = c.read_to_close(Duration::from_secs(10));
    assert!(
        rest.map_or(true, |b| b.is_empty()),
        "bytes from a reset origin"
    );
    // The edge is fine: the next request through it works, every slot is free.
    w.curl(&w.origin_url("/ok")).run().assert_ok();
    wait_until(SOON, "every slot freed", || active(&w.edge, TENANT) == 0.0);
}

#[test]
fn an_edge_killed_mid_tunnel_leaves_the_other_edge_serving_and_gives_it_the_capacity() {
    let echo = EchoServer::start();
    let cluster = Cluster::start(1);
    let node = &cluster.nodes[0];
    let wait = Duration::from_secs(30);
    write(node, &["region", "create", "tokyo"], wait);
    let create = [
        "tenant",
        "create",
        "acme",
        "--region",
        "tokyo",
        "--source-cidr",
        "127.0.0.1/32",
        "--session-limit",
        "10",
        "--default-action",
        "direct",
    ];
    write(node, &create, wait);
    put_in_service(node, "acme", Some(10), wait);
    let settings = EdgeConfig::default()
        .host("origin.test", "127.0.0.1")
        .host("echo.test", "127.0.0.1")
        .connect_port(echo.addr().port())
        .to_settings_toml();
    let mut a = Edge::start_synced(
        &settings,
        &breakout_tests::fleet::synced(&[node], "tokyo", "a"),
    );
    let b = Edge::start_synced(
        &settings,
        &breakout_tests::fleet::synced(&[node], "tokyo", "b"),
    );
    for e in [&a, &b] {
        wait_until(wait, "both edges serve acme", || {
            serves(e, "acme")
                && e.metric("breakout_edge_session_limit", &[("tenant", "acme")]) > Some(0.0)
        });
    }
    let target = format!("echo.test:{}", echo.addr().port());
    let tunnel = |e: &Edge| {
        let mut c = RawConn::connect(e.proxy()).expect("connect");
        let head = c.connect_tunnel(&target).expect("CONNECT");
        (head.status == 200).then_some(c)
    };
    let mut via_a = tunnel(&a).expect("a tunnel through a");
    let mut via_b = tunnel(&b).expect("a tunnel through b");
    assert_eq!(via_a.echo(b"ping").expect("echo a"), b"ping");
    a.signal("KILL");
    a.wait_exit(SOON);
    assert!(
        via_a.echo(b"ping").is_err(),
        "the dead edge's tunnel still answers"
    );
    assert_eq!(via_b.echo(b"pong").expect("b's tunnel survives"), b"pong");
    // Once the dead edge's grant has expired, the region's capacity moves to b (all of it but
    // the idle headroom nobody else needs: 10 - 1 held already).
    let mut held = vec![via_b];
    let ok = poll_until(Duration::from_secs(40), || {
        while held.len() < 10 {
            match tunnel(&b) {
                Some(c) => held.push(c),
                None => break,
            }
        }
        held.len() >= 10
    });
    assert!(ok, "b holds {} of 10 after a died", held.len());
    report(
        "edge-killed",
        json!({ "capacity_moved_to_survivor": held.len() }),
    );
}

#[test]
fn a_connection_flood_past_the_open_file_limit_is_refused_cleanly_and_recovers() {
    const NOFILE: u32 = 256;
    let origin = Origin::start();
    let config = EdgeConfig::default()
        .host("origin.test", "127.0.0.1")
        .tenant(Tenant::new("flood", "127.0.0.1/32", "direct").limit(100))
        .tenant(Tenant::new("calm", "127.0.0.2/32", "direct").limit(20));
    let edge = Edge::start_with_nofile(&config.to_toml(), NOFILE);
    let url = format!("http://origin.test:{}/", origin.port());
    let request = format!(
        "GET {url} HTTP/1.1\r\nHost: origin.test:{}\r\n\r\n",
        origin.port()
    );
    let hold_from = |src: Ipv4Addr, n: usize| -> (Vec<RawConn>, usize) {
        let (mut held, mut refused) = (Vec::new(), 0);
        for _ in 0..n {
            let Ok(mut c) = RawConn::connect_from(src, edge.proxy()) else {
                refused += 1;
                continue;
            };
            match c
                .send(request.as_bytes())
                .and_then(|()| c.read_response("GET"))
            {
                Ok(r) if r.status == 200 => held.push(c),
                _ => refused += 1,
            }
        }
        (held, refused)
    };
    // The flood: more connections than the process may open, held open.
    let (flood, refused) = hold_from(Ipv4Addr::LOCALHOST, 2 * NOFILE as usize);
    assert_eq!(flood.len(), 100, "the flooding tenant holds its limit");
    assert_eq!(refused, 2 * NOFILE as usize - 100);
    // Another tenant keeps its capacity meanwhile.
    let (calm, refused) = hold_from(Ipv4Addr::new(127, 0, 0, 2), 20);
    assert_eq!(
        (calm.len(), refused),
        (20, 0),
        "the other tenant lost capacity"
    );
    assert_eq!(edge.admin_status("/healthz"), Some(200));
    drop(flood);
    drop(calm);
    // Recovered: the flooding tenant gets its sessions back.
    wait_until(SOON, "every slot freed", || active(&edge, "flood") == 0.0);
    let (again, _) = hold_from(Ipv4Addr::LOCALHOST, 10);
    assert_eq!(again.len(), 10);
    report(
        "edge-fd-flood",
        json!({ "open_file_limit": NOFILE, "connections": 2 * NOFILE, "held": 100 }),
    );
}
