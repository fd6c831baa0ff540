//! What the leader keeps of each edge: its newest report (whole, or sparse ones merged into it)
//! and the round of the frame it was answered since.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use breakout_policy::wire::sparse::Merged;
use breakout_policy::wire::{Grant, Report, TenantUsage};

pub(super) struct EdgeEntry {
    pub(super) region: String,
    pub(super) report: Merged,
    pub(super) at: Instant,
    /// The epoch of the last frame answered for the edge, if any since it last reported
    /// holding no grants (what the next frame is made from when the report's round is no
    /// longer kept: a report that came late does not undo it, see [`take_report`]).
    pub(super) sent: Option<u64>,
    /// Frames answered in a row from `sent` (see `FRAMES_FROM_SENT`).
    pub(super) from_sent: u32,
}

/// `report` of `edge` received `at`, as [`super::LeaseHub::record`] takes it: the edge's entry
/// afterwards, or `None` for a sparse report that is not based on the report held.
pub(super) fn take_report<'e>(
    edges: &'e mut HashMap<Arc<str>, EdgeEntry>,
    edge: &str,
    region: String,
    report: Report,
    at: Instant,
) -> Option<&'e EdgeEntry> {
    let held = edges.contains_key(edge);
    match (held, report.base) {
        (false, Some(_)) => return None,
        (false, None) => {
            let entry = EdgeEntry {
                region,
                report: Merged::new(report),
                at,
                sent: None,
                from_sent: 0,
            };
            edges.insert(Arc::from(edge), entry);
        }
        // An older whole report than the one held (relayed late by another node).
        (true, None) if edges.get(edge).is_some_and(|e| e.at > at) => {}
        (true, _) => {
            let e = edges.get_mut(edge)?;
            e.report.merge(report).ok()?;
            (e.at, e.region) = (at, region);
            // A report whose round is gone came late: it was made before the frames answered
            // since, so the newest of those is still the best guess of what the edge holds
            // (were every such report answered with every grant, an edge whose reports are
            // always late would cost a whole frame each). One that holds no round (the edge
            // started since) is answered with every grant.
            if e.report.grants_epoch() == 0 {
                e.sent = None;
            }
        }
    }
    edges.get(edge)
}

/// `tenant`'s entry in a walk of one edge's report by ascending tenant ids, if the edge
/// reported it; each call names a greater id than the one before. One comparison per step (a
/// round does this for every pair of tenant and edge).
pub(super) fn next_of<'r>(
    walk: &mut std::iter::Peekable<impl Iterator<Item = (&'r String, TenantUsage)>>,
    tenant: &str,
) -> Option<TenantUsage> {
    while let Some((t, _)) = walk.peek() {
        match t.as_str().cmp(tenant) {
            std::cmp::Ordering::Less => {
                walk.next();
            }
            std::cmp::Ordering::Equal => return walk.next().map(|(_, u)| u),
            std::cmp::Ordering::Greater => return None,
        }
    }
    None
}

/// Tenants a round reads from the edges' reports at a time ([`read_block`]).
pub(super) const BLOCK: usize = 64;

/// For a block of a region's `tenants` (in id order, following the block before), each edge's
/// entry: `block[j * walks.len() + i]` is tenant `j`'s on edge `i`. Each edge's walk crosses the
/// whole block before the next edge's starts. Walking all of them a tenant at a time read as
/// many places in memory at once as the region has edges (50 at fleet scale), more streams than
/// the prefetcher follows: loading the reports' entries was half the round (BENCHMARKS.md).
pub(super) fn read_block<'r, I>(
    walks: &mut [std::iter::Peekable<I>],
    tenants: &[(String, u32)],
    block: &mut Vec<Option<TenantUsage>>,
) where
    I: Iterator<Item = (&'r String, TenantUsage)>,
{
    let n = walks.len();
    block.clear();
    block.resize(tenants.len() * n, None);
    for (i, walk) in walks.iter_mut().enumerate() {
        for (j, (tenant, _)) in tenants.iter().enumerate() {
            block[j * n + i] = next_of(walk, tenant);
        }
    }
}

/// A block's grants (`granted[j * per_edge.len() + i]`: tenant `j`'s on edge `i`) appended to
/// each edge's grants, an edge at a time. Appended as each tenant was allocated, they were
/// written to every edge's grants at once: as many streams as [`read_block`] reads, and after
/// it half the round's own time.
pub(super) fn write_block(
    granted: &[Option<Grant>],
    tenant_ids: &[Arc<str>],
    per_edge: &mut [Vec<(Arc<str>, Grant)>],
) {
    let n = per_edge.len();
    for (i, grants) in per_edge.iter_mut().enumerate() {
        let column = granted.iter().skip(i).step_by(n.max(1));
        for (g, id) in column.zip(tenant_ids) {
            if let Some(g) = g {
                grants.push((Arc::clone(id), *g));
            }
        }
    }
}
