//! The HTTP side of `breakoutctl`: one request to the API, its error envelope, redirects and
//! retries.
//!
//! Redirects are followed here rather than by reqwest, because reqwest drops `Authorization`
//! when a redirect leaves the host and port, and a follower sends writes to the leader, which is
//! always another address. Every write carries an `Idempotency-Key` (one per write of the
//! invocation) that its retries repeat; when to retry is [`super::retry`].

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::{header, Method, StatusCode, Url};
use serde_json::Value;

use super::error::CliError;
use super::retry::{Attempt, Next, Retry};

/// Every request (connect, send, answer) must finish within this.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Redirects followed before giving up (a leader change mid-request can bounce once or twice).
const MAX_REDIRECTS: usize = 5;

/// A connection to a control-plane API: one or more of its nodes.
pub struct Client {
    http: reqwest::Client,
    servers: Vec<Url>,
    /// The server calls go to (moves on when one stops answering).
    current: AtomicUsize,
    token: Option<String>,
    /// Random per invocation: the prefix of its writes' idempotency keys.
    invocation: String,
    writes: AtomicU64,
}

/// One API call: method, path segments (each percent-encoded), query, body, `If-Match`.
pub struct Call {
    method: Method,
    path: Vec<String>,
    query: Vec<(String, String)>,
    body: Option<Value>,
    if_match: Option<u64>,
}

impl Call {
    fn new(method: Method, path: &[&str]) -> Self {
        Call {
            method,
            path: path.iter().map(|s| s.to_string()).collect(),
            query: Vec::new(),
            body: None,
            if_match: None,
        }
    }

    pub fn get(path: &[&str]) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn post(path: &[&str], body: Value) -> Self {
        Self::new(Method::POST, path).body(body)
    }

    pub fn put(path: &[&str], body: Value) -> Self {
        Self::new(Method::PUT, path).body(body)
    }

    pub fn patch(path: &[&str], body: Value) -> Self {
        Self::new(Method::PATCH, path).body(body)
    }

    pub fn delete(path: &[&str]) -> Self {
        Self::new(Method::DELETE, path)
    }

    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Adds `key=value` to the query when `value` is set.
    pub fn query(mut self, key: &str, value: Option<impl ToString>) -> Self {
        if let Some(v) = value {
            self.query.push((key.to_string(), v.to_string()));
        }
        self
    }

    pub fn if_match(mut self, version: Option<u64>) -> Self {
        self.if_match = version;
        self
    }

    /// Sets `If-Match` unless the call already has one.
    pub fn if_match_or(self, version: u64) -> Self {
        let v = self.if_match.unwrap_or(version);
        self.if_match(Some(v))
    }
}

