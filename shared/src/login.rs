//! What the SPA needs to log in, served by the API at `/auth_config.json`.

use serde::{Deserialize, Serialize};

/// The scopes the SPA asks for at login.
pub const LOGIN_SCOPE: &str = "openid profile read:messages";

/// What the SPA needs to log in, served by the API at `/auth_config.json` from the same
/// settings it validates tokens with, so the two can never disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthConfig {
    /// The tenant's domain (host and port), as Auth0's samples call it.
    pub domain: String,
    /// The issuer, exactly as ID tokens carry it in `iss`.
    pub issuer: String,
    /// Auth0's, or any OpenID provider's: which parameters and which logout it takes.
    pub provider: Provider,
    /// Where the SPA goes: Auth0's fixed paths, or what the provider's discovery document
    /// says (the API reads it; the browser never makes that cross-origin request).
    pub endpoints: Endpoints,
    /// Silent renewal in a hidden iframe: only when the provider answers with `web_message`.
    /// Without it, sessions renew with refresh tokens only.
    pub iframe_renewal: bool,
    pub client_id: String,
    pub audience: String,
    pub scope: String,
    /// Where the SPA keeps the session; see [`SessionStorage`].
    #[serde(default)]
    pub session_storage: SessionStorage,
    /// How the SPA logs in; see [`LoginFlow`].
    #[serde(default)]
    pub login_flow: LoginFlow,
    /// With the code flow: ask for a refresh token (`offline_access`) and renew with it, the
    /// token rotated at every use.
    #[serde(default)]
    pub refresh_tokens: bool,
    /// With the code flow: DPoP (RFC 9449): the tokens are bound to a key the browser holds
    /// and cannot export, and every call proves it holds it.
    #[serde(default)]
    pub dpop: bool,
}

/// The scope the SPA asks for: `offline_access` added when it renews with refresh tokens.
impl AuthConfig {
    pub fn login_scope(&self) -> String {
        match self.refresh_tokens {
            true if !self.scope.split(' ').any(|s| s == OFFLINE_ACCESS) => {
                format!("{} {OFFLINE_ACCESS}", self.scope)
            }
            _ => self.scope.clone(),
        }
    }
}

/// Whose conventions the SPA follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// `AUTH0_DOMAIN`: the API is named by `audience`; logout is `/v2/logout?returnTo=`.
    Auth0,
    /// `AUTH0_ISSUER`: any OpenID provider. The API is named by `audience` and by RFC 8707's
    /// `resource` (a provider ignores the one it does not know, as OpenID requires); logout is
    /// RP-Initiated Logout 1.0 at the `end_session_endpoint`.
    OpenId,
}

/// The provider's endpoints the SPA uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
    pub userinfo: Option<String>,
    pub jwks: String,
    /// Where Log Out ends the provider's session too; `None`: Log Out ends the app's session
    /// only (the provider announced no `end_session_endpoint`).
    pub logout: Option<String>,
    /// Where Log Out revokes the refresh token (RFC 7009), when the provider has one.
    #[serde(default)]
    pub revocation: Option<String>,
}

/// The scope that asks the tenant for a refresh token.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// How the SPA logs in.
///
/// - `implicit` (the default, as Auth0's quickstart teaches): the tokens come back in the
///   address bar's fragment. Simple, but RFC 9700 §2.1.2 says not to use it: tokens pass
///   through the browser's history and any script that reads the URL.
/// - `code`: Authorization Code with PKCE (RFC 7636), as auth0-spa-js does: a one-time code
///   comes back in the query and is exchanged for the tokens by a `POST` that only the tab
///   holding the code verifier can make. The choice for production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoginFlow {
    #[default]
    Implicit,
    Code,
}

impl std::str::FromStr for LoginFlow {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "implicit" => Ok(Self::Implicit),
            "code" => Ok(Self::Code),
            other => Err(format!("{other:?} is not one of implicit, code")),
        }
    }
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
