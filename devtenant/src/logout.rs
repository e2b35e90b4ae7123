//! Logout, Auth0's two ways: `GET /v2/logout?client_id=&returnTo=` and OpenID Connect
//! RP-Initiated Logout 1.0, `GET /oidc/logout?client_id=&post_logout_redirect_uri=&state=`
//! (what discovery announces as `end_session_endpoint`). Both end the tenant session and go
//! back to the app, but only to one of its Allowed Logout URLs; the second hands `state` back.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use crate::cookies;
use crate::pages;
use crate::tenant::DevTenant;

pub fn router() -> Router<DevTenant> {
    Router::new()
        .route("/v2/logout", get(logout))
        .route("/oidc/logout", get(oidc_logout))
}

#[derive(Deserialize)]
struct LogoutParams {
    client_id: Option<String>,
    #[serde(rename = "returnTo")]
    return_to: Option<String>,
}

/// RP-Initiated Logout 1.0 §2. `id_token_hint` and `logout_hint` are taken and not needed:
/// the browser's session cookie says whose session ends.
#[derive(Deserialize)]
struct OidcLogoutParams {
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

async fn logout(
    State(tenant): State<DevTenant>,
    jar: CookieJar,
    Query(params): Query<LogoutParams>,
) -> Response {
    end_session(
        &tenant,
        jar,
        params.client_id.as_deref(),
        params.return_to,
        None,
    )
}

async fn oidc_logout(
    State(tenant): State<DevTenant>,
    jar: CookieJar,
    Query(params): Query<OidcLogoutParams>,
) -> Response {
    let state = params.state.filter(|s| !s.is_empty());
    if state
        .as_ref()
        .is_some_and(|s| s.len() > crate::request::MAX_STATE_LEN)
    {
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "The state parameter is too long.",
        );
    }
    let redirect = params.post_logout_redirect_uri;
    end_session(&tenant, jar, params.client_id.as_deref(), redirect, state)
}

/// Ends the browser's session on the tenant and goes back to `return_to` (with `state`, for
/// RP-Initiated Logout) if the application allows it as a logout URL.
fn end_session(
    tenant: &DevTenant,
    jar: CookieJar,
    client_id: Option<&str>,
    return_to: Option<String>,
    state: Option<String>,
) -> Response {
    let config = tenant.config();
    let return_to = return_to.filter(|r| !r.is_empty());
    // Check before ending the session: a bad returnTo is a mistake to show, not to follow.
    if let Some(return_to) = &return_to {
        let allowed = match client_id {
            Some(client_id) => match config.application(client_id) {
                Some(app) => app.allows_logout_url(return_to),
                None => {
                    return pages::error_page(
                        StatusCode::BAD_REQUEST,
                        "Unknown client",
                        &format!("No application has the client ID {client_id:?} on this tenant."),
                    );
                }
            },
            // Without a client, the tenant-wide list: every application's logout URLs.
            None => config
                .applications
                .iter()
                .any(|a| a.allows_logout_url(return_to)),
        };
        if !allowed {
            return pages::error_page(
                StatusCode::BAD_REQUEST,
                "Logout URL not allowed",
                &format!(
                    "The returnTo URL {return_to:?} is not in the application's Allowed Logout URLs. Add it to logout_urls in the tenant configuration."
                ),
            );
        }
    }
    if let Some(session) = cookies::session_id(&jar) {
        tenant.store().end_session(session);
    }
    let jar = cookies::without_session(jar);
    match (return_to, state) {
        (Some(url), Some(state)) => {
            let mut url = url::Url::parse(&url).expect("an allowed logout URL parses");
            url.query_pairs_mut().append_pair("state", &state);
            (jar, Redirect::to(url.as_str())).into_response()
        }
        (Some(url), None) => (jar, Redirect::to(&url)).into_response(),
        (None, _) => (jar, pages::logged_out_page()).into_response(),
    }
}
