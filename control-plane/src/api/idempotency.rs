//! `Idempotency-Key` (docs/api.md#retries): the per-route middleware reads the header of a
//! write, fingerprints the request and runs the handler inside [`KEYED`]; [`super::ApiContext`]'s
//! write then sends the key with its command, so that the state machine answers a repeat with
//! the first answer (`state::idempotency`). A repeated answer carries `Idempotent-Replayed:
//! true`.
//!
//! What an answer carries that the state does not keep travels with the command as its
//! `reply`: a generated id as it is, a token's secret sealed with the key itself (an XOR with
//! an HMAC of the header's value, which the state never holds), so a retry with the same key
//! gets the same secret back and the stored state alone reveals nothing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use http::{HeaderName, HeaderValue, Method};

use super::error::ApiError;
use crate::crypto::{hex, hmac_sha256, sha256_hex};
use crate::state::IdempotencyKey;

/// The request header naming a write's idempotency key.
pub static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The answer header saying that the answer is a repeat of the first one.
pub static REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Longest key accepted.
pub const KEY_MAX: usize = 255;

/// The key of the request being handled.
#[derive(Debug)]
pub struct Keyed {
    raw: String,
    fingerprint: String,
    repeated: AtomicBool,
}

tokio::task_local! {
    /// Set by the per-route middleware around a keyed write's handler.
    pub static KEYED: Arc<Keyed>;
}

impl Keyed {
    /// True once the store answered this request as a repeat.
    pub fn repeated(&self) -> bool {
        self.repeated.load(Ordering::Relaxed)
    }
}

/// For a write carrying `Idempotency-Key`: the request with its body read (so that it can be
/// fingerprinted) and the key to run its handler with. Reads and unkeyed writes pass as they
/// are. A key that is not 1-255 visible ASCII characters is a 400; a body over the route's
/// `max_body` a 413.
pub async fn prepare(
    req: Request,
    max_body: usize,
) -> Result<(Request, Option<Arc<Keyed>>), ApiError> {
    let write = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let Some(value) = req.headers().get(&IDEMPOTENCY_KEY).filter(|_| write) else {
        return Ok((req, None));
    };
    let raw = value
        .to_str()
        .ok()
        .filter(|k| (1..=KEY_MAX).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::Invalid(format!(
                "Idempotency-Key: must be 1-{KEY_MAX} visible ASCII characters (the CLI sends \
                 a random UUID)"
            ))
        })?
        .to_string();
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, max_body)
        .await
        .map_err(|_| ApiError::TooLarge(max_body))?;
    let if_match = parts
        .headers
        .get(http::header::IF_MATCH)
        .map_or(&b""[..], HeaderValue::as_bytes);
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let keyed = Keyed {
        raw,
        fingerprint: fingerprint(parts.method.as_str(), target, if_match, &body),
        repeated: AtomicBool::new(false),
    };
    Ok((
        Request::from_parts(parts, Body::from(body)),
        Some(Arc::new(keyed)),
    ))
}

/// SHA-256 of what makes a request this request. Length-prefixed, so no two requests share one.
fn fingerprint(method: &str, target: &str, if_match: &[u8], body: &Bytes) -> String {
    let mut buf = Vec::with_capacity(body.len() + target.len() + 64);
    for part in [method.as_bytes(), target.as_bytes(), if_match, body] {
        buf.extend_from_slice(&(part.len() as u64).to_be_bytes());
        buf.extend_from_slice(part);
    }
    sha256_hex(&buf)
}

/// The key of the handler's request, if it has one, carrying `reply`.
pub fn current(reply: BTreeMap<String, String>) -> Option<IdempotencyKey> {
    KEYED
        .try_with(|k| IdempotencyKey {
            key: sha256_hex(k.raw.as_bytes()),
            fingerprint: k.fingerprint.clone(),
            reply,
        })
        .ok()
}

/// The key of write `n` of a request that makes several (an import in parts): derived from
/// the request's key, so a retry with the same key repeats the writes that were made and makes
/// the rest. `None` when the request has no key.
pub fn nth(n: usize) -> Option<Arc<Keyed>> {
    KEYED
        .try_with(|k| {
            Arc::new(Keyed {
                raw: format!("{}#{n}", k.raw),
                fingerprint: format!("{}#{n}", k.fingerprint),
                repeated: AtomicBool::new(false),
            })
        })
        .ok()
}

/// Marks the handler's request as answered by a repeat.
pub fn mark_repeated() {
    let _ = KEYED.try_with(|k| k.repeated.store(true, Ordering::Relaxed));
}

/// `secret` (at most 32 bytes) sealed with the request's key, in hex; `None` without a key.
pub fn seal(secret: &[u8]) -> Option<String> {
    KEYED
        .try_with(|k| pad(&k.raw, secret.len()).map(|pad| hex(&xor(secret, &pad))))
        .ok()
        .flatten()
}

/// What [`seal`] sealed under the request's key; `None` without a key or for malformed input.
pub fn unseal(sealed: &str) -> Option<Vec<u8>> {
    let bytes = unhex(sealed)?;
    KEYED
        .try_with(|k| pad(&k.raw, bytes.len()).map(|pad| xor(&bytes, &pad)))
        .ok()
        .flatten()
}

/// A one-time pad derived from the key (each key seals one secret).
fn pad(raw: &str, len: usize) -> Option<[u8; 32]> {
    (len <= 32).then(|| hmac_sha256(raw.as_bytes(), b"breakout idempotency seal v1"))
}

fn xor(data: &[u8], pad: &[u8; 32]) -> Vec<u8> {
    data.iter().zip(pad).map(|(d, p)| d ^ p).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyed(raw: &str) -> Arc<Keyed> {
        Arc::new(Keyed {
            raw: raw.into(),
            fingerprint: String::new(),
            repeated: AtomicBool::new(false),
        })
    }

    #[tokio::test]
    async fn a_sealed_secret_opens_only_with_its_key() {
        let secret = [7u8; 32];
        let sealed = KEYED.scope(keyed("k-1"), async { seal(&secret) }).await;
        let sealed = sealed.expect("sealed under a key");
        assert_ne!(sealed, hex(&secret), "the stored form is not the secret");
        let same = KEYED.scope(keyed("k-1"), async { unseal(&sealed) }).await;
        assert_eq!(same.as_deref(), Some(&secret[..]));
        let other = KEYED.scope(keyed("k-2"), async { unseal(&sealed) }).await;
        assert_ne!(other.as_deref(), Some(&secret[..]));
        assert_eq!(seal(&secret), None, "no key, nothing sealed");
    }

    #[test]
    fn fingerprints_tell_requests_apart() {
        let body = Bytes::from_static(b"{}");
        let a = fingerprint("POST", "/v1/regions", b"", &body);
        assert_eq!(a, fingerprint("POST", "/v1/regions", b"", &body));
        assert_ne!(a, fingerprint("PUT", "/v1/regions", b"", &body));
        assert_ne!(a, fingerprint("POST", "/v1/regions?x=1", b"", &body));
        assert_ne!(a, fingerprint("POST", "/v1/regions", b"\"3\"", &body));
        assert_ne!(
            a,
            fingerprint("POST", "/v1/regions", b"", &Bytes::from_static(b"{ }"))
        );
    }
}
