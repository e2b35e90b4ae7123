//! `GET /authorize` and the login form it shows (`POST /u/login`).
//!
//! The order of checks is Auth0's, and OAuth's: an unknown client or a `redirect_uri` that is
//! not one of the client's callbacks gets an error page and is never redirected to; every
//! other error goes back to the app with `error`, `error_description` and `state`.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use crate::config::{Application, TenantConfig, User};
use crate::cookies;
use crate::issue::{self, Subject};
use crate::keys::same_secret;
use crate::pages;
use crate::request::{
    AuthorizationRequest, AuthorizeError, AuthorizeParams, Reply, ResponseMode, origin_of,
};
use crate::store::CodeGrant;
use crate::tenant::DevTenant;

pub fn router() -> Router<DevTenant> {
    Router::new()
        .route("/authorize", get(authorize))
        .route("/u/login", post(submit_login))
}

/// Why a request cannot even be answered with a redirect: shown as an error page.
struct Untrusted {
    title: &'static str,
    detail: String,
}

impl IntoResponse for Untrusted {
    fn into_response(self) -> Response {
        pages::error_page(StatusCode::BAD_REQUEST, self.title, &self.detail)
    }
}

/// The client and callback, or why not: never a redirect to an unchecked URL.
fn trusted_client<'a>(
    config: &'a TenantConfig,
    params: &AuthorizeParams,
) -> Result<&'a Application, Untrusted> {
    let Some(client_id) = params.client_id.as_deref().filter(|c| !c.is_empty()) else {
        return Err(Untrusted {
            title: "Missing required parameter: client_id",
            detail: "The app did not say who it is. Check the client ID it sends to /authorize."
                .into(),
        });
    };
    let Some(app) = config.application(client_id) else {
        return Err(Untrusted {
            title: "Unknown client",
            detail: format!("No application has the client ID {client_id:?} on this tenant."),
        });
    };
    let redirect_uri = params.redirect_uri.as_deref().unwrap_or_default();
    if !app.allows_callback(redirect_uri) {
        return Err(Untrusted {
            title: "Callback URL mismatch",
            detail: format!(
                "The redirect_uri {redirect_uri:?} is not in the list of allowed callback URLs of {}. Add it to the application's callbacks in the tenant configuration.",
                app.name
            ),
        });
    }
    Ok(app)
}

async fn authorize(
    State(tenant): State<DevTenant>,
    jar: CookieJar,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match AuthorizeParams::from_query(query.as_deref().unwrap_or_default()) {
        Ok(params) => params,
        Err(duplicate) => {
            let detail = format!("{duplicate}: send each parameter once.");
            return pages::error_page(StatusCode::BAD_REQUEST, "Invalid request", &detail);
        }
    };
    let app = match trusted_client(tenant.config(), &params) {
        Ok(app) => app,
        Err(untrusted) => return untrusted.into_response(),
    };
    let request = match AuthorizationRequest::check(tenant.config(), app, &params) {
        Ok(request) => request,
        Err((reply, error)) => return deliver_error(&reply, &error),
    };
    if request.silent {
        tokio::time::sleep(tenant.authorize_faults().silent_delay()).await;
    }
    let session_user = cookies::session_id(&jar)
        .and_then(|id| tenant.store().session_user(id))
        .and_then(|id| tenant.config().user_by_id(&id).cloned());
    match session_user {
        Some(user) if !request.force_login => complete(&tenant, &request, &user),
        _ if request.silent => deliver_error(&request.reply, &AuthorizeError::LoginRequired),
        _ => show_login(&tenant, jar, request),
    }
}

fn show_login(tenant: &DevTenant, jar: CookieJar, request: AuthorizationRequest) -> Response {
    let (id, csrf) = tenant.store().start_login(request.clone());
    (
        jar.add(cookies::login(id)),
        login_form(tenant, &request, &csrf, None),
    )
        .into_response()
}

/// The login page for `request`: the app it names, the origin its answer goes to.
fn login_form(
    tenant: &DevTenant,
    request: &AuthorizationRequest,
    csrf: &str,
    failed_email: Option<&str>,
) -> Response {
    let app_name = tenant
        .config()
        .application(&request.client_id)
        .map_or("", |a| a.name.as_str());
    let app_origin = origin_of(&request.reply.redirect_uri).unwrap_or_default();
    let form = pages::LoginForm {
        app_name,
        app_origin: &app_origin,
        csrf,
        failed_email,
    };
    pages::login_page(tenant.config(), &form)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    action: String,
}

async fn submit_login(
    State(tenant): State<DevTenant>,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    // The form must come from the page this tenant served to this browser: the login cookie
    // names the transaction, and the transaction's CSRF token must match the form's.
    let login_id = cookies::login_id(&jar).map(str::to_owned);
    let login = login_id.as_deref().and_then(|id| tenant.store().login(id));
    let (Some(login_id), Some(login)) = (login_id, login) else {
        return pages::error_page(
            StatusCode::FORBIDDEN,
            "Login expired",
            "This login form has expired or was not opened in this browser. Go back to the app and log in again.",
        );
    };
    if !same_secret(&login.csrf, &form.csrf) {
        return pages::error_page(
            StatusCode::FORBIDDEN,
            "Invalid login form",
            "The form was not submitted from this tenant's login page. Go back to the app and log in again.",
        );
    }
    if form.action == "cancel" {
        tenant.store().finish_login(&login_id);
        return deliver_error(&login.request.reply, &AuthorizeError::Cancelled);
    }
    let Some(user) = authenticate(tenant.config(), &form.email, &form.password) else {
        return wrong_password(&tenant, &login_id, &login.request, &login.csrf, &form.email);
    };
    tenant.store().finish_login(&login_id);
    // A login replaces the browser's session: the old one ends (prompt=login included).
    if let Some(old) = cookies::session_id(&jar) {
        tenant.store().end_session(old);
    }
    let session = tenant.store().create_session(&user.user_id());
    let jar = cookies::with_session(cookies::without_login(jar), session);
    (jar, complete(&tenant, &login.request, user)).into_response()
}

