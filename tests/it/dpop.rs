//! DPoP at the API (RFC 9449 §4.3, §7): every rule with a valid control beside it, the three
//! modes and their challenges, nonces, `PUBLIC_URL`, CORS, and a bound token from the tenant.

use api::auth::DpopMode;
use integration_tests::*;
use serde_json::{Value, json};
use shared::Message;
use shared::dpop::{ProofKey, access_token_hash};

/// What a proof says, as a client makes it, changed by `changes` (`null` removes a claim).
fn claims(uri: &str, token: &str, changes: Value) -> Value {
    let mut claims = json!({
        "jti": format!("jti-{}", rand_suffix()), "htm": "GET", "htu": uri,
        "iat": now(), "ath": access_token_hash(token),
    });
    for (name, value) in changes.as_object().unwrap() {
        match value {
            Value::Null => claims.as_object_mut().unwrap().remove(name),
            _ => claims
                .as_object_mut()
                .unwrap()
                .insert(name.clone(), value.clone()),
        };
    }
    claims
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The API, and a key with a token bound to it.
struct Bound {
    app: TestApp,
    key: ProofKey,
    token: String,
}

impl Bound {
    async fn new(change: impl FnOnce(&mut api::config::Settings) + 'static) -> Self {
        let app = TestApp::builder().settings(change).spawn().await;
        let key = ProofKey::generate();
        let token = app.token(&[("cnf", json!({ "jkt": key.thumbprint() }))]);
        Self { app, key, token }
    }

    fn uri(&self, path: &str) -> String {
        format!("{}{path}", self.app.base)
    }

    /// `GET path` with `Authorization: {scheme} {token}` and these `DPoP` headers.
    async fn call(
        &self,
        path: &str,
        scheme: &str,
        token: &str,
        proofs: &[String],
    ) -> reqwest::Response {
        let mut request = self
            .app
            .client
            .get(self.uri(path))
            .header("Authorization", format!("{scheme} {token}"));
        for proof in proofs {
            request = request.header("DPoP", proof);
        }
        request.send().await.unwrap()
    }

    fn proof(&self, path: &str) -> String {
        self.key.proof(
            "GET",
            &self.uri(path),
            Some(&self.token),
            None,
            now() as i64,
        )
    }

    async fn with_proof(&self, proof: String) -> reqwest::Response {
        self.call("/api/private", "DPoP", &self.token, &[proof])
            .await
    }
}

#[tokio::test]
async fn a_bound_token_with_its_proof_passes_and_every_faulty_proof_is_refused() {
    let b = Bound::new(|_| {}).await;
    let path = "/api/private";
    // The control.
    let response = b.with_proof(b.proof(path)).await;
    assert_eq!(response.status(), 200);
    let sign = |changes: Value, header: Value| {
        b.key
            .sign(&claims(&b.uri(path), &b.token, changes), &header)
    };
    let mut private = serde_json::to_value(b.key.public_jwk()).unwrap();
    private["d"] = json!("c2VjcmV0");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "another URL",
            sign(json!({"htu": b.uri("/api/private-scoped")}), json!({})),
            "htu",
        ),
        (
            "another method",
            sign(json!({"htm": "POST"}), json!({})),
            "htm",
        ),
        (
            "too old",
            sign(json!({"iat": now() - 120}), json!({})),
            "too old",
        ),
        (
            "from the future",
            sign(json!({"iat": now() + 120}), json!({})),
            "future",
        ),
        (
            "a private key",
            sign(json!({}), json!({"jwk": private})),
            "private key",
        ),
        (
            "alg none",
            sign(json!({}), json!({"alg": "none"})),
            "asymmetric",
        ),
        (
            "HS256",
            sign(json!({}), json!({"alg": "HS256"})),
            "asymmetric",
        ),
        (
            "a JWT's typ",
            sign(json!({}), json!({"typ": "JWT"})),
            "dpop+jwt",
        ),
        (
            "a wrong ath",
            sign(json!({"ath": access_token_hash("another")}), json!({})),
            "hash of this access token",
        ),
        ("no ath", sign(json!({"ath": null}), json!({})), "no ath"),
        (
            "another key",
            ProofKey::generate().proof("GET", &b.uri(path), Some(&b.token), None, now() as i64),
            "cnf.jkt",
        ),
    ];
    for (what, proof, words) in cases {
        let answer = error_answer(b.with_proof(proof).await).await;
        assert_eq!(answer.status, 401, "{what}");
        assert_eq!(answer.body.error, "invalid_dpop_proof", "{what}");
        assert!(
            answer.body.message.contains(words),
            "{what}: {}",
            answer.body.message
        );
        let challenge = answer.challenge.unwrap();
        assert!(
            challenge.contains("DPoP realm=\"api\", error=\"invalid_dpop_proof\""),
            "{what}: {challenge}"
        );
        assert!(
            challenge.starts_with("Bearer realm=\"api\", DPoP"),
            "{challenge}"
        );
    }
    // Replayed: the same proof twice.
    let proof = b.proof(path);
    assert_eq!(b.with_proof(proof.clone()).await.status(), 200);
    let answer = error_answer(b.with_proof(proof).await).await;
    assert_eq!(
        (answer.status, answer.body.error.as_str()),
        (401, "invalid_dpop_proof")
    );
    assert!(answer.body.message.contains("used before"));
    // Two DPoP headers, or none.
    let two = b
        .call(path, "DPoP", &b.token, &[b.proof(path), b.proof(path)])
        .await;
    assert!(
        error_answer(two)
            .await
            .body
            .message
            .contains("more than one DPoP header")
    );
    let none = b.call(path, "DPoP", &b.token, &[]).await;
    assert!(
        error_answer(none)
            .await
            .body
            .message
            .contains("needs a DPoP proof")
    );
    // The query is not part of htu.
    let response = b
        .call("/api/private?x=1", "DPoP", &b.token, &[b.proof(path)])
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn bound_tokens_are_never_bearer_tokens_and_the_scheme_must_fit_the_token() {
    let b = Bound::new(|_| {}).await;
    let path = "/api/private";
    let as_bearer = error_answer(b.call(path, "Bearer", &b.token, &[]).await).await;
    assert_eq!(
        (as_bearer.status, as_bearer.body.error.as_str()),
        (401, "invalid_token")
    );
    assert!(as_bearer.body.message.contains("bound to a key"));
    assert!(
        as_bearer
            .challenge
            .unwrap()
            .starts_with("Bearer realm=\"api\", error=\"invalid_token\"")
    );
    // A proof beside a bearer token.
    let bearer = b.app.token(&[]);
    let with_proof = b.call(path, "Bearer", &bearer, &[b.proof(path)]).await;
    assert!(
        error_answer(with_proof)
            .await
            .body
            .message
            .contains("A DPoP proof came with a bearer token")
    );
    // An unbound token sent as DPoP.
    let proof = b
        .key
        .proof("GET", &b.uri(path), Some(&bearer), None, now() as i64);
    let unbound = error_answer(b.call(path, "DPoP", &bearer, &[proof]).await).await;
    assert!(unbound.body.message.contains("not bound to a key"));
    // The control: the unbound token as a bearer token.
    assert_eq!(b.call(path, "Bearer", &bearer, &[]).await.status(), 200);
    // Scope checks after a DPoP login, challenge on the DPoP side.
    let guest = b.app.token(&[
        ("cnf", json!({"jkt": b.key.thumbprint()})),
        ("scope", json!("openid")),
    ]);
    let proof = b.key.proof(
        "GET",
        &b.uri("/api/private-scoped"),
        Some(&guest),
        None,
        now() as i64,
    );
    let scoped = error_answer(
        b.call("/api/private-scoped", "DPoP", &guest, &[proof])
            .await,
    )
    .await;
    assert_eq!(scoped.status, 403);
    assert!(
        scoped
            .challenge
            .unwrap()
            .contains("DPoP realm=\"api\", error=\"insufficient_scope\"")
    );
    let proof = b.proof("/api/private-scoped");
    let response = b
        .call("/api/private-scoped", "DPoP", &b.token, &[proof])
        .await;
    assert_eq!(
        response.json::<Message>().await.unwrap().message,
        Message::PRIVATE_SCOPED
    );
}

