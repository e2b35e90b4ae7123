//! DPoP (RFC 9449) in the browser: the key pair the tokens are bound to, and the proof made
//! with it for each request to the token endpoint, `/userinfo` and the API.
//!
//! - The key is a WebCrypto ECDSA P-256 pair made non-extractable: the private key never
//!   leaves WebCrypto (only the public half is exported, as the proof's `jwk`). It lives in
//!   IndexedDB, one record per key under its thumbprint, while a login is under way (the page
//!   is left for the tenant and comes back) and for as long as the session is kept across
//!   reloads (`session`, `local`); in memory only for a `memory` session. Deleted at logout.
//! - The proof is a JWS (`typ` `dpop+jwt`, `ES256`, the public `jwk`) over `jti` (32 random
//!   bytes), `htm`, `htu` (the URL without query and fragment), `iat`, `ath` with an access
//!   token, and the server's nonce when it gave one ([`remember_nonce`], per origin).
//!
//! IndexedDB through web-sys rather than a crate: three requests (put, get, delete) on one
//! store; the crates that wrap it weigh more in the bundle than this glue.

use std::cell::RefCell;
use std::rc::Rc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use js_sys::{Array, Object, Promise, Reflect};
use shared::dpop::{PROOF_TYPE, PublicEcKey};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, IdbDatabase, IdbRequest, IdbTransactionMode};

use crate::browser;

/// A key pair tokens can be bound to.
pub struct DpopKey {
    private: CryptoKey,
    public: PublicEcKey,
    /// Its RFC 7638 thumbprint: what a bound token's `cnf.jkt` says.
    pub jkt: String,
}

thread_local! {
    /// The keys this page has made or read, by thumbprint.
    static KEYS: RefCell<Vec<Rc<DpopKey>>> = const { RefCell::new(Vec::new()) };
    /// The last nonce each server gave, by origin.
    static NONCES: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

const DATABASE: &str = "quickstart-dpop";
const STORE: &str = "keys";

fn js_error(context: &str) -> impl Fn(JsValue) -> String + '_ {
    move |error| {
        let detail = error
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .unwrap_or_else(|| format!("{error:?}"));
        format!("{context}: {detail}")
    }
}

