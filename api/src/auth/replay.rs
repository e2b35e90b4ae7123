//! The DPoP proofs the API has taken, so that none is taken twice (RFC 9449 §11.1): each is
//! remembered until its `iat` would refuse it anyway, and no longer.
//!
//! Bounded, and it cannot be flooded into forgetting: an entry leaves only when it expires,
//! never to make room. When the cache is full, new proofs are refused (503, `Retry-After`
//! until the oldest expires) rather than an unexpired one forgotten, which would let its proof
//! be replayed. Only proofs that passed every other check (a valid bound token, its key, the
//! signature) are remembered, so filling it takes valid tokens, and the metrics count the
//! refusals.
//!
//! Entries are 16 bytes of SHA-256(jkt ‖ jti) and their expiry, in 16 shards each behind its
//! own lock, expired from the front of a queue in insertion order: every entry lives the same
//! time from its insertion, so insertion order is expiry order, and nothing is ever scanned.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// How many shards: enough that two cores rarely wait on one another's lock.
const SHARDS: usize = 16;

/// Why a proof cannot be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Seen before, within its lifetime.
    Seen,
    /// The cache is full of unexpired proofs; the oldest expires in this long.
    Full(Duration),
}

pub struct ReplayCache {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    lifetime: Duration,
}

#[derive(Default)]
struct Shard {
    seen: HashSet<u128>,
    /// (expires at, entry), oldest first.
    queue: VecDeque<(Duration, u128)>,
}

impl ReplayCache {
    /// Room for `capacity` proofs (rounded up to a multiple of the shards), each kept for
    /// `lifetime` after it is taken.
    pub fn new(capacity: usize, lifetime: Duration) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            lifetime,
        }
    }

    /// Takes the proof `jti` of the key `jkt` at `now` (any monotonic clock), unless it was
    /// taken before within its lifetime, or there is no room.
    pub fn take(&self, jkt: &str, jti: &str, now: Duration) -> Result<(), Replay> {
        let entry = entry_of(jkt, jti);
        let shard = &self.shards[(entry as usize) % SHARDS];
        let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(&(expires, old)) = shard.queue.front() {
            if expires > now {
                break;
            }
            shard.queue.pop_front();
            shard.seen.remove(&old);
        }
        if shard.seen.contains(&entry) {
            return Err(Replay::Seen);
        }
        if shard.seen.len() >= self.per_shard {
            let oldest = shard.queue.front().map_or(self.lifetime, |(e, _)| *e);
            return Err(Replay::Full(oldest.saturating_sub(now)));
        }
        shard.seen.insert(entry);
        shard.queue.push_back((now + self.lifetime, entry));
        Ok(())
    }
}

/// 16 bytes of SHA-256(jkt ‖ 0 ‖ jti): a `jti` counts per key, so that no client can use up
/// another's, and the length of what is kept does not depend on what clients send.
fn entry_of(jkt: &str, jti: &str) -> u128 {
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    context.update(jkt.as_bytes());
    context.update(&[0]);
    context.update(jti.as_bytes());
    let digest = context.finish();
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest.as_ref()[..16]);
    u128::from_le_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFETIME: Duration = Duration::from_secs(70);

    fn at(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn a_proof_is_taken_once_within_its_lifetime() {
        let cache = ReplayCache::new(100, LIFETIME);
        assert_eq!(cache.take("k1", "j1", at(0)), Ok(()));
        assert_eq!(cache.take("k1", "j1", at(69)), Err(Replay::Seen));
        // The same jti from another key is another proof.
        assert_eq!(cache.take("k2", "j1", at(1)), Ok(()));
        // Expired: its iat refuses it by now anyway, and it is forgotten.
        assert_eq!(cache.take("k1", "j1", at(70)), Ok(()));
    }

    #[test]
    fn when_full_new_proofs_are_refused_and_nothing_unexpired_is_forgotten() {
        let cache = ReplayCache::new(SHARDS * 2, LIFETIME);
        let mut taken = vec![];
        let mut full = None;
        for i in 0.. {
            let jti = format!("j{i}");
            match cache.take("k", &jti, at(10)) {
                Ok(()) => taken.push(jti),
                Err(Replay::Full(wait)) => {
                    full = Some(wait);
                    break;
                }
                Err(Replay::Seen) => unreachable!(),
            }
        }
        assert!(taken.len() <= SHARDS * 2);
        assert_eq!(
            full,
            Some(LIFETIME),
            "the oldest expires a lifetime after it was taken"
        );
        // Flooding did not push anything out: every proof taken is still refused.
        for jti in &taken {
            assert_eq!(cache.take("k", jti, at(11)), Err(Replay::Seen), "{jti}");
        }
        // Once they expire there is room again, and an expired proof is forgotten.
        assert_eq!(cache.take("k", "fresh", at(80)), Ok(()));
        assert_eq!(cache.take("k", &taken[0], at(80)), Ok(()));
    }
}
