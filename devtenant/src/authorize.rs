//! `GET /authorize` and the login form it shows (`POST /u/login`).
//!
//! The order of checks is Auth0's, and OAuth's: an unknown client or a `redirect_uri` that is
//! not one of the client's callbacks gets an error page and is never redirected to; every
//! other error goes back to the app with `error`, `error_description` and `state`.

use std::time::Duration;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::Deserialize;
use url::Url;

use crate::DevTenant;
use crate::config::{AppType, Application, User};
use crate::issue::Subject;
use crate::pages;
use crate::store::{CodeGrant, LOGIN_LIFETIME, SESSION_LIFETIME};

pub const SESSION_COOKIE: &str = "devtenant_session";
pub const LOGIN_COOKIE: &str = "devtenant_login";

pub fn router() -> Router<DevTenant> {
    Router::new()
        .route("/authorize", get(authorize))
        .route("/u/login", post(submit_login))
}

/// `/authorize`'s query, as sent; checked into an [`AuthorizationRequest`].
#[derive(Debug, Default, Deserialize)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub response_mode: Option<String>,
    pub scope: Option<String>,
    pub audience: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub prompt: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    Fragment,
    /// Silent authentication: the answer is posted to the parent window of an iframe.
    WebMessage,
}

/// Where and how the answer goes back: fixed as soon as client and callback are trusted.
#[derive(Debug, Clone)]
pub struct Reply {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub state: Option<String>,
}

/// An authorization request whose every parameter has been checked.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub reply: Reply,
    pub wants_code: bool,
    pub wants_token: bool,
    pub wants_id_token: bool,
    pub scope: String,
    pub audience: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
}

/// An OAuth error to send back to the app.
#[derive(Debug, Clone)]
pub struct AuthorizeError {
    pub error: &'static str,
    pub description: String,
}

fn oauth_error(error: &'static str, description: impl Into<String>) -> AuthorizeError {
    AuthorizeError {
        error,
        description: description.into(),
    }
}

/// Why a request cannot even be answered with a redirect: shown as an error page.
pub struct UntrustedClient {
    title: &'static str,
    detail: String,
}

impl UntrustedClient {
    fn page(&self) -> Response {
        pages::error_page(StatusCode::BAD_REQUEST, self.title, &self.detail)
    }
}

/// The client and callback, or why not: never a redirect to an unchecked URL.
fn trusted_client<'a>(
    tenant: &'a DevTenant,
    params: &AuthorizeParams,
) -> Result<&'a Application, UntrustedClient> {
    let config = tenant.config();
    let Some(client_id) = params.client_id.as_deref().filter(|c| !c.is_empty()) else {
        return Err(UntrustedClient {
            title: "Missing required parameter: client_id",
            detail: "The app did not say who it is. Check the client ID it sends to /authorize."
                .into(),
        });
    };
    let Some(app) = config.application(client_id) else {
        return Err(UntrustedClient {
            title: "Unknown client",
            detail: format!("No application has the client ID {client_id:?} on this tenant."),
        });
    };
    let redirect_uri = params.redirect_uri.as_deref().unwrap_or_default();
    if !app.allows_callback(redirect_uri) {
        return Err(UntrustedClient {
            title: "Callback URL mismatch",
            detail: format!(
                "The redirect_uri {redirect_uri:?} is not in the list of allowed callback URLs of {}. Add it to the application's callbacks in the tenant configuration.",
                app.name
            ),
        });
    }
    Ok(app)
}

