//! The SPA's login settings, served at `/auth_config.json`, and the Content-Security-Policy of
//! its pages: from the very settings the API validates tokens with and, for an OpenID
//! provider, the discovery document the key cache read. One source, so the SPA and the API
//! can never disagree about the tenant.
//!
//! - `AUTH0_DOMAIN` (Auth0): Auth0's fixed paths under the issuer, `audience`, `/v2/logout`.
//! - `AUTH0_ISSUER` (any OpenID provider): the endpoints of its discovery document, RFC 8707's
//!   `resource` beside `audience`, RP-Initiated Logout at its `end_session_endpoint` (none
//!   announced: Log Out ends the app's session only), silent renewal in an iframe only when it
//!   answers with `web_message` (else renewal by refresh token only). A provider that lacks
//!   what the configured flow needs ([`Unsupported`]) stops `main` at startup when it can be
//!   asked then, and otherwise gets a 500 naming the setting here — never a broken button.

use std::sync::{Arc, RwLock};

use axum::http::HeaderValue;
use shared::oauth::origin_of;
use shared::{AuthConfig, Endpoints, LOGIN_SCOPE, LoginFlow, Provider};
use url::Url;

use crate::auth::{JwksCache, KeyFetcher, ProviderMetadata};
use crate::config::Settings;
use crate::error::{ApiError, Unsupported};

/// What the SPA's settings are made of, from the API's own.
struct Base {
    domain: String,
    issuer: String,
    client_id: String,
    audience: String,
    session_storage: shared::SessionStorage,
    login_flow: LoginFlow,
    refresh_tokens: bool,
    dpop: bool,
}

impl Base {
    fn with(&self, provider: Provider, endpoints: Endpoints, iframe_renewal: bool) -> AuthConfig {
        AuthConfig {
            domain: self.domain.clone(),
            issuer: self.issuer.clone(),
            provider,
            endpoints,
            iframe_renewal,
            client_id: self.client_id.clone(),
            audience: self.audience.clone(),
            scope: LOGIN_SCOPE.to_owned(),
            session_storage: self.session_storage,
            login_flow: self.login_flow,
            refresh_tokens: self.refresh_tokens,
            dpop: self.dpop,
        }
    }

    /// Auth0's paths under the issuer.
    fn auth0(&self) -> AuthConfig {
        let at = |path: &str| format!("{}/{path}", self.issuer.trim_end_matches('/'));
        let endpoints = Endpoints {
            authorization: at("authorize"),
            token: at("oauth/token"),
            userinfo: Some(at("userinfo")),
            jwks: at(".well-known/jwks.json"),
            logout: Some(at("v2/logout")),
            revocation: Some(at("oauth/revoke")),
        };
        self.with(Provider::Auth0, endpoints, true)
    }

    /// The provider's endpoints, checked against the configured flow.
    fn openid(&self, metadata: &ProviderMetadata) -> Result<AuthConfig, Unsupported> {
        let needs_token_endpoint = self.login_flow == LoginFlow::Code || self.refresh_tokens;
        match self.login_flow {
            LoginFlow::Code if !metadata.supports_s256() => return Err(Unsupported::NoS256),
            LoginFlow::Implicit if !metadata.supports_implicit() => {
                return Err(Unsupported::NoImplicit);
            }
            _ => {}
        }
        let token = match (&metadata.token_endpoint, needs_token_endpoint) {
            (Some(token), _) => token.clone(),
            (None, true) => return Err(Unsupported::NoTokenEndpoint),
            (None, false) => String::new(),
        };
        let endpoints = Endpoints {
            authorization: metadata.authorization_endpoint.clone(),
            token,
            userinfo: metadata.userinfo_endpoint.clone(),
            jwks: metadata.jwks_uri.clone(),
            logout: metadata.end_session_endpoint.clone(),
            revocation: metadata.revocation_endpoint.clone(),
        };
        Ok(self.with(Provider::OpenId, endpoints, metadata.supports_web_message()))
    }
}

