//! What comes back to `/callback` in the fragment, checked before anything is trusted.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// What the SPA keeps between sending the browser to `/authorize` and the callback: in
/// sessionStorage (it must survive the redirect), removed at the callback (used once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    pub state: String,
    pub nonce: String,
    /// The app path to go back to after the login.
    pub return_to: String,
}

/// The tenant's answer, once `state` has matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenResponse {
    pub access_token: String,
    pub id_token: String,
    pub expires_in: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackError {
    /// The tenant answered with an error (`access_denied`, `login_required`, ...).
    Denied { error: String, description: String },
    /// No login was started in this tab, or it was already completed.
    NoPendingLogin,
    /// `state` is not the one this tab sent: a forged or replayed callback.
    StateMismatch,
    /// The answer lacks a part it must have.
    Missing(&'static str),
    /// The ID token failed a check.
    InvalidIdToken(String),
    /// The tenant's keys could not be fetched to check the ID token.
    KeysUnavailable(String),
}

impl fmt::Display for CallbackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallbackError::Denied { error, description } if description.is_empty() => {
                write!(f, "The login did not complete: {error}.")
            }
            CallbackError::Denied { error, description } => {
                write!(f, "The login did not complete: {description} ({error}).")
            }
            CallbackError::NoPendingLogin => write!(
                f,
                "This login was not started in this tab, or it has already completed. Log in again."
            ),
            CallbackError::StateMismatch => write!(
                f,
                "The login answer does not belong to the login this tab started (state mismatch), so it was ignored. Log in again."
            ),
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
        }
    }
}

/// Parses `#access_token=...&id_token=...&state=...` and checks `state` against the pending
/// login. Tenant errors are reported before the state check: they carry no tokens, and the
/// user needs to see them.
pub fn parse_callback(
    fragment: &str,
    pending: Option<&PendingLogin>,
) -> Result<TokenResponse, CallbackError> {
    let params: HashMap<String, String> =
        form_urlencoded::parse(fragment.trim_start_matches('#').as_bytes())
            .into_owned()
            .collect();
    if let Some(error) = params.get("error") {
        return Err(CallbackError::Denied {
            error: error.clone(),
            description: params.get("error_description").cloned().unwrap_or_default(),
        });
    }
    let pending = pending.ok_or(CallbackError::NoPendingLogin)?;
    match params.get("state") {
        Some(state) if constant_time_eq(state.as_bytes(), pending.state.as_bytes()) => {}
        _ => return Err(CallbackError::StateMismatch),
    }
    let access_token = params
        .get("access_token")
        .filter(|t| !t.is_empty())
        .ok_or(CallbackError::Missing("access token"))?;
    let id_token = params
        .get("id_token")
        .filter(|t| !t.is_empty())
        .ok_or(CallbackError::Missing("ID token"))?;
    let expires_in = params
        .get("expires_in")
        .and_then(|e| e.parse().ok())
        .ok_or(CallbackError::Missing("valid expires_in"))?;
    Ok(TokenResponse {
        access_token: access_token.clone(),
        id_token: id_token.clone(),
        expires_in,
    })
}

/// Compares secrets without stopping at the first difference.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending() -> PendingLogin {
        PendingLogin {
            state: "s-123".into(),
            nonce: "n".into(),
            return_to: "/ping".into(),
        }
    }

    #[test]
    fn good_answer_gives_the_tokens() {
        let fragment = "#access_token=at&scope=openid&expires_in=7200&token_type=Bearer&state=s-123&id_token=it";
        let response = parse_callback(fragment, Some(&pending())).unwrap();
        assert_eq!(response.access_token, "at");
        assert_eq!(response.id_token, "it");
        assert_eq!(response.expires_in, 7200);
    }

    #[test]
    fn wrong_or_missing_state_is_refused() {
        for fragment in [
            "access_token=at&id_token=it&expires_in=1&state=other",
            "access_token=at&id_token=it&expires_in=1",
            "access_token=at&id_token=it&expires_in=1&state=s-12",
        ] {
            assert_eq!(
                parse_callback(fragment, Some(&pending())),
                Err(CallbackError::StateMismatch),
                "{fragment}"
            );
        }
        assert_eq!(
            parse_callback("access_token=at&state=s-123", None),
            Err(CallbackError::NoPendingLogin)
        );
    }

    #[test]
    fn tenant_errors_are_shown_with_their_description() {
        let error = parse_callback(
            "error=access_denied&error_description=User%20did%20not%20authorize%20the%20request&state=s-123",
            Some(&pending()),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "The login did not complete: User did not authorize the request (access_denied)."
        );
    }

    #[test]
    fn missing_parts_are_named() {
        let missing = |fragment: &str| parse_callback(fragment, Some(&pending())).unwrap_err();
        assert_eq!(
            missing("state=s-123&id_token=it&expires_in=1"),
            CallbackError::Missing("access token")
        );
        assert_eq!(
            missing("state=s-123&access_token=at&expires_in=1"),
            CallbackError::Missing("ID token")
        );
        assert_eq!(
            missing("state=s-123&access_token=at&id_token=it&expires_in=soon"),
            CallbackError::Missing("valid expires_in")
        );
    }
}
