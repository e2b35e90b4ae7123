//! The tokens that passed validation, remembered so that a client sending the same token again
//! does not pay for another RSA verification (Envoy's jwt_authn keeps such a cache too): a
//! cache shared by every request, keyed by the token's SHA-256, and, per keep-alive connection,
//! the last token it sent ([`ConnectionMemo`]), which spares even the hashing.
//!
//! A remembered token is let through only if validation would let it through now: the caller
//! passes the key set's current generation and the time checks ([`Recall`]); a token whose
//! generation is older, or whose times no longer hold, is a miss. Only tokens that passed
//! every check are remembered, so junk cannot fill the cache. Hits and misses are counted
//! (`/metrics`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::sharded::Counter;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};

use super::claims::AccessClaims;

/// SHA-256 of the token: a fixed-size key that no one can make collide with another token.
type TokenDigest = [u8; 32];

/// A token that passed validation, with the key set generation its key came from.
pub(super) struct VerifiedToken {
    pub(super) claims: Arc<AccessClaims>,
    pub(super) generation: u64,
    /// The validator that verified it: a connection's memo may be read by another one.
    validator: u64,
}

tokio::task_local! {
    /// The memo of the connection whose request this task serves, if the request has a token.
    static CONNECTION: Option<Arc<ConnectionMemo>>;
}

/// The last token one connection sent, once verified. HTTP/1.1 clients send the same token on
/// every request of a connection: comparing it costs less than hashing a kilobyte for the
/// shared cache. What is remembered is what the shared cache holds, checked the same way, and
/// only by the validator that verified it.
#[derive(Default)]
pub struct ConnectionMemo(Mutex<Option<(Box<str>, Arc<VerifiedToken>)>>);

impl ConnectionMemo {
    /// Serves `request` with `memo` at hand for the bearer extractor ([`ConnectionMemo::current`]):
    /// a task-local, where the request's extensions would cost a map and two allocations.
    pub fn serving<F: std::future::Future>(
        memo: Option<Arc<ConnectionMemo>>,
        request: F,
    ) -> tokio::task::futures::TaskLocalFuture<Option<Arc<ConnectionMemo>>, F> {
        CONNECTION.scope(memo, request)
    }

    /// The memo of the connection being served, if any.
    pub(super) fn current() -> Option<Arc<ConnectionMemo>> {
        CONNECTION.try_with(Clone::clone).ok().flatten()
    }

    /// The token this connection sent last, if it is `token`: compared in constant time, since
    /// behind a proxy that reuses connections the last token may be another user's.
    fn recall(&self, token: &str, validator: u64) -> Option<Arc<VerifiedToken>> {
        let last = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (sent, verified) = last.as_ref()?;
        let same = verify_slices_are_equal(sent.as_bytes(), token.as_bytes()).is_ok();
        (same && verified.validator == validator).then(|| verified.clone())
    }

    fn remember(&self, token: &str, verified: Arc<VerifiedToken>) {
        let mut last = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *last = Some((token.into(), verified));
    }
}

/// What a hit must still satisfy: the key set it was verified with is still the one, and the
/// token's times still hold.
pub(super) struct Recall<'a> {
    pub(super) generation: u64,
    pub(super) still_valid: &'a dyn Fn(&AccessClaims) -> bool,
}

impl Recall<'_> {
    fn trusts(&self, verified: &VerifiedToken) -> bool {
        verified.generation == self.generation && (self.still_valid)(&verified.claims)
    }
}

/// Hits and misses of the verified-token caches, since start.
#[derive(Debug, Default)]
pub struct CacheCounts {
    /// A connection's memo had the token.
    pub memo_hits: Counter,
    /// The shared cache had the token.
    pub hits: Counter,
    /// Neither had it, or what they had no longer holds: the token was verified in full.
    pub misses: Counter,
}

/// The verified tokens of one validator: the shared cache (none when its size is 0) and the
/// hit and miss counts.
pub(super) struct VerifiedTokens {
    cache: Option<quick_cache::sync::Cache<TokenDigest, Arc<VerifiedToken>>>,
    validator: u64,
    pub(super) counts: CacheCounts,
}

/// Each validator's own number, for the memos.
static VALIDATORS: AtomicU64 = AtomicU64::new(1);