/// The login settings of this API's SPA, made once the provider's metadata is known.
pub struct Login {
    base: Option<Base>,
    jwks: JwksCache,
    /// Auth0's settings, made once: they need no metadata.
    auth0: Option<Arc<AuthConfig>>,
    /// The settings made from the metadata last seen, and that metadata: made again only when
    /// discovery found something new.
    made: RwLock<Option<Made>>,
}

/// An OpenID provider's metadata, and the SPA's settings made from it.
type Made = (Arc<ProviderMetadata>, Result<Arc<AuthConfig>, Unsupported>);

impl Login {
    pub fn new(settings: &Settings, jwks: JwksCache) -> Self {
        let base = settings.client_id.clone().map(|client_id| Base {
            // As Auth0's samples name it: the host, and the port if any.
            domain: Url::parse(&settings.validation.issuer)
                .map(|url| url[url::Position::BeforeHost..url::Position::AfterPort].to_owned())
                .unwrap_or_default(),
            issuer: settings.validation.issuer.clone(),
            client_id,
            audience: settings.validation.audience.clone(),
            session_storage: settings.session_storage,
            login_flow: settings.login_flow,
            refresh_tokens: settings.refresh_tokens,
            dpop: settings.spa_dpop,
        });
        let provider = settings.provider();
        let auth0 = base
            .as_ref()
            .filter(|_| provider == Provider::Auth0)
            .map(|base| Arc::new(base.auth0()));
        Self {
            base,
            auth0,
            jwks,
            made: RwLock::new(None),
        }
    }

    /// The SPA's settings: at once for Auth0; for an OpenID provider, once its discovery
    /// document was read (until then a 503 with why), checked against the configured flow.
    pub fn auth_config(&self) -> Result<Arc<AuthConfig>, ApiError> {
        let base = self.base.as_ref().ok_or(ApiError::NotConfigured)?;
        if let Some(auth0) = &self.auth0 {
            return Ok(auth0.clone());
        }
        let metadata = self
            .jwks
            .metadata()
            .ok_or_else(|| ApiError::LoginNotReady(self.jwks.last_error()))?;
        if let Some((seen, made)) = &*self.made.read().unwrap_or_else(|e| e.into_inner())
            && Arc::ptr_eq(seen, &metadata)
        {
            return made.clone().map_err(ApiError::LoginUnsupported);
        }
        let made = base.openid(&metadata).map(Arc::new);
        if let Err(unsupported) = &made {
            tracing::error!(%unsupported, "the provider cannot serve the configured login");
        }
        *self.made.write().unwrap_or_else(|e| e.into_inner()) = Some((metadata, made.clone()));
        made.map_err(ApiError::LoginUnsupported)
    }

    /// [`Login::auth_config`], waiting (up to the fetch timeout) for the provider's metadata
    /// when it has not been read yet: the first page after a start gets its settings, not a
    /// 503 to retry.
    pub async fn auth_config_when_known(&self) -> Result<Arc<AuthConfig>, ApiError> {
        match self.auth_config() {
            Err(ApiError::LoginNotReady(_)) => {
                let wait = self.jwks.settings().fetch_timeout;
                let _ = tokio::time::timeout(wait, self.jwks.first_fetch()).await;
                self.auth_config()
            }
            known => known,
        }
    }

    /// The CSP of the SPA's pages: the origins its settings name, or, before they are known,
    /// the issuer's.
    pub fn content_security_policy(&self) -> HeaderValue {
        let policy = match self.auth_config() {
            Ok(config) => content_security_policy(&config),
            Err(_) => {
                let issuer = self
                    .base
                    .as_ref()
                    .map(|b| b.issuer.as_str())
                    .unwrap_or_default();
                let origin = origin_of(issuer).unwrap_or_default();
                policy(std::slice::from_ref(&origin), &origin)
            }
        };
        HeaderValue::from_str(&policy).expect("a CSP of serialized origins is a header value")
    }
}

