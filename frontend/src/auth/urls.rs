//! The provider's URLs the SPA uses, from the endpoints the API serves in its settings
//! (Auth0's fixed paths, or an OpenID provider's discovery document).

use shared::{AuthConfig, Provider};

/// One request to the authorization endpoint, bound to its login by `state` and `nonce`.
pub struct Authorize<'a> {
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub nonce: &'a str,
    /// The PKCE S256 challenge: the code flow. `None`: the implicit flow.
    pub code_challenge: Option<&'a str>,
    /// Silent renewal: `prompt=none`, the answer posted to this window by the tenant's page
    /// in a hidden iframe (`response_mode=web_message`), as auth0-spa-js renews.
    pub silent: bool,
    /// DPoP: the thumbprint of the key the code will be exchanged with (RFC 9449 §10), so
    /// that a code stolen on its way back is of no use with another key.
    pub dpop_jkt: Option<&'a str>,
}

/// The parameters that name the API the access token is for: Auth0's `audience`, and for any
/// other provider RFC 8707's `resource` too (OpenID providers ignore what they do not know).
pub fn api_parameters(config: &AuthConfig) -> Vec<(&'static str, &str)> {
    let audience = config.audience.as_str();
    match config.provider {
        Provider::Auth0 => vec![("audience", audience)],
        Provider::OpenId => vec![("audience", audience), ("resource", audience)],
    }
}

/// The authorization endpoint with the login's request: an access token for the API and an
/// ID token; in the fragment (implicit flow, as Auth0's quickstart), or through a one-time code
/// in the query exchanged with the PKCE verifier (code flow).
pub fn authorize_url(config: &AuthConfig, request: &Authorize<'_>) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    match request.code_challenge {
        Some(challenge) => query
            .append_pair("response_type", "code")
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256"),
        None => query.append_pair("response_type", "token id_token"),
    };
    query
        .append_pair("client_id", &config.client_id)
        .append_pair("redirect_uri", request.redirect_uri)
        .extend_pairs(api_parameters(config))
        .append_pair("scope", &config.login_scope())
        .append_pair("state", request.state)
        .append_pair("nonce", request.nonce);
    if request.silent {
        query
            .append_pair("prompt", "none")
            .append_pair("response_mode", "web_message");
    }
    if let Some(jkt) = request.dpop_jkt {
        query.append_pair("dpop_jkt", jkt);
    }
    with_query(&config.endpoints.authorization, &query.finish())
}

/// Where codes and refresh tokens are exchanged.
pub fn token_url(config: &AuthConfig) -> &str {
    &config.endpoints.token
}

/// The provider's origin as browsers write it (`event.origin`): the only sender of a
/// renewal's answer. Normalised (lower case, no default port), so that an issuer written
/// `https://Login.Example.com:443/` still matches.
pub fn tenant_origin(config: &AuthConfig) -> Option<String> {
    shared::oauth::origin_of(&config.endpoints.authorization)
}

/// Where Log Out sends the browser to end the provider's session too, then back to
/// `return_to`: Auth0's `/v2/logout?returnTo=`, or RP-Initiated Logout 1.0 with `state`
/// (checked when the browser comes back). `None`: the provider announced no logout, and Log
/// Out ends the app's session only.
pub fn logout_url(config: &AuthConfig, return_to: &str, state: &str) -> Option<String> {
    let endpoint = config.endpoints.logout.as_deref()?;
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("client_id", &config.client_id);
    match config.provider {
        Provider::Auth0 => query.append_pair("returnTo", return_to),
        Provider::OpenId => query
            .append_pair("post_logout_redirect_uri", return_to)
            .append_pair("state", state),
    };
    Some(with_query(endpoint, &query.finish()))
}

pub fn jwks_url(config: &AuthConfig) -> &str {
    &config.endpoints.jwks
}

pub fn userinfo_url(config: &AuthConfig) -> Option<&str> {
    config.endpoints.userinfo.as_deref()
}

