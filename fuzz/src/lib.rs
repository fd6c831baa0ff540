//! The bodies of Breakout's fuzz targets (`fuzz/fuzz_targets/*.rs` call them; libFuzzer feeds
//! them). Each checks more than "no panic": the property the code promises for any input.
//!
//! This file is also compiled into the main workspace's `tests/tests/fuzz_regressions.rs`,
//! which replays every input kept under `fuzz/regressions/<target>/` on stable with a plain
//! `cargo test`: a crash found by fuzzing becomes a regression test by copying its input there.
//! So it uses only crates both builds have.

use std::collections::BTreeMap;

use breakout_control::contracts::TemplateItem;
use breakout_control::templates::{expressroute, google, m365, select};
use breakout_policy::wire::{self, delta, Frame, FrameDecoder};
use breakout_policy::{canonical_host, Action, Host, Matcher, RegionPolicy, Tenant};

/// A target's body: takes any bytes.
pub type Target = fn(&[u8]);

/// Every target, by name: what `fuzz_regressions.rs` replays.
pub const TARGETS: &[(&str, Target)] = &[
    ("request_head", request_head),
    ("host_canon", host_canon),
    ("matcher", matcher),
    ("m365_list", m365_list),
    ("google_list", google_list),
    ("service_tags", service_tags),
    ("edge_config", edge_config),
    ("wire_frames", wire_frames),
    ("api_json", api_json),
];

/// The proxy's request-head handling: the first-head classifier of the direct CONNECT path,
/// the request checks, and the framing follower fed the bytes in the chunks the input chooses.
/// Properties: the framer consumes only what it was given, never emits more than it consumed
/// (plus one refusal marker), and stops emitting after a refusal.
pub fn request_head(data: &[u8]) {
    let Some((&split, bytes)) = data.split_first() else {
        return;
    };
    if let Some(Ok((req, head_len))) = breakout_edge::proxy::classify_first_head(bytes, 8192, 64) {
        assert!(head_len <= bytes.len());
        let _ = breakout_edge::proxy::request::check(&req, "fuzz-edge");
    }
    let verdict = breakout_edge::proxy::framing::Verdict::default();
    let mut framer = breakout_edge::proxy::framing::Framer::new(8192, 64);
    let chunk = usize::from(split % 64) + 1;
    let mut pending: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut fed = 0usize;
    let mut emitted_after_refusal = None;
    for piece in bytes.chunks(chunk) {
        if framer.refused() && emitted_after_refusal.is_none() {
            emitted_after_refusal = Some(out.len());
        }
        // As `Guarded` does: bodies of known length and tunnels may skip the framer.
        if pending.is_empty() && split & 0x80 != 0 {
            if let Some(limit) = framer.direct_limit() {
                let n = (piece.len() as u64).min(limit) as usize;
                out.extend_from_slice(&piece[..n]);
                framer.passed_directly(n);
                pending.extend_from_slice(&piece[n..]);
                fed += piece.len();
                continue;
            }
        }
        pending.extend_from_slice(piece);
        fed += piece.len();
        while !pending.is_empty() {
            let used = framer.process(&pending, &mut out, &verdict);
            assert!(used <= pending.len(), "consumed more than given");
            if used == 0 {
                break;
            }
            pending.drain(..used);
        }
    }
    assert!(
        out.len() <= fed + 4096,
        "emitted far more than it was given"
    );
    if let Some(at) = emitted_after_refusal {
        assert_eq!(out.len(), at, "bytes reached hyper after a refused head");
    }
    // Every head that reached hyper parses; the request checks take whatever it says.
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    if let Ok(httparse::Status::Complete(_)) = req.parse(&out) {
        if let (Some(method), Some(path)) = (req.method, req.path) {
            let mut b = http::Request::builder().method(method).uri(path);
            for h in req.headers.iter() {
                b = b.header(h.name, h.value);
            }
            if let Ok(r) = b.body(()) {
                let _ = breakout_edge::proxy::request::check(&r, "fuzz-edge");
            }
        }
    }
}