/// The SPA's Content-Security-Policy for `config`: its own scripts and WebAssembly only (no
/// inline script, no eval); network calls to this origin and the provider's token, userinfo
/// and JWKS endpoints; frames from the authorization endpoint only, for silent renewal (none
/// without it); profile pictures from anywhere over https.
pub fn content_security_policy(config: &AuthConfig) -> String {
    let endpoints = &config.endpoints;
    let mut connect: Vec<String> = [
        Some(&endpoints.token),
        endpoints.userinfo.as_ref(),
        endpoints.revocation.as_ref(),
        Some(&endpoints.jwks),
    ]
    .into_iter()
    .flatten()
    .filter_map(|url| origin_of(url))
    .collect();
    connect.dedup();
    connect.sort();
    connect.dedup();
    let frame = match config.iframe_renewal {
        true => origin_of(&endpoints.authorization).unwrap_or_default(),
        false => "'none'".to_owned(),
    };
    policy(&connect, &frame)
}

fn policy(connect: &[String], frame: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' {}; \
         frame-src {frame}; img-src 'self' data: https:; style-src 'self'; font-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        connect.join(" ")
    )
}

/// At startup, for an OpenID provider: its discovery document, read once, must be able to
/// serve the configured login; a definitive answer that it cannot (another issuer, no S256 for
/// the code flow, …) is the one line `main` prints. A provider that cannot be reached yet is
/// not an error: the API retries on its own, and `/readyz` says why it is not ready.
pub async fn check_provider(settings: &Settings) -> Result<(), String> {
    if settings.provider() == Provider::Auth0 {
        return Ok(());
    }
    let fetcher = KeyFetcher::for_settings(&settings.jwks);
    let discover = tokio::time::timeout(settings.jwks.fetch_timeout, fetcher.discover());
    let metadata = match discover.await {
        Ok(Ok(metadata)) => metadata,
        Ok(Err(error)) if error.is_definitive() => return Err(error.to_string()),
        Ok(Err(error)) => {
            tracing::warn!(%error, "the provider cannot be reached yet; the API will keep trying");
            return Ok(());
        }
        Err(_) => {
            tracing::warn!("the provider did not answer in time; the API will keep trying");
            return Ok(());
        }
    };
    match Login::new(settings, JwksCache::new(settings.jwks.clone())).base {
        Some(base) => base.openid(&metadata).map(drop).map_err(|e| e.to_string()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base(flow: LoginFlow, refresh_tokens: bool) -> Base {
        Base {
            domain: "id.example.com".into(),
            issuer: "https://id.example.com".into(),
            client_id: "spa".into(),
            audience: "https://quickstarts/api".into(),
            session_storage: Default::default(),
            login_flow: flow,
            refresh_tokens,
            dpop: false,
        }
    }

    fn metadata(changes: serde_json::Value) -> ProviderMetadata {
        let mut document = json!({
            "issuer": "https://id.example.com",
            "authorization_endpoint": "https://id.example.com/auth",
            "token_endpoint": "https://tokens.example.com/token",
            "userinfo_endpoint": "https://id.example.com/me",
            "jwks_uri": "https://keys.example.com/jwks",
            "end_session_endpoint": "https://id.example.com/session/end",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "fragment", "web_message"],
            "code_challenge_methods_supported": ["S256"],
        });
        for (key, value) in changes.as_object().unwrap() {
            document[key] = value.clone();
        }
        serde_json::from_value(document).unwrap()
    }

    fn settings(args: &[&str]) -> Settings {
        use clap::Parser;
        let args = std::iter::once("api").chain(args.iter().copied());
        crate::config::Config::try_parse_from(args)
            .unwrap()
            .settings()
            .unwrap()
    }

    #[test]
    fn the_spa_s_settings_need_a_client_id_and_carry_the_api_s_own() {
        let domain = [
            "--auth0-domain",
            "example.us.auth0.com:8443",
            "--auth0-audience",
            "x",
        ];
        let no_client = settings(&domain);
        let login = Login::new(&no_client, JwksCache::new(no_client.jwks.clone()));
        assert_eq!(login.auth_config().unwrap_err(), ApiError::NotConfigured);
        let mut with_client = domain.to_vec();
        with_client.extend(["--auth0-client-id", "abc", "--spa-login-flow", "code"]);
        with_client.extend(["--spa-refresh-tokens", "true"]);
        let auth0 = settings(&with_client);
        let login = Login::new(&auth0, JwksCache::new(auth0.jwks.clone()));
        let spa = login.auth_config().unwrap();
        assert_eq!(spa.domain, "example.us.auth0.com:8443");
        assert_eq!(spa.issuer, "https://example.us.auth0.com:8443/");
        assert_eq!(spa.client_id, "abc");
        assert_eq!(spa.audience, "x");
        assert_eq!(spa.scope, "openid profile read:messages");
        assert_eq!(spa.login_flow, LoginFlow::Code);
        assert!(spa.refresh_tokens);
        assert_eq!(spa.session_storage, shared::SessionStorage::Memory);
        // An OpenID provider's settings wait for its document.
        let issuer = [
            "--auth0-issuer",
            "http://127.0.0.1:9/",
            "--auth0-audience",
            "x",
        ];
        let mut issuer = issuer.to_vec();
        issuer.extend(["--auth0-client-id", "abc"]);
        let settings = settings(&issuer);
        let login = Login::new(&settings, JwksCache::new(settings.jwks.clone()));
        assert_eq!(
            login.auth_config().unwrap_err(),
            ApiError::LoginNotReady(None)
        );
        let csp = login.content_security_policy();
        assert!(
            csp.to_str()
                .unwrap()
                .contains("connect-src 'self' http://127.0.0.1:9;")
        );
    }

    #[test]
    fn auth0_keeps_its_paths_audience_and_v2_logout() {
        let config = Base {
            issuer: "https://example.us.auth0.com/".into(),
            ..base(LoginFlow::Implicit, false)
        }
        .auth0();
        assert_eq!(config.provider, Provider::Auth0);
        assert_eq!(
            config.endpoints.authorization,
            "https://example.us.auth0.com/authorize"
        );
        assert_eq!(
            config.endpoints.token,
            "https://example.us.auth0.com/oauth/token"
        );
        assert_eq!(
            config.endpoints.logout.as_deref(),
            Some("https://example.us.auth0.com/v2/logout")
        );
        assert!(config.iframe_renewal);
    }

    #[test]
    fn an_openid_provider_s_endpoints_come_from_its_document() {
        let config = base(LoginFlow::Code, true)
            .openid(&metadata(json!({})))
            .unwrap();
        assert_eq!(config.provider, Provider::OpenId);
        assert_eq!(
            config.endpoints.authorization,
            "https://id.example.com/auth"
        );
        assert_eq!(config.endpoints.token, "https://tokens.example.com/token");
        assert_eq!(
            config.endpoints.logout.as_deref(),
            Some("https://id.example.com/session/end")
        );
        assert!(config.iframe_renewal);
        let csp = content_security_policy(&config);
        assert!(
            csp.contains("connect-src 'self' https://id.example.com https://keys.example.com https://tokens.example.com;"),
            "{csp}"
        );
        assert!(csp.contains("frame-src https://id.example.com;"), "{csp}");
    }

    #[test]
    fn what_a_provider_lacks_is_a_fallback_or_names_the_setting() {
        // No web_message: renewal by refresh token only, and no frame allowed.
        let config = base(LoginFlow::Code, true)
            .openid(&metadata(json!({"response_modes_supported": ["query"]})))
            .unwrap();
        assert!(!config.iframe_renewal);
        assert!(content_security_policy(&config).contains("frame-src 'none';"));
        // No end_session_endpoint: Log Out ends the app's session only.
        let config = base(LoginFlow::Code, false)
            .openid(&metadata(json!({"end_session_endpoint": null})))
            .unwrap();
        assert_eq!(config.endpoints.logout, None);
        let plain_only = metadata(json!({"code_challenge_methods_supported": ["plain"]}));
        assert_eq!(
            base(LoginFlow::Code, false).openid(&plain_only),
            Err(Unsupported::NoS256)
        );
        let code_only = metadata(json!({}));
        assert_eq!(
            base(LoginFlow::Implicit, false).openid(&code_only),
            Err(Unsupported::NoImplicit)
        );
        let no_token = metadata(json!({"token_endpoint": null}));
        assert_eq!(
            base(LoginFlow::Code, false).openid(&no_token),
            Err(Unsupported::NoTokenEndpoint)
        );
    }
}
