//! `/.well-known/openid-configuration` and `/.well-known/jwks.json`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::faults::JwksBehaviour;
use crate::tenant::DevTenant;

/// Discovery, and the JWKS at `jwks_path`.
pub fn router(jwks_path: &str) -> Router<DevTenant> {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route(jwks_path, get(jwks))
        // Not Auth0's: what the benchmarks read to count the API's JWKS fetches.
        .route("/_devtenant/stats", get(stats))
}

async fn stats(State(tenant): State<DevTenant>) -> Json<Value> {
    Json(json!({ "jwks_fetches": tenant.jwks_fetches() }))
}

async fn openid_configuration(State(tenant): State<DevTenant>) -> Json<Value> {
    let issuer = tenant.issuer();
    let mut scopes = vec!["openid", "profile", "email", "offline_access"];
    scopes.extend(tenant.config().api.scopes.iter().map(|s| s.value.as_str()));
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": tenant.endpoint("authorize"),
        "token_endpoint": tenant.endpoint("oauth/token"),
        "revocation_endpoint": tenant.endpoint("oauth/revoke"),
        "userinfo_endpoint": tenant.endpoint("userinfo"),
        "jwks_uri": tenant.endpoint(tenant.config().jwks_path()),
        // As Auth0's: RP-Initiated Logout at /oidc/logout (its own /v2/logout stays too).
        "end_session_endpoint": tenant.endpoint("oidc/logout"),
        "scopes_supported": scopes,
        "response_types_supported": ["code", "token", "id_token", "token id_token"],
        "response_modes_supported": ["query", "fragment", "web_message"],
        "grant_types_supported": ["authorization_code", "implicit", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "dpop_signing_alg_values_supported": shared::dpop::ALGORITHMS,
        "claims_supported": ["aud", "auth_time", "email", "email_verified", "exp", "iat", "iss", "name", "nickname", "nonce", "picture", "sub", "updated_at"],
        "request_uri_parameter_supported": false,
    }))
}

async fn jwks(State(tenant): State<DevTenant>) -> Response {
    let (delay, behaviour) = tenant.faults().record_fetch();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match behaviour {
        JwksBehaviour::Normal => Json(tenant.keys().published()).into_response(),
        JwksBehaviour::Status(code) => StatusCode::from_u16(code)
            .unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
            .into_response(),
        JwksBehaviour::Garbage => "<html>not a key set</html>".into_response(),
        JwksBehaviour::Publish(value) => Json(value).into_response(),
    }
}
