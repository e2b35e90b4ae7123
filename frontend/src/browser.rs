//! What only a browser can do: randomness and signatures (WebCrypto), storage, the clock,
//! the address bar, the network. Thin wrappers; the decisions are in [`crate::auth`].

use std::cell::RefCell;
use std::rc::Rc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gloo_net::http::{Request, RequestBuilder, Response};
use gloo_storage::{LocalStorage, SessionStorage, Storage};
use js_sys::{Array, Object, Reflect, Uint8Array};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::jwt::{JwkSet, Rs256Key};
use shared::{AuthConfig, ErrorBody, Provider, SessionStorage as StorageKind};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, CryptoKey};

use crate::auth::callback::PendingLogin;
use crate::auth::logout::{PendingLogout, is_return_of};
use crate::auth::session::Session;
use crate::auth::urls::jwks_url;
use crate::json;

fn window() -> web_sys::Window {
    web_sys::window().expect("the SPA runs in a window")
}

/// Seconds since the epoch, by the browser's clock.
pub fn now_secs() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

/// A named moment on the page's timeline (`performance.mark`), for the browser tests to read:
/// how long the first page and the login took, as the user waited for them.
pub fn mark(name: &str) {
    if let Some(performance) = window().performance() {
        let _ = performance.mark(name);
    }
}

/// 32 bytes from the browser's CSPRNG, base64url: for `state` and `nonce`.
pub fn random_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    window()
        .crypto()
        .and_then(|c| c.get_random_values_with_u8_array(&mut bytes))
        .map_err(|_| {
            "this browser has no secure random generator (crypto.getRandomValues)".to_owned()
        })?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn subtle() -> Result<web_sys::SubtleCrypto, String> {
    window().crypto().map(|c| c.subtle()).map_err(|_| {
        "WebCrypto is unavailable (the page must be served over https or from localhost)".to_owned()
    })
}

fn js_error(context: &str, error: JsValue) -> String {
    let detail = error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .unwrap_or_else(|| format!("{error:?}"));
    format!("{context}: {detail}")
}

pub async fn sha256(data: &[u8]) -> Result<Vec<u8>, String> {
    let promise = subtle()?
        .digest_with_str_and_u8_array("SHA-256", data)
        .map_err(|e| js_error("SHA-256", e))?;
    let digest = JsFuture::from(promise)
        .await
        .map_err(|e| js_error("SHA-256", e))?;
    Ok(Uint8Array::new(&digest).to_vec())
}

fn object(entries: &[(&str, JsValue)]) -> Object {
    let object = Object::new();
    for (key, value) in entries {
        // Setting a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&object, &JsValue::from_str(key), value);
    }
    object
}

