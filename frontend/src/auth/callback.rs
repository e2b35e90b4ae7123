//! What comes back to `/callback`, checked before anything is trusted: the login this tab
//! started must be pending and recent, and `state` must be its own, before a word of the
//! answer is believed or shown.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::id_token::IdTokenError;
use shared::oauth::constant_time_eq;

/// A login not completed within this long is refused, as auth0.js refuses its transactions.
pub const PENDING_LOGIN_LIFETIME_SECS: u64 = 10 * 60;

/// What the SPA keeps between sending the browser to `/authorize` and the callback: in
/// sessionStorage (it must survive the redirect), removed at the callback (used once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    pub state: String,
    pub nonce: String,
    /// The app path to go back to after the login.
    pub return_to: String,
    /// When the login started, in seconds since the epoch.
    pub started_at: u64,
    /// The code flow's PKCE verifier (RFC 7636): the one secret that turns the code into
    /// tokens. `None` for the implicit flow. Kept for this round trip only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_verifier: Option<String>,
    /// DPoP: the key the code is to be exchanged with (sent as `dpop_jkt`, RFC 9449 §10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
}

impl PendingLogin {
    pub fn is_expired(&self, now: u64) -> bool {
        now.saturating_sub(self.started_at) > PENDING_LOGIN_LIFETIME_SECS
    }
}

/// The tokens of a login: from the fragment (implicit flow) or the token endpoint (code flow).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenResponse {
    pub access_token: String,
    pub id_token: String,
    /// When the access token expires, in seconds since the epoch.
    pub expires_at: u64,
    /// Only from the token endpoint, when `offline_access` was asked for.
    pub refresh_token: Option<String>,
    /// `token_type` `DPoP`: the access token is bound to the proof's key (RFC 9449 §5).
    pub bound: bool,
}

impl TokenResponse {
    /// The token endpoint's answer (RFC 6749 §5.1) at `now`: for a login it must carry an ID
    /// token, and an `expires_in` that does not overflow.
    pub fn from_endpoint(
        answer: shared::oauth::TokenResponse,
        now: u64,
    ) -> Result<Self, CallbackError> {
        Ok(Self {
            expires_at: now
                .checked_add(answer.expires_in)
                .ok_or(CallbackError::Missing("valid expires_in"))?,
            id_token: answer
                .id_token
                .filter(|t| !t.is_empty())
                .ok_or(CallbackError::Missing("ID token"))?,
            bound: is_dpop(&answer.token_type),
            access_token: answer.access_token,
            refresh_token: answer.refresh_token,
        })
    }
}

/// Whether a `token_type` says the token is DPoP-bound (case-insensitive, RFC 6749 §7.1).
pub fn is_dpop(token_type: &str) -> bool {
    token_type.eq_ignore_ascii_case("dpop")
}