impl AuthorizationRequest {
    /// Checks everything but client and callback (already trusted). Errors carry the reply
    /// to send them with.
    fn check(
        tenant: &DevTenant,
        app: &Application,
        params: &AuthorizeParams,
    ) -> Result<Self, (Reply, AuthorizeError)> {
        let response_type = params.response_type.as_deref().unwrap_or_default();
        let mut parts: Vec<&str> = response_type.split(' ').filter(|p| !p.is_empty()).collect();
        parts.sort_unstable();
        let (wants_code, wants_token, wants_id_token) = match parts.as_slice() {
            ["code"] => (true, false, false),
            ["token"] => (false, true, false),
            ["id_token"] => (false, false, true),
            ["id_token", "token"] => (false, true, true),
            _ => (false, false, false),
        };
        let default_mode = if wants_code {
            ResponseMode::Query
        } else {
            ResponseMode::Fragment
        };
        let mode = match params.response_mode.as_deref() {
            None => Ok(default_mode),
            Some("query") => Ok(ResponseMode::Query),
            Some("fragment") => Ok(ResponseMode::Fragment),
            Some("web_message") => Ok(ResponseMode::WebMessage),
            Some(other) => Err(other.to_owned()),
        };
        let mut reply = Reply {
            redirect_uri: params.redirect_uri.clone().unwrap_or_default(),
            mode: mode.clone().unwrap_or(default_mode),
            state: params.state.clone(),
        };
        let fail = |reply: &Reply, error| Err((reply.clone(), error));
        if let Err(mode) = mode {
            return fail(
                &reply,
                oauth_error(
                    "invalid_request",
                    format!("Unsupported response_mode: {mode}"),
                ),
            );
        }
        if !(wants_code || wants_token || wants_id_token) {
            return fail(
                &reply,
                oauth_error(
                    "unsupported_response_type",
                    format!("Unsupported response type: {response_type}"),
                ),
            );
        }
        if app.app_type != AppType::Spa {
            return fail(
                &reply,
                oauth_error(
                    "unauthorized_client",
                    format!(
                        "{} is a machine-to-machine application: it cannot log users in.",
                        app.name
                    ),
                ),
            );
        }
        if reply.mode == ResponseMode::Query && (wants_token || wants_id_token) {
            // Tokens in a query string end up in logs and Referer headers.
            reply.mode = ResponseMode::Fragment;
            return fail(
                &reply,
                oauth_error(
                    "invalid_request",
                    "response_mode=query is not allowed when tokens are in the response",
                ),
            );
        }
        if reply.mode == ResponseMode::WebMessage {
            let origin = origin_of(&reply.redirect_uri);
            if !origin.as_deref().is_some_and(|o| app.allows_web_origin(o)) {
                return fail(
                    &reply,
                    oauth_error(
                        "access_denied",
                        "The redirect_uri's origin is not in the application's Allowed Web Origins",
                    ),
                );
            }
        }
        let nonce = params.nonce.clone().filter(|n| !n.is_empty());
        if wants_id_token && nonce.is_none() {
            return fail(
                &reply,
                oauth_error(
                    "invalid_request",
                    "Nonce is required for implicit flows that return an id_token",
                ),
            );
        }
        let code_challenge = params.code_challenge.clone().filter(|c| !c.is_empty());
        if wants_code {
            match (&code_challenge, params.code_challenge_method.as_deref()) {
                (None, _) => {
                    return fail(
                        &reply,
                        oauth_error(
                            "invalid_request",
                            "code_challenge is required: a single-page app must use PKCE",
                        ),
                    );
                }
                (Some(_), Some("S256")) => {}
                (Some(_), method) => {
                    return fail(
                        &reply,
                        oauth_error(
                            "invalid_request",
                            format!(
                                "Unsupported code_challenge_method: {} (use S256)",
                                method.unwrap_or("plain")
                            ),
                        ),
                    );
                }
            }
            if !is_s256_challenge(code_challenge.as_deref().unwrap_or_default()) {
                return fail(
                    &reply,
                    oauth_error(
                        "invalid_request",
                        "code_challenge is not a base64url SHA-256 hash",
                    ),
                );
            }
        }
        let audience = params.audience.clone().filter(|a| !a.is_empty());
        if let Some(audience) = &audience
            && *audience != tenant.config().api.identifier
        {
            return fail(
                &reply,
                oauth_error("access_denied", format!("Service not found: {audience}")),
            );
        }
        if !matches!(
            params.prompt.as_deref(),
            None | Some("none" | "login" | "consent")
        ) {
            return fail(
                &reply,
                oauth_error("invalid_request", "Unsupported prompt: use none or login"),
            );
        }
        Ok(Self {
            client_id: app.client_id.clone(),
            reply,
            wants_code,
            wants_token,
            wants_id_token,
            scope: params.scope.clone().unwrap_or_else(|| "openid".to_owned()),
            audience,
            nonce,
            code_challenge,
        })
    }
}

