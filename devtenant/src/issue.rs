//! Token issuance, as Auth0 does it: which scopes are granted, and what access tokens and ID
//! tokens carry.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest::{SHA256, digest};
use serde_json::{Map, Value, json};
use shared::oauth::TokenResponse;

use crate::config::{Application, TenantConfig, User};
use crate::store::Grant;
use crate::tenant::DevTenant;

/// Scopes OpenID Connect defines; granted whenever asked.
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// ID tokens live 10 hours, as Auth0's default.
const ID_TOKEN_LIFETIME: u64 = 36_000;

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Who a token is for: a user through an app, or an app on its own.
pub struct Subject<'a> {
    pub client_id: &'a str,
    pub user: Option<&'a User>,
}

/// The scopes a user gets: the OIDC scopes asked for, plus the API scopes asked for that the
/// API defines and, with RBAC, that the user has as permissions.
pub fn granted_scopes(
    config: &TenantConfig,
    requested: &str,
    user: &User,
    audience: Option<&str>,
) -> Vec<String> {
    let for_api = audience == Some(config.api.identifier.as_str());
    let mut granted: Vec<String> = Vec::new();
    for scope in requested.split(' ').filter(|s| !s.is_empty()) {
        let allowed = OIDC_SCOPES.contains(&scope)
            || (for_api
                && config.api_defines(scope)
                && (!config.api.rbac || user.permissions.iter().any(|p| p == scope)));
        if allowed && !granted.iter().any(|g| g == scope) {
            granted.push(scope.to_owned());
        }
    }
    granted
}

/// An access token: a signed JWT for the API when an audience was asked, otherwise an opaque
/// token good only for `/userinfo` — as Auth0 does, and the trap people fall into. Bound to
/// the DPoP key `jkt` (`cnf.jkt`, RFC 9449 §6.1) when the request came with a proof.
pub fn access_token(
    tenant: &DevTenant,
    subject: &Subject<'_>,
    scopes: &[String],
    audience: Option<&str>,
    lifetime: u64,
    jkt: Option<&str>,
) -> String {
    let Some(audience) = audience else {
        let grant = Grant {
            client_id: subject.client_id.to_owned(),
            user_id: subject.user.map(User::user_id).unwrap_or_default(),
            scopes: scopes.to_vec(),
            audience: None,
            jkt: jkt.map(str::to_owned),
        };
        return tenant
            .store()
            .create_opaque_token(grant, Duration::from_secs(lifetime));
    };
    let config = tenant.config();
    let issuer = tenant.issuer();
    let iat = now();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(issuer));
    match subject.user {
        Some(user) => {
            claims.insert("sub".into(), json!(user.user_id()));
            // Auth0 adds its /userinfo as a second audience when `openid` is granted.
            let aud = match scopes.iter().any(|s| s == "openid") {
                true => json!([audience, tenant.endpoint("userinfo")]),
                false => json!(audience),
            };
            claims.insert("aud".into(), aud);
        }
        None => {
            let sub = format!("{}@clients", subject.client_id);
            claims.insert("sub".into(), json!(sub));
            claims.insert("aud".into(), json!(audience));
            claims.insert("gty".into(), json!("client-credentials"));
        }
    }
    claims.insert("iat".into(), json!(iat));
    claims.insert("exp".into(), json!(iat + lifetime));
    claims.insert("scope".into(), json!(scopes.join(" ")));
    claims.insert("azp".into(), json!(subject.client_id));
    if let Some(jkt) = jkt {
        claims.insert("cnf".into(), json!({ "jkt": jkt }));
    }
    if let Some(user) = subject.user
        && config.api.rbac
        && config.api.permissions_in_token
        && audience == config.api.identifier
    {
        let permissions: Vec<&String> = user
            .permissions
            .iter()
            .filter(|p| config.api_defines(p))
            .collect();
        claims.insert("permissions".into(), json!(permissions));
    }
    tenant.signing_key().sign(&Value::Object(claims))
}

