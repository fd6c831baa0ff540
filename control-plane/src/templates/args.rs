//! `breakout-control`'s vendor-list poller flags (docs/templates.md).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use super::poll::{client_request_id, PollConfig, PollMetrics, Poller};
use crate::clock::SharedClock;
use crate::store::Store;

/// The vendor-list poller (docs/templates.md).
#[derive(clap::Args, Debug)]
pub struct TemplateArgs {
    /// Poll the vendors' lists while this node leads (off: templates change only through the
    /// API).
    #[arg(long, env = "BREAKOUT_TEMPLATE_POLL")]
    pub template_poll: bool,
    /// Microsoft 365 IP address and URL web service base URL.
    #[arg(
        long,
        env = "BREAKOUT_TEMPLATE_M365_URL",
        default_value = "https://endpoints.office.com"
    )]
    pub template_m365_url: String,
    /// Microsoft 365 instance to follow (Worldwide, China, USGovDoD, USGovGCCHigh); repeatable
    /// (the environment variable takes a comma-separated list). Each is versioned on its own.
    #[arg(
        long = "template-m365-instance",
        env = "BREAKOUT_TEMPLATE_M365_INSTANCES",
        value_delimiter = ',',
        default_value = "Worldwide"
    )]
    pub template_m365_instances: Vec<String>,
    /// Google's own ranges (goog.json).
    #[arg(
        long,
        env = "BREAKOUT_TEMPLATE_GOOG_URL",
        default_value = "https://www.gstatic.com/ipranges/goog.json"
    )]
    pub template_goog_url: String,
    /// Google Cloud's customer ranges (cloud.json), taken out of goog.json.
    #[arg(
        long,
        env = "BREAKOUT_TEMPLATE_CLOUD_URL",
        default_value = "https://www.gstatic.com/ipranges/cloud.json"
    )]
    pub template_cloud_url: String,
    /// A directory of Azure Service Tags JSON files for the ExpressRoute template.
    #[arg(long, value_name = "DIR")]
    pub template_service_tags_dir: Option<PathBuf>,
    /// Seconds between version checks (vendors ask for at most hourly).
    #[arg(long, env = "BREAKOUT_TEMPLATE_POLL_INTERVAL", default_value_t = 3600)]
    pub template_poll_interval: u64,
    /// A fetched list with more than this % fewer entries than the live one is quarantined.
    #[arg(long, default_value_t = super::guard::DEFAULT_MAX_SHRINK_PERCENT,
        value_parser = clap::value_parser!(u8).range(0..=100))]
    pub template_max_shrink_percent: u8,
    /// Seconds one vendor request may take (a hung source fails the poll, which is retried
    /// with backoff; the live template stays).
    #[arg(long, env = "BREAKOUT_TEMPLATE_FETCH_TIMEOUT", default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub template_fetch_timeout: u64,
}

impl TemplateArgs {
    /// The vendor-list poller of `--template-*`, with the installation's ClientRequestId.
    pub fn poller(
        &self,
        data_dir: &Path,
        store: Arc<dyn Store>,
        node_id: u64,
        metrics: PollMetrics,
        clock: SharedClock,
    ) -> anyhow::Result<Poller> {
        let id_file = data_dir.join("m365-client-request-id");
        let client_request_id = client_request_id(&id_file)
            .with_context(|| format!("reading or creating {}", id_file.display()))?;
        let client = crate::http_client::builder()
            .timeout(std::time::Duration::from_secs(self.template_fetch_timeout))
            .connect_timeout(std::time::Duration::from_secs(
                self.template_fetch_timeout.min(10),
            ))
            .build()
            .context("building the template HTTP client")?;
        Ok(Poller {
            config: PollConfig {
                m365_base: self.template_m365_url.clone(),
                m365_instances: self.template_m365_instances.clone(),
                google_goog_url: self.template_goog_url.clone(),
                google_cloud_url: self.template_cloud_url.clone(),
                service_tags_dir: self.template_service_tags_dir.clone(),
                interval: std::time::Duration::from_secs(self.template_poll_interval.max(1)),
                max_shrink_percent: self.template_max_shrink_percent,
                client_request_id,
            },
            store,
            node_id,
            client,
            metrics,
            clock,
        })
    }
}
