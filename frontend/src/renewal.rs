//! The session's lifecycle after the login, in one place: when it is renewed (at start with
//! nothing to show, and [`RENEW_MARGIN_SECS`](crate::auth::session::RENEW_MARGIN_SECS) before
//! each session expires: [`use_renewal`]), how (the refresh token when there is one, else
//! `/authorize?prompt=none` in a hidden iframe where the provider answers with `web_message`:
//! [`renew`]), one at a time ([`renew_and_tell`]), and before a call whose token is about to
//! expire ([`fresh_session`], [`call_with_session`]). `login_required` or a refresh token
//! refused ends the session quietly; nothing retries until the next page load.

use std::cell::Cell;

use gloo_timers::callback::Timeout;
use shared::{AuthConfig, SessionStorage};
use yew::prelude::*;

use crate::api::{self, Endpoint, Outcome};
use crate::auth::callback::{CallbackError, is_dpop};
use crate::auth::session::Session;
use crate::auth::state::AuthAction;
use crate::auth::urls::tenant_origin;
use crate::browser::{self, SessionStore};
use crate::context::AuthContext;
use crate::dpop;
use crate::login::{self, Refusal};

/// Why a session could not be renewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenewError {
    /// The tenant wants the user to log in (`login_required`, `consent_required`,
    /// `interaction_required`), or the refresh token is spent or revoked: the session ends,
    /// quietly.
    LoginRequired,
    /// Not now (no answer, the network, a renewal already under way): the session stands
    /// until it expires.
    Failed(String),
}

/// The errors of a `prompt=none` answer that mean "only a visible login can go on".
const LOGIN_REQUIRED: [&str; 3] = ["login_required", "consent_required", "interaction_required"];

/// When a renewal starts, and when its session is in place (read by the browser tests).
pub const RENEWAL_STARTED_MARK: &str = "renewal-started";
pub const RENEWED_MARK: &str = "session-renewed";

/// The longest `setTimeout` browsers honour (2^31 − 1 ms, about 24.8 days).
const MAX_TIMEOUT_MS: u64 = i32::MAX as u64;

/// `secs` as a browser timer's milliseconds. A longer timer would fire at once, so a token
/// good for weeks is renewed after 24.8 days instead.
fn timer_millis(secs: u64) -> u32 {
    secs.saturating_mul(1000).min(MAX_TIMEOUT_MS) as u32
}

/// What a renewal must check and set in one step: a dispatched action is applied later, so
/// these cannot live in the reducer's state.
#[derive(Default)]
struct Lifecycle {
    /// A renewal is under way: another waits for none, and starts none.
    renewing: Cell<bool>,
    /// The app has started (its settings loaded): the start renews at most once.
    started: Cell<bool>,
}

thread_local! {
    static LIFECYCLE: Lifecycle = Lifecycle::default();
}

/// Whether the app's start will renew: no session to show, not the callback (which logs in),
/// a way to renew without one (only the iframe can), and no Log Out here that left the
/// provider's session in place ([`browser::logged_out_locally`]).
pub fn renews_at_start(config: &AuthConfig, has_session: bool) -> bool {
    !has_session
        && config.iframe_renewal
        && browser::current_path() != browser::CALLBACK_PATH
        && !browser::logged_out_locally()
}

/// Keeps the session alive without a visible redirect: at the app's start with nothing to
/// show, and a little before each session expires.
#[hook]
pub fn use_renewal(auth: &AuthContext) {
    let config = auth.config().cloned();
    let expires_at = auth.session.as_ref().map(|s| s.expires_at);
    let auth = auth.clone();
    use_effect_with((config, expires_at), move |(config, expires_at)| {
        // The first run with the settings is the app's start.
        let starting = config.is_some() && !LIFECYCLE.with(|l| l.started.replace(true));
        let due_in = match (config, expires_at) {
            (None, _) => None,
            (Some(_), None) if starting && auth.checking => Some(0),
            (Some(_), None) => None,
            (Some(_), Some(_)) => auth
                .session
                .as_ref()
                .map(|s| s.renew_in(browser::now_secs())),
        };
        let timer = due_in.zip(config.clone()).map(|(secs, config)| {
            let auth = auth.clone();
            Timeout::new(timer_millis(secs), move || {
                wasm_bindgen_futures::spawn_local(async move {
                    let _ = renew_and_tell(&auth, &config).await;
                });
            })
        });
        move || drop(timer)
    });
}

