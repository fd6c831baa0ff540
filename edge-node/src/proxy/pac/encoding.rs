//! `Accept-Encoding` (RFC 9110 §12.5.3), read for the one choice the PAC endpoint has: the
//! gzip-compressed file or the file as rendered. Pure: headers in, a choice out.

use http::{header, HeaderMap};

/// A qvalue in thousandths: `q=0.5` is 500, no `q` is 1000.
type Q = u16;

/// True when the request accepts gzip (`gzip`, its alias `x-gzip`, or `*`, with a qvalue above
/// 0) and does not weigh the uncompressed file (`identity`) higher. A tie goes to gzip: it is
/// the smaller answer. No `Accept-Encoding` at all, or an empty one, means uncompressed.
pub fn wants_gzip(headers: &HeaderMap) -> bool {
    let mut gzip: Option<Q> = None;
    let mut identity: Option<Q> = None;
    let mut any: Option<Q> = None;
    let elements = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for element in elements {
        let Some((coding, q)) = parse_element(element) else {
            continue;
        };
        let slot = match coding.as_str() {
            "gzip" | "x-gzip" => &mut gzip,
            "identity" => &mut identity,
            "*" => &mut any,
            _ => continue,
        };
        // Listed twice: the more favourable weight wins, as no order is implied.
        *slot = Some(slot.map_or(q, |old| old.max(q)));
    }
    let gzip = gzip.or(any).unwrap_or(0);
    // The uncompressed file is always acceptable unless excluded, but only a weight the client
    // gave it (`identity;q=…`, or `*;q=…` without an `identity` entry) can rank it above gzip:
    // `gzip;q=0.5` alone still asks for gzip.
    let identity = identity.or(any).unwrap_or(0);
    gzip > 0 && gzip >= identity
}

/// `coding [ OWS ";" OWS "q=" qvalue ]`, the coding lowercased. `None` for an empty element or
/// a malformed weight (such an element is ignored, not guessed at).
fn parse_element(element: &str) -> Option<(String, Q)> {
    let mut parts = element.split(';');
    let coding = parts.next()?.trim().to_ascii_lowercase();
    if coding.is_empty() {
        return None;
    }
    let mut q = 1000;
    for param in parts {
        let (name, value) = param.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("q") {
            q = parse_qvalue(value.trim())?;
        }
    }
    Some((coding, q))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn parse_qvalue(s: &str) -> Option<Q> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: Q = format!("{frac:0<3}").parse().ok()?;
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn wants(values: &[&'static str]) -> bool {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
        }
        wants_gzip(&h)
    }

    #[test]
    fn gzip_listed_with_a_positive_weight_is_used() {
        assert!(wants(&["gzip"]));
        assert!(wants(&["deflate, gzip, br"]));
        assert!(wants(&["GZip;Q=0.5"]));
        assert!(wants(&["x-gzip"]));
        assert!(wants(&["br", "gzip ; q=1.000"]));
        assert!(wants(&["*"]));
    }

    #[test]
    fn gzip_with_weight_zero_or_not_acceptable_is_not_used() {
        assert!(!wants(&[]));
        assert!(!wants(&[""]));
        assert!(!wants(&["gzip;q=0"]));
        assert!(!wants(&["gzip;q=0.000"]));
        assert!(!wants(&["br, deflate"]));
        assert!(!wants(&["identity"]));
        assert!(!wants(&["*;q=0.5, gzip;q=0"]));
        assert!(!wants(&["*, gzip;q=0"]));
    }

    #[test]
    fn the_uncompressed_file_wins_when_preferred() {
        assert!(!wants(&["gzip;q=0.5, identity"]));
        assert!(wants(&["gzip;q=0.5, identity;q=0.4"]));
        assert!(wants(&["gzip;q=0.001, *;q=0"]));
        assert!(wants(&["identity;q=0, gzip;q=0.1"]));
    }

    #[test]
    fn malformed_weights_are_ignored() {
        assert!(!wants(&["gzip;q=2"]));
        assert!(!wants(&["gzip;q=0.5000"]));
        assert!(!wants(&["gzip;q=1.5"]));
        assert!(!wants(&["gzip;q=abc"]));
        assert!(!wants(&["gzip;q"]));
        assert!(wants(&["gzip;q=bad, gzip"]));
        assert!(!wants(&["gzip;q=.5"]));
    }

    #[test]
    fn qvalues_parse_exactly() {
        assert_eq!(parse_qvalue("0"), Some(0));
        assert_eq!(parse_qvalue("0."), Some(0));
        assert_eq!(parse_qvalue("0.5"), Some(500));
        assert_eq!(parse_qvalue("0.05"), Some(50));
        assert_eq!(parse_qvalue("0.123"), Some(123));
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue("1.0"), Some(1000));
        assert_eq!(parse_qvalue("1.001"), None);
        assert_eq!(parse_qvalue("-0"), None);
        assert_eq!(parse_qvalue(""), None);
    }
}
