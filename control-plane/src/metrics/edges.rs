//! The edges connected to this node as gauges, refreshed at scrape time:
//! `breakout_control_edges_connected{region}` (every region of the store, 0 when none is
//! connected here) and `breakout_control_edge_version_lag{region, edge}` (store versions the
//! edge's content is behind this node's). Sum over nodes in PromQL for the cluster's view.

use std::collections::BTreeMap;

use prometheus::{IntGaugeVec, Opts, Registry};

use crate::distribute::registry::EdgeView;

pub struct EdgeGauges {
    connected: IntGaugeVec,
    lag: IntGaugeVec,
}

/// What the gauges show: edges per region, and each edge's lag.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EdgeRows {
    pub connected: BTreeMap<String, i64>,
    /// (region, edge id) → lag.
    pub lag: BTreeMap<(String, String), i64>,
}

/// The rows for `edges` (this node's connections) against store `version`. An edge that has
/// not acknowledged any content yet is behind by the whole version. An edge whose connection
/// ended (still listed, with when it was last seen) is neither connected nor lagging here.
pub fn rows<'a>(
    regions: impl IntoIterator<Item = &'a str>,
    edges: &[EdgeView],
    version: u64,
) -> EdgeRows {
    let mut out = EdgeRows::default();
    for r in regions {
        out.connected.insert(r.to_string(), 0);
    }
    for e in edges.iter().filter(|e| e.connected) {
        *out.connected.entry(e.region.clone()).or_default() += 1;
        let lag = version.saturating_sub(e.synced_through.unwrap_or(0));
        out.lag.insert(
            (e.region.clone(), e.edge_id.clone()),
            i64::try_from(lag).unwrap_or(i64::MAX),
        );
    }
    out
}

impl EdgeGauges {
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let connected = IntGaugeVec::new(
            Opts::new(
                "breakout_control_edges_connected",
                "Edges with a live session on this control-plane node, per region",
            ),
            &["region"],
        )?;
        let lag = IntGaugeVec::new(
            Opts::new(
                "breakout_control_edge_version_lag",
                "Store versions an edge's applied content is behind this node's store version",
            ),
            &["region", "edge"],
        )?;
        registry.register(Box::new(connected.clone()))?;
        registry.register(Box::new(lag.clone()))?;
        Ok(EdgeGauges { connected, lag })
    }

    /// Replaces every series with `rows` (edges that left disappear).
    pub fn show(&self, rows: &EdgeRows) {
        self.connected.reset();
        self.lag.reset();
        for (region, n) in &rows.connected {
            self.connected.with_label_values(&[region.as_str()]).set(*n);
        }
        for ((region, edge), lag) in &rows.lag {
            self.lag
                .with_label_values(&[region.as_str(), edge.as_str()])
                .set(*lag);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(id: &str, region: &str, synced: Option<u64>) -> EdgeView {
        EdgeView {
            edge_id: id.into(),
            region: region.into(),
            address: "127.0.0.1:1".into(),
            control_node: 1,
            connected_since_ms: 0,
            connected: true,
            last_seen_ms: None,
            applied_version: synced,
            synced_through: synced,
            lag: None,
            last_nack: None,
            last_report_ms: None,
            sessions: None,
            tenants: BTreeMap::new(),
        }
    }

    #[test]
    fn regions_without_edges_show_zero_and_lag_counts_from_the_synced_version() {
        let edges = [
            edge("a", "tokyo", Some(10)),
            edge("b", "tokyo", Some(7)),
            edge("c", "osaka", None),
        ];
        let r = rows(["tokyo", "osaka", "paris"], &edges, 10);
        let connected: Vec<_> = r.connected.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(connected, [("osaka", 1), ("paris", 0), ("tokyo", 2)]);
        let lag: Vec<_> = r.lag.iter().map(|((_, e), v)| (e.as_str(), *v)).collect();
        assert_eq!(lag, [("c", 10), ("a", 0), ("b", 3)]);
    }

    #[test]
    fn edges_whose_connection_ended_are_not_counted() {
        let mut gone = edge("b", "tokyo", Some(3));
        gone.connected = false;
        let r = rows(["tokyo"], &[edge("a", "tokyo", Some(10)), gone], 10);
        assert_eq!(r.connected.get("tokyo"), Some(&1));
        assert!(!r.lag.contains_key(&("tokyo".to_string(), "b".to_string())));
    }

    #[test]
    fn gauges_drop_edges_that_left() {
        let registry = Registry::new();
        let g = EdgeGauges::new(&registry).expect("gauges");
        g.show(&rows(["tokyo"], &[edge("a", "tokyo", Some(1))], 2));
        g.show(&rows(["tokyo"], &[], 2));
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&registry.gather())
            .expect("text");
        assert!(!text.contains("edge=\"a\""), "{text}");
        assert!(
            text.contains("breakout_control_edges_connected{region=\"tokyo\"} 0"),
            "{text}"
        );
    }
}