/// An ID token for `user`, to `client_id`, with the profile claims the scopes allow.
pub fn id_token(
    tenant: &DevTenant,
    client_id: &str,
    user: &User,
    scopes: &[String],
    nonce: Option<&str>,
    access_token: Option<&str>,
) -> String {
    let iat = now();
    let mut claims = profile_claims(user, scopes);
    claims.insert("iss".into(), json!(tenant.issuer()));
    claims.insert("aud".into(), json!(client_id));
    claims.insert("iat".into(), json!(iat));
    claims.insert("exp".into(), json!(iat + ID_TOKEN_LIFETIME));
    if let Some(nonce) = nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    if let Some(access_token) = access_token {
        claims.insert("at_hash".into(), json!(at_hash(access_token)));
    }
    tenant.signing_key().sign(&Value::Object(claims))
}

/// What the token endpoint answers a user's grant through `app`: the access token (bound to
/// `jkt` with DPoP: `token_type` `DPoP`) and, with `openid`, the ID token. The refresh token
/// is the caller's to add.
pub fn user_tokens(
    tenant: &DevTenant,
    app: &Application,
    user: &User,
    grant: &Grant,
    nonce: Option<&str>,
    jkt: Option<&str>,
) -> TokenResponse {
    let lifetime = tenant.config().api.token_lifetime_secs;
    let subject = Subject {
        client_id: &app.client_id,
        user: Some(user),
    };
    let scopes = &grant.scopes;
    let access = access_token(
        tenant,
        &subject,
        scopes,
        grant.audience.as_deref(),
        lifetime,
        jkt,
    );
    let id = scopes
        .iter()
        .any(|s| s == "openid")
        .then(|| id_token(tenant, &app.client_id, user, scopes, nonce, Some(&access)));
    TokenResponse {
        access_token: access,
        id_token: id,
        refresh_token: None,
        scope: Some(scopes.join(" ")),
        expires_in: lifetime,
        token_type: token_type(jkt).into(),
    }
}

/// `DPoP` for a token bound to a key, else `Bearer` (RFC 9449 §5).
pub fn token_type(jkt: Option<&str>) -> &'static str {
    match jkt {
        Some(_) => "DPoP",
        None => "Bearer",
    }
}

/// `sub` and the standard claims `profile` and `email` release (OIDC Core §5.4).
pub fn profile_claims(user: &User, scopes: &[String]) -> Map<String, Value> {
    let has = |scope: &str| scopes.iter().any(|s| s == scope);
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.user_id()));
    if has("profile") {
        let nickname = user
            .nickname
            .clone()
            .unwrap_or_else(|| user.email.split('@').next().unwrap_or_default().to_owned());
        claims.insert("name".into(), json!(user.name));
        claims.insert("nickname".into(), json!(nickname));
        if let Some(picture) = &user.picture {
            claims.insert("picture".into(), json!(picture));
        }
        claims.insert("updated_at".into(), json!("2024-01-01T00:00:00.000Z"));
    }
    if has("email") {
        claims.insert("email".into(), json!(user.email));
        claims.insert("email_verified".into(), json!(true));
    }
    claims
}

/// OIDC Core §3.2.2.9: the left half of SHA-256 of the access token, base64url.
pub fn at_hash(access_token: &str) -> String {
    shared::oauth::at_hash(digest(&SHA256, access_token.as_bytes()).as_ref())
}

/// RFC 7636 §4.6: `BASE64URL(SHA256(code_verifier))`.
pub fn s256_challenge(verifier: &str) -> String {
    shared::oauth::s256_challenge(digest(&SHA256, verifier.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rbac_grants_api_scopes_only_to_users_with_the_permission() {
        let config = TenantConfig::builtin();
        let api = Some(config.api.identifier.as_str());
        let reader = config.user_by_email("reader@example.com").unwrap();
        let guest = config.user_by_email("guest@example.com").unwrap();
        let asked = "openid profile read:messages write:messages";
        assert_eq!(
            granted_scopes(&config, asked, reader, api),
            ["openid", "profile", "read:messages"]
        );
        assert_eq!(
            granted_scopes(&config, asked, guest, api),
            ["openid", "profile"]
        );
        assert_eq!(
            granted_scopes(&config, asked, reader, None),
            ["openid", "profile"]
        );
    }

    #[test]
    fn at_hash_and_s256_match_the_rfc_examples() {
        // RFC 7636 Appendix B.
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        // Left half of SHA-256, as computed independently with Python's hashlib.
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNmTC4Q"),
            "PLskcl5Q8CDSagay215niw"
        );
    }
}
