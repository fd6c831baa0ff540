//! A template diff as the console shows it (the operator's quarantined candidates, a tenant's
//! subscribed templates): per changed set, the hosts added and removed (the first
//! [`LINES`] of each) and the ranges' counts; at most [`SETS`] sets.

use serde_json::{json, Value};

use crate::templates::diff::TemplateDiff;

/// Hosts shown per set and direction.
pub const LINES: usize = 20;
/// Sets shown per diff.
pub const SETS: usize = 40;

/// `{sets: [...], more_sets: N}` for `templates/diff.html`.
pub fn view(d: &TemplateDiff) -> Value {
    let sets: Vec<Value> = d
        .sets
        .iter()
        .take(SETS)
        .map(|s| {
            json!({ "set": s.set, "group": s.group,
                "added": s.added_hosts.iter().take(LINES).collect::<Vec<_>>(),
                "removed": s.removed_hosts.iter().take(LINES).collect::<Vec<_>>(),
                "added_count": s.added_hosts.len(), "removed_count": s.removed_hosts.len(),
                "added_cidrs": s.added_cidrs.len(), "removed_cidrs": s.removed_cidrs.len(),
                "attributes_changed": s.attributes_changed,
                "more": s.added_hosts.len() > LINES || s.removed_hosts.len() > LINES })
        })
        .collect();
    json!({ "sets": sets, "more_sets": d.sets.len().saturating_sub(SETS) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::diff::SetDiff;

    #[test]
    fn long_diffs_are_cut_and_say_so() {
        let set = |i: usize| SetDiff {
            set: format!("m365:{i}"),
            group: "Exchange".into(),
            removed_hosts: (0..30).map(|h| format!("h{h}.example")).collect(),
            ..SetDiff::default()
        };
        let d = TemplateDiff {
            sets: (0..SETS + 2).map(set).collect(),
        };
        let v = view(&d);
        assert_eq!(v["sets"].as_array().map(Vec::len), Some(SETS));
        assert_eq!(v["more_sets"], 2);
        assert_eq!(
            v["sets"][0]["removed"].as_array().map(Vec::len),
            Some(LINES)
        );
        assert_eq!(v["sets"][0]["removed_count"], 30);
        assert_eq!(v["sets"][0]["more"], true);
    }
}
