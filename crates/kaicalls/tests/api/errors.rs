//! Every failure answers in the reference's error envelope, naming the bad parameter.

use reqwest::Method;
use serde_json::json;

use crate::harness::{code, param, Server};

#[tokio::test]
async fn bad_parameters_are_400_and_named() {
    let server = Server::start().await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let key = &boot.live_key;
    let agent = &boot.agent_id;

    let cases = [
        (json!({"to": "+15125551234"}), "agent_id"),
        (json!({"agent_id": agent}), "to"),
        (json!({"agent_id": agent, "to": "512-555-1234"}), "to"),
        (json!({"agent_id": agent, "to": "+1512555"}), "to"),
        (
            json!({"agent_id": agent, "to": "+15125551234", "max_duration": 9}),
            "max_duration",
        ),
        (
            json!({"agent_id": agent, "to": "+15125551234", "max_duration": 3601}),
            "max_duration",
        ),
        (
            json!({"agent_id": agent, "to": "+15125551234", "max_duration": "long"}),
            "max_duration",
        ),
        (
            json!({"agent_id": agent, "to": "+15125551234", "context": "x".repeat(10_001)}),
            "context",
        ),
    ];
    for (body, expected) in cases {
        let (status, err) = server.post(key, "/api/v1/calls", body.clone()).await;
        assert_eq!(
            (status.as_u16(), code(&err)),
            (400, "invalid_request"),
            "{body}"
        );
        assert_eq!(param(&err), expected, "{body}");
    }
    for limit in ["0", "101", "abc"] {
        let (status, err) = server
            .get(key, &format!("/api/v1/calls?limit={limit}"))
            .await;
        assert_eq!((status.as_u16(), code(&err)), (400, "invalid_request"));
        assert_eq!(param(&err), "limit");
    }
    assert_eq!(server.get(key, "/api/v1/calls?limit=100").await.0, 200);
    for limit in ["0", "501"] {
        let (status, err) = server
            .get(key, &format!("/api/v1/usage?limit={limit}"))
            .await;
        assert_eq!((status.as_u16(), param(&err)), (400, "limit"));
    }
    assert_eq!(server.get(key, "/api/v1/usage?limit=500").await.0, 200);
    let (status, err) = server.get(key, "/api/v1/usage?start=yesterday").await;
    assert_eq!((status.as_u16(), param(&err)), (400, "start"));

    // Unknown agent or lead: 404. An agent without a number: 400.
    let (status, err) = server
        .post(
            key,
            "/api/v1/calls",
            json!({"agent_id": "no-such-agent", "to": "+15125551234"}),
        )
        .await;
    assert_eq!((status.as_u16(), code(&err)), (404, "not_found"));
    let (status, err) = server
        .post(
            key,
            "/api/v1/calls",
            json!({"agent_id": agent, "to": "+15125551234", "lead_id": "no-such-lead"}),
        )
        .await;
    assert_eq!((status.as_u16(), code(&err)), (404, "not_found"));
    let (status, numberless) = server
        .post(key, "/api/v1/agents", json!({"name": "Numberless"}))
        .await;
    assert_eq!(status, 201);
    let (status, err) = server
        .post(
            key,
            "/api/v1/calls",
            json!({"agent_id": numberless["id"], "to": "+15125551234"}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), code(&err), param(&err)),
        (400, "invalid_request", "agent_id")
    );

    // null equals absent; unknown fields are ignored.
    let (status, created) = server
        .post(
            key,
            "/api/v1/calls",
            json!({"agent_id": agent, "to": "+15125551234", "name": null, "context": null,
                   "webhook_url": null, "max_duration": null, "surprise": true}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
}

#[tokio::test]
async fn transport_failures_use_the_envelope() {
    let server = Server::start().await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let key = &boot.live_key;

    let (status, err) = server.get(key, "/api/v1/nope").await;
    assert_eq!((status.as_u16(), code(&err)), (404, "not_found"));
    let (status, err) = server.call(Method::GET, "/nothing-here", None, None).await;
    assert_eq!((status.as_u16(), code(&err)), (404, "not_found"));
    let (status, err) = server
        .call(Method::PUT, "/api/v1/calls", Some(key), None)
        .await;
    assert_eq!((status.as_u16(), code(&err)), (405, "method_not_allowed"));

    let post = |body: &'static str, content_type: &'static str| {
        server
            .request(Method::POST, "/api/v1/calls")
            .bearer_auth(key)
            .header("content-type", content_type)
            .body(body)
    };
    let resp = post("{\"agent_id\": \"x\"", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().contains_key("request-id"));
    assert_eq!(code(&resp.json().await.unwrap()), "invalid_request");
    let resp = post("agent_id=x", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    assert_eq!(code(&resp.json().await.unwrap()), "unsupported_media_type");

    let huge = format!("{{\"context\": \"{}\"}}", "x".repeat(1024 * 1024 + 10));
    let resp = server
        .request(Method::POST, "/api/v1/calls")
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(code(&resp.json().await.unwrap()), "payload_too_large");

    // The published clients send Content-Type: application/json on body-less GETs.
    let resp = server
        .request(Method::GET, "/api/v1/agents")
        .bearer_auth(key)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // The OpenAPI document and the human-readable docs need no key.
    let (status, doc) = server
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(
        (status.as_u16(), doc["openapi"].as_str()),
        (200, Some("3.1.0"))
    );
    assert!(doc["paths"]["/api/v1/calls"]["post"]["requestBody"].is_object());
    let docs = server.request(Method::GET, "/docs").send().await.unwrap();
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("/api/v1/calls") && !html.contains("<script"));

    // Health needs no key, and accepts one.
    let (status, health) = server.call(Method::GET, "/api/v1/health", None, None).await;
    assert_eq!(
        (status.as_u16(), health["status"].as_str()),
        (200, Some("ok"))
    );
    assert_eq!(server.get(key, "/api/v1/health").await.0, 200);
}