/// One renewal at a time, its outcome dispatched: the new session; the session ended (the
/// tenant says to log in); or nothing changed (another renewal under way, the user leaving,
/// no answer for now).
async fn renew_and_tell(auth: &AuthContext, config: &AuthConfig) -> Result<Session, RenewError> {
    if auth.leaving_to.is_some() || LIFECYCLE.with(|l| l.renewing.replace(true)) {
        return Err(RenewError::Failed("a renewal is under way".into()));
    }
    browser::mark(RENEWAL_STARTED_MARK);
    let result = renew(config, auth.session.as_ref()).await;
    LIFECYCLE.with(|l| l.renewing.set(false));
    match &result {
        Ok(session) => {
            auth.dispatch(AuthAction::Renewed(session.clone()));
            browser::mark(RENEWED_MARK);
        }
        Err(RenewError::LoginRequired) => auth.dispatch(AuthAction::SessionEnded),
        Err(RenewError::Failed(_)) => auth.dispatch(AuthAction::RenewalFailed),
    }
    result
}

/// The session to call the API with: renewed first when it is about to expire, so that no
/// call is refused for an expiry a renewal could have prevented.
pub async fn fresh_session(auth: &AuthContext) -> Option<Session> {
    let now = browser::now_secs();
    let session = auth.live_session(now).cloned();
    match (&session, auth.config()) {
        (Some(s), _) if !s.needs_renewal(now) => session,
        (_, Some(config)) => match renew_and_tell(auth, config).await {
            Ok(renewed) => Some(renewed),
            Err(RenewError::LoginRequired) => None,
            // Not renewed now: the session as it is, if it is still good.
            Err(RenewError::Failed(_)) => session.filter(|s| !s.is_expired(browser::now_secs())),
        },
        (_, None) => session,
    }
}

/// Calls `endpoint`, with a session renewed first if it is about to expire. A session that
/// cannot be renewed, or that the API refuses, ends here.
pub async fn call_with_session(auth: &AuthContext, endpoint: Endpoint) -> Outcome {
    if !endpoint.needs_login() {
        return api::call(endpoint, None).await;
    }
    let Some(session) = fresh_session(auth).await else {
        auth.dispatch(AuthAction::SessionEnded);
        return Outcome::Failed(api::expired());
    };
    let result = api::call(endpoint, Some(&session)).await;
    if let Outcome::Failed(problem) = &result
        && problem.offer_login
    {
        auth.dispatch(AuthAction::SessionEnded);
    }
    result
}

/// A new session without a visible redirect: with the refresh token when the session has one
/// (code flow with `SPA_REFRESH_TOKENS`), else in a hidden iframe, which the tenant's session
/// cookie answers, where the provider answers with `web_message`.
pub async fn renew(config: &AuthConfig, session: Option<&Session>) -> Result<Session, RenewError> {
    match session {
        Some(session) if config.refresh_tokens && session.refresh_token.is_some() => {
            refresh(config, session).await
        }
        _ if config.iframe_renewal => renew_in_frame(config, session).await,
        // Nothing to renew with: the session lasts as long as its token.
        _ => Err(RenewError::Failed(
            "this provider renews with refresh tokens only".into(),
        )),
    }
}

