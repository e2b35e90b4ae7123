pub mod callback;
pub mod home;
pub mod not_found;
pub mod ping;
pub mod profile;
