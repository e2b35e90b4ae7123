//! `POST /oauth/token`: the authorization-code (with PKCE), client-credentials and
//! refresh-token grants, with Auth0-shaped JSON errors.

use std::collections::HashMap;
use std::fmt;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use axum_extra::TypedHeader;
use axum_extra::headers::Authorization;
use axum_extra::headers::authorization::Basic;
use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use shared::dpop::{NONCE_HEADER, ProofError};
use shared::oauth::{OAuthError, TokenResponse, is_code_verifier};

use crate::config::{AppType, Application};
use crate::dpop::proof_of;
use crate::issue::{self, Subject, s256_challenge};
use crate::keys::same_secret;
use crate::request::{DuplicateParameter, unique_parameters};
use crate::store::{Grant, Refresh};
use crate::tenant::DevTenant;

pub fn router() -> Router<DevTenant> {
    Router::new().route("/oauth/token", post(token))
}

/// Why the token endpoint refuses (RFC 6749 §5.2), with Auth0's status codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// The body is neither a form nor a JSON object of parameters.
    BadBody(&'static str),
    Duplicate(DuplicateParameter),
    Missing(&'static str),
    UnknownClient,
    ClientAuthFailed,
    UnsupportedGrant(String),
    /// The code or refresh token is unknown, spent, expired, another client's, or its proof
    /// (PKCE, redirect URI) does not match: one answer for all, as RFC 6749 asks.
    InvalidGrant(&'static str),
    NotMachineToMachine,
    NoAudience,
    UnknownAudience(String),
    /// The DPoP proof is refused (`invalid_dpop_proof`), or must carry the tenant's nonce
    /// (`use_dpop_nonce`).
    Dpop(ProofError),
}

impl TokenError {
    fn status(&self) -> StatusCode {
        match self {
            TokenError::Missing("client_id")
            | TokenError::UnknownClient
            | TokenError::ClientAuthFailed => StatusCode::UNAUTHORIZED,
            TokenError::BadBody(_)
            | TokenError::Duplicate(_)
            | TokenError::Missing(_)
            | TokenError::UnsupportedGrant(_)
            | TokenError::Dpop(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::FORBIDDEN,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            TokenError::Missing("client_id")
            | TokenError::UnknownClient
            | TokenError::ClientAuthFailed => "invalid_client",
            TokenError::BadBody(_) | TokenError::Duplicate(_) | TokenError::Missing(_) => {
                "invalid_request"
            }
            TokenError::UnsupportedGrant(_) => "unsupported_grant_type",
            TokenError::InvalidGrant(_) => "invalid_grant",
            TokenError::NotMachineToMachine => "unauthorized_client",
            TokenError::NoAudience | TokenError::UnknownAudience(_) => "access_denied",
            TokenError::Dpop(error) => error.error_code(),
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::BadBody(why) => f.write_str(why),
            TokenError::Duplicate(duplicate) => duplicate.fmt(f),
            TokenError::Missing(name) => write!(f, "Missing required parameter: {name}"),
            TokenError::UnknownClient => f.write_str("Unknown client"),
            TokenError::ClientAuthFailed => f.write_str("Client authentication failed"),
            TokenError::UnsupportedGrant(grant) => write!(f, "Unsupported grant type: {grant}"),
            TokenError::InvalidGrant(why) => f.write_str(why),
            TokenError::NotMachineToMachine => {
                f.write_str("Grant type 'client_credentials' not allowed for the client.")
            }
            TokenError::NoAudience => f.write_str(
                "No audience parameter was provided, and no default audience has been configured",
            ),
            TokenError::UnknownAudience(audience) => write!(f, "Service not found: {audience}"),
            TokenError::Dpop(error) => error.fmt(f),
        }
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let body = OAuthError {
            error: self.code().to_owned(),
            error_description: self.to_string(),
        };
        no_store((self.status(), Json(body)))
    }
}

/// RFC 6749 §5.1: token responses must not be cached.
fn no_store(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

async fn token(
    State(tenant): State<DevTenant>,
    basic: Option<TypedHeader<Authorization<Basic>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let credentials = basic
        .map(|TypedHeader(Authorization(b))| (b.username().to_owned(), b.password().to_owned()));
    let result = parameters(&headers, &body).and_then(|params| {
        let mut exchange = Exchange::new(&tenant, &params, credentials)?;
        exchange.jkt = proof_of(&tenant, &headers, "POST", "oauth/token", None)
            .map_err(TokenError::Dpop)?
            .map(|proof| proof.jkt);
        exchange.grant()
    });
    let mut response = match result {
        Ok(tokens) => no_store(Json(tokens)),
        Err(error) => error.into_response(),
    };
    // The tenant's nonce, whenever it requires one (RFC 9449 §8).
    let nonces = tenant.dpop_nonces();
    if nonces.required()
        && let Ok(nonce) = HeaderValue::from_str(&nonces.current())
    {
        response.headers_mut().insert(NONCE_HEADER, nonce);
    }
    response
}

/// The request's parameters, from a form or a JSON object (Auth0 takes both), each at most
/// once.
fn parameters(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, TokenError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/json") {
        let Pairs(pairs) = serde_json::from_slice(body)
            .map_err(|_| TokenError::BadBody("The body is not a JSON object"))?;
        let texts = pairs.into_iter().filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k.into(), s.into())),
            serde_json::Value::Null => None,
            other => Some((k.into(), other.to_string().into())),
        });
        unique_parameters(texts).map_err(TokenError::Duplicate)
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        unique_parameters(url::form_urlencoded::parse(body)).map_err(TokenError::Duplicate)
    } else {
        Err(TokenError::BadBody(
            "Send the parameters as application/x-www-form-urlencoded or application/json",
        ))
    }
}

