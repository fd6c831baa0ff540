//! When `breakoutctl` sends a call again (docs/api.md#retries), as a pure decision over what
//! the last attempt got. Every write carries an `Idempotency-Key` that its retries repeat, so
//! a retry of a write that was applied although the answer was lost gets the first answer.
//!
//! - answered 503 (`no_leader`: an election, a leader lost mid-request): again after
//!   `Retry-After` (at most [`MAX_WAIT`]), on the same server;
//! - sent but not answered (the connection broke or timed out): again, on the next server;
//! - not connected at all: the next server; once every server refused, the call fails at once
//!   (a wrong `--server` should not take [`RETRY_FOR`] to report), unless a server of this call
//!   answered before (it is restarting);
//! - anything else is the answer.
//!
//! All of it within [`RETRY_FOR`] of the first attempt.

use std::time::{Duration, Instant};

/// How long a call keeps retrying.
pub const RETRY_FOR: Duration = Duration::from_secs(20);

/// Longest wait between attempts, whatever `Retry-After` says.
pub const MAX_WAIT: Duration = Duration::from_secs(5);

/// Wait before retrying an attempt that got no answer.
const LOST_WAIT: Duration = Duration::from_millis(250);

/// What one attempt got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// An answer; `unavailable` for a 503, with its `Retry-After`.
    Answered {
        unavailable: bool,
        retry_after: Option<Duration>,
    },
    /// The request was sent (or may have been) and no answer came.
    Lost,
    /// No connection was made: nothing was sent.
    NotConnected,
}

/// What to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// The last attempt's result is the call's.
    Stop,
    /// Wait, then try server `server` (an index into the servers).
    Retry { wait: Duration, server: usize },
}

/// The retry state of one call over `servers` servers.
#[derive(Debug)]
pub struct Retry {
    started: Instant,
    servers: usize,
    server: usize,
    /// Servers refused in a row since the last one that answered.
    refused: usize,
    /// A server answered (or took the request) during this call.
    reached: bool,
}

impl Retry {
    /// A call starting at `now` on server `server` of `servers`.
    pub fn new(now: Instant, servers: usize, server: usize) -> Self {
        Retry {
            started: now,
            servers: servers.max(1),
            server,
            refused: 0,
            reached: false,
        }
    }

    /// The server the call is on.
    pub fn server(&self) -> usize {
        self.server
    }

    /// What to do after `attempt`, at `now`.
    pub fn next(&mut self, attempt: Attempt, now: Instant) -> Next {
        let in_time = now.duration_since(self.started) < RETRY_FOR;
        let (wait, rotate) = match attempt {
            Attempt::Answered {
                unavailable: false, ..
            } => return Next::Stop,
            Attempt::Answered { retry_after, .. } => {
                self.reached = true;
                self.refused = 0;
                let wait = retry_after.unwrap_or(Duration::from_secs(1)).min(MAX_WAIT);
                (wait, false)
            }
            Attempt::Lost => {
                self.reached = true;
                self.refused = 0;
                (LOST_WAIT, true)
            }
            Attempt::NotConnected => {
                self.refused += 1;
                let all_refused = self.refused >= self.servers;
                if all_refused && !self.reached {
                    return Next::Stop;
                }
                let wait = if all_refused {
                    LOST_WAIT
                } else {
                    Duration::ZERO
                };
                (wait, true)
            }
        };
        if !in_time {
            return Next::Stop;
        }
        if rotate {
            self.server = (self.server + 1) % self.servers;
        }
        Next::Retry {
            wait,
            server: self.server,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(unavailable: bool) -> Attempt {
        Attempt::Answered {
            unavailable,
            retry_after: None,
        }
    }

    #[test]
    fn an_answer_other_than_503_ends_the_call() {
        let now = Instant::now();
        assert_eq!(Retry::new(now, 1, 0).next(answered(false), now), Next::Stop);
    }

    #[test]
    fn no_leader_is_retried_on_the_same_server_after_retry_after() {
        let now = Instant::now();
        let mut r = Retry::new(now, 2, 0);
        let after = Attempt::Answered {
            unavailable: true,
            retry_after: Some(Duration::from_secs(60)),
        };
        assert_eq!(
            r.next(after, now),
            Next::Retry {
                wait: MAX_WAIT,
                server: 0
            }
        );
        assert_eq!(r.next(answered(true), now + RETRY_FOR), Next::Stop);
    }

    #[test]
    fn a_lost_answer_is_retried_on_the_next_server() {
        let now = Instant::now();
        let mut r = Retry::new(now, 3, 2);
        assert_eq!(
            r.next(Attempt::Lost, now),
            Next::Retry {
                wait: LOST_WAIT,
                server: 0
            }
        );
        let mut single = Retry::new(now, 1, 0);
        assert!(matches!(
            single.next(Attempt::Lost, now),
            Next::Retry { server: 0, .. }
        ));
    }

    #[test]
    fn servers_that_never_answered_fail_fast_but_a_lost_one_is_waited_for() {
        let now = Instant::now();
        let mut r = Retry::new(now, 2, 0);
        assert!(matches!(
            r.next(Attempt::NotConnected, now),
            Next::Retry { server: 1, .. }
        ));
        assert_eq!(r.next(Attempt::NotConnected, now), Next::Stop);

        let mut r = Retry::new(now, 1, 0);
        r.next(Attempt::Lost, now);
        assert!(matches!(
            r.next(Attempt::NotConnected, now),
            Next::Retry {
                wait: LOST_WAIT,
                ..
            }
        ));
    }
}
