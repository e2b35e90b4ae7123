//! The login round trip, the one place that joins the pure checks of [`crate::auth`] to the
//! browser: off to the tenant with a fresh `state` and `nonce`, back at `/callback` with
//! tokens that are checked (state, then the ID token) before anything is kept.

use shared::AuthConfig;

use crate::auth::callback::{CallbackError, PendingLogin, parse_callback};
use crate::auth::id_token::{Expectations, IdTokenError, check_claims, decode};
use crate::auth::session::{Profile, Session};
use crate::auth::urls::authorize_url;
use crate::browser::{self, CALLBACK_PATH};

/// Sends the browser to the tenant's login; it comes back to `/callback`, then to the page it
/// left.
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
        started_at: browser::now_secs(),
    };
    browser::save_pending_login(&pending)?;
    let redirect_uri = format!("{}{CALLBACK_PATH}", browser::origin());
    let url = authorize_url(config, &redirect_uri, &pending.state, &pending.nonce);
    browser::go_to(&url);
    Ok(())
}

/// Checks the tenant's answer to this tab's login (state, then the ID token: signature with
/// the tenant's JWKS, iss, aud, azp, exp, iat, nonce, at_hash) and returns the session and
/// the path to go back to.
pub async fn finish_login(
    config: &AuthConfig,
    answer: &str,
) -> Result<(Session, String), CallbackError> {
    let pending = browser::take_pending_login();
    let now = browser::now_secs();
    let response = parse_callback(answer, pending.as_ref(), now)?;
    let pending = pending.ok_or(CallbackError::NoPendingLogin)?;
    let profile = verify_id_token(
        config,
        &response.id_token,
        &pending.nonce,
        Some(&response.access_token),
    )
    .await?;
    let session = Session {
        access_token: response.access_token,
        expires_at: response.expires_at,
        profile,
    };
    Ok((session, pending.return_to))
}

/// The one ID-token verifier: the signature with the tenant's key (by the shared rule), then
/// the claims, `at_hash` binding it to `access_token` when one came with it. Who logged in.
pub async fn verify_id_token(
    config: &AuthConfig,
    id_token: &str,
    nonce: &str,
    access_token: Option<&str>,
) -> Result<Profile, CallbackError> {
    let invalid = CallbackError::InvalidIdToken;
    let browser_error = |e| invalid(IdTokenError::Browser(e));
    let jwt = decode(id_token).map_err(invalid)?;
    let mut keys = browser::jwks(config, false).await;
    // A key the set fetched earlier in this page lacks: the tenant may have rotated since.
    if keys
        .as_ref()
        .is_ok_and(|set| set.rs256_key(&jwt.kid).is_err())
    {
        keys = browser::jwks(config, true).await;
    }
    let keys = keys.map_err(CallbackError::KeysUnavailable)?;
    let key = keys.rs256_key(&jwt.kid).map_err(|e| invalid(e.into()))?;
    let signed = browser::verify_rs256(&key, jwt.signing_input.as_bytes(), &jwt.signature)
        .await
        .map_err(browser_error)?;
    if !signed {
        return Err(invalid(IdTokenError::BadSignature));
    }
    let at_hash = match access_token {
        Some(token) => {
            let digest = browser::sha256(token.as_bytes())
                .await
                .map_err(browser_error)?;
            Some(shared::oauth::at_hash(&digest))
        }
        None => None,
    };
    let expected = Expectations {
        issuer: &config.issuer,
        client_id: &config.client_id,
        nonce,
        now: browser::now_secs(),
        at_hash: at_hash.as_deref(),
    };
    check_claims(&jwt.claims, &expected).map_err(invalid)?;
    Ok(Profile::from_claims(&jwt.claims))
}
