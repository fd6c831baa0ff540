//! Fixtures for the API tests: the real router over a [`MemoryStore`], served on 127.0.0.1:0,
//! and a reqwest client.
#![allow(dead_code)]

use std::sync::Arc;

use breakout_control::api::{self, ApiContext};
use breakout_control::store::memory::MemoryStore;
use breakout_control::store::NodeAddr;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};
use tokio::net::TcpListener;

pub const ADMIN: &str = "test-admin-token";

/// One API node in this process.
pub struct TestApi {
    pub base: String,
    /// `http://` + the metrics listener's address.
    pub metrics_base: String,
    pub addr: String,
    pub store: Arc<MemoryStore>,
    pub http: reqwest::Client,
}

impl TestApi {
    /// A node with id 1 leading a one-node cluster.
    pub async fn start() -> Self {
        Self::start_node(1).await
    }

    pub async fn start_node(node_id: u64) -> Self {
        Self::start_with(node_id, false).await
    }

    /// A node leading a one-node cluster, serving the API and the console (`/ui`), as the
    /// binary does.
    #[allow(dead_code)]
    pub async fn start_console() -> Self {
        Self::start_with(1, true).await
    }

    /// [`TestApi::start_console`] with another node id (leading itself until `set_leader`).
    #[allow(dead_code)]
    pub async fn start_console_node(node_id: u64) -> Self {
        Self::start_with(node_id, true).await
    }

    async fn start_with(node_id: u64, console: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr").to_string();
        let node_addr = NodeAddr {
            api: addr.clone(),
            raft: format!("raft-of-{node_id}:1"),
        };
        let store = MemoryStore::new(node_id, node_addr.clone());
        let ctx = ApiContext::new(
            store.clone(),
            node_id,
            node_addr,
            ADMIN,
            prometheus::Registry::new(),
        )
        .expect("api context");
        let ctx = Arc::new(ctx);
        let metrics = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let metrics_base = format!("http://{}", metrics.local_addr().expect("local addr"));
        let metrics_router = breakout_control::api::metrics::listener_router(Arc::clone(&ctx));
        tokio::spawn(async move { axum::serve(metrics, metrics_router).await });
        let router = if console {
            breakout_control::console::app(ctx)
        } else {
            api::router(ctx)
        };
        tokio::spawn(async move { axum::serve(listener, router).await });
        let http = breakout_control::http_client::builder()
            .no_proxy()
            .build()
            .expect("client");
        TestApi {
            base: format!("http://{addr}"),
            metrics_base,
            addr,
            store,
            http,
        }
    }

    /// `GET /metrics` on the metrics listener.
    pub async fn scrape(&self) -> String {
        let resp = send(self.http.get(format!("{}/metrics", self.metrics_base))).await;
        assert_eq!(resp.status(), 200);
        resp.text().await.expect("metrics body")
    }

    /// A request with no credentials.
    pub fn anon(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// A request as `token`.
    pub fn with(&self, token: &str, method: Method, path: &str) -> RequestBuilder {
        self.anon(method, path).bearer_auth(token)
    }

    /// A request as the operator.
    pub fn op(&self, method: Method, path: &str) -> RequestBuilder {
        self.with(ADMIN, method, path)
    }

    /// Creates region `name` as the operator.
    pub async fn region(&self, name: &str) -> u64 {
        let resp = send(
            self.op(Method::POST, "/v1/regions")
                .json(&json!({ "name": name })),
        )
        .await;
        expect_version(resp, 201).await
    }

    /// Creates a minimal tenant `id` in `region` (which must exist).
    pub async fn tenant(&self, id: &str, region: &str, cidr: &str) -> u64 {
        let resp = send(
            self.op(Method::POST, "/v1/tenants")
                .json(&tenant_json(id, region, cidr)),
        );
        expect_version(resp.await, 201).await
    }

    /// Creates a token for `tenant`; the `bk_…` secret.
    pub async fn token(&self, tenant: &str) -> String {
        let resp = send(
            self.op(Method::POST, "/v1/tokens")
                .json(&json!({ "tenant": tenant })),
        );
        let (status, body) = status_json(resp.await).await;
        assert_eq!(status, 201, "creating a token: {body}");
        body["token"].as_str().expect("token in answer").to_string()
    }
}

/// A tenant body as `POST /v1/tenants` takes it.
pub fn tenant_json(id: &str, region: &str, cidr: &str) -> Value {
    json!({
        "id": id,
        "region": region,
        "source_cidrs": [cidr],
        "session_limit": 100,
        "rules": [{ "action": "direct", "destinations": ["*.example.com"] }],
        "default_action": "block",
    })
}

pub async fn send(req: RequestBuilder) -> Response {
    req.send().await.expect("request sent")
}

/// Status and JSON body (panics if the body is not JSON: every answer of the API is).
pub async fn status_json(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, body)
}

/// Asserts `status` and the error shape `{"error": {"code", "message"}}` with `code`; the
/// message.
pub async fn expect_error(resp: Response, status: u16, code: &str) -> String {
    let (got, body) = status_json(resp).await;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"]
        .as_str()
        .expect("message is a string");
    assert!(!message.is_empty(), "{body}");
    assert_eq!(
        body.as_object().map(|o| o.len()),
        Some(1),
        "only `error`: {body}"
    );
    message.to_string()
}

/// Asserts `status`, that the body's `version` equals `X-Breakout-Version`; the version.
pub async fn expect_version(resp: Response, status: u16) -> u64 {
    let header = resp
        .headers()
        .get("x-breakout-version")
        .map(|v| v.to_str().expect("ascii").to_string());
    let (got, body) = status_json(resp).await;
    assert_eq!(got, status, "{body}");
    let version = body["version"].as_u64().expect("version in body");
    assert_eq!(
        header,
        Some(version.to_string()),
        "header and body disagree: {body}"
    );
    version
}

/// A port that refuses connections: bound and never listening, so no other test can take it
/// while the socket lives.
pub fn closed_port() -> (socket2::Socket, std::net::SocketAddr) {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    socket.bind(&any.into()).expect("bind");
    let addr = socket.local_addr().ok().and_then(|a| a.as_socket());
    (socket, addr.expect("addr"))
}
