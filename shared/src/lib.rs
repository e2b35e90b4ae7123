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

    #[test]
    fn auth_config_uses_the_samples_camel_case() {
        let config = AuthConfig {
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
            request_id: None,
        };
        let back: ErrorBody = serde_json::from_str(&serde_json::to_string(&body).unwrap()).unwrap();
        assert_eq!(back, body);
    }
}
