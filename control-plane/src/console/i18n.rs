//! The console's words in English and Japanese: chosen by the `bk_lang` cookie (the switch in
//! the header), else by `Accept-Language`. Every template reads them as `t.<key>`.

use std::collections::BTreeMap;

use http::HeaderMap;

use super::session::{cookie, LANG_COOKIE};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "en" => Some(Lang::En),
            "ja" => Some(Lang::Ja),
            _ => None,
        }
    }

    /// The cookie's choice, else the first of `ja`/`en` in `Accept-Language` by weight.
    pub fn of(headers: &HeaderMap) -> Lang {
        if let Some(l) = cookie(headers, LANG_COOKIE).and_then(Lang::parse) {
            return l;
        }
        let accept = headers
            .get(http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        accept_language(accept)
    }
}

/// The preferred of English and Japanese in an `Accept-Language` value (default English).
pub fn accept_language(value: &str) -> Lang {
    let mut best = (0.0f32, Lang::En);
    for part in value.split(',') {
        let mut it = part.trim().split(';');
        let tag = it.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = it
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let lang = if tag == "ja" || tag.starts_with("ja-") {
            Lang::Ja
        } else if tag == "en" || tag.starts_with("en-") {
            Lang::En
        } else {
            continue;
        };
        if q > best.0 {
            best = (q, lang);
        }
    }
    best.1
}