/// The user whose email and password these are. As much work whether the email is known or
/// not, and comparisons that tell nothing of the password's length.
fn authenticate<'a>(config: &'a TenantConfig, email: &str, password: &str) -> Option<&'a User> {
    let user = config.user_by_email(email);
    let expected = user.map_or("not anyone's password", |u| u.password.as_str());
    let matches = same_secret(expected, password);
    user.filter(|_| matches)
}

/// The form again, unless this login has had too many wrong passwords.
fn wrong_password(
    tenant: &DevTenant,
    login_id: &str,
    request: &AuthorizationRequest,
    csrf: &str,
    email: &str,
) -> Response {
    if !tenant.store().fail_login(login_id) {
        return pages::error_page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            "This login had too many wrong passwords. Go back to the app and log in again.",
        );
    }
    let page = login_form(tenant, request, csrf, Some(email));
    (StatusCode::UNAUTHORIZED, page).into_response()
}

/// The user is known: issue what was asked (code, tokens) and send it back.
fn complete(tenant: &DevTenant, request: &AuthorizationRequest, user: &User) -> Response {
    let scopes = issue::granted_scopes(
        tenant.config(),
        &request.scope,
        user,
        request.audience.as_deref(),
    );
    let mut params: Vec<(&str, String)> = Vec::new();
    if request.response_type.code {
        let code = tenant.store().create_code(CodeGrant {
            client_id: request.client_id.clone(),
            redirect_uri: request.reply.redirect_uri.clone(),
            user_id: user.user_id(),
            scopes: scopes.clone(),
            audience: request.audience.clone(),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            dpop_jkt: request.dpop_jkt.clone(),
        });
        params.push(("code", code));
    }
    let lifetime = tenant.config().api.browser_token_lifetime_secs;
    let subject = Subject {
        client_id: &request.client_id,
        user: Some(user),
    };
    let audience = request.audience.as_deref();
    let access_token = request
        .response_type
        .token
        .then(|| issue::access_token(tenant, &subject, &scopes, audience, lifetime, None));
    if let Some(token) = &access_token {
        params.push(("access_token", token.clone()));
        params.push(("scope", scopes.join(" ")));
        params.push(("expires_in", lifetime.to_string()));
        params.push(("token_type", "Bearer".to_owned()));
    }
    if request.response_type.id_token {
        let nonce = request.nonce.as_deref();
        let id_token = issue::id_token(
            tenant,
            &request.client_id,
            user,
            &scopes,
            nonce,
            access_token.as_deref(),
        );
        params.push(("id_token", id_token));
    }
    deliver(&request.reply, params)
}

pub fn deliver_error(reply: &Reply, error: &AuthorizeError) -> Response {
    let params = vec![
        ("error", error.code().to_owned()),
        ("error_description", error.to_string()),
    ];
    deliver(reply, params)
}

/// Sends the answer back as the response mode says, with `state` exactly as it came.
pub fn deliver(reply: &Reply, mut params: Vec<(&str, String)>) -> Response {
    if let Some(state) = &reply.state {
        params.push(("state", state.clone()));
    }
    if reply.mode == ResponseMode::WebMessage {
        let origin = origin_of(&reply.redirect_uri).unwrap_or_default();
        return pages::web_message_page(&origin, &params);
    }
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    let mut location = reply.redirect_uri.clone();
    match reply.mode {
        ResponseMode::Query if location.contains('?') => location.push('&'),
        ResponseMode::Query => location.push('?'),
        _ => location.push('#'),
    }
    location.push_str(&encoded);
    Redirect::to(&location).into_response()
}

#[cfg(test)]
mod tests {
    use axum::http::header::LOCATION;

    use super::*;

    fn location(redirect_uri: &str, mode: ResponseMode) -> String {
        let reply = Reply {
            redirect_uri: redirect_uri.into(),
            mode,
            state: Some("s t".into()),
        };
        let answer = deliver(&reply, vec![("code", "c".into())]);
        answer.headers()[LOCATION].to_str().unwrap().to_owned()
    }

    /// A registered callback may carry a query of its own: the answer joins it with `&`.
    #[test]
    fn the_answer_joins_the_callbacks_own_query() {
        let plain = "http://localhost:3000/callback";
        let with_query = "http://localhost:3000/callback?tab=1";
        assert_eq!(
            location(plain, ResponseMode::Query),
            format!("{plain}?code=c&state=s+t")
        );
        assert_eq!(
            location(with_query, ResponseMode::Query),
            format!("{with_query}&code=c&state=s+t")
        );
        assert_eq!(
            location(with_query, ResponseMode::Fragment),
            format!("{with_query}#code=c&state=s+t")
        );
    }
}
