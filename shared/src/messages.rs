//! What the API answers: the quickstart's messages, and the body of every error.

use serde::{Deserialize, Serialize};

/// The scope `/api/private-scoped` asks for, as the quickstart defines it.
pub const READ_MESSAGES: &str = "read:messages";

/// A successful answer of the API: `{"message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub message: String,
}

impl Message {
    pub const PUBLIC: &str =
        "Hello from a public endpoint! You don't need to be authenticated to see this.";
    pub const PRIVATE: &str =
        "Hello from a private endpoint! You need to be authenticated to see this.";
    pub const PRIVATE_SCOPED: &str = "Hello from a private endpoint! You need to be authenticated and have a scope of read:messages to see this.";

    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// The body of every error the API returns: a machine-readable code (the RFC 6750 error code
/// where there is one), a sentence a person can act on, and the request's id, which the API's
/// log line of that request carries too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}
