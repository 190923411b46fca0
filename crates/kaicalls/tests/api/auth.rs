//! Keys, scopes, sessions and tenant isolation.

use reqwest::Method;
use serde_json::json;

use crate::harness::{code, param, Server, PASSWORD};

#[tokio::test]
async fn missing_malformed_revoked_and_expired_keys_are_401() {
    let server = Server::start().await;
    let boot = server.bootstrap("owner@smithlaw.test");

    let (status, body) = server.call(Method::GET, "/api/v1/agents", None, None).await;
    assert_eq!((status.as_u16(), code(&body)), (401, "unauthorized"));
    for bad in [
        "kc_live_short",
        "sk_live_0123456789012345678901234567890123",
        "kc_live_0123456789abcdefghij0123456789ABCDEFGH",
    ] {
        let (status, body) = server.get(bad, "/api/v1/agents").await;
        assert_eq!(
            (status.as_u16(), code(&body)),
            (401, "unauthorized"),
            "{bad}"
        );
    }
    // The other header works too.
    let resp = server
        .request(Method::GET, "/api/v1/agents")
        .header("X-KaiCalls-API-Key", &boot.live_key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let session = server.login("owner@smithlaw.test").await;
    // Revoked: stops working at once.
    let (status, created) = server
        .with_session(
            &session,
            Method::POST,
            "/api/v1/keys",
            Some(json!({"name": "Temp"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let temp = created["key"].as_str().unwrap().to_string();
    assert_eq!(server.get(&temp, "/api/v1/agents").await.0, 200);
    let id = created["id"].as_str().unwrap();
    let (status, body) = server
        .with_session(
            &session,
            Method::DELETE,
            &format!("/api/v1/keys?id={id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"success": true}));
    let (status, body) = server.get(&temp, "/api/v1/agents").await;
    assert_eq!((status.as_u16(), code(&body)), (401, "unauthorized"));
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("revoked"));

    // Expired: valid until expires_at, 401 after.
    let expires = chrono::Utc::now() + chrono::Duration::seconds(2);
    let (status, created) = server
        .with_session(
            &session,
            Method::POST,
            "/api/v1/keys",
            Some(json!({"name": "Short", "expires_at": expires.to_rfc3339()})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let short = created["key"].as_str().unwrap().to_string();
    assert_eq!(server.get(&short, "/api/v1/agents").await.0, 200);
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    let (status, body) = server.get(&short, "/api/v1/agents").await;
    assert_eq!((status.as_u16(), code(&body)), (401, "unauthorized"));
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
}

#[tokio::test]
async fn keys_api_creates_lists_and_scopes() {
    let server = Server::start().await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let session = server.login("owner@smithlaw.test").await;
    assert!(session.set_cookie.contains("HttpOnly"));
    assert!(session.set_cookie.contains("SameSite=Lax"));

    // Defaults: name and the four reference scopes, all businesses.
    let (status, created) = server
        .with_session(&session, Method::POST, "/api/v1/keys", Some(json!({})))
        .await;
    assert_eq!(status, 201);
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("kc_live_") && key.len() >= 40);
    assert_eq!(created["prefix"], &key[..12]);
    assert_eq!(created["name"], "Untitled Key");
    assert_eq!(
        created["scopes"],
        json!(["agents:read", "numbers:read", "calls:read", "calls:write"])
    );
    assert_eq!(created["business_id"], serde_json::Value::Null);
    assert!(created["id"].is_string() && created["created_at"].is_string());

    // Listed without the secret, with the reference's fields.
    let (status, list) = server
        .with_session(&session, Method::GET, "/api/v1/keys", None)
        .await;
    assert_eq!(status, 200);
    let listed = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == created["id"])
        .unwrap()
        .clone();
    for field in [
        "id",
        "prefix",
        "name",
        "scopes",
        "business_id",
        "created_at",
        "last_used_at",
        "expires_at",
        "is_active",
    ] {
        assert!(listed.as_object().unwrap().contains_key(field), "{field}");
    }
    assert!(listed.get("key").is_none());
    assert_eq!(listed["is_active"], true);
    assert_eq!(listed["last_used_at"], serde_json::Value::Null);
    server.get(key, "/api/v1/agents").await;
    let (_, list) = server
        .with_session(&session, Method::GET, "/api/v1/keys", None)
        .await;
    let listed = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == created["id"])
        .unwrap()
        .clone();
    assert!(
        listed["last_used_at"].is_string(),
        "last_used_at set on use"
    );

    // A business-scoped key with one scope.
    let (status, narrow) = server
        .with_session(
            &session,
            Method::POST,
            "/api/v1/keys",
            Some(json!({"name": "Reader", "business_id": boot.business_id, "scopes": ["calls:read"]})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(narrow["business_id"], boot.business_id.as_str());
    let narrow = narrow["key"].as_str().unwrap();
    // 403 for a missing scope.
    let (status, body) = server.get(narrow, "/api/v1/agents").await;
    assert_eq!((status.as_u16(), code(&body)), (403, "forbidden"));
    let (status, body) = server
        .post(
            narrow,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": "+15125551234"}),
        )
        .await;
    assert_eq!((status.as_u16(), code(&body)), (403, "forbidden"));
    assert_eq!(server.get(narrow, "/api/v1/calls").await.0, 200);
    // /balance and /usage need any valid key.
    assert_eq!(server.get(narrow, "/api/v1/balance").await.0, 200);
    assert_eq!(server.get(narrow, "/api/v1/usage").await.0, 200);

    // Unknown scope → 400 naming scopes.
    let (status, body) = server
        .with_session(
            &session,
            Method::POST,
            "/api/v1/keys",
            Some(json!({"scopes": ["calls:read", "calls:delete"]})),
        )
        .await;
    assert_eq!((status.as_u16(), code(&body)), (400, "invalid_request"));
    assert_eq!(param(&body), "scopes");

    // A test-mode key.
    let (status, test) = server
        .with_session(
            &session,
            Method::POST,
            "/api/v1/keys",
            Some(json!({"mode": "test"})),
        )
        .await;
    assert_eq!(status, 201);
    assert!(test["key"].as_str().unwrap().starts_with("kc_test_"));

    // Key management refuses API keys.
    let (status, body) = server.get(&boot.live_key, "/api/v1/keys").await;
    assert_eq!((status.as_u16(), code(&body)), (401, "unauthorized"));
}

#[tokio::test]
async fn sessions_refuse_cross_site_writes_and_throttle_logins() {
    let server = Server::start().await;
    server.bootstrap("owner@smithlaw.test");
    let session = server.login("owner@smithlaw.test").await;

    let resp = server
        .request(Method::POST, "/api/v1/keys")
        .header("cookie", &session.cookie)
        .header("origin", "https://evil.example")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = server
        .request(Method::POST, "/api/v1/keys")
        .header("cookie", &session.cookie)
        .header("sec-fetch-site", "cross-site")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    // Logout ends the session.
    let (status, _) = server
        .with_session(&session, Method::POST, "/api/v1/auth/logout", None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .with_session(&session, Method::GET, "/api/v1/keys", None)
        .await;
    assert_eq!(status, 401);

    // Five wrong passwords, then even the right one is throttled.
    for _ in 0..5 {
        let (status, body) = server
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"email": "owner@smithlaw.test", "password": "wrong-password"})),
            )
            .await;
        assert_eq!((status.as_u16(), code(&body)), (401, "unauthorized"));
    }
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "owner@smithlaw.test", "password": PASSWORD})),
        )
        .await;
    assert_eq!((status.as_u16(), code(&body)), (429, "rate_limited"));

    // One address guessing across many emails is throttled too: 20 failures from it
    // (5 above, 15 here), then even a fresh email is refused.
    let login = |email: String| {
        server.call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": email, "password": "wrong-password"})),
        )
    };
    for i in 0..15 {
        let (status, _) = login(format!("guess{i}@smithlaw.test")).await;
        assert_eq!(status, 401, "attempt {i}");
    }
    let (status, body) = login("fresh@smithlaw.test".into()).await;
    assert_eq!((status.as_u16(), code(&body)), (429, "rate_limited"));
}

