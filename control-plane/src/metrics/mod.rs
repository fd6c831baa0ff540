//! The control plane's Prometheus metrics beyond the API's own: process and build information,
//! edges, templates, leader changes, certificate expiry. The listener that serves them
//! (`--metrics-listen`) is `api::metrics::listener_router`, kept apart from the API so that what
//! a tenant may not read through the API (other tenants' ids, regions and limits) it cannot read
//! through metrics either.

pub mod cert;
pub mod edges;
pub mod leader;
pub mod templates;

use prometheus::{IntGaugeVec, Opts, Registry};

/// The version and commit this binary was built from (`BREAKOUT_COMMIT` at build time, as the
/// image build sets it).
pub fn build_labels() -> [&'static str; 2] {
    [
        env!("CARGO_PKG_VERSION"),
        option_env!("BREAKOUT_COMMIT").unwrap_or("unknown"),
    ]
}

/// Registers `breakout_build_info{version, commit} 1` and, on Linux, the `process_*` metrics.
pub fn register_process(registry: &Registry) -> Result<(), prometheus::Error> {
    let info = IntGaugeVec::new(
        Opts::new(
            "breakout_build_info",
            "Always 1; the labels say which build is running",
        ),
        &["version", "commit"],
    )?;
    info.with_label_values(&build_labels()).set(1);
    registry.register(Box::new(info))?;
    #[cfg(target_os = "linux")]
    registry.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ))?;
    Ok(())
}
