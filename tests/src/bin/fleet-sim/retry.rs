//! When to try a control-plane API call again, and after how long: a pure function of what the
//! last attempt came to, so the policy is tested without a server or a clock.
//!
//! Transient: 503 (`no_leader` while an election runs, `outcome unknown` when a write missed
//! its commit deadline, `node_stopped`), 502 and 504 (a follower relaying to a leader that went
//! away), 429 (`rate_limited`), and no answer at all (refused, reset, closed, timed out).
//! Everything else is the answer: a 2xx is done, any other 4xx is final (docs/api.md: "4xx
//! answers are final: repeating the request gets the same answer"), and so is a 500.

use std::io::ErrorKind;
use std::time::Duration;

/// What one attempt came to.
#[derive(Clone, Copy, Debug)]
pub enum Attempt<'a> {
    /// An HTTP answer, with its `Retry-After` header if it had one.
    Answered {
        status: u16,
        retry_after: Option<&'a str>,
    },
    /// No HTTP answer: the I/O error's kind.
    Unanswered(ErrorKind),
}

/// What to do after an attempt.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Next {
    /// A 2xx: the call is done.
    Done,
    /// A final failure: nothing to gain by trying again.
    Fail,
    /// Transient: try again after this long.
    Retry(Duration),
    /// Transient, but the next try would start after the budget ran out.
    GiveUp,
}

/// Bounded exponential backoff with jitter.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// The wait after the first failed attempt; it doubles after each further one.
    pub first: Duration,
    /// The longest wait between attempts (a `Retry-After` may ask for longer, within `budget`).
    pub cap: Duration,
    /// No attempt starts later than this after the first one began (so a call takes at most
    /// this plus one attempt's own connect and read timeouts).
    pub budget: Duration,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            first: Duration::from_millis(100),
            cap: Duration::from_secs(2),
            budget: Duration::from_secs(60),
        }
    }
}

impl Policy {
    /// After attempt `n` (0 for the first) came to `attempt`, `elapsed` after the first attempt
    /// began: done, failed, or try again after a wait. `jitter` is a uniform draw from [0, 1).
    /// A `Retry-After` in whole seconds (what this API sends, on 429 and on 503) is the wait;
    /// otherwise [`Policy::backoff`].
    pub fn next(&self, attempt: Attempt<'_>, n: u32, elapsed: Duration, jitter: f64) -> Next {
        if !transient(attempt) {
            return match attempt {
                Attempt::Answered { status, .. } if (200..300).contains(&status) => Next::Done,
                _ => Next::Fail,
            };
        }
        let asked = match attempt {
            Attempt::Answered { retry_after, .. } => retry_after.and_then(retry_after_secs),
            Attempt::Unanswered(_) => None,
        };
        let wait = asked.unwrap_or_else(|| self.backoff(n, jitter));
        if elapsed.saturating_add(wait) > self.budget {
            Next::GiveUp
        } else {
            Next::Retry(wait)
        }
    }

    /// The wait after failed attempt `n`: `first · 2ⁿ`, at most `cap`, its upper half scaled by
    /// `jitter` (so that many clients retrying at once spread out), so within [full/2, full].
    pub fn backoff(&self, n: u32, jitter: f64) -> Duration {
        let full = self.first.saturating_mul(1u32 << n.min(20)).min(self.cap);
        let half = full / 2;
        half + (full - half).mul_f64(jitter.clamp(0.0, 1.0))
    }
}

/// Whether trying again may get another answer.
pub fn transient(attempt: Attempt<'_>) -> bool {
    match attempt {
        Attempt::Answered { status, .. } => matches!(status, 429 | 502 | 503 | 504),
        // A read timeout shows as `WouldBlock` on Unix (SO_RCVTIMEO), a connect timeout as
        // `TimedOut`; `UnexpectedEof` is a connection closed before the whole answer.
        Attempt::Unanswered(kind) => matches!(
            kind,
            ErrorKind::ConnectionRefused
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
                | ErrorKind::NotConnected
                | ErrorKind::TimedOut
                | ErrorKind::WouldBlock
                | ErrorKind::UnexpectedEof
                | ErrorKind::Interrupted
        ),
    }
}

