//! What a client's command may carry: the rules for ids and free text, checked once when the
//! API proposes a command ([`super::Command::check_input`]), never when the log is replayed. An
//! entry already in the log was accepted under the rules of its day and must replay to the
//! same state, so a rule added here never changes what an old log means.
//!
//! Two layers: every string anywhere in a command (values and map keys, found by walking the
//! command's serde form) is bounded and free of control characters, so no field can carry a
//! megabyte of text whatever command it is in; and the fields that name a new object (a
//! tenant, region, list, upstream, token or webhook id) must be an [id](check_id), so that
//! every object can be addressed in a URL path and in a metric label.

use serde::Serialize;
use serde_json::Value;

use super::step::{Reject, Step};

/// Longest id, in bytes (a DNS label's length).
pub const ID_MAX: usize = 63;

/// The id rule as messages and docs state it.
pub const ID_RULE: &str = "1-63 characters of a-z, 0-9, '.', '_' and '-', starting with a \
                           letter or digit, without \"..\"";

/// Longest string of any kind in a command (a webhook URL is the longest legitimate one).
pub const STRING_MAX: usize = 2048;

/// Longest map key in a command (names: lists, upstreams, prices).
pub const KEY_MAX: usize = ID_MAX;

/// Longest description (regions).
pub const DESCRIPTION_MAX: usize = 256;

/// Longest label or display name (token labels, rule names, template groups).
pub const LABEL_MAX: usize = 128;

/// Longest `host:port` (a 253-byte host, a colon, five digits).
pub const HOST_PORT_MAX: usize = 261;

/// An id: `[a-z0-9][a-z0-9._-]{0,62}` without `..`. `field` is where it came from and `what`
/// names the kind of object (`tenant id`), for the message.
pub fn check_id(field: &str, what: &str, value: &str) -> Step {
    let bytes = value.as_bytes();
    let ok = (1..=ID_MAX).contains(&bytes.len())
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(b))
        && !value.contains("..");
    if ok {
        return Ok(());
    }
    Err(Reject::invalid(format!(
        "{field}: {what} {} is not a valid id: ids are {ID_RULE}",
        shown(value)
    )))
}

/// Free text of at most `max` bytes without control characters (line breaks included: every
/// such field is shown on one line).
pub fn check_text(field: &str, value: &str, max: usize) -> Step {
    if value.len() > max {
        return Err(Reject::invalid(format!(
            "{field}: {} bytes; at most {max} are allowed",
            value.len()
        )));
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(Reject::invalid(format!(
            "{field}: contains the control character {c:?}; control characters are not allowed"
        )));
    }
    Ok(())
}

/// Every string in `value`'s serde form, map keys included, within [`STRING_MAX`] (keys
/// [`KEY_MAX`]) bytes and free of control characters. The message names the field by its path
/// (`command.tenant.rules[2].name`).
pub fn check_strings<T: Serialize>(value: &T) -> Step {
    // Our command types always serialize (string keys, no non-finite floats).
    let value = serde_json::to_value(value)
        .map_err(|e| Reject::invalid(format!("the request cannot be encoded: {e}")))?;
    walk(&value, &mut String::from("command"))
}

fn walk(value: &Value, path: &mut String) -> Step {
    match value {
        Value::String(s) => check_text(path, s, STRING_MAX),
        Value::Array(items) => items.iter().enumerate().try_for_each(|(i, item)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let step = walk(item, path);
            path.truncate(len);
            step
        }),
        Value::Object(fields) => fields.iter().try_for_each(|(key, item)| {
            let len = path.len();
            if key.len() > KEY_MAX {
                return Err(Reject::invalid(format!(
                    "{path}: the name {} is {} bytes long; names are at most {KEY_MAX}",
                    shown(key),
                    key.len()
                )));
            }
            check_text(&format!("{path}.{}", shown(key)), key, KEY_MAX)?;
            path.push('.');
            path.push_str(key);
            let step = walk(item, path);
            path.truncate(len);
            step
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

/// A value quoted for a message, cut to a readable length.
fn shown(value: &str) -> String {
    const SHOW: usize = 40;
    if value.chars().count() <= SHOW {
        return format!("{value:?}");
    }
    let head: String = value.chars().take(SHOW).collect();
    format!("{head:?}… ({} bytes)", value.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_lowercase_names_without_dot_dot() {
        for good in [
            "acme",
            "a",
            "t00",
            "tokyo-1",
            "a.b",
            "a_b",
            "0",
            &"x".repeat(63),
        ] {
            assert!(check_id("id", "tenant id", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "..",
            ".",
            "a..b",
            ".hidden",
            "-a",
            "_a",
            "Acme",
            "a b",
            "a/b",
            "a%2F",
            "é",
            &"x".repeat(64),
        ] {
            let err = check_id("id", "tenant id", bad).expect_err(bad);
            assert!(err.message.contains(ID_RULE), "{}", err.message);
            assert!(err.message.starts_with("id: tenant id "), "{}", err.message);
        }
    }

    #[test]
    fn text_is_bounded_and_one_line() {
        assert!(check_text("description", "Tokyo, primary", 256).is_ok());
        let long = check_text("description", &"x".repeat(257), 256).unwrap_err();
        assert_eq!(
            long.message,
            "description: 257 bytes; at most 256 are allowed"
        );
        let nl = check_text("label", "a\nb", 128).unwrap_err();
        assert!(nl.message.contains("control character"), "{}", nl.message);
    }

    #[test]
    fn every_string_and_key_of_a_value_is_bounded() {
        let ok = serde_json::json!({"a": ["x", {"b": "y"}], "n": 1});
        assert!(check_strings(&ok).is_ok());
        let deep = serde_json::json!({"a": [{"b": "x".repeat(STRING_MAX + 1)}]});
        let err = check_strings(&deep).unwrap_err();
        assert!(
            err.message.starts_with("command.a[0].b: 2049 bytes"),
            "{}",
            err.message
        );
        let key = serde_json::json!({"lists": {"k".repeat(64): []}});
        let err = check_strings(&key).unwrap_err();
        assert!(
            err.message.starts_with("command.lists: the name"),
            "{}",
            err.message
        );
        let ctl = serde_json::json!({"d": "bell\u{7}"});
        assert!(check_strings(&ctl).is_err());
    }
}
