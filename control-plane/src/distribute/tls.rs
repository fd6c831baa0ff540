//! The QUIC endpoint's TLS 1.3 (rustls with the ring provider, ALPN `breakout/1`) and transport
//! settings, and the development certificates generated when none are given.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use breakout_policy::wire::{ALPN, IDLE_TIMEOUT_MS, KEEP_ALIVE_MS};
use quinn::crypto::rustls::QuicServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::devca::{self, DevCa};

/// Why the edge endpoint could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {path}: {message}")]
    Pem { path: PathBuf, message: String },
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("QUIC configuration: {0}")]
    Quic(String),
    #[error("generating development certificates: {0}")]
    Generate(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where the server's certificate chain and key are.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The QUIC server config for edges from PEM files.
pub fn server_config(files: &TlsFiles) -> Result<quinn::ServerConfig, TlsError> {
    let pem_err = |path: &Path, e: rustls::pki_types::pem::Error| TlsError::Pem {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| pem_err(&files.cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(&files.cert, e))?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| pem_err(&files.key, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = QuicServerConfig::try_from(tls).map_err(|e| TlsError::Quic(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(Arc::new(transport()?));
    Ok(config)
}

/// Keep-alives well under the idle timeout, so a healthy quiet link stays up and a dead peer is
/// noticed within the timeout.
pub fn transport() -> Result<quinn::TransportConfig, TlsError> {
    let mut t = quinn::TransportConfig::default();
    let idle = quinn::IdleTimeout::try_from(Duration::from_millis(IDLE_TIMEOUT_MS))
        .map_err(|e| TlsError::Quic(e.to_string()))?;
    t.max_idle_timeout(Some(idle))
        .keep_alive_interval(Some(Duration::from_millis(KEEP_ALIVE_MS)));
    Ok(t)
}

/// The development certificates in `dir` (`ca.pem`, `server.pem`, `server.key`), generated for
/// `names` on first use; `generated` tells whether they were just made.
pub fn dev_files(dir: &Path, names: &[String]) -> Result<(TlsFiles, bool), TlsError> {
    let files = TlsFiles {
        cert: dir.join(devca::SERVER_CERT),
        key: dir.join(devca::SERVER_KEY),
    };
    if files.cert.exists() && files.key.exists() {
        return Ok((files, false));
    }
    let ca = DevCa::generate(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    ca.write(dir)
        .map_err(|(path, source)| TlsError::Io { path, source })?;
    Ok((files, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_dev_files_load_and_are_reused() {
        let dir = std::env::temp_dir().join(format!("breakout-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let (files, generated) = dev_files(&dir, &names).expect("generate");
        assert!(generated);
        server_config(&files).expect("the generated files load");
        let (_, generated) = dev_files(&dir, &names).expect("reuse");
        assert!(!generated, "existing files are kept");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_file_names_its_path() {
        let files = TlsFiles {
            cert: "/nonexistent/server.pem".into(),
            key: "/nonexistent/server.key".into(),
        };
        let err = server_config(&files).expect_err("no such file");
        assert!(err.to_string().contains("/nonexistent/server.pem"), "{err}");
    }
}
