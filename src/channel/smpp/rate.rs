//! The `max_tps` limit: at most `max_tps` submits in any window of one second, exactly.
//!
//! A token bucket with a burst allowance lets a burst plus the refill exceed the limit in some
//! one-second window, which operators count and punish. So this keeps the times of the last
//! `max_tps` submits: a new one may go when the oldest of them is a second old. Bursts up to
//! the limit are still allowed, and the memory is one `Instant` per permitted submit per
//! second.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(1);

pub struct RateLimit {
    max: usize,
    sent: VecDeque<Instant>,
}

impl RateLimit {
    pub fn new(max_per_second: u32) -> RateLimit {
        let max = (max_per_second as usize).max(1);
        RateLimit {
            max,
            sent: VecDeque::with_capacity(max),
        }
    }

    /// When the next submit may go: `now` or later.
    pub fn ready_at(&self, now: Instant) -> Instant {
        if self.sent.len() < self.max {
            return now;
        }
        self.sent
            .front()
            .map_or(now, |oldest| (*oldest + WINDOW).max(now))
    }

    /// Records a submit at `now`; the caller has checked `ready_at(now) <= now`.
    pub fn record(&mut self, now: Instant) {
        if self.sent.len() >= self.max {
            self.sent.pop_front();
        }
        self.sent.push_back(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_more_than_max_in_any_second() {
        let start = Instant::now();
        let mut limit = RateLimit::new(50);
        let mut now = start;
        let mut times = Vec::new();
        // Ask as fast as possible for 5 simulated seconds, in 1 ms steps.
        while now < start + Duration::from_secs(5) {
            while limit.ready_at(now) <= now {
                limit.record(now);
                times.push(now);
            }
            now += Duration::from_millis(1);
        }
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..].iter().take_while(|u| **u < *t + WINDOW).count();
            assert!(
                in_window <= 50,
                "{in_window} submits in the second from {:?}",
                *t - start
            );
        }
        // And the link is used: 50 per second for 5 seconds.
        assert_eq!(times.len(), 250);
    }

    #[test]
    fn a_burst_up_to_the_limit_goes_at_once() {
        let now = Instant::now();
        let mut limit = RateLimit::new(10);
        for _ in 0..10 {
            assert_eq!(limit.ready_at(now), now);
            limit.record(now);
        }
        assert_eq!(limit.ready_at(now), now + WINDOW);
    }
}
