//! The built SPA (Trunk's `dist/`), when `SPA_DIR` is set: one deployable for app and API.
//! Deep links such as `/ping` get `index.html`; the CSP allows no inline script.

use std::path::Path;

use axum::Router;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY};
use tower::ServiceBuilder;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use url::Url;

use crate::AppState;

/// The SPA's Content-Security-Policy: its own scripts and WebAssembly only (no inline script,
/// no eval), network calls to this origin and the tenant (JWKS, /userinfo), profile pictures
/// from anywhere over https.
pub fn content_security_policy(issuer: &str) -> String {
    let tenant = Url::parse(issuer)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' {tenant}; \
         img-src 'self' data: https:; style-src 'self'; font-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Adds the SPA to `router` as its fallback.
pub fn serve_from(router: Router<AppState>, dir: &Path, issuer: &str) -> Router<AppState> {
    let csp = HeaderValue::from_str(&content_security_policy(issuer))
        .expect("a CSP built from a parsed URL is a valid header");
    let files = ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")));
    let service = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            CONTENT_SECURITY_POLICY,
            csp,
        ))
        // Revalidate every time: file names carry no hash, and a new build must show at once.
        .layer(SetResponseHeaderLayer::overriding(
            CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .service(files);
    router.fallback_service(service)
}
