//! `/authorize`'s request, apart from any HTTP: the parameters as sent, checked into what the
//! app asked for ([`AuthorizationRequest`]) and where the answer goes ([`Reply`]), or the OAuth
//! error to send back ([`AuthorizeError`]). Small parsers joined with `?`, in Auth0's order.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use url::Url;

use crate::config::{AppType, Application, TenantConfig};

/// Past these, a parameter is not a real app's: it is refused, not stored.
pub const MAX_STATE_LEN: usize = 2048;
pub const MAX_NONCE_LEN: usize = 2048;
pub const MAX_SCOPE_LEN: usize = 1024;

/// RFC 6749 §3.1, §3.2: a parameter must not appear more than once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateParameter(pub String);

impl fmt::Display for DuplicateParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "The parameter {} is sent more than once", self.0)
    }
}

/// Name-value pairs into a map, refusing a name seen twice.
pub fn unique_parameters<'a>(
    pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
) -> Result<HashMap<String, String>, DuplicateParameter> {
    let mut map = HashMap::new();
    for (name, value) in pairs {
        let name = name.into_owned();
        if map.contains_key(&name) {
            return Err(DuplicateParameter(name));
        }
        map.insert(name, value.into_owned());
    }
    Ok(map)
}

/// `/authorize`'s query, as sent. Parameters this tenant does not use (`auth0Client`,
/// `ui_locales`, ...) are ignored, as on Auth0.
#[derive(Debug, Clone, Default)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub response_mode: Option<String>,
    pub scope: Option<String>,
    pub audience: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub prompt: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    /// RFC 9449 §10: the thumbprint of the DPoP key the code will be exchanged with.
    pub dpop_jkt: Option<String>,
}

impl AuthorizeParams {
    pub fn from_query(query: &str) -> Result<Self, DuplicateParameter> {
        let mut map = unique_parameters(url::form_urlencoded::parse(query.as_bytes()))?;
        let mut take = |name: &str| map.remove(name);
        Ok(Self {
            client_id: take("client_id"),
            redirect_uri: take("redirect_uri"),
            response_type: take("response_type"),
            response_mode: take("response_mode"),
            scope: take("scope"),
            audience: take("audience"),
            state: take("state"),
            nonce: take("nonce"),
            prompt: take("prompt"),
            code_challenge: take("code_challenge"),
            code_challenge_method: take("code_challenge_method"),
            dpop_jkt: take("dpop_jkt"),
        })
    }

    fn get(value: &Option<String>) -> Option<&str> {
        value.as_deref().filter(|v| !v.is_empty())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    Fragment,
    /// Silent authentication: the answer is posted to the parent window of an iframe.
    WebMessage,
}

/// Where and how the answer goes back: fixed as soon as client and callback are trusted.
#[derive(Debug, Clone)]
pub struct Reply {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub state: Option<String>,
}

/// What `response_type` asks for: a code, tokens in the front channel, or both kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseType {
    pub code: bool,
    pub token: bool,
    pub id_token: bool,
}

impl ResponseType {
    fn parse(value: &str) -> Result<Self, AuthorizeError> {
        let mut parts: Vec<&str> = value.split(' ').filter(|p| !p.is_empty()).collect();
        parts.sort_unstable();
        let (code, token, id_token) = match parts.as_slice() {
            ["code"] => (true, false, false),
            ["token"] => (false, true, false),
            ["id_token"] => (false, false, true),
            ["id_token", "token"] => (false, true, true),
            _ => return Err(AuthorizeError::UnsupportedResponseType(value.to_owned())),
        };
        Ok(Self {
            code,
            token,
            id_token,
        })
    }

    fn has_tokens(self) -> bool {
        self.token || self.id_token
    }
}

/// An authorization request whose every parameter has been checked.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub reply: Reply,
    pub response_type: ResponseType,
    pub scope: String,
    pub audience: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    /// The DPoP key the code must be exchanged with (`dpop_jkt`), code flow only.
    pub dpop_jkt: Option<String>,
    /// `prompt=none`: answer without any page, or `login_required`.
    pub silent: bool,
    /// `prompt=login`: show the login form whatever the session.
    pub force_login: bool,
}