/// The one host canonicaliser: canonical form is a fixed point, lowercase, without a trailing
/// dot, and a name's canonical form compiles as an exact destination.
pub fn host_canon(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(host) = canonical_host(raw) else {
        return;
    };
    let once = host.to_string();
    let again = canonical_host(&once)
        .unwrap_or_else(|e| panic!("canonical {once:?} (from {raw:?}) refused: {e}"));
    assert_eq!(again.to_string(), once, "not a fixed point (from {raw:?})");
    if let Host::Name(name) = &host {
        assert!(!name.ends_with('.'), "{name:?}");
        assert!(!name.chars().any(|c| c.is_ascii_uppercase()), "{name:?}");
        let d: Result<breakout_policy::Destination, _> = name.parse();
        assert!(d.is_ok(), "canonical name {name:?} is not a destination");
    }
}

/// A region policy as JSON: whatever `validate` accepts, every tenant's matcher compiles, and
/// `decide` and `explain` agree on hosts taken from the input.
pub fn matcher(data: &[u8]) {
    let Ok(policy) = serde_json::from_slice::<RegionPolicy>(data) else {
        return;
    };
    if breakout_policy::validate::validate(&policy).is_err() {
        return;
    }
    for tenant in &policy.tenants {
        let m = Matcher::compile(tenant, &policy.lists)
            .unwrap_or_else(|e| panic!("validated tenant {:?} did not compile: {e}", tenant.id));
        check_decisions(&m, tenant);
    }
}

fn check_decisions(m: &Matcher, tenant: &Tenant) {
    let probes = tenant
        .rules
        .iter()
        .flat_map(|r| r.destinations.iter().map(|d| d.to_string()))
        .chain(["example.com".to_string(), "10.1.2.3".to_string()])
        .map(|d| d.trim_start_matches("*.").replace('*', "x"));
    for probe in probes.take(64) {
        let Ok(host) = canonical_host(&probe) else {
            continue;
        };
        for port in [80, 443] {
            let decided = m.decide(&host, port).action.clone();
            let explained = m.explain(&probe, port).expect("canonicalised once already");
            assert_eq!(decided, explained.action, "{probe}:{port}");
        }
    }
}

