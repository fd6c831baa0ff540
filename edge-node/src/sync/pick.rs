//! Which control-plane node to try next (pure). The first attempt goes to the first node of
//! `--control-plane` (the preferred one); after that, to a node drawn at random among the others
//! than the one just tried, leaving out those whose last session or attempt ended recently while
//! another is listed. A fixed cycle would send every edge that lost the same node to the same
//! next node at once, and an edge whose attempt there failed back to the dead one; a random
//! other node spreads a fleet's reconnect over the survivors. Without the memory, an edge that
//! lost its second node after a node died drew the dead one again half the time (of 3 nodes)
//! and spent a connect timeout on it.

/// The index (into a list of `n` nodes) to try after `last` (None: nothing tried yet), drawing
/// with `random` among the others than `last` that `recent` (a node's last session or attempt
/// ended recently) leaves out; among all the others than `last` if it leaves none.
pub fn next_target(
    n: usize,
    last: Option<usize>,
    recent: impl Fn(usize) -> bool,
    random: u64,
) -> usize {
    let Some(last) = last else { return 0 };
    if n <= 1 {
        return 0;
    }
    let others = || (0..n).filter(move |&i| i != last);
    let fresh = others().filter(|&i| !recent(i)).count();
    let k = |count: usize| (random % count as u64) as usize;
    match fresh {
        0 => others().nth(k(n - 1)),
        count => others().filter(|&i| !recent(i)).nth(k(count)),
    }
    .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_attempt_goes_to_the_first_node() {
        assert_eq!(next_target(3, None, |_| false, 12345), 0);
        assert_eq!(next_target(1, None, |_| false, 7), 0);
    }

    #[test]
    fn a_single_node_is_always_the_one() {
        for r in 0..10 {
            assert_eq!(next_target(1, Some(0), |_| true, r), 0);
        }
    }

    #[test]
    fn never_the_node_just_tried_and_every_other_one_drawn() {
        for n in 2..6 {
            for last in 0..n {
                let mut seen = vec![0usize; n];
                for r in 0..(100 * n as u64) {
                    let next = next_target(n, Some(last), |_| false, r);
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
            assert_eq!(next_target(2, Some(0), |_| false, r), 1);
            assert_eq!(next_target(2, Some(1), |_| true, r), 0);
        }
    }

    #[test]
    fn a_node_that_ended_recently_is_left_out_while_another_is_listed() {
        // Node 0 died, the session on node 1 was lost: node 2, never node 0.
        for r in 0..100 {
            assert_eq!(next_target(3, Some(1), |i| i == 0, r), 2);
        }
        // Every other node ended recently: any of them, never the one just tried.
        let mut seen = [0usize; 4];
        for r in 0..300 {
            seen[next_target(4, Some(2), |_| true, r)] += 1;
        }
        assert_eq!(seen[2], 0);
        assert!(
            seen.iter().enumerate().all(|(i, &c)| i == 2 || c >= 50),
            "{seen:?}"
        );
        // Of 5 nodes, two left out: the other two, both drawn.
        let mut seen = [0usize; 5];
        for r in 0..200 {
            seen[next_target(5, Some(0), |i| i == 1 || i == 3, r)] += 1;
        }
        assert_eq!((seen[0], seen[1], seen[3]), (0, 0, 0), "{seen:?}");
        assert!(seen[2] >= 50 && seen[4] >= 50, "{seen:?}");
    }
}
