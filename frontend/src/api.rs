//! Calls to the API and what a person is told when one fails.

use gloo_net::http::{Request, Response};
use shared::dpop::NONCE_HEADER;
use shared::{ErrorBody, Message};

use crate::auth::session::Session;
use crate::browser::{self, Credentials};
use crate::dpop;

/// The three endpoints of the Ping page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Public,
    Private,
    PrivateScoped,
}

impl Endpoint {
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Public => "/api/public",
            Endpoint::Private => "/api/private",
            Endpoint::PrivateScoped => "/api/private-scoped",
        }
    }

    pub fn needs_login(self) -> bool {
        self != Endpoint::Public
    }
}

/// A failed call, worded for the person looking at the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The status line, e.g. `403 Forbidden — insufficient_scope`.
    pub title: String,
    /// The API's own explanation.
    pub detail: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// Whether logging in (again) is the way out.
    pub offer_login: bool,
}

/// The answer to one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Message(String),
    Failed(Problem),
}

/// Maps an API error to a [`Problem`]: the status, the RFC 6750 reason, and a hint.
pub fn problem_for(status: u16, body: Option<&ErrorBody>) -> Problem {
    let reason = body.map(|b| b.error.as_str()).unwrap_or("");
    let detail = body
        .map(|b| b.message.clone())
        .unwrap_or_else(|| "The API answered without an explanation.".to_owned());
    let status_text = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let title = if reason.is_empty() {
        format!("{status} {status_text}")
    } else {
        format!("{status} {status_text} — {reason}")
    };
    let (hint, offer_login) = match (status, reason) {
        (401, "invalid_token") if detail.contains("expired") => (
            Some("Your session has expired. Log in again to get a new access token.".to_owned()),
            true,
        ),
        (401, "invalid_token") => (
            Some("The API refused the access token. Log in again; if it keeps happening, check that the SPA and the API use the same tenant and audience.".to_owned()),
            true,
        ),
        (401, "invalid_dpop_proof" | "use_dpop_nonce") => (
            Some("The API refused this session's proof of possession (DPoP). Log in again; if it keeps happening, check this computer's clock and the API's PUBLIC_URL.".to_owned()),
            true,
        ),
        (401, _) => (Some("Log in to call this endpoint.".to_owned()), true),
        (403, "insufficient_scope") => (
            Some("Your access token lacks the read:messages scope. Log in as a user who has it (on the development tenant: reader@example.com), or grant read:messages to this user in Auth0 (User Management → Users → Permissions) and log in again.".to_owned()),
            false,
        ),
        (503, _) => (
            Some("The API cannot reach the tenant's keys right now. Try again in a few seconds.".to_owned()),
            false,
        ),
        _ => (None, false),
    };
    Problem {
        title,
        detail,
        hint,
        offer_login,
    }
}

/// A call that never got an HTTP answer: the API is down, or CORS blocked it.
pub fn network_problem(error: &str) -> Problem {
    Problem {
        title: "The API could not be reached".to_owned(),
        detail: format!("The request failed before any answer came back ({error})."),
        hint: Some("Check that the API is running and serves this page's origin, or that its ALLOWED_ORIGINS lets this origin call it (CORS).".to_owned()),
        offer_login: false,
    }
}

/// A call not sent: the session expired and could not be renewed.
pub fn expired() -> Problem {
    Problem {
        title: "Your session has expired".into(),
        detail: "The access token is past its expiry, so it was not sent.".into(),
        hint: Some("Log in again to get a new access token.".into()),
        offer_login: true,
    }
}

