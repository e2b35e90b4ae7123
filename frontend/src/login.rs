//! The login round trip and the session's renewal, the one place that joins the pure checks of
//! [`crate::auth`] to the browser: off to the tenant with a fresh `state` and `nonce` (and,
//! for the code flow, a PKCE verifier), back at `/callback` with tokens or a code that are
//! checked (state, then the ID token) before anything is kept; later, the same without a
//! visible redirect.

use shared::oauth::OAuthError;
use shared::{AuthConfig, LoginFlow};

use crate::auth::callback::{Answer, CallbackError, PendingLogin, TokenResponse, parse_callback};
use crate::auth::id_token::{Expectations, IdTokenError, check_claims, decode};
use crate::auth::session::{Profile, Session};
use crate::auth::urls::{Authorize, authorize_url, tenant_origin, token_url};
use crate::browser::{self, CALLBACK_PATH};

/// A new login for `config`'s flow, bound to a fresh `state` and `nonce`, with a PKCE verifier
/// (32 CSPRNG bytes, base64url) for the code flow. The URL to send the browser to.
async fn new_login(
    config: &AuthConfig,
    return_to: String,
    silent: bool,
) -> Result<(PendingLogin, String), String> {
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
    };
    let url = authorize_url(
        config,
        &Authorize {
            redirect_uri: &redirect_uri(),
            state: &pending.state,
            nonce: &pending.nonce,
            code_challenge: code_challenge.as_deref(),
            silent,
        },
    );
    Ok((pending, url))
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
    let (pending, url) = new_login(config, return_to, false).await?;
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
    let session = complete(config, answer, pending.as_ref()).await?;
    let return_to = pending.map(|p| p.return_to).unwrap_or_default();
    Ok((session, return_to))
}

/// The session an answer (from `/callback` or a renewal's iframe) gives for `pending`.
async fn complete(
    config: &AuthConfig,
    answer: &str,
    pending: Option<&PendingLogin>,
) -> Result<Session, CallbackError> {
    let answer = parse_callback(answer, pending, browser::now_secs())?;
    let pending = pending.ok_or(CallbackError::NoPendingLogin)?;
    let (tokens, at_hash_of) = match answer {
        // The implicit flow's ID token is bound to its access token by `at_hash`.
        Answer::Tokens(tokens) => {
            let access_token = tokens.access_token.clone();
            (tokens, Some(access_token))
        }
        Answer::Code(code) => {
            let verifier = pending.code_verifier.as_deref().unwrap_or_default();
            (exchange_code(config, &code, verifier).await?, None)
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
    })
}

/// `POST /oauth/token` with the code and its verifier (RFC 7636 §4.5), from the browser: the
/// tenant allows the app's origin (Allowed Web Origins).
async fn exchange_code(
    config: &AuthConfig,
    code: &str,
    verifier: &str,
) -> Result<TokenResponse, CallbackError> {
    let redirect_uri = redirect_uri();
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", config.client_id.as_str()),
        ("code", code),
        ("code_verifier", verifier),
        ("redirect_uri", redirect_uri.as_str()),
    ];
    let answer = token_endpoint(config, &form)
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

/// Why the token endpoint gave no tokens.
enum Refusal {
    /// An OAuth error answer (RFC 6749 §5.2).
    Refused(OAuthError),
    Unreachable(String),
}

async fn token_endpoint(
    config: &AuthConfig,
    form: &[(&str, &str)],
) -> Result<shared::oauth::TokenResponse, Refusal> {
    let response = browser::post_form(&token_url(config), form)
        .await
        .map_err(Refusal::Unreachable)?;
    if response.ok() {
        return browser::read_json(&response)
            .await
            .ok_or_else(|| Refusal::Unreachable("its answer is not a token response".into()));
    }
    let status = response.status();
    match browser::read_json::<OAuthError>(&response).await {
        Some(error) => Err(Refusal::Refused(error)),
        None => Err(Refusal::Unreachable(format!("HTTP {status}"))),
    }
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

/// Why a session could not be renewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenewError {
    /// The tenant wants the user to log in (`login_required`, `consent_required`,
    /// `interaction_required`), or the refresh token is spent or revoked: the session ends,
    /// quietly.
    LoginRequired,
    /// Not now (no answer, the network): the session stands until it expires.
    Failed(String),
}

/// The errors of a `prompt=none` answer that mean "only a visible login can go on".
const LOGIN_REQUIRED: [&str; 3] = ["login_required", "consent_required", "interaction_required"];

/// A new session without a visible redirect: with the refresh token when the session has one
/// (code flow with `SPA_REFRESH_TOKENS`), else through `/authorize?prompt=none` in a hidden
/// iframe, which the tenant's session cookie answers.
pub async fn renew(config: &AuthConfig, session: Option<&Session>) -> Result<Session, RenewError> {
    match session {
        Some(session) if config.refresh_tokens && session.refresh_token.is_some() => {
            refresh(config, session).await
        }
        _ => renew_in_frame(config).await,
    }
}

/// The refresh-token grant (rotation: the answer brings the next refresh token; the one
/// spent here is dead, and a second use of it revokes the whole family on the tenant).
async fn refresh(config: &AuthConfig, session: &Session) -> Result<Session, RenewError> {
    let refresh_token = session.refresh_token.as_deref().unwrap_or_default();
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", config.client_id.as_str()),
        ("refresh_token", refresh_token),
    ];
    let answer = token_endpoint(config, &form)
        .await
        .map_err(|refusal| match refusal {
            Refusal::Refused(e) if e.error == "invalid_grant" => RenewError::LoginRequired,
            Refusal::Refused(e) => RenewError::Failed(e.error_description),
            Refusal::Unreachable(why) => RenewError::Failed(why),
        })?;
    let expires_at = browser::now_secs()
        .checked_add(answer.expires_in)
        .ok_or_else(|| RenewError::Failed("an absurd expires_in".into()))?;
    Ok(Session {
        access_token: answer.access_token,
        expires_at,
        profile: session.profile.clone(),
        refresh_token: answer.refresh_token.or(session.refresh_token.clone()),
    })
}

/// `/authorize?prompt=none&response_mode=web_message` in a hidden iframe; its answer checked
/// as a callback's (state, code exchange, ID token).
async fn renew_in_frame(config: &AuthConfig) -> Result<Session, RenewError> {
    let (pending, url) = new_login(config, String::new(), true)
        .await
        .map_err(RenewError::Failed)?;
    let answer = crate::frame::authorize_in_frame(&url, tenant_origin(config), &pending.state)
        .await
        .map_err(RenewError::Failed)?;
    complete(config, &answer, Some(&pending))
        .await
        .map_err(|error| match error {
            CallbackError::Denied { error, .. } if LOGIN_REQUIRED.contains(&error.as_str()) => {
                RenewError::LoginRequired
            }
            other => RenewError::Failed(other.to_string()),
        })
}