#[tokio::test]
async fn another_tenants_agent_call_and_key_are_404() {
    let server = Server::start().await;
    let a = server.bootstrap("a@tenant.test");
    let b = server.bootstrap("b@tenant.test");

    let (status, call) = server
        .post(
            &a.live_key,
            "/api/v1/calls",
            json!({"agent_id": a.agent_id, "to": "+15125551234"}),
        )
        .await;
    assert_eq!(status, 201);
    let call_id = call["id"].as_str().unwrap();

    let (status, body) = server
        .get(&b.live_key, &format!("/api/v1/agents?id={}", a.agent_id))
        .await;
    assert_eq!((status.as_u16(), code(&body)), (404, "not_found"));
    let (status, body) = server
        .get(&b.live_key, &format!("/api/v1/calls?id={call_id}"))
        .await;
    assert_eq!((status.as_u16(), code(&body)), (404, "not_found"));
    let (status, body) = server
        .post(
            &b.live_key,
            "/api/v1/calls",
            json!({"agent_id": a.agent_id, "to": "+15125551234"}),
        )
        .await;
    assert_eq!((status.as_u16(), code(&body)), (404, "not_found"));
    // Lists never show the other tenant's objects.
    let (_, agents) = server.get(&b.live_key, "/api/v1/agents").await;
    assert_eq!(agents["agents"].as_array().unwrap().len(), 1);
    assert_eq!(agents["agents"][0]["id"], b.agent_id.as_str());
    let (_, calls) = server.get(&b.live_key, "/api/v1/calls").await;
    assert_eq!(calls["calls"], json!([]));

    // B's session cannot revoke A's key.
    let a_session = server.login("a@tenant.test").await;
    let (_, keys) = server
        .with_session(&a_session, Method::GET, "/api/v1/keys", None)
        .await;
    let a_key_id = keys["keys"][0]["id"].as_str().unwrap().to_string();
    let b_session = server.login("b@tenant.test").await;
    let (status, body) = server
        .with_session(
            &b_session,
            Method::DELETE,
            &format!("/api/v1/keys?id={a_key_id}"),
            None,
        )
        .await;
    assert_eq!((status.as_u16(), code(&body)), (404, "not_found"));
    assert_eq!(server.get(&a.live_key, "/api/v1/agents").await.0, 200);

    // Running bootstrap again with A's email adds a second business to A.
    let again = server.bootstrap("a@tenant.test");
    assert_eq!(again.user_id, a.user_id);
    assert_ne!(again.business_id, a.business_id);
    let (_, balance) = server.get(&again.live_key, "/api/v1/balance").await;
    assert_eq!(balance["businesses"].as_array().unwrap().len(), 2);
}
