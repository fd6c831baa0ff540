//! A tenant's PAC file as the edge serves it: rendered (`breakout_policy::pac`) and compressed
//! when a snapshot is built, so that a request only picks an encoding and copies bytes.

use std::io::Write;
use std::sync::Arc;

use breakout_policy::RegionPolicy;
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::config::Settings;

/// A rendered PAC file, ready to serve in either encoding: compressed here, once per
/// snapshot, so that a request only picks one and copies bytes.
pub struct PacFile {
    /// The file as rendered; ETag `"<sha256>"`.
    pub identity: PacBody,
    /// The same file gzip-compressed; ETag `"<sha256>-gz"`, so that caches never answer one
    /// encoding's conditional request with the other's bytes. `None` only if compressing
    /// failed (logged); such a file is served uncompressed.
    pub gzip: Option<PacBody>,
}

/// One encoding of a PAC file.
pub struct PacBody {
    pub bytes: bytes::Bytes,
    /// A strong ETag, quotes included.
    pub etag: String,
}

impl PacFile {
    /// Wraps a rendered file whose whole-text hash is `sha256`, compressing it.
    pub fn new(text: String, sha256: &str) -> PacFile {
        let gzip = match gzip(text.as_bytes()) {
            Ok(bytes) => Some(PacBody {
                bytes: bytes::Bytes::from(bytes),
                etag: format!("\"{sha256}-gz\""),
            }),
            Err(e) => {
                tracing::warn!(error = %e, "PAC not compressed; it is served uncompressed");
                None
            }
        };
        PacFile {
            identity: PacBody {
                bytes: bytes::Bytes::from(text),
                etag: format!("\"{sha256}\""),
            },
            gzip,
        }
    }
}

/// Renders a tenant's PAC file with the edge's own listen address as the proxy when its settings
/// name none. A failure is kept (and logged) rather than refusing the whole policy: the control
/// plane validated the settings, so it can only be the budget or an unusable listen address.
pub fn render(
    t: &breakout_policy::Tenant,
    policy: &RegionPolicy,
    settings: &Settings,
) -> Option<Result<Arc<PacFile>, String>> {
    let own = match settings.listen.ip() {
        ip if ip.is_unspecified() => String::new(),
        std::net::IpAddr::V4(a) => format!("{a}:{}", settings.listen.port()),
        std::net::IpAddr::V6(a) => format!("[{a}]:{}", settings.listen.port()),
    };
    let result = breakout_policy::pac::render_for_edge(t, &policy.lists, policy.version, &own)?;
    Some(match result {
        Ok(pac) => Ok(Arc::new(PacFile::new(pac.text, &pac.sha256))),
        Err(e) => {
            let why = match own.is_empty() {
                true => format!("{e} (the edge listens on an unspecified address, so PAC settings without proxies cannot name it)"),
                false => e.to_string(),
            };
            tracing::warn!(tenant = %t.id, error = %why, "PAC not rendered");
            Err(why)
        }
    })
}

/// `bytes` gzip-compressed at the best level: done once per snapshot, so the CPU spent is not
/// on the request path. The gzip header carries no name and mtime 0, so the output (and so the
/// ETag's meaning) depends on the input only.
pub fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::best());
    enc.write_all(bytes)?;
    enc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_round_trips_and_is_deterministic() {
        use std::io::Read;
        let text = "function FindProxyForURL(url, host) { return \"DIRECT\"; }\n".repeat(50);
        let packed = gzip(text.as_bytes()).expect("gzip");
        assert!(packed.len() < text.len() / 4, "{} bytes", packed.len());
        assert_eq!(packed, gzip(text.as_bytes()).expect("gzip again"));
        let mut back = String::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_string(&mut back)
            .expect("gunzip");
        assert_eq!(back, text);
    }
}
