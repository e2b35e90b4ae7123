//! The login round trip: off to the tenant with a fresh `state` and `nonce`, back at
//! `/callback` with tokens that are checked before anything is stored.

use shared::AuthConfig;

use crate::auth::authorize::{authorize_url, jwks_url, logout_url};
use crate::auth::callback::{CallbackError, PendingLogin, parse_callback};
use crate::auth::id_token::{Expectations, at_hash_from_sha256, check_claims, decode};
use crate::auth::session::{Profile, Session};
use crate::browser::{self, Jwks, SessionStore};

pub const CALLBACK_PATH: &str = "/callback";

/// Sends the browser to the tenant's login; it comes back to `/callback`.
pub fn start_login(config: &AuthConfig) -> Result<(), String> {
    let path = browser::current_path();
    let pending = PendingLogin {
        state: browser::random_token()?,
        nonce: browser::random_token()?,
        return_to: if path == CALLBACK_PATH {
            "/".into()
        } else {
            path
        },
    };
    browser::save_pending_login(&pending)?;
    let redirect_uri = format!("{}{CALLBACK_PATH}", browser::origin());
    browser::go_to(&authorize_url(
        config,
        &redirect_uri,
        &pending.state,
        &pending.nonce,
    ));
    Ok(())
}

/// Ends the session here and on the tenant, and comes back to the app's home.
pub fn log_out(config: &AuthConfig, store: SessionStore) {
    store.clear();
    browser::go_to(&logout_url(config, &browser::origin()));
}

/// Checks the callback (state, then the ID token: signature with the tenant's JWKS, iss, aud,
/// exp, nonce, at_hash) and returns the session and where to go back to.
pub async fn finish_login(config: &AuthConfig) -> Result<(Session, String), CallbackError> {
    let pending = browser::take_pending_login();
    let response = parse_callback(&browser::fragment(), pending.as_ref())?;
    let pending = pending.ok_or(CallbackError::NoPendingLogin)?;
    let invalid = CallbackError::InvalidIdToken;
    let jwt = decode(&response.id_token).map_err(invalid)?;
    let jwks: Jwks = browser::get_json(&jwks_url(config), None)
        .await
        .map_err(CallbackError::KeysUnavailable)?;
    let kid = jwt.header.kid.as_deref().unwrap_or_default();
    let key = jwks
        .keys
        .iter()
        .find(|k| {
            k.kid.as_deref() == Some(kid)
                && k.kty == "RSA"
                && k.key_use.as_deref().is_none_or(|u| u == "sig")
                && k.alg.as_deref().is_none_or(|a| a == "RS256")
        })
        .ok_or_else(|| invalid("it is signed with a key the tenant does not publish".into()))?;
    let valid = browser::verify_rs256(key, jwt.signing_input.as_bytes(), &jwt.signature)
        .await
        .map_err(invalid)?;
    if !valid {
        return Err(invalid(
            "its signature does not verify with the tenant's key".into(),
        ));
    }
    let digest = browser::sha256(response.access_token.as_bytes())
        .await
        .map_err(invalid)?;
    let now = browser::now_secs();
    check_claims(
        &jwt.claims,
        &Expectations {
            issuer: &config.issuer,
            client_id: &config.client_id,
            nonce: &pending.nonce,
            now,
            at_hash: &at_hash_from_sha256(&digest),
        },
    )
    .map_err(invalid)?;
    let session = Session {
        access_token: response.access_token,
        id_token: response.id_token,
        expires_at: now + response.expires_in,
        profile: Profile::from_claims(&jwt.claims),
    };
    Ok((session, pending.return_to))
}
