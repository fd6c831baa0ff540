//! The keys one write touched, found without walking the whole state: a write's cost must not
//! grow with the state's size (a write used to walk every entry of every collection and group
//! the whole audit log, milliseconds at tens of thousands of regions).
//!
//! Nothing here knows what a command does: the write path clones the followed state, the one
//! state machine (`crate::state::apply`) changes the clone, and this compares the two
//! structurally. The persistent collections share every subtree the write did not touch, so
//! `imbl`'s diff skips them by pointer; the audit log only ever grows at its back and is trimmed
//! at its front (`state::apply`'s `record`), so only its two ends are looked at, and a log that
//! does not look like that falls back to the full comparison. The result equals
//! [`super::full_diff`]'s, key for key and in the same order (tests: random command sequences).

use std::collections::BTreeMap;

use imbl::{OrdMap, Vector};
use serde::Serialize;

use super::{audit_key, diff_audit, diff_map, entry_key, meta_bytes, Change, META};
use crate::state::{AuditEvent, State};

/// The keys that change from `old` to `new` (`new` made from a clone of `old`).
pub fn diff(old: &State, new: &State) -> Result<Change, serde_json::Error> {
    let mut change = Change::default();
    change.puts.push((META.to_string(), meta_bytes(new)?));
    macro_rules! d {
        ($f:ident) => {
            Collection::changes(&old.$f, &new.$f, stringify!($f), &mut change)?;
        };
    }
    collections!(d);
    audit_changes(&old.audit, &new.audit, &mut change)?;
    Ok(change)
}

/// A collection stored one key per entry.
trait Collection {
    /// Records the entries that differ between `self` (old) and `new`.
    fn changes(&self, new: &Self, dir: &str, change: &mut Change) -> Result<(), serde_json::Error>;
}

/// Persistent maps: shared subtrees are skipped without being looked at.
impl<K, V> Collection for OrdMap<K, V>
where
    K: Ord + Clone + Serialize,
    V: PartialEq + Clone + Serialize,
{
    fn changes(&self, new: &Self, dir: &str, change: &mut Change) -> Result<(), serde_json::Error> {
        if self.ptr_eq(new) {
            return Ok(());
        }
        for item in self.diff(new) {
            match item {
                imbl::ordmap::DiffItem::Add(k, v)
                | imbl::ordmap::DiffItem::Update { new: (k, v), .. } => {
                    change
                        .puts
                        .push((entry_key(dir, k)?, serde_json::to_vec(v)?));
                }
                imbl::ordmap::DiffItem::Remove(k, _) => change.deletes.push(entry_key(dir, k)?),
            }
        }
        Ok(())
    }
}

/// Plain maps (a few entries, and cloned whole by every write anyway): walked.
impl<K, V> Collection for BTreeMap<K, V>
where
    K: Ord + Serialize,
    V: PartialEq + Serialize,
{
    fn changes(&self, new: &Self, dir: &str, change: &mut Change) -> Result<(), serde_json::Error> {
        diff_map(dir, self.iter(), new.iter(), change)
    }
}

/// The audit keys that change: the versions trimmed off the front are deleted (a version only
/// partly trimmed is put again with what is left of it) and the versions appended at the back
/// are put. Anything else (not seen from `state::apply`) is compared in full.
fn audit_changes(
    old: &Vector<AuditEvent>,
    new: &Vector<AuditEvent>,
    change: &mut Change,
) -> Result<(), serde_json::Error> {
    if old.ptr_eq(new) {
        return Ok(());
    }
    let Some(shift) = Shift::of(old, new) else {
        return diff_audit(old, new, change);
    };
    // A version partly trimmed: what is left of it.
    let first_kept = if shift.kept > 0 { new.front() } else { None };
    let split = match (
        first_kept,
        shift.trimmed.checked_sub(1).and_then(|i| old.get(i)),
    ) {
        (Some(kept), Some(last_trimmed)) => {
            (kept.version == last_trimmed.version).then_some(kept.version)
        }
        _ => None,
    };
    if let Some(v) = split {
        let events: Vec<&AuditEvent> = new.iter().take_while(|e| e.version == v).collect();
        change
            .puts
            .push((audit_key(v), serde_json::to_vec(&events)?));
    }
    for (v, events) in groups((shift.kept..new.len()).filter_map(|i| new.get(i))) {
        change
            .puts
            .push((audit_key(v), serde_json::to_vec(&events)?));
    }
    for (v, _) in groups(old.iter().take(shift.trimmed)) {
        if Some(v) != split {
            change.deletes.push(audit_key(v));
        }
    }
    Ok(())
}

/// How `new` was made from `old` by trimming the front and appending at the back.
struct Shift {
    /// Events dropped from `old`'s front.
    trimmed: usize,
    /// Events of `old` left in `new` (the ones after them were appended, all of versions above
    /// `old`'s last).
    kept: usize,
}

impl Shift {
    /// `None` when `new` does not look made that way (then the full comparison decides).
    fn of(old: &Vector<AuditEvent>, new: &Vector<AuditEvent>) -> Option<Shift> {
        let old_last = old.last().map(|e| e.version);
        let appended = new
            .iter()
            .rev()
            .take_while(|e| old_last.is_none_or(|l| e.version > l))
            .count();
        let kept = new.len() - appended;
        let trimmed = old.len().checked_sub(kept)?;
        if kept > 0 {
            // The part both hold starts and ends with the same events.
            let same_start = old.get(trimmed)? == new.front()?;
            let same_end = old.last()? == new.get(kept - 1)?;
            if !same_start || !same_end {
                return None;
            }
        }
        Some(Shift { trimmed, kept })
    }
}

/// Consecutive events grouped by version, in order.
fn groups<'a>(events: impl Iterator<Item = &'a AuditEvent>) -> Vec<(u64, Vec<&'a AuditEvent>)> {
    let mut out: Vec<(u64, Vec<&AuditEvent>)> = Vec::new();
    for e in events {
        match out.last_mut() {
            Some((v, group)) if *v == e.version => group.push(e),
            _ => out.push((e.version, vec![e])),
        }
    }
    out
}

#[cfg(test)]
mod tests;