/// Calls `endpoint`, with the session's access token when there is one: `Bearer`, or
/// `DPoP` with a proof of the key it is bound to. A 401 that asks for the API's DPoP nonce is
/// tried once more, with it.
pub async fn call(endpoint: Endpoint, session: Option<&Session>) -> Outcome {
    let url = format!("{}{}", browser::origin(), endpoint.path());
    let key = match session.and_then(|s| s.dpop_jkt.as_deref()) {
        Some(jkt) => match dpop::key(jkt).await {
            Ok(key) => Some(key),
            Err(why) => return Outcome::Failed(proof_problem(&why)),
        },
        None => None,
    };
    let mut retried = false;
    loop {
        let mut request = Request::get(endpoint.path());
        if let Some(session) = session {
            let token = session.access_token.as_str();
            let proof = match &key {
                Some(key) => match dpop::proof(key, "GET", &url, Some(token)).await {
                    Ok(proof) => Some(proof),
                    Err(why) => return Outcome::Failed(proof_problem(&why)),
                },
                None => None,
            };
            request = Credentials { token, proof }.apply(request);
        }
        let response = match browser::send(request).await {
            Ok(response) => response,
            Err(error) => return Outcome::Failed(network_problem(&error)),
        };
        let new_nonce = dpop::remember_nonce(&url, response.headers().get(NONCE_HEADER));
        if key.is_some() && new_nonce && !retried && asks_for_nonce(&response) {
            retried = true;
            continue;
        }
        return outcome_of(&response).await;
    }
}

/// RFC 9449 §9: a 401 whose challenge is `use_dpop_nonce`.
fn asks_for_nonce(response: &Response) -> bool {
    response.status() == 401
        && response
            .headers()
            .get("www-authenticate")
            .is_some_and(|c| c.contains("use_dpop_nonce"))
}

async fn outcome_of(response: &Response) -> Outcome {
    if response.ok() {
        return match browser::read_json::<Message>(response).await {
            Some(message) => Outcome::Message(message.message),
            None => Outcome::Failed(Problem {
                title: format!("{} — unexpected answer", response.status()),
                detail: "The API answered something that is not a message.".to_owned(),
                hint: None,
                offer_login: false,
            }),
        };
    }
    let body = browser::read_json::<ErrorBody>(response).await;
    Outcome::Failed(problem_for(response.status(), body.as_ref()))
}

/// The session's DPoP key is gone or cannot sign: only a new login makes a new one.
fn proof_problem(why: &str) -> Problem {
    Problem {
        title: "The call was not sent".to_owned(),
        detail: format!("This session's proof of possession (DPoP) could not be made: {why}."),
        hint: Some("Log in again to get a new key and new tokens.".to_owned()),
        offer_login: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(error: &str, message: &str) -> ErrorBody {
        ErrorBody {
            error: error.into(),
            message: message.into(),
            request_id: None,
        }
    }

    #[test]
    fn missing_scope_names_the_scope_and_how_to_get_it() {
        let problem = problem_for(
            403,
            Some(&body(
                "insufficient_scope",
                "The access token does not grant the read:messages scope.",
            )),
        );
        assert_eq!(problem.title, "403 Forbidden — insufficient_scope");
        assert!(problem.detail.contains("read:messages"));
        assert!(problem.hint.unwrap().contains("grant read:messages"));
        assert!(!problem.offer_login);
    }

    #[test]
    fn expired_token_says_the_session_expired_and_offers_login() {
        let problem = problem_for(
            401,
            Some(&body(
                "invalid_token",
                "The access token has expired. Log in again to get a new one.",
            )),
        );
        assert!(problem.hint.unwrap().contains("session has expired"));
        assert!(problem.offer_login);
    }

    #[test]
    fn missing_token_offers_login() {
        let problem = problem_for(401, Some(&body("missing_token", "needs a token")));
        assert_eq!(problem.title, "401 Unauthorized — missing_token");
        assert!(problem.offer_login);
    }

    #[test]
    fn bodiless_errors_and_network_failures_still_explain() {
        let problem = problem_for(502, None);
        assert_eq!(problem.title, "502 Error");
        assert!(!problem.detail.is_empty());
        assert!(
            network_problem("TypeError: Failed to fetch")
                .hint
                .unwrap()
                .contains("CORS")
        );
    }

    #[test]
    fn endpoints_and_their_needs() {
        assert_eq!(Endpoint::PrivateScoped.path(), "/api/private-scoped");
        assert!(!Endpoint::Public.needs_login());
        assert!(Endpoint::Private.needs_login());
    }
}
