//! The control plane's imports point down: `docs/architecture.md` lists its modules in layers
//! (between the `control-plane layers` markers, top first), and this test reads every source
//! file of the crate and checks that
//! - a module imports only modules of lower layers (or itself),
//! - modules of the same layer do not import each other (parts of one module listed on one
//!   line, such as `templates::poll` and `templates::args`, may),
//! - within a module, its files do not import each other in a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path inside the crate, e.g. `["state", "tenants"]`.
type ModPath = Vec<String>;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The layers as `docs/architecture.md` lists them, top first; each a set of units (`api`,
/// `templates::poll`).
fn layers() -> Vec<Vec<String>> {
    let path = crate_dir().join("../docs/architecture.md");
    let doc = std::fs::read_to_string(&path).expect("docs/architecture.md");
    let start = doc
        .find("<!-- control-plane layers -->")
        .expect("the control-plane layers marker in docs/architecture.md");
    let end = doc[start..]
        .find("<!-- /control-plane layers -->")
        .expect("the end marker")
        + start;
    doc[start..end]
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .map(|l| {
            // `- `api` — what it is`: the units are the backquoted words before the dash.
            let units = l.split(" — ").next().unwrap_or_default();
            units
                .split(',')
                .map(|u| u.trim().trim_matches('`').to_string())
                .filter(|u| !u.is_empty())
                .collect()
        })
        .collect()
}

/// Every `.rs` file under `src/` except the binaries, with its module path.
fn sources() -> Vec<(ModPath, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    let src = crate_dir().join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files
        .into_iter()
        .filter(|p| !p.starts_with(src.join("bin")))
        .map(|p| {
            let rel = p.strip_prefix(&src).expect("under src");
            let mut parts: ModPath = rel
                .with_extension("")
                .iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
                parts.pop();
            }
            (parts, std::fs::read_to_string(&p).expect("read"))
        })
        .collect()
}

/// The source without comments and string literals.
fn strip(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            i += 2;
            while i < b.len() && !b[i..].starts_with(b"*/") {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && i + 2 < b.len() && (b[i + 2] == b'\'' || b[i + 1] == b'\\') {
            // A char literal ('x', '\n'); lifetimes have no closing quote two bytes on.
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.split_whitespace().collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.len() - 1];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(p).into_iter().map(move |q| format!("{prefix}{q}")))
        .collect()
}

/// The crate paths `code` (of module `module`) names: `use` trees and inline `crate::`/`super::`
/// paths, resolved to absolute module paths. Inline `mod name { … }` blocks are followed.
fn imports(module: &ModPath, code: &str) -> BTreeSet<ModPath> {
    let mut found = BTreeSet::new();
    // Which module each byte belongs to: inline `mod x {` blocks nest.
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut depth = 0usize;
    let bytes = code.as_bytes();
    let mut i = 0;
    let ident = |s: &str| {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect::<String>()
    };
    while i < bytes.len() {
        let rest = &code[i..];
        let at_word = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if bytes[i] == b'{' {
            depth += 1;
        } else if bytes[i] == b'}' {
            depth = depth.saturating_sub(1);
            if stack.last().is_some_and(|(d, _)| *d == depth) {
                stack.pop();
            }
        } else if at_word && rest.starts_with("mod ") {
            let name = ident(rest[4..].trim_start());
            let after = rest[4..].trim_start()[name.len()..].trim_start();
            if after.starts_with('{') {
                stack.push((depth, name));
            }
        }
        let current: ModPath = module
            .iter()
            .cloned()
            .chain(stack.iter().map(|(_, n)| n.clone()))
            .collect();
        let mut paths = Vec::new();
        if at_word && rest.starts_with("use ") {
            let end = rest.find(';').unwrap_or(rest.len());
            paths = expand(&rest[4..end]);
            i += end;
        } else if at_word && (rest.starts_with("crate::") || rest.starts_with("super::")) {
            let len = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            paths.push(rest[..len].to_string());
            i += len;
        } else {
            i += 1;
        }
        for p in paths {
            if let Some(abs) = resolve(&current, &p) {
                found.insert(abs);
            }
        }
    }
    found
}

