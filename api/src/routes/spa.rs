//! The built SPA (Trunk's `dist/`), when `SPA_DIR` is set: one deployable for app and API.
//! Deep links such as `/ping` get `index.html`; the CSP allows no inline script.

use std::path::Path;
use std::sync::Arc;

use crate::AppState;
use crate::login::Login;
use axum::Router;
use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tower::ServiceBuilder;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// No window that opened the SPA keeps a handle on it (and none it opens on its opener).
const CROSS_ORIGIN_OPENER_POLICY: &str = "same-origin";

/// Powerful features the SPA never uses, off for it and anything it could embed.
pub const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()";

/// Adds the SPA to `router` as its fallback, its pages' CSP made by `login` (it follows the
/// provider's endpoints once they are known).
pub fn serve_from(router: Router<AppState>, dir: &Path, login: Arc<Login>) -> Router<AppState> {
    let files = ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")));
    let csp = move |_: &Response<_>| Some(login.content_security_policy());
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
        .layer(axum::middleware::from_fn(cache_policy))
        .service(files);
    router.fallback_service(service)
}

/// Kept for a year and never revalidated: a file whose name carries its content's hash.
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
/// Revalidated at every load: `index.html` (whatever the path), so a new build shows at once.
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");

/// What a browser may keep: files named by their content (Trunk's `filehash`) for good, the
/// rest (the page itself, an answer for a missing file) never without asking.
async fn cache_policy(request: Request, next: Next) -> Response {
    let fingerprinted = is_fingerprinted(request.uri().path());
    let mut response = next.run(request).await;
    let keep = fingerprinted && response.status() == StatusCode::OK && !is_html(&response);
    let policy = if keep { IMMUTABLE } else { REVALIDATE };
    response.headers_mut().insert(CACHE_CONTROL, policy);
    response
}

fn is_html(response: &Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/html"))
}

/// A name as Trunk fingerprints it: `{stem}-{hash}` then an optional `_bg` (the wasm) and the
/// extension, e.g. `frontend-0f1e2d3c4b5a6978_bg.wasm`, `style-…css`. The hash is a 64-bit
/// number in hex without leading zeros: up to 16 digits, fewer now and then. Under 12 digits
/// (one build in 65,536) the file is merely revalidated, and `my-cafe.css` is never kept.
fn is_fingerprinted(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let Some((stem, _extension)) = name.rsplit_once('.') else {
        return false;
    };
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    match stem.rsplit_once('-') {
        Some((base, hash)) => {
            !base.is_empty()
                && (12..=16).contains(&hash.len())
                && hash.bytes().all(|b| b.is_ascii_hexdigit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `trunk serve` (the dev loop) sends what the API sends with the SPA, but for two things:
    /// a fresh nonce per page in `script-src`, for its live-reload script, and `https:` beside
    /// the development tenant in `connect-src` and `frame-src`, for a real tenant (Trunk.toml
    /// says why).
    #[test]
    fn trunk_serve_sends_the_apis_headers_plus_a_nonce_for_live_reload() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../Trunk.toml");
        let trunk: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
        assert_eq!(trunk["build"]["create_nonce"].as_bool(), Some(true));
        let served: Vec<&str> = trunk["serve"]["csp"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap())
            .collect();
        let at = |path: &str| format!("http://localhost:4010/{path}");
        let dev_tenant = shared::AuthConfig {
            domain: "localhost:4010".into(),
            issuer: at(""),
            provider: shared::Provider::OpenId,
            endpoints: shared::Endpoints {
                authorization: at("authorize"),
                token: at("oauth/token"),
                userinfo: Some(at("userinfo")),
                jwks: at(".well-known/jwks.json"),
                logout: Some(at("oidc/logout")),
                revocation: Some(at("oauth/revoke")),
            },
            iframe_renewal: true,
            client_id: "spa".into(),
            audience: "https://quickstarts/api".into(),
            scope: shared::LOGIN_SCOPE.into(),
            session_storage: Default::default(),
            login_flow: Default::default(),
            refresh_tokens: false,
            dpop: false,
        };
        let api = crate::login::content_security_policy(&dev_tenant);
        let expected: Vec<String> = api
            .split("; ")
            .map(|directive| match directive.split_once(' ') {
                Some(("script-src", _)) => format!("{directive} 'nonce-{{{{NONCE}}}}'"),
                Some(("connect-src" | "frame-src", _)) => format!("{directive} https:"),
                _ => directive.to_owned(),
            })
            .collect();
        assert_eq!(served, expected);
        let headers = trunk["serve"]["headers"].as_table().unwrap();
        // The page's CSP is the one above, with its nonce; no second, static one.
        assert!(!headers.contains_key("content-security-policy"));
        let header = |name: &str| headers[name].as_str().unwrap().to_owned();
        assert_eq!(
            header("cross-origin-opener-policy"),
            CROSS_ORIGIN_OPENER_POLICY
        );
        assert_eq!(header("permissions-policy"), PERMISSIONS_POLICY);
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert_eq!(header("x-frame-options"), "DENY");
        assert_eq!(header("referrer-policy"), "no-referrer");
    }

    #[test]
    fn only_names_with_trunks_content_hash_are_fingerprinted() {
        for name in [
            "/frontend-0f1e2d3c4b5a6978_bg.wasm",
            "/frontend-0f1e2d3c4b5a6978.js",
            "/frontend-8c630842705e625_bg.wasm",
            "/style-abcdef0123456789.css",
            "/assets/init-abcdef0123456789.js",
        ] {
            assert!(is_fingerprinted(name), "{name}");
        }
        for name in [
            "/",
            "/index.html",
            "/ping",
            "/frontend.js",
            "/frontend_bg.wasm",
            "/-abcdef0123456789.js",
            "/style-abcdef01234.css",
            "/my-cafe.css",
            "/style-abcdef012345678g.css",
            "/abcdef0123456789",
        ] {
            assert!(!is_fingerprinted(name), "{name}");
        }
    }
}
