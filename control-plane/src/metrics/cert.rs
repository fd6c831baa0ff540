//! `breakout_control_tls_cert_expiry_timestamp_seconds{listener}`: when the certificate a
//! listener serves stops being valid (the leaf of its chain), read when it is loaded.

use std::path::Path;

use prometheus::{GaugeVec, Opts, Registry};
use x509_parser::pem::Pem;

/// Registers the gauge and returns it.
pub fn gauge(registry: &Registry) -> Result<GaugeVec, prometheus::Error> {
    let g = GaugeVec::new(
        Opts::new(
            "breakout_control_tls_cert_expiry_timestamp_seconds",
            "Unix time at which the certificate a listener serves expires",
        ),
        &["listener"],
    )?;
    registry.register(Box::new(g.clone()))?;
    Ok(g)
}

/// The `notAfter` (Unix seconds) of the first certificate in a PEM file.
pub fn not_after(pem_path: &Path) -> Result<i64, String> {
    let bytes = std::fs::read(pem_path).map_err(|e| format!("{}: {e}", pem_path.display()))?;
    not_after_pem(&bytes).map_err(|e| format!("{}: {e}", pem_path.display()))
}

pub fn not_after_pem(bytes: &[u8]) -> Result<i64, String> {
    let pem = Pem::iter_from_buffer(bytes)
        .next()
        .ok_or("no PEM block")?
        .map_err(|e| format!("not PEM: {e}"))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    Ok(cert.validity().not_after.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leaf_expiry_is_read_from_a_generated_certificate() {
        let ca = crate::distribute::devca::DevCa::generate(&["localhost".to_string()])
            .expect("certificates");
        let dir = std::env::temp_dir().join(format!("breakout-cert-{}", std::process::id()));
        ca.write(&dir).expect("written");
        let at = not_after(&dir.join(crate::distribute::devca::SERVER_CERT)).expect("expiry");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        assert!(
            at > now,
            "a fresh certificate expires in the future ({at} vs {now})"
        );
        assert!(not_after_pem(b"garbage").is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