/// (key, English, Japanese).
const WORDS: &[(&str, &str, &str)] = &[
    ("product", "Breakout console", "Breakout コンソール"),
    ("sign_in", "Sign in", "サインイン"),
    ("sign_out", "Sign out", "サインアウト"),
    (
        "token",
        "API token (operator or tenant)",
        "API トークン（運用者またはテナント）",
    ),
    (
        "token_help",
        "Your token is exchanged for a session cookie and is not kept in the page.",
        "トークンはセッション Cookie と交換され、ページには保存されません。",
    ),
    (
        "bad_token",
        "That token is not valid.",
        "このトークンは無効です。",
    ),
    ("overview", "Overview", "概要"),
    ("lists", "Blocklist and lists", "ブロックリストとリスト"),
    ("explain", "Explain", "判定の説明"),
    ("pac", "PAC file", "PAC ファイル"),
    ("contracts", "Contracts", "契約"),
    ("operator", "Operations", "運用"),
    ("tenants", "Tenants", "テナント"),
    ("sessions", "Sessions", "セッション"),
    (
        "sessions_chart",
        "Concurrent sessions against the contract limit",
        "契約上限に対する同時セッション数",
    ),
    (
        "no_samples",
        "No session reports yet: edges report every second once they serve the tenant.",
        "まだセッションの報告がありません。エッジがテナントを扱い始めると毎秒報告されます。",
    ),
    ("now", "now", "現在"),
    ("peak", "peak", "最大"),
    ("limit", "limit", "上限"),
    ("refused", "refused at the limit", "上限による拒否"),
    ("region", "Region", "リージョン"),
    ("in_service", "In service", "提供中"),
    ("not_in_service", "Not in service", "提供停止中"),
    (
        "limit_in_force",
        "Session limit in force",
        "適用中のセッション上限",
    ),
    ("options", "Options", "オプション"),
    ("templates", "Template subscriptions", "テンプレート購読"),
    ("live_version", "live version", "公開中のバージョン"),
    ("save", "Save", "保存"),
    ("saved", "Saved at version", "保存しました。バージョン"),
    (
        "one_per_line",
        "One entry per line: host, *.suffix, pattern with *, IPv4 address or CIDR.",
        "1 行に 1 項目：ホスト名、*.サフィックス、* を含むパターン、IPv4 アドレスまたは CIDR。",
    ),
    (
        "entry_errors",
        "Nothing was saved. Fix these entries:",
        "保存していません。次の項目を修正してください：",
    ),
    ("line", "line", "行"),
    (
        "changed_meanwhile",
        "The tenant changed since this page was loaded; reload and try again.",
        "このページを開いた後にテナントが変更されました。再読み込みしてやり直してください。",
    ),
    ("host", "Host", "ホスト"),
    ("port", "Port", "ポート"),
    ("decision", "Decision", "判定"),
    ("reason", "Reason", "理由"),
    ("rule", "Rule", "ルール"),
    ("list", "List", "リスト"),
    ("entry", "Entry", "項目"),
    ("guard", "Destination guard", "宛先ガード"),
    ("summary", "Summary", "要約"),
    (
        "not_served",
        "The edges do not serve this tenant",
        "エッジはこのテナントを扱っていません",
    ),
    ("pac_url", "The edges serve it at", "エッジでの配信 URL"),
    (
        "pac_none",
        "No PAC: the tenant has no PAC settings or no PAC option in force.",
        "PAC はありません（PAC 設定または PAC オプションがありません）。",
    ),
    ("edges", "Regions and edges", "リージョンとエッジ"),
    ("edge", "Edge", "エッジ"),
    ("connected_since", "Connected since", "接続開始"),
    ("applied", "Applied version", "適用バージョン"),
    ("lag", "Lag", "遅延"),
    (
        "nodes",
        "Control-plane nodes",
        "コントロールプレーンのノード",
    ),
    ("role", "Role", "役割"),
    ("term", "Term", "任期"),
    ("applied_index", "Applied index", "適用インデックス"),
    (
        "template_sources",
        "Template sources",
        "テンプレートのソース",
    ),
    ("quarantined", "Quarantined", "隔離中"),
    ("approve", "Approve", "承認"),
    ("reject", "Reject", "却下"),
    ("added", "added", "追加"),
    ("removed", "removed", "削除"),
    (
        "nearest",
        "Tenants nearest their limits",
        "上限に近いテナント",
    ),
    ("audit", "Audit log", "監査ログ"),
    ("filter", "Filter", "絞り込み"),
    ("actor", "Actor", "実行者"),
    ("action", "Action", "操作"),
    ("target", "Target", "対象"),
    ("result", "Result", "結果"),
    ("version", "Version", "バージョン"),
    ("time", "Time (UTC)", "時刻（UTC）"),
    ("none", "None.", "ありません。"),
    ("not_found", "Not found.", "見つかりません。"),
    ("error", "Error", "エラー"),
    ("language", "日本語", "English"),
    ("skip", "Skip to content", "本文へ移動"),
    ("tenant", "Tenant", "テナント"),
    ("leader", "leader", "リーダー"),
    ("attributes_changed", "attributes changed", "属性の変更"),
    ("more_sets", "more sets changed", "件のセットも変更"),
    ("last_changes", "the last changes", "直近の変更"),
    ("approved_by", "approved by", "承認者"),
    (
        "series_unavailable",
        "The leader's series is not available",
        "リーダーの系列を取得できません",
    ),
    ("pac_live", "The live PAC file", "現在の PAC ファイル"),
    (
        "pac_any_edge",
        "EDGE:PORT is any edge's proxy listener: the settings name no proxy, so each edge writes its own address where this preview shows edge.invalid:3128",
        "EDGE:PORT は各エッジのプロキシのアドレスです。設定にプロキシがないため、このプレビューで edge.invalid:3128 と表示される箇所に各エッジが自身のアドレスを書き込みます",
    ),
    ("pac_preview", "Preview and diff", "プレビューと差分"),
    ("pac_settings", "PAC settings (JSON)", "PAC 設定（JSON）"),
    (
        "pac_preview_hint",
        "Nothing is saved here: save settings with breakoutctl pac set or PUT /v1/tenants/{id}/pac.",
        "ここでは保存されません。保存は breakoutctl pac set または PUT /v1/tenants/{id}/pac で行います。",
    ),
    ("pac_preview_button", "Preview", "プレビュー"),
    ("pac_diff", "Diff against the live file", "現在のファイルとの差分"),
    (
        "pac_same",
        "No difference: the preview routes exactly like the live file.",
        "差分はありません（現在のファイルと同じ振り分けです）。",
    ),
    ("pac_preview_file", "The previewed file", "プレビューしたファイル"),
    ("webhooks", "Webhooks", "Webhook"),
    ("webhooks_registered", "Registered webhooks", "登録済みの Webhook"),
    ("deliveries", "Recent deliveries", "最近の配信"),
    ("attempt", "Attempt", "試行"),
    ("no_deliveries", "No deliveries yet.", "配信はまだありません。"),
    ("refusals_by_reason", "Refusals by reason", "理由別の拒否"),
    (
        "refusals_hint",
        "What the edges refused (and, marked, where the way out or the request failed), per region. Since the edges started: their own counters; the last hours: counted by the current leader.",
        "エッジが拒否したもの（印のあるものは宛先側の失敗またはリクエストの誤り）をリージョンごとに示します。エッジ起動以降：エッジ自身の集計、直近：現在のリーダーの集計です。",
    ),
    ("last_hour", "Last hour", "直近 1 時間"),
    ("last_3_hours", "Last 3 hours", "直近 3 時間"),
    ("since_edge_start", "Since the edges started", "エッジ起動以降"),
    ("not_a_refusal", "failure, not a refusal", "拒否ではなく失敗"),
    ("no_refusals", "Nothing refused.", "拒否はありません。"),
    ("refusals_unavailable", "Refusals unavailable", "拒否の集計を取得できません"),
    (
        "unreachable_nodes",
        "Nodes that did not answer (their edges are missing)",
        "応答しなかったノード（そのエッジは表示されていません）",
    ),
    ("usage_unavailable", "The leader's usage is unavailable", "リーダーの使用状況を取得できません"),
];

/// The words of `lang`, by key.
pub fn words(lang: Lang) -> BTreeMap<&'static str, &'static str> {
    WORDS
        .iter()
        .map(|(k, en, ja)| (*k, if lang == Lang::Ja { *ja } else { *en }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_heavier_of_ja_and_en() {
        assert_eq!(accept_language("ja-JP,ja;q=0.9,en;q=0.8"), Lang::Ja);
        assert_eq!(accept_language("en-US,en;q=0.9,ja;q=0.8"), Lang::En);
        assert_eq!(accept_language("fr, ja;q=0.5"), Lang::Ja);
        assert_eq!(accept_language(""), Lang::En);
    }

    #[test]
    fn every_key_is_once_and_translated() {
        let mut seen = std::collections::BTreeSet::new();
        for (k, en, ja) in WORDS {
            assert!(seen.insert(k), "{k} twice");
            assert!(!en.is_empty() && !ja.is_empty(), "{k}");
        }
    }
}
