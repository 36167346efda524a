//! Limits on failed sign-ins, so that passwords and API keys cannot be guessed as fast as the
//! service answers.
//!
//! Failures are counted per account name (password sign-ins) and per client address (every
//! sign-in). After `limit` failures within `window` of the first one, the name or address is
//! locked for `window`: its attempts are refused before any password is checked. A success
//! clears the name's count and takes back its own attempt from the address's count (one good
//! account must not reset the counter of an address that guesses others).
//!
//! An attempt is counted when it starts and taken back when it succeeds, so that attempts made
//! in parallel cannot run more than `limit` password checks before the lock takes hold.
//!
//! Names are kept as their SHA-256 (a fixed size, whatever a client sends) and counted exactly
//! alike whether or not a user has the name. IPv6 addresses are counted per /64, the block one
//! client usually holds. Each table holds at most a fixed number of entries: expired ones are
//! dropped first, then the least recently counted (`governor`'s keyed limiters fit request
//! rates rather than failures: they cannot look without counting, forget one key, or cap their
//! table).

use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hashlink::LinkedHashMap;
use hashlink::linked_hash_map::Entry as MapEntry;
use sha2::{Digest, Sha256};

/// Names, and addresses, tracked at most each; beyond, the least recently counted are dropped.
pub const MAX_TRACKED: usize = 10_000;

/// The failures counted for one name or address.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Attempts counted (failed, or still being checked).
    failures: u32,
    /// When the first of them started.
    since: Instant,
    /// Until when attempts are refused, once `failures` reached the limit.
    locked_until: Option<Instant>,
}

impl Entry {
    fn expired(&self, window: Duration, now: Instant) -> bool {
        match self.locked_until {
            Some(until) => now >= until,
            None => now.duration_since(self.since) >= window,
        }
    }
}

/// An attempt was refused: the name or address is locked for `retry_after` more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    /// How long until attempts are allowed again.
    pub retry_after: Duration,
}

/// Failures counted per key, in a window, with a lock after `limit` of them.
pub struct FailureCounter<K> {
    entries: Mutex<LinkedHashMap<K, Entry>>,
    limit: u32,
    window: Duration,
    capacity: usize,
}

impl<K: Hash + Eq + Clone> FailureCounter<K> {
    /// Locks a key for `window` after `limit` failures within `window`; tracks at most
    /// `capacity` keys.
    pub fn new(limit: u32, window: Duration, capacity: usize) -> Self {
        FailureCounter {
            entries: Mutex::new(LinkedHashMap::new()),
            limit: limit.max(1),
            window,
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LinkedHashMap<K, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts an attempt for `key` at `now`: refused while the key is locked; otherwise
    /// counted (as a failure until [`FailureCounter::forgive`] or [`FailureCounter::clear`]),
    /// and true when it is the one that locks the key.
    pub fn begin(&self, key: &K, now: Instant) -> Result<bool, Locked> {
        let mut map = self.lock();
        if let Some(entry) = map.get(key) {
            if entry.expired(self.window, now) {
                map.remove(key);
            } else if let Some(until) = entry.locked_until {
                return Err(Locked {
                    retry_after: until.duration_since(now),
                });
            }
        }
        if !map.contains_key(key) {
            self.make_room(&mut map, now);
        }
        let entry = match map.entry(key.clone()) {
            MapEntry::Occupied(mut occupied) => {
                occupied.to_back();
                occupied.into_mut()
            }
            MapEntry::Vacant(vacant) => vacant.insert(Entry {
                failures: 0,
                since: now,
                locked_until: None,
            }),
        };
        entry.failures += 1;
        let locks = entry.failures >= self.limit;
        if locks {
            entry.locked_until = Some(now + self.window);
        }
        Ok(locks)
    }

    /// Takes back one attempt of `key` (it succeeded), and the lock it may have set.
    pub fn forgive(&self, key: &K) {
        let mut map = self.lock();
        let Some(entry) = map.get_mut(key) else {
            return;
        };
        entry.failures = entry.failures.saturating_sub(1);
        if entry.failures < self.limit {
            entry.locked_until = None;
        }
        if entry.failures == 0 {
            map.remove(key);
        }
    }

    /// Forgets every failure of `key`.
    pub fn clear(&self, key: &K) {
        self.lock().remove(key);
    }

    /// Keys tracked now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops expired entries from the least recently counted end, then, while the table is
    /// full, the least recently counted ones.
    fn make_room(&self, map: &mut LinkedHashMap<K, Entry>, now: Instant) {
        while map
            .front()
            .is_some_and(|(_, e)| e.expired(self.window, now))
        {
            map.pop_front();
        }
        while map.len() >= self.capacity {
            map.pop_front();
        }
    }
}

/// How failed sign-ins are limited (the `sign_in_*` settings of `[service.console]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInLimits {
    /// Failures of one account name before it is locked.
    pub per_name: u32,
    /// Failures from one address (any name, or an API key) before it is locked.
    pub per_address: u32,
    /// The window failures are counted in, and how long a lock lasts.
    pub lockout: Duration,
}

/// A sign-in under way, allowed by [`SignInThrottle::begin`]; report how it ended with
/// [`SignInThrottle::succeeded`] or [`SignInThrottle::failed`].
#[derive(Debug)]
#[must_use = "report the outcome of the sign-in"]
pub struct SignInAttempt {
    name: Option<[u8; 32]>,
    /// The name as a warning shows it (its first 64 characters).
    shown_name: Option<String>,
    address: IpAddr,
    locks_name: bool,
    locks_address: bool,
}

/// Failed sign-ins counted per account name and per client address.
pub struct SignInThrottle {
    names: FailureCounter<[u8; 32]>,
    addresses: FailureCounter<IpAddr>,
    lockout: Duration,
}

/// The key an address is counted under: an IPv4 address (IPv4-mapped IPv6 ones too) as it is,
/// an IPv6 address by its /64.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

fn name_key(name: &str) -> [u8; 32] {
    Sha256::digest(name.as_bytes()).into()
}

impl SignInThrottle {
    /// A throttle with these limits, tracking at most [`MAX_TRACKED`] names and addresses.
    pub fn new(limits: SignInLimits) -> Self {
        SignInThrottle {
            names: FailureCounter::new(limits.per_name, limits.lockout, MAX_TRACKED),
            addresses: FailureCounter::new(limits.per_address, limits.lockout, MAX_TRACKED),
            lockout: limits.lockout,
        }
    }

