//! DPoP (RFC 9449) at the API: tokens bound to a key the client holds, a proof of it with
//! every request. What a proof must say is `shared::dpop`'s ([`verify_proof`]); what needs
//! the API's own state is here: which URLs it is reached at (`htu`, from `PUBLIC_URL`,
//! never from `Host`), the proofs already taken ([`super::replay`]), the server's nonces.
//!
//! [`DpopMode`] (`DPOP`): `allowed` (the default) takes bearer tokens and DPoP-bound ones;
//! `required` takes bound tokens only; `disabled` takes bearer tokens only. In every mode a
//! bound token (`cnf.jkt`) is never taken as a bearer token: whoever copied it has no key.

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use shared::dpop::{Expected, ProofError, VerifiedProof, verify_proof};
use shared::oauth::constant_time_eq;

use super::rejection::TokenRejection;
use super::replay::{Replay, ReplayCache};
use crate::error::ApiError;

/// Which access tokens the API takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DpopMode {
    /// Bearer tokens only; a `DPoP` one is refused.
    Disabled,
    /// Bearer tokens, and DPoP-bound ones with their proof.
    #[default]
    Allowed,
    /// DPoP-bound tokens only.
    Required,
}

impl FromStr for DpopMode {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        match text {
            "disabled" => Ok(Self::Disabled),
            "allowed" => Ok(Self::Allowed),
            "required" => Ok(Self::Required),
            _ => Err(()),
        }
    }
}

/// DPoP's settings; [`DpopSettings::new`] carries the documented defaults.
#[derive(Debug, Clone)]
pub struct DpopSettings {
    pub mode: DpopMode,
    /// The base URLs clients reach the API at (`PUBLIC_URL`), normalised, without a trailing
    /// slash; a request's `htu` is one of them followed by its path. `None`: the API's own
    /// address when it listens on loopback, and the dev SPA's (see [`loopback_urls`]).
    pub public_urls: Option<Vec<String>>,
    /// How old a proof's `iat` may be.
    pub max_age: Duration,
    /// Clock skew tolerated on `iat`, either way.
    pub leeway: Duration,
    /// How many proofs are remembered against replay.
    pub replay_capacity: usize,
    /// Require the server's nonce in every proof (`DPoP-Nonce`).
    pub nonces: bool,
}

impl DpopSettings {
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(60);
    pub const DEFAULT_REPLAY_CAPACITY: usize = 100_000;

    pub fn new() -> Self {
        Self {
            mode: DpopMode::default(),
            public_urls: None,
            max_age: Self::DEFAULT_MAX_AGE,
            leeway: Duration::from_secs(5),
            replay_capacity: Self::DEFAULT_REPLAY_CAPACITY,
            nonces: false,
        }
    }
}

impl Default for DpopSettings {
    fn default() -> Self {
        Self::new()
    }
}

/// Where clients reach an API that listens on loopback at `port` and was told no
/// `PUBLIC_URL`: its own address by name and by number, and the dev loop's SPA, whose
/// `trunk serve` (port 3000) proxies `/api` to it.
pub fn loopback_urls(port: u16) -> Vec<String> {
    let mut urls = vec![
        format!("http://localhost:{port}"),
        format!("http://127.0.0.1:{port}"),
    ];
    if port != 3000 {
        urls.extend([
            "http://localhost:3000".into(),
            "http://127.0.0.1:3000".into(),
        ]);
    }
    urls
}

/// The server's nonces (§8), when asked for: made from a secret of this process and the
/// time, so none is stored. One is good for its slot of [`NONCE_SLOT`] and the next.
struct Nonces {
    key: aws_lc_rs::hmac::Key,
}

/// How long a nonce is handed out before the next one.
const NONCE_SLOT: u64 = 60;

impl Nonces {
    fn new() -> Self {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let key = aws_lc_rs::hmac::Key::generate(aws_lc_rs::hmac::HMAC_SHA256, &rng)
            .expect("the system's randomness is available");
        Self { key }
    }

