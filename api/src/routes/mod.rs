//! One module per resource, each with its own `router()`.

pub mod auth_config;
pub mod health;
pub mod messages;
pub mod spa;
