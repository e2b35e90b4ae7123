//! One component per route, each named `…Page`.

pub mod home;
pub mod login_callback;
pub mod not_found;
pub mod ping;
pub mod profile;
