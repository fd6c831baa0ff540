//! Connecting to one control-plane node: QUIC with TLS 1.3 (rustls, ring), ALPN `breakout/1`,
//! the server's certificate verified against the configured CA for the name dialled.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use breakout_policy::wire::{ALPN, IDLE_TIMEOUT_MS, KEEP_ALIVE_MS};
use quinn::crypto::rustls::QuicClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use super::SyncError;

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The QUIC client configuration: trust only the certificates in `ca_file`.
pub fn client_config(ca_file: &Path) -> Result<quinn::ClientConfig, SyncError> {
    let setup = |m: String| SyncError::Setup(format!("{}: {m}", ca_file.display()));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file).map_err(|e| setup(e.to_string()))? {
        let cert = cert.map_err(|e| setup(e.to_string()))?;
        roots.add(cert).map_err(|e| setup(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(setup("no certificate in the file".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| SyncError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = QuicClientConfig::try_from(tls).map_err(|e| SyncError::Setup(e.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    let idle = quinn::IdleTimeout::try_from(Duration::from_millis(IDLE_TIMEOUT_MS))
        .map_err(|e| SyncError::Setup(e.to_string()))?;
    transport
        .max_idle_timeout(Some(idle))
        .keep_alive_interval(Some(Duration::from_millis(KEEP_ALIVE_MS)));
    config.transport_config(Arc::new(transport));
    Ok(config)
}

/// Connects to `target` (`host:port`; an IPv6 host in brackets). The endpoint is returned with
/// the connection: dropping it would close the socket under the connection.
pub async fn connect(
    config: &quinn::ClientConfig,
    target: &str,
) -> Result<(quinn::Endpoint, quinn::Connection), SyncError> {
    let name = server_name(target)
        .ok_or_else(|| SyncError::Setup(format!("{target:?} is not host:port")))?;
    let addr = resolve(target, name).await?;
    let local: SocketAddr = if addr.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let mut endpoint =
        quinn::Endpoint::client(local).map_err(|e| SyncError::Connect(e.to_string()))?;
    endpoint.set_default_client_config(config.clone());
    let connecting = endpoint
        .connect(addr, name)
        .map_err(|e| SyncError::Connect(e.to_string()))?;
    let conn = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| SyncError::Connect(format!("no answer from {target} in time")))?
        .map_err(|e| SyncError::Connect(format!("{target}: {e}")))?;
    Ok((endpoint, conn))
}

/// The address of `target` (`host:port`): an IP literal as is, a name through hickory
/// (/etc/hosts, then /etc/resolv.conf's servers). Not glibc's getaddrinfo: the container
/// image's static binaries cannot load its resolver, and in Kubernetes the control plane is a
/// Service name.
async fn resolve(target: &str, host: &str) -> Result<SocketAddr, SyncError> {
    if let Ok(addr) = target.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let port: u16 = target
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .ok_or_else(|| SyncError::Setup(format!("{target:?} is not host:port")))?;
    let fail = |e: String| SyncError::Connect(format!("resolving {target}: {e}"));
    let mut builder = hickory_resolver::TokioResolver::builder_tokio().unwrap_or_else(|_| {
        // No /etc/resolv.conf: /etc/hosts and IP literals only.
        hickory_resolver::TokioResolver::builder_with_config(
            hickory_resolver::config::ResolverConfig::from_name_servers(Vec::new()),
            hickory_resolver::net::runtime::TokioRuntimeProvider::default(),
        )
    });
    // Listeners are usually IPv4; `localhost` answers with both.
    builder.options_mut().ip_strategy = hickory_resolver::config::LookupIpStrategy::Ipv4thenIpv6;
    let resolver = builder.build().map_err(|e| fail(e.to_string()))?;
    let ip = resolver
        .lookup_ip(host)
        .await
        .map_err(|e| fail(e.to_string()))?
        .iter()
        .next()
        .ok_or_else(|| SyncError::Connect(format!("{target} resolves to nothing")))?;
    Ok(SocketAddr::new(ip, port))
}

/// The host of `host:port` as TLS checks it (brackets of an IPv6 literal removed).
pub fn server_name(target: &str) -> Option<&str> {
    let (host, port) = target.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_resolve_without_glibc_and_prefer_ipv4() {
        let addr = resolve("localhost:7443", "localhost")
            .await
            .expect("resolved");
        assert_eq!(addr, SocketAddr::from(([127, 0, 0, 1], 7443)));
        let literal = resolve("[::1]:7443", "::1").await.expect("literal");
        assert_eq!(literal.port(), 7443);
        assert!(resolve("localhost", "localhost").await.is_err());
    }

    #[test]
    fn the_server_name_is_the_host_without_port_or_brackets() {
        assert_eq!(server_name("127.0.0.1:7443"), Some("127.0.0.1"));
        assert_eq!(server_name("cp-1.example:7443"), Some("cp-1.example"));
        assert_eq!(server_name("[::1]:7443"), Some("::1"));
        assert_eq!(server_name("nohost"), None);
        assert_eq!(server_name(":7443"), None);
        assert_eq!(server_name("host:port"), None);
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let path = std::env::temp_dir().join(format!("breakout-empty-ca-{}", std::process::id()));
        std::fs::write(&path, "not a certificate\n").expect("write");
        let err = client_config(&path).expect_err("no certificate");
        assert!(err.to_string().contains("no certificate"), "{err}");
        let _ = std::fs::remove_file(&path);
    }
}