/// Verifies an RS256 signature with WebCrypto: RSASSA-PKCS1-v1_5 over SHA-256, the key
/// imported as a JWK. WebCrypto keeps the bundle small: no RSA code in the wasm.
pub async fn verify_rs256(
    key: &Rs256Key,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<bool, String> {
    let key_data = object(&[
        ("kty", "RSA".into()),
        ("n", URL_SAFE_NO_PAD.encode(&key.modulus).into()),
        ("e", URL_SAFE_NO_PAD.encode(&key.exponent).into()),
        ("alg", "RS256".into()),
        ("ext", true.into()),
    ]);
    let algorithm = object(&[
        ("name", "RSASSA-PKCS1-v1_5".into()),
        ("hash", "SHA-256".into()),
    ]);
    let usages = Array::of1(&"verify".into());
    let subtle = subtle()?;
    let promise = subtle
        .import_key_with_object("jwk", &key_data, &algorithm, false, &usages)
        .map_err(|e| js_error("importing the tenant's key", e))?;
    let key: CryptoKey = JsFuture::from(promise)
        .await
        .map_err(|e| js_error("importing the tenant's key", e))?
        .unchecked_into();
    let promise = subtle
        .verify_with_object_and_u8_array_and_u8_array(&algorithm, &key, signature, signing_input)
        .map_err(|e| js_error("verifying the signature", e))?;
    let valid = JsFuture::from(promise)
        .await
        .map_err(|e| js_error("verifying the signature", e))?;
    Ok(valid.as_bool().unwrap_or(false))
}

/// How long any request may take: a server that does not answer must not leave the page
/// waiting, with tokens in its address bar or a spinner forever.
const FETCH_TIMEOUT_MS: u32 = 10_000;

/// Sends `request`, giving up after [`FETCH_TIMEOUT_MS`].
pub async fn send(request: RequestBuilder) -> Result<Response, String> {
    send_with_body(request, None).await
}

/// Sends `request` with `body`, giving up after [`FETCH_TIMEOUT_MS`].
async fn send_with_body(request: RequestBuilder, body: Option<String>) -> Result<Response, String> {
    let signal = AbortSignal::timeout_with_u32(FETCH_TIMEOUT_MS);
    let request = request.abort_signal(Some(&signal));
    let sent = match body {
        Some(body) => match request.body(body) {
            Ok(request) => request.send().await,
            Err(error) => Err(error),
        },
        None => request.send().await,
    };
    sent.map_err(|e| match (signal.aborted(), e) {
        (true, _) => format!("no answer within {} s", FETCH_TIMEOUT_MS / 1000),
        // What the browser said (e.g. "Failed to fetch"). Not `e.to_string()`: that would
        // compile the printing of every error gloo-net has into the app.
        (false, gloo_net::Error::JsError(e)) => e.message,
        (false, _) => "the browser could not send the request".to_owned(),
    })
}

/// GET `url` as JSON.
pub async fn get_json<T: DeserializeOwned>(url: &str) -> Result<T, String> {
    let text = get_ok(url, None).await?.text().await.ok();
    text.and_then(|t| json::parse(&t))
        .ok_or_else(|| format!("{url} did not answer JSON"))
}

/// POST `form` (`application/x-www-form-urlencoded`) to `url`: the token and revocation
/// endpoints; with a DPoP proof when given.
pub async fn post_form(
    url: &str,
    form: &[(&str, &str)],
    dpop: Option<&str>,
) -> Result<Response, String> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut request =
        Request::post(url).header("Content-Type", "application/x-www-form-urlencoded");
    if let Some(proof) = dpop {
        request = request.header("DPoP", proof);
    }
    send_with_body(request, Some(body)).await
}

/// An access token as a request carries it: `Bearer`, or `DPoP` with its proof.
pub struct Credentials<'a> {
    pub token: &'a str,
    pub proof: Option<String>,
}

impl Credentials<'_> {
    /// `request` with `Authorization` (and `DPoP`).
    pub fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.proof {
            Some(proof) => request
                .header("Authorization", &format!("DPoP {}", self.token))
                .header("DPoP", proof),
            None => request.header("Authorization", &format!("Bearer {}", self.token)),
        }
    }
}

/// The body of `response` as JSON of type `T`, if it is.
pub async fn read_json<T: DeserializeOwned>(response: &Response) -> Option<T> {
    json::parse(&response.text().await.ok()?)
}

/// GET `url` (JSON), and the answer indented for a person to read: the browser's own JSON
/// parser and printer do it, so none is compiled into the app for this.
pub async fn get_json_pretty(
    url: &str,
    credentials: Option<&Credentials<'_>>,
) -> Result<String, String> {
    let text = get_ok(url, credentials).await?.text().await;
    let not_json = || format!("{url} did not answer JSON");
    let value = js_sys::JSON::parse(&text.map_err(|_| not_json())?).map_err(|_| not_json())?;
    let pretty = js_sys::JSON::stringify_with_replacer_and_space(&value, &JsValue::NULL, &2.into());
    pretty.ok().and_then(|s| s.as_string()).ok_or_else(not_json)
}

/// A GET answered with a 2xx.
async fn get_ok(url: &str, credentials: Option<&Credentials<'_>>) -> Result<Response, String> {
    let mut request = Request::get(url);
    if let Some(credentials) = credentials {
        request = credentials.apply(request);
    }
    let response = send(request)
        .await
        .map_err(|e| format!("{url} could not be reached ({e})"))?;
    if !response.ok() {
        return Err(format!("{url} answered HTTP {}", response.status()));
    }
    Ok(response)
}

