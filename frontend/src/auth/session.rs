//! The logged-in session, as stored between reloads: the access token, its expiry, and who
//! logged in. The ID token is not kept: it is checked at login and nothing reads it after.

use serde::{Deserialize, Serialize};

use super::id_token::IdClaims;

/// Who is logged in, from the verified ID token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub sub: String,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub picture: Option<String>,
    pub email: Option<String>,
}

impl Profile {
    pub fn from_claims(claims: &IdClaims) -> Self {
        Self {
            sub: claims.sub.clone(),
            name: claims.name.clone(),
            nickname: claims.nickname.clone(),
            picture: claims.picture.clone(),
            email: claims.email.clone(),
        }
    }

    /// What to call the user.
    pub fn display_name(&self) -> &str {
        self.name
            .as_deref()
            .or(self.nickname.as_deref())
            .or(self.email.as_deref())
            .unwrap_or(&self.sub)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub access_token: String,
    /// Seconds since the epoch after which the access token is no longer good.
    pub expires_at: u64,
    pub profile: Profile,
    /// The code flow's refresh token, when it asked for one: spent at the next renewal, which
    /// brings its successor (rotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// DPoP: the thumbprint of the key the tokens are bound to (the key itself stays in
    /// WebCrypto, see `crate::dpop`). `None`: bearer tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
}

/// How long before its expiry a session is renewed: time for a renewal (an iframe's round
/// trip, or a refresh-token grant) to complete before the token stops working.
pub const RENEW_MARGIN_SECS: u64 = 60;

impl Session {
    /// Past `expires_at` the session counts as logged out.
    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }

    /// Within [`RENEW_MARGIN_SECS`] of its expiry (or past it): time to renew.
    pub fn needs_renewal(&self, now: u64) -> bool {
        now.saturating_add(RENEW_MARGIN_SECS) >= self.expires_at
    }

    /// Seconds from `now` until the session should be renewed.
    pub fn renew_in(&self, now: u64) -> u64 {
        self.expires_at
            .saturating_sub(RENEW_MARGIN_SECS)
            .saturating_sub(now)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A session of `auth0|1` ("ada") expiring at `expires_at`, for tests.
    pub(crate) fn session(expires_at: u64) -> Session {
        Session {
            access_token: "at".into(),
            expires_at,
            profile: Profile {
                sub: "auth0|1".into(),
                name: None,
                nickname: Some("ada".into()),
                picture: None,
                email: None,
            },
            refresh_token: None,
            dpop_jkt: None,
        }
    }

    #[test]
    fn renewal_is_due_a_margin_before_expiry() {
        let s = session(1_000);
        assert!(!s.needs_renewal(1_000 - RENEW_MARGIN_SECS - 1));
        assert!(s.needs_renewal(1_000 - RENEW_MARGIN_SECS));
        assert!(s.needs_renewal(2_000));
        assert_eq!(s.renew_in(900), 1_000 - RENEW_MARGIN_SECS - 900);
        assert_eq!(s.renew_in(999), 0);
        assert_eq!(session(10).renew_in(0), 0);
    }

    #[test]
    fn expires_at_expires_at() {
        assert!(!session(100).is_expired(99));
        assert!(session(100).is_expired(100));
    }

    #[test]
    fn display_name_falls_back_to_what_there_is() {
        assert_eq!(session(1).profile.display_name(), "ada");
    }
}
