//! `--store raft|etcd` and the etcd options: which [`Store`] a node runs on, opened.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::ValueEnum;

use super::etcd::{EtcdConfig, EtcdStore, EtcdTls};
use super::raft::RaftStore;
use super::Store;

/// Where the state lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// The embedded Raft group (openraft over redb): nothing else to run.
    #[default]
    Raft,
    /// An existing etcd cluster (`--etcd-endpoints`): every instance is equal, one is elected
    /// for singleton work.
    Etcd,
}

/// The store options of `breakout-control`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct StoreArgs {
    /// Where the state lives: `raft` (embedded, the default) or `etcd` (docs/operations.md).
    #[arg(long = "store", value_enum, default_value_t = StoreKind::Raft)]
    pub kind: StoreKind,
    /// etcd client URLs, comma-separated (`https://` with the TLS options).
    #[arg(long, value_delimiter = ',', value_name = "URL[,URL…]")]
    pub etcd_endpoints: Vec<String>,
    /// Every key of the store lives under this prefix.
    #[arg(long, default_value = "/breakout/", value_name = "PREFIX")]
    pub etcd_prefix: String,
    /// CA certificate (PEM) that signs etcd's server certificates.
    #[arg(long, value_name = "PATH")]
    pub etcd_ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for etcd's client-certificate authentication.
    #[arg(long, requires = "etcd_key_file", value_name = "PATH")]
    pub etcd_cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, requires = "etcd_cert_file", value_name = "PATH")]
    pub etcd_key_file: Option<PathBuf>,
    /// etcd user (etcd's auth); the password comes from --etcd-password-file or
    /// `BREAKOUT_ETCD_PASSWORD`.
    #[arg(long, value_name = "NAME")]
    pub etcd_user: Option<String>,
    /// File holding the etcd user's password.
    #[arg(long, requires = "etcd_user", value_name = "PATH")]
    pub etcd_password_file: Option<PathBuf>,
}

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {what} {}", path.display()))
}

impl StoreArgs {
    /// The etcd connection these options describe, for instance `node_id` serving `api`.
    pub fn etcd_config(&self, node_id: u64, api: &str) -> anyhow::Result<EtcdConfig> {
        if self.etcd_endpoints.is_empty() {
            anyhow::bail!("--store etcd needs --etcd-endpoints URL[,URL…]");
        }
        if !self.etcd_prefix.ends_with('/') || self.etcd_prefix.len() < 2 {
            anyhow::bail!(
                "--etcd-prefix {:?} must be a path ending in '/' (e.g. /breakout/)",
                self.etcd_prefix
            );
        }
        let ca = match &self.etcd_ca_file {
            Some(p) => Some(read(p, "--etcd-ca-file")?),
            None => None,
        };
        let identity = match (&self.etcd_cert_file, &self.etcd_key_file) {
            (Some(c), Some(k)) => Some((read(c, "--etcd-cert-file")?, read(k, "--etcd-key-file")?)),
            _ => None,
        };
        let tls = (ca.is_some() || identity.is_some()).then_some(EtcdTls { ca, identity });
        let user = match &self.etcd_user {
            Some(name) => {
                let password = match &self.etcd_password_file {
                    Some(p) => String::from_utf8(read(p, "--etcd-password-file")?)
                        .context("--etcd-password-file is not UTF-8")?
                        .trim_end_matches(['\r', '\n'])
                        .to_string(),
                    None => std::env::var("BREAKOUT_ETCD_PASSWORD").context(
                        "--etcd-user needs --etcd-password-file or BREAKOUT_ETCD_PASSWORD",
                    )?,
                };
                Some((name.clone(), password))
            }
            None => None,
        };
        Ok(EtcdConfig {
            endpoints: self.etcd_endpoints.clone(),
            prefix: self.etcd_prefix.clone(),
            node_id,
            api: api.to_string(),
            tls,
            user,
        })
    }
}

/// An opened store, with what only one kind offers.
#[derive(Clone)]
pub enum Opened {
    Raft(Arc<RaftStore>),
    Etcd(Arc<EtcdStore>),
}

impl Opened {
    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            Opened::Raft(s) => s.clone(),
            Opened::Etcd(s) => s.clone(),
        }
    }

    /// The committed position the API reports: Raft's committed index, or the version the etcd
    /// follower serves.
    pub fn committed_index(&self) -> Option<u64> {
        match self {
            Opened::Raft(s) => s.metrics().committed_index,
            Opened::Etcd(s) => Some(*s.store_version()),
        }
    }

    pub fn registry_collectors(&self, registry: &prometheus::Registry) -> anyhow::Result<()> {
        match self {
            Opened::Raft(s) => registry
                .register(Box::new(s.apply_histogram()))
                .context("registering the apply histogram"),
            Opened::Etcd(s) => s
                .metrics()
                .register(registry)
                .context("registering the etcd metrics"),
        }
    }

    pub async fn shutdown(&self) {
        match self {
            Opened::Raft(s) => s.shutdown().await,
            Opened::Etcd(s) => s.shutdown().await,
        }
    }
}
