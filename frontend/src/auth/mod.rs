//! The login, as pure functions and types the host's `cargo test` covers: no I/O here. The
//! tenant URLs ([`urls`]), the callback's answer ([`callback`]), the ID token's checks
//! ([`id_token`]), the stored session ([`session`]), the way back from a logout ([`logout`])
//! and the auth state's reducer ([`state`]).

pub mod callback;
pub mod id_token;
pub mod logout;
pub mod session;
pub mod state;
pub mod urls;

/// Every sentence a refused login shows, pinned in one place: a rewording changes this list
/// and nothing else; every other test matches variants.
#[cfg(test)]
mod golden {
    use shared::jwt::KeyRefusal;

    use super::callback::CallbackError::{self, *};
    use super::id_token::IdTokenError;

    #[test]
    fn every_refusal_reads_as_written() {
        let id = |error| CallbackError::InvalidIdToken(error);
        let cases = [
            (
                NoPendingLogin,
                "This login was not started in this tab, or it has already completed. Log in again.",
            ),
            (
                LoginExpired,
                "This login was started more than 10 minutes ago and has expired. Log in again.",
            ),
            (
                StateMismatch,
                "The login answer does not belong to the login this tab started (state mismatch), so it was ignored. Log in again.",
            ),
            (
                Denied {
                    error: "access_denied".into(),
                    description: "".into(),
                },
                "The login did not complete: access_denied.",
            ),
            (
                Denied {
                    error: "access_denied".into(),
                    description: "No".into(),
                },
                "The login did not complete: No (access_denied).",
            ),
            (
                Missing("ID token"),
                "The login answer has no ID token. Log in again.",
            ),
            (
                CodeRefused {
                    error: "invalid_grant".into(),
                    description: "Invalid authorization code".into(),
                },
                "The tenant refused to exchange the login's code for tokens: Invalid authorization code (invalid_grant). No session was stored. Log in again.",
            ),
            (
                TokenEndpoint("no answer within 10 s".into()),
                "The tenant's token endpoint could not be reached to finish the login (no answer within 10 s). No session was stored.",
            ),
            (
                WrongIssuer("https://evil.example/".into()),
                "The login answer says it comes from \"https://evil.example/\", not from the issuer this app logs in with (RFC 9207 mix-up protection), so it was refused. Check AUTH0_DOMAIN or AUTH0_ISSUER, then log in again.",
            ),
            (
                KeysUnavailable("timeout".into()),
                "The tenant's signing keys could not be fetched to check the ID token (timeout). No session was stored.",
            ),
            (
                id(IdTokenError::NotAJwt),
                "The ID token was refused: it is not a signed JWT. No session was stored.",
            ),
            (
                id(IdTokenError::NotBase64("payload")),
                "The ID token was refused: its payload is not base64url. No session was stored.",
            ),
            (
                id(IdTokenError::BadHeader),
                "The ID token was refused: its header is not a JWS header. No session was stored.",
            ),
            (
                id(IdTokenError::BadClaims),
                "The ID token was refused: its claims are malformed (iss, sub, aud, exp and iat are required). No session was stored.",
            ),
            (
                id(IdTokenError::Algorithm("HS256".into())),
                "The ID token was refused: it is signed with HS256, not RS256. No session was stored.",
            ),
            (
                id(IdTokenError::Crit),
                "The ID token was refused: it declares critical header extensions. No session was stored.",
            ),
            (
                id(IdTokenError::UnknownKey),
                "The ID token was refused: it is signed with a key the tenant does not publish. No session was stored.",
            ),
            (
                id(IdTokenError::UnusableKey(KeyRefusal::TooShort {
                    bits: 1024,
                })),
                "The ID token was refused: the tenant's key for it may not verify it: the key is too short (1024 bits; RS256 needs at least 2048). No session was stored.",
            ),
            (
                id(IdTokenError::BadSignature),
                "The ID token was refused: its signature does not verify with the tenant's key. No session was stored.",
            ),
            (
                id(IdTokenError::Issuer {
                    got: "a".into(),
                    expected: "b".into(),
                }),
                "The ID token was refused: it was issued by a, not by b. No session was stored.",
            ),
            (
                id(IdTokenError::Audience),
                "The ID token was refused: it was issued to another application (aud). No session was stored.",
            ),
            (
                id(IdTokenError::AuthorizedParty),
                "The ID token was refused: it was issued at the request of another application (azp). No session was stored.",
            ),
            (
                id(IdTokenError::Expired),
                "The ID token was refused: it has expired (exp). No session was stored.",
            ),
            (
                id(IdTokenError::IssuedInFuture),
                "The ID token was refused: it was issued in the future (iat): check this computer's clock. No session was stored.",
            ),
            (
                id(IdTokenError::Nonce),
                "The ID token was refused: its nonce does not match this login (a replayed token?). No session was stored.",
            ),
            (
                id(IdTokenError::MissingAtHash),
                "The ID token was refused: it has no at_hash binding it to the access token it came with. No session was stored.",
            ),
            (
                id(IdTokenError::AtHash),
                "The ID token was refused: it does not belong to the access token it came with (at_hash). No session was stored.",
            ),
            (
                id(IdTokenError::Browser("no WebCrypto".into())),
                "The ID token was refused: the browser could not check it (no WebCrypto). No session was stored.",
            ),
        ];
        for (error, sentence) in cases {
            assert_eq!(error.to_string(), sentence);
        }
    }

    #[test]
    fn every_key_refusal_reads_as_written() {
        for (refusal, sentence) in [
            (KeyRefusal::NotRsa, "the key is not an RSA key"),
            (
                KeyRefusal::NotForVerifying,
                "the key is not published for verifying signatures (use, key_ops)",
            ),
            (
                KeyRefusal::OtherAlgorithm,
                "the key is meant for another algorithm",
            ),
            (KeyRefusal::NoKid, "the key has no key ID"),
            (
                KeyRefusal::Malformed,
                "the key's modulus or exponent is malformed",
            ),
        ] {
            assert_eq!(refusal.to_string(), sentence);
        }
    }
}