/// `crate::a::b` / `super::x` / `self::x` from `current` → absolute; external paths → None.
fn resolve(current: &ModPath, path: &str) -> Option<ModPath> {
    let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let (mut base, rest) = match *segs.first()? {
        "crate" => (Vec::new(), &segs[1..]),
        "self" => (current.clone(), &segs[1..]),
        "super" => {
            let mut base = current.clone();
            let mut n = 0;
            while segs.get(n) == Some(&"super") {
                base.pop();
                n += 1;
            }
            (base, &segs[n..])
        }
        _ => return None,
    };
    base.extend(rest.iter().map(|s| s.to_string()));
    Some(base)
}

/// The unit a module path belongs to: the longest listed prefix.
fn unit_of(path: &ModPath, units: &BTreeSet<String>) -> Option<String> {
    (1..=path.len().min(2))
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|u| units.contains(u))
}

#[test]
fn every_import_of_the_control_plane_points_down_its_layers() {
    let layers = layers();
    assert!(layers.len() > 3, "no layers found in docs/architecture.md");
    let layer: BTreeMap<String, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, units)| units.iter().map(move |u| (u.clone(), i)))
        .collect();
    let units: BTreeSet<String> = layer.keys().cloned().collect();
    let mut wrong = Vec::new();
    for (module, src) in sources() {
        if module.is_empty() {
            continue; // lib.rs declares the modules.
        }
        let Some(from) = unit_of(&module, &units) else {
            wrong.push(format!("{} is in no layer", module.join("::")));
            continue;
        };
        for target in imports(&module, &strip(&src)) {
            let Some(to) = unit_of(&target, &units) else {
                continue;
            };
            // Units of one module on one line (templates::args -> templates::poll) are one room.
            let same_module = to.split("::").next() == from.split("::").next();
            let ok = to == from
                || layer[&to] > layer[&from]
                || (layer[&to] == layer[&from] && same_module);
            // A module's own children (templates -> templates::poll) is declaration, not use.
            let declares = to.starts_with(&format!("{from}::")) && module.len() == 1;
            if !ok && !declares {
                wrong.push(format!(
                    "{} (layer {}) imports {} (layer {})",
                    module.join("::"),
                    layer[&from] + 1,
                    target.join("::"),
                    layer[&to] + 1
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that point up or sideways:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_module_of_the_control_plane_has_files_that_import_each_other_in_a_circle() {
    // Edges between sibling files (children of one module), then a search for cycles.
    let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (module, src) in sources() {
        if module.len() < 2 {
            continue;
        }
        let parent = &module[..module.len() - 1];
        for target in imports(&module, &strip(&src)) {
            if target.len() > parent.len() && target.starts_with(parent) {
                let sibling: ModPath = target[..parent.len() + 1].to_vec();
                let me: ModPath = module[..parent.len() + 1].to_vec();
                if sibling != me {
                    edges.entry(me).or_default().insert(sibling);
                }
            }
        }
    }
    let mut cycles = Vec::new();
    for start in edges.keys() {
        // Depth-first from `start`, looking for a path back to it.
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            for next in edges.get(&node).into_iter().flatten() {
                if next == start {
                    let names: Vec<String> = path.iter().map(|p| p.join("::")).collect();
                    cycles.push(format!("{} -> {}", names.join(" -> "), start.join("::")));
                } else if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    cycles.sort();
    cycles.dedup();
    assert!(
        cycles.is_empty(),
        "files importing each other:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn use_trees_expand_and_resolve() {
    let module: ModPath = vec!["state".into(), "tenants".into()];
    let found = imports(
        &module,
        "use super::{model::State, step::{find, Step}};\nuse crate::contracts::X;\nfn f() { crate::clock::day_of(0); }",
    );
    let want: BTreeSet<ModPath> = [
        vec!["state", "model", "State"],
        vec!["state", "step", "find"],
        vec!["state", "step", "Step"],
        vec!["contracts", "X"],
        vec!["clock", "day_of"],
    ]
    .into_iter()
    .map(|p| p.into_iter().map(String::from).collect())
    .collect();
    assert_eq!(found, want);
}
