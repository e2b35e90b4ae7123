//! DPoP at the tenant (RFC 9449): tokens bound to the key of the proof sent to the token
//! endpoint, a public client's refresh tokens bound to it too, `dpop_jkt`, the tenant's nonce,
//! `/userinfo` with a DPoP token, and `/oauth/revoke`. Each refusal beside its control.

use shared::dpop::ProofKey;

use super::*;

fn now() -> i64 {
    devtenant::testing::now() as i64
}

impl Browser {
    /// `POST /oauth/token` with `form` and, when given, a `DPoP` proof.
    async fn token_with(
        &self,
        form: &[(&str, &str)],
        proof: Option<&str>,
    ) -> (StatusCode, Value, Option<String>) {
        let mut request = self.client.post(self.url("oauth/token")).form(form);
        if let Some(proof) = proof {
            request = request.header("DPoP", proof);
        }
        let response = request.send().await.unwrap();
        let nonce = response
            .headers()
            .get("dpop-nonce")
            .map(|v| v.to_str().unwrap().to_owned());
        (response.status(), response.json().await.unwrap(), nonce)
    }

    fn token_url(&self) -> String {
        self.url("oauth/token")
    }

    /// A code for `reader`, asked with `extra` parameters.
    async fn code(&self, extra: &[(&'static str, String)]) -> String {
        let mut params = code_flow("s");
        params.extend(extra.iter().cloned());
        let location = self.log_in(&params, "reader@example.com", "reader").await;
        answer(&location)["code"].clone()
    }
}

#[tokio::test]
async fn a_proof_at_the_token_endpoint_binds_the_tokens_to_its_key() {
    let b = browser().await;
    let key = ProofKey::generate();
    let code = b.code(&[]).await;
    let proof = key.proof("POST", &b.token_url(), None, None, now());
    let (status, tokens, _) = b
        .token_with(&code_exchange(&code, CALLBACK, VERIFIER), Some(&proof))
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "DPoP");
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["cnf"]["jkt"], key.thumbprint());
    // The control: without a proof, a bearer token, unbound.
    let code = b.code(&[]).await;
    let (_, bearer, _) = b
        .token_with(&code_exchange(&code, CALLBACK, VERIFIER), None)
        .await;
    assert_eq!(bearer["token_type"], "Bearer");
    assert!(claims(bearer["access_token"].as_str().unwrap())["cnf"].is_null());
    // The same proof again: replayed.
    let code = b.code(&[]).await;
    let (status, error, _) = b
        .token_with(&code_exchange(&code, CALLBACK, VERIFIER), Some(&proof))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "invalid_dpop_proof");
    assert!(
        error["error_description"]
            .as_str()
            .unwrap()
            .contains("used before")
    );
}

#[tokio::test]
async fn bad_proofs_are_refused_with_invalid_dpop_proof() {
    let b = browser().await;
    let key = ProofKey::generate();
    let url = b.token_url();
    let cases = [
        (
            "another URL",
            key.proof("POST", &b.url("userinfo"), None, None, now()),
        ),
        ("another method", key.proof("GET", &url, None, None, now())),
        ("too old", key.proof("POST", &url, None, None, now() - 300)),
        (
            "from the future",
            key.proof("POST", &url, None, None, now() + 300),
        ),
        ("not a JWT", "not-a-proof".to_owned()),
    ];
    for (what, proof) in cases {
        let code = b.code(&[]).await;
        let (status, error, _) = b
            .token_with(&code_exchange(&code, CALLBACK, VERIFIER), Some(&proof))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {error}");
        assert_eq!(error["error"], "invalid_dpop_proof", "{what}");
    }
}

#[tokio::test]
async fn a_code_asked_with_dpop_jkt_is_exchanged_only_with_that_key() {
    let b = browser().await;
    let key = ProofKey::generate();
    let other = ProofKey::generate();
    let jkt = [("dpop_jkt", key.thumbprint())];
    for (signer, ok) in [(&other, false), (&key, true)] {
        let code = b.code(&jkt).await;
        let proof = signer.proof("POST", &b.token_url(), None, None, now());
        let (status, body, _) = b
            .token_with(&code_exchange(&code, CALLBACK, VERIFIER), Some(&proof))
            .await;
        assert_eq!(status.is_success(), ok, "{body}");
    }
    let code = b.code(&jkt).await;
    let (status, _, _) = b
        .token_with(&code_exchange(&code, CALLBACK, VERIFIER), None)
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "no proof for a dpop_jkt code"
    );
}

