//! `breakoutctl`'s client against a server that answers 503 `no_leader` first (issue 13, item
//! 2): the write is retried with the same `Idempotency-Key`, each write of an invocation has
//! its own key, and reads carry none.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use breakout_control::cli::client::{Call, Client};
use serde_json::json;
use tokio::net::TcpListener;

/// Every request the fake server got: method and `Idempotency-Key`.
type Seen = Arc<Mutex<Vec<(Method, Option<String>)>>>;

/// Answers every other request 503 `no_leader` (`Retry-After: 0`), starting with the first.
async fn flaky(State(seen): State<Seen>, method: Method, headers: HeaderMap) -> impl IntoResponse {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let n = {
        let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.push((method, key));
        seen.len()
    };
    if n % 2 == 1 {
        let body = json!({ "error": { "code": "no_leader", "message": "no leader" } });
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", "0")],
            axum::Json(body),
        )
            .into_response();
    }
    axum::Json(json!({ "version": n })).into_response()
}

async fn server() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new().fallback(flaky).with_state(Arc::clone(&seen));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test]
async fn a_write_answered_no_leader_is_retried_with_the_same_key() {
    let (url, seen) = server().await;
    let client = Client::new(&url, Some("t".into())).expect("client");
    let answer = client
        .send(Call::post(&["v1", "regions"], json!({ "name": "tokyo" })))
        .await
        .expect("the retry succeeds");
    assert_eq!(answer["version"], 2);
    client
        .send(Call::delete(&["v1", "regions", "tokyo"]))
        .await
        .expect("the second write's retry succeeds");
    client
        .send(Call::get(&["v1", "regions"]))
        .await
        .expect("the read's retry succeeds");

    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let keys: Vec<Option<String>> = seen.iter().map(|(_, k)| k.clone()).collect();
    assert_eq!(keys.len(), 6, "{seen:?}");
    let first = keys[0].clone().expect("a write carries a key");
    assert_eq!(
        keys[1].as_deref(),
        Some(first.as_str()),
        "its retry repeats it"
    );
    let second = keys[2].clone().expect("a write carries a key");
    assert_ne!(first, second, "each write has its own key");
    assert_eq!(keys[3].as_deref(), Some(second.as_str()));
    assert_eq!(keys[4], None, "reads carry no key");
    assert_eq!(keys[5], None);
}
