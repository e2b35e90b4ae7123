//! The login, as pure functions and types the host's `cargo test` covers: no I/O here. The
//! tenant URLs ([`urls`]), the callback's answer ([`callback`]), the ID token's checks
//! ([`id_token`]), the stored session ([`session`]) and the auth state's reducer ([`state`]).

pub mod callback;
pub mod id_token;
pub mod session;
pub mod state;
pub mod urls;
