//! Per-client rate limits (token buckets keyed by purpose and client) and the growing delay after failed
//! logins. In memory: a restart forgets them, which is acceptable for a clinic LAN.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    buckets: HashMap<(&'static str, String), Bucket>,
    failures: HashMap<String, (u32, Instant)>,
}

/// Shared limiter state. The mutex is held only for a map update, never across an await.
#[derive(Debug, Clone, Default)]
pub struct Limiter(Arc<Mutex<Inner>>);

impl Limiter {
    /// Takes one token from the bucket `purpose`/`client` that refills `per_minute` tokens a minute.
    /// Returns the seconds to wait when it is empty.
    pub fn check(&self, purpose: &'static str, client: &str, per_minute: u32) -> Result<(), u64> {
        let now = Instant::now();
        let mut inner = self.0.lock().expect("limiter lock");
        if inner.buckets.len() > 10_000 {
            inner
                .buckets
                .retain(|_, b| now.duration_since(b.last) < Duration::from_secs(120));
        }
        let cap = f64::from(per_minute);
        let b = inner
            .buckets
            .entry((purpose, client.to_owned()))
            .or_insert(Bucket {
                tokens: cap,
                last: now,
            });
        let refill = now.duration_since(b.last).as_secs_f64() * cap / 60.0;
        b.tokens = (b.tokens + refill).min(cap);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) * 60.0 / cap).ceil().max(1.0) as u64)
        }
    }

    /// The delay to apply before answering a login attempt from `client`: none for the first three
    /// failures, then doubling from 250 ms up to 5 s. Failures are forgotten after 15 minutes.
    pub fn login_delay(&self, client: &str) -> Duration {
        let inner = self.0.lock().expect("limiter lock");
        match inner.failures.get(client) {
            Some((n, at)) if *n >= 3 && at.elapsed() < Duration::from_secs(900) => {
                Duration::from_millis((250u64 << (n - 3).min(5)).min(5_000))
            }
            _ => Duration::ZERO,
        }
    }

    /// Records a failed login; returns how many failures in a row the client has.
    pub fn login_failed(&self, client: &str) -> u32 {
        let mut inner = self.0.lock().expect("limiter lock");
        let e = inner
            .failures
            .entry(client.to_owned())
            .or_insert((0, Instant::now()));
        if e.1.elapsed() > Duration::from_secs(900) {
            e.0 = 0;
        }
        e.0 += 1;
        e.1 = Instant::now();
        e.0
    }

    pub fn login_succeeded(&self, client: &str) {
        self.0.lock().expect("limiter lock").failures.remove(client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_empties_and_says_how_long_to_wait() {
        let l = Limiter::default();
        for _ in 0..3 {
            l.check("login", "10.0.0.1", 3).unwrap();
        }
        let wait = l.check("login", "10.0.0.1", 3).unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        l.check("login", "10.0.0.2", 3).unwrap();
        l.check("kiosk", "10.0.0.1", 3).unwrap();
    }

    #[test]
    fn failed_logins_slow_down() {
        let l = Limiter::default();
        for _ in 0..3 {
            assert_eq!(l.login_delay("c"), Duration::ZERO);
            l.login_failed("c");
        }
        assert_eq!(l.login_delay("c"), Duration::from_millis(250));
        l.login_failed("c");
        assert_eq!(l.login_delay("c"), Duration::from_millis(500));
        l.login_succeeded("c");
        assert_eq!(l.login_delay("c"), Duration::ZERO);
    }
}
