//! The built SPA (Trunk's `dist/`), when `SPA_DIR` is set: one deployable for app and API.
//! Deep links such as `/ping` get `index.html`; the CSP allows no inline script.

use std::path::Path;

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY};
use axum::http::{HeaderName, HeaderValue};
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

/// No window that opened the SPA keeps a handle on it (and none it opens on its opener).
const CROSS_ORIGIN_OPENER_POLICY: &str = "same-origin";

/// Powerful features the SPA never uses, off for it and anything it could embed.
pub const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()";

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
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static(CROSS_ORIGIN_OPENER_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static(PERMISSIONS_POLICY),
        ))
        // Revalidate every time: file names carry no hash, and a new build must show at once.
        .layer(SetResponseHeaderLayer::overriding(
            CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .service(files);
    router.fallback_service(service)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `trunk serve` (the live-rebuild workflow) must send what the API sends with the SPA.
    #[test]
    fn trunk_serve_sends_the_same_headers_as_the_api() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../Trunk.toml");
        let trunk: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
        let headers = trunk["serve"]["headers"].as_table().unwrap();
        let header = |name: &str| headers[name].as_str().unwrap().to_owned();
        assert_eq!(
            header("content-security-policy"),
            content_security_policy("http://127.0.0.1:4010/")
        );
        assert_eq!(
            header("cross-origin-opener-policy"),
            CROSS_ORIGIN_OPENER_POLICY
        );
        assert_eq!(header("permissions-policy"), PERMISSIONS_POLICY);
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert_eq!(header("x-frame-options"), "DENY");
        assert_eq!(header("referrer-policy"), "no-referrer");
    }
}
