//! Every reason the API refuses an access token, as a type. The sentences are data: each is the
//! `Display` of its variant, written for the person who sent the token (what is wrong, and
//! the usual fix), and never a library's error text.

use std::fmt;

use shared::dpop::ProofError;

/// Why an access token is not valid (RFC 6750 `invalid_token`, a 401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRejection {
    /// Not a JWS: what Auth0 issues when the login asked for no audience.
    Opaque,
    /// A JWE: Auth0's encrypted tokens, also from a login without an audience.
    Encrypted,
    /// The header is not base64url-encoded JSON.
    MalformedHeader,
    /// The header declares critical extensions (`crit`), which this API does not implement.
    Crit,
    /// `alg: none`.
    Unsigned,
    /// An HMAC algorithm: the classic confusion with the tenant's public key as the secret.
    Hmac(String),
    /// Any other algorithm than RS256.
    NotRs256,
    /// No `kid`: no key of the tenant can be chosen.
    NoKid,
    /// A `kid` the tenant does not publish, even after a refetch.
    UnknownKid,
    /// A JWS of another type than an access token (RFC 8725 §3.11): `typ` names it.
    NotAnAccessToken {
        typ: String,
    },
    /// The signature does not verify with the tenant's key.
    BadSignature,
    Expired,
    /// `nbf` is in the future.
    NotYetValid,
    /// `iss` is not the issuer this API trusts: the token of another tenant or provider, the
    /// quickstart's most frequent mistake. `got` is what the token claims, unverified.
    WrongIssuer {
        trusted: String,
        got: Option<String>,
    },
    /// A required claim is absent or of the wrong type.
    MissingClaim(String),
    /// The claims do not have an access token's shape.
    BadClaims,
    /// Anything else that makes the token unreadable.
    Malformed,
    /// An ID token sent instead of the access token: its audience is a client ID.
    IdToken {
        audience: String,
    },
    /// A token for another API.
    WrongAudience {
        got: String,
        expected: String,
    },
    /// DPoP: the proof that came with a DPoP token is refused (`invalid_dpop_proof`, or
    /// `use_dpop_nonce`).
    Proof(ProofError),
    /// A DPoP-bound token (`cnf.jkt`) sent as a bearer token (RFC 9449 §7.2).
    BoundAsBearer,
    /// A token sent as `DPoP` that is not bound to a key.
    NotBound,
    /// A `DPoP` proof beside a bearer token.
    ProofWithBearer,
    /// A bearer token to an API that takes DPoP-bound tokens only (`DPOP=required`).
    DpopRequired,
    /// A DPoP token to an API that does not take them (`DPOP=disabled`).
    DpopDisabled,
}

impl TokenRejection {
    /// A stable name for the reason, for logs and metrics: it never changes when a sentence
    /// is reworded, and never carries anything from the token.
    pub fn code(&self) -> &'static str {
        match self {
            TokenRejection::Opaque => "opaque",
            TokenRejection::Encrypted => "encrypted",
            TokenRejection::MalformedHeader => "malformed_header",
            TokenRejection::Crit => "crit",
            TokenRejection::Unsigned => "unsigned",
            TokenRejection::Hmac(_) => "hmac",
            TokenRejection::NotRs256 => "not_rs256",
            TokenRejection::NoKid => "no_kid",
            TokenRejection::UnknownKid => "unknown_kid",
            TokenRejection::NotAnAccessToken { .. } => "not_an_access_token",
            TokenRejection::BadSignature => "bad_signature",
            TokenRejection::Expired => "expired",
            TokenRejection::NotYetValid => "not_yet_valid",
            TokenRejection::WrongIssuer { .. } => "wrong_issuer",
            TokenRejection::MissingClaim(_) => "missing_claim",
            TokenRejection::BadClaims => "bad_claims",
            TokenRejection::Malformed => "malformed",
            TokenRejection::IdToken { .. } => "id_token",
            TokenRejection::WrongAudience { .. } => "wrong_audience",
            TokenRejection::Proof(error) => error.code(),
            TokenRejection::BoundAsBearer => "bound_as_bearer",
            TokenRejection::NotBound => "not_bound",
            TokenRejection::ProofWithBearer => "proof_with_bearer",
            TokenRejection::DpopRequired => "dpop_required",
            TokenRejection::DpopDisabled => "dpop_disabled",
        }
    }
}

