//! The guard: a candidate that is empty, unparsable or sharply smaller than the live version is
//! quarantined, never applied; the last good version stays live until an operator decides.

use serde::{Deserialize, Serialize};

use super::model::TemplateContent;

/// Default largest shrink (in % of the live version's entries) applied without an operator.
pub const DEFAULT_MAX_SHRINK_PERCENT: u8 = 20;

/// What the guard decides about a candidate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", content = "reason", rename_all = "snake_case")]
pub enum Verdict {
    Accept,
    Quarantine(String),
}

/// `candidate` is the adapter's result (`Err` carries why it could not be parsed); `live` the
/// version in force; `max_shrink_percent` the threshold (0–100).
pub fn check(
    candidate: Result<&TemplateContent, &str>,
    live: Option<&TemplateContent>,
    max_shrink_percent: u8,
) -> Verdict {
    let c = match candidate {
        Ok(c) => c,
        Err(why) => return Verdict::Quarantine(format!("unparsable: {why}")),
    };
    let n = c.entries();
    if c.sets.is_empty() || n == 0 {
        return Verdict::Quarantine("empty: no hosts and no ranges".into());
    }
    if let Some(live) = live {
        let before = live.entries();
        let pct = u64::from(max_shrink_percent.min(100));
        // n < before × (100 − pct) / 100, in integers.
        if (n as u64) * 100 < (before as u64) * (100 - pct) {
            let lost = (before - n) * 100 / before.max(1);
            return Verdict::Quarantine(format!(
                "shrunk from {before} to {n} entries ({lost}% fewer; more than {pct}% needs an \
                 operator's approval)"
            ));
        }
    }
    Verdict::Accept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::m365::template;

    const M365: &str = include_str!("../../../tests/fixtures/m365-worldwide-endpoints.json");

    #[test]
    fn empty_unparsable_and_shrunk_are_quarantined() {
        let live = template(M365, "1").expect("parses");
        assert_eq!(check(Ok(&live), Some(&live), 20), Verdict::Accept);
        assert_eq!(check(Ok(&live), None, 20), Verdict::Accept);
        let empty = template("[]", "2").expect("parses");
        assert!(
            matches!(check(Ok(&empty), Some(&live), 20), Verdict::Quarantine(r) if r.starts_with("empty"))
        );
        assert!(
            matches!(check(Err("eof"), Some(&live), 20), Verdict::Quarantine(r) if r.contains("eof"))
        );
        let mut half = live.clone();
        half.sets.truncate(live.sets.len() / 2);
        match check(Ok(&half), Some(&live), 20) {
            Verdict::Quarantine(r) => assert!(r.starts_with("shrunk from"), "{r}"),
            v => panic!("{v:?}"),
        }
        // The threshold is configurable.
        assert_eq!(check(Ok(&half), Some(&live), 100), Verdict::Accept);
    }

    #[test]
    fn a_small_shrink_passes() {
        let live = template(M365, "1").expect("parses");
        let mut fewer = live.clone();
        fewer.sets[0].hosts.pop();
        assert_eq!(check(Ok(&fewer), Some(&live), 20), Verdict::Accept);
    }
}
