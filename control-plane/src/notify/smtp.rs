//! Sending a [`Mail`] through the operator's SMTP relay (lettre). Plain SMTP to a relay on the
//! local network, or STARTTLS when asked; no authentication (relays trust their network).

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::message::Mail;

/// How long one delivery to the relay may take.
const TIMEOUT: Duration = Duration::from_secs(20);

/// Why a mail could not be handed to the relay.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("address {0:?}: {1}")]
    Address(String, String),
    #[error("building the message: {0}")]
    Build(String),
    #[error("the SMTP relay: {0}")]
    Relay(String),
}

/// Where mails go.
#[derive(Clone, Debug)]
pub struct SmtpConfig {
    /// `host:port` of the relay.
    pub relay: String,
    /// The sender address.
    pub from: String,
    pub starttls: bool,
}

/// The relay, ready to send.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    pub fn new(cfg: &SmtpConfig) -> Result<Self, SendError> {
        let from = mailbox(&cfg.from)?;
        let (host, port) = match cfg.relay.rsplit_once(':') {
            Some((h, p)) => (
                h.trim_start_matches('[').trim_end_matches(']'),
                p.parse::<u16>()
                    .map_err(|_| SendError::Relay(format!("{:?}: bad port", cfg.relay)))?,
            ),
            None => (cfg.relay.as_str(), 25),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .timeout(Some(TIMEOUT));
        if cfg.starttls {
            let tls = TlsParameters::new(host.to_string())
                .map_err(|e| SendError::Relay(format!("TLS for {host}: {e}")))?;
            builder = builder.tls(Tls::Required(tls));
        }
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    pub async fn send(&self, mail: &Mail) -> Result<(), SendError> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(mailbox(&mail.to)?)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|e| SendError::Build(e.to_string()))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| SendError::Relay(e.to_string()))
    }
}

fn mailbox(addr: &str) -> Result<Mailbox, SendError> {
    addr.parse::<Mailbox>()
        .map_err(|e| SendError::Address(addr.to_string(), e.to_string()))
}
