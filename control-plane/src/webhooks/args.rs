//! `breakout-control` flags for webhook deliveries.

use breakout_policy::guard::GuardOptions;
use ipnet::IpNet;

/// Where webhook deliveries may go beyond public addresses.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct WebhookArgs {
    /// A range webhook targets may be in although the destination guard refuses it otherwise
    /// (loopback, private, link-local, CGNAT, metadata): e.g. an internal receiver's subnet, or
    /// 127.0.0.0/8 in a lab. Repeatable; the environment variable takes a comma-separated
    /// list. Unspecified, multicast, broadcast and reserved addresses stay refused.
    #[arg(
        long = "webhook-allow-cidr",
        env = "BREAKOUT_WEBHOOK_ALLOW_CIDRS",
        value_delimiter = ',',
        value_name = "CIDR"
    )]
    pub webhook_allow_cidrs: Vec<IpNet>,
}

impl WebhookArgs {
    /// The guard's options for webhook targets.
    pub fn guard(&self) -> GuardOptions {
        GuardOptions {
            allow_private: false,
            allowed_ranges: self.webhook_allow_cidrs.iter().map(IpNet::trunc).collect(),
        }
    }
}