/// Waits `ms` milliseconds (a `setTimeout` as a promise; gloo-timers' futures would add two
/// crates for this one use).
pub async fn sleep(ms: u32) {
    let timer = js_sys::Promise::new(&mut |resolve, _reject| {
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms as i32);
    });
    let _ = JsFuture::from(timer).await;
}

/// Runs `work` holding the lock `name` across every tab of the app (`navigator.locks`), so
/// that tabs sharing a session take turns to change it. Where the browser has no locks, it
/// runs at once. `None` if the browser refused the lock.
pub async fn with_lock<T: 'static>(
    name: &str,
    work: impl std::future::Future<Output = T> + 'static,
) -> Option<T> {
    // Read as a plain property: web-sys has `navigator.locks` behind its unstable APIs only.
    let navigator =
        Reflect::get(&window(), &JsValue::from_str("navigator")).unwrap_or(JsValue::UNDEFINED);
    let locks = Reflect::get(&navigator, &JsValue::from_str("locks")).unwrap_or(JsValue::UNDEFINED);
    let request = Reflect::get(&locks, &JsValue::from_str("request"))
        .ok()
        .and_then(|r| r.dyn_into::<js_sys::Function>().ok());
    let Some(request) = request.filter(|_| !locks.is_undefined()) else {
        return Some(work.await);
    };
    let result = Rc::new(RefCell::new(None));
    let slot = result.clone();
    let callback = wasm_bindgen::closure::Closure::once_into_js(move |_lock: JsValue| {
        wasm_bindgen_futures::future_to_promise(async move {
            *slot.borrow_mut() = Some(work.await);
            Ok(JsValue::UNDEFINED)
        })
    });
    let held = request
        .call2(&locks, &JsValue::from_str(name), &callback)
        .ok()?
        .dyn_into::<js_sys::Promise>()
        .ok()?;
    JsFuture::from(held).await.ok()?;
    result.take()
}

/// The lock the tabs take to renew or end a shared session.
pub const SESSION_LOCK: &str = "quickstart.session";

/// Where the API serves the login settings.
const AUTH_CONFIG_PATH: &str = "/auth_config.json";

/// The pauses between tries while the API answers 503 (it has not read the provider's
/// discovery document yet, e.g. just after it started): about 7 s in all, then its reason is
/// shown.
const CONFIG_RETRY_MS: [u32; 4] = [500, 1_000, 2_000, 4_000];

/// The login settings. A 503 is tried again a few times; any other refusal, and the last
/// 503, are shown with the API's own explanation.
pub async fn load_auth_config() -> Result<AuthConfig, String> {
    let mut pauses = CONFIG_RETRY_MS.iter();
    loop {
        let response = send(Request::get(AUTH_CONFIG_PATH))
            .await
            .map_err(|e| format!("{AUTH_CONFIG_PATH} could not be reached ({e})"))?;
        if response.ok() {
            return read_json(&response)
                .await
                .ok_or_else(|| format!("{AUTH_CONFIG_PATH} did not answer the login settings"));
        }
        match (response.status(), pauses.next()) {
            (503, Some(&pause)) => sleep(pause).await,
            (status, _) => {
                let why = read_json::<ErrorBody>(&response).await.map(|b| b.message);
                return Err(match why {
                    Some(why) => format!("{AUTH_CONFIG_PATH} answered HTTP {status}: {why}"),
                    None => format!("{AUTH_CONFIG_PATH} answered HTTP {status}"),
                });
            }
        }
    }
}

thread_local! {
    static JWKS: RefCell<Option<Rc<JwkSet>>> = const { RefCell::new(None) };
}