/// An OAuth error to send back to the app: its code is [`AuthorizeError::code`], its
/// description the `Display`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    UnsupportedResponseMode(String),
    UnsupportedResponseType(String),
    /// The client is a machine-to-machine app, named here.
    NotABrowserApp(String),
    TokensInQuery,
    WebOriginNotAllowed,
    NonceRequired,
    PkceRequired,
    UnsupportedChallengeMethod(String),
    MalformedChallenge,
    /// `dpop_jkt` is not a SHA-256 thumbprint (43 base64url characters).
    MalformedDpopJkt,
    UnknownAudience(String),
    UnsupportedPrompt,
    TooLong(&'static str),
    /// `prompt=none` and no session.
    LoginRequired,
    /// The user cancelled the login.
    Cancelled,
}

impl AuthorizeError {
    pub fn code(&self) -> &'static str {
        match self {
            AuthorizeError::UnsupportedResponseType(_) => "unsupported_response_type",
            AuthorizeError::NotABrowserApp(_) => "unauthorized_client",
            AuthorizeError::WebOriginNotAllowed
            | AuthorizeError::UnknownAudience(_)
            | AuthorizeError::Cancelled => "access_denied",
            AuthorizeError::LoginRequired => "login_required",
            _ => "invalid_request",
        }
    }
}

impl fmt::Display for AuthorizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthorizeError::UnsupportedResponseMode(mode) => {
                write!(f, "Unsupported response_mode: {mode}")
            }
            AuthorizeError::UnsupportedResponseType(kind) => {
                write!(f, "Unsupported response type: {kind}")
            }
            AuthorizeError::NotABrowserApp(name) => write!(
                f,
                "{name} is a machine-to-machine application: it cannot log users in."
            ),
            AuthorizeError::TokensInQuery => {
                f.write_str("response_mode=query is not allowed when tokens are in the response")
            }
            AuthorizeError::WebOriginNotAllowed => f.write_str(
                "The redirect_uri's origin is not in the application's Allowed Web Origins",
            ),
            AuthorizeError::NonceRequired => {
                f.write_str("Nonce is required for implicit flows that return an id_token")
            }
            AuthorizeError::PkceRequired => {
                f.write_str("code_challenge is required: a single-page app must use PKCE")
            }
            AuthorizeError::UnsupportedChallengeMethod(method) => {
                write!(f, "Unsupported code_challenge_method: {method} (use S256)")
            }
            AuthorizeError::MalformedChallenge => {
                f.write_str("code_challenge is not a base64url SHA-256 hash")
            }
            AuthorizeError::MalformedDpopJkt => {
                f.write_str("dpop_jkt is not a base64url SHA-256 JWK thumbprint")
            }
            AuthorizeError::UnknownAudience(audience) => {
                write!(f, "Service not found: {audience}")
            }
            AuthorizeError::UnsupportedPrompt => {
                f.write_str("Unsupported prompt: use none or login")
            }
            AuthorizeError::TooLong(name) => write!(f, "The parameter {name} is too long"),
            AuthorizeError::LoginRequired => f.write_str("Login required"),
            AuthorizeError::Cancelled => f.write_str("User did not authorize the request"),
        }
    }
}

impl AuthorizationRequest {
    /// Checks everything but client and callback (already trusted). An error comes with the
    /// reply to send it with.
    pub fn check(
        config: &TenantConfig,
        app: &Application,
        params: &AuthorizeParams,
    ) -> Result<Self, (Reply, AuthorizeError)> {
        let response_type =
            ResponseType::parse(AuthorizeParams::get(&params.response_type).unwrap_or_default());
        let kind = response_type.as_ref().ok().copied();
        let mode = ResponseMode::parse(params.response_mode.as_deref(), kind);
        let reply = Reply {
            redirect_uri: params.redirect_uri.clone().unwrap_or_default(),
            // Tokens never go in a query string, even an error about putting them there.
            mode: match mode {
                Ok(ResponseMode::Query) if kind.is_some_and(ResponseType::has_tokens) => {
                    ResponseMode::Fragment
                }
                Ok(mode) => mode,
                Err(_) => ResponseMode::default_for(kind),
            },
            // An oversized state is not echoed back.
            state: params.state.clone().filter(|s| s.len() <= MAX_STATE_LEN),
        };
        Self::checked(config, app, params, response_type, mode, &reply)
            .map_err(|error| (reply, error))
    }

