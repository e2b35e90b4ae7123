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
}

impl Session {
    /// Past `expires_at` the session counts as logged out.
    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(expires_at: u64) -> Session {
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
        }
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