/// What every vendor list adapter must give: content the subscription compiler turns into
/// lists that compile for an edge (a template can never make a policy an edge refuses).
fn subscribed_compiles(
    item: TemplateItem,
    content: &breakout_control::templates::model::TemplateContent,
) {
    let sub: select::Subscription =
        serde_json::from_str(r#"{"action": "direct"}"#).expect("a minimal subscription");
    let compiled = select::compile(item, &sub, content, &Action::Block);
    let tenant = Tenant {
        id: "fuzz".into(),
        region: None,
        source_cidrs: Vec::new(),
        session_limit: 1,
        upstreams: BTreeMap::new(),
        rules: compiled.rules,
        default_action: Action::Block,
        lists: compiled.lists.into_iter().collect(),
        egress_address: None,
        pac: None,
    };
    if let Err(e) = Matcher::compile(&tenant, &BTreeMap::new()) {
        panic!("a {item} template compiled to lists an edge refuses: {e}");
    }
    let again = breakout_control::templates::model::TemplateContent::new(
        content.item,
        content.source_version.clone(),
        content.sets.clone(),
    );
    assert_eq!(&again, content, "normalising twice changed the content");
}

/// Microsoft's endpoint list (`/endpoints/{instance}`), through both readers of it.
pub fn m365_list(data: &[u8]) {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(sets) = breakout_policy::m365::parse(json) {
        let _ = breakout_policy::m365::lists(&sets);
    }
    if let Ok(content) = m365::template(json, "2025010100") {
        subscribed_compiles(TemplateItem::Microsoft365, &content);
    }
    if let Ok(content) = expressroute::template(json, "2025010100", &[]) {
        subscribed_compiles(TemplateItem::AzureExpressroute, &content);
    }
}

/// goog.json, cloud.json and the curated host list, separated by NUL bytes.
pub fn google_list(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\0');
    let goog = parts.next().unwrap_or_default();
    let cloud = parts
        .next()
        .unwrap_or(r#"{"syncToken": "1", "prefixes": []}"#);
    let hosts = parts
        .next()
        .unwrap_or(r#"{"version": "1", "groups": {"Gmail": ["mail.google.com"]}}"#);
    let _ = google::parse_ranges("goog.json", goog);
    if let Ok(content) = google::template(goog, cloud, hosts) {
        subscribed_compiles(TemplateItem::GoogleWorkspace, &content);
    }
}

/// An Azure Service Tags file.
pub fn service_tags(data: &[u8]) {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    let _ = expressroute::service_tag_sets(json);
    let m365 = r#"[{"id": 1, "serviceArea": "Exchange", "urls": ["outlook.office.com"],
        "tcpPorts": "443", "expressRoute": true, "category": "Optimize", "required": true}]"#;
    if let Ok(content) = expressroute::template(m365, "2025010100", &[json]) {
        subscribed_compiles(TemplateItem::AzureExpressroute, &content);
    }
}

/// The edge's TOML file: what `parse` accepts compiles into a matcher per tenant, and the
/// settings-only reading (control-plane mode) never panics either.
pub fn edge_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = breakout_edge::config::EdgeConfig::parse_settings(text, "test");
    let Ok(config) = breakout_edge::config::EdgeConfig::parse(text) else {
        return;
    };
    for tenant in &config.policy.tenants {
        let m = Matcher::compile(tenant, &config.policy.lists)
            .unwrap_or_else(|e| panic!("accepted config, tenant {:?} refused: {e}", tenant.id));
        check_decisions(&m, tenant);
    }
}

/// The control stream: frames decoded from chunks the input chooses; each decoded frame
/// encodes and decodes back to itself; a decoded update applies to an empty policy without
/// panicking.
pub fn wire_frames(data: &[u8]) {
    let Some((&split, bytes)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(split) + 1;
    let mut decoder = FrameDecoder::new(64 * 1024);
    'feed: for piece in bytes.chunks(chunk) {
        decoder.push(piece);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => roundtrip(&frame),
                Ok(None) => break,
                Err(_) => break 'feed,
            }
        }
    }
    let _ = decoder.finish();
}

fn roundtrip(frame: &Frame) {
    let bytes = wire::encode(frame, usize::MAX).expect("a decoded frame encodes");
    let (back, used) = wire::decode(&bytes, usize::MAX)
        .expect("an encoded frame decodes")
        .expect("whole");
    assert_eq!(used, bytes.len());
    assert_eq!(&back, frame, "a frame changed through encode/decode");
    if let Frame::Update(u) = frame {
        let empty = RegionPolicy::default();
        let _ = delta::apply(&empty, &u.changes);
    }
}

pub use api::api_json;

/// The management API's JSON bodies, through the real router over an in-memory store.
mod api {
    use std::sync::{Arc, Mutex, OnceLock};

    use axum::body::Body;
    use breakout_control::api::{self, ApiContext};
    use breakout_control::store::memory::MemoryStore;
    use breakout_control::store::NodeAddr;
    use http::{Method, Request};
    use tower::ServiceExt;

    const ADMIN: &str = "fuzz-admin-token";

    struct World {
        router: axum::Router,
        tenant_token: String,
        runs: u32,
    }

