//! The login round trip, the one place that joins the pure checks of [`crate::auth`] to the
//! browser: off to the tenant with a fresh `state` and `nonce` (and, for the code flow, a PKCE
//! verifier), back at `/callback` with tokens or a code that are checked (state, then the ID
//! token) before anything is kept. [`crate::renewal`] makes the same round trip without a
//! visible redirect, and uses the token endpoint from here. With DPoP, the code is asked for
//! with the key's thumbprint (`dpop_jkt`) and exchanged with a proof of that key.

use shared::oauth::OAuthError;
use shared::{AuthConfig, LoginFlow, Provider, SessionStorage};

use crate::auth::callback::{Answer, CallbackError, PendingLogin, TokenResponse, parse_callback};
use crate::auth::id_token::{Expectations, IdTokenError, check_claims, decode};
use crate::auth::session::{Profile, Session};
use crate::auth::urls::{Authorize, authorize_url, token_url};
use crate::browser::{self, CALLBACK_PATH};
use crate::dpop::{self, DpopKey};
use shared::dpop::NONCE_HEADER;

/// A new login for `config`'s flow, bound to a fresh `state` and `nonce`, with a PKCE verifier
/// (32 CSPRNG bytes, base64url) for the code flow, and with DPoP a key (`dpop_key`, the
/// session's when it renews, else a new one). The URL to send the browser to.
pub(crate) async fn new_login(
    config: &AuthConfig,
    return_to: String,
    silent: bool,
    dpop_key: Option<&str>,
) -> Result<(PendingLogin, String), String> {
    // A new key is kept in IndexedDB for a redirect (the page is left for the tenant) and
    // for a session kept across reloads; a silent renewal of a memory session keeps it in
    // memory only.
    let memory_only = silent && config.session_storage == SessionStorage::Memory;
    let dpop_jkt = match (uses_dpop(config), dpop_key) {
        (false, _) => None,
        (true, Some(jkt)) => Some(jkt.to_owned()),
        (true, None) => Some(dpop::new_key(memory_only).await?.jkt.clone()),
    };
    let code_verifier = match config.login_flow {
        LoginFlow::Code => Some(browser::random_token()?),
        LoginFlow::Implicit => None,
    };
    let code_challenge = match &code_verifier {
        Some(verifier) => Some(shared::oauth::s256_challenge(
            &browser::sha256(verifier.as_bytes()).await?,
        )),
        None => None,
    };
    let pending = PendingLogin {
        state: browser::random_token()?,
        nonce: browser::random_token()?,
        return_to,
        started_at: browser::now_secs(),
        code_verifier,
        dpop_jkt,
    };
    let url = authorize_url(
        config,
        &Authorize {
            redirect_uri: &redirect_uri(),
            state: &pending.state,
            nonce: &pending.nonce,
            code_challenge: code_challenge.as_deref(),
            silent,
            dpop_jkt: pending.dpop_jkt.as_deref(),
        },
    );
    Ok((pending, url))
}

/// DPoP needs the code flow: the implicit flow's tokens come from the authorization endpoint.
fn uses_dpop(config: &AuthConfig) -> bool {
    config.dpop && config.login_flow == LoginFlow::Code
}

fn redirect_uri() -> String {
    format!("{}{CALLBACK_PATH}", browser::origin())
}

/// Sends the browser to the tenant's login; it comes back to `/callback`, then to the page it
/// left.
pub async fn start_login(config: &AuthConfig) -> Result<(), String> {
    let path = browser::current_path();
    let return_to = match path == CALLBACK_PATH {
        true => "/".into(),
        false => path,
    };
    let (pending, url) = new_login(config, return_to, false, None).await?;
    browser::save_pending_login(&pending)?;
    browser::go_to(&url);
    Ok(())
}

/// Checks the tenant's answer to this tab's login (state; for the code flow, the exchange of
/// the code with the verifier; then the ID token: signature with the tenant's JWKS, iss, aud,
/// azp, exp, iat, nonce, at_hash) and returns the session and the path to go back to.
pub async fn finish_login(
    config: &AuthConfig,
    answer: &str,
) -> Result<(Session, String), CallbackError> {
    // Taken, so removed from storage: the verifier and the nonce serve one round trip.
    let pending = browser::take_pending_login();
    let session = complete(config, answer, pending.as_ref()).await;
    let jkt = pending.as_ref().and_then(|p| p.dpop_jkt.as_deref());
    if let Some(jkt) = jkt {
        match &session {
            // A memory session keeps its key in memory only, as it keeps its tokens.
            Ok(_) if config.session_storage == SessionStorage::Memory => {
                dpop::keep_in_memory_only(jkt).await
            }
            Ok(_) => {}
            Err(_) => dpop::forget(jkt).await,
        }
    }
    let session = session?;
    browser::remember_local_logout(false);
    let return_to = pending.map(|p| p.return_to).unwrap_or_default();
    Ok((session, return_to))
}

