//! The way back from the provider's logout (RP-Initiated Logout 1.0): the `state` this tab
//! sent is kept in sessionStorage for the round trip, and the return counts as this tab's
//! logout only if it brings that `state` back, within ten minutes. Anything else in the
//! address bar is ignored (and taken out of it).

use shared::oauth::constant_time_eq;

use super::callback::PENDING_LOGIN_LIFETIME_SECS;

/// A logout sent to the provider and not come back yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLogout {
    pub state: String,
    /// When the logout started, in seconds since the epoch.
    pub started_at: u64,
}

impl PendingLogout {
    /// As stored: `{started_at} {state}` (plain text: serde's derives for two fields would
    /// weigh more in the bundle than this).
    pub fn to_stored(&self) -> String {
        format!("{} {}", self.started_at, self.state)
    }

    /// What [`PendingLogout::to_stored`] wrote, if it reads as that.
    pub fn from_stored(stored: &str) -> Option<Self> {
        let (started_at, state) = stored.split_once(' ')?;
        Some(Self {
            state: state.to_owned(),
            started_at: started_at.parse().ok()?,
        })
    }
}

/// Whether `query` (the address bar's, without `?`) is the provider's return from `pending`.
pub fn is_return_of(query: &str, pending: Option<&PendingLogout>, now: u64) -> bool {
    let Some(pending) = pending else {
        return false;
    };
    let fresh = now.saturating_sub(pending.started_at) <= PENDING_LOGIN_LIFETIME_SECS;
    let mut states = form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k == "state");
    let state = states.next();
    fresh
        && states.next().is_none()
        && state.is_some_and(|(_, s)| constant_time_eq(s.as_bytes(), pending.state.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_000_000;

    fn pending() -> PendingLogout {
        PendingLogout {
            state: "logout-1".into(),
            started_at: NOW - 5,
        }
    }

    #[test]
    fn a_pending_logout_reads_back_as_stored() {
        let stored = pending().to_stored();
        assert_eq!(PendingLogout::from_stored(&stored), Some(pending()));
        for broken in ["", "logout-1", "soon logout-1"] {
            assert_eq!(PendingLogout::from_stored(broken), None, "{broken}");
        }
    }

    #[test]
    fn only_this_tabs_state_brought_back_in_time_is_its_logout() {
        assert!(is_return_of("state=logout-1", Some(&pending()), NOW));
        assert!(!is_return_of("state=logout-2", Some(&pending()), NOW));
        assert!(!is_return_of("state=logout-1", None, NOW));
        assert!(!is_return_of("", Some(&pending()), NOW));
        assert!(!is_return_of(
            "state=logout-1&state=x",
            Some(&pending()),
            NOW
        ));
        let old = PendingLogout {
            started_at: NOW - PENDING_LOGIN_LIFETIME_SECS - 1,
            ..pending()
        };
        assert!(!is_return_of("state=logout-1", Some(&old), NOW));
    }
}
