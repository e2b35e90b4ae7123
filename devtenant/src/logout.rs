//! `GET /v2/logout?client_id=&returnTo=`: ends the tenant session and goes back to the app,
//! but only to one of its Allowed Logout URLs.

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
    Router::new().route("/v2/logout", get(logout))
}

#[derive(Deserialize)]
struct LogoutParams {
    client_id: Option<String>,
    #[serde(rename = "returnTo")]
    return_to: Option<String>,
}

async fn logout(
    State(tenant): State<DevTenant>,
    jar: CookieJar,
    Query(params): Query<LogoutParams>,
) -> Response {
    let config = tenant.config();
    let return_to = params.return_to.filter(|r| !r.is_empty());
    // Check before ending the session: a bad returnTo is a mistake to show, not to follow.
    if let Some(return_to) = &return_to {
        let allowed = match params.client_id.as_deref() {
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
    match return_to {
        Some(url) => (jar, Redirect::to(&url)).into_response(),
        None => (jar, pages::logged_out_page()).into_response(),
    }
}
