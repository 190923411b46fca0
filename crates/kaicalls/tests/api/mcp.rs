//! `/api/mcp` and the OAuth server through the real binary, spoken as raw JSON-RPC
//! over HTTP (the official SDKs drive it too: `tests/mcp/`): credentials, scopes
//! deciding the tool list and the calls, tenancy, idempotency, the protocol
//! revisions, and the whole OAuth flow with its refusals.

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Digest;

use crate::harness::{Boot, Server, Session};

const V2025: &str = "2025-11-25";

/// One JSON-RPC request to `/api/mcp` with `auth` as the Authorization header
/// value; the HTTP status and the JSON (or the first SSE message's JSON).
async fn rpc(
    server: &Server,
    auth: Option<&str>,
    method: &str,
    params: Value,
) -> (StatusCode, Value) {
    let mut req = server
        .request(Method::POST, "/api/mcp")
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}));
    // After the handshake, requests name the negotiated version.
    if method != "initialize" {
        req = req.header("mcp-protocol-version", V2025);
    }
    if let Some(auth) = auth {
        req = req.header("authorization", auth);
    }
    let resp = req.send().await.expect("mcp request");
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| {
        // SSE: the last `data:` line carries the response.
        text.lines()
            .rev()
            .filter_map(|l| l.strip_prefix("data:"))
            .find_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .unwrap_or(Value::String(text.clone()))
    });
    (status, json)
}