/// `Retry-After` as delay-seconds; `None` for an HTTP date or anything else (then the backoff
/// applies: the API never sends dates).
fn retry_after_secs(value: &str) -> Option<Duration> {
    value.trim().parse().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn answered(status: u16) -> Attempt<'static> {
        Attempt::Answered {
            status,
            retry_after: None,
        }
    }

    #[test]
    fn success_is_done_and_client_errors_fail_at_once() {
        let p = Policy::default();
        assert_eq!(p.next(answered(200), 0, Duration::ZERO, 0.5), Next::Done);
        assert_eq!(p.next(answered(201), 3, Duration::ZERO, 0.5), Next::Done);
        for status in [400, 401, 403, 404, 409, 413, 415, 422, 500, 301] {
            assert_eq!(
                p.next(answered(status), 0, Duration::ZERO, 0.5),
                Next::Fail,
                "{status}"
            );
        }
    }

    #[test]
    fn unavailable_rate_limited_and_gateway_errors_are_retried() {
        let p = Policy::default();
        for status in [429, 502, 503, 504] {
            assert!(
                matches!(
                    p.next(answered(status), 0, Duration::ZERO, 0.5),
                    Next::Retry(_)
                ),
                "{status}"
            );
        }
    }

    #[test]
    fn no_answer_is_retried_but_a_garbled_one_is_not() {
        let p = Policy::default();
        for kind in [
            ErrorKind::ConnectionRefused,
            ErrorKind::ConnectionReset,
            ErrorKind::TimedOut,
            ErrorKind::WouldBlock,
            ErrorKind::UnexpectedEof,
        ] {
            let next = p.next(Attempt::Unanswered(kind), 0, Duration::ZERO, 0.5);
            assert!(matches!(next, Next::Retry(_)), "{kind:?}");
        }
        let garbled = Attempt::Unanswered(ErrorKind::Other);
        assert_eq!(p.next(garbled, 0, Duration::ZERO, 0.5), Next::Fail);
    }

    #[test]
    fn backoff_doubles_from_100ms_to_a_2s_cap_within_its_jitter_band() {
        let p = Policy::default();
        let full = [100, 200, 400, 800, 1600, 2000, 2000];
        for (n, full) in full.into_iter().enumerate() {
            let n = n as u32;
            assert_eq!(p.backoff(n, 0.0), MS * full / 2, "attempt {n}, no jitter");
            assert_eq!(p.backoff(n, 1.0), MS * full, "attempt {n}, full jitter");
            let mid = p.backoff(n, 0.5);
            assert!(
                mid > MS * full / 2 && mid < MS * full,
                "attempt {n}: {mid:?}"
            );
        }
        assert_eq!(
            p.backoff(u32::MAX, 1.0),
            p.cap,
            "no overflow after many attempts"
        );
    }

    #[test]
    fn retry_after_sets_the_wait_even_past_the_cap() {
        let p = Policy::default();
        let limited = Attempt::Answered {
            status: 429,
            retry_after: Some("3"),
        };
        assert_eq!(
            p.next(limited, 0, Duration::ZERO, 0.0),
            Next::Retry(Duration::from_secs(3))
        );
        let no_leader = Attempt::Answered {
            status: 503,
            retry_after: Some("1"),
        };
        assert_eq!(
            p.next(no_leader, 0, Duration::ZERO, 0.0),
            Next::Retry(Duration::from_secs(1))
        );
        let dated = Attempt::Answered {
            status: 429,
            retry_after: Some("Wed, 21 Oct 2015 07:28:00 GMT"),
        };
        assert_eq!(p.next(dated, 2, Duration::ZERO, 1.0), Next::Retry(MS * 400));
    }

    #[test]
    fn no_retry_starts_after_the_budget() {
        let p = Policy::default();
        let just_in = p.budget - MS * 100;
        assert_eq!(
            p.next(answered(503), 0, just_in, 1.0),
            Next::Retry(MS * 100)
        );
        let past = just_in + MS;
        assert_eq!(p.next(answered(503), 0, past, 1.0), Next::GiveUp);
        let limited = Attempt::Answered {
            status: 429,
            retry_after: Some("120"),
        };
        assert_eq!(p.next(limited, 0, Duration::ZERO, 0.0), Next::GiveUp);
        // A final answer is final however much budget is left.
        assert_eq!(p.next(answered(400), 0, past, 1.0), Next::Fail);
    }
}
