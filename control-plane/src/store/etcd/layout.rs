//! The key layout of the etcd store (docs/operations.md, "The etcd key layout"): how a [`State`]
//! is spread over keys under the prefix, the keys one write changes, and a state rebuilt from
//! keys. Pure: no I/O.
//!
//! ```text
//! <prefix>meta                      the state without its collections (version, day, price
//!                                   books, withdrawals, … and any field added later), JSON
//! <prefix>regions/<name>            one JSON value per entry of each collection,
//! <prefix>tenants/<id>              the entry's key percent-encoded
//! <prefix>tokens/<id>
//! <prefix>contracts/<tenant>
//! <prefix>subscriptions/<tenant>
//! <prefix>webhooks/<tenant>
//! <prefix>templates/<item>
//! <prefix>audit/<version, 20 digits> the audit events of one version, a JSON array
//! <prefix>members/<node id>         live instances (leased; not state)
//! <prefix>election/…                etcd's election keys (not state)
//! ```
//!
//! Every write puts `meta` (its version always moves), so `meta`'s mod revision is what a write
//! compares and swaps on.

use std::collections::BTreeMap;

use imbl::Vector;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::state::{AuditEvent, State};

/// The key every write puts; its mod revision is the store's compare-and-swap anchor.
pub const META: &str = "meta";
/// Directories (relative to the prefix) that hold no state.
pub const MEMBERS: &str = "members/";
pub const ELECTION: &str = "election";
const AUDIT: &str = "audit/";

/// Calls `$m!(field)` for every collection of [`State`] stored one key per entry.
macro_rules! collections {
    ($m:ident) => {
        $m!(regions);
        $m!(tenants);
        $m!(tokens);
        $m!(contracts);
        $m!(subscriptions);
        $m!(webhooks);
        $m!(templates);
    };
}

mod touched;
pub use touched::diff;

/// What one write does to the keys (relative to the prefix).
#[derive(Debug, Default, PartialEq)]
pub struct Change {
    pub puts: Vec<(String, Vec<u8>)>,
    pub deletes: Vec<String>,
}

/// A key whose value could not be read; the rest of the state is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct BadKey {
    pub key: String,
    pub reason: String,
}

/// The keys that change from `old` to `new`, found by walking both states whole: the reference
/// [`diff`] is tested against, and what [`all_keys`] lists (from an empty state).
pub fn full_diff(old: &State, new: &State) -> Result<Change, serde_json::Error> {
    let mut change = Change::default();
    change.puts.push((META.to_string(), meta_bytes(new)?));
    macro_rules! d {
        ($f:ident) => {
            diff_map(stringify!($f), old.$f.iter(), new.$f.iter(), &mut change)?;
        };
    }
    collections!(d);
    diff_audit(&old.audit, &new.audit, &mut change)?;
    Ok(change)
}

/// Every key of `state` (an export, an import into an empty prefix, tests).
pub fn all_keys(state: &State) -> Result<Change, serde_json::Error> {
    full_diff(&State::default(), state).map(|mut c| {
        c.deletes.clear();
        c
    })
}

/// `meta`: the state with its collections left out.
fn meta_bytes(state: &State) -> Result<Vec<u8>, serde_json::Error> {
    let mut meta = state.clone();
    macro_rules! clear {
        ($f:ident) => {
            meta.$f = Default::default();
        };
    }
    collections!(clear);
    meta.audit = Vector::new();
    serde_json::to_vec(&meta)
}