/// What came back for this tab's login, once `state` matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The implicit flow's tokens.
    Tokens(TokenResponse),
    /// The code flow's one-time code, to exchange with the pending login's verifier.
    Code(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackError {
    /// No login was started in this tab, or it was already completed.
    NoPendingLogin,
    /// The login was started too long ago.
    LoginExpired,
    /// `state` is not the one this tab sent: a forged or replayed callback.
    StateMismatch,
    /// The tenant answered this login with an error (`access_denied`, ...).
    Denied { error: String, description: String },
    /// The answer lacks a part it must have.
    Missing(&'static str),
    /// The ID token failed a check.
    InvalidIdToken(IdTokenError),
    /// The tenant's keys could not be fetched to check the ID token.
    KeysUnavailable(String),
    /// The token endpoint refused the code (spent, tampered, another verifier's, expired).
    CodeRefused { error: String, description: String },
    /// The token endpoint could not be reached or did not answer as one.
    TokenEndpoint(String),
    /// The answer names another issuer (`iss`, RFC 9207) than the one this app logs in with:
    /// a mix-up, refused before the code is spent.
    WrongIssuer(String),
}

impl CallbackError {
    /// Whether the answer did not belong to a login of this tab: then it says nothing about
    /// the session this tab may have, and nothing of it is shown.
    pub fn is_foreign(&self) -> bool {
        matches!(
            self,
            CallbackError::NoPendingLogin | CallbackError::StateMismatch
        )
    }
}

impl fmt::Display for CallbackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallbackError::NoPendingLogin => f.write_str(
                "This login was not started in this tab, or it has already completed. Log in again.",
            ),
            CallbackError::LoginExpired => f.write_str(
                "This login was started more than 10 minutes ago and has expired. Log in again.",
            ),
            CallbackError::StateMismatch => f.write_str(
                "The login answer does not belong to the login this tab started (state mismatch), so it was ignored. Log in again.",
            ),
            CallbackError::Denied { error, description } if description.is_empty() => {
                write!(f, "The login did not complete: {error}.")
            }
            CallbackError::Denied { error, description } => {
                write!(f, "The login did not complete: {description} ({error}).")
            }
            CallbackError::Missing(what) => {
                write!(f, "The login answer has no {what}. Log in again.")
            }
            CallbackError::InvalidIdToken(why) => {
                write!(f, "The ID token was refused: {why}. No session was stored.")
            }
            CallbackError::KeysUnavailable(why) => write!(
                f,
                "The tenant's signing keys could not be fetched to check the ID token ({why}). No session was stored."
            ),
            CallbackError::CodeRefused { error, description } => write!(
                f,
                "The tenant refused to exchange the login's code for tokens: {description} ({error}). No session was stored. Log in again."
            ),
            CallbackError::TokenEndpoint(why) => write!(
                f,
                "The tenant's token endpoint could not be reached to finish the login ({why}). No session was stored."
            ),
            CallbackError::WrongIssuer(iss) => write!(
                f,
                "The login answer says it comes from {iss:?}, not from the issuer this app logs in with (RFC 9207 mix-up protection), so it was refused. Check AUTH0_DOMAIN or AUTH0_ISSUER, then log in again."
            ),
        }
    }
}

/// Reads the tenant's answer for the login `pending`, at `now`: `code=...&state=...` (the
/// query) when it holds a code verifier, else `access_token=...&id_token=...&expires_in=...
/// &state=...` (the fragment). The pending login and `state` come first: until they match,
/// nothing of the answer is read, the tenant's error included. An `iss` (RFC 9207, which
/// providers that announce `authorization_response_iss_parameter_supported` add) must be
/// `issuer`, exactly.
pub fn parse_callback(
    answer: &str,
    pending: Option<&PendingLogin>,
    issuer: &str,
    now: u64,
) -> Result<Answer, CallbackError> {
    let pending = pending.ok_or(CallbackError::NoPendingLogin)?;
    if pending.is_expired(now) {
        return Err(CallbackError::LoginExpired);
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(answer.as_bytes())
        .into_owned()
        .collect();
    // A handful of parameters: a scan, the first of a name winning.
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    match get("state") {
        Some(state) if constant_time_eq(state.as_bytes(), pending.state.as_bytes()) => {}
        _ => return Err(CallbackError::StateMismatch),
    }
    if let Some(iss) = get("iss").filter(|iss| *iss != issuer) {
        return Err(CallbackError::WrongIssuer(iss.clone()));
    }
    if let Some(error) = get("error") {
        return Err(CallbackError::Denied {
            error: error.clone(),
            description: get("error_description").cloned().unwrap_or_default(),
        });
    }
    let part = |name: &str, what| {
        get(name)
            .filter(|t| !t.is_empty())
            .cloned()
            .ok_or(CallbackError::Missing(what))
    };
    if pending.code_verifier.is_some() {
        return part("code", "authorization code").map(Answer::Code);
    }
    let expires_at = get("expires_in")
        .and_then(|e| e.parse::<u64>().ok())
        .and_then(|e| now.checked_add(e))
        .ok_or(CallbackError::Missing("valid expires_in"))?;
    Ok(Answer::Tokens(TokenResponse {
        access_token: part("access_token", "access token")?,
        id_token: part("id_token", "ID token")?,
        expires_at,
        refresh_token: None,
        bound: false,
    }))
}

/// The message type of a `web_message` answer (auth0.js, auth0-spa-js and Auth0 agree).
pub const WEB_MESSAGE_TYPE: &str = "authorization_response";

/// A message posted to the app's window while a silent renewal waits, as its listener sees
/// it. Any page can post to any window, so most messages are not the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostedMessage<'a> {
    /// `event.origin`: who posted it, as the browser (not the sender) says.
    pub origin: &'a str,
    /// Whether `event.source` is the window of the renewal's own iframe.
    pub from_the_frame: bool,
    /// `data.type`.
    pub kind: Option<&'a str>,
    /// `data.response.state`.
    pub state: Option<&'a str>,
}

