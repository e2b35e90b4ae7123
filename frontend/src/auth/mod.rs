//! The login, as pure functions the host's `cargo test` covers: the authorize and logout URLs,
//! the callback's fragment, the ID token's claims, the stored session.

pub mod authorize;
pub mod callback;
pub mod id_token;
pub mod session;