/// `endpoint` with `query` added to any query it has (a discovered endpoint may have one).
fn with_query(endpoint: &str, query: &str) -> String {
    let joint = if endpoint.contains('?') { '&' } else { '?' };
    format!("{endpoint}{joint}{query}")
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use shared::{Endpoints, SessionStorage};

    pub fn config() -> AuthConfig {
        AuthConfig {
            domain: "example.us.auth0.com".into(),
            issuer: "https://example.us.auth0.com/".into(),
            provider: Provider::Auth0,
            endpoints: Endpoints {
                authorization: "https://example.us.auth0.com/authorize".into(),
                token: "https://example.us.auth0.com/oauth/token".into(),
                userinfo: Some("https://example.us.auth0.com/userinfo".into()),
                jwks: "https://example.us.auth0.com/.well-known/jwks.json".into(),
                logout: Some("https://example.us.auth0.com/v2/logout".into()),
                revocation: Some("https://example.us.auth0.com/oauth/revoke".into()),
            },
            iframe_renewal: true,
            client_id: "client123".into(),
            audience: "https://quickstarts/api".into(),
            scope: "openid profile read:messages".into(),
            session_storage: SessionStorage::Session,
            login_flow: Default::default(),
            refresh_tokens: false,
            dpop: false,
        }
    }

    /// An OpenID provider of its own routes, as its discovery document names them.
    pub fn openid_config() -> AuthConfig {
        AuthConfig {
            issuer: "https://Login.Example.com:443/tenant".into(),
            provider: Provider::OpenId,
            endpoints: Endpoints {
                authorization: "https://Login.Example.com:443/tenant/auth?realm=a".into(),
                token: "https://login.example.com/tenant/token".into(),
                userinfo: None,
                jwks: "https://keys.example.com/jwks".into(),
                logout: Some("https://login.example.com/tenant/session/end".into()),
                revocation: None,
            },
            ..config()
        }
    }

    fn query_of(url: &str) -> Vec<(String, String)> {
        let query = url.split_once('?').unwrap().1;
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }

    fn get<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn request<'a>(code_challenge: Option<&'a str>, silent: bool) -> Authorize<'a> {
        Authorize {
            redirect_uri: "http://localhost:3000/callback",
            state: "st&=",
            nonce: "n1",
            code_challenge,
            silent,
            dpop_jkt: None,
        }
    }

    #[test]
    fn the_code_flow_sends_the_s256_challenge_and_silent_renewal_asks_for_a_web_message() {
        let mut config = config();
        config.refresh_tokens = true;
        let query = query_of(&authorize_url(&config, &request(Some("ch"), true)));
        assert_eq!(get(&query, "response_type"), Some("code"));
        assert_eq!(get(&query, "code_challenge"), Some("ch"));
        assert_eq!(get(&query, "code_challenge_method"), Some("S256"));
        assert_eq!(
            get(&query, "scope"),
            Some("openid profile read:messages offline_access")
        );
        assert_eq!(get(&query, "prompt"), Some("none"));
        assert_eq!(get(&query, "response_mode"), Some("web_message"));
        let query = query_of(&authorize_url(&config, &request(None, false)));
        assert!(
            !query
                .iter()
                .any(|(k, _)| k == "prompt" || k == "response_mode" || k == "dpop_jkt")
        );
        // With DPoP, the code is asked for with the key's thumbprint (RFC 9449 §10).
        let bound = Authorize {
            dpop_jkt: Some("jkt-1"),
            ..request(Some("ch"), false)
        };
        let query = query_of(&authorize_url(&config, &bound));
        assert_eq!(get(&query, "dpop_jkt"), Some("jkt-1"));
    }

    #[test]
    fn authorize_url_asks_auth0_for_tokens_for_the_api() {
        let url = authorize_url(&config(), &request(None, false));
        assert!(url.starts_with("https://example.us.auth0.com/authorize?"));
        let query = query_of(&url);
        assert_eq!(get(&query, "response_type"), Some("token id_token"));
        assert_eq!(get(&query, "client_id"), Some("client123"));
        assert_eq!(
            get(&query, "redirect_uri"),
            Some("http://localhost:3000/callback")
        );
        assert_eq!(get(&query, "audience"), Some("https://quickstarts/api"));
        assert_eq!(get(&query, "resource"), None, "Auth0 takes audience");
        assert_eq!(get(&query, "scope"), Some("openid profile read:messages"));
        assert_eq!(get(&query, "state"), Some("st&="));
        assert_eq!(get(&query, "nonce"), Some("n1"));
        assert_eq!(
            userinfo_url(&config()),
            Some("https://example.us.auth0.com/userinfo")
        );
    }

    #[test]
    fn an_openid_provider_gets_its_own_endpoints_and_the_resource_too() {
        let config = openid_config();
        let url = authorize_url(&config, &request(Some("ch"), false));
        assert!(
            url.starts_with("https://Login.Example.com:443/tenant/auth?realm=a&"),
            "{url}"
        );
        let query = query_of(&url);
        assert_eq!(get(&query, "resource"), Some("https://quickstarts/api"));
        assert_eq!(get(&query, "audience"), Some("https://quickstarts/api"));
        assert_eq!(token_url(&config), "https://login.example.com/tenant/token");
        assert_eq!(jwks_url(&config), "https://keys.example.com/jwks");
        assert_eq!(userinfo_url(&config), None);
        assert_eq!(
            tenant_origin(&config).as_deref(),
            Some("https://login.example.com")
        );
    }

    #[test]
    fn logout_is_auth0s_v2_logout_or_rp_initiated_with_state_or_none() {
        assert_eq!(
            logout_url(&config(), "http://localhost:3000", "ignored").unwrap(),
            "https://example.us.auth0.com/v2/logout?client_id=client123&returnTo=http%3A%2F%2Flocalhost%3A3000"
        );
        let url = logout_url(&openid_config(), "http://localhost:3000/", "s1").unwrap();
        assert!(url.starts_with("https://login.example.com/tenant/session/end?"));
        let query = query_of(&url);
        assert_eq!(get(&query, "client_id"), Some("client123"));
        assert_eq!(
            get(&query, "post_logout_redirect_uri"),
            Some("http://localhost:3000/")
        );
        assert_eq!(get(&query, "state"), Some("s1"));
        assert_eq!(get(&query, "id_token_hint"), None, "no ID token is kept");
        let mut local_only = openid_config();
        local_only.endpoints.logout = None;
        assert_eq!(logout_url(&local_only, "http://localhost:3000/", "s"), None);
    }
}
