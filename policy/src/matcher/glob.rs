//! Label-bounded glob matching for wildcard patterns: `*` matches any run of characters (possibly
//! empty) inside one label and never crosses a dot.

/// Whether `host` has exactly as many labels as `pattern` and each host label matches the pattern
/// label in the same position. Splits on bytes (`str::split` showed in the lookup's profile).
pub(super) fn labels_match(pattern: &str, host: &str) -> bool {
    let (mut p, mut h) = (pattern.as_bytes(), host.as_bytes());
    loop {
        let p_dot = p.iter().position(|&c| c == b'.');
        let h_dot = h.iter().position(|&c| c == b'.');
        let p_label = &p[..p_dot.unwrap_or(p.len())];
        let h_label = &h[..h_dot.unwrap_or(h.len())];
        if !label_matches(p_label, h_label) {
            return false;
        }
        match (p_dot, h_dot) {
            (Some(a), Some(b)) => {
                p = &p[a + 1..];
                h = &h[b + 1..];
            }
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Classic single-backtrack wildcard match; O(|pattern| * |label|) worst case, and labels are at
/// most 63 bytes, so there is no pathological input.
fn label_matches(pattern: &[u8], label: &[u8]) -> bool {
    let (mut p, mut s) = (0, 0);
    // Position of the last `*` seen and the label position it currently absorbs up to.
    let mut star: Option<(usize, usize)> = None;
    while s < label.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, s));
                p += 1;
            }
            Some(&c) if c == label[s] => {
                p += 1;
                s += 1;
            }
            _ => match star {
                Some((star_p, star_s)) => {
                    p = star_p + 1;
                    s = star_s + 1;
                    star = Some((star_p, star_s + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_matches_within_one_label() {
        assert!(labels_match("*cdn", "cdn"));
        assert!(labels_match("*cdn", "xcdn"));
        assert!(!labels_match("*cdn", "cdnx"));
        assert!(!labels_match("*cdn", "a.xcdn"));
        assert!(labels_match("autodiscover.*", "autodiscover.contoso"));
        assert!(!labels_match("autodiscover.*", "autodiscover.a.b"));
        assert!(!labels_match("autodiscover.*", "autodiscover"));
        assert!(labels_match("a*b*c", "abc"));
        assert!(labels_match("a*b*c", "axxbyyc"));
        assert!(!labels_match("a*b*c", "axxbyy"));
        assert!(labels_match("*-files", "contoso-files"));
        assert!(!labels_match("*-files", "contoso-files-x"));
        assert!(labels_match("*.*", "a.b"));
        assert!(!labels_match("*.*", "a"));
    }
}
