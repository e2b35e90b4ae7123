//! Who may call what: the bearer-token extractor, token validation and the tenant's keys.
//! Every protected handler takes an [`AuthenticatedUser`]; that is where requests are
//! authenticated, and [`AuthenticatedUser::require_scope`] is where they are authorized.

mod bearer;
mod jwks;
mod token;

pub use bearer::{AuthenticatedUser, bearer_token};
pub use jwks::{JwksCache, JwksSettings, KeyError};
pub use token::{AccessClaims, Audience, TokenValidator, ValidationSettings, checked_header};
