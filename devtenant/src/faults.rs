//! Test-only switches: on the JWKS endpoint, for tests of a JWKS client (the API's): make the
//! tenant "down", slow, or publish something else than its keys; count the fetches. On
//! `/authorize`, for tests of a silent renewal: answer `prompt=none` late, so that a test can
//! post forged answers to the app while it waits.
//!
//! A type of its own, so that the one handler that reads it asks it questions instead of
//! reading fields, and the tenant's state says plainly which of its parts are for tests.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

/// What the JWKS endpoint does.
#[derive(Debug, Clone, Default)]
pub enum JwksBehaviour {
    /// Publish the key ring.
    #[default]
    Normal,
    /// Answer this HTTP status (the tenant is "down").
    Status(u16),
    /// Answer 200 with something that is not a key set.
    Garbage,
    /// Publish exactly this JSON instead of the key ring.
    Publish(Value),
}

#[derive(Debug, Default)]
pub struct JwksFaults {
    behaviour: Mutex<JwksBehaviour>,
    delay: Mutex<Duration>,
    fetches: AtomicUsize,
}

impl JwksFaults {
    pub fn set_behaviour(&self, behaviour: JwksBehaviour) {
        *self.behaviour.lock().unwrap_or_else(|e| e.into_inner()) = behaviour;
    }

    pub fn set_delay(&self, delay: Duration) {
        *self.delay.lock().unwrap_or_else(|e| e.into_inner()) = delay;
    }

    /// Counts a fetch and says how to answer it: after how long, and with what.
    pub fn record_fetch(&self) -> (Duration, JwksBehaviour) {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let delay = *self.delay.lock().unwrap_or_else(|e| e.into_inner());
        let behaviour = self.behaviour.lock().unwrap_or_else(|e| e.into_inner());
        (delay, behaviour.clone())
    }

    /// How many times the JWKS was requested.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// What `/authorize` does differently, for tests.
#[derive(Debug, Default)]
pub struct AuthorizeFaults {
    silent_delay: Mutex<Duration>,
}

impl AuthorizeFaults {
    pub fn set_silent_delay(&self, delay: Duration) {
        *self.silent_delay.lock().unwrap_or_else(|e| e.into_inner()) = delay;
    }

    /// How long a `prompt=none` request waits before its answer.
    pub fn silent_delay(&self) -> Duration {
        *self.silent_delay.lock().unwrap_or_else(|e| e.into_inner())
    }
}
