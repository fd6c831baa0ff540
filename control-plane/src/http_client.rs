//! Every outgoing HTTP client of the control plane (vendor lists, webhooks, the leader, the
//! CLI) is built here, so HTTPS works with the one crypto provider the whole tree uses (ring):
//! reqwest is built without a provider of its own and refuses to build a client until a
//! process default is installed.

use http::HeaderName;

/// Marks a request a node sends to the leader on behalf of a client or its edges (a forwarded
/// API request, relayed edge reports), and the leader's relayed answer: the leader never
/// forwards such a request again.
pub static FORWARDED_HEADER: HeaderName = HeaderName::from_static("x-breakout-forwarded");

/// A reqwest client builder, with ring installed as the process's rustls provider and names
/// resolved by hickory ([`crate::dns`]; glibc's resolver does not work in the static image).
pub fn builder() -> reqwest::ClientBuilder {
    // Err means a provider is installed already (by an earlier call, or by the embedding
    // program); either way there is one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().dns_resolver(crate::dns::HickoryResolver::new())
}