    /// Starts a sign-in from `address`, with the account `name` for a password (none for an API
    /// key): refused while the address or the name is locked, before any password is checked.
    pub fn begin(&self, name: Option<&str>, address: IpAddr) -> Result<SignInAttempt, Locked> {
        self.begin_at(name, address, Instant::now())
    }

    fn begin_at(
        &self,
        name: Option<&str>,
        address: IpAddr,
        now: Instant,
    ) -> Result<SignInAttempt, Locked> {
        let address = address_key(address);
        let locks_address = self.addresses.begin(&address, now)?;
        let shown_name = name.map(|n| n.chars().take(64).collect());
        let name = name.map(name_key);
        let locks_name = match &name {
            Some(key) => match self.names.begin(key, now) {
                Ok(locks) => locks,
                Err(locked) => {
                    self.addresses.forgive(&address);
                    return Err(locked);
                }
            },
            None => false,
        };
        Ok(SignInAttempt {
            name,
            shown_name,
            address,
            locks_name,
            locks_address,
        })
    }

    /// The sign-in succeeded: the name's failures are forgotten, and the address's count no
    /// longer holds this attempt.
    pub fn succeeded(&self, attempt: SignInAttempt) {
        if let Some(key) = &attempt.name {
            self.names.clear(key);
        }
        self.addresses.forgive(&attempt.address);
    }

    /// The sign-in failed (it stays counted); logs a warning when it locked the name or the
    /// address. (An attempt dropped unreported, its request abandoned, stays counted too.)
    pub fn failed(&self, attempt: SignInAttempt) {
        let minutes = self.lockout.as_secs().div_ceil(60);
        if attempt.locks_name {
            tracing::warn!(
                name = ?attempt.shown_name.unwrap_or_default(),
                minutes,
                "console sign-in locked for an account name after too many failures"
            );
        }
        if attempt.locks_address {
            tracing::warn!(
                address = %attempt.address,
                minutes,
                "console sign-in locked for a client address after too many failures"
            );
        }
    }

