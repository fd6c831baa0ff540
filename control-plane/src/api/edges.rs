//! `GET /v1/edges`: the edges connected to the cluster. Each node knows only the edges connected
//! to it (soft state, never replicated), so the answering node asks its peers for theirs
//! (`?local=true`) and merges; a peer that does not answer is named in `unreachable`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::Json;
use http::{header, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;

use super::auth::Operator;
use super::error::ApiResult;
use super::extract::ApiQuery;
use super::ApiContext;
use crate::distribute::registry::EdgeView;
use crate::http_client::FORWARDED_HEADER;
use crate::store::Consistency;

/// How long a peer may take to list its edges.
const PEER_TIMEOUT: Duration = Duration::from_secs(2);

/// `?region=R` filters; `?local=true` answers with this node's edges only (what peers ask).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EdgeQuery {
    pub region: Option<String>,
    pub local: bool,
}

/// The answer: the newest store version any answering node had, and every edge.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct EdgeList {
    pub version: u64,
    pub now_ms: u64,
    pub items: Vec<EdgeView>,
    /// Nodes that did not answer (their edges are missing).
    #[serde(default)]
    pub unreachable: Vec<u64>,
}

/// `GET /v1/edges` (operator).
pub async fn list(
    State(ctx): State<Arc<ApiContext>>,
    Operator: Operator,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<EdgeQuery>,
) -> ApiResult<Json<EdgeList>> {
    let state = ctx.read(Consistency::Stale).await?;
    let mut answer = EdgeList {
        version: state.version,
        now_ms: ctx.clock.now_ms(),
        items: ctx.edges.list(ctx.clock.instant()),
        unreachable: Vec::new(),
    };
    if !q.local {
        ask_peers(&ctx, headers.get(header::AUTHORIZATION), &mut answer).await;
    }
    Ok(Json(finish(answer, q.region.as_deref())))
}

/// Adds the edges of every other node (asked with `auth`) to `answer`; a node that does not
/// answer is named in `unreachable`. (The console's operator page calls it too.)
pub async fn ask_peers(ctx: &ApiContext, auth: Option<&HeaderValue>, answer: &mut EdgeList) {
    // Membership is this node's view; without it only local edges are listed.
    let Ok(status) = ctx.store.status().await else {
        return;
    };
    let mut asks = JoinSet::new();
    for node in status.nodes.into_iter().filter(|n| n.id != ctx.node_id) {
        let mut req = ctx
            .client
            .get(format!("http://{}/v1/edges?local=true", node.addr.api))
            .header(FORWARDED_HEADER.clone(), HeaderValue::from_static("1"))
            .timeout(PEER_TIMEOUT);
        if let Some(auth) = auth {
            req = req.header(header::AUTHORIZATION, auth.clone());
        }
        asks.spawn(async move {
            let list = match req.send().await {
                Ok(resp) if resp.status().is_success() => resp.json::<EdgeList>().await.ok(),
                _ => None,
            };
            (node.id, list)
        });
    }
    while let Some(joined) = asks.join_next().await {
        match joined {
            Ok((_, Some(list))) => {
                answer.version = answer.version.max(list.version);
                answer.items.extend(list.items);
            }
            Ok((id, None)) => answer.unreachable.push(id),
            Err(e) => tracing::warn!(error = %e, "asking a peer for its edges"),
        }
    }
    answer.unreachable.sort_unstable();
}

/// Filters by region, keeps one entry per edge (its newest connection: an edge that moved to
/// another node may still linger on the old one until its idle timeout), computes each lag
/// against the newest version, and orders by region and id.
pub fn finish(mut answer: EdgeList, region: Option<&str>) -> EdgeList {
    let mut by_id: BTreeMap<(String, String), EdgeView> = BTreeMap::new();
    for e in answer.items.drain(..) {
        if region.is_some_and(|r| r != e.region) {
            continue;
        }
        let key = (e.region.clone(), e.edge_id.clone());
        match by_id.get(&key) {
            Some(kept) if kept.connected_since_ms >= e.connected_since_ms => {}
            _ => {
                by_id.insert(key, e);
            }
        }
    }
    answer.items = by_id
        .into_values()
        .map(|mut e| {
            e.lag = e.synced_through.map(|s| answer.version.saturating_sub(s));
            e
        })
        .collect();
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(id: &str, region: &str, node: u64, since: u64, synced: Option<u64>) -> EdgeView {
        EdgeView {
            edge_id: id.into(),
            region: region.into(),
            address: "127.0.0.1:1".into(),
            control_node: node,
            connected_since_ms: since,
            connected: true,
            last_seen_ms: Some(since),
            applied_version: synced,
            synced_through: synced,
            lag: None,
            last_nack: None,
            last_report_ms: None,
            sessions: None,
            tenants: BTreeMap::new(),
        }
    }

    #[test]
    fn merged_lists_keep_the_newest_connection_and_compute_lag() {
        let answer = EdgeList {
            version: 20,
            now_ms: 0,
            items: vec![
                edge("b", "tokyo", 1, 100, Some(18)),
                edge("a", "tokyo", 1, 100, Some(20)),
                edge("a", "tokyo", 2, 300, Some(19)),
                edge("c", "osaka", 3, 100, None),
            ],
            unreachable: vec![],
        };
        let out = finish(answer, None);
        let rows: Vec<_> = out
            .items
            .iter()
            .map(|e| (e.edge_id.as_str(), e.control_node, e.lag))
            .collect();
        assert_eq!(rows, [("c", 3, None), ("a", 2, Some(1)), ("b", 1, Some(2))]);
    }

    #[test]
    fn a_region_filter_keeps_only_that_region() {
        let answer = EdgeList {
            version: 5,
            items: vec![
                edge("a", "tokyo", 1, 0, None),
                edge("b", "osaka", 1, 0, None),
            ],
            ..EdgeList::default()
        };
        let out = finish(answer, Some("osaka"));
        assert_eq!(out.items.len(), 1);
        assert_eq!(out.items[0].edge_id, "b");
    }
}