/// The refresh-token grant (rotation: the answer brings the next refresh token; the one
/// spent here is dead, and a second use of it revokes the whole family on the tenant), under
/// the lock every tab of the app takes to change a shared session. Inside it, a session kept
/// in `localStorage` (shared by the tabs) is read again: gone, another tab logged out, and
/// this one ends too; renewed by another tab, it is taken as it is (its refresh token is the
/// live one; spending this tab's spent one would revoke the family); else it is refreshed
/// with the freshest refresh token and stored before the lock is let go.
async fn refresh(config: &AuthConfig, session: &Session) -> Result<Session, RenewError> {
    let (config, session) = (config.clone(), session.clone());
    browser::with_lock(browser::SESSION_LOCK, async move {
        let store = SessionStore(config.session_storage);
        let current = match config.session_storage {
            SessionStorage::Local => store.load().ok_or(RenewError::LoginRequired)?,
            _ => session.clone(),
        };
        let renewed_elsewhere = current.refresh_token != session.refresh_token;
        if renewed_elsewhere && !current.needs_renewal(browser::now_secs()) {
            return Ok(current);
        }
        let renewed = refresh_now(&config, &current).await?;
        store.save(&renewed);
        Ok(renewed)
    })
    .await
    .unwrap_or_else(|| {
        Err(RenewError::Failed(
            "the browser refused the session lock".into(),
        ))
    })
}

async fn refresh_now(config: &AuthConfig, session: &Session) -> Result<Session, RenewError> {
    let refresh_token = session.refresh_token.as_deref().unwrap_or_default();
    let key = match &session.dpop_jkt {
        Some(jkt) => Some(dpop::key(jkt).await.map_err(RenewError::Failed)?),
        None => None,
    };
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("client_id", config.client_id.as_str()),
        ("refresh_token", refresh_token),
    ];
    form.extend(login::token_resource(config));
    let answer = login::token_endpoint(config, &form, key.as_deref())
        .await
        .map_err(|refusal| match refusal {
            Refusal::Refused(e) if e.error == "invalid_grant" => RenewError::LoginRequired,
            Refusal::Refused(e) => RenewError::Failed(e.error_description),
            Refusal::Unreachable(why) => RenewError::Failed(why),
        })?;
    let expires_at = browser::now_secs()
        .checked_add(answer.expires_in)
        .ok_or_else(|| RenewError::Failed("an absurd expires_in".into()))?;
    let bound = is_dpop(&answer.token_type);
    Ok(Session {
        access_token: answer.access_token,
        expires_at,
        profile: session.profile.clone(),
        refresh_token: answer.refresh_token.or(session.refresh_token.clone()),
        dpop_jkt: session.dpop_jkt.clone().filter(|_| bound),
    })
}

/// `/authorize?prompt=none&response_mode=web_message` in a hidden iframe; its answer checked
/// as a callback's (state, code exchange, ID token).
async fn renew_in_frame(
    config: &AuthConfig,
    session: Option<&Session>,
) -> Result<Session, RenewError> {
    // The session's DPoP key, if it has one: a renewal keeps it.
    let jkt = session.and_then(|s| s.dpop_jkt.as_deref());
    let (pending, url) = login::new_login(config, String::new(), true, jkt)
        .await
        .map_err(RenewError::Failed)?;
    let origin = tenant_origin(config)
        .ok_or_else(|| RenewError::Failed("the authorization endpoint has no origin".into()))?;
    let renewed = match crate::frame::authorize_in_frame(&url, &origin, &pending.state).await {
        Ok(answer) => login::complete(config, &answer, Some(&pending))
            .await
            .map_err(|error| match error {
                CallbackError::Denied { error, .. } if LOGIN_REQUIRED.contains(&error.as_str()) => {
                    RenewError::LoginRequired
                }
                other => RenewError::Failed(other.to_string()),
            }),
        Err(why) => Err(RenewError::Failed(why)),
    };
    // A key made for this renewal and not used: gone, not left behind in IndexedDB.
    if let (Err(_), None, Some(made)) = (&renewed, jkt, &pending.dpop_jkt) {
        dpop::forget(made).await;
    }
    renewed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_timers_stay_within_what_browsers_honour() {
        assert_eq!(timer_millis(0), 0);
        assert_eq!(timer_millis(7_140), 7_140_000);
        assert_eq!(timer_millis(30 * 24 * 3600), i32::MAX as u32);
        assert_eq!(timer_millis(u64::MAX), i32::MAX as u32);
    }
}
