//! The tenant URLs the SPA sends the browser to.

use shared::AuthConfig;

/// `{issuer}authorize?...` for the implicit flow of Auth0's quickstart: an access token for the
/// API (`audience`) and an ID token, in the fragment, bound to this login by `state` and
/// `nonce`.
pub fn authorize_url(config: &AuthConfig, redirect_uri: &str, state: &str, nonce: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "token id_token")
        .append_pair("client_id", &config.client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("audience", &config.audience)
        .append_pair("scope", &config.scope)
        .append_pair("state", state)
        .append_pair("nonce", nonce)
        .finish();
    format!("{}authorize?{query}", issuer_base(config))
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
        }
    }

    fn query_of(url: &str) -> Vec<(String, String)> {
        let query = url.split_once('?').unwrap().1;
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }

    #[test]
    fn authorize_url_asks_for_tokens_for_the_api() {
        let url = authorize_url(&config(), "http://localhost:3000/callback", "st&=", "n1");
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
