//! End to end, as a person uses the app: Debian's Chromium, headless, driven over WebDriver
//! (chromedriver + fantoccini), against the real servers on loopback — the development
//! tenant, and the API serving the release build of the SPA from `dist/`.
//!
//! They need the release build of the SPA in `dist/` and Debian's chromium-driver, which
//! `cargo xtask test` builds and installs first. A plain `cargo test` without them skips
//! these tests, saying why; `cargo xtask test` sets `E2E_REQUIRED`, and then a missing
//! prerequisite is a failure, not a skip.
//!
//! - `harness`: the stack, the browser, and the steps a person takes;
//! - `figures`: what the tests measure, for `cargo xtask test` to print;
//! - `flows`, `callback`, `renewal`: the app itself; `dpop`: the app with DPoP, and tabs that
//!   share a session; `sdk`: Auth0's auth0-spa-js (bearer and DPoP) against the
//!   tenant; `providers`: the app with another OpenID provider (panva's oidc-provider);
//!   `dev_loop`: the design card's `cargo run -p api` and `trunk serve`, live reload.

#[macro_use]
mod harness;
mod callback;
mod dev_loop;
mod dpop;
mod figures;
mod flows;
mod providers;
mod renewal;
mod sdk;
