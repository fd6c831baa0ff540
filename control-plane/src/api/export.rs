//! The export: a tenant's effective destinations for external devices (art. 2, external
//! integration), served at `GET /v1/tenants/{id}/endpoints`, in the formats of `breakout_policy::export`, with a strong
//! ETag, `If-None-Match` and `?since=VERSION` deltas. See docs/integration.md.

pub mod history;

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use breakout_policy::export::{self, Delta, Entry, Filter, KindFilter};
use http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::Deserialize;

use self::history::Lookup;
use super::auth::{Principal, TenantReader};
use super::error::{no_tenant, ApiError, ApiResult};
use super::extract::{ApiPath, ApiQuery};
use super::reply::VERSION_HEADER;
use super::{ApiContext, Ctx};
use crate::crypto::sha256_hex;
use crate::state::{export_stable_since, export_view, may_export};
use crate::store::Consistency;

/// `delta` (the body holds what changed since `since`) or `full` (the whole list).
pub static DELTA_HEADER: HeaderName = HeaderName::from_static("x-breakout-delta");
/// Why a `?since=` request got the full list.
pub static DELTA_REASON_HEADER: HeaderName = HeaderName::from_static("x-breakout-delta-reason");
/// Entries the format could not express and left out (text: in-label wildcards; squid:
/// entries covered by another, or left to the `squid-regex` file).
pub static OMITTED_HEADER: HeaderName = HeaderName::from_static("x-breakout-omitted");

/// The query: `format`, `action`, `kind`, `since`, `stale`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ExportQuery {
    pub format: Option<String>,
    pub action: Option<String>,
    pub kind: Option<String>,
    pub since: Option<u64>,
    pub stale: bool,
}

/// The output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Text,
    Squid,
    SquidRegex,
    Csv,
}

impl Format {
    fn parse(s: Option<&str>) -> ApiResult<Format> {
        match s.unwrap_or("json") {
            "json" => Ok(Format::Json),
            "text" => Ok(Format::Text),
            "squid" => Ok(Format::Squid),
            "squid-regex" => Ok(Format::SquidRegex),
            "csv" => Ok(Format::Csv),
            other => Err(ApiError::Invalid(format!(
                "format {other:?}: expected json, text, squid, squid-regex or csv"
            ))),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Text | Format::Squid | Format::SquidRegex => "text/plain; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8; header=present",
        }
    }
}

/// `GET /v1/tenants/{id}/endpoints?format=json|text|squid|squid-regex|csv&action=…&kind=…
/// &since=VERSION` (operator, or the tenant's own token while an external-integration or
/// list-template contract is in force).
pub async fn get(
    State(ctx): Ctx,
    TenantReader(who): TenantReader,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ExportQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let format = Format::parse(q.format.as_deref())?;
    let filter = filter(&q)?;
    if q.since.is_some() && format != Format::Json {
        return Err(ApiError::Invalid(
            "since: deltas are answered in format=json only".into(),
        ));
    }
    let consistency = if q.stale {
        Consistency::Stale
    } else {
        Consistency::Linearizable
    };
    let state = ctx.read(consistency).await?;
    let (tenant, shared) = export_view(&state, &id).ok_or_else(|| no_tenant(&id))?;
    if let Principal::Tenant(_) = who {
        may_export(&state, &id, ctx.today()).map_err(ApiError::Denied)?;
    }
    let entries = Arc::new(export::effective(&tenant, &shared));
    let stable = export_stable_since(&state, &id).unwrap_or(state.version);
    ctx.export_history
        .record(&id, stable, state.version, &entries);

    let mut extra = Vec::new();
    let body = match (q.since, format) {
        (Some(since), _) => match base_for(&ctx, &id, since, state.version) {
            Ok(base) => {
                let delta = Delta::between(&base, &entries).filtered(&filter);
                extra.push((DELTA_HEADER.clone(), HeaderValue::from_static("delta")));
                export::render_delta_json(&id, since, state.version, &delta)
            }
            Err(reason) => {
                extra.push((DELTA_HEADER.clone(), HeaderValue::from_static("full")));
                extra.push((
                    DELTA_REASON_HEADER.clone(),
                    HeaderValue::from_static(reason),
                ));
                export::render_json(&id, &filter.apply(&entries))
            }
        },
        (None, format) => render(
            format,
            filter.kind,
            &id,
            &filter.apply(&entries),
            &mut extra,
        ),
    };

    let tag = strong_etag(&body);
    let mut resp = if none_match(&headers, &tag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            )],
            body,
        )
            .into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::ETAG, tag);
    h.insert(VERSION_HEADER.clone(), HeaderValue::from(state.version));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    for (name, value) in extra {
        h.insert(name, value);
    }
    Ok(resp)
}

