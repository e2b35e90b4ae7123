//! Who may call what: the bearer-token extractor, token validation and the tenant's keys.
//! Every protected handler takes an [`AuthenticatedUser`]; that is where requests are
//! authenticated, and [`AuthenticatedUser::require_scope`] is where they are authorized.
//!
//! Needs nothing from the app around it: the extractor finds the [`TokenValidator`] through
//! axum's `FromRef`, so this module imports neither the routes nor the app's state.

mod bearer;
mod jwks;
mod key_source;
mod rejection;
mod token;

pub use bearer::{AuthenticatedUser, bearer_token};
pub use jwks::{JwksCache, JwksSettings, KeyError};
pub use key_source::{KeySource, is_safe_to_fetch};
pub use rejection::TokenRejection;
pub use token::{AccessClaims, ConnectionMemo, TokenValidator, ValidationSettings, checked_header};
