//! The vendor-list poller (I/O). It runs on every node but acts only while its node leads: per
//! source it checks the vendor's version, fetches only when it changed, runs the adapter and
//! proposes a `RecordTemplate` (the guard runs in `apply`). A source that cannot be reached
//! while its template has no version at all gets the snapshot shipped in `deploy/lists/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use prometheus::{GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry};
use serde::Deserialize;
use tokio::sync::watch;

use super::schedule::{self, Schedule};
use super::{expressroute, google, instance, m365, snapshot, TemplateContent};
use crate::clock::SharedClock;
use crate::contracts::TemplateItem;
use crate::state::RecordTemplate;
use crate::state::{Command, Fetched, Request, State};
use crate::store::{Consistency, Store};

/// Where and how often the sources are polled (`breakout-control --template-*` flags).
#[derive(Clone, Debug)]
pub struct PollConfig {
    /// Microsoft 365 web service base URL (`https://endpoints.office.com`).
    pub m365_base: String,
    /// Instances to follow (Worldwide, China, USGovDoD, USGovGCCHigh), each fetched and versioned
    /// on its own; Worldwide's sets have plain ids (`m365:46`), the others' are prefixed
    /// (`m365-China:46`).
    pub m365_instances: Vec<String>,
    pub google_goog_url: String,
    pub google_cloud_url: String,
    /// A directory of Azure Service Tags JSON files added to the ExpressRoute template.
    pub service_tags_dir: Option<PathBuf>,
    /// Regular interval between version checks (vendor guidance: at most hourly).
    pub interval: Duration,
    pub max_shrink_percent: u8,
    /// One GUID per installation (stored in the data dir), sent as `ClientRequestId`.
    pub client_request_id: String,
}

/// Counts quarantines this node's poller caused, and candidates held now.
#[derive(Clone)]
pub struct PollMetrics {
    quarantines: IntCounterVec,
    held: IntGaugeVec,
    /// Unix time of each source's last successful poll by this node.
    last_success: GaugeVec,
}

impl PollMetrics {
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let quarantines = IntCounterVec::new(
            Opts::new(
                "breakout_template_quarantines_total",
                "Fetched template candidates the guard quarantined (counted by the leader's poller)",
            ),
            &["item"],
        )?;
        let held = IntGaugeVec::new(
            Opts::new(
                "breakout_template_quarantined",
                "Template candidates waiting in quarantine for an operator",
            ),
            &["item"],
        )?;
        let last_success = GaugeVec::new(
            Opts::new(
                "breakout_template_last_success_timestamp_seconds",
                "Unix time of a template source's last successful poll (by this node, as leader)",
            ),
            &["source"],
        )?;
        registry.register(Box::new(quarantines.clone()))?;
        registry.register(Box::new(held.clone()))?;
        registry.register(Box::new(last_success.clone()))?;
        Ok(Self {
            quarantines,
            held,
            last_success,
        })
    }
}

/// Reads the installation's ClientRequestId from `path`, generating it on first use.
pub fn client_request_id(path: &Path) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let b: [u8; 16] = rand::random();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    // A version-4 GUID layout: 8-4-4-4-12.
    let id = format!(
        "{}-{}-4{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[16..20],
        &hex[20..32]
    );
    std::fs::write(path, &id)?;
    Ok(id)
}

/// Why one poll failed.
#[derive(Debug, thiserror::Error)]
enum PollError {
    #[error("GET {url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("GET {url}: status {status}")]
    Status { url: String, status: u16 },
    #[error("GET {url}: 429 too many requests")]
    TooMany {
        url: String,
        retry_after: Option<u64>,
    },
    #[error("{0}")]
    Version(String),
    #[error("store: {0}")]
    Store(String),
}

pub struct Poller {
    pub config: PollConfig,
    pub store: Arc<dyn Store>,
    pub node_id: u64,
    pub client: reqwest::Client,
    pub metrics: PollMetrics,
    pub clock: SharedClock,
}

/// The two source families: Microsoft (feeds microsoft365 and azure-expressroute) and Google.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Microsoft,
    Google,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Source::Microsoft => "microsoft",
            Source::Google => "google",
        }
    }
}

