//! The vendors' list services as the dev deployment's poller sees them: the snapshots shipped
//! in `deploy/lists/`, served on loopback under the same paths as Microsoft's web service and
//! Google's files, so `template list/show/diff` have versions from the first start.
//!
//! A file of the same name in `<dir>/vendor-lists/` is served instead of the shipped one, read
//! at each request: put a changed (or shrunk) list there and run `breakoutctl template sync`
//! to see a new version (or a quarantine). Microsoft's version string is derived from the
//! served content, so a changed file is a new vendor version.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{Path as UrlPath, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{header, StatusCode};

use crate::templates::snapshot;

/// The file names (as in `deploy/lists/`) and their shipped contents.
pub const M365_FILE: &str = "m365-worldwide-endpoints.json";
const GOOG_FILE: &str = "google-goog.json";
const CLOUD_FILE: &str = "google-cloud.json";

/// The directory under the dev data dir whose files replace the shipped snapshots.
pub fn override_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("vendor-lists")
}

/// The file `name`: from `dir` when there, else the shipped snapshot.
fn served(dir: &Path, name: &str) -> String {
    if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
        return text;
    }
    match name {
        M365_FILE => snapshot::M365_WORLDWIDE,
        GOOG_FILE => snapshot::GOOGLE_GOOG,
        _ => snapshot::GOOGLE_CLOUD,
    }
    .to_string()
}

/// Microsoft's `/version/{instance}` answer for `body`: a `YYYYMMDDNN`-like string of digits
/// taken from the content's hash (a different file, a different version).
pub fn m365_version(body: &str) -> String {
    let hash = crate::crypto::sha256(body.as_bytes());
    let n = u64::from_be_bytes([
        hash[0], hash[1], hash[2], hash[3], hash[4], hash[5], hash[6], hash[7],
    ]);
    format!("{:010}", n % 10_000_000_000)
}

/// The poller flags that point it at `addr`.
pub fn poller_flags(addr: SocketAddr) -> Vec<std::ffi::OsString> {
    [
        "--template-poll".to_string(),
        "--template-m365-url".to_string(),
        format!("http://{addr}"),
        "--template-goog-url".to_string(),
        format!("http://{addr}/goog.json"),
        "--template-cloud-url".to_string(),
        format!("http://{addr}/cloud.json"),
    ]
    .into_iter()
    .map(Into::into)
    .collect()
}

type Dir = State<Arc<PathBuf>>;

/// Binds 127.0.0.1 (any port) and serves until the process ends; the bound address.
pub async fn start(data_dir: &Path) -> anyhow::Result<SocketAddr> {
    let dir = Arc::new(override_dir(data_dir));
    std::fs::create_dir_all(dir.as_path())
        .with_context(|| format!("creating {}", dir.display()))?;
    let app = Router::new()
        .route("/version/{instance}", get(version))
        .route("/endpoints/{instance}", get(endpoints))
        .route("/goog.json", get(goog))
        .route("/cloud.json", get(cloud))
        .with_state(dir);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the dev vendor-list server")?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "the dev vendor-list server stopped");
        }
    });
    Ok(addr)
}

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Only the Worldwide instance is shipped.
fn worldwide(instance: &str) -> bool {
    instance.eq_ignore_ascii_case("worldwide")
}

fn not_shipped() -> Response {
    (StatusCode::NOT_FOUND, "only Worldwide is shipped").into_response()
}

async fn version(State(dir): Dir, UrlPath(instance): UrlPath<String>) -> Response {
    if !worldwide(&instance) {
        return not_shipped();
    }
    let latest = m365_version(&served(&dir, M365_FILE));
    json(serde_json::json!({ "instance": "Worldwide", "latest": latest }).to_string())
}

async fn endpoints(State(dir): Dir, UrlPath(instance): UrlPath<String>) -> Response {
    if !worldwide(&instance) {
        return not_shipped();
    }
    json(served(&dir, M365_FILE))
}

async fn goog(State(dir): Dir) -> Response {
    json(served(&dir, GOOG_FILE))
}

async fn cloud(State(dir): Dir) -> Response {
    json(served(&dir, CLOUD_FILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_follows_the_content() {
        let shipped = m365_version(snapshot::M365_WORLDWIDE);
        assert_eq!(shipped.len(), 10, "{shipped}");
        assert!(shipped.bytes().all(|b| b.is_ascii_digit()), "{shipped}");
        assert_eq!(shipped, m365_version(snapshot::M365_WORLDWIDE));
        assert_ne!(shipped, m365_version("[]"));
    }

    #[test]
    fn a_file_in_the_override_dir_replaces_the_shipped_one() {
        let dir = std::env::temp_dir().join(format!("breakout-vendor-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        assert_eq!(served(&dir, M365_FILE), snapshot::M365_WORLDWIDE);
        assert_eq!(served(&dir, GOOG_FILE), snapshot::GOOGLE_GOOG);
        std::fs::write(dir.join(M365_FILE), "[]").expect("write");
        assert_eq!(served(&dir, M365_FILE), "[]");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