    /// Names and addresses tracked now.
    pub fn tracked(&self) -> (usize, usize) {
        (self.names.len(), self.addresses.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(15 * 60);

    fn counter(limit: u32, capacity: usize) -> FailureCounter<&'static str> {
        FailureCounter::new(limit, WINDOW, capacity)
    }

    #[test]
    fn the_limit_th_failure_locks_the_key_for_the_window() {
        let c = counter(3, 100);
        let t0 = Instant::now();
        assert_eq!(c.begin(&"ops", t0), Ok(false));
        assert_eq!(c.begin(&"ops", t0 + Duration::from_secs(60)), Ok(false));
        let locked_at = t0 + Duration::from_secs(120);
        assert_eq!(c.begin(&"ops", locked_at), Ok(true), "the third locks");
        let later = locked_at + Duration::from_secs(100);
        assert_eq!(
            c.begin(&"ops", later),
            Err(Locked {
                retry_after: WINDOW - Duration::from_secs(100)
            })
        );
        // Refusals are not counted: the lock ends a window after it started.
        assert!(
            c.begin(&"ops", locked_at + WINDOW - Duration::from_secs(1))
                .is_err()
        );
        assert_eq!(
            c.begin(&"ops", locked_at + WINDOW),
            Ok(false),
            "unlocked, counted afresh"
        );
        // Other keys are not affected.
        assert_eq!(c.begin(&"auditor", later), Ok(false));
    }

    #[test]
    fn failures_older_than_the_window_are_forgotten() {
        let c = counter(3, 100);
        let t0 = Instant::now();
        assert_eq!(c.begin(&"ops", t0), Ok(false));
        assert_eq!(c.begin(&"ops", t0 + Duration::from_secs(1)), Ok(false));
        // The window, counted from the first failure, has passed: counting starts again.
        assert_eq!(c.begin(&"ops", t0 + WINDOW), Ok(false));
        assert_eq!(
            c.begin(&"ops", t0 + WINDOW + Duration::from_secs(1)),
            Ok(false)
        );
        assert_eq!(
            c.begin(&"ops", t0 + WINDOW + Duration::from_secs(2)),
            Ok(true)
        );
    }

    #[test]
    fn attempts_under_way_count_so_parallel_ones_cannot_pass_the_limit() {
        let c = counter(3, 100);
        let now = Instant::now();
        // Three attempts started, none finished: a fourth is refused.
        for _ in 0..3 {
            assert!(c.begin(&"ops", now).is_ok());
        }
        assert!(c.begin(&"ops", now).is_err());
        // One of them succeeded: its count and the lock it set are taken back.
        c.forgive(&"ops");
        assert_eq!(c.begin(&"ops", now), Ok(true));
    }

    #[test]
    fn clearing_forgets_the_failures() {
        let c = counter(2, 100);
        let now = Instant::now();
        assert_eq!(c.begin(&"ops", now), Ok(false));
        c.clear(&"ops");
        assert_eq!(c.begin(&"ops", now), Ok(false), "counting from zero again");
        assert_eq!(c.begin(&"ops", now), Ok(true));
        c.clear(&"ops");
        assert_eq!(c.begin(&"ops", now), Ok(false), "a lock is cleared too");
        assert_eq!(c.len(), 1);
        c.forgive(&"ops");
        assert!(c.is_empty(), "an entry forgiven down to nothing is dropped");
    }

    #[test]
    fn the_table_is_capped_dropping_expired_then_least_recently_counted_entries() {
        let c: FailureCounter<u32> = FailureCounter::new(2, WINDOW, 4);
        let t0 = Instant::now();
        for key in 0..4 {
            assert!(c.begin(&key, t0).is_ok());
        }
        assert_eq!(c.len(), 4);
        // Key 0 counted again: key 1 is now the least recently counted.
        assert_eq!(c.begin(&0, t0), Ok(true));
        assert!(c.begin(&4, t0).is_ok());
        assert_eq!(c.len(), 4, "the cap holds");
        assert!(c.begin(&0, t0).is_err(), "key 0 kept, and locked");
        assert_eq!(
            c.begin(&1, t0),
            Ok(false),
            "key 1 was dropped: counted afresh"
        );
        // A flood of new keys never grows the table beyond its cap.
        for key in 100..10_000 {
            let _ = c.begin(&key, t0);
            assert!(c.len() <= 4);
        }
        // Once the window has passed, expired entries make room before live ones are dropped.
        let c: FailureCounter<u32> = FailureCounter::new(5, WINDOW, 3);
        assert!(c.begin(&1, t0).is_ok());
        assert!(c.begin(&2, t0).is_ok());
        assert!(c.begin(&3, t0 + WINDOW - Duration::from_secs(1)).is_ok());
        assert!(c.begin(&4, t0 + WINDOW).is_ok());
        assert_eq!(c.len(), 2, "keys 1 and 2 expired and were dropped");
        assert_eq!(c.begin(&3, t0 + WINDOW), Ok(false), "key 3 still counts");
    }

    fn throttle(per_name: u32, per_address: u32) -> SignInThrottle {
        SignInThrottle::new(SignInLimits {
            per_name,
            per_address,
            lockout: WINDOW,
        })
    }

    #[test]
    fn a_name_is_locked_whatever_the_address_and_a_success_clears_it() {
        let t = throttle(2, 100);
        let now = Instant::now();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let first = t.begin_at(Some("ops"), a, now).unwrap();
        t.failed(first);
        let second = t.begin_at(Some("ops"), b, now).unwrap();
        t.failed(second);
        assert!(t.begin_at(Some("ops"), a, now).is_err(), "locked by name");
        // An unknown name is counted exactly alike; another name is not affected.
        for _ in 0..2 {
            let attempt = t.begin_at(Some("nobody"), a, now).unwrap();
            t.failed(attempt);
        }
        assert!(t.begin_at(Some("nobody"), b, now).is_err());
        let other = t.begin_at(Some("auditor"), a, now).unwrap();
        t.failed(other);
        let good = t.begin_at(Some("auditor"), a, now).unwrap();
        t.succeeded(good);
        let again = t.begin_at(Some("auditor"), a, now).unwrap();
        assert!(
            again.name.is_some() && !again.locks_name,
            "the name's count was cleared"
        );
        t.succeeded(again);
    }

    #[test]
    fn an_address_is_locked_across_names_and_api_keys_and_a_success_does_not_clear_it() {
        let t = throttle(100, 4);
        let now = Instant::now();
        let a: IpAddr = "192.0.2.7".parse().unwrap();
        let wrong = t.begin_at(Some("x"), a, now).unwrap();
        t.failed(wrong);
        let key = t.begin_at(None, a, now).unwrap();
        t.failed(key);
        let good = t.begin_at(Some("ops"), a, now).unwrap();
        t.succeeded(good);
        let wrong = t.begin_at(Some("y"), a, now).unwrap();
        t.failed(wrong);
        let fourth = t.begin_at(None, a, now).unwrap();
        assert!(
            fourth.locks_address,
            "the success did not reset the address's count"
        );
        t.failed(fourth);
        let refused = t.begin_at(Some("ops"), a, now).unwrap_err();
        assert_eq!(refused.retry_after, WINDOW);
        assert!(t.begin_at(None, a, now).is_err());
        // Another address is free.
        assert!(t.begin_at(None, "192.0.2.8".parse().unwrap(), now).is_ok());
    }

    #[test]
    fn a_name_locked_out_does_not_count_against_the_address() {
        let t = throttle(1, 3);
        let now = Instant::now();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let first = t.begin_at(Some("ops"), a, now).unwrap();
        t.failed(first);
        for _ in 0..5 {
            assert!(t.begin_at(Some("ops"), a, now).is_err());
        }
        assert_eq!(t.tracked(), (1, 1));
        let other = t.begin_at(Some("auditor"), a, now).unwrap();
        assert!(
            !other.locks_address,
            "two attempts counted for the address, not seven"
        );
        t.succeeded(other);
    }

    #[test]
    fn ipv6_addresses_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        let key = |s: &str| address_key(s.parse().unwrap());
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::2"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2::"));
        assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
        assert_eq!(key("127.0.0.1").to_string(), "127.0.0.1");
    }

    /// What a closure logs, as text.
    fn logs_of(f: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Buffer(std::sync::Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buffer.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn a_lock_is_logged_once_as_a_warning() {
        let t = throttle(2, 3);
        let now = Instant::now();
        let a: IpAddr = "192.0.2.7".parse().unwrap();
        let logs = logs_of(|| {
            for _ in 0..3 {
                if let Ok(attempt) = t.begin_at(Some("ops"), a, now) {
                    t.failed(attempt);
                }
            }
            let key = t.begin_at(None, a, now).unwrap();
            t.failed(key);
        });
        let warnings: Vec<&str> = logs.lines().filter(|l| l.contains("WARN")).collect();
        assert_eq!(warnings.len(), 2, "{logs}");
        assert!(
            warnings[0].contains("account name") && warnings[0].contains("name=\"ops\""),
            "{logs}"
        );
        assert!(
            warnings[1].contains("client address") && warnings[1].contains("192.0.2.7"),
            "{logs}"
        );
    }
}