impl Poller {
    /// Runs until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut schedules = [Schedule::default(), Schedule::default()];
        let mut sync_seen: Option<u64> = None;
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            let Ok(state) = self.store.read(Consistency::Stale).await else {
                continue;
            };
            self.refresh_gauge(&state);
            let leads =
                matches!(self.store.status().await, Ok(s) if s.leader == Some(self.node_id));
            if !leads {
                continue;
            }
            // A sync request newer than what this poller saw makes every source due now.
            let forced = sync_seen.is_some_and(|seen| state.template_sync > seen);
            sync_seen = Some(state.template_sync);
            for (i, source) in [Source::Microsoft, Source::Google].into_iter().enumerate() {
                let now = self.clock.now_ms();
                if !forced && !schedules[i].due(now) {
                    continue;
                }
                let result = match self.poll(source, &state).await {
                    Ok(()) => {
                        self.metrics
                            .last_success
                            .with_label_values(&[source.label()])
                            .set(self.clock.now_ms() as f64 / 1000.0);
                        schedule::Result::Ok
                    }
                    Err(e) => {
                        tracing::warn!(source = ?source, error = %e, "template poll failed");
                        self.offline_start(source, &state).await;
                        match e {
                            PollError::TooMany { retry_after, .. } => {
                                schedule::Result::TooMany(retry_after)
                            }
                            _ => schedule::Result::Failed,
                        }
                    }
                };
                let jitter: f64 = rand::random();
                schedules[i].after(self.clock.now_ms(), result, self.config.interval, jitter);
            }
        }
    }

    fn refresh_gauge(&self, state: &State) {
        for item in TemplateItem::ALL {
            let n = state.templates.get(item).map_or(0, |r| r.quarantine.len());
            self.metrics
                .held
                .with_label_values(&[item.as_str()])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    async fn get(&self, url: &str) -> Result<String, PollError> {
        let http = |source| PollError::Http {
            url: url.to_string(),
            source,
        };
        let resp = self.client.get(url).send().await.map_err(http)?;
        let status = resp.status();
        if status.as_u16() == 429 {
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok());
            return Err(PollError::TooMany {
                url: url.to_string(),
                retry_after,
            });
        }
        if !status.is_success() {
            return Err(PollError::Status {
                url: url.to_string(),
                status: status.as_u16(),
            });
        }
        resp.text().await.map_err(http)
    }

    async fn record(&self, item: TemplateItem, fetched: Fetched) -> Result<(), PollError> {
        let before = self.quarantined(item).await;
        let req = Request {
            actor: "template-poller".into(),
            at_ms: self.clock.now_ms(),
            command: Command::RecordTemplate(RecordTemplate {
                item,
                fetched,
                max_shrink_percent: self.config.max_shrink_percent,
            }),
        };
        self.store
            .write(req)
            .await
            .map_err(|e| PollError::Store(e.to_string()))?;
        if self.quarantined(item).await > before {
            tracing::warn!(item = %item, "a fetched template candidate was quarantined");
            self.metrics
                .quarantines
                .with_label_values(&[item.as_str()])
                .inc();
        }
        Ok(())
    }

    async fn quarantined(&self, item: TemplateItem) -> u32 {
        match self.store.read(Consistency::Stale).await {
            Ok(s) => s
                .templates
                .get(&item)
                .and_then(|r| r.quarantine.last().map(|q| q.id + 1))
                .unwrap_or(0),
            Err(_) => 0,
        }
    }

    fn fetched(
        &self,
        source_version: String,
        result: Result<TemplateContent, String>,
        instance: Option<&str>,
    ) -> Fetched {
        let (content, error) = match result {
            Ok(c) => (Some(c), None),
            Err(e) => (None, Some(e)),
        };
        Fetched {
            source_version,
            fetched_at_ms: self.clock.now_ms(),
            content,
            error,
            instance: instance.map(str::to_string),
        }
    }

    async fn poll(&self, source: Source, state: &State) -> Result<(), PollError> {
        match source {
            Source::Microsoft => self.poll_microsoft(state).await,
            Source::Google => self.poll_google(state).await,
        }
    }

    /// Per instance: `/version/{instance}`, then `/endpoints/{instance}` only when that
    /// instance's version (for `azure-expressroute`, with the Service Tags files' versions) is
    /// new to a template; each instance is recorded on its own, so an unchanged one is neither
    /// fetched again nor recorded (nor audited) when another one changes.
    async fn poll_microsoft(&self, state: &State) -> Result<(), PollError> {
        #[derive(Deserialize)]
        struct Version {
            latest: String,
        }
        let base = self.config.m365_base.trim_end_matches('/');
        let id = &self.config.client_request_id;
        let tags = self.service_tags();
        for instance in &self.config.m365_instances {
            let url = format!("{base}/version/{instance}?ClientRequestId={id}");
            let body = self.get(&url).await?;
            let v: Version = serde_json::from_str(&body)
                .map_err(|e| PollError::Version(format!("{url}: {e}")))?;
            let (tag_files, other_clouds) = expressroute::tags_for(instance, &tags);
            if !other_clouds.is_empty() {
                tracing::warn!(clouds = ?other_clouds, "service tags files of other clouds than Public are not used");
            }
            let er_version = format!("{}{}", v.latest, expressroute::tags_version(&tag_files));
            let due = |item, version: &str| {
                !state
                    .templates
                    .get(&item)
                    .is_some_and(|r| r.seen(Some(instance), version))
            };
            let m365_due = due(TemplateItem::Microsoft365, &v.latest);
            let er_due = due(TemplateItem::AzureExpressroute, &er_version);
            if !m365_due && !er_due {
                continue;
            }
            let url = format!("{base}/endpoints/{instance}?ClientRequestId={id}");
            let answer = self.get(&url).await?;
            if m365_due {
                let content = m365::instance_template(&answer, &v.latest, instance);
                let fetched = self.fetched(
                    v.latest.clone(),
                    content.map_err(|e| e.to_string()),
                    Some(instance),
                );
                self.record(TemplateItem::Microsoft365, fetched).await?;
            }
            if er_due {
                let content =
                    expressroute::instance_template(&answer, &v.latest, instance, &tag_files);
                let fetched = self.fetched(
                    er_version,
                    content.map_err(|e| e.to_string()),
                    Some(instance),
                );
                self.record(TemplateItem::AzureExpressroute, fetched)
                    .await?;
            }
        }
        Ok(())
    }

    /// The Service Tags files in the configured directory (unreadable ones are logged).
    fn service_tags(&self) -> Vec<String> {
        let Some(dir) = &self.config.service_tags_dir else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect(),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "reading the service tags dir");
                return Vec::new();
            }
        };
        paths.sort();
        paths
            .iter()
            .filter_map(|p| match std::fs::read_to_string(p) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(file = %p.display(), error = %e, "reading a service tags file");
                    None
                }
            })
            .collect()
    }

    /// goog.json and cloud.json; recorded when goog's syncToken (with the curated host list's
    /// version) is new to the template.
    async fn poll_google(&self, state: &State) -> Result<(), PollError> {
        let goog = self.get(&self.config.google_goog_url).await?;
        let cloud = self.get(&self.config.google_cloud_url).await?;
        let result = google::template(&goog, &cloud, snapshot::GOOGLE_HOSTS);
        let source_version = match &result {
            Ok(c) => c.source_version.clone(),
            Err(_) => format!("unparsable@{}", self.clock.now_ms()),
        };
        let seen = state
            .templates
            .get(&TemplateItem::GoogleWorkspace)
            .is_some_and(|r| r.seen(None, &source_version));
        if seen {
            return Ok(());
        }
        let fetched = self.fetched(source_version, result.map_err(|e| e.to_string()), None);
        self.record(TemplateItem::GoogleWorkspace, fetched).await
    }

    /// A source that failed while its templates have no version: the shipped snapshot.
    async fn offline_start(&self, source: Source, state: &State) {
        let items: &[TemplateItem] = match source {
            Source::Microsoft => &[TemplateItem::Microsoft365, TemplateItem::AzureExpressroute],
            Source::Google => &[TemplateItem::GoogleWorkspace],
        };
        for item in items {
            if state
                .templates
                .get(item)
                .is_some_and(|r| !r.versions.is_empty())
            {
                continue;
            }
            let Ok(content) = snapshot::content(*item) else {
                continue;
            };
            // The shipped Microsoft list is Worldwide's.
            let instance = instance::has_instances(*item).then_some(instance::WORLDWIDE);
            let fetched = self.fetched(content.source_version.clone(), Ok(content), instance);
            match self.record(*item, fetched).await {
                Ok(()) => {
                    tracing::info!(item = %item, "template started from the shipped snapshot")
                }
                Err(e) => tracing::warn!(item = %item, error = %e, "recording the snapshot"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_request_id_is_generated_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("breakout-crid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("m365-client-request-id");
        let _ = std::fs::remove_file(&path);
        let first = client_request_id(&path).expect("generated");
        assert_eq!(first.len(), 36, "{first}");
        assert_eq!(first.matches('-').count(), 4, "{first}");
        assert_eq!(&first[14..15], "4", "a version-4 layout: {first}");
        assert_eq!(client_request_id(&path).expect("read back"), first);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
