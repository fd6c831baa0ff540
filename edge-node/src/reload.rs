//! `SIGHUP`: re-read the config file and swap the new policy in atomically, or keep the old one.

use std::path::Path;
use std::sync::Arc;

use crate::config::{EdgeConfig, Overrides};
use crate::shared::Shared;
use crate::snapshot::Snapshot;

/// Re-reads `path` (with the command line's `overrides` on top); on success the new snapshot serves every request that starts afterwards
/// (open tunnels and in-flight requests finish under the one they started with).
pub fn reload(path: &Path, overrides: &Overrides, shared: &Shared) -> Result<u64, String> {
    let result = EdgeConfig::load(path)
        .map_err(|e| e.to_string())
        .and_then(|cfg| {
            let prev = shared.snapshot.load_full();
            // Listener addresses are bound once at start; a reload keeps the bound ones.
            let mut settings = cfg.settings;
            overrides.apply(&mut settings);
            settings.listen = prev.settings.listen;
            settings.admin_listen = prev.settings.admin_listen;
            settings.pac_listen = prev.settings.pac_listen;
            let generation = prev.generation + 1;
            let snap = Snapshot::build(
                &cfg.policy,
                Arc::new(settings),
                Some(&prev),
                &shared.metrics,
                generation,
            )
            .map_err(|e| e.to_string())?;
            shared.metrics.config_generation.set(generation as i64);
            shared.metrics.config_version.set(snap.version as i64);
            shared.snapshot.store(Arc::new(snap));
            Ok(generation)
        });
    shared.metrics.reload(result.is_ok());
    match &result {
        Ok(g) => tracing::info!(generation = g, "configuration reloaded"),
        Err(e) => tracing::error!(error = %e, "reload refused; the previous configuration stays"),
    }
    result
}
