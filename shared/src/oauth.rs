//! The OAuth 2.0 vocabulary the tenant, the API and the SPA share: bearer credentials in
//! `Authorization` and the challenge that refuses them (RFC 6750), the token endpoint's
//! answers (RFC 6749 §5), and the two hashes OpenID Connect and PKCE define over SHA-256.
//!
//! Pure functions: the SHA-256 itself is the caller's (aws-lc, or WebCrypto in the browser).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// Why a request carries no bearer token one can use (RFC 6750 §2.1, §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// No `Authorization` header.
    Missing,
    /// `Authorization` with another scheme (Basic, ...).
    OtherScheme,
    /// More than one `Authorization` header.
    Repeated,
    NotAscii,
    /// `Bearer` and nothing after it.
    Empty,
    /// Characters RFC 6750's `b64token` does not allow.
    NotB64Token,
}

impl BearerError {
    /// RFC 6750 §3.1: a request with no credentials, or others than a bearer token, gets a
    /// challenge without an error code; the rest is an `invalid_request`.
    pub fn is_missing_credentials(self) -> bool {
        matches!(self, BearerError::Missing | BearerError::OtherScheme)
    }

    /// A stable name for the reason, for logs and metrics.
    pub fn code(self) -> &'static str {
        match self {
            BearerError::Missing => "missing_token",
            BearerError::OtherScheme => "other_scheme",
            BearerError::Repeated => "repeated_header",
            BearerError::NotAscii => "not_ascii",
            BearerError::Empty => "empty_token",
            BearerError::NotB64Token => "not_b64token",
        }
    }
}

impl fmt::Display for BearerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BearerError::Missing => {
                "This endpoint needs an access token: send Authorization: Bearer <access token>."
            }
            BearerError::OtherScheme => {
                "This API accepts only Bearer and DPoP tokens: send Authorization: Bearer <access token>."
            }
            BearerError::Repeated => {
                "The request has more than one Authorization header; send exactly one."
            }
            BearerError::NotAscii => "The Authorization header is not plain ASCII.",
            BearerError::Empty => "The Authorization header names a scheme but carries no token.",
            BearerError::NotB64Token => {
                "The access token has characters a token cannot have (RFC 6750 b64token)."
            }
        })
    }
}

/// How an access token is presented: RFC 6750's `Bearer`, or RFC 9449's `DPoP` (bound to a
/// key, with a proof in the `DPoP` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    DPoP,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Bearer => "Bearer",
            Scheme::DPoP => "DPoP",
        }
    }
}

/// The bearer token of a request, from the values of its `Authorization` headers: the scheme
/// case-insensitive, exactly one header, the token RFC 6750's `b64token`.
pub fn bearer_token<'a>(
    authorization: impl Iterator<Item = &'a [u8]>,
) -> Result<&'a str, BearerError> {
    match access_token(authorization)? {
        (Scheme::Bearer, token) => Ok(token),
        (Scheme::DPoP, _) => Err(BearerError::OtherScheme),
    }
}

/// The access token of a request and its scheme (`Bearer` or `DPoP`, case-insensitive), from
/// the values of its `Authorization` headers: exactly one header, the token a `b64token`
/// (RFC 6750's, which RFC 9449 uses too).
pub fn access_token<'a>(
    mut authorization: impl Iterator<Item = &'a [u8]>,
) -> Result<(Scheme, &'a str), BearerError> {
    let value = authorization.next().ok_or(BearerError::Missing)?;
    if authorization.next().is_some() {
        return Err(BearerError::Repeated);
    }
    let value = std::str::from_utf8(value)
        .ok()
        .filter(|v| v.is_ascii())
        .ok_or(BearerError::NotAscii)?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let scheme = match scheme {
        s if s.eq_ignore_ascii_case("bearer") => Scheme::Bearer,
        s if s.eq_ignore_ascii_case("dpop") => Scheme::DPoP,
        _ => return Err(BearerError::OtherScheme),
    };
    let token = rest.trim_matches(' ');
    if token.is_empty() {
        return Err(BearerError::Empty);
    }
    if !is_b64token(token) {
        return Err(BearerError::NotB64Token);
    }
    Ok((scheme, token))
}

/// RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
/// Every byte is looked at, without branching, so the compiler can check 32 at a time: a
/// JWT is about a kilobyte, and this runs on every request.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    let allowed = |b: u8| {
        (b.wrapping_sub(b'A') < 26)
            | (b.wrapping_sub(b'a') < 26)
            | (b.wrapping_sub(b'0') < 10)
            | (b == b'-')
            | (b == b'.')
            | (b == b'_')
            | (b == b'~')
            | (b == b'+')
            | (b == b'/')
    };
    !body.is_empty() && body.bytes().fold(true, |all, b| all & allowed(b))
}

/// A `WWW-Authenticate` challenge (RFC 6750 §3, RFC 9449 §7.1), quoted safely whatever the
/// description says: `Bearer realm="api", error="...", error_description="...", scope="..."`,
/// or `DPoP` with the same and `algs="..."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge<'a> {
    pub scheme: Scheme,
    pub realm: Option<&'a str>,
    pub error: Option<&'a str>,
    pub description: Option<&'a str>,
    pub scope: Option<&'a str>,
    /// DPoP only: the algorithms proofs may use, space-separated.
    pub algs: Option<&'a str>,
}

impl Default for Challenge<'_> {
    fn default() -> Self {
        Self {
            scheme: Scheme::Bearer,
            realm: None,
            error: None,
            description: None,
            scope: None,
            algs: None,
        }
    }
}

impl fmt::Display for Challenge<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme.as_str())?;
        let attributes = [
            ("realm", self.realm),
            ("error", self.error),
            ("error_description", self.description),
            ("scope", self.scope),
            ("algs", self.algs),
        ];
        let mut separator = " ";
        for (name, value) in attributes {
            if let Some(value) = value {
                write!(f, "{separator}{name}=\"")?;
                for c in value.chars() {
                    write!(f, "{}", quotable(c))?;
                }
                f.write_str("\"")?;
                separator = ", ";
            }
        }
        Ok(())
    }
}

/// RFC 6750 §3: attribute values are limited to %x20-21 / %x23-5B / %x5D-7E, so quotes and
/// backslashes become `'`, and anything outside printable ASCII `?`.
fn quotable(c: char) -> char {
    match c {
        '"' | '\\' => '\'',
        '\u{20}'..='\u{7e}' => c,
        _ => '?',
    }
}

/// A successful answer of the token endpoint (RFC 6749 §5.1), as Auth0 sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub expires_in: u64,
    pub token_type: String,
}

/// An OAuth error answer (RFC 6749 §5.2), from the token endpoint or `/userinfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthError {
    pub error: String,
    #[serde(default)]
    pub error_description: String,
}

/// OpenID Connect Core §3.2.2.9: `at_hash` is base64url of the left half of the access
/// token's SHA-256 (`sha256`, computed by the caller).
pub fn at_hash(sha256: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(&sha256[..sha256.len() / 2])
}

/// RFC 7636 §4.2: the S256 `code_challenge` is base64url of the verifier's SHA-256.
pub fn s256_challenge(sha256_of_verifier: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(sha256_of_verifier)
}

