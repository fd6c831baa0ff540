//! The operator and edge tokens a control-plane node reads at start: from a file, else the
//! environment, else (the operator token only) generated on first start into the data dir.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{bail, Context};

/// Environment variable holding the operator token (when no `--admin-token-file`).
pub const ADMIN_TOKEN_ENV: &str = "BREAKOUT_ADMIN_TOKEN";
const ADMIN_TOKEN_FILE: &str = "admin.token";
/// Environment variable holding the edge token (when no `--edge-token-file`).
pub const EDGE_TOKEN_ENV: &str = "BREAKOUT_EDGE_TOKEN";

/// The operator token: from `--admin-token-file`, else `BREAKOUT_ADMIN_TOKEN`, else the one
/// generated on first start into `<data_dir>/admin.token`.
pub fn admin_token(file: Option<&Path>, data_dir: &Path) -> anyhow::Result<String> {
    if let Some(path) = file {
        let token = std::fs::read_to_string(path)
            .with_context(|| format!("reading the admin token file {}", path.display()))?;
        return non_empty(token, &path.display().to_string());
    }
    if let Ok(token) = std::env::var(ADMIN_TOKEN_ENV) {
        return non_empty(token, ADMIN_TOKEN_ENV);
    }
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(token) => return non_empty(token, &path.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let token = crate::crypto::random_secret();
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(token.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "breakout-control: generated an admin token in {}",
        path.display()
    );
    Ok(token)
}

fn non_empty(token: String, source: &str) -> anyhow::Result<String> {
    let token = token.trim();
    if token.is_empty() {
        bail!("the token from {source} is empty");
    }
    Ok(token.to_string())
}

/// The edge token: from `--edge-token-file`, else `BREAKOUT_EDGE_TOKEN`, else the admin token.
pub fn edge_token(file: Option<&Path>, admin_token: &str) -> anyhow::Result<String> {
    if let Some(path) = file {
        let token = std::fs::read_to_string(path)
            .with_context(|| format!("reading the edge token file {}", path.display()))?;
        return non_empty(token, &path.display().to_string());
    }
    match std::env::var(EDGE_TOKEN_ENV) {
        Ok(token) => non_empty(token, EDGE_TOKEN_ENV),
        Err(_) => Ok(admin_token.to_string()),
    }
}

/// `--edge-region-token-file REGION=PATH` values → region → token.
pub fn region_tokens(
    specs: &[String],
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    specs
        .iter()
        .map(|spec| {
            let (region, path) = spec
                .split_once('=')
                .filter(|(r, p)| !r.is_empty() && !p.is_empty())
                .with_context(|| {
                    format!("--edge-region-token-file {spec:?}: expected REGION=PATH")
                })?;
            let token = std::fs::read_to_string(path).with_context(|| {
                format!("reading the edge token file {path} of region {region}")
            })?;
            Ok((region.to_string(), non_empty(token, path)?))
        })
        .collect()
}
