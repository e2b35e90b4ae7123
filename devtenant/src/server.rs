//! The tenant over HTTP: the router of every endpoint, CORS for the apps' web origins, and
//! the ways to run it (in-process for tests on 127.0.0.1 port 0, or by the binary).

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderName, HeaderValue, Method};
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::TenantConfig;
use crate::keys::{KeyRing, SigningKey};
use crate::tenant::DevTenant;
use crate::{authorize, discovery, logout, pages, revoke, token, userinfo};

/// A tenant serving on loopback, as tests start it.
pub struct RunningTenant {
    pub addr: SocketAddr,
    pub tenant: DevTenant,
}

impl std::ops::Deref for RunningTenant {
    type Target = DevTenant;

    fn deref(&self) -> &DevTenant {
        &self.tenant
    }
}

impl DevTenant {
    /// Starts a tenant with the built-in configuration on 127.0.0.1, port 0, and a fresh key.
    pub async fn spawn() -> RunningTenant {
        Self::spawn_with(
            TenantConfig::builtin(),
            KeyRing::new(SigningKey::generate()),
        )
        .await
    }

    /// Starts a tenant on 127.0.0.1, port 0; its issuer is `http://127.0.0.1:{port}/`.
    pub async fn spawn_with(config: TenantConfig, keys: KeyRing) -> RunningTenant {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        Self::spawn_on(listener, config, keys)
    }

    /// Starts a tenant on `listener`, with the issuer set to its address unless the
    /// configuration names one.
    pub fn spawn_on(
        listener: TcpListener,
        mut config: TenantConfig,
        keys: KeyRing,
    ) -> RunningTenant {
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        config.tenant.listen = addr;
        config
            .tenant
            .issuer
            .get_or_insert_with(|| format!("http://{addr}/"));
        let tenant = Self::new(config, keys);
        let router = tenant.router();
        tokio::spawn(async move { axum::serve(listener, router).await });
        RunningTenant { addr, tenant }
    }

    /// The whole HTTP app.
    pub fn router(&self) -> Router {
        // Browsers call /oauth/token and /userinfo from the apps' origins: the apps' Allowed
        // Web Origins, as on Auth0, and no other.
        let origins: Vec<HeaderValue> = self
            .config()
            .applications
            .iter()
            .flat_map(|a| &a.web_origins)
            .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
            .collect();
        let cors = CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                AUTHORIZATION,
                CONTENT_TYPE,
                HeaderName::from_static("auth0-client"),
                HeaderName::from_static(shared::dpop::DPOP_HEADER),
            ])
            // The DPoP nonce must be readable by the app that is asked to use it.
            .expose_headers([HeaderName::from_static(shared::dpop::NONCE_HEADER)]);
        let header = |name, value| {
            SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
        };
        Router::new()
            .merge(discovery::router(self.config().jwks_path()))
            .merge(authorize::router())
            .merge(token::router())
            .merge(revoke::router())
            .merge(userinfo::router())
            .merge(logout::router())
            .merge(pages::router())
            .with_state(self.clone())
            .layer(cors)
            .layer(header(X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .layer(header(REFERRER_POLICY, "no-referrer"))
    }

    /// Serves until `shutdown` completes, then finishes the requests under way.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }
}
