//! hyper's timer for one client connection: one tokio timer for the connection's life, moved to
//! each new header-read deadline, instead of a new timer per request head.
//!
//! hyper drops its header-read deadline once a head is read and asks for a new one when it
//! starts waiting for the next. With `TokioTimer` each of those is a boxed tokio `Sleep`, put
//! into the timer wheel and taken out again under the wheel's lock; and because the new
//! deadline usually falls before what the runtime planned to wake for last time it parked (the
//! response deadline of the request just answered), tokio wakes its own driver for it: a write
//! to the runtime's eventfd and one more `epoll_wait`, two system calls per keep-alive request.
//! Moving a registered timer to a later deadline is one atomic store (tokio leaves the entry
//! where it is in the wheel and files it again when its old tick comes round), so reusing the
//! connection's timer costs neither.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::time::{Interval, MissedTickBehavior, Sleep};

/// A tick that keeps a timer due within a second in the runtime's timer wheel (the accept loop
/// polls it).
///
/// tokio wakes its own driver — an eventfd write, then one more `epoll_wait` — whenever a new
/// timer is due before everything that was in the wheel when the driver last went to sleep.
/// With only tunnels' idle deadlines (minutes) and responses' deadlines (a minute) in the
/// wheel, that was every keep-alive request's next header deadline (10 s) and every session's
/// connect deadline (5 s): two system calls each. With this tick in the wheel a new deadline
/// is never the earliest, for one wake-up a second.
pub fn floor() -> Interval {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick
}

type Slot = Arc<Mutex<Option<Pin<Box<Sleep>>>>>;

/// The timer of one client connection (give each connection its own).
#[derive(Clone, Default)]
pub struct ConnTimer {
    /// The connection's tokio timer while hyper holds no deadline.
    spare: Slot,
}

impl ConnTimer {
    pub fn new() -> ConnTimer {
        ConnTimer::default()
    }
}

/// A deadline lent to hyper; the timer goes back to the connection when hyper drops it.
struct Lent {
    sleep: Option<Pin<Box<Sleep>>>,
    home: Slot,
}

impl Future for Lent {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.sleep.as_mut() {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Ready(()),
        }
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let (Some(sleep), Ok(mut spare)) = (self.sleep.take(), self.home.lock()) {
            *spare = Some(sleep);
        }
    }
}

impl hyper::rt::Sleep for Lent {}

impl hyper::rt::Timer for ConnTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(self.now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let spare = self.spare.lock().ok().and_then(|mut s| s.take());
        let sleep = match spare {
            Some(mut sleep) => {
                // Later than before (the usual case): an atomic store, no trip to the wheel.
                sleep.as_mut().reset(deadline.into());
                sleep
            }
            None => Box::pin(tokio::time::sleep_until(deadline.into())),
        };
        Box::pin(Lent {
            sleep: Some(sleep),
            home: Arc::clone(&self.spare),
        })
    }

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into()
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<Lent>() {
            Some(lent) => {
                let lent = Pin::into_inner(lent);
                if let Some(s) = lent.sleep.as_mut() {
                    s.as_mut().reset(new_deadline.into());
                }
            }
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

#[cfg(test)]
mod tests {
    use hyper::rt::Timer;

    use super::*;

    // Real time: a tokio timer never fires before its deadline, so "at least" holds under any
    // load; "at all" is bounded by generous timeouts.
    #[tokio::test]
    async fn a_deadline_fires_and_the_timer_is_reused_for_the_next() {
        let timer = ConnTimer::new();
        let start = Instant::now();
        timer.sleep(Duration::from_millis(50)).await;
        assert!(start.elapsed() >= Duration::from_millis(50));
        assert!(
            timer.spare.lock().expect("lock").is_some(),
            "the timer went back to the connection"
        );
        let start = Instant::now();
        let second = timer.sleep(Duration::from_millis(30));
        assert!(timer.spare.lock().expect("lock").is_none(), "lent again");
        tokio::time::timeout(Duration::from_secs(10), second)
            .await
            .expect("fires");
        assert!(start.elapsed() >= Duration::from_millis(30));
    }

    #[tokio::test]
    async fn a_reused_timer_moved_later_does_not_fire_at_its_old_deadline() {
        let timer = ConnTimer::new();
        drop(timer.sleep(Duration::from_millis(10)));
        let start = Instant::now();
        let later = timer.sleep(Duration::from_millis(300));
        tokio::time::timeout(Duration::from_secs(10), later)
            .await
            .expect("fires");
        assert!(start.elapsed() >= Duration::from_millis(300));
    }

    #[tokio::test]
    async fn reset_moves_a_lent_deadline() {
        let timer = ConnTimer::new();
        let mut sleep = timer.sleep(Duration::from_secs(60));
        timer.reset(&mut sleep, timer.now() + Duration::from_millis(20));
        tokio::time::timeout(Duration::from_secs(10), sleep)
            .await
            .expect("fires at the new deadline, not a minute later");
    }
}
