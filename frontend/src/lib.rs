//! The quickstart's single-page app. Pure logic (URLs, the callback, ID-token claims, the
//! session, error messages) is in plain functions that the host's `cargo test` covers; the
//! browser-only parts are thin.

pub mod api;
pub mod app;
pub mod auth;
pub mod browser;
pub mod components;
pub mod login;
pub mod pages;
pub mod state;
