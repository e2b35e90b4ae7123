//! The quickstart's single-page app. The login's logic is pure and host-tested in [`auth`];
//! [`browser`] is the thin layer over what only a browser can do, [`json`] its JSON; [`login`]
//! joins the two for the login's round trip, [`renewal`] for the session's lifecycle after it;
//! [`provider`] owns the auth state and its storage, [`context`] hands it to the components;
//! [`app`], [`pages`] and [`components`] render it.

pub mod api;
pub mod app;
pub mod auth;
pub mod browser;
pub mod components;
pub mod context;
pub mod dpop;
pub mod frame;
pub mod json;
pub mod login;
pub mod pages;
pub mod provider;
pub mod renewal;
pub mod route;
