//! JSON in the SPA, read and written by the browser's own `JSON.parse` and `JSON.stringify`,
//! with serde-wasm-bindgen carrying the values between JS and the app's serde types.
//!
//! Why not serde_json (as the API and gloo's JSON helpers use): its parser and printer were
//! ~29 KB of the wasm, a fifth of the app's own weight, for what every browser ships. The
//! types and their serde impls are the same either way; off wasm (the native unit tests)
//! serde_json stands in. One difference, allowed by RFC 7519 §4: a member named twice reads
//! as its last value (ECMAScript's rule) where serde_json refuses the document.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// `text` as a `T`, or `None` when it is not JSON or not of that shape.
#[cfg(target_arch = "wasm32")]
pub fn parse<T: DeserializeOwned>(text: &str) -> Option<T> {
    let value = js_sys::JSON::parse(text).ok()?;
    serde_wasm_bindgen::from_value(value).ok()
}

/// `value` as JSON text.
#[cfg(target_arch = "wasm32")]
pub fn print<T: Serialize>(value: &T) -> Option<String> {
    // Numbers as JS numbers (not BigInt, which JSON cannot hold), maps as objects.
    let value = value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .ok()?;
    js_sys::JSON::stringify(&value).ok()?.as_string()
}

#[cfg(not(target_arch = "wasm32"))]
pub fn parse<T: DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_str(text).ok()
}

#[cfg(not(target_arch = "wasm32"))]
pub fn print<T: Serialize>(value: &T) -> Option<String> {
    serde_json::to_string(value).ok()
}

/// UTF-8 `bytes` (a decoded JWT part) as a `T`.
pub fn parse_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    parse(std::str::from_utf8(bytes).ok()?)
}
