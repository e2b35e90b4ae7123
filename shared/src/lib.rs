//! Types the API and the single-page app both use, so the two can never disagree on the
//! shape of what travels between them.

use serde::{Deserialize, Serialize};

/// The scope `/api/private-scoped` asks for, as the quickstart defines it.
pub const READ_MESSAGES: &str = "read:messages";

/// The scopes the SPA asks for at login.
pub const LOGIN_SCOPE: &str = "openid profile read:messages";

/// What the SPA needs to log in, served by the API at `/auth_config.json` from the same
/// settings it validates tokens with, so the two can never disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthConfig {
    /// The tenant's domain (host and port), as Auth0's samples call it.
    pub domain: String,
    /// The issuer URL, ending in `/`: `/authorize`, `/v2/logout` and the JWKS live under it.
    pub issuer: String,
    pub client_id: String,
    pub audience: String,
    pub scope: String,
    /// Where the SPA keeps the session; see [`SessionStorage`].
    #[serde(default)]
    pub session_storage: SessionStorage,
}

/// Where the SPA keeps the tokens after login — a trade-off between surviving a reload and
/// how much a script injected into the page (XSS) or another tab can reach:
///
/// - `session` (the default): `sessionStorage`. Survives a reload of the tab, ends with the
///   tab, is not shared with other tabs or windows. An XSS in this tab can still read it.
/// - `local`: `localStorage`, as Auth0's samples do. Survives closing the browser and is shared
///   by every tab of the origin: the widest exposure, and the longest.
/// - `memory`: only in the running page. Nothing persists, so nothing is left behind for a
///   later script to find, but a reload logs the user out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionStorage {
    #[default]
    Session,
    Local,
    Memory,
}

impl std::str::FromStr for SessionStorage {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "session" => Ok(Self::Session),
            "local" => Ok(Self::Local),
            "memory" => Ok(Self::Memory),
            other => Err(format!("{other:?} is not one of session, local, memory")),
        }
    }
}

/// A successful answer of the API: `{"message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub message: String,
}

impl Message {
    pub const PUBLIC: &str =
        "Hello from a public endpoint! You don't need to be authenticated to see this.";
    pub const PRIVATE: &str =
        "Hello from a private endpoint! You need to be authenticated to see this.";
    pub const PRIVATE_SCOPED: &str = "Hello from a private endpoint! You need to be authenticated and have a scope of read:messages to see this.";

    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// The body of every error the API returns: a machine-readable code (the RFC 6750 error code
/// where there is one) and a sentence a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_serializes_as_the_quickstart_json() {
        let json = serde_json::to_string(&Message::new(Message::PUBLIC)).unwrap();
        assert_eq!(
            json,
            r#"{"message":"Hello from a public endpoint! You don't need to be authenticated to see this."}"#
        );
    }

    #[test]
    fn auth_config_uses_the_samples_camel_case() {
        let config = AuthConfig {
            domain: "example.us.auth0.com".into(),
            issuer: "https://example.us.auth0.com/".into(),
            client_id: "abc".into(),
            audience: "https://quickstarts/api".into(),
            scope: LOGIN_SCOPE.into(),
            session_storage: SessionStorage::default(),
        };
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["clientId"], "abc");
        assert_eq!(json["scope"], "openid profile read:messages");
        assert_eq!(json["sessionStorage"], "session");
    }

    #[test]
    fn error_body_round_trips() {
        let body = ErrorBody {
            error: "invalid_token".into(),
            message: "The access token expired.".into(),
        };
        let back: ErrorBody = serde_json::from_str(&serde_json::to_string(&body).unwrap()).unwrap();
        assert_eq!(back, body);
    }
}
