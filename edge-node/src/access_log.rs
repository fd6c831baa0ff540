//! One JSON line per request or tunnel, written off the request path by a dedicated thread.
//!
//! The request path only formats the line and hands it over a bounded channel; if the writer
//! falls behind, lines are dropped and counted rather than slowing traffic down.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::config::AccessLogTarget;
use crate::transfer::Transfer;

const QUEUE: usize = 65_536;

/// The access log sink.
pub struct AccessLog {
    tx: Option<SyncSender<String>>,
    dropped: AtomicU64,
}

/// One line of the access log.
#[derive(Debug, Serialize)]
pub struct AccessRecord {
    pub ts: String,
    pub tenant: Arc<str>,
    pub client: SocketAddr,
    pub method: String,
    pub host: String,
    pub port: u16,
    /// What the rules decided: `direct`, `upstream`, `block`, or `none` (not asked).
    pub action: &'static str,
    pub rule: String,
    pub status: u16,
    /// `ok`, `refused`, `upstream_error` or `client_error`.
    pub result: &'static str,
    /// Why it was refused or failed (`blocked_by_rule`, `dns_error`, …); `null` when ok.
    pub reason: Option<&'static str>,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub duration_ms: f64,
}

/// A record waiting for its exchange to end (response body fully sent, or tunnel closed).
pub struct PendingRecord {
    record: Box<AccessRecord>,
    start: Instant,
    up: Arc<Transfer>,
    sink: Arc<AccessLog>,
}

impl AccessLog {
    pub fn start(target: &AccessLogTarget) -> std::io::Result<Arc<AccessLog>> {
        let out: Box<dyn Write + Send> = match target {
            AccessLogTarget::Off => return Ok(Arc::new(AccessLog::off())),
            AccessLogTarget::Stdout => Box::new(std::io::stdout()),
            AccessLogTarget::File(p) => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            ),
        };
        let (tx, rx) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || writer(rx, out))?;
        Ok(Arc::new(AccessLog {
            tx: Some(tx),
            dropped: AtomicU64::new(0),
        }))
    }

    pub fn off() -> AccessLog {
        AccessLog {
            tx: None,
            dropped: AtomicU64::new(0),
        }
    }

    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn write(&self, record: &AccessRecord) {
        let Some(tx) = &self.tx else { return };
        let Ok(mut line) = serde_json::to_string(record) else {
            return;
        };
        line.push('\n');
        match tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl PendingRecord {
    pub fn new(
        record: AccessRecord,
        start: Instant,
        up: Arc<Transfer>,
        sink: Arc<AccessLog>,
    ) -> PendingRecord {
        PendingRecord {
            record: Box::new(record),
            start,
            up,
            sink,
        }
    }

    /// Writes the record with the final byte counts and duration.
    pub fn finish(mut self, bytes_down: u64) {
        self.record.bytes_up = self.up.bytes.load(Ordering::Relaxed);
        self.record.bytes_down = bytes_down;
        self.record.duration_ms = millis(self.start);
        self.sink.write(&self.record);
    }
}

pub fn millis(since: Instant) -> f64 {
    since.elapsed().as_micros() as f64 / 1000.0
}

fn writer(rx: Receiver<String>, mut out: Box<dyn Write + Send>) {
    while let Ok(line) = rx.recv() {
        let mut ok = out.write_all(line.as_bytes()).is_ok();
        while let Ok(more) = rx.try_recv() {
            ok &= out.write_all(more.as_bytes()).is_ok();
        }
        ok &= out.flush().is_ok();
        if !ok {
            eprintln!("access log: write failed");
        }
    }
}

/// Now, as an RFC 3339 UTC timestamp with milliseconds.
pub fn now_rfc3339() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs();
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    let (y, mo, day) = civil_from_days((secs / 86_400) as i64);
    format!(
        "{y:04}-{mo:02}-{day:02}T{h:02}:{m:02}:{s:02}.{:03}Z",
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_416), (2025, 11, 24));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
