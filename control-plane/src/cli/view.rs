//! Reading the API's JSON answers for display. Lenient on purpose: a field the server leaves out
//! prints as `-` rather than failing the command, and `-o json` shows the answer as it came.

use serde_json::Value;

/// `v[key]`, or `null` when absent.
pub fn get<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key).unwrap_or(&Value::Null)
}

/// A cell: strings bare, numbers and booleans as written, arrays joined with `,`, absent as `-`.
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "-".into(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// `text(v[key])`.
pub fn field(v: &Value, key: &str) -> String {
    text(get(v, key))
}

/// The `items` of a list answer (`{version, items: […]}`), or the answer itself if it is an
/// array.
pub fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) => a,
        _ => get(v, "items").as_array().map(Vec::as_slice).unwrap_or(&[]),
    }
}

/// The tenant inside a write answer (`{version, tenant}`) or a `TenantView` (the tenant's
/// fields, possibly under `tenant`, next to `created_version` and `changed_version`).
pub fn tenant(v: &Value) -> &Value {
    match v.get("tenant") {
        Some(t) if t.is_object() => t,
        _ => v,
    }
}

/// The tenant's `changed_version` (for `If-Match`), wherever the view puts it.
pub fn changed_version(v: &Value) -> Option<u64> {
    get(v, "changed_version")
        .as_u64()
        .or_else(|| get(tenant(v), "changed_version").as_u64())
}

/// The store version a write answered with.
pub fn version(v: &Value) -> String {
    field(v, "version")
}

/// The strings of an array field (`source_cidrs`, `entries`), skipping anything else.
pub fn strings(v: &Value, key: &str) -> Vec<String> {
    get(v, key)
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn absent_and_empty_values_print_as_a_dash() {
        let v = json!({"a": null, "b": [], "c": ["x", 2], "d": 7, "e": "s"});
        let got: Vec<_> = ["a", "b", "c", "d", "e", "zz"]
            .iter()
            .map(|k| field(&v, k))
            .collect();
        assert_eq!(got, ["-", "-", "x,2", "7", "s", "-"]);
    }

    #[test]
    fn tenant_and_version_are_found_nested_or_flat() {
        let flat = json!({"id": "acme", "changed_version": 9});
        let nested = json!({"tenant": {"id": "acme"}, "changed_version": 9});
        let answer = json!({"version": 10, "tenant": {"id": "acme", "changed_version": 10}});
        assert_eq!(field(tenant(&flat), "id"), "acme");
        assert_eq!(field(tenant(&nested), "id"), "acme");
        assert_eq!(changed_version(&flat), Some(9));
        assert_eq!(changed_version(&nested), Some(9));
        assert_eq!(changed_version(&answer), Some(10));
    }

    #[test]
    fn items_come_from_the_envelope_or_a_bare_array() {
        assert_eq!(items(&json!({"version": 1, "items": [1, 2]})).len(), 2);
        assert_eq!(items(&json!([1])).len(), 1);
        assert!(items(&json!({"version": 1})).is_empty());
    }
}
