//! The hidden iframe of a silent renewal: `/authorize?prompt=none&response_mode=web_message`
//! loaded out of sight, and the tenant's page in it posting the answer to this window, as
//! auth0.js `checkSession` and auth0-spa-js renew.
//!
//! Any page can post a message to this window, so a message is the answer only when all of
//! these hold: it comes from the tenant's origin, from the window of this very iframe, its
//! type is `authorization_response`, and its `state` is this renewal's. Anything else is
//! ignored, and the wait goes on until the answer or the timeout.

use gloo_events::EventListener;
use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{HtmlIFrameElement, MessageEvent};

use crate::auth::callback::PostedMessage;

/// How long a renewal may take before it is given up, as auth0-spa-js waits (60 s).
const TIMEOUT_MS: i32 = 60_000;

/// Loads `url` in a hidden iframe and waits for the answer for `state` from `tenant_origin`.
/// Returns it as `name=value&...` (what `/callback` reads), the iframe and the listener gone.
pub async fn authorize_in_frame(
    url: &str,
    tenant_origin: &str,
    state: &str,
) -> Result<String, String> {
    let window = web_sys::window().ok_or("no window")?;
    let document = window.document().ok_or("no document")?;
    let body = document.body().ok_or("no document body")?;
    let iframe: HtmlIFrameElement = document
        .create_element("iframe")
        .map_err(|_| "cannot create an iframe")?
        .unchecked_into();
    let _ = iframe.set_attribute("hidden", "");
    let _ = iframe.set_attribute("title", "session renewal");
    iframe.set_src(url);
    body.append_child(&iframe)
        .map_err(|_| "cannot add the renewal's iframe")?;
    let answer = wait_for_answer(&window, &iframe, tenant_origin, state).await;
    iframe.remove();
    answer
}

async fn wait_for_answer(
    window: &web_sys::Window,
    iframe: &HtmlIFrameElement,
    tenant_origin: &str,
    state: &str,
) -> Result<String, String> {
    let frame = iframe.content_window().ok_or("the iframe has no window")?;
    let mut listener = None;
    let (origin, state) = (tenant_origin.to_owned(), state.to_owned());
    let answered = Promise::new(&mut |resolve, _reject| {
        let (origin, state, frame) = (origin.clone(), state.clone(), frame.clone());
        listener = Some(EventListener::new(window, "message", move |event| {
            let Some(event) = event.dyn_ref::<MessageEvent>() else {
                return;
            };
            if let Some(answer) = answer_in(event, &frame, &origin, &state) {
                let _ = resolve.call1(&JsValue::NULL, &JsValue::from_str(&answer));
            }
        }));
    });
    let timed_out = Promise::new(&mut |resolve, _reject| {
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, TIMEOUT_MS);
    });
    let first = JsFuture::from(Promise::race(&Array::of2(&answered, &timed_out))).await;
    drop(listener);
    first
        .ok()
        .and_then(|answer| answer.as_string())
        .ok_or_else(|| format!("the tenant did not answer within {} s", TIMEOUT_MS / 1000))
}

/// The answer in `event` (`{type: "authorization_response", response: {state, ...}}`) as
/// the query a callback reads, if [`PostedMessage::is_the_answer`]; `None` for any other.
fn answer_in(
    event: &MessageEvent,
    frame: &web_sys::Window,
    tenant_origin: &str,
    state: &str,
) -> Option<String> {
    let field = |value: &JsValue, name: &str| {
        Reflect::get(value, &JsValue::from_str(name))
            .ok()
            .filter(|v| !v.is_undefined())
    };
    let data = event.data();
    let response = field(&data, "response");
    let kind = field(&data, "type").and_then(|k| k.as_string());
    let posted_state = response
        .as_ref()
        .and_then(|r| field(r, "state"))
        .and_then(|s| s.as_string());
    let message = PostedMessage {
        origin: &event.origin(),
        from_the_frame: event
            .source()
            .is_some_and(|source| Object::is(&source, frame.as_ref())),
        kind: kind.as_deref(),
        state: posted_state.as_deref(),
    };
    if !message.is_the_answer(tenant_origin, state) {
        return None;
    }
    let response = response?;
    let mut query = form_urlencoded::Serializer::new(String::new());
    for entry in Object::entries(response.dyn_ref::<Object>()?).iter() {
        let pair: Array = entry.unchecked_into();
        if let (Some(name), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
            query.append_pair(&name, &value);
        }
    }
    Some(query.finish())
}
