//! `breakout-control`'s notification flags.

use std::path::PathBuf;
use std::sync::Arc;

use prometheus::Registry;

use super::{calendar, BusinessDays, Mailer, Metrics, Notifier, SmtpConfig};
use crate::clock::SharedClock;
use crate::store::Store;

/// Change notifications by e-mail (off without `--smtp-relay`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct NotifyArgs {
    /// SMTP relay (`host:port`) that takes list change mails for tenants' operations contacts.
    #[arg(long, env = "BREAKOUT_SMTP_RELAY", value_name = "HOST:PORT")]
    pub smtp_relay: Option<String>,
    /// Sender address of those mails.
    #[arg(
        long,
        env = "BREAKOUT_SMTP_FROM",
        value_name = "ADDRESS",
        default_value = "breakout@localhost"
    )]
    pub smtp_from: String,
    /// Require STARTTLS with the relay (system trust roots).
    #[arg(long)]
    pub smtp_starttls: bool,
    /// Hold every tenant's mails to business hours (09:00-18:00, Monday to Friday, not a
    /// --holidays day); without it only tenants with `notify_business_days` wait.
    #[arg(long)]
    pub notify_business_days: bool,
    /// Holidays of the business calendar: one date per line (`YYYY-MM-DD` or `YYYY/M/D`,
    /// e.g. the Cabinet Office's syukujitsu.csv as it is).
    #[arg(long, value_name = "PATH")]
    pub holidays: Option<PathBuf>,
    /// The business calendar's offset from UTC in hours (Japan: 9).
    #[arg(
        long,
        value_name = "HOURS",
        default_value_t = 9,
        allow_negative_numbers = true
    )]
    pub notify_utc_offset: i32,
}

impl NotifyArgs {
    /// The notifier these flags describe (`None` without a relay); its counters go in `registry`.
    pub fn notifier(
        &self,
        store: Arc<dyn Store>,
        node_id: u64,
        registry: &Registry,
        clock: SharedClock,
    ) -> Result<Option<Notifier>, String> {
        let Some(relay) = &self.smtp_relay else {
            return Ok(None);
        };
        let mailer = Mailer::new(&SmtpConfig {
            relay: relay.clone(),
            from: self.smtp_from.clone(),
            starttls: self.smtp_starttls,
        })
        .map_err(|e| e.to_string())?;
        let holidays = match &self.holidays {
            None => Default::default(),
            Some(path) => {
                let bytes =
                    std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
                calendar::parse_holidays(&bytes).map_err(|e| format!("{}: {e}", path.display()))?
            }
        };
        let calendar = BusinessDays::new(self.notify_utc_offset, holidays).ok_or_else(|| {
            format!(
                "--notify-utc-offset {}: not a time zone",
                self.notify_utc_offset
            )
        })?;
        let metrics = Metrics::register(registry).map_err(|e| e.to_string())?;
        Ok(Some(Notifier {
            store,
            node_id,
            mailer,
            calendar,
            hold_all: self.notify_business_days,
            metrics,
            clock,
        }))
    }
}