impl PostedMessage<'_> {
    /// The renewal's answer only if it comes from the tenant's origin, from that iframe's
    /// window, is an `authorization_response`, and carries this renewal's `state`.
    pub fn is_the_answer(&self, tenant_origin: &str, state: &str) -> bool {
        self.origin == tenant_origin
            && self.from_the_frame
            && self.kind == Some(WEB_MESSAGE_TYPE)
            && self
                .state
                .is_some_and(|s| constant_time_eq(s.as_bytes(), state.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_000_000;

    const ISSUER: &str = "https://id.example.com/";

    fn pending() -> PendingLogin {
        PendingLogin {
            state: "s-123".into(),
            nonce: "n".into(),
            return_to: "/ping".into(),
            started_at: NOW - 5,
            code_verifier: None,
            dpop_jkt: None,
        }
    }

    fn parse(answer: &str) -> Result<TokenResponse, CallbackError> {
        match parse_callback(answer, Some(&pending()), ISSUER, NOW)? {
            Answer::Tokens(tokens) => Ok(tokens),
            Answer::Code(code) => panic!("a code ({code}) for an implicit login"),
        }
    }

    #[test]
    fn a_good_answer_gives_the_tokens() {
        let answer = "access_token=at&scope=openid&expires_in=7200&token_type=Bearer&state=s-123&id_token=it";
        let response = parse(answer).unwrap();
        assert_eq!(response.access_token, "at");
        assert_eq!(response.id_token, "it");
        assert_eq!(response.expires_at, NOW + 7200);
    }

    #[test]
    fn a_code_login_reads_only_the_code_after_the_state() {
        let code_login = PendingLogin {
            code_verifier: Some("v".repeat(43)),
            ..pending()
        };
        let parse = |answer: &str| parse_callback(answer, Some(&code_login), ISSUER, NOW);
        assert_eq!(parse("code=c1&state=s-123"), Ok(Answer::Code("c1".into())));
        // Tokens in the fragment are not what this login asked for.
        assert_eq!(
            parse("access_token=at&id_token=it&expires_in=1&state=s-123"),
            Err(CallbackError::Missing("authorization code"))
        );
        assert_eq!(
            parse("code=c1&state=other"),
            Err(CallbackError::StateMismatch)
        );
    }

    #[test]
    fn an_answer_naming_another_issuer_is_refused_before_anything_else() {
        let code_login = PendingLogin {
            code_verifier: Some("v".repeat(43)),
            ..pending()
        };
        let parse = |answer: &str| parse_callback(answer, Some(&code_login), ISSUER, NOW);
        let iss = form_urlencoded::byte_serialize(ISSUER.as_bytes()).collect::<String>();
        assert_eq!(
            parse(&format!("code=c1&state=s-123&iss={iss}")),
            Ok(Answer::Code("c1".into()))
        );
        for other in ["https://evil.example/", "https://id.example.com", ""] {
            let other_iss = form_urlencoded::byte_serialize(other.as_bytes()).collect::<String>();
            let refused = parse(&format!("code=c1&state=s-123&iss={other_iss}")).unwrap_err();
            assert_eq!(refused, CallbackError::WrongIssuer(other.into()));
            assert!(refused.to_string().contains("RFC 9207"));
            // Not even the error of a provider that is not this app's is shown.
            assert_eq!(
                parse(&format!("error=access_denied&state=s-123&iss={other_iss}")),
                Err(CallbackError::WrongIssuer(other.into()))
            );
        }
    }

    #[test]
    fn the_token_endpoints_answer_must_carry_an_id_token_and_a_sane_expiry() {
        let answer = |id_token: Option<&str>, expires_in| shared::oauth::TokenResponse {
            access_token: "at".into(),
            id_token: id_token.map(Into::into),
            refresh_token: Some("rt".into()),
            scope: None,
            expires_in,
            token_type: "Bearer".into(),
        };
        let tokens = TokenResponse::from_endpoint(answer(Some("it"), 60), NOW).unwrap();
        assert_eq!(
            (tokens.expires_at, tokens.refresh_token, tokens.bound),
            (NOW + 60, Some("rt".into()), false)
        );
        let dpop = shared::oauth::TokenResponse {
            token_type: "DPoP".into(),
            ..answer(Some("it"), 60)
        };
        assert!(TokenResponse::from_endpoint(dpop, NOW).unwrap().bound);
        assert!(is_dpop("dpop") && !is_dpop("Bearer"));
        assert_eq!(
            TokenResponse::from_endpoint(answer(None, 60), NOW),
            Err(CallbackError::Missing("ID token"))
        );
        assert_eq!(
            TokenResponse::from_endpoint(answer(Some("it"), u64::MAX), NOW),
            Err(CallbackError::Missing("valid expires_in"))
        );
    }

    #[test]
    fn a_wrong_or_missing_state_or_no_pending_login_is_refused_unread() {
        for answer in [
            "access_token=at&id_token=it&expires_in=1&state=other",
            "access_token=at&id_token=it&expires_in=1",
            "access_token=at&id_token=it&expires_in=1&state=s-12",
            "error=access_denied&error_description=Call%20us&state=bogus",
        ] {
            assert_eq!(parse(answer), Err(CallbackError::StateMismatch), "{answer}");
        }
        let error =
            parse_callback("error=x&error_description=Call%20us", None, ISSUER, NOW).unwrap_err();
        assert_eq!(error, CallbackError::NoPendingLogin);
        assert!(error.is_foreign() && !error.to_string().contains("Call us"));
    }

    #[test]
    fn only_the_tenants_answer_from_the_renewals_frame_for_its_state_is_taken() {
        let tenant = "https://t.example.com";
        let answer = PostedMessage {
            origin: tenant,
            from_the_frame: true,
            kind: Some(WEB_MESSAGE_TYPE),
            state: Some("s-123"),
        };
        assert!(answer.is_the_answer(tenant, "s-123"));
        for forged in [
            PostedMessage {
                origin: "https://evil.example",
                ..answer
            },
            PostedMessage {
                origin: "https://t.example.com:444",
                ..answer
            },
            PostedMessage {
                from_the_frame: false,
                ..answer
            },
            PostedMessage {
                kind: Some("authorization_request"),
                ..answer
            },
            PostedMessage {
                kind: None,
                ..answer
            },
            PostedMessage {
                state: Some("s-124"),
                ..answer
            },
            PostedMessage {
                state: None,
                ..answer
            },
        ] {
            assert!(!forged.is_the_answer(tenant, "s-123"), "{forged:?}");
        }
    }

    #[test]
    fn a_pending_login_expires_after_ten_minutes() {
        // Ten minutes to the second, written out: the constant is what is being checked.
        let started = |ago: u64| PendingLogin {
            started_at: NOW - ago,
            ..pending()
        };
        assert!(!started(600).is_expired(NOW));
        assert!(started(601).is_expired(NOW));
        assert!(!started(0).is_expired(NOW));
        let old = started(601);
        let answer = "access_token=at&id_token=it&expires_in=1&state=s-123";
        assert_eq!(
            parse_callback(answer, Some(&old), ISSUER, NOW),
            Err(CallbackError::LoginExpired)
        );
    }

    #[test]
    fn the_tenants_error_is_shown_when_it_answers_this_login() {
        let error = parse("error=access_denied&error_description=User%20did%20not%20authorize%20the%20request&state=s-123").unwrap_err();
        assert_eq!(
            error.to_string(),
            "The login did not complete: User did not authorize the request (access_denied)."
        );
        assert!(!error.is_foreign());
    }

    #[test]
    fn missing_or_absurd_parts_are_named() {
        for (answer, what) in [
            ("state=s-123&id_token=it&expires_in=1", "access token"),
            ("state=s-123&access_token=at&expires_in=1", "ID token"),
            (
                "state=s-123&access_token=at&id_token=it&expires_in=soon",
                "valid expires_in",
            ),
            (
                "state=s-123&access_token=at&id_token=it&expires_in=18446744073709551615",
                "valid expires_in",
            ),
            (
                "state=s-123&access_token=at&id_token=it&expires_in=-1",
                "valid expires_in",
            ),
        ] {
            assert_eq!(parse(answer), Err(CallbackError::Missing(what)), "{answer}");
        }
    }
}