    fn checked(
        config: &TenantConfig,
        app: &Application,
        params: &AuthorizeParams,
        response_type: Result<ResponseType, AuthorizeError>,
        mode: Result<ResponseMode, AuthorizeError>,
        reply: &Reply,
    ) -> Result<Self, AuthorizeError> {
        let mode = mode?;
        let response_type = response_type?;
        if app.app_type != AppType::Spa {
            return Err(AuthorizeError::NotABrowserApp(app.name.clone()));
        }
        if mode == ResponseMode::Query && response_type.has_tokens() {
            return Err(AuthorizeError::TokensInQuery);
        }
        if mode == ResponseMode::WebMessage {
            check_web_origin(app, &reply.redirect_uri)?;
        }
        check_lengths(params)?;
        let nonce = AuthorizeParams::get(&params.nonce).map(str::to_owned);
        if response_type.id_token && nonce.is_none() {
            return Err(AuthorizeError::NonceRequired);
        }
        let code_challenge = match response_type.code {
            true => Some(check_pkce(params)?),
            false => None,
        };
        let (silent, force_login) = parse_prompt(params.prompt.as_deref())?;
        Ok(Self {
            client_id: app.client_id.clone(),
            reply: reply.clone(),
            response_type,
            scope: AuthorizeParams::get(&params.scope)
                .unwrap_or("openid")
                .to_owned(),
            audience: check_audience(config, AuthorizeParams::get(&params.audience))?,
            nonce,
            code_challenge,
            dpop_jkt: match response_type.code {
                true => check_dpop_jkt(params)?,
                false => None,
            },
            silent,
            force_login,
        })
    }
}

impl ResponseMode {
    /// Query for a code, the fragment for tokens (OAuth 2.0 Multiple Response Types §5).
    fn default_for(response_type: Option<ResponseType>) -> Self {
        match response_type {
            Some(ResponseType { code: true, .. }) => ResponseMode::Query,
            _ => ResponseMode::Fragment,
        }
    }

    fn parse(
        value: Option<&str>,
        response_type: Option<ResponseType>,
    ) -> Result<Self, AuthorizeError> {
        match value {
            None | Some("") => Ok(Self::default_for(response_type)),
            Some("query") => Ok(ResponseMode::Query),
            Some("fragment") => Ok(ResponseMode::Fragment),
            Some("web_message") => Ok(ResponseMode::WebMessage),
            Some(other) => Err(AuthorizeError::UnsupportedResponseMode(other.to_owned())),
        }
    }
}

/// `web_message` posts the answer to the redirect URI's origin: it must be an allowed one.
fn check_web_origin(app: &Application, redirect_uri: &str) -> Result<(), AuthorizeError> {
    match origin_of(redirect_uri) {
        Some(origin) if app.allows_web_origin(&origin) => Ok(()),
        _ => Err(AuthorizeError::WebOriginNotAllowed),
    }
}

fn check_lengths(params: &AuthorizeParams) -> Result<(), AuthorizeError> {
    for (name, value, max) in [
        ("state", &params.state, MAX_STATE_LEN),
        ("nonce", &params.nonce, MAX_NONCE_LEN),
        ("scope", &params.scope, MAX_SCOPE_LEN),
    ] {
        if value.as_ref().is_some_and(|v| v.len() > max) {
            return Err(AuthorizeError::TooLong(name));
        }
    }
    Ok(())
}

/// A single-page app must use PKCE, with S256 (RFC 9700 §2.1.1): the challenge, checked.
fn check_pkce(params: &AuthorizeParams) -> Result<String, AuthorizeError> {
    let challenge =
        AuthorizeParams::get(&params.code_challenge).ok_or(AuthorizeError::PkceRequired)?;
    match params.code_challenge_method.as_deref() {
        Some("S256") => {}
        method => {
            let method = method.unwrap_or("plain").to_owned();
            return Err(AuthorizeError::UnsupportedChallengeMethod(method));
        }
    }
    if !is_s256_challenge(challenge) {
        return Err(AuthorizeError::MalformedChallenge);
    }
    Ok(challenge.to_owned())
}

/// RFC 9449 §10: `dpop_jkt`, when sent, is a SHA-256 thumbprint, base64url.
fn check_dpop_jkt(params: &AuthorizeParams) -> Result<Option<String>, AuthorizeError> {
    match AuthorizeParams::get(&params.dpop_jkt) {
        None => Ok(None),
        Some(jkt) if is_s256_challenge(jkt) => Ok(Some(jkt.to_owned())),
        Some(_) => Err(AuthorizeError::MalformedDpopJkt),
    }
}

/// An audience must be the API this tenant defines.
fn check_audience(
    config: &TenantConfig,
    audience: Option<&str>,
) -> Result<Option<String>, AuthorizeError> {
    match audience {
        None => Ok(None),
        Some(audience) if audience == config.api.identifier => Ok(Some(audience.to_owned())),
        Some(other) => Err(AuthorizeError::UnknownAudience(other.to_owned())),
    }
}