fn entry(object: &JsValue, name: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn subtle() -> Result<web_sys::SubtleCrypto, String> {
    let window = web_sys::window().ok_or("no window")?;
    let crypto = window.crypto().map_err(
        |_| "WebCrypto is unavailable (the page must be served over https or from localhost)",
    )?;
    Ok(crypto.subtle())
}

fn ecdsa() -> Object {
    let algorithm = Object::new();
    let _ = Reflect::set(&algorithm, &"name".into(), &"ECDSA".into());
    let _ = Reflect::set(&algorithm, &"namedCurve".into(), &"P-256".into());
    let _ = Reflect::set(&algorithm, &"hash".into(), &"SHA-256".into());
    algorithm
}

/// A new key pair, its private half non-extractable; kept in IndexedDB unless `memory_only`.
pub async fn new_key(memory_only: bool) -> Result<Rc<DpopKey>, String> {
    let subtle = subtle()?;
    let usages = Array::of2(&"sign".into(), &"verify".into());
    let promise = subtle
        .generate_key_with_object(&ecdsa(), false, &usages)
        .map_err(js_error("making a DPoP key"))?;
    let pair = JsFuture::from(promise)
        .await
        .map_err(js_error("making a DPoP key"))?;
    let private: CryptoKey = entry(&pair, "privateKey").unchecked_into();
    let public: CryptoKey = entry(&pair, "publicKey").unchecked_into();
    let promise = subtle
        .export_key("jwk", &public)
        .map_err(js_error("exporting the DPoP public key"))?;
    let jwk = JsFuture::from(promise)
        .await
        .map_err(js_error("exporting the DPoP public key"))?;
    let text = |name| entry(&jwk, name).as_string().unwrap_or_default();
    let public = PublicEcKey {
        crv: text("crv"),
        kty: text("kty"),
        x: text("x"),
        y: text("y"),
    };
    let key = with_thumbprint(private, public).await?;
    if !memory_only {
        store_key(&key).await?;
    }
    KEYS.with(|keys| keys.borrow_mut().push(key.clone()));
    Ok(key)
}

async fn with_thumbprint(private: CryptoKey, public: PublicEcKey) -> Result<Rc<DpopKey>, String> {
    let digest = browser::sha256(public.thumbprint_input().as_bytes()).await?;
    Ok(Rc::new(DpopKey {
        private,
        jkt: URL_SAFE_NO_PAD.encode(digest),
        public,
    }))
}

/// The key `jkt`: this page's, or the one IndexedDB keeps.
pub async fn key(jkt: &str) -> Result<Rc<DpopKey>, String> {
    if let Some(key) = KEYS.with(|keys| keys.borrow().iter().find(|k| k.jkt == jkt).cloned()) {
        return Ok(key);
    }
    let record = request(IdbTransactionMode::Readonly, |store| store.get(&jkt.into())).await?;
    if record.is_undefined() || record.is_null() {
        return Err("the DPoP key of this session is gone (storage cleared?): log in again".into());
    }
    let private: CryptoKey = entry(&record, "private").unchecked_into();
    let text = |name| entry(&record, name).as_string().unwrap_or_default();
    let public = PublicEcKey {
        crv: "P-256".into(),
        kty: "EC".into(),
        x: text("x"),
        y: text("y"),
    };
    let key = with_thumbprint(private, public).await?;
    KEYS.with(|keys| keys.borrow_mut().push(key.clone()));
    Ok(key)
}

/// Keeps the key in memory only from now on: a `memory` session's key, once the login that
/// needed it across the redirect is done.
pub async fn keep_in_memory_only(jkt: &str) {
    let _ = request(IdbTransactionMode::Readwrite, |store| {
        store.delete(&jkt.into())
    })
    .await;
}

/// Deletes the key, from memory and IndexedDB: at logout, or when a login that made it fails.
pub async fn forget(jkt: &str) {
    KEYS.with(|keys| keys.borrow_mut().retain(|k| k.jkt != jkt));
    keep_in_memory_only(jkt).await;
}

async fn store_key(key: &DpopKey) -> Result<(), String> {
    let record = Object::new();
    let _ = Reflect::set(&record, &"private".into(), &key.private);
    let _ = Reflect::set(&record, &"x".into(), &key.public.x.clone().into());
    let _ = Reflect::set(&record, &"y".into(), &key.public.y.clone().into());
    let _ = Reflect::set(&record, &"created".into(), &js_sys::Date::now().into());
    request(IdbTransactionMode::Readwrite, |store| {
        store.put_with_key(&record, &key.jkt.clone().into())
    })
    .await
    .map(drop)
}

/// A proof for `method` `url`, with `ath` for `access_token`, and the nonce `url`'s server
/// gave last.
pub async fn proof(
    key: &DpopKey,
    method: &str,
    url: &str,
    access_token: Option<&str>,
) -> Result<String, String> {
    let htu = url.split(['?', '#']).next().unwrap_or(url);
    let ath = match access_token {
        Some(token) => Some(URL_SAFE_NO_PAD.encode(browser::sha256(token.as_bytes()).await?)),
        None => None,
    };
    // `shared::dpop::ProofHeader` and `ProofClaims`, built as JS objects and printed by the
    // browser's JSON.stringify (which escapes the server's nonce as it must): serde's
    // serializers for the two would weigh more in the bundle than this.
    let jwk = object(&[
        ("crv", key.public.crv.as_str().into()),
        ("kty", key.public.kty.as_str().into()),
        ("x", key.public.x.as_str().into()),
        ("y", key.public.y.as_str().into()),
    ]);
    let header = object(&[
        ("typ", PROOF_TYPE.into()),
        ("alg", "ES256".into()),
        ("jwk", jwk.into()),
    ]);
    let mut claims = vec![
        ("jti", browser::random_token()?.into()),
        ("htm", method.into()),
        ("htu", htu.into()),
        ("iat", (browser::now_secs() as f64).into()),
    ];
    if let Some(ath) = ath {
        claims.push(("ath", ath.into()));
    }
    if let Some(nonce) = nonce_for(url) {
        claims.push(("nonce", nonce.into()));
    }
    let encode = |value: &Object| {
        let text = js_sys::JSON::stringify(value)
            .ok()
            .and_then(|t| t.as_string());
        URL_SAFE_NO_PAD.encode(text.unwrap_or_default())
    };
    let input = format!("{}.{}", encode(&header), encode(&object(&claims)));
    let promise = subtle()?
        .sign_with_object_and_u8_array(&ecdsa(), &key.private, input.as_bytes())
        .map_err(js_error("signing the DPoP proof"))?;
    let signature = JsFuture::from(promise)
        .await
        .map_err(js_error("signing the DPoP proof"))?;
    // WebCrypto's ECDSA signature is r ‖ s, as JWS wants it (RFC 7518 §3.4).
    let signature = js_sys::Uint8Array::new(&signature).to_vec();
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

fn object(entries: &[(&str, JsValue)]) -> Object {
    let object = Object::new();
    for (name, value) in entries {
        let _ = Reflect::set(&object, &JsValue::from_str(name), value);
    }
    object
}

fn nonce_for(url: &str) -> Option<String> {
    let origin = shared::oauth::origin_of(url)?;
    NONCES.with(|n| {
        n.borrow()
            .iter()
            .find(|(o, _)| *o == origin)
            .map(|(_, n)| n.clone())
    })
}

/// Keeps the nonce `url`'s server sent (`DPoP-Nonce`), for the next proof to it. Whether it
/// sent one.
pub fn remember_nonce(url: &str, nonce: Option<String>) -> bool {
    let (Some(origin), Some(nonce)) = (shared::oauth::origin_of(url), nonce) else {
        return false;
    };
    NONCES.with(|n| {
        let mut nonces = n.borrow_mut();
        nonces.retain(|(o, _)| *o != origin);
        nonces.push((origin, nonce));
    });
    true
}

/// Runs one request on the key store, in a transaction of `mode`, and waits for its result.
async fn request(
    mode: IdbTransactionMode,
    make: impl FnOnce(&web_sys::IdbObjectStore) -> Result<IdbRequest, JsValue>,
) -> Result<JsValue, String> {
    let database = open().await?;
    let store = database
        .transaction_with_str_and_mode(STORE, mode)
        .and_then(|t| t.object_store(STORE))
        .map_err(js_error("opening the DPoP key store"))?;
    let request = make(&store).map_err(js_error("using the DPoP key store"))?;
    let result = settle(&request).await;
    database.close();
    result
}

async fn open() -> Result<IdbDatabase, String> {
    let factory = web_sys::window()
        .and_then(|w| w.indexed_db().ok().flatten())
        .ok_or("this browser has no IndexedDB to keep the DPoP key in")?;
    let opening = factory
        .open_with_u32(DATABASE, 1)
        .map_err(js_error("opening the DPoP key store"))?;
    let upgrade = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        let target = entry(&event, "target");
        if let Ok(database) = entry(&target, "result").dyn_into::<IdbDatabase>() {
            let _ = database.create_object_store(STORE);
        }
    });
    opening.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let database = settle(&opening).await;
    opening.set_onupgradeneeded(None);
    database?
        .dyn_into::<IdbDatabase>()
        .map_err(|_| "the DPoP key store did not open".to_owned())
}

/// An IndexedDB request's result, as a future.
async fn settle(request: &IdbRequest) -> Result<JsValue, String> {
    let done = Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    });
    let outcome = JsFuture::from(done).await;
    request.set_onsuccess(None);
    request.set_onerror(None);
    outcome.map_err(js_error("the DPoP key store"))?;
    request.result().map_err(js_error("the DPoP key store"))
}