    /// The nonce of `slot`: the slot and 16 bytes of its HMAC, base64url.
    fn of(&self, slot: u64) -> String {
        let tag = aws_lc_rs::hmac::sign(&self.key, &slot.to_be_bytes());
        let mut bytes = slot.to_be_bytes().to_vec();
        bytes.extend_from_slice(&tag.as_ref()[..16]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn current(&self, now: u64) -> String {
        self.of(now / NONCE_SLOT)
    }

    /// Whether `nonce` is this slot's or the one before.
    fn is_current(&self, nonce: &str, now: u64) -> bool {
        let slot = now / NONCE_SLOT;
        [slot, slot.saturating_sub(1)]
            .iter()
            .any(|s| constant_time_eq(self.of(*s).as_bytes(), nonce.as_bytes()))
    }
}

/// Checks the proofs that come with DPoP tokens.
pub struct DpopChecker {
    settings: DpopSettings,
    /// Where clients reach the API; empty when not known (then no proof can pass).
    bases: Vec<String>,
    replay: ReplayCache,
    nonces: Option<Nonces>,
    /// Where this process's monotonic time starts, for the replay cache.
    epoch: std::time::Instant,
}

impl DpopChecker {
    /// The checker for `settings`, reached at `bases` (resolved from `PUBLIC_URL` or the
    /// listening address).
    pub fn new(settings: DpopSettings, bases: Vec<String>) -> Self {
        // A proof is remembered as long as its iat could still let it in.
        let lifetime = settings.max_age + settings.leeway * 2;
        Self {
            replay: ReplayCache::new(settings.replay_capacity, lifetime),
            nonces: settings.nonces.then(Nonces::new),
            bases,
            settings,
            epoch: std::time::Instant::now(),
        }
    }

    pub fn mode(&self) -> DpopMode {
        self.settings.mode
    }

    /// The current nonce, when nonces are on: sent with every DPoP answer.
    pub fn nonce(&self) -> Option<HeaderValue> {
        let nonces = self.nonces.as_ref()?;
        HeaderValue::from_str(&nonces.current(unix_now())).ok()
    }

    /// The proof in `headers` for a `method` request to `path` with `token`, bound to `jkt`
    /// (the token's `cnf.jkt`): every check of §4.3 and §7.1, the nonce, then, last, the
    /// replay cache (so that a refused proof takes no room).
    pub fn check(
        &self,
        headers: &HeaderMap,
        method: &str,
        path: &str,
        token: &str,
        jkt: &str,
    ) -> Result<(), ApiError> {
        let proof = single_proof(headers)?;
        if self.bases.is_empty() {
            return Err(ApiError::DpopUnconfigured);
        }
        let uris: Vec<String> = self.bases.iter().map(|b| format!("{b}{path}")).collect();
        let now = unix_now();
        let expected = Expected {
            method,
            uris: &uris,
            access_token: Some(token),
            now: i64::try_from(now).unwrap_or(i64::MAX),
            max_age: self.settings.max_age.as_secs(),
            leeway: self.settings.leeway.as_secs(),
        };
        let verified = verify_proof(proof, &expected).map_err(refused)?;
        if !constant_time_eq(verified.jkt.as_bytes(), jkt.as_bytes()) {
            return Err(refused(ProofError::KeyMismatch));
        }
        self.check_nonce(&verified, now)?;
        match self
            .replay
            .take(&verified.jkt, &verified.jti, self.epoch.elapsed())
        {
            Ok(()) => Ok(()),
            Err(Replay::Seen) => Err(refused(ProofError::Replayed)),
            Err(Replay::Full(wait)) => Err(ApiError::ReplayCacheFull(wait)),
        }
    }

    fn check_nonce(&self, proof: &VerifiedProof, now: u64) -> Result<(), ApiError> {
        let Some(nonces) = &self.nonces else {
            return Ok(());
        };
        match &proof.nonce {
            Some(nonce) if nonces.is_current(nonce, now) => Ok(()),
            Some(_) => Err(refused(ProofError::StaleNonce)),
            None => Err(refused(ProofError::NonceRequired)),
        }
    }
}

/// The one `DPoP` header of a request (§4.3: exactly one), as text.
fn single_proof(headers: &HeaderMap) -> Result<&str, ApiError> {
    let mut proofs = headers.get_all(shared::dpop::DPOP_HEADER).iter();
    let proof = proofs.next().ok_or(refused(ProofError::Missing))?;
    if proofs.next().is_some() {
        return Err(refused(ProofError::Several));
    }
    proof.to_str().map_err(|_| refused(ProofError::NotAJws))
}

fn refused(error: ProofError) -> ApiError {
    ApiError::InvalidToken(TokenRejection::Proof(error))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::dpop::ProofKey;

    const BASE: &str = "https://api.example.com";

    fn checker(nonces: bool, capacity: usize) -> DpopChecker {
        DpopChecker::new(
            DpopSettings {
                nonces,
                replay_capacity: capacity,
                ..DpopSettings::new()
            },
            vec![BASE.into()],
        )
    }

    fn headers(proofs: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for proof in proofs {
            headers.append("dpop", HeaderValue::from_str(proof).unwrap());
        }
        headers
    }

    fn now() -> i64 {
        unix_now() as i64
    }

    #[test]
    fn the_modes_are_read_as_written() {
        for (text, mode) in [
            ("disabled", DpopMode::Disabled),
            ("allowed", DpopMode::Allowed),
            ("required", DpopMode::Required),
        ] {
            assert_eq!(text.parse(), Ok(mode));
        }
        for text in ["", "Allowed", "on", "true"] {
            assert_eq!(text.parse::<DpopMode>(), Err(()), "{text}");
        }
        assert_eq!(DpopMode::default(), DpopMode::Allowed);
    }

    #[test]
    fn a_proof_passes_once_for_its_token_key_method_and_url() {
        let checker = checker(false, 1000);
        let key = ProofKey::generate();
        let uri = format!("{BASE}/api/private");
        let proof = key.proof("GET", &uri, Some("at"), None, now());
        let check = |proofs: &[&str], jkt: &str| {
            checker.check(&headers(proofs), "GET", "/api/private", "at", jkt)
        };
        assert_eq!(check(&[&proof], &key.thumbprint()), Ok(()));
        assert_eq!(
            check(&[&proof], &key.thumbprint()),
            Err(refused(ProofError::Replayed))
        );
        let fresh = key.proof("GET", &uri, Some("at"), None, now());
        assert_eq!(
            check(&[&fresh], &ProofKey::generate().thumbprint()),
            Err(refused(ProofError::KeyMismatch))
        );
        assert_eq!(
            check(&[], &key.thumbprint()),
            Err(refused(ProofError::Missing))
        );
        assert_eq!(
            check(&[&fresh, &fresh], &key.thumbprint()),
            Err(refused(ProofError::Several))
        );
        // The key mismatch above did not use the proof up.
        assert_eq!(check(&[&fresh], &key.thumbprint()), Ok(()));
    }

    #[test]
    fn without_a_public_url_no_proof_can_pass_and_the_operator_is_told() {
        let checker = DpopChecker::new(DpopSettings::new(), vec![]);
        let key = ProofKey::generate();
        let proof = key.proof("GET", "http://x/api/private", Some("at"), None, now());
        assert_eq!(
            checker.check(
                &headers(&[&proof]),
                "GET",
                "/api/private",
                "at",
                &key.thumbprint()
            ),
            Err(ApiError::DpopUnconfigured)
        );
    }

    #[test]
    fn with_nonces_a_proof_needs_the_current_one() {
        let checker = checker(true, 1000);
        let key = ProofKey::generate();
        let uri = format!("{BASE}/api/private");
        let check = |nonce: Option<&str>| {
            let proof = key.proof("GET", &uri, Some("at"), nonce, now());
            checker.check(
                &headers(&[&proof]),
                "GET",
                "/api/private",
                "at",
                &key.thumbprint(),
            )
        };
        assert_eq!(check(None), Err(refused(ProofError::NonceRequired)));
        assert_eq!(check(Some("made-up")), Err(refused(ProofError::StaleNonce)));
        let nonce = checker.nonce().unwrap();
        assert_eq!(check(Some(nonce.to_str().unwrap())), Ok(()));
        // The previous slot's still passes; older ones do not.
        let nonces = checker.nonces.as_ref().unwrap();
        let t = unix_now();
        assert!(nonces.is_current(&nonces.current(t - NONCE_SLOT), t));
        assert!(!nonces.is_current(&nonces.current(t - 2 * NONCE_SLOT), t));
    }

    #[test]
    fn a_full_replay_cache_refuses_new_proofs_until_room_comes_back() {
        let checker = checker(false, 1);
        let key = ProofKey::generate();
        let uri = format!("{BASE}/api/private");
        let mut outcomes = vec![];
        for _ in 0..40 {
            let proof = key.proof("GET", &uri, Some("at"), None, now());
            outcomes.push(checker.check(
                &headers(&[&proof]),
                "GET",
                "/api/private",
                "at",
                &key.thumbprint(),
            ));
        }
        assert!(outcomes.iter().any(Result::is_ok));
        assert!(
            outcomes
                .iter()
                .any(|o| matches!(o, Err(ApiError::ReplayCacheFull(_)))),
            "{outcomes:?}"
        );
    }

    #[test]
    fn modes_and_loopback_urls() {
        assert_eq!("required".parse(), Ok(DpopMode::Required));
        assert_eq!("Allowed".parse::<DpopMode>(), Err(()));
        assert_eq!(
            loopback_urls(3000),
            ["http://localhost:3000", "http://127.0.0.1:3000"]
        );
        assert_eq!(loopback_urls(3001).len(), 4);
    }
}