impl Client {
    /// `server` is the API's base URL (`http://host:port`), or several separated by commas
    /// (nodes of one cluster, tried in turn when one does not answer).
    pub fn new(server: &str, token: Option<String>) -> Result<Self, CliError> {
        let servers = server
            .split(',')
            .map(|one| {
                Url::parse(one.trim())
                    .ok()
                    .filter(|u| u.scheme() == "http" && u.has_host())
                    .ok_or_else(|| {
                        // Built without TLS: the API is reached over the cluster network or a
                        // tunnel.
                        CliError::Usage(format!("--server {one:?} is not an http://host:port URL"))
                    })
            })
            .collect::<Result<Vec<Url>, CliError>>()?;
        let http = crate::http_client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| CliError::Other(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Client {
            http,
            servers,
            current: AtomicUsize::new(0),
            token,
            invocation: crate::crypto::hex(&rand::random::<[u8; 16]>()),
            writes: AtomicU64::new(0),
        })
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// The URL of `call`, relative to the current server's base.
    pub fn url(&self, call: &Call) -> Url {
        self.url_on(self.current.load(Ordering::Relaxed), call)
    }

    fn url_on(&self, server: usize, call: &Call) -> Url {
        let mut url = self.servers[server % self.servers.len()].clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty();
            for s in &call.path {
                segments.push(s);
            }
        }
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&call.query);
        }
        url
    }

    /// Sends `call` and returns the answer's JSON (`null` for an empty body).
    pub async fn send(&self, call: Call) -> Result<Value, CliError> {
        let (status, text) = self.exchange(&call).await?;
        answer(status, &text)
    }

    /// Sends `call` and returns a successful answer's body as text (for answers that are not
    /// JSON, such as the endpoint exports); an error answer is still read as the API's JSON.
    pub async fn send_text(&self, call: Call) -> Result<String, CliError> {
        let (status, text) = self.exchange(&call).await?;
        if status.is_success() {
            return Ok(text);
        }
        answer(status, &text).map(|_| text)
    }

    /// Sends `call` until it is answered or [`super::retry`] says to stop; the final status
    /// and body. A write's retries carry the same `Idempotency-Key`.
    async fn exchange(&self, call: &Call) -> Result<(StatusCode, String), CliError> {
        let key = (call.method != Method::GET).then(|| {
            let n = self.writes.fetch_add(1, Ordering::Relaxed);
            format!("{}-{n}", self.invocation)
        });
        let start = self.current.load(Ordering::Relaxed);
        let mut retry = Retry::new(Instant::now(), self.servers.len(), start);
        loop {
            let got = self.attempt(call, key.as_deref(), retry.server()).await;
            let attempt = match &got {
                Ok((status, _, retry_after)) => Attempt::Answered {
                    unavailable: *status == StatusCode::SERVICE_UNAVAILABLE,
                    retry_after: *retry_after,
                },
                Err(Failed::NotConnected(_)) => Attempt::NotConnected,
                Err(Failed::Lost(_)) => Attempt::Lost,
                Err(Failed::Other(_)) => return got.map(|(s, t, _)| (s, t)).map_err(Failed::into),
            };
            match retry.next(attempt, Instant::now()) {
                Next::Stop => return got.map(|(s, t, _)| (s, t)).map_err(Failed::into),
                Next::Retry { wait, server } => {
                    self.current.store(server, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// One attempt of `call` on server `server`, following the leader's redirects: the
    /// status, body and `Retry-After`.
    async fn attempt(
        &self,
        call: &Call,
        key: Option<&str>,
        server: usize,
    ) -> Result<(StatusCode, String, Option<Duration>), Failed> {
        let mut url = self.url_on(server, call);
        for _ in 0..=MAX_REDIRECTS {
            let mut req = self.http.request(call.method.clone(), url.clone());
            if let Some(token) = &self.token {
                req = req.bearer_auth(token);
            }
            if let Some(v) = call.if_match {
                req = req.header(header::IF_MATCH, format!("\"{v}\""));
            }
            if let Some(key) = key {
                req = req.header("idempotency-key", key);
            }
            if let Some(body) = &call.body {
                req = req.json(body);
            }
            let resp = req.send().await.map_err(|e| self.failed(&url, &e))?;
            let status = resp.status();
            if matches!(
                status,
                StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
            ) {
                url = redirect_target(&url, resp.headers()).map_err(Failed::Other)?;
                continue;
            }
            let retry_after = resp
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()?.trim().parse().ok())
                .map(Duration::from_secs);
            let text = resp.text().await.map_err(|e| self.failed(&url, &e))?;
            return Ok((status, text, retry_after));
        }
        Err(Failed::Other(CliError::Other(format!(
            "more than {MAX_REDIRECTS} redirects, last to {url}"
        ))))
    }

    /// A failed send, by whether the request may have reached the server.
    fn failed(&self, url: &Url, e: &reqwest::Error) -> Failed {
        let err = self.unreachable(url, e);
        if e.is_connect() {
            Failed::NotConnected(err)
        } else {
            Failed::Lost(err)
        }
    }

    fn unreachable(&self, url: &Url, e: &reqwest::Error) -> CliError {
        let reason = if e.is_timeout() {
            format!("no answer within {} s", TIMEOUT.as_secs())
        } else {
            root_cause(e)
        };
        let server = url.origin().ascii_serialization();
        CliError::Connect { server, reason }
    }
}

/// Why an attempt got no answer.
enum Failed {
    /// No connection was made.
    NotConnected(CliError),
    /// Sent (perhaps), not answered.
    Lost(CliError),
    Other(CliError),
}

impl From<Failed> for CliError {
    fn from(f: Failed) -> Self {
        match f {
            Failed::NotConnected(e) | Failed::Lost(e) | Failed::Other(e) => e,
        }
    }
}

/// Where a 307/308 points, resolved against the URL that answered it.
fn redirect_target(from: &Url, headers: &header::HeaderMap) -> Result<Url, CliError> {
    let location = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| CliError::Other(format!("{from} redirected without a Location")))?;
    from.join(location)
        .map_err(|e| CliError::Other(format!("{from} redirected to {location:?}: {e}")))
}

/// A successful answer's JSON, or the API error it carries.
pub fn answer(status: StatusCode, text: &str) -> Result<Value, CliError> {
    let body: Option<Value> = serde_json::from_str(text).ok();
    if status.is_success() {
        return match body {
            Some(v) => Ok(v),
            None if text.trim().is_empty() => Ok(Value::Null),
            None => Err(CliError::Other(format!(
                "the server answered {status} with non-JSON"
            ))),
        };
    }
    let error = body.as_ref().and_then(|b| b.get("error"));
    let code = error.and_then(|e| e.get("code")).and_then(Value::as_str);
    let message = error.and_then(|e| e.get("message")).and_then(Value::as_str);
    match (code, message) {
        (Some(code), Some(message)) => Err(CliError::Api {
            code: code.to_string(),
            message: message.to_string(),
        }),
        _ => {
            let excerpt: String = text.trim().chars().take(200).collect();
            let message = if excerpt.is_empty() {
                status.to_string()
            } else {
                excerpt
            };
            Err(CliError::Api {
                code: format!("http_{}", status.as_u16()),
                message,
            })
        }
    }
}

/// The innermost cause (`Connection refused (os error 111)`) rather than reqwest's outer wrapper.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn client(server: &str) -> Client {
        Client::new(server, None).unwrap()
    }

    #[test]
    fn path_segments_are_encoded_and_joined_to_the_base() {
        let c = client("http://127.0.0.1:7070/");
        let url = c.url(&Call::get(&["v1", "tenants", "a b/c", "lists"]));
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:7070/v1/tenants/a%20b%2Fc/lists"
        );
        let call = Call::get(&["v1", "audit"])
            .query("since", Some(5))
            .query("limit", None::<u32>);
        assert_eq!(
            c.url(&call).as_str(),
            "http://127.0.0.1:7070/v1/audit?since=5"
        );
    }

    #[test]
    fn server_must_be_an_http_url() {
        for bad in ["127.0.0.1:7070", "https://x", "not a url"] {
            assert!(
                matches!(Client::new(bad, None), Err(CliError::Usage(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn api_error_envelope_becomes_code_and_message() {
        let body = json!({"error": {"code": "conflict", "message": "region tokyo already exists"}});
        let err = answer(StatusCode::CONFLICT, &body.to_string()).unwrap_err();
        assert_eq!(err.to_string(), "conflict: region tokyo already exists");
        assert_eq!(err.exit_code(), 1);
    }

    #[test]
    fn non_json_error_keeps_the_status_and_an_excerpt() {
        let err = answer(StatusCode::NOT_FOUND, "no such route\n").unwrap_err();
        assert_eq!(err.to_string(), "http_404: no such route");
        let err = answer(StatusCode::BAD_GATEWAY, "").unwrap_err();
        assert_eq!(err.to_string(), "http_502: 502 Bad Gateway");
    }

    #[test]
    fn empty_success_is_null() {
        assert_eq!(answer(StatusCode::NO_CONTENT, "").unwrap(), Value::Null);
        assert_eq!(
            answer(StatusCode::OK, r#"{"version":3}"#).unwrap(),
            json!({"version": 3})
        );
    }

    #[test]
    fn relative_redirects_resolve_against_the_answering_node() {
        let from = Url::parse("http://10.0.0.2:7070/v1/regions").unwrap();
        let mut h = header::HeaderMap::new();
        h.insert(
            header::LOCATION,
            "http://10.0.0.1:7070/v1/regions".parse().unwrap(),
        );
        assert_eq!(
            redirect_target(&from, &h).unwrap().as_str(),
            "http://10.0.0.1:7070/v1/regions"
        );
        h.insert(header::LOCATION, "/v1/regions/x".parse().unwrap());
        assert_eq!(
            redirect_target(&from, &h).unwrap().as_str(),
            "http://10.0.0.2:7070/v1/regions/x"
        );
    }

    /// Answers one HTTP request on `listener` with `response`; returns the request as received.
    async fn serve_once(listener: tokio::net::TcpListener, response: String) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = conn.read(&mut buf).await.unwrap();
            req.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&req).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let len = text
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if req.len() >= end + 4 + len || n == 0 {
                    break;
                }
            }
        }
        conn.write_all(response.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&req).to_string()
    }

    #[tokio::test]
    async fn writes_follow_a_redirect_to_another_node_with_token_and_body() {
        let follower = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let leader = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let leader_url = format!("http://{}", leader.local_addr().unwrap());
        let redirect = format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: {leader_url}/v1/regions\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let ok = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n\
                  Content-Length: 13\r\nConnection: close\r\n\r\n{\"version\":7}";
        let server = format!("http://{}", follower.local_addr().unwrap());
        let at_follower = tokio::spawn(serve_once(follower, redirect));
        let at_leader = tokio::spawn(serve_once(leader, ok.to_string()));

        let c = Client::new(&server, Some("s3cret".into())).unwrap();
        let answer = c
            .send(Call::post(&["v1", "regions"], json!({"name": "kyoto"})))
            .await;
        assert_eq!(answer.unwrap(), json!({"version": 7}));

        at_follower.await.unwrap();
        let req = at_leader.await.unwrap();
        assert!(req.starts_with("POST /v1/regions HTTP/1.1\r\n"), "{req}");
        assert!(
            req.to_ascii_lowercase()
                .contains("authorization: bearer s3cret\r\n"),
            "{req}"
        );
        assert!(req.ends_with(r#"{"name":"kyoto"}"#), "{req}");
    }

    #[tokio::test]
    async fn unreachable_server_is_a_connection_error_naming_it() {
        // Bind and drop to get a port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = client(&format!("http://127.0.0.1:{port}"));
        let err = c.send(Call::get(&["v1", "regions"])).await.unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err
            .to_string()
            .starts_with(&format!("cannot reach http://127.0.0.1:{port}: ")));
    }
}