/// The tenant's key set, fetched once per page load: a login or a renewal in the same page
/// reuses it. A key it lacks (a rotation since) makes the caller fetch it again with `fresh`.
pub async fn jwks(config: &AuthConfig, fresh: bool) -> Result<Rc<JwkSet>, String> {
    if !fresh && let Some(set) = JWKS.with(|j| j.borrow().clone()) {
        return Ok(set);
    }
    let set: Rc<JwkSet> = Rc::new(get_json(jwks_url(config)).await?);
    JWKS.with(|j| *j.borrow_mut() = Some(set.clone()));
    Ok(set)
}

/// The page's origin, e.g. `http://localhost:3000`.
pub fn origin() -> String {
    window().location().origin().unwrap_or_default()
}

pub fn current_path() -> String {
    window()
        .location()
        .pathname()
        .unwrap_or_else(|_| "/".into())
}

/// Where the tenant sends the browser back after a login.
pub const CALLBACK_PATH: &str = "/callback";

/// On `/callback`, the tenant's answer (the fragment, without `#`), taken out of the address
/// bar and the history at once, before anything that could fail or wait runs.
pub fn take_callback_answer() -> Option<String> {
    let location = window().location();
    if location.pathname().ok()? != CALLBACK_PATH {
        return None;
    }
    // The code flow answers in the query, the implicit flow in the fragment.
    let query = location.search().unwrap_or_default();
    let answer = match query.len() > 1 {
        true => query,
        false => location.hash().unwrap_or_default(),
    };
    replace_path(CALLBACK_PATH);
    Some(answer[answer.len().min(1)..].to_owned())
}

/// A new history entry for `path`, within the app.
pub fn push_path(path: &str) {
    if let Ok(history) = window().history() {
        let _ = history.push_state_with_url(&JsValue::NULL, "", Some(path));
    }
}

/// `path` in place of the current history entry.
pub fn replace_path(path: &str) {
    if let Ok(history) = window().history() {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(path));
    }
}

/// Leaves the SPA for `url` (the tenant's login or logout).
pub fn go_to(url: &str) {
    let _ = window().location().set_href(url);
}

const PENDING_LOGIN_KEY: &str = "quickstart.pending_login";
const PENDING_LOGOUT_KEY: &str = "quickstart.pending_logout";
const LOCAL_LOGOUT_KEY: &str = "quickstart.logged_out_here";
const SESSION_KEY: &str = "quickstart.session";

/// The pending login lives in sessionStorage whatever the session storage: it must survive
/// the round trip to the tenant, and only in this tab.
pub fn save_pending_login(pending: &PendingLogin) -> Result<(), String> {
    store::<SessionStorage, _>(PENDING_LOGIN_KEY, pending)
        .then_some(())
        .ok_or_else(|| "the browser refused to store the login state (sessionStorage)".to_owned())
}

/// Takes the pending login: it is used once. One stored by an older version of the app reads
/// as none.
pub fn take_pending_login() -> Option<PendingLogin> {
    let pending = stored::<SessionStorage, _>(PENDING_LOGIN_KEY);
    SessionStorage::delete(PENDING_LOGIN_KEY);
    pending
}

/// Where the provider's logout sends the browser back: the app's home, as registered with the
/// provider (Auth0's Allowed Logout URLs take the origin, as Auth0's samples register it; an
/// OpenID provider's `post_logout_redirect_uri` must match exactly, so it is `{origin}/`).
pub fn logout_return_url(config: &AuthConfig) -> String {
    match config.provider {
        Provider::Auth0 => origin(),
        Provider::OpenId => format!("{}/", origin()),
    }
}

/// A new logout's `state`, kept in this tab for the way back (see
/// [`crate::auth::logout`]). Where storage is refused, the state is still sent, and the way
/// back just reads as any visit.
pub fn start_logout() -> String {
    let state = random_token().unwrap_or_default();
    let pending = PendingLogout {
        state: state.clone(),
        started_at: now_secs(),
    };
    let _ = SessionStorage::raw().set_item(PENDING_LOGOUT_KEY, &pending.to_stored());
    state
}