    fn runtime() -> &'static tokio::runtime::Runtime {
        static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
        RT.get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
        })
    }

    /// Routes whose handlers call other machines (joining nodes, peers, vendors): not here.
    fn calls_out(method: &Method, path: &str) -> bool {
        path.starts_with("/v1/cluster/nodes")
            || path == "/v1/edges"
            || (method == Method::POST && path == "/v1/templates/sync")
    }

    async fn send(router: &axum::Router, req: Request<Body>) -> (u16, Vec<u8>) {
        let resp = router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status().as_u16();
        let body = axum::body::to_bytes(resp.into_body(), 64 << 20)
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        (status, body)
    }

    fn request(method: Method, path: &str, token: Option<&str>, body: Vec<u8>) -> Request<Body> {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json");
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        b.body(Body::from(body)).expect("request")
    }

    async fn world() -> World {
        let addr = NodeAddr {
            api: "127.0.0.1:9".into(),
            raft: "127.0.0.1:9".into(),
        };
        let store = MemoryStore::new(1, addr.clone());
        let ctx = ApiContext::new(store, 1, addr, ADMIN, prometheus::Registry::new())
            .expect("api context");
        let router = api::router(Arc::new(ctx));
        let setup: [(&str, &str); 3] = [
            ("/v1/regions", r#"{"name": "tokyo"}"#),
            (
                "/v1/tenants",
                r#"{"id": "acme", "region": "tokyo", "source_cidrs": ["192.0.2.0/24"],
                    "session_limit": 10, "default_action": "block"}"#,
            ),
            ("/v1/tokens", r#"{"tenant": "acme"}"#),
        ];
        let mut tenant_token = String::new();
        for (path, body) in setup {
            let req = request(Method::POST, path, Some(ADMIN), body.as_bytes().to_vec());
            let (status, answer) = send(&router, req).await;
            assert_eq!(status, 201, "setting up {path}");
            if path == "/v1/tokens" {
                let v: serde_json::Value = serde_json::from_slice(&answer).expect("json");
                tenant_token = v["token"].as_str().expect("token").to_string();
            }
        }
        World {
            router,
            tenant_token,
            runs: 0,
        }
    }

    /// Byte 0 picks the route, byte 1 the caller (operator, tenant, none), the rest is the body.
    /// No input makes the server fail (5xx other than `no_leader`), and every refusal is the JSON
    /// error shape.
    pub fn api_json(data: &[u8]) {
        let [route, who, body @ ..] = data else {
            return;
        };
        let routes: Vec<_> = api::routes()
            .into_iter()
            .filter(|(m, p)| !calls_out(m, p))
            .collect();
        let (method, template) = routes[usize::from(*route) % routes.len()].clone();
        let path = template
            .replace("{id}", "acme")
            .replace("{name}", "l1")
            .replace("{item}", "microsoft365")
            .replace("{kind}", "pac")
            .replace("{cid}", "1")
            .replace("{wid}", "1");
        static WORLD: Mutex<Option<World>> = Mutex::new(None);
        let mut guard = WORLD.lock().unwrap_or_else(|e| e.into_inner());
        runtime().block_on(async {
            // A fresh store now and then: state only grows within one.
            if guard.as_ref().is_none_or(|w| w.runs >= 2000) {
                *guard = Some(world().await);
            }
            let w = guard.as_mut().expect("set above");
            w.runs += 1;
            let token = match who % 3 {
                0 => Some(ADMIN),
                1 => Some(w.tenant_token.as_str()),
                _ => None,
            };
            let req = request(method.clone(), &path, token, body.to_vec());
            let (status, answer) = send(&w.router, req).await;
            // 503 `no_leader` is an answer (a node without session leases says so), not a fault.
            let no_leader = status == 503 && answer.windows(11).any(|w| w == b"\"no_leader\"");
            assert!(
                status < 500 || no_leader,
                "{method} {path} answered {status}: {}",
                String::from_utf8_lossy(&answer)
            );
            if status >= 400 {
                let v: serde_json::Value = serde_json::from_slice(&answer)
                    .unwrap_or_else(|e| panic!("{method} {path} {status}: not JSON ({e})"));
                assert!(
                    v["error"]["code"].is_string() && v["error"]["message"].is_string(),
                    "{method} {path} {status}: {v}"
                );
            }
        });
    }
}
