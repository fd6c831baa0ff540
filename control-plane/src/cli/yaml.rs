//! `-o yaml`: the server's JSON answer written as block-style YAML 1.2. Pure: a JSON value in,
//! text out. Every JSON document is a YAML document, so this only has to be readable and exact:
//! strings that a YAML reader could take for something else (numbers, booleans, null, text
//! with `: `, leading indicators, surrounding spaces, control characters) are written
//! double-quoted with JSON's escapes, which YAML's double-quoted style shares.

use serde_json::Value;

/// `v` as a YAML document ending in a newline.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Array(a) if !a.is_empty() => seq(&mut out, a, 0),
        Value::Object(o) if !o.is_empty() => map(&mut out, o, 0),
        scalar => {
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn map(out: &mut String, o: &serde_json::Map<String, Value>, depth: usize) {
    for (k, v) in o {
        indent(out, depth);
        key(out, k, depth);
        nested(out, v, depth + 2);
    }
}

/// `key:` (the caller indented it), or for a key too long to be implicit `? key` and `:` on
/// the next line at `depth`.
fn key(out: &mut String, k: &str, depth: usize) {
    let k = string(k);
    if k.chars().count() > IMPLICIT_KEY_MAX {
        out.push_str("? ");
        out.push_str(&k);
        out.push('\n');
        indent(out, depth);
    } else {
        out.push_str(&k);
    }
    out.push(':');
}

fn seq(out: &mut String, a: &[Value], depth: usize) {
    for v in a {
        indent(out, depth);
        out.push('-');
        match v {
            // A mapping starts on the dash's line: `- key: value`, the rest aligned under it.
            Value::Object(o) if !o.is_empty() => {
                let mut first = true;
                for (k, item) in o {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        indent(out, depth + 2);
                    }
                    key(out, k, depth + 2);
                    nested(out, item, depth + 4);
                }
            }
            other => nested(out, other, depth + 2),
        }
    }
}

/// After `key:` or `-`: a scalar on the same line, a collection on the next lines.
fn nested(out: &mut String, v: &Value, depth: usize) {
    match v {
        Value::Object(o) if !o.is_empty() => {
            out.push('\n');
            map(out, o, depth);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            seq(out, a, depth);
        }
        scalar => {
            out.push(' ');
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
}

fn inline(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A string plain when a YAML 1.1 or 1.2 reader reads it back as the same string, else
/// double-quoted.
fn string(s: &str) -> String {
    if plain_ok(s) {
        s.to_string()
    } else {
        quoted(s)
    }
}

/// Double-quoted with escapes for everything outside YAML's printable set (C0 and C1 controls,
/// DEL, the Unicode line and paragraph separators, BOMs, non-characters), which JSON's quoting
/// would leave raw: a YAML reader refuses some of those and folds others into line breaks.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if printable(c) => out.push(c),
            c if (c as u32) <= 0xFF => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if (c as u32) <= 0xFFFF => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// YAML 1.2's `c-printable`, less the characters a reader may take for a line break (NEL,
/// LS, PS) and the byte-order mark.
fn printable(c: char) -> bool {
    matches!(c as u32, 0x20..=0x7E | 0xA0..=0x2027 | 0x202A..=0xD7FF | 0xE000..=0xFEFE | 0xFF00..=0xFFFD | 0x1_0000..=0x10_FFFF)
}

/// Longest key written as an implicit key (`key: value`); YAML allows 1024 characters, a
/// longer key is written explicitly (`? key` then `: value`).
const IMPLICIT_KEY_MAX: usize = 1000;

fn plain_ok(s: &str) -> bool {
    const WORDS: [&str; 12] = [
        "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n", "=", "<<",
    ];
    let Some(first) = s.chars().next() else {
        return false;
    };
    if WORDS.iter().any(|w| s.eq_ignore_ascii_case(w))
        || s.trim() != s
        || "-?:,[]{}#&*!|>'\"%@`.+0123456789".contains(first)
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
    {
        return false;
    }
    s.chars().all(printable)
}

#[cfg(test)]
mod roundtrip;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_maps_and_sequences_in_block_style() {
        let v = json!({
            "version": 7,
            "items": [{"item": "microsoft365", "live": null, "tags": ["a", "b"]}, 3],
            "empty": [], "none": {},
        });
        // serde_json keeps keys sorted (no preserve_order feature).
        let expected = "empty: []\n\
            items:\n  \
            - item: microsoft365\n    live: null\n    tags:\n      - a\n      - b\n  \
            - 3\n\
            none: {}\n\
            version: 7\n";
        assert_eq!(to_yaml(&v), expected);
    }

    #[test]
    fn strings_a_reader_would_misread_are_quoted() {
        for (s, out) in [
            ("plain text", "plain text"),
            ("*.example.net", "\"*.example.net\""),
            ("10.0.0.0/8", "\"10.0.0.0/8\""),
            ("true", "\"true\""),
            ("No", "\"No\""),
            ("", "\"\""),
            ("a: b", "\"a: b\""),
            (" lead", "\" lead\""),
            ("line\nbreak", "\"line\\nbreak\""),
            ("upstream:corp", "upstream:corp"),
            ("-dash", "\"-dash\""),
        ] {
            assert_eq!(string(s), out, "{s:?}");
        }
        assert_eq!(to_yaml(&json!("x")), "x\n");
        assert_eq!(to_yaml(&json!([])), "[]\n");
    }
}