/// A JSON object's members in order, duplicates kept (serde_json's maps keep the last).
struct Pairs(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;

        impl<'de> Visitor<'de> for Members {
            type Value = Pairs;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry()? {
                    pairs.push(pair);
                }
                Ok(Pairs(pairs))
            }
        }

        deserializer.deserialize_map(Members)
    }
}

/// One token request, its client authenticated.
struct Exchange<'a> {
    tenant: &'a DevTenant,
    app: &'a Application,
    params: &'a HashMap<String, String>,
    /// The key of the request's DPoP proof, when it came with one: the tokens are bound to it.
    jkt: Option<String>,
}

impl<'a> Exchange<'a> {
    fn new(
        tenant: &'a DevTenant,
        params: &'a HashMap<String, String>,
        basic: Option<(String, String)>,
    ) -> Result<Self, TokenError> {
        let get = |name: &str| {
            params
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let (client_id, secret) = match &basic {
            Some((id, secret)) => (Some(id.as_str()), Some(secret.as_str())),
            None => (get("client_id"), get("client_secret")),
        };
        let client_id = client_id.ok_or(TokenError::Missing("client_id"))?;
        let app = tenant
            .config()
            .application(client_id)
            .ok_or(TokenError::UnknownClient)?;
        authenticate_client(app, secret)?;
        Ok(Self {
            tenant,
            app,
            params,
            jkt: None,
        })
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn require(&self, name: &'static str) -> Result<&'a str, TokenError> {
        self.get(name).ok_or(TokenError::Missing(name))
    }

    fn grant(&self) -> Result<TokenResponse, TokenError> {
        match self.require("grant_type")? {
            "authorization_code" => self.authorization_code(),
            "client_credentials" => self.client_credentials(),
            "refresh_token" => self.refresh_token(),
            other => Err(TokenError::UnsupportedGrant(other.to_owned())),
        }
    }

    fn authorization_code(&self) -> Result<TokenResponse, TokenError> {
        let invalid = TokenError::InvalidGrant("Invalid authorization code");
        let code = self.require("code")?;
        // Taken, not read: a code works once, even when this exchange then fails.
        let grant = self.tenant.store().take_code(code).ok_or(invalid.clone())?;
        if grant.client_id != self.app.client_id {
            return Err(invalid);
        }
        if self.get("redirect_uri") != Some(grant.redirect_uri.as_str()) {
            return Err(TokenError::InvalidGrant(
                "redirect_uri does not match the one of the authorization request",
            ));
        }
        check_verifier(grant.code_challenge.as_deref(), self.get("code_verifier"))?;
        // RFC 9449 §10: a code asked for with dpop_jkt is exchanged with that key's proof.
        if let Some(bound) = &grant.dpop_jkt
            && self.jkt.as_deref() != Some(bound.as_str())
        {
            return Err(TokenError::InvalidGrant(
                "The DPoP proof's key is not the dpop_jkt of the authorization request",
            ));
        }
        let grant_of_user = Grant {
            client_id: grant.client_id,
            user_id: grant.user_id,
            scopes: grant.scopes,
            audience: grant.audience,
            jkt: None,
        };
        self.user_tokens(grant_of_user, grant.nonce.as_deref(), None)
    }

    fn refresh_token(&self) -> Result<TokenResponse, TokenError> {
        let token = self.require("refresh_token")?;
        let store = self.tenant.store();
        match store.refresh(token, &self.app.client_id, self.jkt.as_deref()) {
            Refresh::Rotated(grant, _, next) => self.user_tokens(grant, None, Some(next)),
            Refresh::WrongKey => Err(TokenError::InvalidGrant(
                "The refresh token is bound to a DPoP key: send a DPoP proof made with that key.",
            )),
            Refresh::Reused | Refresh::Invalid => Err(TokenError::InvalidGrant(
                "Unknown or invalid refresh token.",
            )),
        }
    }

    /// The tokens for a user's grant; a refresh token when `offline_access` was granted (the
    /// rotated one, or a new family's first).
    fn user_tokens(
        &self,
        grant: Grant,
        nonce: Option<&str>,
        rotated: Option<String>,
    ) -> Result<TokenResponse, TokenError> {
        let user =
            self.tenant
                .config()
                .user_by_id(&grant.user_id)
                .ok_or(TokenError::InvalidGrant(
                    "The user of this grant no longer exists",
                ))?;
        let jkt = self.jkt.as_deref();
        let mut tokens = issue::user_tokens(self.tenant, self.app, user, &grant, nonce, jkt);
        let offline = grant.scopes.iter().any(|s| s == "offline_access");
        // A public client's refresh tokens are bound to its DPoP key (RFC 9449 §5); a
        // confidential client's are bound by its secret already.
        let binding = self
            .jkt
            .clone()
            .filter(|_| self.app.client_secret.is_none());
        tokens.refresh_token = match rotated {
            Some(next) => Some(next),
            None if offline => Some(self.tenant.store().create_refresh_token(grant, binding)),
            None => None,
        };
        Ok(tokens)
    }

    fn client_credentials(&self) -> Result<TokenResponse, TokenError> {
        if self.app.app_type != AppType::M2m {
            return Err(TokenError::NotMachineToMachine);
        }
        let config = self.tenant.config();
        let audience = self.get("audience").ok_or(TokenError::NoAudience)?;
        if audience != config.api.identifier {
            return Err(TokenError::UnknownAudience(audience.to_owned()));
        }
        let scopes: Vec<String> = match self.get("scope") {
            Some(asked) => asked
                .split(' ')
                .filter(|s| self.app.scopes.iter().any(|granted| granted == s))
                .map(str::to_owned)
                .collect(),
            None => self.app.scopes.clone(),
        };
        let lifetime = config.api.token_lifetime_secs;
        let subject = Subject {
            client_id: &self.app.client_id,
            user: None,
        };
        Ok(TokenResponse {
            access_token: issue::access_token(
                self.tenant,
                &subject,
                &scopes,
                Some(audience),
                lifetime,
                self.jkt.as_deref(),
            ),
            scope: Some(scopes.join(" ")),
            expires_in: lifetime,
            token_type: issue::token_type(self.jkt.as_deref()).into(),
            ..TokenResponse::default()
        })
    }
}

/// Confidential clients prove their secret; public clients (SPAs) have none and prove
/// possession of the code with PKCE instead.
fn authenticate_client(app: &Application, secret: Option<&str>) -> Result<(), TokenError> {
    match (&app.client_secret, secret) {
        (Some(expected), Some(given)) if same_secret(expected, given) => Ok(()),
        (None, None) => Ok(()),
        _ => Err(TokenError::ClientAuthFailed),
    }
}

/// RFC 7636 §4.6: the verifier must hash to the challenge. A verifier for a code issued
/// without a challenge is refused too (RFC 9700 §2.1.1: PKCE downgrade).
fn check_verifier(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), TokenError> {
    let failed = TokenError::InvalidGrant("Failed to verify code verifier");
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (Some(challenge), Some(verifier))
            if is_code_verifier(verifier) && same_secret(&s256_challenge(verifier), challenge) =>
        {
            Ok(())
        }
        _ => Err(failed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn pkce_needs_the_verifier_of_the_challenge_and_no_downgrade() {
        assert!(check_verifier(Some(CHALLENGE), Some(VERIFIER)).is_ok());
        assert!(check_verifier(None, None).is_ok());
        for (challenge, verifier) in [
            (Some(CHALLENGE), None),
            (Some(CHALLENGE), Some(&"x".repeat(43)[..])),
            (Some(CHALLENGE), Some("short")),
            (None, Some(VERIFIER)),
        ] {
            assert_eq!(
                check_verifier(challenge, verifier),
                Err(TokenError::InvalidGrant("Failed to verify code verifier")),
                "{challenge:?} {verifier:?}"
            );
        }
    }

    fn params(content_type: &str, body: &str) -> Result<HashMap<String, String>, TokenError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
        parameters(&headers, body.as_bytes())
    }

    #[test]
    fn a_parameter_sent_twice_is_refused_in_a_form_or_json() {
        let form = params(
            "application/x-www-form-urlencoded",
            "code_verifier=a&code_verifier=b",
        );
        assert_eq!(
            form,
            Err(TokenError::Duplicate(DuplicateParameter(
                "code_verifier".into()
            )))
        );
        let json = params("application/json", r#"{"code":"a","code":"b"}"#);
        assert_eq!(
            json,
            Err(TokenError::Duplicate(DuplicateParameter("code".into())))
        );
        let fine = params("application/json", r#"{"code":"a","n":1,"x":null}"#).unwrap();
        assert_eq!((fine["code"].as_str(), fine["n"].as_str()), ("a", "1"));
        assert!(matches!(
            params("text/plain", "x"),
            Err(TokenError::BadBody(_))
        ));
        assert_eq!(
            TokenError::Duplicate(DuplicateParameter("x".into())).status(),
            400
        );
    }
}
