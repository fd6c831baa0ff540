//! Who is calling: the operator (the admin token) or a tenant (`bk_<id>_<secret>`), and what each
//! may see. Tokens are compared in constant time and never logged.
//!
//! A tenant asking about another tenant gets 404, exactly as for a tenant that does not exist,
//! so tokens cannot probe which tenants exist; operator-only routes answer 403.

use std::marker::PhantomData;
use std::sync::Arc;

use super::error::ApiError;
use super::ratelimit::{client_ip, TokenKey};
use super::ApiContext;
use crate::crypto::{constant_time_eq, sha256, sha256_hex};
use crate::state::{may_export, may_update_lists, State};
use crate::store::Consistency;
use axum::extract::{FromRequestParts, RawPathParams};
use chrono::NaiveDate;
use http::request::Parts;

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    Operator,
    /// A tenant token; the tenant's id.
    Tenant(String),
}

impl Principal {
    /// The `actor` recorded in the audit log.
    pub fn actor(&self) -> String {
        match self {
            Principal::Operator => "operator".to_string(),
            Principal::Tenant(id) => format!("tenant:{id}"),
        }
    }
}

/// The prefix of every tenant token.
pub const TOKEN_PREFIX: &str = "bk_";

/// The SHA-256 of the admin token, kept so that comparing never leaks its length.
pub struct AdminKey([u8; 32]);

impl AdminKey {
    pub fn new(token: &str) -> Self {
        AdminKey(sha256(token.as_bytes()))
    }

    fn matches(&self, presented: &str) -> bool {
        constant_time_eq(&sha256(presented.as_bytes()), &self.0)
    }
}

/// The operator token the node itself calls its peers with (the console's follower sampling
/// of the leader's usage); never in a log (`Debug` redacts it).
pub struct NodeToken(String);

impl NodeToken {
    pub fn new(token: &str) -> Self {
        NodeToken(token.to_string())
    }

    pub fn bearer(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for NodeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeToken(..)")
    }
}

impl FromRequestParts<Arc<ApiContext>> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &Arc<ApiContext>,
    ) -> Result<Self, Self::Rejection> {
        // Extractors built on this one run it again: authenticate (and charge) once.
        if let Some(Authenticated(p)) = parts.extensions.get::<Authenticated>() {
            return Ok(p.clone());
        }
        let Some(presented) = bearer(parts) else {
            ctx.denied.record(
                ctx.clock.now_ms(),
                parts,
                401,
                "no_token",
                "anonymous".into(),
            );
            return Err(ApiError::Unauthorized);
        };
        let ip = client_ip(parts);
        ctx.limits.auth_allowed(ip)?;
        let Some((principal, key)) = authenticate(ctx, presented).await? else {
            ctx.limits.auth_failed(ip);
            ctx.denied.record(
                ctx.clock.now_ms(),
                parts,
                401,
                "bad_token",
                "anonymous".into(),
            );
            return Err(ApiError::Unauthorized);
        };
        ctx.limits.token(&key)?;
        parts.extensions.insert(Authenticated(principal.clone()));
        Ok(principal)
    }
}

/// The principal of a request already authenticated.
#[derive(Clone)]
struct Authenticated(Principal);

/// Who `presented` (an operator or tenant token) is, or 401, for a caller at `ip`: the console's
/// sign-in. Failed attempts count against the address's failed-authentication limit, as on the
/// API's bearer header.
pub async fn sign_in(
    ctx: &ApiContext,
    presented: &str,
    ip: Option<std::net::IpAddr>,
) -> Result<Principal, ApiError> {
    ctx.limits.auth_allowed(ip)?;
    match authenticate(ctx, presented).await? {
        Some((principal, _)) => Ok(principal),
        None => {
            ctx.limits.auth_failed(ip);
            Err(ApiError::Unauthorized)
        }
    }
}

/// Who `presented` is, and the bucket it draws from; `None` for a token that is not valid. The
/// one check of a token: the API's bearer header and the console's sign-in both come here.
async fn authenticate(
    ctx: &ApiContext,
    presented: &str,
) -> Result<Option<(Principal, TokenKey)>, ApiError> {
    if ctx.admin_key.matches(presented) {
        return Ok(Some((Principal::Operator, TokenKey::Operator)));
    }
    let Some((id, secret)) = presented
        .strip_prefix(TOKEN_PREFIX)
        .and_then(|rest| rest.split_once('_'))
    else {
        return Ok(None);
    };
    // Stale on purpose: authenticating must not need the leader. A token revoked a moment
    // ago may work on a lagging follower until it catches up.
    let state = ctx.store.read(Consistency::Stale).await?;
    let Some(record) = state.tokens.get(id) else {
        return Ok(None);
    };
    let valid = constant_time_eq(
        sha256_hex(secret.as_bytes()).as_bytes(),
        record.hash.as_bytes(),
    ) && record
        .expires_at_ms
        .is_none_or(|at| ctx.clock.now_ms() < at);
    Ok(valid.then(|| {
        (
            Principal::Tenant(record.tenant.clone()),
            TokenKey::Tenant(record.id.clone()),
        )
    }))
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The operator, for routes only the operator may use (403 for tenant tokens).
pub struct Operator;

impl FromRequestParts<Arc<ApiContext>> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &Arc<ApiContext>,
    ) -> Result<Self, Self::Rejection> {
        match Principal::from_request_parts(parts, ctx).await? {
            Principal::Operator => Ok(Operator),
            p @ Principal::Tenant(_) => {
                ctx.denied
                    .record(ctx.clock.now_ms(), parts, 403, "operator_only", p.actor());
                Err(ApiError::Forbidden)
            }
        }
    }
}

