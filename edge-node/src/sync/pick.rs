//! Which control-plane node to try next (no I/O). The first attempt goes to the first node of
//! `--control-plane` (the preferred one); after that, to a node drawn at random among the others
//! than the one just tried, preferring those whose session or attempt never ended, then those
//! whose last one ended long ago, over those where it ended recently. A fixed cycle would send
//! every edge that lost the same node to the same next node at once, and an edge whose attempt
//! there failed back to the dead one; a random other node spreads a fleet's reconnect over the
//! survivors. Without the memory, an edge that lost its second node after a node died drew the
//! dead one again half the time (of 3 nodes) and spent a connect timeout on it; with only a
//! window of recent ends, it did so once the window had passed.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use tokio::time::Instant;

/// What the edge knows of a node: the lower, the sooner it is tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Standing {
    /// No session or attempt with it ended yet.
    Never,
    /// The last one ended long ago.
    Aged,
    /// The last one ended recently.
    Recent,
}

/// The edge's memory of its attempts over a list of `n` nodes: which one it tried last, and
/// when each one's last session or attempt ended.
pub struct Targets {
    last: Option<usize>,
    ended: Vec<Option<Instant>>,
    /// How long a node whose session or attempt ended stays [`Standing::Recent`].
    avoid: Duration,
    random: RandomState,
    draws: u64,
}

impl Targets {
    pub fn new(n: usize, avoid: Duration) -> Self {
        Targets {
            last: None,
            ended: vec![None; n],
            avoid,
            random: RandomState::new(),
            draws: 0,
        }
    }

    /// The node to try now ([`next_target`]).
    pub fn next(&mut self, now: Instant) -> usize {
        let standing = |i: usize| match self.ended.get(i).copied().flatten() {
            None => Standing::Never,
            Some(t) if now.saturating_duration_since(t) < self.avoid => Standing::Recent,
            Some(_) => Standing::Aged,
        };
        let random = self.random.hash_one(self.draws);
        let index = next_target(self.ended.len(), self.last, standing, random);
        self.draws += 1;
        self.last = Some(index);
        index
    }

    /// The session or attempt at `index` ended at `now`.
    pub fn ended(&mut self, index: usize, now: Instant) {
        if let Some(at) = self.ended.get_mut(index) {
            *at = Some(now);
        }
    }
}

/// The index (into a list of `n` nodes) to try after `last` (None: nothing tried yet), drawing
/// with `random` among the others than `last` of the best [`Standing`] among them.
pub fn next_target(
    n: usize,
    last: Option<usize>,
    standing: impl Fn(usize) -> Standing,
    random: u64,
) -> usize {
    let Some(last) = last else { return 0 };
    if n <= 1 {
        return 0;
    }
    let others = || (0..n).filter(move |&i| i != last);
    let Some(best) = others().map(&standing).min() else {
        return 0;
    };
    let count = others().filter(|&i| standing(i) == best).count();
    let k = (random % count.max(1) as u64) as usize;
    others()
        .filter(|&i| standing(i) == best)
        .nth(k)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Recent` where `f` says so, else `Never`.
    fn recent_if(f: impl Fn(usize) -> bool) -> impl Fn(usize) -> Standing {
        move |i| match f(i) {
            true => Standing::Recent,
            false => Standing::Never,
        }
    }

    #[test]
    fn the_first_attempt_goes_to_the_first_node() {
        assert_eq!(next_target(3, None, recent_if(|_| false), 12345), 0);
        assert_eq!(next_target(1, None, recent_if(|_| false), 7), 0);
    }

    #[test]
    fn a_single_node_is_always_the_one() {
        for r in 0..10 {
            assert_eq!(next_target(1, Some(0), recent_if(|_| true), r), 0);
        }
    }

    #[test]
    fn never_the_node_just_tried_and_every_other_one_drawn() {
        for n in 2..6 {
            for last in 0..n {
                let mut seen = vec![0usize; n];
                for r in 0..(100 * n as u64) {
                    let next = next_target(n, Some(last), recent_if(|_| false), r);
                    assert!(next < n, "{next} out of {n}");
                    assert_ne!(next, last, "n={n} r={r}");
                    seen[next] += 1;
                }
                for (i, count) in seen.iter().enumerate() {
                    if i != last {
                        // Uniform over the others: 100·n draws over n - 1 nodes.
                        assert!(
                            *count >= 100,
                            "n={n} last={last}: node {i} drawn {count} times"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn two_nodes_alternate() {
        for r in [0, 1, u64::MAX] {
            assert_eq!(next_target(2, Some(0), recent_if(|_| false), r), 1);
            assert_eq!(next_target(2, Some(1), recent_if(|_| true), r), 0);
        }
    }

    #[test]
    fn after_the_first_node_and_a_second_end_the_third_is_tried_until_they_age() {
        let avoid = Duration::from_secs(30);
        let t0 = Instant::now();
        let mut after_aging = [0usize; 3];
        for _ in 0..100 {
            let mut targets = Targets::new(3, avoid);
            assert_eq!(targets.next(t0), 0);
            targets.ended(0, t0);
            let second = targets.next(t0);
            assert_ne!(second, 0);
            let t1 = t0 + Duration::from_secs(6);
            targets.ended(second, t1);
            let third = 3 - second;
            assert_eq!(targets.next(t1), third, "the dead node is passed over");
            // Long after: every node but the one just tried may be drawn again.
            let later = t1 + avoid;
            targets.ended(third, later);
            after_aging[targets.next(later)] += 1;
        }
        assert!(after_aging[0] > 0, "{after_aging:?}");
    }

    #[test]
    fn a_node_never_ended_goes_before_one_that_ended_long_ago() {
        let avoid = Duration::from_secs(30);
        let t0 = Instant::now();
        for _ in 0..100 {
            // Node 0 died at t0; the edge moved to another and lost it a minute later.
            let mut targets = Targets::new(3, avoid);
            assert_eq!(targets.next(t0), 0);
            targets.ended(0, t0);
            let second = targets.next(t0);
            let t1 = t0 + Duration::from_secs(60);
            targets.ended(second, t1);
            assert_eq!(targets.next(t1), 3 - second, "not the dead node");
        }
        let standing = |i: usize| [Standing::Aged, Standing::Recent, Standing::Never][i];
        for r in 0..50 {
            assert_eq!(next_target(3, Some(2), standing, r), 0, "aged over recent");
            assert_eq!(next_target(3, Some(0), standing, r), 2, "never over recent");
        }
    }

    #[test]
    fn a_node_that_ended_recently_is_left_out_while_another_is_listed() {
        // Node 0 died, the session on node 1 was lost: node 2, never node 0.
        for r in 0..100 {
            assert_eq!(next_target(3, Some(1), recent_if(|i| i == 0), r), 2);
        }
        // Every other node ended recently: any of them, never the one just tried.
        let mut seen = [0usize; 4];
        for r in 0..300 {
            seen[next_target(4, Some(2), recent_if(|_| true), r)] += 1;
        }
        assert_eq!(seen[2], 0);
        assert!(
            seen.iter().enumerate().all(|(i, &c)| i == 2 || c >= 50),
            "{seen:?}"
        );
        // Of 5 nodes, two left out: the other two, both drawn.
        let mut seen = [0usize; 5];
        for r in 0..200 {
            seen[next_target(5, Some(0), recent_if(|i| i == 1 || i == 3), r)] += 1;
        }
        assert_eq!((seen[0], seen[1], seen[3]), (0, 0, 0), "{seen:?}");
        assert!(seen[2] >= 50 && seen[4] >= 50, "{seen:?}");
    }
}
