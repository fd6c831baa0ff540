//! What a [`super::Ledger`] keeps per edge: the grants that may still be in force, in one
//! sorted, contiguous table. A fleet's leader walks it for every pair of tenant and edge twice
//! a round; a map with a heap list per edge made each step a cache miss (half of the
//! allocation's time, itself a fifth of the leader's, in a profile at 100,000 tenants).

use std::sync::Arc;

use super::Issued;

/// One edge's grants that may still be in force. Most edges hold one: a grant covered by a
/// newer one (issued later, ending no earlier, for no fewer sessions) is dropped, since
/// whenever the older one counts the newer counts too (see [`covers`]), so what the edge may
/// admit ([`InForce::most`]) is the same with or without it.
#[derive(Clone, Debug, Default)]
pub(super) struct InForce {
    /// `None` only when empty (kept inline: no heap step for the usual single grant).
    first: Option<Issued>,
    rest: Vec<Issued>,
}

/// Whether `newer` makes `older` redundant: for every holding epoch and time at which `older`
/// is in force, so is `newer`, with at least as many sessions.
fn covers(newer: &Issued, older: &Issued) -> bool {
    newer.epoch > older.epoch
        && newer.expires_ms >= older.expires_ms
        && newer.sessions >= older.sessions
}

impl InForce {
    pub(super) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &Issued> {
        self.first.iter().chain(&self.rest)
    }

    pub(super) fn find_mut(&mut self, epoch: u64) -> Option<&mut Issued> {
        self.first
            .iter_mut()
            .chain(&mut self.rest)
            .find(|g| g.epoch == epoch)
    }

    /// Keeps the grants for which `keep` holds.
    pub(super) fn retain(&mut self, keep: impl Fn(&Issued) -> bool) {
        self.rest.retain(&keep);
        if !self.first.as_ref().is_some_and(&keep) {
            self.first = self.rest.pop();
        }
    }

    /// Adds `g` unless a grant held covers it, and drops the grants it covers.
    pub(super) fn push(&mut self, g: Issued) {
        if self.iter().any(|o| covers(o, &g)) {
            return;
        }
        self.retain(|o| !covers(&g, o));
        match self.first {
            None => self.first = Some(g),
            Some(_) => self.rest.push(g),
        }
    }

    /// The most sessions in force at `now_ms` for an edge holding `holding_epoch`.
    pub(super) fn most(&self, holding_epoch: u64, now_ms: u64) -> u32 {
        self.iter()
            .filter(|g| g.in_force(holding_epoch, now_ms))
            .map(|g| g.sessions)
            .max()
            .unwrap_or(0)
    }
}

/// Per edge id (ascending, without repeats): its grants.
#[derive(Clone, Debug, Default)]
pub(super) struct ByEdge(Vec<(Arc<str>, InForce)>);

impl ByEdge {
    fn find(&self, edge: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(e, _)| str::cmp(e, edge))
    }

    pub(super) fn get(&self, edge: &str) -> Option<&InForce> {
        self.find(edge).ok().map(|i| &self.0[i].1)
    }

    /// An empty list for `edge` if it had none (one search where `get` then `entry` take two).
    pub(super) fn add(&mut self, edge: &Arc<str>) -> Option<&mut InForce> {
        let i = self.find(edge).err()?;
        self.0.insert(i, (Arc::clone(edge), InForce::default()));
        Some(&mut self.0[i].1)
    }

    /// `edge`'s grants, an empty list added if it had none (in order: a fleet's edges come
    /// sorted, so the first round appends).
    pub(super) fn entry(&mut self, edge: &Arc<str>) -> &mut InForce {
        let i = match self.find(edge) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (Arc::clone(edge), InForce::default()));
                i
            }
        };
        &mut self.0[i].1
    }

    pub(super) fn keys(&self) -> impl Iterator<Item = &Arc<str>> {
        self.0.iter().map(|(e, _)| e)
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (&Arc<str>, &mut InForce)> {
        self.0.iter_mut().map(|(e, g)| (&*e, g))
    }

    pub(super) fn retain(&mut self, mut keep: impl FnMut(&Arc<str>, &mut InForce) -> bool) {
        self.0.retain_mut(|(e, g)| keep(e, g));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(epoch: u64, sessions: u32, expires_ms: u64) -> Issued {
        Issued {
            epoch,
            sessions,
            expires_ms,
        }
    }

    /// Random grants, holding epochs and times: a list that drops covered grants admits what
    /// one that keeps them all admits, always.
    #[test]
    fn dropping_covered_grants_changes_nothing_in_force() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for _ in 0..2_000 {
            let (mut all, mut kept) = (Vec::new(), InForce::default());
            for _ in 0..1 + next(8) {
                let grant = g(1 + next(10), next(5) as u32, next(20));
                all.push(grant);
                kept.push(grant);
                if next(4) == 0 {
                    let (holding, now) = (next(12), next(20));
                    let live = |x: &Issued| x.expires_ms > now && x.epoch >= holding;
                    all.retain(live);
                    kept.retain(live);
                }
                assert_eq!(kept.is_empty(), all.is_empty());
                for holding in 0..12 {
                    for now in 0..21 {
                        let most = all
                            .iter()
                            .filter(|x| x.expires_ms > now && x.epoch >= holding)
                            .map(|x| x.sessions)
                            .max()
                            .unwrap_or(0);
                        assert_eq!(kept.most(holding, now), most, "{all:?} / {kept:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_steady_grant_keeps_one_entry() {
        let mut kept = InForce::default();
        for round in 1..=20 {
            kept.push(g(round, 10, 1_000 + round));
        }
        assert_eq!(kept.iter().count(), 1);
        // Lowered: the larger grant stays in force until it ends or is acknowledged past.
        kept.push(g(21, 5, 1_021));
        assert_eq!(kept.iter().count(), 2);
        assert_eq!(kept.most(0, 1_000), 10);
        assert_eq!(kept.most(21, 1_000), 5);
    }

    #[test]
    fn edges_stay_sorted_whatever_order_they_come_in() {
        let mut by = ByEdge::default();
        for e in ["m", "b", "z", "a", "m"] {
            by.entry(&Arc::from(e)).push(g(1, 1, 10));
        }
        let keys: Vec<&str> = by.keys().map(|k| &**k).collect();
        assert_eq!(keys, ["a", "b", "m", "z"]);
        assert!(by.get("m").is_some() && by.get("c").is_none());
        by.retain(|e, _| &**e != "b");
        assert!(by.get("b").is_none() && by.get("z").is_some());
        assert!(by.add(&Arc::from("m")).is_none(), "held already");
        assert!(by.add(&Arc::from("c")).is_some_and(|g| g.is_empty()));
        let keys: Vec<&str> = by.keys().map(|k| &**k).collect();
        assert_eq!(keys, ["a", "c", "m", "z"]);
    }
}
