//! `to_yaml` read back by a real YAML 1.2 parser (yaml-rust2) gives the JSON it was made from,
//! over values chosen to trip an emitter: strings that look like numbers, booleans or null
//! (in YAML 1.1 or 1.2), indicators, `: ` and ` #`, multi-line text, control characters,
//! unicode, empty and nested collections, keys as odd as the values.

use serde_json::{json, Map, Number, Value};
use yaml_rust2::{Yaml, YamlLoader};

use super::to_yaml;

/// A parsed YAML node as JSON (a YAML integer or float as the JSON number it spells).
fn to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::Number(Number::from(*i)),
        Yaml::Real(s) => serde_json::from_str::<Number>(s)
            .map(Value::Number)
            .unwrap_or_else(|_| Value::String(format!("<real {s}>"))),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        Yaml::Hash(h) => {
            let mut m = Map::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    other => format!("<non-string key {other:?}>"),
                };
                m.insert(key, to_json(v));
            }
            Value::Object(m)
        }
        other => Value::String(format!("<{other:?}>")),
    }
}

fn round_trip(v: &Value) {
    let text = to_yaml(v);
    let docs =
        YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("not YAML ({e}):\n{text}"));
    assert_eq!(docs.len(), 1, "one document:\n{text}");
    assert_eq!(&to_json(&docs[0]), v, "read back differs:\n{text}");
}

const TRICKY: &[&str] = &[
    "",
    " ",
    "  lead",
    "trail ",
    "plain text",
    "null",
    "Null",
    "NULL",
    "~",
    "true",
    "True",
    "FALSE",
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "n",
    "0",
    "-1",
    "+1",
    "1.5",
    "1e3",
    ".5",
    "0x1F",
    "0o17",
    "012",
    "1_000",
    ".inf",
    "-.inf",
    ".NaN",
    "nan",
    "inf",
    "2026-12-03",
    "12:30",
    "1:2:3",
    "-",
    "--",
    "---",
    "...",
    "- item",
    "-dash",
    "?",
    "? q",
    ":",
    "a:b",
    "a: b",
    "a:",
    "key: value # no",
    "#comment",
    "x #y",
    "x#y",
    "&anchor",
    "*alias",
    "!tag",
    "!!str",
    "|",
    ">",
    "'single'",
    "\"double\"",
    "%directive",
    "@at",
    "`tick",
    "[a]",
    "{a: 1}",
    "a, b",
    "a,b",
    "[",
    "]",
    "{",
    "}",
    ",",
    "line\nbreak",
    "trailing\n",
    "\n",
    "\r\n",
    "tab\there",
    "\t",
    "bell\u{7}",
    "nul\u{0}",
    "del\u{7f}",
    "\u{85}next",
    "\u{2028}sep",
    "\u{feff}bom",
    "日本語のテキスト",
    "émigré",
    "emoji 🚀",
    "back\\slash",
    "*.example.net",
    "10.0.0.0/8",
    "upstream:corp",
    "http://example.net:8080/x?y=1#z",
    "a\"b'c",
    "=",
    "<<",
];

#[test]
fn tricky_strings_as_values_keys_and_items() {
    for s in TRICKY {
        round_trip(&json!(s));
        round_trip(&json!({ "k": s }));
        round_trip(&json!([s]));
        round_trip(&json!([{ "k": s, "z": [s] }]));
        if !s.is_empty() {
            round_trip(&json!({ s.to_string(): s }));
        }
    }
}

#[test]
fn numbers_booleans_null_and_empty_collections() {
    round_trip(&json!({
        "zero": 0, "neg": -7, "big": i64::MAX, "small": i64::MIN, "float": 1.5,
        "tiny": 1e-7, "t": true, "f": false, "none": null,
        "empty_list": [], "empty_map": {}, "list_of_empties": [[], {}, [[]], [{}]],
    }));
    round_trip(&json!([]));
    round_trip(&json!({}));
    round_trip(&json!(null));
    round_trip(&json!(3));
}

#[test]
fn deep_nesting_of_maps_and_lists() {
    let v = json!({
        "items": [
            { "id": "acme", "regions": [{ "region": "tokyo", "counts": { "dns_error": 1 } }],
              "nested": [[1, [2, [3, {}]]], { "a": { "b": { "c": [] } } }] },
            [["x"], { "-": "-" }],
            "after",
        ],
        "node_id": 2,
    });
    round_trip(&v);
}

#[test]
fn a_key_longer_than_yaml_allows_implicitly_is_written_explicitly() {
    let long = "k".repeat(2000);
    round_trip(&json!({ long.clone(): 1, "short": [{ long.clone(): { "x": long } }] }));
}
