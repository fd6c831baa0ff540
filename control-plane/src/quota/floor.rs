//! What a tenant's floors are split over: the edges of its region the ledger knows, rounded
//! up once the region is large, so that a region growing by one edge does not change every
//! grant of the region.
//!
//! An edge's floor is what it admits once its grant expired unrenewed (control plane out of
//! reach): the limit over the divisor. The divisor is never below the edges known, so edges cut
//! off together never exceed the limit between them. Split exactly over `n` edges, every floor
//! changes whenever `n` does, and a changed floor is a changed grant: the frame lists it
//! (`distribute::leases::frame`). A region growing from 0 to `n` edges one at a time then lists
//! every grant of the region to every edge it has, at every step, about `n²/2` edge frames of
//! all its tenants (at 1,000 edges × 100,000 tenants, a wave of connects relisted about 300 KB
//! to every edge of the fleet). With headroom kept above the known edges, the divisor moves
//! about `log n` times on the way to `n`, each time for the edges there are then: `3n` frames.

/// Up to this many edges the floors are split exactly: relisting a handful of edges is cheap,
/// and a small region's floors are what an operator checks by hand.
pub const EXACT_UP_TO: u32 = 8;

/// The divisor for `known` edges when the last round's was `kept` (0: none yet): `known` while
/// it is at most [`EXACT_UP_TO`]; past that, `kept` while it still covers the edges known and
/// is at most twice their number, otherwise half as many again as the edges known (a floor
/// then lies between half and all of an exact split: it only matters while the control plane
/// is out of reach, and never lets the region's edges admit more than the limit).
pub fn divisor(known: usize, kept: u32) -> u32 {
    let known = u32::try_from(known.max(1)).unwrap_or(u32::MAX);
    if known <= EXACT_UP_TO {
        return known;
    }
    if kept >= known && kept / 2 <= known {
        return kept;
    }
    known.saturating_add(known / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_regions_are_split_exactly() {
        for n in 1..=EXACT_UP_TO as usize {
            for kept in [0, 1, n as u32, 20] {
                assert_eq!(divisor(n, kept), n as u32);
            }
        }
        assert_eq!(divisor(0, 0), 1, "no edge known: the whole limit");
    }

    #[test]
    fn the_divisor_always_covers_the_edges_known() {
        for kept in 0..300 {
            for n in 0..200usize {
                assert!(
                    divisor(n, kept) as usize >= n.max(1),
                    "{n} edges, kept {kept}"
                );
            }
        }
    }

    #[test]
    fn a_region_growing_one_edge_at_a_time_moves_its_floors_rarely() {
        let (mut kept, mut moves, mut relisted) = (0, 0, 0);
        for n in 1..=1_000usize {
            let d = divisor(n, kept);
            if d != kept && kept != 0 {
                moves += 1;
                relisted += n;
            }
            assert!(
                d as usize >= n && (n <= 8 || d as usize <= 2 * n),
                "{n}: {d}"
            );
            kept = d;
        }
        // Exactly: 999 moves, 500,499 edge frames relisted.
        assert!(
            moves <= 25 && relisted <= 3_200,
            "{moves} moves, {relisted}"
        );
    }

    #[test]
    fn a_shrinking_region_keeps_its_divisor_until_half_is_gone() {
        assert_eq!(divisor(40, 0), 60);
        assert_eq!(divisor(35, 60), 60);
        assert_eq!(divisor(30, 60), 60);
        assert_eq!(divisor(29, 60), 43, "fewer than half: split afresh");
        assert_eq!(divisor(61, 60), 91, "more than it covers: grown at once");
    }
}
