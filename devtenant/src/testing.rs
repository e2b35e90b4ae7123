//! What tests of this tenant's clients need besides the tenant: the built-in clients' IDs,
//! the hashes a client computes, and reading the login form. Plain functions, no HTTP client,
//! so any test can drive the tenant with its own.

pub use crate::issue::{at_hash, now, s256_challenge};

/// The built-in configuration's single-page app (`devtenant.toml`).
pub const SPA_CLIENT_ID: &str = "rustquickstartspa000000000000000";
/// The built-in configuration's machine-to-machine client and its secret.
pub const M2M_CLIENT_ID: &str = "rustquickstartm2m000000000000000";
pub const M2M_CLIENT_SECRET: &str = "dev-secret-not-for-production";
/// The built-in API's identifier.
pub const AUDIENCE: &str = "https://quickstarts/api";

/// The CSRF token of the login form in `html`.
pub fn csrf_of(html: &str) -> Option<&str> {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker)? + marker.len();
    let len = html[start..].find('"')?;
    Some(&html[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TenantConfig;

    #[test]
    fn the_constants_are_the_built_in_configurations() {
        let config = TenantConfig::builtin();
        assert_eq!(config.spa().client_id, SPA_CLIENT_ID);
        let m2m = config.application(M2M_CLIENT_ID).unwrap();
        assert_eq!(m2m.client_secret.as_deref(), Some(M2M_CLIENT_SECRET));
        assert_eq!(config.api.identifier, AUDIENCE);
    }

    #[test]
    fn the_csrf_token_is_read_off_the_form() {
        let html = r#"<form><input type="hidden" name="csrf" value="abc-123"></form>"#;
        assert_eq!(csrf_of(html), Some("abc-123"));
        assert_eq!(csrf_of("<p>no form</p>"), None);
    }
}
