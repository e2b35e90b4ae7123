//! The tenant's HTML: the login page, error pages, the silent-auth answer and a home page that
//! says what this tenant is. maud escapes everything interpolated, so no value from a request
//! can become markup.

use axum::Router;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, X_FRAME_OPTIONS};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde_json::{Map, Value};

use crate::config::TenantConfig;
use crate::tenant::DevTenant;

/// No scripts, no framing, nothing from elsewhere; inline styles only; no form may post
/// anywhere (`default-src` does not cover `form-action`).
const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The login page's: its form posts here, and the answer redirects to the app's callback, whose
/// origin browsers check against `form-action` too.
fn login_csp(app_origin: &str) -> String {
    PAGE_CSP.replace(
        "form-action 'none'",
        &format!("form-action 'self' {app_origin}"),
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1d2330;line-height:1.5}\
h1{font-size:1.4rem}.card{border:1px solid #d6dae3;border-radius:8px;padding:1.5rem;margin:1rem 0}\
label{display:block;margin:.6rem 0 .2rem}input{width:100%;padding:.5rem;box-sizing:border-box;font-size:1rem}\
button{padding:.55rem 1.2rem;font-size:1rem;margin:1rem .5rem 0 0;border-radius:6px;border:1px solid #635dff;background:#635dff;color:#fff;cursor:pointer}\
button.secondary{background:#fff;color:#635dff}.error{color:#b00020;font-weight:600}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eee}\
code{background:#f3f4f8;padding:0 .25rem;border-radius:3px}.badge{font-size:.8rem;background:#fff3cd;border-radius:4px;padding:.1rem .4rem}";

pub fn router() -> Router<DevTenant> {
    Router::new().route("/", get(home))
}

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    }
}

/// A page of the tenant's: never framed, never cached (it may hold a CSRF token, a user's
/// email, a login's state).
fn page(status: StatusCode, markup: Markup) -> Response {
    page_with_csp(status, HeaderValue::from_static(PAGE_CSP), markup)
}

fn page_with_csp(status: StatusCode, csp: HeaderValue, markup: Markup) -> Response {
    (
        status,
        [
            (CONTENT_SECURITY_POLICY, csp),
            (X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        markup,
    )
        .into_response()
}

/// An error the user sees on the tenant, for requests that must not be redirected back.
pub fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    page(
        status,
        layout(
            title,
            html! {
                h1 { "Oops, something went wrong" }
                div.card {
                    p.error { (title) }
                    p { (detail) }
                }
            },
        ),
    )
}

/// The demo users, with their passwords: this tenant is for development only.
fn users_table(config: &TenantConfig) -> Markup {
    html! {
        table {
            tr { th { "Email" } th { "Password" } th { "Permissions" } }
            @for user in &config.users {
                tr {
                    td { code { (user.email) } }
                    td { code { (user.password) } }
                    td {
                        @if user.permissions.is_empty() { "none" }
                        @else { (user.permissions.join(", ")) }
                    }
                }
            }
        }
    }
}

/// What the login page shows and where its form may lead.
pub struct LoginForm<'a> {
    pub app_name: &'a str,
    /// The origin of the app's callback, where the form's answer redirects.
    pub app_origin: &'a str,
    pub csrf: &'a str,
    /// After a wrong password: the email tried.
    pub failed_email: Option<&'a str>,
}

/// The login form: no JavaScript, CSRF token in a hidden field, the demo users listed.
pub fn login_page(config: &TenantConfig, form: &LoginForm<'_>) -> Response {
    let LoginForm {
        app_name,
        app_origin,
        csrf,
        failed_email,
    } = form;
    let markup = layout(
        "Log in",
        html! {
            h1 { "Log in to " (config.tenant.name) }
            p { "to continue to " strong { (app_name) } " " span.badge { "development tenant" } }
            div.card {
                @if failed_email.is_some() {
                    p.error role="alert" { "Wrong email or password." }
                }
                form method="post" action="/u/login" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="email" { "Email address" }
                    input id="email" type="email" name="email" autocomplete="username"
                        value=(failed_email.unwrap_or_default()) required autofocus;
                    label for="password" { "Password" }
                    input id="password" type="password" name="password" autocomplete="current-password" required;
                    button type="submit" name="action" value="login" { "Continue" }
                    button.secondary type="submit" name="action" value="cancel" formnovalidate { "Cancel" }
                }
            }
            h2 { "Demo users" }
            p { "This tenant runs on your machine for development; these are its only users." }
            (users_table(config))
        },
    );
    // An origin is ASCII without quotes or semicolons: it cannot bend the policy.
    let csp = HeaderValue::from_str(&login_csp(app_origin))
        .unwrap_or_else(|_| HeaderValue::from_static(PAGE_CSP));
    page_with_csp(StatusCode::OK, csp, markup)
}

/// `response_mode=web_message`: the page posts the answer to the window that framed it, and
/// only to the app's origin (checked against its Allowed Web Origins before this point).
pub fn web_message_page(origin: &str, params: &[(&str, String)]) -> Response {
    let response: Map<String, Value> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
        .collect();
    let message = serde_json::json!({"type": "authorization_response", "response": response});
    // JSON inside a <script>: `<` escaped so no value can close the element.
    let data = |value: &Value| value.to_string().replace('<', "\\u003c");
    let script = format!(
        "(function(){{var target={};var message={};(window.opener||window.parent).postMessage(message,target);}})();",
        data(&Value::String(origin.to_owned())),
        data(&message)
    );
    let hash = {
        use base64::Engine as _;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, script.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    };
    let csp = format!("default-src 'none'; script-src 'sha256-{hash}'");
    // No style: nothing is shown, and an inline one would break this page's own CSP (the
    // browser would report a violation on every silent renewal).
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { "Authorization response" } }
            body { script { (PreEscaped(script)) } }
        }
    };
    (
        [
            (
                CONTENT_SECURITY_POLICY,
                HeaderValue::from_str(&csp).expect("a CSP of ASCII"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        markup,
    )
        .into_response()
}

pub fn logged_out_page() -> Response {
    page(
        StatusCode::OK,
        layout(
            "Logged out",
            html! {
                h1 { "You are logged out" }
                p { "Your session on the development tenant has ended." }
            },
        ),
    )
}

/// `/`: what this tenant is and how to use it.
async fn home(State(tenant): State<DevTenant>) -> Response {
    let config = tenant.config();
    let issuer = tenant.issuer();
    let markup = layout(
        &config.tenant.name,
        html! {
            h1 { (config.tenant.name) " " span.badge { "development tenant" } }
            p { "An Auth0-compatible authorization server running on your machine, for development and tests only." }
            div.card {
                p { "Issuer: " code { (issuer) } }
                p { "API: " (config.api.name) " — audience " code { (config.api.identifier) } }
                p {
                    "Endpoints: "
                    code { "/authorize" } ", " code { "/oauth/token" } ", " code { "/userinfo" } ", "
                    code { "/v2/logout" } ", " code { "/.well-known/jwks.json" } ", "
                    code { "/.well-known/openid-configuration" }
                }
            }
            h2 { "Applications" }
            table {
                tr { th { "Name" } th { "Client ID" } th { "Type" } }
                @for app in &config.applications {
                    tr { td { (app.name) } td { code { (app.client_id) } } td { (format!("{:?}", app.app_type)) } }
                }
            }
            h2 { "Users" }
            (users_table(config))
        },
    );
    page(StatusCode::OK, markup)
}