/// RFC 7636 §4.1: a `code_verifier` is 43 to 128 characters of `[A-Za-z0-9-._~]`.
pub fn is_code_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `host` (as a URL carries it: a name, an IPv4 address, or an IPv6 one in
/// brackets) is this machine. OAuth allows plain http only there (RFC 8252 §7.3, RFC 9700
/// §2.6), which is where a development tenant runs.
pub fn is_loopback_host(host: &str) -> bool {
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || ip
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Compares secrets (`state`, `nonce`) without stopping at the first difference: every byte
/// pair is looked at, and a difference anywhere leaves a bit set that nothing clears.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The origin of an absolute http(s) URL, serialized as browsers do (`event.origin`, CSP
/// sources): `scheme://host[:port]`, scheme and host in lower case, the scheme's default port
/// left out. `None` for anything else (another scheme, user info, no host).
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.contains('@') {
        return None;
    }
    let (host, port) = match authority.rfind(':') {
        // A colon after the end of an IPv6 literal, or in a name: the port.
        Some(at) if !authority[at..].contains(']') => {
            (&authority[..at], Some(&authority[at + 1..]))
        }
        _ => (authority, None),
    };
    if host.is_empty()
        || port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let host = host.to_ascii_lowercase();
    Some(match port.map(|p| p.trim_start_matches('0')) {
        Some(port) if port != default_port && !port.is_empty() => {
            format!("{scheme}://{host}:{port}")
        }
        _ => format!("{scheme}://{host}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refused_authorization_header_reads_as_written_with_its_code() {
        for (error, code, sentence) in [
            (
                BearerError::Missing,
                "missing_token",
                "This endpoint needs an access token: send Authorization: Bearer <access token>.",
            ),
            (
                BearerError::OtherScheme,
                "other_scheme",
                "This API accepts only Bearer and DPoP tokens: send Authorization: Bearer <access token>.",
            ),
            (
                BearerError::Repeated,
                "repeated_header",
                "The request has more than one Authorization header; send exactly one.",
            ),
            (
                BearerError::NotAscii,
                "not_ascii",
                "The Authorization header is not plain ASCII.",
            ),
            (
                BearerError::Empty,
                "empty_token",
                "The Authorization header names a scheme but carries no token.",
            ),
            (
                BearerError::NotB64Token,
                "not_b64token",
                "The access token has characters a token cannot have (RFC 6750 b64token).",
            ),
        ] {
            assert_eq!(error.to_string(), sentence);
            assert_eq!(error.code(), code);
        }
    }

    #[test]
    fn secrets_compare_equal_only_when_every_byte_is() {
        assert!(constant_time_eq(b"state-1", b"state-1"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"state-1", b"state-2"));
        assert!(!constant_time_eq(b"state", b"state-1"));
        // Two differences that would cancel out if the bits were xor-ed together.
        assert!(!constant_time_eq(b"ab", b"ba"));
        assert!(!constant_time_eq(&[1, 1], &[0, 0]));
    }

    #[test]
    fn origins_are_serialized_as_browsers_do() {
        for (url, origin) in [
            (
                "https://Login.Example.com:443/tenant/",
                Some("https://login.example.com"),
            ),
            (
                "HTTPS://id.example.com/authorize?x=1",
                Some("https://id.example.com"),
            ),
            ("http://localhost:4010/", Some("http://localhost:4010")),
            ("http://localhost:80", Some("http://localhost")),
            ("http://[::1]:4010/x", Some("http://[::1]:4010")),
            ("http://[::1]/x", Some("http://[::1]")),
            ("https://a.example#frag", Some("https://a.example")),
            ("ftp://a.example/", None),
            ("https://user@a.example/", None),
            ("https:///path", None),
            ("https://a.example:x/", None),
            ("not a url", None),
        ] {
            assert_eq!(origin_of(url).as_deref(), origin, "{url}");
        }
    }

    fn token(values: &[&str]) -> Result<String, BearerError> {
        bearer_token(values.iter().map(|v| v.as_bytes())).map(str::to_owned)
    }

    #[test]
    fn takes_the_token_whatever_the_scheme_case() {
        for value in [
            "Bearer abc.def.ghi",
            "bearer abc.def.ghi",
            "BEARER  abc.def.ghi ",
        ] {
            assert_eq!(token(&[value]).unwrap(), "abc.def.ghi");
        }
    }

    #[test]
    fn no_header_or_another_scheme_is_missing_credentials() {
        assert_eq!(token(&[]), Err(BearerError::Missing));
        for value in ["Basic dXNlcjpwYXNz", "Token abc", "Bearerabc"] {
            assert_eq!(token(&[value]), Err(BearerError::OtherScheme), "{value}");
        }
        assert!(BearerError::Missing.is_missing_credentials());
        assert!(BearerError::OtherScheme.is_missing_credentials());
        assert!(!BearerError::Repeated.is_missing_credentials());
    }

    #[test]
    fn malformed_headers_are_named() {
        for (values, error) in [
            (&["Bearer a", "Bearer b"][..], BearerError::Repeated),
            (&["Bearer"], BearerError::Empty),
            (&["Bearer   "], BearerError::Empty),
            (&["Bearer a b"], BearerError::NotB64Token),
            (&["Bearer a\"b"], BearerError::NotB64Token),
            (&["Bearer ==="], BearerError::NotB64Token),
            (&["Bearer é"], BearerError::NotAscii),
        ] {
            assert_eq!(token(values), Err(error), "{values:?}");
        }
        assert_eq!(
            bearer_token([&b"Bearer \xff"[..]].into_iter()),
            Err(BearerError::NotAscii)
        );
    }

    #[test]
    fn b64token_allows_padding_only_at_the_end() {
        assert!(is_b64token("abc-._~+/=="));
        assert!(!is_b64token("a=b"));
        assert!(!is_b64token("==="));
    }

    #[test]
    fn b64token_is_exactly_rfc_6750s_alphabet() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
            let token = format!("ab{}cd", char::from(b));
            assert_eq!(is_b64token(&token), expected, "byte {b}");
        }
    }

    #[test]
    fn challenges_are_quoted_safely() {
        assert_eq!(
            Challenge {
                realm: Some("api"),
                ..Challenge::default()
            }
            .to_string(),
            "Bearer realm=\"api\""
        );
        let full = Challenge {
            realm: Some("api"),
            error: Some("insufficient_scope"),
            description: Some("token \"x\" — bad\\"),
            scope: Some("read:messages"),
            ..Challenge::default()
        };
        assert_eq!(
            full.to_string(),
            "Bearer realm=\"api\", error=\"insufficient_scope\", error_description=\"token 'x' ? bad'\", scope=\"read:messages\""
        );
        let no_realm = Challenge {
            error: Some("invalid_token"),
            description: Some("a\r\nSet-Cookie: x"),
            ..Challenge::default()
        };
        assert_eq!(
            no_realm.to_string(),
            "Bearer error=\"invalid_token\", error_description=\"a??Set-Cookie: x\""
        );
        let dpop = Challenge {
            scheme: Scheme::DPoP,
            error: Some("invalid_dpop_proof"),
            algs: Some("ES256 PS256"),
            ..Challenge::default()
        };
        assert_eq!(
            dpop.to_string(),
            "DPoP error=\"invalid_dpop_proof\", algs=\"ES256 PS256\""
        );
    }

    #[test]
    fn the_scheme_is_bearer_or_dpop_in_any_case() {
        let one = |value: &'static str| access_token(std::iter::once(value.as_bytes()));
        assert_eq!(one("Bearer abc"), Ok((Scheme::Bearer, "abc")));
        assert_eq!(one("bearer abc"), Ok((Scheme::Bearer, "abc")));
        assert_eq!(one("DPoP abc"), Ok((Scheme::DPoP, "abc")));
        assert_eq!(one("dpop abc"), Ok((Scheme::DPoP, "abc")));
        assert_eq!(one("Basic abc"), Err(BearerError::OtherScheme));
        assert_eq!(one("DPoP "), Err(BearerError::Empty));
        assert_eq!(
            bearer_token(std::iter::once("DPoP abc".as_bytes())),
            Err(BearerError::OtherScheme)
        );
    }

    #[test]
    fn loopback_hosts_are_this_machine_only() {
        for host in ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "[::1]"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "example.com",
            "localhost.example.com",
            "127.0.0.1.nip.io",
            "10.0.0.1",
            "[::2]",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn hashes_match_the_specs_examples() {
        // RFC 7636 Appendix B: SHA-256 of the verifier, then base64url.
        let sha256 = [
            19, 211, 30, 150, 26, 26, 216, 236, 47, 22, 177, 12, 76, 152, 46, 8, 118, 168, 120,
            173, 109, 241, 68, 86, 110, 225, 137, 74, 203, 112, 249, 195,
        ];
        assert_eq!(
            s256_challenge(&sha256),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        // SHA-256("jHkWEdUXMU1BwAsC4vtUsZwnNmTC4Q"), as computed independently by Python.
        let digest = [
            0x3c, 0xbb, 0x24, 0x72, 0x5e, 0x50, 0xf0, 0x20, 0xd2, 0x6a, 0x06, 0xb2, 0xdb, 0x5e,
            0x67, 0x8b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(at_hash(&digest), "PLskcl5Q8CDSagay215niw");
        assert!(is_code_verifier(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ));
        assert!(!is_code_verifier(&"a".repeat(42)));
        assert!(!is_code_verifier(&"a".repeat(129)));
        assert!(!is_code_verifier(&format!("{}+", "a".repeat(43))));
    }
}
