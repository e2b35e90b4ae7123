//! The tenant's cookies: the session of a logged-in browser, and the transaction of a login
//! form being filled in. HttpOnly, on the whole tenant, for their store's lifetime.

use std::time::Duration;

use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};

use crate::store::{LOGIN_LIFETIME, SESSION_LIFETIME};

pub const SESSION_COOKIE: &str = "devtenant_session";
pub const LOGIN_COOKIE: &str = "devtenant_login";

fn cookie(name: &'static str, value: String, lifetime: Duration, secure: bool) -> Cookie<'static> {
    let max_age =
        cookie::time::Duration::try_from(lifetime).unwrap_or(cookie::time::Duration::HOUR);
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path("/")
        .max_age(max_age)
        .build()
}

/// The session cookie for `id`; `secure` when the tenant is served over https.
pub fn session(id: String, secure: bool) -> Cookie<'static> {
    cookie(SESSION_COOKIE, id, SESSION_LIFETIME, secure)
}

/// The login transaction's cookie: it ties the form to the browser it was shown to.
pub fn login(id: String, secure: bool) -> Cookie<'static> {
    cookie(LOGIN_COOKIE, id, LOGIN_LIFETIME, secure)
}

/// The session id the browser sent, if any.
pub fn session_id(jar: &CookieJar) -> Option<&str> {
    jar.get(SESSION_COOKIE).map(Cookie::value)
}

pub fn login_id(jar: &CookieJar) -> Option<&str> {
    jar.get(LOGIN_COOKIE).map(Cookie::value)
}

pub fn without_session(jar: CookieJar) -> CookieJar {
    jar.remove(Cookie::build(SESSION_COOKIE).path("/"))
}

pub fn without_login(jar: CookieJar) -> CookieJar {
    jar.remove(Cookie::build(LOGIN_COOKIE).path("/"))
}