/// `(silent, force_login)` from `prompt`: `none`, `login`, `consent` (accepted; there is no
/// consent screen) or nothing.
fn parse_prompt(prompt: Option<&str>) -> Result<(bool, bool), AuthorizeError> {
    match prompt {
        None | Some("" | "consent") => Ok((false, false)),
        Some("none") => Ok((true, false)),
        Some("login") => Ok((false, true)),
        Some(_) => Err(AuthorizeError::UnsupportedPrompt),
    }
}

/// 43 base64url characters: what BASE64URL(SHA256(verifier)) always is.
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The origin of a URL, e.g. `http://localhost:3000`.
pub fn origin_of(url: &str) -> Option<String> {
    Url::parse(url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
}

#[cfg(test)]
mod tests {
    use super::*;
    use AuthorizeError::*;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    /// The SPA's implicit login, as pairs, with `changes` applied (an empty value removes).
    fn implicit(changes: &[(&str, &str)]) -> String {
        let mut pairs = vec![
            ("client_id", "rustquickstartspa000000000000000".to_owned()),
            ("redirect_uri", "http://localhost:3000/callback".to_owned()),
            ("response_type", "token id_token".to_owned()),
            ("audience", "https://quickstarts/api".to_owned()),
            ("state", "s".to_owned()),
            ("nonce", "n".to_owned()),
        ];
        for (key, value) in changes {
            pairs.retain(|(k, _)| k != key);
            if !value.is_empty() {
                pairs.push((key, (*value).to_owned()));
            }
        }
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    }

    fn check_with(
        app: &Application,
        query: &str,
    ) -> Result<AuthorizationRequest, (Reply, AuthorizeError)> {
        let params = AuthorizeParams::from_query(query).unwrap();
        AuthorizationRequest::check(&TenantConfig::builtin(), app, &params)
    }

    fn check(changes: &[(&str, &str)]) -> Result<AuthorizationRequest, (Reply, AuthorizeError)> {
        check_with(TenantConfig::builtin().spa(), &implicit(changes))
    }

    #[test]
    fn a_good_implicit_request_passes() {
        let request = check(&[]).unwrap();
        assert!(request.response_type.token && request.response_type.id_token);
        assert_eq!(request.reply.mode, ResponseMode::Fragment);
        assert_eq!(request.reply.state.as_deref(), Some("s"));
        assert_eq!(request.scope, "openid");
        assert!(!request.silent && !request.force_login);
    }

    #[test]
    fn each_parameter_is_checked() {
        let long_scope = "x".repeat(MAX_SCOPE_LEN + 1);
        for (changes, error) in [
            (
                vec![("response_mode", "form_post")],
                UnsupportedResponseMode("form_post".into()),
            ),
            (vec![("response_mode", "query")], TokensInQuery),
            (
                vec![("response_type", "code x")],
                UnsupportedResponseType("code x".into()),
            ),
            (vec![("prompt", "select_account")], UnsupportedPrompt),
            (
                vec![("audience", "https://other")],
                UnknownAudience("https://other".into()),
            ),
            (vec![("nonce", "")], NonceRequired),
            (vec![("scope", long_scope.as_str())], TooLong("scope")),
        ] {
            assert_eq!(check(&changes).unwrap_err().1, error, "{changes:?}");
        }
    }

    #[test]
    fn an_oversized_state_is_refused_and_not_echoed() {
        let long_state = "x".repeat(MAX_STATE_LEN + 1);
        let (reply, error) = check(&[("state", &long_state)]).unwrap_err();
        assert_eq!(error, TooLong("state"));
        assert_eq!(reply.state, None);
    }

    #[test]
    fn code_needs_pkce_with_s256() {
        let code = [("response_type", "code")];
        assert_eq!(check(&code).unwrap_err().1, PkceRequired);
        let plain = [("response_type", "code"), ("code_challenge", CHALLENGE)];
        assert_eq!(
            check(&plain).unwrap_err().1,
            UnsupportedChallengeMethod("plain".into())
        );
        let short = [
            ("response_type", "code"),
            ("code_challenge", "short"),
            ("code_challenge_method", "S256"),
        ];
        assert_eq!(check(&short).unwrap_err().1, MalformedChallenge);
        let good = [
            ("response_type", "code"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        let request = check(&good).unwrap();
        assert_eq!(request.reply.mode, ResponseMode::Query);
        assert_eq!(request.code_challenge.as_deref(), Some(CHALLENGE));
    }

    #[test]
    fn errors_about_tokens_go_in_the_fragment() {
        let (reply, _) = check(&[("response_mode", "query")]).unwrap_err();
        assert_eq!(reply.mode, ResponseMode::Fragment);
        let (reply, error) = check(&[("response_type", "code x")]).unwrap_err();
        assert_eq!(error.code(), "unsupported_response_type");
        assert_eq!(reply.mode, ResponseMode::Fragment);
    }

    #[test]
    fn web_message_needs_an_allowed_web_origin() {
        let silent = implicit(&[("response_mode", "web_message"), ("prompt", "none")]);
        let mut app = TenantConfig::builtin().spa().clone();
        assert!(check_with(&app, &silent).unwrap().silent);
        app.web_origins.clear();
        assert_eq!(
            check_with(&app, &silent).unwrap_err().1,
            WebOriginNotAllowed
        );
    }

    #[test]
    fn an_id_token_alone_may_be_asked_for_but_never_in_the_query() {
        let only = check(&[("response_type", "id_token")]).unwrap();
        assert!(only.response_type.id_token && !only.response_type.token);
        assert_eq!(only.reply.mode, ResponseMode::Fragment);
        let in_query = [("response_type", "id_token"), ("response_mode", "query")];
        assert_eq!(check(&in_query).unwrap_err().1, TokensInQuery);
    }

    #[test]
    fn the_longest_parameters_allowed_pass() {
        let state = "s".repeat(MAX_STATE_LEN);
        let nonce = "n".repeat(MAX_NONCE_LEN);
        let scope = "x".repeat(MAX_SCOPE_LEN);
        let request = check(&[("state", &state), ("nonce", &nonce), ("scope", &scope)]).unwrap();
        assert_eq!(request.reply.state.as_deref(), Some(state.as_str()));
        let nonce = "n".repeat(MAX_NONCE_LEN + 1);
        assert_eq!(check(&[("nonce", &nonce)]).unwrap_err().1, TooLong("nonce"));
    }

    /// Base64url's alphabet (RFC 4648 §5), 43 characters: what a SHA-256 hash encodes to.
    #[test]
    fn an_s256_value_is_43_base64url_characters() {
        let good = format!("{}-_", "a".repeat(41));
        assert!(is_s256_challenge(&good));
        assert!(is_s256_challenge(CHALLENGE));
        for bad in [
            format!("{}+/", "a".repeat(41)),
            format!("{}=", "a".repeat(42)),
            "a".repeat(42),
            "a".repeat(44),
        ] {
            assert!(!is_s256_challenge(&bad), "{bad}");
        }
    }

    #[test]
    fn dpop_jkt_must_be_a_thumbprint() {
        let code = |jkt: &'static str| {
            check(&[
                ("response_type", "code"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
                ("dpop_jkt", jkt),
            ])
        };
        assert_eq!(
            code(CHALLENGE).unwrap().dpop_jkt.as_deref(),
            Some(CHALLENGE)
        );
        assert_eq!(code("").unwrap().dpop_jkt, None);
        assert_eq!(code("not-a-thumbprint").unwrap_err().1, MalformedDpopJkt);
    }

    /// The OAuth `error` code each refusal is sent back with (RFC 6749 §4.1.2.1, OpenID Core
    /// §3.1.2.6).
    #[test]
    fn each_refusal_has_its_oauth_code() {
        for (error, code) in [
            (
                UnsupportedResponseType("x".into()),
                "unsupported_response_type",
            ),
            (NotABrowserApp("m2m".into()), "unauthorized_client"),
            (WebOriginNotAllowed, "access_denied"),
            (UnknownAudience("x".into()), "access_denied"),
            (Cancelled, "access_denied"),
            (LoginRequired, "login_required"),
            (UnsupportedResponseMode("x".into()), "invalid_request"),
            (TokensInQuery, "invalid_request"),
            (MalformedDpopJkt, "invalid_request"),
        ] {
            assert_eq!(error.code(), code, "{error:?}");
        }
    }

    #[test]
    fn a_parameter_sent_twice_is_refused() {
        assert_eq!(
            AuthorizeParams::from_query("state=a&client_id=x&state=b").unwrap_err(),
            DuplicateParameter("state".into())
        );
        assert!(AuthorizeParams::from_query("auth0Client=e30&state=a").is_ok());
    }
}