/// 43 base64url characters: what BASE64URL(SHA256(verifier)) always is.
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub fn origin_of(url: &str) -> Option<String> {
    Url::parse(url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
}

async fn authorize(
    State(tenant): State<DevTenant>,
    jar: CookieJar,
    Query(params): Query<AuthorizeParams>,
) -> Response {
    let app = match trusted_client(&tenant, &params) {
        Ok(app) => app,
        Err(untrusted) => return untrusted.page(),
    };
    let request = match AuthorizationRequest::check(&tenant, app, &params) {
        Ok(request) => request,
        Err((reply, error)) => return deliver_error(&reply, &error),
    };
    let session_user = jar
        .get(SESSION_COOKIE)
        .and_then(|c| tenant.store().session_user(c.value()))
        .and_then(|id| tenant.config().user_by_id(&id).cloned());
    match (params.prompt.as_deref(), session_user) {
        (Some("none"), None) => deliver_error(
            &request.reply,
            &oauth_error("login_required", "Login required"),
        ),
        (Some("login"), _) | (_, None) => show_login(&tenant, jar, request),
        (_, Some(user)) => complete(&tenant, &request, &user),
    }
}

fn show_login(tenant: &DevTenant, jar: CookieJar, request: AuthorizationRequest) -> Response {
    let app_name = tenant
        .config()
        .application(&request.client_id)
        .map(|a| a.name.clone())
        .unwrap_or_default();
    let (id, login) = tenant.store().start_login(request);
    let cookie = cookie(tenant, LOGIN_COOKIE, id, LOGIN_LIFETIME);
    let page = pages::login_page(tenant.config(), &app_name, &login.csrf, None);
    (jar.add(cookie), page).into_response()
}

fn cookie(
    tenant: &DevTenant,
    name: &'static str,
    value: String,
    lifetime: Duration,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(tenant.issuer().starts_with("https://"))
        .path("/")
        .max_age(cookie::time::Duration::try_from(lifetime).unwrap_or(cookie::time::Duration::HOUR))
        .build()
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
    let login_id = jar.get(LOGIN_COOKIE).map(|c| c.value().to_owned());
    let login = login_id.as_deref().and_then(|id| tenant.store().login(id));
    let (Some(login_id), Some(login)) = (login_id, login) else {
        return pages::error_page(
            StatusCode::FORBIDDEN,
            "Login expired",
            "This login form has expired or was not opened in this browser. Go back to the app and log in again.",
        );
    };
    if verify_slices_are_equal(login.csrf.as_bytes(), form.csrf.as_bytes()).is_err() {
        return pages::error_page(
            StatusCode::FORBIDDEN,
            "Invalid login form",
            "The form was not submitted from this tenant's login page. Go back to the app and log in again.",
        );
    }
    if form.action == "cancel" {
        tenant.store().finish_login(&login_id);
        return deliver_error(
            &login.request.reply,
            &oauth_error("access_denied", "User did not authorize the request"),
        );
    }
    let user = tenant
        .config()
        .user_by_email(&form.email)
        .filter(|u| {
            verify_slices_are_equal(u.password.as_bytes(), form.password.as_bytes()).is_ok()
        })
        .cloned();
    let Some(user) = user else {
        let app_name = tenant
            .config()
            .application(&login.request.client_id)
            .map(|a| a.name.clone())
            .unwrap_or_default();
        let page = pages::login_page(
            tenant.config(),
            &app_name,
            &login.csrf,
            Some(form.email.as_str()),
        );
        return (StatusCode::UNAUTHORIZED, page).into_response();
    };
    let session = {
        let mut store = tenant.store();
        store.finish_login(&login_id);
        store.create_session(&user.user_id())
    };
    let jar = jar
        .remove(Cookie::build(LOGIN_COOKIE).path("/"))
        .add(cookie(&tenant, SESSION_COOKIE, session, SESSION_LIFETIME));
    (jar, complete(&tenant, &login.request, &user)).into_response()
}

/// The user is known: issue what was asked (code, tokens) and send it back.
fn complete(tenant: &DevTenant, request: &AuthorizationRequest, user: &User) -> Response {
    let scopes = tenant.granted_scopes(&request.scope, user, request.audience.as_deref());
    let mut params: Vec<(&str, String)> = Vec::new();
    if request.wants_code {
        let code = tenant.store().create_code(CodeGrant {
            client_id: request.client_id.clone(),
            redirect_uri: request.reply.redirect_uri.clone(),
            user_id: user.user_id(),
            scopes: scopes.clone(),
            audience: request.audience.clone(),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            expires: std::time::Instant::now() + crate::store::CODE_LIFETIME,
        });
        params.push(("code", code));
    }
    let lifetime = tenant.config().api.browser_token_lifetime_secs;
    let subject = Subject {
        client_id: &request.client_id,
        user: Some(user),
    };
    let access_token = request
        .wants_token
        .then(|| tenant.access_token(&subject, &scopes, request.audience.as_deref(), lifetime));
    if let Some(token) = &access_token {
        params.push(("access_token", token.clone()));
        params.push(("scope", scopes.join(" ")));
        params.push(("expires_in", lifetime.to_string()));
        params.push(("token_type", "Bearer".to_owned()));
    }
    if request.wants_id_token {
        let id_token = tenant.id_token(
            &request.client_id,
            user,
            &scopes,
            request.nonce.as_deref(),
            access_token.as_deref(),
        );
        params.push(("id_token", id_token));
    }
    deliver(&request.reply, params)
}

pub fn deliver_error(reply: &Reply, error: &AuthorizeError) -> Response {
    deliver(
        reply,
        vec![
            ("error", error.error.to_owned()),
            ("error_description", error.description.clone()),
        ],
    )
}

/// Sends the answer back as the response mode says, with `state` exactly as it came.
pub fn deliver(reply: &Reply, mut params: Vec<(&str, String)>) -> Response {
    if let Some(state) = &reply.state {
        params.push(("state", state.clone()));
    }
    match reply.mode {
        ResponseMode::WebMessage => {
            let origin = origin_of(&reply.redirect_uri).unwrap_or_default();
            pages::web_message_page(&origin, &params)
        }
        ResponseMode::Query | ResponseMode::Fragment => {
            let encoded = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
                .finish();
            let mut location = reply.redirect_uri.clone();
            if reply.mode == ResponseMode::Query {
                location.push(if location.contains('?') { '&' } else { '?' });
            } else {
                location.push('#');
            }
            location.push_str(&encoded);
            Redirect::to(&location).into_response()
        }
    }
}
