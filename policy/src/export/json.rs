//! JSON: `{"tenant", "entries": [{action, value, kind, source, ports?}]}` (no store version in
//! the body, so that equal content is equal bytes and a strong ETag holds; the API sends the
//! version in a header), and a delta as `{"tenant", "since", "version", "added": […],
//! "removed": […]}`.

use serde::Serialize;

use super::{Delta, Entry};

#[derive(Serialize)]
struct Full<'a> {
    tenant: &'a str,
    entries: &'a [&'a Entry],
}

#[derive(Serialize)]
struct Changes<'a> {
    tenant: &'a str,
    since: u64,
    version: u64,
    #[serde(flatten)]
    delta: &'a Delta,
}

/// The entries of `tenant`, pretty-printed, ending in a newline.
pub fn render_json(tenant: &str, entries: &[&Entry]) -> String {
    finish(serde_json::to_string_pretty(&Full { tenant, entries }))
}

/// What changed for `tenant` between store versions `since` and `version`.
pub fn render_delta_json(tenant: &str, since: u64, version: u64, delta: &Delta) -> String {
    finish(serde_json::to_string_pretty(&Changes {
        tenant,
        since,
        version,
        delta,
    }))
}

fn finish(text: Result<String, serde_json::Error>) -> String {
    // Plain strings, integers and sequences: serializing cannot fail; an empty object is the
    // honest fallback rather than a panic.
    let mut s = text.unwrap_or_else(|_| "{}".to_string());
    s.push('\n');
    s
}