impl VerifiedTokens {
    pub(super) fn new(size: usize) -> Self {
        Self {
            cache: (size > 0).then(|| quick_cache::sync::Cache::new(size)),
            validator: VALIDATORS.fetch_add(1, Ordering::Relaxed),
            counts: CacheCounts::default(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.cache.as_ref().map_or(0, |c| c.len())
    }

    /// The claims of `token` if it was verified and would pass now, and else its digest, for
    /// [`VerifiedTokens::remember`] after a full validation.
    pub(super) fn recall(
        &self,
        token: &str,
        memo: Option<&ConnectionMemo>,
        now: &Recall,
    ) -> Result<Arc<AccessClaims>, Option<TokenDigest>> {
        let Some(cache) = &self.cache else {
            self.counts.misses.add(1);
            return Err(None);
        };
        if let Some(hit) = memo.and_then(|memo| memo.recall(token, self.validator))
            && now.trusts(&hit)
        {
            self.counts.memo_hits.add(1);
            return Ok(hit.claims.clone());
        }
        let digest: TokenDigest = digest(&SHA256, token.as_bytes())
            .as_ref()
            .try_into()
            .expect("SHA-256 is 32 bytes");
        match cache.get(&digest) {
            Some(hit) if now.trusts(&hit) => {
                self.counts.hits.add(1);
                if let Some(memo) = memo {
                    memo.remember(token, hit.clone());
                }
                Ok(hit.claims.clone())
            }
            _ => {
                self.counts.misses.add(1);
                Err(Some(digest))
            }
        }
    }

    /// Remembers a token that passed validation in full.
    pub(super) fn remember(
        &self,
        token: &str,
        digest: Option<TokenDigest>,
        memo: Option<&ConnectionMemo>,
        claims: AccessClaims,
        generation: u64,
    ) -> Arc<AccessClaims> {
        let claims = Arc::new(claims);
        let (Some(cache), Some(digest)) = (&self.cache, digest) else {
            return claims;
        };
        let verified = Arc::new(VerifiedToken {
            claims: claims.clone(),
            generation,
            validator: self.validator,
        });
        cache.insert(digest, verified.clone());
        if let Some(memo) = memo {
            memo.remember(token, verified);
        }
        claims
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::jwt::{Audience, NumericDate};

    fn claims() -> AccessClaims {
        AccessClaims {
            sub: "u".into(),
            iss: "i".into(),
            aud: Audience::One("a".into()),
            exp: NumericDate(u64::MAX),
            nbf: None,
            azp: None,
            scope: None,
            permissions: None,
            jkt: None,
        }
    }

    fn recall(generation: u64) -> Recall<'static> {
        Recall {
            generation,
            still_valid: &|_| true,
        }
    }

    #[test]
    fn a_memo_answers_only_its_validator_and_only_the_same_token() {
        let (a, b) = (VerifiedTokens::new(10), VerifiedTokens::new(10));
        let memo = ConnectionMemo::default();
        let digest = a.recall("tok", Some(&memo), &recall(1)).unwrap_err();
        a.remember("tok", digest, Some(&memo), claims(), 1);
        assert!(a.recall("tok", Some(&memo), &recall(1)).is_ok());
        assert_eq!(a.counts.memo_hits.get(), 1);
        // Another validator on the same connection verifies the token itself.
        assert!(b.recall("tok", Some(&memo), &recall(1)).is_err());
        // A token differing only in its last byte is not the one remembered.
        assert!(memo.recall("tol", a.validator).is_none());
        assert!(memo.recall("to", a.validator).is_none());
        assert!(memo.recall("tok", a.validator).is_some());
    }

    #[test]
    fn a_hit_must_still_hold_or_it_is_a_miss() {
        let tokens = VerifiedTokens::new(10);
        let digest = tokens.recall("tok", None, &recall(1)).unwrap_err();
        tokens.remember("tok", digest, None, claims(), 1);
        assert!(tokens.recall("tok", None, &recall(1)).is_ok());
        assert!(
            tokens.recall("tok", None, &recall(2)).is_err(),
            "keys changed"
        );
        let expired = Recall {
            generation: 1,
            still_valid: &|_| false,
        };
        assert!(tokens.recall("tok", None, &expired).is_err(), "times");
        assert_eq!(tokens.counts.hits.get(), 1);
        assert_eq!(tokens.counts.misses.get(), 3);
    }

    #[test]
    fn with_size_zero_nothing_is_remembered() {
        let tokens = VerifiedTokens::new(0);
        let memo = ConnectionMemo::default();
        assert_eq!(
            tokens.recall("tok", Some(&memo), &recall(1)).unwrap_err(),
            None
        );
        tokens.remember("tok", None, Some(&memo), claims(), 1);
        assert!(tokens.recall("tok", Some(&memo), &recall(1)).is_err());
        assert_eq!(tokens.len(), 0);
    }
}
