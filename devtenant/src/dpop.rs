//! DPoP (RFC 9449) at the tenant: the proof a client sends to the token endpoint and to
//! `/userinfo`, checked by `shared::dpop`'s rules (the `htu` is the endpoint's own URL), each
//! proof taken once ([`crate::store::Store::take_proof`]), and the tenant's nonce when it
//! requires one (`[tenant] dpop_nonce`, or [`DevTenant::require_dpop_nonce`]).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::HeaderMap;
use shared::dpop::{DPOP_HEADER, Expected, ProofError, VerifiedProof, normalize_htu, verify_proof};

use crate::issue::now;
use crate::keys::{random_token, same_secret};
use crate::tenant::DevTenant;

/// How old a proof may be, and the clock skew tolerated, in seconds.
const MAX_AGE: u64 = 60;
const LEEWAY: u64 = 5;

/// The tenant's nonce: one at a time, replaced by [`Nonces::rotate`].
#[derive(Debug)]
pub struct Nonces {
    required: AtomicBool,
    current: Mutex<String>,
}

impl Nonces {
    pub fn new(required: bool) -> Self {
        Self {
            required: AtomicBool::new(required),
            current: Mutex::new(random_token(16)),
        }
    }

    pub fn set_required(&self, required: bool) {
        self.required.store(required, Ordering::SeqCst);
    }

    pub fn required(&self) -> bool {
        self.required.load(Ordering::SeqCst)
    }

    pub fn current(&self) -> String {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A new nonce: proofs with the old one are then asked to try again.
    pub fn rotate(&self) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = random_token(16);
    }
}

/// The DPoP proof of a request to the tenant's `path` with `method`, if it came with one:
/// checked, and taken (a proof works once). `access_token`: with a token (`/userinfo`),
/// `ath` must be its hash; without (the token endpoint), the nonce, when required, must be
/// the tenant's (Auth0 asks for it at its token endpoint).
pub fn proof_of(
    tenant: &DevTenant,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    access_token: Option<&str>,
) -> Result<Option<VerifiedProof>, ProofError> {
    let mut proofs = headers.get_all(DPOP_HEADER).iter();
    let Some(proof) = proofs.next() else {
        return Ok(None);
    };
    if proofs.next().is_some() {
        return Err(ProofError::Several);
    }
    let proof = proof.to_str().map_err(|_| ProofError::NotAJws)?;
    let uris: Vec<String> = normalize_htu(&tenant.endpoint(path)).into_iter().collect();
    let expected = Expected {
        method,
        uris: &uris,
        access_token,
        now: i64::try_from(now()).unwrap_or(i64::MAX),
        max_age: MAX_AGE,
        leeway: LEEWAY,
    };
    let verified = verify_proof(proof, &expected)?;
    let nonces = tenant.dpop_nonces();
    if access_token.is_none() && nonces.required() {
        match &verified.nonce {
            Some(nonce) if same_secret(nonce, &nonces.current()) => {}
            Some(_) => return Err(ProofError::StaleNonce),
            None => return Err(ProofError::NonceRequired),
        }
    }
    if !tenant.store().take_proof(&verified.jkt, &verified.jti) {
        return Err(ProofError::Replayed);
    }
    Ok(Some(verified))
}
