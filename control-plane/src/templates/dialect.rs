//! Vendor wildcard dialects → `breakout_policy::Destination` strings.
//!
//! - Microsoft: `*.contoso.com` is every strict subdomain (→ `Destination::Suffix`); a `*` inside
//!   a label (`*-files.sharepoint.com`, `autodiscover.*.onmicrosoft.com`, `*cdn.onenote.net`)
//!   matches within that one label (→ `Destination::Pattern`, the same meaning).
//! - Google's help page: `*` is exactly one label. A mid-name `*` label (`a.*.example.com`) is a
//!   `Pattern` with the same meaning, and a leading `*.x` becomes the one-label pattern
//!   `[*].x` (`*.x` alone would be Microsoft's any-depth suffix).

use breakout_policy::Destination;

/// Which vendor wrote the entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Microsoft,
    Google,
}

/// The entry in canonical destination form, or why it cannot be one.
pub fn translate(dialect: Dialect, raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let dest: Destination = match dialect {
        Dialect::Microsoft => raw.parse().map_err(|e| format!("{e}"))?,
        Dialect::Google => {
            if raw.split('.').any(|l| l.contains('*') && l != "*") {
                return Err(format!(
                    "{raw:?}: in Google's dialect '*' stands for a whole label"
                ));
            }
            let one_label = raw.strip_prefix("*.").map(|rest| format!("[*].{rest}"));
            one_label
                .as_deref()
                .unwrap_or(raw)
                .parse()
                .map_err(|e| format!("{e}"))?
        }
    };
    Ok(dest.to_string())
}

/// Whether destination `wide` (a `*.suffix` or pattern, canonical) matches the exact host
/// `host` (canonical). Used to find hosts a direct wildcard would otherwise shadow.
pub fn covers(wide: &str, host: &str) -> bool {
    // `[*].x` is the pattern `*.x`: exactly one label.
    let one_label = wide.strip_prefix("[*].").map(|rest| format!("*.{rest}"));
    let wide = one_label.as_deref().unwrap_or(wide);
    if let Some(parent) = wide.strip_prefix("*.").filter(|_| one_label.is_none()) {
        if !parent.contains('*') {
            return host.len() > parent.len() + 1
                && host.ends_with(parent)
                && host.as_bytes()[host.len() - parent.len() - 1] == b'.';
        }
    }
    if !wide.contains('*') {
        return false;
    }
    let (w, h): (Vec<&str>, Vec<&str>) = (wide.split('.').collect(), host.split('.').collect());
    w.len() == h.len() && w.iter().zip(&h).all(|(p, l)| label_glob(p, l))
}

/// `*` matches zero or more characters inside one label.
fn label_glob(pattern: &str, label: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == label;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !label.starts_with(first) || label.len() < first.len() + last.len() {
        return false;
    }
    if !label.ends_with(last) {
        return false;
    }
    let Some(mut rest) = label.get(first.len()..label.len() - last.len()) else {
        return false;
    };
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsoft_prefix_and_mid_label_wildcards() {
        let t = |s| translate(Dialect::Microsoft, s).expect("translates");
        assert_eq!(t("*.SharePoint.com"), "*.sharepoint.com");
        assert_eq!(t("*-files.sharepoint.com"), "*-files.sharepoint.com");
        assert_eq!(
            t("autodiscover.*.onmicrosoft.com"),
            "autodiscover.*.onmicrosoft.com"
        );
        assert_eq!(t("*cdn.onenote.net"), "*cdn.onenote.net");
        assert!(translate(Dialect::Microsoft, "bad host!").is_err());
    }

    #[test]
    fn google_star_is_a_whole_label() {
        let t = |s| translate(Dialect::Google, s).expect("translates");
        assert_eq!(t("*.googleapis.com"), "[*].googleapis.com");
        assert!(covers("[*].googleapis.com", "www.googleapis.com"));
        assert!(!covers("[*].googleapis.com", "a.b.googleapis.com"));
        assert!(covers("*.googleapis.com", "a.b.googleapis.com"));
        assert_eq!(t("a.*.example.com"), "a.*.example.com");
        assert!(translate(Dialect::Google, "*-x.example.com").is_err());
    }

    #[test]
    fn covers_follows_the_matcher_forms() {
        assert!(covers("*.sharepoint.com", "contoso-files.sharepoint.com"));
        assert!(!covers("*.sharepoint.com", "sharepoint.com"));
        assert!(!covers("*.sharepoint.com", "fakesharepoint.com"));
        assert!(covers(
            "*-files.sharepoint.com",
            "contoso-files.sharepoint.com"
        ));
        assert!(!covers(
            "*-files.sharepoint.com",
            "a.contoso-files.sharepoint.com"
        ));
        assert!(covers(
            "autodiscover.*.onmicrosoft.com",
            "autodiscover.x.onmicrosoft.com"
        ));
        assert!(covers("*cdn.onenote.net", "cdn.onenote.net"));
        assert!(!covers("*cdn.onenote.net", "cdnx.onenote.net"));
        assert!(!covers("exact.example.com", "exact.example.com"));
    }
}
