//! `list ls|show|set|patch|delete`: a tenant's named destination lists.

use std::path::Path;

use breakout_policy::Destination;
use serde_json::{json, Value};

use super::{read_input, Invocation};
use crate::cli::args::ListCmd;
use crate::cli::client::Call;
use crate::cli::error::CliError;
use crate::cli::table::Table;
use crate::cli::view::strings;

pub async fn run(inv: &Invocation, cmd: ListCmd) -> Result<(), CliError> {
    match cmd {
        ListCmd::Ls { id } => {
            let answer = inv
                .send(Call::get(&["v1", "tenants", &id, "lists"]))
                .await?;
            inv.show(&answer, render_lists);
        }
        ListCmd::Show { id, name } => {
            let answer = inv
                .send(Call::get(&["v1", "tenants", &id, "lists", &name]))
                .await?;
            inv.show(&answer, render_entries);
        }
        ListCmd::Set {
            id,
            name,
            entries,
            file,
            if_match,
        } => {
            let entries = match file {
                Some(path) => entries_from_file(&path, &read_input(&path)?)?,
                None => entries,
            };
            let n = entries.len();
            let call = Call::put(&["v1", "tenants", &id, "lists", &name], json!(entries));
            let answer = inv.send(call.if_match(if_match.version)).await?;
            inv.done(
                &answer,
                &format!("tenant {id}: list {name} set to {n} entries"),
            );
        }
        ListCmd::Patch {
            id,
            name,
            add,
            remove,
            if_match,
        } => {
            let (a, r) = (add.len(), remove.len());
            let body = json!({ "add": add, "remove": remove });
            let call = Call::patch(&["v1", "tenants", &id, "lists", &name], body);
            let answer = inv.send(call.if_match(if_match.version)).await?;
            inv.done(
                &answer,
                &format!("tenant {id}: list {name}: {a} added, {r} removed"),
            );
        }
        ListCmd::Delete { id, name, if_match } => {
            let call = Call::delete(&["v1", "tenants", &id, "lists", &name]);
            let answer = inv.send(call.if_match(if_match.version)).await?;
            inv.done(&answer, &format!("tenant {id}: list {name} deleted"));
        }
    }
    Ok(())
}

/// A list file's entries: JSON (`[...]` or `{"entries": [...]}`), or text with one entry a
/// line, blank lines and `#` comments ignored. Each entry is checked with the model's parser so
/// that the error names the line.
pub fn entries_from_file(path: &Path, text: &str) -> Result<Vec<String>, CliError> {
    let bad = |what: String| CliError::Usage(format!("{}: {what}", path.display()));
    let trimmed = text.trim_start();
    let raw: Vec<(usize, String)> = if trimmed.starts_with('[') || trimmed.starts_with('{') {
        let v: Value = serde_json::from_str(text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        let list = if v.is_array() {
            json!({ "entries": v })
        } else {
            v
        };
        let entries = list
            .get("entries")
            .and_then(Value::as_array)
            .ok_or_else(
                || bad("expected a JSON array of entries or {\"entries\": [...]}".into()),
            )?;
        let mut out = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let s = e
                .as_str()
                .ok_or_else(|| bad(format!("entries[{i}] is not a string")))?;
            out.push((i, s.to_string()));
        }
        out
    } else {
        text.lines()
            .enumerate()
            .map(|(i, l)| (i, l.split('#').next().unwrap_or("").trim().to_string()))
            .filter(|(_, l)| !l.is_empty())
            .collect()
    };
    let json_input = trimmed.starts_with('[') || trimmed.starts_with('{');
    raw.into_iter()
        .map(|(i, s)| {
            s.parse::<Destination>()
                .map(|d| d.to_string())
                .map_err(|e| {
                    let at = if json_input {
                        format!("entries[{i}]")
                    } else {
                        format!("line {}", i + 1)
                    };
                    bad(format!("{at}: {}", e.message))
                })
        })
        .collect()
}

/// Each list with its number of entries (`{name: {entries: [...]}}`).
pub fn render_lists(answer: &Value) -> String {
    let mut t = Table::new(&["NAME", "ENTRIES"]);
    if let Some(lists) = answer.as_object() {
        for (name, l) in lists {
            t.row(vec![name.clone(), strings(l, "entries").len().to_string()]);
        }
    }
    t.render()
}

/// The entries, one per line, ready to edit and `list set --file` back.
pub fn render_entries(answer: &Value) -> String {
    let entries = match answer {
        Value::Array(_) => strings(&json!({ "entries": answer }), "entries"),
        _ => strings(answer, "entries"),
    };
    entries.iter().map(|e| format!("{e}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_files_skip_comments_and_canonicalise() {
        let text =
            "# Microsoft 365\nOutlook.Office.com\n\n*.sharepoint.com  # wildcard\n192.0.2.7\n";
        let got = entries_from_file(Path::new("m365.txt"), text).unwrap();
        assert_eq!(got, ["outlook.office.com", "*.sharepoint.com", "192.0.2.7"]);
    }

    #[test]
    fn json_files_may_be_bare_or_wrapped() {
        let bare = entries_from_file(Path::new("a.json"), r#"["a.example"]"#).unwrap();
        let wrapped =
            entries_from_file(Path::new("a.json"), r#"{"entries": ["a.example"]}"#).unwrap();
        assert_eq!(bare, wrapped);
    }

    #[test]
    fn a_bad_entry_names_its_line() {
        let err = entries_from_file(Path::new("l.txt"), "ok.example\n\nfe80::/10\n").unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string()
                .starts_with("l.txt: line 3: destination \"fe80::/10\""),
            "{err}"
        );
        let err = entries_from_file(Path::new("l.json"), r#"["ok.example", 7]"#).unwrap_err();
        assert_eq!(err.to_string(), "l.json: entries[1] is not a string");
    }

    #[test]
    fn lists_and_entries_render_for_people_and_pipes() {
        let lists =
            json!({"blocklist": {"entries": ["a.example", "b.example"]}, "m365": {"entries": []}});
        assert_eq!(
            render_lists(&lists),
            "NAME       ENTRIES\nblocklist  2\nm365       0\n"
        );
        assert_eq!(
            render_entries(&json!({"entries": ["a.example", "*.b.example"]})),
            "a.example\n*.b.example\n"
        );
    }
}
