//! The end of an exchange whose bytes are still flowing (a response body, a tunnel): its
//! duration is observed and its access-log record written when it ends.

use std::time::Instant;

use prometheus::Histogram;

use crate::access_log::PendingRecord;

/// The end of an exchange whose bytes are still flowing (a response body, a tunnel): its
/// duration is observed and its access-log record written when it ends.
pub struct Ending {
    start: Instant,
    duration: Histogram,
    record: Option<PendingRecord>,
}

impl Ending {
    pub fn new(start: Instant, duration: Histogram, record: Option<PendingRecord>) -> Ending {
        Ending {
            start,
            duration,
            record,
        }
    }

    pub fn finish(self, bytes_down: u64) {
        self.duration.observe(self.start.elapsed().as_secs_f64());
        if let Some(r) = self.record {
            r.finish(bytes_down);
        }
    }
}
