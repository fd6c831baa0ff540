//! CSV (RFC 4180): a header row, CRLF line ends, a field quoted when it holds a comma, a double
//! quote, CR or LF, its quotes doubled.

use super::Entry;

const HEADER: [&str; 5] = ["action", "kind", "value", "source", "ports"];

/// A header and one row per entry; `ports` is space-separated (empty: every port).
pub fn render_csv(entries: &[&Entry]) -> String {
    let mut out = String::new();
    row(&mut out, HEADER.iter().map(|s| s.to_string()));
    for e in entries {
        let ports: Vec<String> = e.ports.iter().map(u16::to_string).collect();
        row(
            &mut out,
            [
                e.action.clone(),
                e.kind.as_str().to_string(),
                e.dest.to_string(),
                e.source.clone(),
                ports.join(" "),
            ]
            .into_iter(),
        );
    }
    out
}

fn row(out: &mut String, fields: impl Iterator<Item = String>) {
    for (i, f) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&field(&f));
    }
    out.push_str("\r\n");
}

/// One field, quoted if RFC 4180 requires it.
pub(super) fn field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
