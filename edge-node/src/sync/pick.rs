//! Which control-plane node to try next (pure). The first attempt goes to the first node of
//! `--control-plane` (the preferred one); after that, to a node drawn at random among the others
//! than the one just tried. A fixed cycle would send every edge that lost the same node to the
//! same next node at once, and an edge whose attempt there failed back to the dead one; a random
//! other node spreads a fleet's reconnect over the survivors and never retries the node that just
//! failed while another is listed.

/// The index (into a list of `n` nodes) to try after `last` (None: nothing tried yet), drawing
/// with `random`.
pub fn next_target(n: usize, last: Option<usize>, random: u64) -> usize {
    match last {
        None => 0,
        Some(_) if n <= 1 => 0,
        Some(last) => {
            // One of the n - 1 others: shift past `last`.
            let k = (random % (n as u64 - 1)) as usize;
            if k >= last.min(n - 1) {
                k + 1
            } else {
                k
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_attempt_goes_to_the_first_node() {
        assert_eq!(next_target(3, None, 12345), 0);
        assert_eq!(next_target(1, None, 7), 0);
    }

    #[test]
    fn a_single_node_is_always_the_one() {
        for r in 0..10 {
            assert_eq!(next_target(1, Some(0), r), 0);
        }
    }

    #[test]
    fn never_the_node_just_tried_and_every_other_one_drawn() {
        for n in 2..6 {
            for last in 0..n {
                let mut seen = vec![0usize; n];
                for r in 0..(100 * n as u64) {
                    let next = next_target(n, Some(last), r);
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
            assert_eq!(next_target(2, Some(0), r), 1);
            assert_eq!(next_target(2, Some(1), r), 0);
        }
    }
}
