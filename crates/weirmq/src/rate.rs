//! Rate limits: a [`Rate`] in messages and/or octets per second, with a
//! burst, and the token bucket that enforces it (sans-IO: it is told the
//! time, and answers how long to wait).
//!
//! The bucket may go into debt: whatever the balance, a message is let
//! through once the balance is not negative, and its whole cost is taken.
//! So a message larger than the burst still goes (it would otherwise wait
//! forever), and the rate holds over time, because the debt is paid back
//! before the next one.

use std::time::{Duration, Instant};

use crate::error::Error;

/// A rate limit: at most `messages` messages and/or `bytes` payload
/// octets per second, in bursts of up to [`Rate::burst`]'s worth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    messages: Option<f64>,
    bytes: Option<f64>,
    burst: Duration,
}

impl Rate {
    /// At most `messages` messages per second (`None`: any number) and at
    /// most `bytes` payload octets per second (`None`: any). At least one
    /// of the two must be set, and neither may be zero. The burst is a
    /// tenth of a second's worth.
    pub fn per_second(messages: Option<u64>, bytes: Option<u64>) -> Result<Rate, Error> {
        if messages.is_none() && bytes.is_none() {
            return Err(Error::InvalidOption(
                "a rate needs a limit in messages or in octets per second".into(),
            ));
        }
        if messages == Some(0) || bytes == Some(0) {
            return Err(Error::InvalidOption(
                "a rate of zero would never let anything through".into(),
            ));
        }
        Ok(Rate {
            messages: messages.map(|m| m as f64),
            bytes: bytes.map(|b| b as f64),
            burst: Duration::from_millis(100),
        })
    }

    /// Lets up to `burst`'s worth of the rate go at once (at least one
    /// message), after a quiet spell.
    pub fn with_burst(mut self, burst: Duration) -> Rate {
        self.burst = burst;
        self
    }

    /// Messages per second, if limited.
    pub fn messages(&self) -> Option<u64> {
        self.messages.map(|m| m as u64)
    }

    /// Payload octets per second, if limited.
    pub fn bytes(&self) -> Option<u64> {
        self.bytes.map(|b| b as u64)
    }

    /// How much of the rate may go at once.
    pub fn burst(&self) -> Duration {
        self.burst
    }
}

/// One dimension's bucket: its rate per second, its capacity and balance.
#[derive(Debug)]
struct Tokens {
    per_second: f64,
    capacity: f64,
    balance: f64,
}

impl Tokens {
    fn new(per_second: f64, burst: Duration, least: f64) -> Tokens {
        let capacity = (per_second * burst.as_secs_f64()).max(least);
        Tokens {
            per_second,
            capacity,
            balance: capacity,
        }
    }

    fn refill(&mut self, elapsed: Duration) {
        let earned = self.per_second * elapsed.as_secs_f64();
        self.balance = (self.balance + earned).min(self.capacity);
    }

    /// How long until the balance is not negative.
    fn wait(&self) -> Duration {
        if self.balance >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.balance / self.per_second)
        }
    }
}

/// The token bucket of a [`Rate`].
#[derive(Debug)]
pub(crate) struct Bucket {
    messages: Option<Tokens>,
    bytes: Option<Tokens>,
    at: Instant,
}

impl Bucket {
    /// A full bucket for `rate`, at `now`.
    pub(crate) fn new(rate: Rate, now: Instant) -> Bucket {
        Bucket {
            messages: rate.messages.map(|m| Tokens::new(m, rate.burst, 1.0)),
            bytes: rate.bytes.map(|b| Tokens::new(b, rate.burst, 0.0)),
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at);
        self.at = now;
        for tokens in [&mut self.messages, &mut self.bytes].into_iter().flatten() {
            tokens.refill(elapsed);
        }
    }

    /// How long, from `now`, until a message may go: zero if it may now.
    pub(crate) fn wait(&mut self, now: Instant) -> Duration {
        self.refill(now);
        let waits = [&self.messages, &self.bytes]
            .into_iter()
            .flatten()
            .map(Tokens::wait);
        waits.max().unwrap_or(Duration::ZERO)
    }

    /// Takes what a message of `bytes` payload octets costs (once
    /// [`Bucket::wait`] said it may go).
    pub(crate) fn take(&mut self, bytes: usize) {
        if let Some(m) = &mut self.messages {
            m.balance -= 1.0;
        }
        if let Some(b) = &mut self.bytes {
            b.balance -= bytes as f64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Offers a message of `size` whenever the bucket lets one go, over
    /// `seconds` of simulated time in 1 ms steps; returns how many went.
    fn run(rate: Rate, size: usize, seconds: u64) -> u64 {
        let start = Instant::now();
        let mut bucket = Bucket::new(rate, start);
        let mut sent = 0;
        for ms in 0..seconds * 1000 {
            let now = start + Duration::from_millis(ms);
            while bucket.wait(now).is_zero() {
                bucket.take(size);
                sent += 1;
            }
        }
        sent
    }

    #[test]
    fn messages_per_second_hold_over_time() {
        let rate = Rate::per_second(Some(500), None).unwrap();
        let sent = run(rate, 100, 10);
        // 10 s at 500/s, plus the first burst (50).
        assert!((5_000..=5_051).contains(&sent), "{sent}");
    }

    #[test]
    fn octets_per_second_hold_and_a_message_larger_than_the_burst_still_goes() {
        let rate = Rate::per_second(None, Some(100_000)).unwrap();
        // 10 s at 100 kB/s of 1 kB messages.
        let sent = run(rate, 1_000, 10);
        assert!((1_000..=1_011).contains(&sent), "{sent}");
        // 50 kB messages, five times the burst: 2 per second.
        let sent = run(rate, 50_000, 10);
        assert!((20..=21).contains(&sent), "{sent}");
    }

    #[test]
    fn the_tighter_of_the_two_limits_rules() {
        let rate = Rate::per_second(Some(1_000), Some(10_000)).unwrap();
        assert!((100..=102).contains(&run(rate, 1_000, 10)));
    }

    #[test]
    fn the_wait_is_the_time_to_pay_the_debt() {
        let rate = Rate::per_second(Some(10), None).unwrap();
        let now = Instant::now();
        let mut bucket = Bucket::new(rate, now);
        // Capacity: one message (a tenth of a second of 10/s).
        assert_eq!(bucket.wait(now), Duration::ZERO);
        bucket.take(0);
        bucket.take(0);
        // One message of debt at 10/s: 100 ms.
        let wait = bucket.wait(now);
        assert!(
            wait > Duration::from_millis(99) && wait <= Duration::from_millis(101),
            "{wait:?}"
        );
        assert_eq!(bucket.wait(now + wait), Duration::ZERO);
    }

    #[test]
    fn rates_that_cannot_work_are_refused() {
        assert!(Rate::per_second(None, None).is_err());
        assert!(Rate::per_second(Some(0), None).is_err());
        assert!(Rate::per_second(Some(5), Some(0)).is_err());
    }
}