/// Walks two maps in key order, recording what differs.
fn diff_map<'a, K, V>(
    dir: &str,
    old: impl Iterator<Item = (&'a K, &'a V)>,
    new: impl Iterator<Item = (&'a K, &'a V)>,
    change: &mut Change,
) -> Result<(), serde_json::Error>
where
    K: Ord + Serialize + 'a,
    V: PartialEq + Serialize + 'a,
{
    let mut old = old.peekable();
    let mut new = new.peekable();
    loop {
        match (old.peek(), new.peek()) {
            (None, None) => return Ok(()),
            (Some((ok, _)), Some((nk, _))) if ok == nk => {
                let ((k, ov), (_, nv)) = (old.next().unwrap_or_else(|| unreachable!()), {
                    new.next().unwrap_or_else(|| unreachable!())
                });
                if !std::ptr::eq(ov, nv) && ov != nv {
                    change
                        .puts
                        .push((entry_key(dir, k)?, serde_json::to_vec(nv)?));
                }
            }
            (Some((ok, _)), Some((nk, _))) if ok < nk => {
                let (k, _) = old.next().unwrap_or_else(|| unreachable!());
                change.deletes.push(entry_key(dir, k)?);
            }
            (Some(_), None) => {
                let (k, _) = old.next().unwrap_or_else(|| unreachable!());
                change.deletes.push(entry_key(dir, k)?);
            }
            (_, Some(_)) => {
                let (k, v) = new.next().unwrap_or_else(|| unreachable!());
                change
                    .puts
                    .push((entry_key(dir, k)?, serde_json::to_vec(v)?));
            }
        }
    }
}

/// Audit events grouped by version, in order.
fn audit_groups(audit: &Vector<AuditEvent>) -> BTreeMap<u64, Vec<&AuditEvent>> {
    let mut groups: BTreeMap<u64, Vec<&AuditEvent>> = BTreeMap::new();
    for e in audit {
        groups.entry(e.version).or_default().push(e);
    }
    groups
}

fn diff_audit(
    old: &Vector<AuditEvent>,
    new: &Vector<AuditEvent>,
    change: &mut Change,
) -> Result<(), serde_json::Error> {
    let (old, new) = (audit_groups(old), audit_groups(new));
    for (v, events) in &new {
        if old.get(v) != Some(events) {
            change
                .puts
                .push((audit_key(*v), serde_json::to_vec(events)?));
        }
    }
    for v in old.keys().filter(|v| !new.contains_key(v)) {
        change.deletes.push(audit_key(*v));
    }
    Ok(())
}

fn audit_key(version: u64) -> String {
    format!("{AUDIT}{version:020}")
}

/// `<dir>/<key>`: the key as JSON writes a map key, percent-encoded (`/`, `%`, controls).
fn entry_key<K: Ord + Serialize>(dir: &str, key: &K) -> Result<String, serde_json::Error> {
    let one = serde_json::to_value(BTreeMap::from([(key, ())]))?;
    let name = one
        .as_object()
        .and_then(|m| m.keys().next().cloned())
        .unwrap_or_default();
    Ok(format!("{dir}/{}", encode(&name)))
}

fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '/' | '%' => out.push_str(&format!("%{:02X}", c as u32)),
            c if c.is_control() => {
                let mut buf = [0; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn decode(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// One map entry read back: its key and value decoded through a one-entry JSON map, exactly as
/// the state's own JSON form reads them.
fn read_entry<K: Ord + DeserializeOwned, V: DeserializeOwned>(
    name: &str,
    value: Option<&[u8]>,
) -> Result<(K, Option<V>), String> {
    let name = decode(name).ok_or("the key is not valid percent-encoding")?;
    let json = match value {
        Some(bytes) => serde_json::from_slice::<serde_json::Value>(bytes)
            .map_err(|e| format!("not JSON: {e}"))?,
        None => serde_json::Value::Null,
    };
    let is_put = value.is_some();
    let one = serde_json::Value::Object(serde_json::Map::from_iter([(name, json)]));
    if is_put {
        let map: BTreeMap<K, V> = serde_json::from_value(one).map_err(|e| e.to_string())?;
        let (k, v) = map.into_iter().next().ok_or("empty entry")?;
        Ok((k, Some(v)))
    } else {
        let map: BTreeMap<K, ()> = serde_json::from_value(one).map_err(|e| e.to_string())?;
        let (k, ()) = map.into_iter().next().ok_or("empty entry")?;
        Ok((k, None))
    }
}

/// Applies one key's new value (`None`: deleted) to `state`. Keys outside the layout, and values
/// that do not decode, are returned as [`BadKey`] and change nothing.
pub fn apply_key(state: &mut State, key: &str, value: Option<&[u8]>) -> Result<(), BadKey> {
    let bad = |reason: String| BadKey {
        key: key.to_string(),
        reason,
    };
    if key == META {
        let Some(bytes) = value else {
            // Only `import` (or a hand) removes meta; the collections stay as they are.
            return Err(bad("meta was deleted".into()));
        };
        let mut meta: State = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        macro_rules! keep {
            ($f:ident) => {
                meta.$f = std::mem::take(&mut state.$f);
            };
        }
        collections!(keep);
        meta.audit = std::mem::take(&mut state.audit);
        *state = meta;
        return Ok(());
    }
    if key.starts_with(MEMBERS) || key.starts_with(ELECTION) {
        return Ok(());
    }
    if let Some(v) = key.strip_prefix(AUDIT) {
        let version: u64 = v.parse().map_err(|_| bad("not an audit version".into()))?;
        let events: Vec<AuditEvent> = match value {
            Some(bytes) => serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?,
            None => Vec::new(),
        };
        set_audit(state, version, events);
        return Ok(());
    }
    let (dir, name) = key
        .split_once('/')
        .ok_or_else(|| bad("not a key of the layout".into()))?;
    macro_rules! set {
        ($f:ident) => {
            if dir == stringify!($f) {
                let (k, v) = read_entry(name, value).map_err(bad)?;
                match v {
                    Some(v) => {
                        state.$f.insert(k, v);
                    }
                    None => {
                        state.$f.remove(&k);
                    }
                }
                return Ok(());
            }
        };
    }
    collections!(set);
    Err(bad("not a key of the layout".into()))
}

/// Replaces the audit events of `version` (the log is kept in version order). Found by binary
/// search and cut out of the persistent vector, so it costs the version's own events, not the
/// log's length: a write's events go at the back, trimming takes versions off the front.
fn set_audit(state: &mut State, version: u64, events: Vec<AuditEvent>) {
    let audit = &mut state.audit;
    let lower = first_at(audit, version);
    let upper = version
        .checked_add(1)
        .map_or(audit.len(), |next| first_at(audit, next));
    if lower == audit.len() {
        audit.extend(events);
        return;
    }
    if upper == 0 {
        for e in events.into_iter().rev() {
            audit.push_front(e);
        }
        return;
    }
    let mut rest = audit.split_off(lower);
    let after = rest.split_off(upper - lower);
    audit.extend(events);
    audit.append(after);
}

/// The index of the first event of `audit` (in version order) at `version` or above.
fn first_at(audit: &Vector<AuditEvent>, version: u64) -> usize {
    let (mut lo, mut hi) = (0, audit.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if audit.get(mid).is_some_and(|e| e.version < version) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// A state from every key under the prefix (relative keys, any order), and the keys that did
/// not decode. `None` when there is no `meta` (an empty prefix) or it does not decode.
pub fn assemble<'a>(
    keys: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> (Option<State>, Vec<BadKey>) {
    let mut keys: Vec<_> = keys.into_iter().collect();
    // `meta` first: it replaces everything but the collections.
    keys.sort_by_key(|(k, _)| (*k != META, *k));
    let mut state = State::default();
    let mut bad = Vec::new();
    let mut has_meta = false;
    for (key, value) in keys {
        match apply_key(&mut state, key, Some(value)) {
            Ok(()) => has_meta |= key == META,
            Err(b) => bad.push(b),
        }
    }
    (has_meta.then_some(state), bad)
}

#[cfg(test)]
mod tests;
