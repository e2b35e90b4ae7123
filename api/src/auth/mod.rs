//! Who may call what: the access-token extractor (bearer and DPoP), token validation and the
//! tenant's keys.
//! Every protected handler takes an [`AuthenticatedUser`]; that is where requests are
//! authenticated, and [`AuthenticatedUser::require_scope`] is where they are authorized.
//!
//! Needs nothing from the app around it: the extractor finds the [`TokenValidator`] through
//! axum's `FromRef`, so this module imports neither the routes nor the app's state.

//!
//! Read in this order: `bearer` (the header, and the order of the checks), `token` (the
//! token's checks), `claims` (what a valid token says), `verified` (the caches of tokens that
//! passed), `dpop` and `replay` (DPoP's proofs, and those already taken), `jwks` and
//! `key_source` (the tenant's keys), `discovery` (what an OpenID provider says of itself),
//! `rejection` (every reason to refuse).

mod bearer;
mod claims;
mod discovery;
mod dpop;
mod jwks;
mod key_source;
mod rejection;
mod replay;
mod token;
mod verified;

pub use bearer::{AuthenticatedUser, access_token};
pub use claims::AccessClaims;
pub use discovery::ProviderMetadata;
pub use dpop::{DpopChecker, DpopMode, DpopSettings, loopback_urls};
pub use jwks::{FetchOutcome, JwksCache, JwksSettings, KEY_SKEW, KeyError, MIN_REFETCH_INTERVAL};
pub use key_source::{FetchError, KeyFetcher, KeySource, is_safe_to_fetch};
pub use rejection::TokenRejection;
pub use token::{TokenValidator, ValidationSettings, checked_header};
pub use verified::{CacheCounts, ConnectionMemo};
