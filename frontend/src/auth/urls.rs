//! The tenant URLs the SPA sends the browser to.

use shared::AuthConfig;

/// One request to `/authorize`, bound to its login by `state` and `nonce`.
pub struct Authorize<'a> {
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub nonce: &'a str,
    /// The PKCE S256 challenge: the code flow. `None`: the implicit flow.
    pub code_challenge: Option<&'a str>,
    /// Silent renewal: `prompt=none`, the answer posted to this window by the tenant's page
    /// in a hidden iframe (`response_mode=web_message`), as auth0-spa-js renews.
    pub silent: bool,
}

/// `{issuer}authorize?...`: an access token for the API (`audience`) and an ID token; in the
/// fragment (implicit flow, as Auth0's quickstart), or through a one-time code in the query
/// exchanged with the PKCE verifier (code flow).
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
        .append_pair("audience", &config.audience)
        .append_pair("scope", &config.login_scope())
        .append_pair("state", request.state)
        .append_pair("nonce", request.nonce);
    if request.silent {
        query
            .append_pair("prompt", "none")
            .append_pair("response_mode", "web_message");
    }
    format!("{}authorize?{}", issuer_base(config), query.finish())
}

/// `{issuer}oauth/token`: where codes and refresh tokens are exchanged.
pub fn token_url(config: &AuthConfig) -> String {
    format!("{}oauth/token", issuer_base(config))
}

/// The tenant's origin (`scheme://host[:port]`), the only sender of a renewal's answer.
pub fn tenant_origin(config: &AuthConfig) -> &str {
    let issuer = config.issuer.as_str();
    let after_scheme = issuer.find("://").map_or(0, |i| i + 3);
    let end = issuer[after_scheme..]
        .find('/')
        .map_or(issuer.len(), |i| after_scheme + i);
    &issuer[..end]
}

/// `{issuer}v2/logout?client_id=...&returnTo=...`: ends the tenant's session too, so the next
/// Log In asks for credentials again.
pub fn logout_url(config: &AuthConfig, return_to: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &config.client_id)
        .append_pair("returnTo", return_to)
        .finish();
    format!("{}v2/logout?{query}", issuer_base(config))
}

/// `{issuer}.well-known/jwks.json`.
pub fn jwks_url(config: &AuthConfig) -> String {
    format!("{}.well-known/jwks.json", issuer_base(config))
}

/// `{issuer}userinfo`.
pub fn userinfo_url(config: &AuthConfig) -> String {
    format!("{}userinfo", issuer_base(config))
}

/// The issuer with exactly one trailing slash, the base of every tenant endpoint.
fn issuer_base(config: &AuthConfig) -> String {
    format!("{}/", config.issuer.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::SessionStorage;

    pub fn config() -> AuthConfig {
        AuthConfig {
            domain: "example.us.auth0.com".into(),
            issuer: "https://example.us.auth0.com/".into(),
            client_id: "client123".into(),
            audience: "https://quickstarts/api".into(),
            scope: "openid profile read:messages".into(),
            session_storage: SessionStorage::Session,
            login_flow: Default::default(),
            refresh_tokens: false,
        }
    }

    fn query_of(url: &str) -> Vec<(String, String)> {
        let query = url.split_once('?').unwrap().1;
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }

    fn request<'a>(code_challenge: Option<&'a str>, silent: bool) -> Authorize<'a> {
        Authorize {
            redirect_uri: "http://localhost:3000/callback",
            state: "st&=",
            nonce: "n1",
            code_challenge,
            silent,
        }
    }

    #[test]
    fn the_code_flow_sends_the_s256_challenge_and_silent_renewal_asks_for_a_web_message() {
        let mut config = config();
        config.refresh_tokens = true;
        let query = query_of(&authorize_url(&config, &request(Some("ch"), true)));
        let get = |k: &str| {
            query
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("response_type"), Some("code"));
        assert_eq!(get("code_challenge"), Some("ch"));
        assert_eq!(get("code_challenge_method"), Some("S256"));
        assert_eq!(
            get("scope"),
            Some("openid profile read:messages offline_access")
        );
        assert_eq!(get("prompt"), Some("none"));
        assert_eq!(get("response_mode"), Some("web_message"));
        let query = query_of(&authorize_url(&config, &request(None, false)));
        assert!(
            !query
                .iter()
                .any(|(k, _)| k == "prompt" || k == "response_mode")
        );
    }

    #[test]
    fn the_tenant_origin_is_the_issuers_scheme_host_and_port() {
        let mut config = config();
        assert_eq!(tenant_origin(&config), "https://example.us.auth0.com");
        config.issuer = "http://localhost:4010".into();
        assert_eq!(tenant_origin(&config), "http://localhost:4010");
        config.issuer = "https://id.example.com/tenants/a/".into();
        assert_eq!(tenant_origin(&config), "https://id.example.com");
        assert_eq!(
            token_url(&config),
            "https://id.example.com/tenants/a/oauth/token"
        );
    }

    #[test]
    fn authorize_url_asks_for_tokens_for_the_api() {
        let url = authorize_url(&config(), &request(None, false));
        assert!(url.starts_with("https://example.us.auth0.com/authorize?"));
        let query = query_of(&url);
        let get = |k: &str| {
            query
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("response_type"), Some("token id_token"));
        assert_eq!(get("client_id"), Some("client123"));
        assert_eq!(get("redirect_uri"), Some("http://localhost:3000/callback"));
        assert_eq!(get("audience"), Some("https://quickstarts/api"));
        assert_eq!(get("scope"), Some("openid profile read:messages"));
        assert_eq!(get("state"), Some("st&="));
        assert_eq!(get("nonce"), Some("n1"));
    }

    #[test]
    fn logout_url_returns_to_the_app() {
        let url = logout_url(&config(), "http://localhost:3000");
        assert_eq!(
            url,
            "https://example.us.auth0.com/v2/logout?client_id=client123&returnTo=http%3A%2F%2Flocalhost%3A3000"
        );
    }

    #[test]
    fn tenant_urls_work_with_or_without_a_trailing_slash() {
        let mut config = config();
        config.issuer = "http://127.0.0.1:4010".into();
        assert_eq!(
            jwks_url(&config),
            "http://127.0.0.1:4010/.well-known/jwks.json"
        );
        assert_eq!(userinfo_url(&config), "http://127.0.0.1:4010/userinfo");
    }
}
