//! Counts every request adds to, kept per thread and summed when read.
//!
//! One atomic that every worker thread adds to moves its cache line between cores on every
//! request; on the two cores of `cargo xtask bench` that was a measurable part of the API's
//! CPU per request. Here each thread adds to a slot of its own, on a line of its own, and a
//! reader (a scrape, a test) adds the slots up. No crate does only this; crossbeam's
//! `CachePadded` would be the one line borrowed.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Slots per value: more than the threads that add to it, so each usually has its own.
const SHARDS: usize = 16;

/// A value aligned to a cache-line pair (what adjacent-line prefetching moves together).
#[derive(Default)]
#[repr(align(128))]
struct Padded<T>(T);

/// One `T` per slot; each thread uses the slot it was given first.
pub struct Sharded<T> {
    shards: Box<[Padded<T>]>,
}

static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SLOT: usize = NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

impl<T: Default> Default for Sharded<T> {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Padded::default()).collect(),
        }
    }
}

impl<T> Sharded<T> {
    /// This thread's slot.
    pub fn local(&self) -> &T {
        let slot = SLOT.with(|slot| *slot);
        &self.shards[slot].0
    }

    /// Every slot, to add them up.
    pub fn all(&self) -> impl Iterator<Item = &T> {
        self.shards.iter().map(|padded| &padded.0)
    }
}

/// A count many threads add to.
#[derive(Default)]
pub struct Counter(Sharded<AtomicU64>);

impl Counter {
    pub fn add(&self, n: u64) {
        self.0.local().fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.all().map(|slot| slot.load(Ordering::Relaxed)).sum()
    }
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_every_thread_add_up() {
        let counter = Counter::default();
        std::thread::scope(|scope| {
            for _ in 0..40 {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        counter.add(1);
                    }
                });
            }
        });
        assert_eq!(counter.get(), 40_000);
    }
}
