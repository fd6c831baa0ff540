//! The dev deployment's directory: tokens, the development CA, the edge's settings file.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::distribute::devca::{self, DevCa};

/// Paths under the data directory (absolute, so printed commands work from anywhere).
pub struct Layout {
    pub dir: PathBuf,
}

impl Layout {
    pub fn new(dir: &Path) -> anyhow::Result<Layout> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let dir = dir
            .canonicalize()
            .with_context(|| format!("resolving {}", dir.display()))?;
        Ok(Layout { dir })
    }

    pub fn admin_token(&self) -> PathBuf {
        self.dir.join("admin.token")
    }
    pub fn edge_token(&self) -> PathBuf {
        self.dir.join("edge.token")
    }
    pub fn ca_dir(&self) -> PathBuf {
        self.dir.join("ca")
    }
    pub fn ca(&self) -> PathBuf {
        self.ca_dir().join(devca::CA_CERT)
    }
    pub fn control_data(&self) -> PathBuf {
        self.dir.join("control")
    }
    pub fn control_addrs(&self) -> PathBuf {
        self.dir.join("control.addrs.json")
    }
    pub fn edge_addrs(&self) -> PathBuf {
        self.dir.join("edge.addrs.json")
    }
    pub fn edge_settings(&self) -> PathBuf {
        self.dir.join("edge.toml")
    }
    pub fn edge_pid(&self) -> PathBuf {
        self.dir.join("edge.pid")
    }
    pub fn edge_log(&self) -> PathBuf {
        self.dir.join("edge.log")
    }
    pub fn access_log(&self) -> PathBuf {
        self.dir.join("access.log")
    }

    /// Generates what a first start needs (tokens, CA) and removes stale address files.
    pub fn prepare(&self) -> anyhow::Result<()> {
        for token in [self.admin_token(), self.edge_token()] {
            ensure_token(&token)?;
        }
        if !self.ca().exists() {
            let ca = DevCa::generate(&devca::default_names()).context("generating the dev CA")?;
            ca.write(&self.ca_dir())
                .map_err(|(p, e)| anyhow::anyhow!("writing {}: {e}", p.display()))?;
        }
        for stale in [self.control_addrs(), self.edge_addrs()] {
            match std::fs::remove_file(&stale) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("removing {}", stale.display()))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The server's CLI for this deployment (`breakout-control` flags; port 0 allowed).
    pub fn server_argv(&self, api: &str, raft: &str, edge: &str) -> Vec<std::ffi::OsString> {
        let mut argv: Vec<std::ffi::OsString> = Vec::new();
        let mut flag = |name: &str, value: &std::ffi::OsStr| {
            argv.push(name.into());
            argv.push(value.to_owned());
        };
        flag("--node-id", "1".as_ref());
        flag("--data-dir", self.control_data().as_os_str());
        flag("--api-listen", api.as_ref());
        flag("--raft-listen", raft.as_ref());
        flag("--edge-listen", edge.as_ref());
        flag(
            "--edge-cert",
            self.ca_dir().join(devca::SERVER_CERT).as_os_str(),
        );
        flag(
            "--edge-key",
            self.ca_dir().join(devca::SERVER_KEY).as_os_str(),
        );
        flag("--admin-token-file", self.admin_token().as_os_str());
        flag("--edge-token-file", self.edge_token().as_os_str());
        flag("--addr-file", self.control_addrs().as_os_str());
        argv.insert(0, "breakout-control".into());
        argv
    }

    /// The edge's settings (its tenants come from the control plane).
    pub fn write_edge_settings(&self, allow_private: bool) -> anyhow::Result<()> {
        let access_log = self.access_log().display().to_string();
        let text = format!(
            "# Written by `breakout-control dev` on every start; see docs/edge-config.md.\n\
             region = \"{}\"\n\
             allow_private_destinations = {allow_private}\n\
             access_log = {}\n\
             drain_grace_ms = 2000\n",
            super::REGION,
            toml_string(&access_log)
        );
        std::fs::write(self.edge_settings(), text)
            .with_context(|| format!("writing {}", self.edge_settings().display()))
    }
}

/// A TOML basic string (paths may hold quotes or backslashes).
fn toml_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Creates `path` with a random token (mode 0600) unless it exists.
fn ensure_token(path: &Path) -> anyhow::Result<()> {
    let token = crate::crypto::random_secret();
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut file) => file
            .write_all(token.as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// Reads a JSON address file written with write-then-rename; `None` until it exists.
pub fn read_addrs(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}
