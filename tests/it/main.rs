//! The integration tests, one binary of modules: the real API against the development
//! tenant, both in-process on 127.0.0.1 port 0 (the harness is `integration_tests`).
//!
//! - `api`: the endpoints and every token rule, persona by persona;
//! - `jwks`: the tenant's keys: caching, rotation, outages, single flight, the cooldown;
//! - `cache`: the cache of verified tokens never lets through what validation would refuse;
//! - `dpop`: DPoP-bound tokens and their proofs, every rule with its control;
//! - `tenant`: tenants of other shapes (no trailing slash, keys found by discovery);
//! - `server`: the server's manners with slow, greedy or hostile clients;
//! - `ops`: what an operator sees: request ids, metrics.

mod api;
mod cache;
mod dpop;
mod jwks;
mod ops;
mod server;
mod tenant;
