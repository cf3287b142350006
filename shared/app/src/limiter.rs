//! Counts failed attempts per key (a case number, a client) and blocks a key after too many.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

pub struct AttemptLimiter {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<String, (u32, DateTime<Utc>)>>,
}

impl AttemptLimiter {
    pub fn new(max_failures: u32, window: Duration) -> AttemptLimiter {
        AttemptLimiter { max_failures, window, failures: Mutex::new(HashMap::new()) }
    }

    fn expired(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        (now - since).to_std().is_ok_and(|age| age >= self.window)
    }

    pub fn blocked(&self, key: &str, now: DateTime<Utc>) -> bool {
        let map = self.failures.lock().expect("limiter lock");
        map.get(key).is_some_and(|(n, since)| *n >= self.max_failures && !self.expired(*since, now))
    }

    pub fn fail(&self, key: &str, now: DateTime<Utc>) {
        let mut map = self.failures.lock().expect("limiter lock");
        // Keep the map from growing without bound under a flood of distinct keys.
        if map.len() > 100_000 {
            map.retain(|_, (_, since)| !self.expired(*since, now));
        }
        let entry = map.entry(key.to_owned()).or_insert((0, now));
        if self.expired(entry.1, now) {
            *entry = (0, now);
        }
        entry.0 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_failures_until_the_window_passes() {
        let l = AttemptLimiter::new(3, Duration::from_secs(60));
        let t0 = Utc::now();
        for _ in 0..2 {
            l.fail("k", t0);
        }
        assert!(!l.blocked("k", t0));
        l.fail("k", t0);
        assert!(l.blocked("k", t0));
        assert!(!l.blocked("other", t0));
        assert!(!l.blocked("k", t0 + chrono::Duration::seconds(61)));
    }
}
