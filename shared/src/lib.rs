//! Types and pure functions the tenant, the API and the single-page app share, so that they
//! can never disagree on the shape of what travels between them: the JWT and JWK vocabulary
//! ([`jwt`]), OAuth's bearer credentials, challenges and token answers ([`oauth`]), DPoP's
//! proofs ([`dpop`]), the SPA's login settings ([`login`]) and the API's answers
//! ([`messages`]).
//!
//! No I/O here, and nothing that does not build for wasm32. Crypto only behind the `verify`
//! feature (the tenant and the API check DPoP proofs with it; the SPA never turns it on).

pub mod dpop;
pub mod jwt;
pub mod login;
pub mod messages;
pub mod oauth;

pub use login::{
    AuthConfig, Endpoints, LOGIN_SCOPE, LoginFlow, OFFLINE_ACCESS, Provider, SessionStorage,
};
pub use messages::{ErrorBody, Message, READ_MESSAGES};

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

    fn auth0_config() -> AuthConfig {
        AuthConfig {
            domain: "example.us.auth0.com".into(),
            issuer: "https://example.us.auth0.com/".into(),
            provider: Provider::Auth0,
            endpoints: Endpoints {
                authorization: "https://example.us.auth0.com/authorize".into(),
                token: "https://example.us.auth0.com/oauth/token".into(),
                userinfo: None,
                jwks: "https://example.us.auth0.com/.well-known/jwks.json".into(),
                logout: None,
                revocation: None,
            },
            iframe_renewal: true,
            client_id: "abc".into(),
            audience: "https://quickstarts/api".into(),
            scope: LOGIN_SCOPE.into(),
            session_storage: SessionStorage::default(),
            login_flow: Default::default(),
            refresh_tokens: false,
            dpop: false,
        }
    }

    #[test]
    fn auth_config_uses_the_samples_camel_case() {
        let config = auth0_config();
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["clientId"], "abc");
        assert_eq!(json["scope"], "openid profile read:messages");
        assert_eq!(json["sessionStorage"], "session");
    }

    #[test]
    fn refresh_tokens_add_offline_access_to_the_login_scope_once() {
        let config = |scope: &str, refresh_tokens| AuthConfig {
            scope: scope.into(),
            refresh_tokens,
            ..auth0_config()
        };
        assert_eq!(
            config("openid profile", false).login_scope(),
            "openid profile"
        );
        assert_eq!(
            config("openid profile", true).login_scope(),
            "openid profile offline_access"
        );
        assert_eq!(
            config("openid offline_access profile", true).login_scope(),
            "openid offline_access profile"
        );
        // A scope that only contains the word is not it.
        assert_eq!(
            config("openid offline_access_x", true).login_scope(),
            "openid offline_access_x offline_access"
        );
    }

    #[test]
    fn settings_values_parse_or_name_the_choices() {
        assert_eq!("code".parse(), Ok(LoginFlow::Code));
        assert_eq!("implicit".parse(), Ok(LoginFlow::Implicit));
        assert_eq!(
            "pkce".parse::<LoginFlow>(),
            Err("\"pkce\" is not one of implicit, code".into())
        );
        assert_eq!("local".parse(), Ok(SessionStorage::Local));
        assert_eq!("memory".parse(), Ok(SessionStorage::Memory));
        assert_eq!("session".parse(), Ok(SessionStorage::Session));
        assert_eq!(
            "cookie".parse::<SessionStorage>(),
            Err("\"cookie\" is not one of session, local, memory".into())
        );
    }

    #[test]
    fn error_body_round_trips() {
        let body = ErrorBody {
            error: "invalid_token".into(),
            message: "The access token expired.".into(),
            request_id: None,
        };
        let back: ErrorBody = serde_json::from_str(&serde_json::to_string(&body).unwrap()).unwrap();
        assert_eq!(back, body);
    }
}