/// The session an answer (from `/callback` or a renewal's iframe) gives for `pending`.
pub(crate) async fn complete(
    config: &AuthConfig,
    answer: &str,
    pending: Option<&PendingLogin>,
) -> Result<Session, CallbackError> {
    let answer = parse_callback(answer, pending, &config.issuer, browser::now_secs())?;
    let pending = pending.ok_or(CallbackError::NoPendingLogin)?;
    let (tokens, at_hash_of) = match answer {
        // The implicit flow's ID token is bound to its access token by `at_hash`.
        Answer::Tokens(tokens) => {
            let access_token = tokens.access_token.clone();
            (tokens, Some(access_token))
        }
        Answer::Code(code) => {
            let verifier = pending.code_verifier.as_deref().unwrap_or_default();
            let key = match &pending.dpop_jkt {
                Some(jkt) => Some(dpop::key(jkt).await.map_err(CallbackError::TokenEndpoint)?),
                None => None,
            };
            (
                exchange_code(config, &code, verifier, key.as_deref()).await?,
                None,
            )
        }
    };
    let profile = verify_id_token(
        config,
        &tokens.id_token,
        &pending.nonce,
        at_hash_of.as_deref(),
    )
    .await?;
    Ok(Session {
        access_token: tokens.access_token,
        expires_at: tokens.expires_at,
        profile,
        refresh_token: tokens.refresh_token,
        // Bound only if the provider bound it (a provider without DPoP answers Bearer).
        dpop_jkt: pending.dpop_jkt.clone().filter(|_| tokens.bound),
    })
}

/// `POST /oauth/token` with the code and its verifier (RFC 7636 §4.5), from the browser: the
/// tenant allows the app's origin (Allowed Web Origins).
async fn exchange_code(
    config: &AuthConfig,
    code: &str,
    verifier: &str,
    dpop: Option<&DpopKey>,
) -> Result<TokenResponse, CallbackError> {
    let redirect_uri = redirect_uri();
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", config.client_id.as_str()),
        ("code", code),
        ("code_verifier", verifier),
        ("redirect_uri", redirect_uri.as_str()),
    ];
    form.extend(token_resource(config));
    let answer = token_endpoint(config, &form, dpop)
        .await
        .map_err(|refusal| match refusal {
            Refusal::Refused(e) => CallbackError::CodeRefused {
                error: e.error,
                description: e.error_description,
            },
            Refusal::Unreachable(why) => CallbackError::TokenEndpoint(why),
        })?;
    TokenResponse::from_endpoint(answer, browser::now_secs())
}

/// RFC 8707 §2.2: at an OpenID provider's token endpoint, the API the access token is for,
/// as at its authorization endpoint (Auth0 needs nothing there).
pub(crate) fn token_resource(config: &AuthConfig) -> Option<(&'static str, &str)> {
    (config.provider == Provider::OpenId).then_some(("resource", config.audience.as_str()))
}

/// Why the token endpoint gave no tokens.
pub(crate) enum Refusal {
    /// An OAuth error answer (RFC 6749 §5.2).
    Refused(OAuthError),
    Unreachable(String),
}

/// `POST` `form` to the token endpoint, with a proof of `dpop` when given: a server that asks
/// for its nonce (`use_dpop_nonce`) is asked once more, with it.
pub(crate) async fn token_endpoint(
    config: &AuthConfig,
    form: &[(&str, &str)],
    dpop: Option<&DpopKey>,
) -> Result<shared::oauth::TokenResponse, Refusal> {
    let url = token_url(config);
    let mut retried = false;
    loop {
        let proof = match dpop {
            Some(key) => Some(
                dpop::proof(key, "POST", url, None)
                    .await
                    .map_err(Refusal::Unreachable)?,
            ),
            None => None,
        };
        let response = browser::post_form(url, form, proof.as_deref())
            .await
            .map_err(Refusal::Unreachable)?;
        let new_nonce = dpop::remember_nonce(url, response.headers().get(NONCE_HEADER));
        if response.ok() {
            return browser::read_json(&response)
                .await
                .ok_or_else(|| Refusal::Unreachable("its answer is not a token response".into()));
        }
        let status = response.status();
        match browser::read_json::<OAuthError>(&response).await {
            Some(error) if error.error == USE_DPOP_NONCE && new_nonce && !retried => retried = true,
            Some(error) => return Err(Refusal::Refused(error)),
            None => return Err(Refusal::Unreachable(format!("HTTP {status}"))),
        }
    }
}

/// Revokes `refresh_token` at the provider's revocation endpoint (RFC 7009; Auth0's
/// `/oauth/revoke` revokes the grant), so that no copy of it (another tab's) renews the
/// session that was ended. Best effort: a provider without the endpoint, or one that does
/// not answer, still has the session end here.
pub(crate) async fn revoke_refresh_token(config: &AuthConfig, refresh_token: &str) {
    let Some(url) = config.endpoints.revocation.as_deref() else {
        return;
    };
    let form = [
        ("token", refresh_token),
        ("token_type_hint", "refresh_token"),
        ("client_id", config.client_id.as_str()),
    ];
    let _ = browser::post_form(url, &form, None).await;
}

/// The error a server answers when a proof must carry its nonce (RFC 9449 §8).
pub(crate) const USE_DPOP_NONCE: &str = "use_dpop_nonce";

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
