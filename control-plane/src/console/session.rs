//! Console sign-in sessions: a token is exchanged once for a random session id kept in an
//! `HttpOnly`, `SameSite=Strict` cookie; the token itself is never stored in the page or the
//! cookie. Sessions live in this node's memory and expire (a restart signs everybody out).
//! Every form carries the session's CSRF token, compared in constant time. The token signed in
//! with stays in this node's memory with the session ([`Credential`]), never leaving it except
//! as the bearer of a request this node relays to the leader (a write, the leader's delivery
//! log), where it is checked again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::HeaderMap;

use crate::api::auth::Principal;
use crate::crypto::{constant_time_eq, random_secret};

/// The session cookie's name.
pub const COOKIE: &str = "bk_session";
/// The sign-in form's double-submit cookie (CSRF before there is a session).
pub const PRE_COOKIE: &str = "bk_signin";
/// The language cookie.
pub const LANG_COOKIE: &str = "bk_lang";
/// How long a session lasts after sign-in.
pub const TTL: Duration = Duration::from_secs(8 * 3600);
/// Sessions kept at most (the oldest go first): memory stays bounded whatever is posted.
pub const MAX_SESSIONS: usize = 10_000;

/// One signed-in browser.
#[derive(Clone, Debug)]
pub struct Session {
    pub id: String,
    pub principal: Principal,
    pub csrf: String,
    pub expires: Instant,
    /// The token signed in with: what a request relayed to the leader carries.
    pub credential: Credential,
}

/// A bearer token kept in memory; its `Debug` never shows it.
#[derive(Clone)]
pub struct Credential(String);

impl Credential {
    pub fn new(token: &str) -> Credential {
        Credential(token.to_string())
    }

    pub fn bearer(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credential(..)")
    }
}

/// The sessions of this node.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// A new session for `principal` (signed in with `credential`), valid from `now` for
    /// [`TTL`].
    pub fn create(&self, principal: Principal, credential: Credential, now: Instant) -> Session {
        let session = Session {
            id: random_secret(),
            principal,
            csrf: random_secret(),
            expires: now + TTL,
            credential,
        };
        let mut map = self.lock();
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map.values().min_by_key(|s| s.expires).map(|s| s.id.clone()) {
                map.remove(&oldest);
            }
        }
        map.insert(session.id.clone(), session.clone());
        session
    }

    /// The live session named by the request's cookie.
    pub fn get(&self, headers: &HeaderMap, now: Instant) -> Option<Session> {
        let id = cookie(headers, COOKIE)?;
        let mut map = self.lock();
        match map.get(id) {
            Some(s) if s.expires > now => Some(s.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Session {
    /// Whether a form's `csrf` field is this session's token.
    pub fn csrf_ok(&self, presented: &str) -> bool {
        constant_time_eq(presented.as_bytes(), self.csrf.as_bytes())
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A `Set-Cookie` value for the console: `HttpOnly`, `SameSite=Strict`, path `/ui`, `Secure`
/// when the browser reached us over TLS. `max_age` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{name}={value}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        max_age.as_secs()
    )
}

/// Whether the browser reached the console over TLS: the API listener itself speaks plain
/// HTTP, so this is a TLS-terminating proxy in front saying `X-Forwarded-Proto: https`.
pub fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::COOKIE, v.parse().expect("header"));
        h
    }

    #[test]
    fn sessions_expire_and_are_found_by_cookie() {
        let sessions = Sessions::default();
        let now = Instant::now();
        let s = sessions.create(
            Principal::Tenant("acme".into()),
            Credential::new("bk_acme_secret"),
            now,
        );
        assert!(!format!("{s:?}").contains("bk_acme_secret"), "{s:?}");
        let headers = with_cookie(&format!("a=b; {COOKIE}={}", s.id));
        assert_eq!(
            sessions.get(&headers, now).map(|s| s.principal),
            Some(Principal::Tenant("acme".into()))
        );
        assert!(sessions.get(&headers, now + TTL).is_none(), "expired");
        assert!(sessions.get(&headers, now).is_none(), "and removed");
        assert!(sessions.get(&with_cookie("bk_session=nope"), now).is_none());
    }

    #[test]
    fn csrf_and_cookie_attributes() {
        let s =
            Sessions::default().create(Principal::Operator, Credential::new("t"), Instant::now());
        assert!(s.csrf_ok(&s.csrf.clone()));
        assert!(!s.csrf_ok("x"));
        assert_ne!(s.csrf, s.id);
        let c = set_cookie(COOKIE, "v", TTL, true);
        for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/ui"] {
            assert!(c.contains(part), "{c}");
        }
        assert!(!set_cookie(COOKIE, "v", TTL, false).contains("Secure"));
    }
}
