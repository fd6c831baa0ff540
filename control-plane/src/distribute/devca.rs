//! A development certificate authority (rcgen, ring): a CA and one server certificate it signs,
//! for labs and tests. Production deployments bring their own (`--edge-cert`, `--edge-key`).

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// File names written by [`DevCa::write`].
pub const CA_CERT: &str = "ca.pem";
pub const SERVER_CERT: &str = "server.pem";
pub const SERVER_KEY: &str = "server.key";

/// The names a development server certificate is valid for by default.
pub fn default_names() -> Vec<String> {
    ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec()
}

/// A CA certificate and a server certificate and key it signed (PEM).
pub struct DevCa {
    pub ca_pem: String,
    pub server_pem: String,
    pub server_key_pem: String,
}

impl DevCa {
    /// A new CA and a server certificate for `names` (DNS names or IP addresses).
    pub fn generate(names: &[String]) -> Result<DevCa, rcgen::Error> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Breakout development CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let mut params = CertificateParams::new(names.to_vec())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "breakout-control");
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &issuer)?;
        Ok(DevCa {
            ca_pem: ca_cert.pem(),
            server_pem: cert.pem(),
            server_key_pem: key.serialize_pem(),
        })
    }

    /// Writes `ca.pem`, `server.pem` and `server.key` (mode 0600) into `dir` (created 0700).
    pub fn write(&self, dir: &Path) -> Result<(), (PathBuf, std::io::Error)> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| (dir.to_path_buf(), e))?;
        write_file(&dir.join(CA_CERT), &self.ca_pem, 0o644)?;
        write_file(&dir.join(SERVER_CERT), &self.server_pem, 0o644)?;
        write_file(&dir.join(SERVER_KEY), &self.server_key_pem, 0o600)
    }
}

fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), (PathBuf, std::io::Error)> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(|e| (path.to_path_buf(), e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| (path.to_path_buf(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_certificate_verifies_against_the_ca_for_its_names() {
        use rustls::client::danger::ServerCertVerifier;
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

        let ca = DevCa::generate(&default_names()).expect("generate");
        let root = CertificateDer::from_pem_slice(ca.ca_pem.as_bytes()).expect("ca pem");
        let leaf = CertificateDer::from_pem_slice(ca.server_pem.as_bytes()).expect("leaf pem");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(root).expect("add root");
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(roots.into(), provider)
                .build()
                .expect("verifier");
        for (name, ok) in [
            ("127.0.0.1", true),
            ("localhost", true),
            ("example.com", false),
        ] {
            let server = ServerName::try_from(name).expect("name");
            let verdict = verifier.verify_server_cert(&leaf, &[], &server, &[], UnixTime::now());
            assert_eq!(verdict.is_ok(), ok, "{name}: {verdict:?}");
        }
    }
}