#[tokio::test]
async fn a_public_clients_refresh_token_is_bound_to_its_key() {
    let b = browser().await;
    let key = ProofKey::generate();
    let url = b.token_url();
    let code = b.code(&[]).await;
    let proof = key.proof("POST", &url, None, None, now());
    let (_, tokens, _) = b
        .token_with(&code_exchange(&code, CALLBACK, VERIFIER), Some(&proof))
        .await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", SPA),
        ("refresh_token", refresh.as_str()),
    ];
    // Without a proof, or with another key's: refused, and the token stays live.
    let (status, error, _) = b.token_with(&form, None).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("invalid_grant"))
    );
    let stranger = ProofKey::generate().proof("POST", &url, None, None, now());
    assert_eq!(
        b.token_with(&form, Some(&stranger)).await.0,
        StatusCode::FORBIDDEN
    );
    // With its key: rotated, and still bound.
    let proof = key.proof("POST", &url, None, None, now());
    let (status, renewed, _) = b.token_with(&form, Some(&proof)).await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    assert_eq!(renewed["token_type"], "DPoP");
    assert_eq!(
        claims(renewed["access_token"].as_str().unwrap())["cnf"]["jkt"],
        key.thumbprint()
    );
}

#[tokio::test]
async fn when_the_tenant_requires_its_nonce_a_proof_must_carry_it() {
    let b = browser().await;
    b.tenant.require_dpop_nonce(true);
    let key = ProofKey::generate();
    let url = b.token_url();
    let code = b.code(&[]).await;
    let exchange = code_exchange(&code, CALLBACK, VERIFIER);
    let (status, error, nonce) = b
        .token_with(&exchange, Some(&key.proof("POST", &url, None, None, now())))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "use_dpop_nonce");
    let nonce = nonce.expect("the nonce comes with the refusal");
    // The refusal did not spend the code: the retry with the nonce gets the tokens, as
    // auth0-spa-js retries the same request once.
    let proof = key.proof("POST", &url, None, Some(&nonce), now());
    let (status, tokens, _) = b.token_with(&exchange, Some(&proof)).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "DPoP");
    // A stale nonce is refused the same way.
    b.tenant.rotate_dpop_nonce();
    let code = b.code(&[]).await;
    let stale = key.proof("POST", &url, None, Some(&nonce), now());
    let (_, error, fresh) = b
        .token_with(&code_exchange(&code, CALLBACK, VERIFIER), Some(&stale))
        .await;
    assert_eq!(error["error"], "use_dpop_nonce");
    let code = b.code(&[]).await;
    let proof = key.proof("POST", &url, None, fresh.as_deref(), now());
    let (status, tokens, _) = b
        .token_with(&code_exchange(&code, CALLBACK, VERIFIER), Some(&proof))
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
}

#[tokio::test]
async fn client_credentials_can_be_bound_too() {
    let b = browser().await;
    let key = ProofKey::generate();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", M2M),
        ("client_secret", M2M_SECRET),
        ("audience", AUDIENCE),
    ];
    let proof = key.proof("POST", &b.token_url(), None, None, now());
    let (status, tokens, _) = b.token_with(&form, Some(&proof)).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "DPoP");
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["cnf"]["jkt"],
        key.thumbprint()
    );
}

#[tokio::test]
async fn userinfo_takes_a_bound_token_only_with_its_proof() {
    let b = browser().await;
    let key = ProofKey::generate();
    let code = b.code(&[]).await;
    let proof = key.proof("POST", &b.token_url(), None, None, now());
    let (_, tokens, _) = b
        .token_with(&code_exchange(&code, CALLBACK, VERIFIER), Some(&proof))
        .await;
    let access = tokens["access_token"].as_str().unwrap();
    let userinfo = |proof: Option<String>, scheme: &'static str| {
        let mut request = b
            .client
            .get(b.url("userinfo"))
            .header("Authorization", format!("{scheme} {access}"));
        if let Some(proof) = proof {
            request = request.header("DPoP", proof);
        }
        request.send()
    };
    let url = b.url("userinfo");
    let good = key.proof("GET", &url, Some(access), None, now());
    let response = userinfo(Some(good), "DPoP").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // As a bearer token, or without its proof, or with another key's: 401.
    let response = userinfo(None, "Bearer").await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = userinfo(None, "DPoP").await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("DPoP ")
    );
    let stranger = ProofKey::generate().proof("GET", &url, Some(access), None, now());
    assert_eq!(
        userinfo(Some(stranger), "DPoP").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_family_and_discovery_says_so() {
    let b = browser().await;
    let code = b.code(&[]).await;
    let (_, tokens, _) = b
        .token_with(&code_exchange(&code, CALLBACK, VERIFIER), None)
        .await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let revoke = |client: &'static str| {
        b.client
            .post(b.url("oauth/revoke"))
            .form(&[("client_id", client), ("token", refresh)])
            .send()
    };
    assert_eq!(
        revoke("nobody").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(revoke(SPA).await.unwrap().status(), StatusCode::OK);
    let (status, error, _) = b
        .token_with(
            &[
                ("grant_type", "refresh_token"),
                ("client_id", SPA),
                ("refresh_token", refresh),
            ],
            None,
        )
        .await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("invalid_grant"))
    );
    let discovery = b.get_json(".well-known/openid-configuration").await;
    assert_eq!(discovery["revocation_endpoint"], b.url("oauth/revoke"));
    assert_eq!(
        discovery["dpop_signing_alg_values_supported"],
        serde_json::json!(["ES256", "EdDSA", "PS256", "RS256"])
    );
}
