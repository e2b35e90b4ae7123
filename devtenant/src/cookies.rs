//! The tenant's cookies: the session of a logged-in browser, and the transaction of a login
//! form being filled in. HttpOnly, on the whole tenant, for their store's lifetime.
//!
//! The session cookie has Auth0's attributes: `SameSite=None; Secure`, so that it reaches the
//! tenant's page in an app's hidden iframe (silent renewal) wherever the app is, as far as the
//! browser allows third-party cookies; and a twin without `SameSite` (Auth0's `auth0_compat`)
//! for browsers that refuse `SameSite=None`. Chromium keeps `Secure` cookies of
//! `http://localhost` and `http://127.0.0.1`, so this works on the development tenant too.

use std::time::Duration;

use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};

use crate::store::{LOGIN_LIFETIME, SESSION_LIFETIME};

pub const SESSION_COOKIE: &str = "devtenant_session";
/// The session cookie's twin for browsers that do not know `SameSite=None`.
pub const SESSION_COMPAT_COOKIE: &str = "devtenant_session_compat";
pub const LOGIN_COOKIE: &str = "devtenant_login";

fn cookie(name: &'static str, value: String, lifetime: Duration) -> Cookie<'static> {
    let max_age =
        cookie::time::Duration::try_from(lifetime).unwrap_or(cookie::time::Duration::HOUR);
    Cookie::build((name, value))
        .http_only(true)
        .secure(true)
        .path("/")
        .max_age(max_age)
        .build()
}

/// The session cookies for `id` (see the module's header), added to `jar`.
pub fn with_session(jar: CookieJar, id: String) -> CookieJar {
    let mut session = cookie(SESSION_COOKIE, id.clone(), SESSION_LIFETIME);
    session.set_same_site(SameSite::None);
    jar.add(session)
        .add(cookie(SESSION_COMPAT_COOKIE, id, SESSION_LIFETIME))
}

/// The login transaction's cookie: it ties the form to the browser it was shown to, a
/// top-level page of the tenant (`Lax` is enough).
pub fn login(id: String) -> Cookie<'static> {
    let mut login = cookie(LOGIN_COOKIE, id, LOGIN_LIFETIME);
    login.set_same_site(SameSite::Lax);
    login
}

/// The session id the browser sent, if any (from the compatibility twin when only it came).
pub fn session_id(jar: &CookieJar) -> Option<&str> {
    jar.get(SESSION_COOKIE)
        .or_else(|| jar.get(SESSION_COMPAT_COOKIE))
        .map(Cookie::value)
}

pub fn login_id(jar: &CookieJar) -> Option<&str> {
    jar.get(LOGIN_COOKIE).map(Cookie::value)
}

pub fn without_session(jar: CookieJar) -> CookieJar {
    jar.remove(Cookie::build(SESSION_COOKIE).path("/"))
        .remove(Cookie::build(SESSION_COMPAT_COOKIE).path("/"))
}

pub fn without_login(jar: CookieJar) -> CookieJar {
    jar.remove(Cookie::build(LOGIN_COOKIE).path("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_that_kept_only_the_compatibility_twin_is_still_logged_in() {
        let compat_only = CookieJar::new().add(Cookie::new(SESSION_COMPAT_COOKIE, "s1"));
        assert_eq!(session_id(&compat_only), Some("s1"));
        let both = with_session(CookieJar::new(), "s2".into());
        assert_eq!(session_id(&both), Some("s2"));
        assert_eq!(session_id(&without_session(both)), None);
    }
}