impl fmt::Display for TokenRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenRejection::Opaque => f.write_str(
                "The access token is opaque, not a JWT: Auth0 issues those when no audience is requested. Request the token with an audience set to this API's identifier.",
            ),
            TokenRejection::Encrypted => f.write_str(
                "The access token is encrypted (JWE): Auth0 issues these when no audience is requested. Request the token with an audience set to this API's identifier.",
            ),
            TokenRejection::MalformedHeader => f.write_str(
                "The access token is malformed: its header is not base64url-encoded JSON.",
            ),
            TokenRejection::Crit => f.write_str(
                "The access token declares critical header extensions (crit) this API does not support.",
            ),
            TokenRejection::Unsigned => {
                f.write_str("The access token is unsigned (alg none); this API accepts only RS256.")
            }
            TokenRejection::Hmac(alg) => write!(
                f,
                "The access token is signed with {alg}; this API accepts only RS256. In Auth0, set the API's signing algorithm to RS256."
            ),
            TokenRejection::NotRs256 => f.write_str(
                "The access token is not signed with RS256, the only algorithm this API accepts.",
            ),
            TokenRejection::NoKid => f.write_str(
                "The access token has no key ID (kid) in its header, so no tenant key can verify it.",
            ),
            TokenRejection::UnknownKid => f.write_str(
                "The token was signed with a key your tenant does not publish (unknown kid). Get a new token from your tenant.",
            ),
            TokenRejection::NotAnAccessToken { typ } => write!(
                f,
                "The token's type is {typ}, not an access token's (JWT or at+jwt): send the access token your tenant issued for this API."
            ),
            TokenRejection::BadSignature => f.write_str(
                "The access token's signature does not verify: it was altered or not issued by your tenant.",
            ),
            TokenRejection::Expired => {
                f.write_str("The access token has expired. Log in again to get a new one.")
            }
            TokenRejection::NotYetValid => f.write_str(
                "The access token is not valid yet (nbf is in the future). Check the clocks of the tenant and this server.",
            ),
            TokenRejection::WrongIssuer {
                trusted,
                got: Some(got),
            } => write!(
                f,
                "The access token was issued by {got}, not by the tenant this API trusts ({trusted}): log in with that tenant, or set the API's AUTH0_DOMAIN or AUTH0_ISSUER to the token's issuer."
            ),
            TokenRejection::WrongIssuer { trusted, got: None } => write!(
                f,
                "The access token was issued by another tenant than this API trusts ({trusted})."
            ),
            TokenRejection::MissingClaim(claim) => write!(
                f,
                "The access token has no valid `{claim}` claim; an access token needs iss, sub, aud and exp."
            ),
            TokenRejection::BadClaims => f.write_str(
                "The access token's claims are not those of an access token: it needs iss, sub and aud (a string or an array of strings), a numeric exp, and scope as one space-delimited string.",
            ),
            TokenRejection::Malformed => {
                f.write_str("The access token is malformed: it is not a JWT this API can read.")
            }
            TokenRejection::IdToken { audience } => write!(
                f,
                "This is an ID token (its audience is the client ID {audience}): send the access token, not the ID token."
            ),
            TokenRejection::WrongAudience { got, expected } => write!(
                f,
                "The access token is meant for {got}, not for this API: request it with audience={expected}."
            ),
            TokenRejection::Proof(error) => error.fmt(f),
            TokenRejection::BoundAsBearer => f.write_str(
                "This access token is bound to a key (DPoP, cnf.jkt), so it is not taken as a bearer token: send it as Authorization: DPoP <token>, with a DPoP proof made with that key.",
            ),
            TokenRejection::NotBound => f.write_str(
                "This access token is not bound to a key (no cnf.jkt), so it cannot be sent as DPoP: send it as Authorization: Bearer <token>, or get a DPoP-bound token by sending a DPoP proof to the token endpoint.",
            ),
            TokenRejection::ProofWithBearer => f.write_str(
                "A DPoP proof came with a bearer token: send the DPoP-bound token as Authorization: DPoP <token>, or a bearer token without a DPoP header.",
            ),
            TokenRejection::DpopRequired => f.write_str(
                "This API takes DPoP-bound tokens only (DPOP=required): get a token with a DPoP proof at the token endpoint and send it as Authorization: DPoP <token> with a proof.",
            ),
            TokenRejection::DpopDisabled => f.write_str(
                "This API does not take DPoP tokens (DPOP=disabled): send a bearer token as Authorization: Bearer <token>.",
            ),
        }
    }
}