#[tokio::test]
async fn the_mode_says_which_tokens_are_taken_and_which_challenges_are_sent() {
    let algs = "algs=\"ES256 EdDSA PS256 RS256\"";
    let allowed = Bound::new(|_| {}).await;
    let missing = error_answer(allowed.app.get("/api/private", None).await).await;
    assert_eq!(
        missing.challenge.unwrap(),
        format!("Bearer realm=\"api\", DPoP realm=\"api\", {algs}")
    );
    let required = Bound::new(|s| s.dpop.mode = DpopMode::Required).await;
    let bearer = required.app.token(&[]);
    let refused = error_answer(required.call("/api/private", "Bearer", &bearer, &[]).await).await;
    assert_eq!(refused.status, 401);
    assert!(refused.body.message.contains("DPOP=required"));
    let challenge = refused.challenge.unwrap();
    assert!(
        challenge.starts_with("DPoP realm=\"api\", error=\"invalid_token\""),
        "{challenge}"
    );
    assert!(!challenge.contains("Bearer"), "{challenge}");
    assert_eq!(
        required
            .with_proof(required.proof("/api/private"))
            .await
            .status(),
        200
    );
    let disabled = Bound::new(|s| s.dpop.mode = DpopMode::Disabled).await;
    let refused = error_answer(disabled.with_proof(disabled.proof("/api/private")).await).await;
    assert!(refused.body.message.contains("DPOP=disabled"));
    assert_eq!(
        refused.challenge.unwrap(),
        format!(
            "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"{}\"",
            refused.body.message
        )
    );
    let bearer = disabled.app.token(&[]);
    assert_eq!(
        disabled
            .call("/api/private", "Bearer", &bearer, &[])
            .await
            .status(),
        200
    );
    // Even disabled, a bound token is no bearer token.
    assert_eq!(
        disabled
            .call("/api/private", "Bearer", &disabled.token, &[])
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn with_nonces_the_api_hands_out_its_nonce_and_takes_proofs_that_carry_it() {
    let b = Bound::new(|s| s.dpop.nonces = true).await;
    let path = "/api/private";
    let answer = b.with_proof(b.proof(path)).await;
    assert_eq!(answer.status(), 401);
    let nonce = answer.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    let answer = error_answer(answer).await;
    assert_eq!(answer.body.error, "use_dpop_nonce");
    assert!(
        answer
            .challenge
            .unwrap()
            .contains("error=\"use_dpop_nonce\"")
    );
    let stale = b.key.proof(
        "GET",
        &b.uri(path),
        Some(&b.token),
        Some("made-up"),
        now() as i64,
    );
    assert_eq!(
        error_answer(b.with_proof(stale).await).await.body.error,
        "use_dpop_nonce"
    );
    let good = b.key.proof(
        "GET",
        &b.uri(path),
        Some(&b.token),
        Some(&nonce),
        now() as i64,
    );
    assert_eq!(b.with_proof(good).await.status(), 200);
}

#[tokio::test]
async fn htu_is_the_public_url_never_the_host_header() {
    let b = Bound::new(|s| s.dpop.public_urls = Some(vec!["https://api.example.com".into()])).await;
    let path = "/api/private";
    let public = b.key.proof(
        "GET",
        &format!("https://API.example.com:443{path}"),
        Some(&b.token),
        None,
        now() as i64,
    );
    assert_eq!(b.with_proof(public).await.status(), 200);
    // The address the test reached it at is not a public URL, whatever Host says.
    let local = b.proof(path);
    let response = b
        .app
        .client
        .get(b.uri(path))
        .header("Authorization", format!("DPoP {}", b.token))
        .header("Host", "api.example.com")
        .header("DPoP", local)
        .send()
        .await
        .unwrap();
    let answer = error_answer(response).await;
    assert_eq!(answer.status, 401);
    assert!(
        answer
            .body
            .message
            .contains("https://api.example.com/api/private"),
        "{}",
        answer.body.message
    );
}

#[tokio::test]
async fn a_browser_may_send_a_proof_and_read_the_nonce_across_origins() {
    let app = TestApp::spawn().await;
    let preflight = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/private", app.base),
        )
        .header("Origin", ALLOWED_ORIGIN)
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization,dpop")
        .send()
        .await
        .unwrap();
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("dpop"), "{allowed}");
    let answer = app
        .client
        .get(format!("{}/api/public", app.base))
        .header("Origin", ALLOWED_ORIGIN)
        .send()
        .await
        .unwrap();
    let exposed = answer.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(exposed.contains("dpop-nonce"), "{exposed}");
}

