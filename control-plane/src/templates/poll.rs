//! The vendor-list poller (I/O). It runs on every node but acts only while its node leads: per
//! source it checks the vendor's version, fetches only when it changed, runs the adapter and
//! proposes a `RecordTemplate` (the guard runs in `apply`). A source that cannot be reached
//! while its template has no version at all gets the snapshot shipped in `deploy/lists/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};
use serde::Deserialize;
use tokio::sync::watch;

use super::schedule::{self, Schedule};
use super::{expressroute, google, m365, snapshot, TemplateContent};
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
    /// Instances to follow (Worldwide, China, USGovDoD, USGovGCCHigh); the first one's sets
    /// keep plain ids (`m365:46`), the others' are prefixed (`m365-China:46`).
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
        registry.register(Box::new(quarantines.clone()))?;
        registry.register(Box::new(held.clone()))?;
        Ok(Self { quarantines, held })
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
                    Ok(()) => schedule::Result::Ok,
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

    fn fetched(&self, source_version: String, result: Result<TemplateContent, String>) -> Fetched {
        let (content, error) = match result {
            Ok(c) => (Some(c), None),
            Err(e) => (None, Some(e)),
        };
        Fetched {
            source_version,
            fetched_at_ms: self.clock.now_ms(),
            content,
            error,
        }
    }

    async fn poll(&self, source: Source, state: &State) -> Result<(), PollError> {
        match source {
            Source::Microsoft => self.poll_microsoft(state).await,
            Source::Google => self.poll_google(state).await,
        }
    }

    /// `/version/{instance}` for every instance; `/endpoints/{instance}` only when the combined
    /// version is new to the microsoft365 template.
    async fn poll_microsoft(&self, state: &State) -> Result<(), PollError> {
        #[derive(Deserialize)]
        struct Version {
            latest: String,
        }
        let base = self.config.m365_base.trim_end_matches('/');
        let id = &self.config.client_request_id;
        let mut versions = Vec::new();
        for instance in &self.config.m365_instances {
            let url = format!("{base}/version/{instance}?ClientRequestId={id}");
            let body = self.get(&url).await?;
            let v: Version = serde_json::from_str(&body)
                .map_err(|e| PollError::Version(format!("{url}: {e}")))?;
            versions.push((instance.clone(), v.latest));
        }
        let source_version = match versions.as_slice() {
            [(_, v)] => v.clone(),
            many => many
                .iter()
                .map(|(i, v)| format!("{i}={v}"))
                .collect::<Vec<_>>()
                .join(";"),
        };
        let seen = |item| {
            state
                .templates
                .get(&item)
                .is_some_and(|r| r.seen(&source_version))
        };
        if seen(TemplateItem::Microsoft365) && seen(TemplateItem::AzureExpressroute) {
            return Ok(());
        }
        let mut answers = Vec::new();
        for (instance, _) in &versions {
            let url = format!("{base}/endpoints/{instance}?ClientRequestId={id}");
            answers.push((instance.clone(), self.get(&url).await?));
        }
        let tags = self.service_tags();
        let build = |er: bool| -> Result<TemplateContent, String> {
            let mut sets = Vec::new();
            for (n, (instance, body)) in answers.iter().enumerate() {
                let tag_refs: Vec<&str> = tags.iter().map(String::as_str).collect();
                let t = if er {
                    expressroute::template(
                        body,
                        &source_version,
                        if n == 0 { &tag_refs } else { &[] },
                    )
                } else {
                    m365::template(body, &source_version)
                }
                .map_err(|e| e.to_string())?;
                sets.extend(t.sets.into_iter().map(|mut s| {
                    if n > 0 {
                        s.id = s.id.replacen("m365:", &format!("m365-{instance}:"), 1);
                    }
                    s
                }));
            }
            let item = if er {
                TemplateItem::AzureExpressroute
            } else {
                TemplateItem::Microsoft365
            };
            Ok(TemplateContent::new(item, source_version.clone(), sets))
        };
        for (item, er) in [
            (TemplateItem::Microsoft365, false),
            (TemplateItem::AzureExpressroute, true),
        ] {
            if !seen(item) {
                self.record(item, self.fetched(source_version.clone(), build(er)))
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
            .is_some_and(|r| r.seen(&source_version));
        if seen {
            return Ok(());
        }
        let fetched = self.fetched(source_version, result.map_err(|e| e.to_string()));
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
            let fetched = Fetched {
                source_version: content.source_version.clone(),
                fetched_at_ms: self.clock.now_ms(),
                content: Some(content),
                error: None,
            };
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
