//! Logging out: `/v2/logout` and RP-Initiated Logout, each to allowed URLs only, each ending
//! the tenant's session.

use super::*;

#[tokio::test]
async fn logout_returns_only_to_allowed_urls_and_ends_the_session() {
    let b = browser().await;
    b.log_in(&implicit("s"), "reader@example.com", "reader")
        .await;
    let logout = |return_to: &'static str, client: &'static str| {
        b.client
            .get(b.url("v2/logout"))
            .query(&[("client_id", client), ("returnTo", return_to)])
            .send()
    };
    for (return_to, client) in [
        ("https://evil.example.com", SPA),
        ("http://localhost:3000", "nobody"),
    ] {
        let refused = logout(return_to, client).await.unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert!(refused.headers().get(LOCATION).is_none());
    }
    // Refused logouts left the session alone.
    let silent = b.authorize(&with(implicit("t"), "prompt", "none")).await;
    assert!(answer(&location(&silent)).contains_key("access_token"));
    let done = logout("http://localhost:3000", SPA).await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "http://localhost:3000");
    let silent = b.authorize(&with(implicit("u"), "prompt", "none")).await;
    assert_eq!(answer(&location(&silent))["error"], "login_required");
}

/// RP-Initiated Logout 1.0, as Auth0's `/oidc/logout`: the same allow-list as `/v2/logout`,
/// and `state` handed back to the app.
#[tokio::test]
async fn oidc_logout_hands_the_state_back_and_ends_the_session() {
    let b = browser().await;
    b.log_in(&implicit("s"), "reader@example.com", "reader")
        .await;
    let discovery = b.get_json(".well-known/openid-configuration").await;
    assert_eq!(discovery["end_session_endpoint"], b.url("oidc/logout"));
    let logout = |to: &'static str| {
        b.client
            .get(b.url("oidc/logout"))
            .query(&[("client_id", SPA), ("post_logout_redirect_uri", to)])
            .query(&[("state", "the app's state")])
            .send()
    };
    let refused = logout("https://evil.example.com/").await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.headers().get(LOCATION).is_none());
    let done = logout("http://localhost:3000/").await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&done),
        "http://localhost:3000/?state=the+app%27s+state"
    );
    let silent = b.authorize(&with(implicit("u"), "prompt", "none")).await;
    assert_eq!(answer(&location(&silent))["error"], "login_required");
}