fn filter(q: &ExportQuery) -> ApiResult<Filter> {
    if let Some(action) = q.action.as_deref() {
        let known = matches!(action, "direct" | "block" | "upstream")
            || action
                .strip_prefix("upstream:")
                .is_some_and(|n| !n.is_empty());
        if !known {
            return Err(ApiError::Invalid(format!(
                "action {action:?}: expected direct, block, upstream or upstream:<name>"
            )));
        }
    }
    let kind = q
        .kind
        .as_deref()
        .map(str::parse::<KindFilter>)
        .transpose()
        .map_err(ApiError::Invalid)?;
    Ok(Filter {
        action: q.action.clone(),
        kind,
    })
}

/// The entries at `since`, or why a delta cannot be answered.
fn base_for(
    ctx: &ApiContext,
    id: &str,
    since: u64,
    now: u64,
) -> Result<Arc<Vec<Entry>>, &'static str> {
    if since > now {
        return Err("since is newer than this node's store version");
    }
    match ctx.export_history.at(id, since) {
        Lookup::Found(base) => Ok(base),
        Lookup::TooOld => Err("since is older than the history this node keeps"),
        Lookup::Unknown => Err("this node has no record of the list at that version"),
    }
}

fn render(
    format: Format,
    kind: Option<KindFilter>,
    id: &str,
    entries: &[&Entry],
    extra: &mut Vec<(HeaderName, HeaderValue)>,
) -> String {
    match format {
        Format::Json => export::render_json(id, entries),
        Format::Csv => export::render_csv(entries),
        Format::Text => {
            let out = export::render_text(entries);
            extra.push((OMITTED_HEADER.clone(), HeaderValue::from(out.omitted)));
            out.text
        }
        // IPv4 networks are a `dst` ACL file, names a `dstdomain` one: `kind=cidrs` asks for
        // the former, anything else gets the latter.
        Format::Squid if kind == Some(KindFilter::Cidrs) => export::render_squid_dst(entries).text,
        Format::Squid => {
            let out = export::render_squid(entries);
            extra.push((
                OMITTED_HEADER.clone(),
                HeaderValue::from(out.covered + out.to_regex),
            ));
            out.text
        }
        Format::SquidRegex => {
            let out = export::render_squid_regex(entries);
            extra.push((OMITTED_HEADER.clone(), HeaderValue::from(out.covered)));
            out.text
        }
    }
}

/// `"<sha256 of the body, 32 hex digits>"`: equal bodies, equal tags, on every node.
fn strong_etag(body: &str) -> HeaderValue {
    let hash = sha256_hex(body.as_bytes());
    HeaderValue::from_str(&format!("\"{}\"", &hash[..32]))
        .unwrap_or(HeaderValue::from_static("\"0\""))
}

/// `If-None-Match` names `tag` (weak comparison, RFC 9110 §13.1.2) or is `*`.
fn none_match(headers: &HeaderMap, tag: &HeaderValue) -> bool {
    let Ok(tag) = tag.to_str() else {
        return false;
    };
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists_and_star() {
        let tag = HeaderValue::from_static("\"abc\"");
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::IF_NONE_MATCH, HeaderValue::from_static(v));
            none_match(&h, &tag)
        };
        assert!(with("\"abc\""));
        assert!(with("W/\"abc\""));
        assert!(with("\"x\", \"abc\""));
        assert!(with("*"));
        assert!(!with("\"abd\""));
        assert!(!none_match(&HeaderMap::new(), &tag));
    }

    #[test]
    fn strong_etags_depend_on_the_body_only() {
        assert_eq!(strong_etag("a\n"), strong_etag("a\n"));
        assert_ne!(strong_etag("a\n"), strong_etag("b\n"));
    }
}