/// Whether this page load is the provider's logout coming back to this tab with its `state`.
/// The pending logout is used once; the answer's query is taken out of the address bar.
pub fn take_logout_return() -> bool {
    let stored = SessionStorage::raw()
        .get_item(PENDING_LOGOUT_KEY)
        .ok()
        .flatten();
    let Some(stored) = stored else {
        return false;
    };
    let pending = PendingLogout::from_stored(&stored);
    SessionStorage::delete(PENDING_LOGOUT_KEY);
    let location = window().location();
    let query = location.search().unwrap_or_default();
    if !query.is_empty() {
        replace_path(&current_path());
    }
    is_return_of(query.trim_start_matches('?'), pending.as_ref(), now_secs())
}

/// Log Out with a provider that has no logout ends the app's session only: the provider's
/// stays, and a silent renewal at the next start would bring it straight back. So that the
/// logout holds, in every tab of the app, until the next login, the app remembers it
/// (localStorage) and does not renew at start meanwhile (as auth0-spa-js checks its
/// `is.authenticated` cookie first).
pub fn remember_local_logout(logged_out: bool) {
    let storage = LocalStorage::raw();
    let _ = match logged_out {
        true => storage.set_item(LOCAL_LOGOUT_KEY, "1"),
        false => storage.remove_item(LOCAL_LOGOUT_KEY),
    };
}

/// Whether the app was logged out here, with the provider's session left as it was.
pub fn logged_out_locally() -> bool {
    LocalStorage::raw()
        .get_item(LOCAL_LOGOUT_KEY)
        .is_ok_and(|v| v.is_some())
}

/// `value` as JSON under `key` in storage `S`; false where the browser refuses.
///
/// Through gloo's raw storage and [`json`] rather than gloo's `set`/`get`, which would compile
/// serde_json into the app.
fn store<S: Storage, T: Serialize>(key: &str, value: &T) -> bool {
    json::print(value).is_some_and(|text| S::raw().set_item(key, &text).is_ok())
}

/// What is stored under `key` in storage `S`, if it reads as a `T`.
fn stored<S: Storage, T: DeserializeOwned>(key: &str) -> Option<T> {
    let text = S::raw().get_item(key).ok()??;
    json::parse(&text)
}

thread_local! {
    static MEMORY_SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
}

/// Calls `changed` when another tab changes the session kept in `localStorage` (the `storage`
/// event: never for this tab's own writes): `None` when it was removed (a logout there),
/// else the session it stored (a renewal there). Listens until the listener is dropped.
pub fn on_session_stored_elsewhere(
    changed: impl Fn(Option<Session>) + 'static,
) -> gloo_events::EventListener {
    gloo_events::EventListener::new(&window(), "storage", move |event| {
        let Some(event) = event.dyn_ref::<web_sys::StorageEvent>() else {
            return;
        };
        if event.key().as_deref() == Some(SESSION_KEY) {
            changed(event.new_value().and_then(|text| json::parse(&text)));
        }
    })
}

/// Stores sessions where the configuration says (see [`shared::SessionStorage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionStore(pub StorageKind);

impl SessionStore {
    pub fn load(self) -> Option<Session> {
        match self.0 {
            StorageKind::Session => stored::<SessionStorage, _>(SESSION_KEY),
            StorageKind::Local => stored::<LocalStorage, _>(SESSION_KEY),
            StorageKind::Memory => MEMORY_SESSION.with(|m| m.borrow().clone()),
        }
    }

    /// Keeps `session`. Where the browser refuses (storage disabled or full), the session
    /// lives in memory instead: this page keeps it, a reload does not.
    pub fn save(self, session: &Session) {
        let stored = match self.0 {
            StorageKind::Session => store::<SessionStorage, _>(SESSION_KEY, session),
            StorageKind::Local => store::<LocalStorage, _>(SESSION_KEY, session),
            StorageKind::Memory => false,
        };
        if !stored {
            MEMORY_SESSION.with(|m| *m.borrow_mut() = Some(session.clone()));
        }
    }

    /// Removes the session from every place it could be, whatever the setting was before.
    pub fn clear(self) {
        SessionStorage::delete(SESSION_KEY);
        LocalStorage::delete(SESSION_KEY);
        MEMORY_SESSION.with(|m| *m.borrow_mut() = None);
    }
}