async fn tool(server: &Server, auth: &str, name: &str, arguments: Value) -> Value {
    let (status, body) = rpc(
        server,
        Some(auth),
        "tools/call",
        json!({"name": name, "arguments": arguments}),
    )
    .await;
    assert_eq!(status, 200, "{name}: {body}");
    body["result"].clone()
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

async fn tool_names(server: &Server, auth: &str) -> Vec<String> {
    let (status, body) = rpc(server, Some(auth), "tools/list", json!({})).await;
    assert_eq!(status, 200, "{body}");
    body["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

async fn calls_to(server: &Server, key: &str, to: &str) -> usize {
    let (_, list) = server.get(key, "/api/v1/calls?limit=100").await;
    list["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["to"] == to)
        .count()
}

#[tokio::test]
async fn without_credentials_401_points_at_the_protected_resource_metadata() {
    let server = Server::start().await;
    let (status, body) = rpc(&server, None, "initialize", json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    let resp = server
        .request(Method::POST, "/api/mcp")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    let metadata_url = format!(
        "{}/.well-known/oauth-protected-resource/api/mcp",
        server.url
    );
    assert_eq!(
        challenge,
        format!(r#"Bearer resource_metadata="{metadata_url}""#)
    );

    let metadata: Value = server
        .http
        .get(&metadata_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["resource"], format!("{}/api/mcp", server.url));
    assert_eq!(metadata["authorization_servers"][0], server.url);
    let issuer: Value = server
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            server.url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(issuer["issuer"], server.url);
    assert_eq!(issuer["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        issuer["token_endpoint"],
        format!("{}/oauth/token", server.url)
    );

    // A bad key is refused the same way, saying the token is invalid.
    let resp = server
        .request(Method::POST, "/api/mcp")
        .bearer_auth("kc_test_notarealkeynotarealkeynotarealkey00")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains(r#"error="invalid_token""#));
}

#[tokio::test]
async fn both_headers_both_handshakes_and_no_accept_header() {
    let server = Server::start().await;
    let boot = server.bootstrap("mcp-headers@example.com");
    let (status, init) = rpc(
        &server,
        Some(&bearer(&boot.test_key)),
        "initialize",
        json!({"protocolVersion": V2025, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(init["result"]["protocolVersion"], V2025);
    let (_, older) = rpc(
        &server,
        Some(&bearer(&boot.test_key)),
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    )
    .await;
    assert_eq!(older["result"]["protocolVersion"], "2025-06-18");

    // X-KaiCalls-API-Key, and no Accept header at all: served, not 406.
    let resp = server
        .request(Method::POST, "/api/mcp")
        .header("x-kaicalls-api-key", &boot.test_key)
        .header("content-type", "application/json")
        .body(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let listed: Value = resp.json().await.unwrap();
    let tools = listed["result"]["tools"].as_array().unwrap();
    assert!(tools.len() >= 17, "{listed}");
    for t in tools {
        assert!(t["inputSchema"]["type"] == "object", "{t}");
        assert!(
            t["outputSchema"]["properties"]["success"].is_object(),
            "{t}"
        );
        for hint in [
            "readOnlyHint",
            "destructiveHint",
            "idempotentHint",
            "openWorldHint",
        ] {
            assert!(t["annotations"][hint].is_boolean(), "{hint} on {t}");
        }
    }

    // The stateless revision: discovery, then a call carrying its version in _meta.
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    // Its transport names the method (and the tool) in headers.
    let stateless = |method: &'static str, params: Value| {
        let mut req = server
            .request(Method::POST, "/api/mcp")
            .bearer_auth(&boot.test_key)
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", method);
        if let Some(name) = params["name"].as_str() {
            req = req.header("mcp-name", name);
        }
        req.json(&json!({"jsonrpc": "2.0", "id": 3, "method": method, "params": params}))
            .send()
    };
    let discovered: Value = stateless("server/discover", json!({"_meta": meta}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let versions = discovered["result"]["supportedVersions"].to_string();
    assert!(
        versions.contains("2026-07-28") && versions.contains(V2025),
        "{discovered}"
    );
    let resp = stateless(
        "tools/call",
        json!({"name": "get_analytics", "arguments": {"days": 7}, "_meta": meta}),
    )
    .await
    .unwrap();
    let called: Value = resp.json().await.unwrap();
    assert_eq!(called["result"]["resultType"], "complete", "{called}");
    assert_eq!(
        called["result"]["structuredContent"]["success"], true,
        "{called}"
    );
    assert_eq!(called["result"]["structuredContent"]["days"], 7);
}

#[tokio::test]
async fn a_call_placed_waited_for_read_and_ended_with_one_call_per_idempotency_key() {
    let server = Server::builder()
        .env("KAICALLS_SIM_SPEED", "60")
        .start()
        .await;
    let boot = server.bootstrap("mcp-story@example.com");
    let auth = bearer(&boot.test_key);
    let agents = tool(&server, &auth, "list_agents", json!({})).await;
    assert_eq!(
        agents["structuredContent"]["agents"][0]["id"],
        boot.agent_id.as_str()
    );
    // The text copy is the same JSON.
    let text: Value = serde_json::from_str(agents["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, agents["structuredContent"]);

    let args = json!({"agent_id": boot.agent_id, "to": "+14155550188", "name": "Ann", "idempotency_key": "mcp-once"});
    let first = tool(&server, &auth, "make_call", args.clone()).await;
    let second = tool(&server, &auth, "make_call", args).await;
    let call_id = first["structuredContent"]["call"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(first["structuredContent"]["replayed"], false);
    assert_eq!(first["structuredContent"]["test_mode"], true);
    assert_eq!(second["structuredContent"]["replayed"], true);
    assert_eq!(second["structuredContent"]["call"]["id"], call_id.as_str());
    assert_eq!(
        calls_to(&server, &boot.test_key, "+14155550188").await,
        1,
        "one key, one call"
    );

    let mut done = Value::Null;
    for _ in 0..10 {
        done = tool(
            &server,
            &auth,
            "wait_for_call",
            json!({"call_id": call_id, "timeout_s": 20}),
        )
        .await;
        if done["structuredContent"]["done"] == true {
            break;
        }
    }
    let call = &done["structuredContent"]["call"];
    assert_eq!(call["status"], "completed", "{done}");
    assert!(call["transcript"].as_str().unwrap().contains("Agent:"));
    let transcript = tool(
        &server,
        &auth,
        "get_transcript",
        json!({"call_id": call_id}),
    )
    .await;
    assert_eq!(
        transcript["structuredContent"]["transcript_available"],
        true
    );
    let recording = tool(
        &server,
        &auth,
        "get_call_recording",
        json!({"call_id": call_id}),
    )
    .await;
    let url = recording["structuredContent"]["call"]["recording_url"]
        .as_str()
        .unwrap()
        .to_string();
    let audio = server.http.get(&url).send().await.unwrap();
    assert_eq!(audio.status(), 200);

    // A bad number is the tool's error, naming `to`.
    let bad = tool(
        &server,
        &auth,
        "make_call",
        json!({"agent_id": boot.agent_id, "to": "12345"}),
    )
    .await;
    assert_eq!(bad["isError"], true);
    assert_eq!(bad["structuredContent"]["code"], "invalid_request");
    assert_eq!(bad["structuredContent"]["param"], "to");

    // A call that never hangs up, ended.
    let long = tool(
        &server,
        &auth,
        "make_call",
        json!({"agent_id": boot.agent_id, "to": "+15005550006"}),
    )
    .await;
    let long_id = long["structuredContent"]["call"]["id"].as_str().unwrap();
    let ended = tool(&server, &auth, "end_call", json!({"call_id": long_id})).await;
    assert_eq!(ended["structuredContent"]["success"], true, "{ended}");
    let status = ended["structuredContent"]["call"]["status"]
        .as_str()
        .unwrap();
    assert!(
        ["completed", "canceled", "in_progress", "ringing", "queued"].contains(&status),
        "{ended}"
    );
    let finished = server.wait_terminal(&boot.test_key, long_id).await;
    assert!(
        ["completed", "canceled"].contains(&finished["status"].as_str().unwrap()),
        "{finished}"
    );

    let analytics = tool(&server, &auth, "get_analytics", json!({"days": 1})).await;
    assert!(
        analytics["structuredContent"]["calls_total"]
            .as_i64()
            .unwrap()
            >= 2,
        "{analytics}"
    );
}

#[tokio::test]
async fn scopes_decide_the_tools_and_tenants_stay_apart() {
    let server = Server::start().await;
    let boot = server.bootstrap("mcp-scopes@example.com");
    let other = server.bootstrap("mcp-other@example.com");
    let session = server.login("mcp-scopes@example.com").await;
    let (status, created) = server
        .with_session(
            &session,
            Method::POST,
            "/api/v1/keys",
            Some(
                json!({"name": "reader", "mode": "test", "scopes": ["calls:read", "agents:read"]}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let reader = bearer(created["key"].as_str().unwrap());
    let names = tool_names(&server, &reader).await;
    assert!(names.contains(&"list_recent_calls".to_string()));
    assert!(!names.contains(&"make_call".to_string()), "{names:?}");
    assert!(!names.contains(&"upsert_lead".to_string()));
    let refused = tool(
        &server,
        &reader,
        "make_call",
        json!({"agent_id": boot.agent_id, "to": "+14155550177"}),
    )
    .await;
    assert_eq!(refused["isError"], true);
    assert_eq!(refused["structuredContent"]["code"], "insufficient_scope");
    assert_eq!(
        calls_to(&server, &boot.test_key, "+14155550177").await,
        0,
        "nothing dialed"
    );

    // Another tenant's call is not found.
    let (_, placed) = server
        .post(
            &other.test_key,
            "/api/v1/calls",
            json!({"agent_id": other.agent_id, "to": "+14155550166"}),
        )
        .await;
    let theirs = placed["id"].as_str().unwrap();
    let seen = tool(
        &server,
        &bearer(&boot.test_key),
        "check_call_status",
        json!({"call_id": theirs}),
    )
    .await;
    assert_eq!(seen["isError"], true);
    assert_eq!(seen["structuredContent"]["code"], "not_found");
}

#[tokio::test]
async fn hosts_outside_the_allowed_list_are_refused() {
    let server = Server::start().await;
    let boot = server.bootstrap("mcp-hosts@example.com");
    let resp = server
        .request(Method::POST, "/api/mcp")
        .bearer_auth(&boot.test_key)
        .header("host", "evil.example")
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = server
        .request(Method::POST, "/api/mcp")
        .bearer_auth(&boot.test_key)
        .header("origin", "https://evil.example")
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

// ------------------------------------------------------------------ OAuth

const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn pkce() -> (String, String) {
    let verifier = format!("v{}", "erifier-0123456789-abcdefghijklmnopqrstuvwxyz");
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn register(server: &Server) -> String {
    let resp = server
        .http
        .post(format!("{}/oauth/register", server.url))
        .json(&json!({"client_name": "Test Agent", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body.get("client_secret").is_none(),
        "a public client has no secret"
    );
    body["client_id"].as_str().unwrap().to_string()
}

/// The consent as `session`, for `business_id`: the code from the redirect.
async fn consent(
    server: &Server,
    session: &Session,
    client_id: &str,
    challenge: &str,
    business_id: &str,
) -> String {
    let http = no_redirects();
    let query = format!(
        "response_type=code&client_id={client_id}&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256&state=xyz&resource={}",
        urlencode(REDIRECT),
        urlencode(&format!("{}/api/mcp", server.url))
    );
    let page = http
        .get(format!("{}/oauth/authorize?{query}", server.url))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Test Agent") && html.contains("calls:write"),
        "the page names the app and the scopes"
    );
    let form = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("state", "xyz"),
        ("business_id", business_id),
        ("mode", "test"),
        ("decision", "allow"),
    ];
    let resp = http
        .post(format!("{}/oauth/authorize", server.url))
        .header("cookie", &session.cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(REDIRECT));
    let pairs: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(pairs["state"], "xyz");
    assert_eq!(pairs["iss"], server.url);
    pairs["code"].clone()
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The code for tokens, as a public client.
async fn exchange(
    server: &Server,
    client_id: &str,
    code: &str,
    verifier: &str,
) -> (StatusCode, Value) {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ];
    token(server, &form).await
}

async fn refresh(server: &Server, client_id: &str, refresh_token: &str) -> (StatusCode, Value) {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", client_id),
    ];
    token(server, &form).await
}

async fn token(server: &Server, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let resp = server
        .http
        .post(format!("{}/oauth/token", server.url))
        .form(form)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn oauth_code_pkce_tokens_bound_to_one_business_refresh_and_revocation() {
    let server = Server::start().await;
    let boot: Boot = server.bootstrap("mcp-oauth@example.com");
    let other = server.bootstrap("mcp-oauth-b@example.com");
    let session = server.login("mcp-oauth@example.com").await;
    let client_id = register(&server).await;
    let (verifier, challenge) = pkce();

    // Signed out, the authorization endpoint asks to sign in first, coming back.
    let signed_out = no_redirects()
        .get(format!(
            "{}/oauth/authorize?client_id={client_id}&response_type=code",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 303);
    assert!(signed_out.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/login?next=%2Foauth%2Fauthorize"));
    // A redirect URI the client did not register is shown as an error, not followed.
    let wrong = no_redirects()
        .get(format!("{}/oauth/authorize?client_id={client_id}&response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&code_challenge={challenge}&code_challenge_method=S256", server.url))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);

    let code = consent(&server, &session, &client_id, &challenge, &boot.business_id).await;
    // A wrong verifier is refused (and does not use the code up); a code is good once.
    let (status, refused) = exchange(
        &server,
        &client_id,
        &code,
        "wrong-verifier-wrong-verifier-wrong-verifier-0",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"], "invalid_grant");
    let (status, tokens) = exchange(&server, &client_id, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let (status, again) = exchange(&server, &client_id, &code, &verifier).await;
    assert_eq!(status, 400, "a code is good once: {again}");

    // The code's second use revoked its grant: start again.
    let code = consent(&server, &session, &client_id, &challenge, &boot.business_id).await;
    assert_eq!(
        rpc(&server, Some(&bearer(&access)), "tools/list", json!({}))
            .await
            .0,
        401,
        "tokens of a grant whose code was replayed are revoked"
    );
    let (_, tokens) = exchange(&server, &client_id, &code, &verifier).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_string();

    let auth = bearer(&access);
    let agents = tool(&server, &auth, "list_agents", json!({})).await;
    assert_eq!(
        agents["structuredContent"]["agents"][0]["id"],
        boot.agent_id.as_str()
    );
    // Nothing but /api/mcp takes it.
    let (status, body) = server.get(&access, "/api/v1/calls").await;
    assert_eq!(status, 401, "{body}");
    // Business B's call is not found with A's token.
    let (_, placed) = server
        .post(
            &other.test_key,
            "/api/v1/calls",
            json!({"agent_id": other.agent_id, "to": "+14155550155"}),
        )
        .await;
    let seen = tool(
        &server,
        &auth,
        "check_call_status",
        json!({"call_id": placed["id"]}),
    )
    .await;
    assert_eq!(seen["structuredContent"]["code"], "not_found");

    // Refresh rotates: the new pair works, the old refresh token is refused and
    // its reuse revokes the grant.
    let (status, rotated) = refresh(&server, &client_id, &refresh_token).await;
    assert_eq!(status, 200, "{rotated}");
    let access2 = rotated["access_token"].as_str().unwrap().to_string();
    assert_ne!(access2, access);
    assert_eq!(
        rpc(&server, Some(&bearer(&access2)), "tools/list", json!({}))
            .await
            .0,
        200
    );

    // The dashboard lists the connected app; disconnecting it refuses its token at once.
    let settings = server
        .http
        .get(format!("{}/dashboard/settings", server.url))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(settings.contains("Connected apps") && settings.contains("Test Agent"));
    let grant_action = settings
        .split("action=\"/dashboard/apps/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let revoked = no_redirects()
        .post(format!("{}/dashboard/apps/{grant_action}", server.url))
        .header("cookie", &session.cookie)
        .header("origin", &server.url)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 303);
    assert_eq!(
        rpc(&server, Some(&bearer(&access2)), "tools/list", json!({}))
            .await
            .0,
        401
    );
    let spent = rotated["refresh_token"].as_str().unwrap();
    let (status, _) = refresh(&server, &client_id, spent).await;
    assert_eq!(status, 400, "a revoked grant refreshes no more");

    // RFC 7009 revocation, and refresh-token reuse.
    let code = consent(&server, &session, &client_id, &challenge, &boot.business_id).await;
    let (_, fresh) = exchange(&server, &client_id, &code, &verifier).await;
    let first_refresh = fresh["refresh_token"].as_str().unwrap().to_string();
    let (_, next) = refresh(&server, &client_id, &first_refresh).await;
    let (status, reuse) = refresh(&server, &client_id, &first_refresh).await;
    assert_eq!(
        (status, reuse["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        rpc(
            &server,
            Some(&bearer(next["access_token"].as_str().unwrap())),
            "tools/list",
            json!({})
        )
        .await
        .0,
        401,
        "reusing a rotated refresh token revokes the grant"
    );
    let code = consent(&server, &session, &client_id, &challenge, &boot.business_id).await;
    let (_, last) = exchange(&server, &client_id, &code, &verifier).await;
    let last_access = last["access_token"].as_str().unwrap();
    let resp = server
        .http
        .post(format!("{}/oauth/revoke", server.url))
        .form(&[("token", last_access)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        rpc(&server, Some(&bearer(last_access)), "tools/list", json!({}))
            .await
            .0,
        401
    );

    // A consent for a business that is not the user's is refused.
    let (_, challenge2) = pkce();
    let http = no_redirects();
    let resp = http
        .post(format!("{}/oauth/authorize", server.url))
        .header("cookie", &session.cookie)
        .form(&[
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_challenge", challenge2.as_str()),
            ("code_challenge_method", "S256"),
            ("business_id", other.business_id.as_str()),
            ("mode", "test"),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn client_registration_is_throttled_per_address() {
    let server = Server::start().await;
    let body = json!({"client_name": "Loop", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"});
    let register = || {
        server
            .http
            .post(format!("{}/oauth/register", server.url))
            .json(&body)
            .send()
    };
    for _ in 0..30 {
        assert_eq!(register().await.unwrap().status(), 201);
    }
    let refused = register().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests");
}
