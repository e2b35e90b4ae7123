//! A local authorization server that behaves like an Auth0 tenant for everything the
//! quickstart touches, so the app runs and is tested with no account and no network.
//!
//! Endpoints, at the issuer's root as on Auth0: `/authorize` (with a login page),
//! `/oauth/token` (with DPoP), `/oauth/revoke`, `/userinfo`, `/v2/logout` and `/oidc/logout`,
//! `/.well-known/jwks.json` and
//! `/.well-known/openid-configuration`. Tests start it in-process with [`DevTenant::spawn`] on
//! 127.0.0.1 port 0 and use it as the token issuer and JWKS, with key rotation and fault
//! switches for the JWKS ([`JwksBehaviour`]).
//!
//! The modules, in reading order:
//! - `config`: the tenant's applications, API and users (`devtenant.toml`);
//! - `keys`: the RSA signing keys, their file and their rotation;
//! - `tenant`: the state every request shares ([`DevTenant`]); `faults`: its test switches;
//! - `request`: `/authorize`'s parameters checked into a request, apart from HTTP;
//! - `store`: what the tenant remembers (sessions, logins, codes, tokens), bounded;
//! - `issue`: what tokens say and which scopes a user gets;
//! - `dpop`: DPoP proofs at the token endpoint and `/userinfo`, and the tenant's nonce;
//! - the endpoints: `authorize` (with `cookies` and `pages`), `token`, `revoke`, `userinfo`,
//!   `logout`, `discovery`;
//! - `server`: the router and the ways to run it.

mod authorize;
mod config;
mod cookies;
mod discovery;
mod dpop;
mod faults;
mod issue;
mod keys;
mod logout;
mod pages;
mod request;
mod revoke;
mod server;
mod store;
mod tenant;
mod token;
mod userinfo;

pub mod testing;

pub use config::{AppType, Application, ConfigError, TenantConfig, User};
pub use faults::JwksBehaviour;
pub use keys::{KeyFile, KeyFileError, KeyRing, SigningKey};
pub use server::RunningTenant;
pub use tenant::DevTenant;