/// The tenant binds a client-credentials token to the proof's key; the API takes it with a
/// proof of that key, and not as a bearer token.
#[tokio::test]
async fn a_token_the_tenant_bound_is_taken_with_its_proof() {
    let app = TestApp::spawn().await;
    let key = ProofKey::generate();
    let token_url = app.tenant.endpoint("oauth/token");
    let tokens: Value = app
        .client
        .post(&token_url)
        .header(
            "DPoP",
            key.proof("POST", &token_url, None, None, now() as i64),
        )
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", M2M_CLIENT_ID),
            ("client_secret", M2M_CLIENT_SECRET),
            ("audience", AUDIENCE),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    let token = tokens["access_token"].as_str().unwrap();
    let uri = format!("{}/api/private-scoped", app.base);
    let proof = key.proof("GET", &uri, Some(token), None, now() as i64);
    let response = app
        .client
        .get(&uri)
        .header("Authorization", format!("DPoP {token}"))
        .header("DPoP", proof)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        app.get("/api/private-scoped", Some(token)).await.status(),
        401
    );
}

#[tokio::test]
async fn a_full_replay_cache_refuses_new_proofs_with_503_and_forgets_none() {
    // Room for one proof per shard: some proof among the first 17 finds its shard full.
    let b = Bound::new(|s| s.dpop.replay_capacity = 16).await;
    let mut sent = Vec::new();
    let full = loop {
        assert!(sent.len() <= 16, "17 proofs fit into room for 16");
        let proof = b.proof("/api/private");
        let answer = b.with_proof(proof.clone()).await;
        if answer.status() != 200 {
            break answer;
        }
        sent.push(proof);
    };
    let full = error_answer(full).await;
    assert_eq!(full.status, 503);
    assert_eq!(full.body.error, "temporarily_unavailable");
    let wait: u64 = full.retry_after.expect("Retry-After").parse().unwrap();
    // Until the oldest proof leaves the window it is kept for: max age + leeway on both sides.
    assert!((60..=70).contains(&wait), "Retry-After {wait}");
    // Every proof taken is still remembered: a replay is a replay, not a free slot.
    for proof in sent {
        let answer = error_answer(b.with_proof(proof).await).await;
        assert_eq!(answer.body.error, "invalid_dpop_proof");
    }
}
