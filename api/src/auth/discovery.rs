//! The provider's OpenID metadata (OpenID Connect Discovery 1.0 §3, RFC 8414 §2), read from
//! `{issuer}/.well-known/openid-configuration` by the API, never by the browser: where the keys
//! are (for the key cache), and the endpoints and modes the SPA's login uses (for
//! `/auth_config.json`), so the two can never disagree.

use serde::Deserialize;
use url::Url;

use super::key_source::{FetchError, is_safe_to_fetch};

/// What the API uses of a discovery document.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    #[serde(default)]
    pub token_endpoint: Option<String>,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
    /// RP-Initiated Logout 1.0.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    /// RFC 7009 token revocation (RFC 8414 §2).
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    #[serde(default)]
    pub response_types_supported: Vec<String>,
    /// Absent: RFC 8414 §2 says `["query", "fragment"]`.
    #[serde(default)]
    pub response_modes_supported: Option<Vec<String>>,
    /// Absent: RFC 8414 §2 says the provider does not do PKCE.
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
}

impl ProviderMetadata {
    /// The document at `document`, checked: it names the very issuer asked about (OpenID
    /// Connect Discovery §4.3), and every endpoint is https (http only on loopback).
    pub fn parse(body: &[u8], document: &Url, issuer: &str) -> Result<Self, FetchError> {
        let found: ProviderMetadata = serde_json::from_slice(body)
            .map_err(|_| FetchError::NotADiscoveryDocument(document.clone()))?;
        if found.issuer != issuer {
            return Err(FetchError::IssuerMismatch {
                got: found.issuer,
                expected: issuer.to_owned(),
            });
        }
        found.jwks_url()?;
        let endpoints = [
            Some(&found.authorization_endpoint),
            found.token_endpoint.as_ref(),
            found.userinfo_endpoint.as_ref(),
            found.end_session_endpoint.as_ref(),
            found.revocation_endpoint.as_ref(),
        ];
        for endpoint in endpoints.into_iter().flatten() {
            let safe = Url::parse(endpoint).ok().filter(is_safe_to_fetch);
            if safe.is_none() {
                return Err(FetchError::BadEndpoint(endpoint.clone()));
            }
        }
        Ok(found)
    }

    /// The `jwks_uri`, which must be https (http only on loopback).
    pub fn jwks_url(&self) -> Result<Url, FetchError> {
        Url::parse(&self.jwks_uri)
            .ok()
            .filter(is_safe_to_fetch)
            .ok_or_else(|| FetchError::BadJwksUri(self.jwks_uri.clone()))
    }

    pub fn supports_s256(&self) -> bool {
        self.code_challenge_methods_supported
            .iter()
            .any(|m| m == "S256")
    }

    /// The implicit flow the quickstart uses: an access token and an ID token in the fragment.
    pub fn supports_implicit(&self) -> bool {
        self.response_types_supported.iter().any(|types| {
            let mut types: Vec<&str> = types.split(' ').collect();
            types.sort_unstable();
            types == ["id_token", "token"]
        })
    }

    /// Silent renewal's answer posted to the page (`response_mode=web_message`).
    pub fn supports_web_message(&self) -> bool {
        self.response_modes_supported
            .as_ref()
            .is_some_and(|modes| modes.iter().any(|m| m == "web_message"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document() -> serde_json::Value {
        json!({
            "issuer": "https://id.example.com",
            "authorization_endpoint": "https://id.example.com/auth",
            "token_endpoint": "https://id.example.com/token",
            "jwks_uri": "https://id.example.com/jwks",
            "response_types_supported": ["code", "id_token token"],
            "code_challenge_methods_supported": ["plain", "S256"],
        })
    }

    fn parse(value: serde_json::Value) -> Result<ProviderMetadata, FetchError> {
        let at = Url::parse("https://id.example.com/.well-known/openid-configuration").unwrap();
        ProviderMetadata::parse(value.to_string().as_bytes(), &at, "https://id.example.com")
    }

    #[test]
    fn what_the_login_needs_is_read_and_checked() {
        let metadata = parse(document()).unwrap();
        assert!(metadata.supports_s256());
        assert!(metadata.supports_implicit(), "in any order");
        assert!(
            !metadata.supports_web_message(),
            "absent: query and fragment only"
        );
        assert_eq!(metadata.end_session_endpoint, None);
        let mut with_modes = document();
        with_modes["response_modes_supported"] = json!(["query", "web_message"]);
        with_modes["code_challenge_methods_supported"] = json!(["plain"]);
        let metadata = parse(with_modes).unwrap();
        assert!(metadata.supports_web_message());
        assert!(!metadata.supports_s256());
    }

    #[test]
    fn another_issuer_or_a_plain_http_endpoint_is_refused() {
        let mut other = document();
        other["issuer"] = json!("https://id.example.com/");
        assert!(matches!(
            parse(other),
            Err(FetchError::IssuerMismatch { .. })
        ));
        let mut plain = document();
        plain["token_endpoint"] = json!("http://id.example.com/token");
        assert_eq!(
            parse(plain),
            Err(FetchError::BadEndpoint(
                "http://id.example.com/token".into()
            ))
        );
        let mut keys = document();
        keys["jwks_uri"] = json!("http://id.example.com/jwks");
        assert!(matches!(parse(keys), Err(FetchError::BadJwksUri(_))));
        assert!(matches!(
            parse(json!({"issuer": "x"})),
            Err(FetchError::NotADiscoveryDocument(_))
        ));
    }
}