/// May read the tenant named by the `{id}` path segment: the operator, or that tenant's token.
pub struct TenantReader(pub Principal);

impl FromRequestParts<Arc<ApiContext>> for TenantReader {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &Arc<ApiContext>,
    ) -> Result<Self, Self::Rejection> {
        let principal = Principal::from_request_parts(parts, ctx).await?;
        check_scope(parts, ctx, &principal).await?;
        Ok(TenantReader(principal))
    }
}

/// What a tenant's own token needs beyond its scope on some routes (an option or a contract in
/// force on a day): `Err` says what is missing.
pub trait Gate: Send + Sync + 'static {
    fn check(state: &State, tenant: &str, day: NaiveDate) -> Result<(), String>;
}

/// A [`TenantReader`] whose tenant token must also pass the gate `G` today (403 with its
/// reason; checked on stale state, as authentication is); the operator always passes.
pub struct Gated<G>(pub Principal, pub PhantomData<G>);

impl<G: Gate> FromRequestParts<Arc<ApiContext>> for Gated<G> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &Arc<ApiContext>,
    ) -> Result<Self, Self::Rejection> {
        let TenantReader(principal) = TenantReader::from_request_parts(parts, ctx).await?;
        if let Principal::Tenant(id) = &principal {
            let state = ctx.store.read(Consistency::Stale).await?;
            if let Err(why) = G::check(&state, id, ctx.today()) {
                ctx.denied.record(
                    ctx.clock.now_ms(),
                    parts,
                    403,
                    "not_granted",
                    principal.actor(),
                );
                return Err(ApiError::Denied(why));
            }
        }
        Ok(Gated(principal, PhantomData))
    }
}

/// Art. 10-4: replacing or patching lists needs the `list-update-api` option.
pub struct ListUpdates;

impl Gate for ListUpdates {
    fn check(state: &State, tenant: &str, day: NaiveDate) -> Result<(), String> {
        may_update_lists(state, tenant, day)
    }
}

/// Art. 2: the export and its webhooks need an external-integration or list-template
/// contract.
pub struct Export;

impl Gate for Export {
    fn check(state: &State, tenant: &str, day: NaiveDate) -> Result<(), String> {
        may_export(state, tenant, day)
    }
}

/// May write the tenant named by `{id}`: the operator only. A tenant token gets 404 for another
/// tenant (as if it did not exist) and 403 for its own.
pub struct TenantWriter(pub Principal);

impl FromRequestParts<Arc<ApiContext>> for TenantWriter {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &Arc<ApiContext>,
    ) -> Result<Self, Self::Rejection> {
        let principal = Principal::from_request_parts(parts, ctx).await?;
        check_scope(parts, ctx, &principal).await?;
        match principal {
            Principal::Operator => Ok(TenantWriter(principal)),
            p @ Principal::Tenant(_) => {
                ctx.denied
                    .record(ctx.clock.now_ms(), parts, 403, "not_allowed", p.actor());
                Err(ApiError::Forbidden)
            }
        }
    }
}

/// 404 unless `principal` may see the tenant named by the `{id}` path segment.
async fn check_scope(
    parts: &mut Parts,
    ctx: &ApiContext,
    principal: &Principal,
) -> Result<(), ApiError> {
    let Principal::Tenant(own) = principal else {
        return Ok(());
    };
    let params = RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|e| ApiError::Invalid(e.body_text()))?;
    let id = params.iter().find(|(k, _)| *k == "id").map(|(_, v)| v);
    if id == Some(own.as_str()) {
        Ok(())
    } else {
        ctx.denied.record(
            ctx.clock.now_ms(),
            parts,
            404,
            "other_tenant",
            principal.actor(),
        );
        Err(ApiError::NotFound("no such tenant".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_key_matches_only_the_token() {
        let key = AdminKey::new("s3cret");
        assert!(key.matches("s3cret"));
        assert!(!key.matches("s3cret "));
    }
}
