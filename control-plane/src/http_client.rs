//! Every outgoing HTTP client of the control plane (vendor lists, webhooks, the leader, the
//! CLI) is built here, so HTTPS works with the one crypto provider the whole tree uses (ring):
//! reqwest is built without a provider of its own and refuses to build a client until a
//! process default is installed.

/// A reqwest client builder, with ring installed as the process's rustls provider and names
/// resolved by hickory ([`crate::dns`]; glibc's resolver does not work in the static image).
pub fn builder() -> reqwest::ClientBuilder {
    // Err means a provider is installed already (by an earlier call, or by the embedding
    // program); either way there is one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().dns_resolver(crate::dns::HickoryResolver::new())
}
