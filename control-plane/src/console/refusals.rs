//! The tenant overview's "refusals by reason": what the tenant's edges refused or failed, per
//! region and reason, over the last hour, three hours and since the edges started. The tally
//! is the leader's ([`crate::distribute::refusals`]); a follower asks the leader for `GET
//! /v1/tenants/{id}/refusals` with the session's token, as an API client's call is forwarded.
//! Reason names in English and Japanese ([`WORDS`]: one per [`Reason`]).

use breakout_policy::outcome::{Reason, RequestResult};
use serde_json::{json, Value};

use super::{relay, Console, Page};
use crate::distribute::refusals::RegionRefusals;

/// Each reason's words: (label, English, Japanese).
pub const WORDS: [(&str, &str, &str); Reason::COUNT] = [
    (
        "unregistered_source",
        "source not registered",
        "未登録の送信元",
    ),
    (
        "wrong_region",
        "source of another region",
        "別リージョンの送信元",
    ),
    ("not_in_service", "not in service", "提供停止中"),
    ("ipv6_client", "IPv6 client", "IPv6 クライアント"),
    ("session_limit", "session limit", "セッション上限"),
    (
        "source_connection_limit",
        "too many waiting connections from one source",
        "同一送信元の待機接続数超過",
    ),
    ("draining", "edge draining", "エッジ停止処理中"),
    ("not_ready", "edge not ready", "エッジ準備中"),
    (
        "blocked_by_rule",
        "blocked by a rule or the blocklist",
        "ルール・ブロックリストで遮断",
    ),
    (
        "port_not_allowed",
        "port not allowed",
        "許可されていないポート",
    ),
    (
        "destination_ip_prohibited",
        "destination guard: private or reserved address",
        "宛先ガード：プライベート・予約アドレス",
    ),
    ("proxy_loop", "proxy loop", "プロキシのループ"),
    ("bad_request", "malformed request", "不正なリクエスト"),
    (
        "headers_too_large",
        "headers too large",
        "ヘッダーが大きすぎる",
    ),
    (
        "bad_request_body",
        "malformed request body",
        "不正なリクエストボディ",
    ),
    ("dns_error", "DNS error", "DNS エラー"),
    ("connection_refused", "connection refused", "接続拒否"),
    (
        "connection_timeout",
        "connection timed out",
        "接続タイムアウト",
    ),
    ("connect_failed", "connection failed", "接続失敗"),
    (
        "parent_proxy_refused",
        "parent proxy refused",
        "上位プロキシが拒否",
    ),
    ("destination_error", "destination error", "宛先のエラー"),
    ("response_incomplete", "response incomplete", "応答が不完全"),
    ("response_timeout", "response timed out", "応答タイムアウト"),
    ("dns_timeout", "DNS timed out", "DNS タイムアウト"),
];

/// A reason in `lang` (`"ja"` or English).
fn word(reason: Reason, ja: bool) -> &'static str {
    let (_, en, jp) = WORDS[reason.index()];
    if ja {
        jp
    } else {
        en
    }
}

/// The tenant's refusals per region: this node's tally when it leads, else the leader's.
pub async fn of_tenant(c: &Console, page: &Page, id: &str) -> Result<Vec<RegionRefusals>, String> {
    match relay::leader(&c.api).await {
        Ok(None) => Ok(c.api.leases.refusals.of_tenant(id, c.api.leases.wall_ms())),
        Ok(Some(leader)) => {
            let call = relay::Call::get(format!("/v1/tenants/{}/refusals", relay::seg(id)));
            let (body, _) = relay::send(&c.api, &leader, &page.session.credential, call)
                .await
                .map_err(|e| e.to_string())?;
            serde_json::from_value(body["regions"].clone())
                .map_err(|e| format!("the leader's refusals: {e}"))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// The page's rows: per region, one row per reason that happened (refusals first, then the
/// way out failing, then the client's errors), with the reason's words and kind.
pub fn rows(regions: &[RegionRefusals], home: Option<&str>, ja: bool) -> Vec<Value> {
    let mut order: Vec<Reason> = Reason::ALL.to_vec();
    order.sort_by_key(|r| (r.result(), r.index()));
    let mut out: Vec<Value> = regions
        .iter()
        .map(|r| {
            let reasons: Vec<Value> = order
                .iter()
                .filter_map(|&reason| {
                    let counts = (
                        r.last_hour.get(reason),
                        r.last_3_hours.get(reason),
                        r.since_edge_start.get(reason),
                    );
                    if counts == (0, 0, 0) {
                        return None;
                    }
                    Some(json!({ "reason": reason.label(), "words": word(reason, ja),
                        "refusal": reason.result() == RequestResult::Refused,
                        "last_hour": counts.0, "last_3_hours": counts.1,
                        "since_edge_start": counts.2 }))
                })
                .collect();
            json!({ "region": r.region, "edges": r.edges, "reasons": reasons,
                "refused_last_hour": r.last_hour.total(RequestResult::Refused) })
        })
        .collect();
    if let Some(home) = home.filter(|h| !regions.iter().any(|r| r.region == *h)) {
        out.push(json!({ "region": home, "edges": 0, "reasons": [], "refused_last_hour": 0 }));
    }
    out
}

#[cfg(test)]
mod tests {
    use breakout_policy::outcome::RefusalCounts;

    use super::*;

    #[test]
    fn every_reason_has_its_words_in_index_order() {
        for r in Reason::ALL {
            assert_eq!(WORDS[r.index()].0, r.label());
        }
    }

    #[test]
    fn rows_put_refusals_first_and_list_the_home_region() {
        let mut c = RefusalCounts::default();
        c.add(Reason::DnsError, 2);
        c.add(Reason::BlockedByRule, 1);
        let r = RegionRefusals {
            region: "tokyo".into(),
            edges: 1,
            since_edge_start: c.clone(),
            last_hour: c.clone(),
            last_3_hours: c,
            buckets: Vec::new(),
        };
        let rows = rows(&[r], Some("osaka"), true);
        let reasons = rows[0]["reasons"].as_array().expect("reasons");
        assert_eq!(reasons[0]["reason"], "blocked_by_rule");
        assert_eq!(reasons[0]["words"], "ルール・ブロックリストで遮断");
        assert_eq!(reasons[1]["reason"], "dns_error");
        assert_eq!(rows[0]["refused_last_hour"], 1);
        assert_eq!(rows[1]["region"], "osaka");
    }
}
