//! The dashboard's protections and the account API behind it, through the real
//! binary: sign-up (`POST /api/v1/signup` and the form), sessions listed and ended,
//! password change; a cross-site form post, a request without a session and the
//! session of another business are refused. (The pages themselves are driven in a
//! browser by tests/dashboard.)

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{code, param, Server};

fn cookie_of(resp: &reqwest::Response) -> String {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("kc_session="))
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

async fn signup(server: &Server, email: &str) -> (Value, String) {
    let resp = server
        .request(Method::POST, "/api/v1/signup")
        .json(&json!({"email": email, "password": "a long password", "business_name": "Signup Law", "timezone": "America/Chicago"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let cookie = cookie_of(&resp);
    (resp.json().await.unwrap(), cookie)
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn signup_makes_a_working_account_and_refuses_bad_or_taken_input() {
    let server = Server::start().await;
    let (account, cookie) = signup(&server, "New@Signup.test").await;
    assert_eq!(account["email"], "new@signup.test");
    let key = account["test_key"].as_str().unwrap();
    assert!(key.starts_with("kc_test_"));
    // The key places a call with the agent made for the account.
    let (status, call) = server
        .post(
            key,
            "/api/v1/calls",
            json!({"agent_id": account["agent_id"], "to": "+15125551234"}),
        )
        .await;
    assert_eq!(status, 201, "{call}");
    // The cookie is a session: the keys API answers it, listing only the test key.
    let resp = server
        .request(Method::GET, "/api/v1/keys")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let keys: Value = resp.json().await.unwrap();
    let modes: Vec<&str> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["mode"].as_str().unwrap())
        .collect();
    assert_eq!(
        modes,
        ["test"],
        "a sign-up makes no live key it never showed"
    );

    for (body, field) in [
        (
            json!({"email": "nope", "password": "a long password", "business_name": "X"}),
            "email",
        ),
        (
            json!({"email": "a@b.test", "password": "short", "business_name": "X"}),
            "password",
        ),
        (
            json!({"email": "a@b.test", "password": "a long password"}),
            "business_name",
        ),
        (
            json!({"email": "a@b.test", "password": "a long password", "business_name": "X", "business_phone": "12"}),
            "business_phone",
        ),
        (
            json!({"email": "a@b.test", "password": "a long password", "business_name": "X", "timezone": "Mars/Base"}),
            "timezone",
        ),
    ] {
        let (status, err) = server
            .call(Method::POST, "/api/v1/signup", None, Some(body))
            .await;
        assert_eq!(
            (status, param(&err)),
            (StatusCode::BAD_REQUEST, field),
            "{err}"
        );
    }
    let (status, err) = server
        .call(
            Method::POST,
            "/api/v1/signup",
            None,
            Some(json!({"email": "new@signup.test", "password": "another password", "business_name": "Again"})),
        )
        .await;
    assert_eq!((status, code(&err)), (StatusCode::CONFLICT, "conflict"));
}

#[tokio::test]
async fn sessions_are_listed_and_ended_and_a_password_change_ends_the_others() {
    let server = Server::start().await;
    let (_, first) = signup(&server, "sessions@signup.test").await;
    let login = || async {
        let resp = server
            .request(Method::POST, "/api/v1/auth/login")
            .header("user-agent", "Second Browser/1.0")
            .json(&json!({"email": "sessions@signup.test", "password": "a long password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        cookie_of(&resp)
    };
    let second = login().await;
    let session = |cookie: &str| crate::harness::Session {
        cookie: cookie.to_string(),
        set_cookie: String::new(),
    };
    let (status, list) = server
        .with_session(&session(&first), Method::GET, "/api/v1/auth/sessions", None)
        .await;
    assert_eq!(status, 200);
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let other = sessions.iter().find(|s| s["current"] == false).unwrap();
    assert_eq!(other["user_agent"], "Second Browser/1.0");

    // Ending the second session signs that browser out at once.
    let (status, _) = server
        .with_session(
            &session(&first),
            Method::DELETE,
            &format!("/api/v1/auth/sessions?id={}", other["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .with_session(&session(&second), Method::GET, "/api/v1/keys", None)
        .await;
    assert_eq!(status, 401);

    // A password change needs the current password, and ends every other session.
    let third = login().await;
    let (status, err) = server
        .with_session(
            &session(&first),
            Method::POST,
            "/api/v1/auth/password",
            Some(json!({"current_password": "not it at all", "new_password": "a newer password"})),
        )
        .await;
    assert_eq!(
        (status, param(&err)),
        (StatusCode::BAD_REQUEST, "current_password")
    );
    let (status, _) = server
        .with_session(
            &session(&first),
            Method::POST,
            "/api/v1/auth/password",
            Some(
                json!({"current_password": "a long password", "new_password": "a newer password"}),
            ),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .with_session(&session(&third), Method::GET, "/api/v1/keys", None)
        .await;
    assert_eq!(status, 401, "the other session ended");
    let (status, _) = server
        .with_session(&session(&first), Method::GET, "/api/v1/keys", None)
        .await;
    assert_eq!(status, 200, "this one goes on");
    let (status, _) = server
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "sessions@signup.test", "password": "a newer password"})),
        )
        .await;
    assert_eq!(status, 200);
}

/// Every dashboard form post refuses another site's request; without a session a
/// page asks to sign in and a post changes nothing; another business's session
/// finds none of this one's objects.
#[tokio::test]
async fn cross_site_posts_missing_sessions_and_other_businesses_are_refused() {
    let server = Server::start().await;
    let http = no_redirects();
    let (a, a_cookie) = signup(&server, "a@dash.test").await;
    let (_, b_cookie) = signup(&server, "b@dash.test").await;
    let key_count = |cookie: String| {
        let http = http.clone();
        let url = format!("{}/api/v1/keys", server.url);
        async move {
            let keys: Value = http
                .get(&url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            keys["keys"].as_array().unwrap().len()
        }
    };
    assert_eq!(key_count(a_cookie.clone()).await, 1);

    // A form post from another site, with A's cookie: refused, nothing made.
    for (header, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let resp = http
            .post(format!("{}/dashboard/keys", server.url))
            .header("cookie", &a_cookie)
            .header(header, value)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("name=stolen&scopes=*&mode=live")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{header}: {value}");
    }
    assert_eq!(key_count(a_cookie.clone()).await, 1, "no key was created");
    // Nor can another site sign someone up or in.
    let resp = http
        .post(format!("{}/signup", server.url))
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=forged%40dash.test&password=a+long+password&business_name=Forged")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = http
        .post(format!("{}/login", server.url))
        .header("sec-fetch-site", "cross-site")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=a%40dash.test&password=a+long+password")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // The same post from the dashboard itself works.
    let resp = http
        .post(format!("{}/dashboard/keys", server.url))
        .header("cookie", &a_cookie)
        .header("origin", &server.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=mine&scopes=calls%3Aread&mode=test")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert!(resp.text().await.unwrap().contains("kc_test_"));
    assert_eq!(key_count(a_cookie.clone()).await, 2);

    // No session: pages go to sign-in, posts are refused.
    let resp = http
        .get(format!("{}/dashboard/calls", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()["location"],
        "/login?next=%2Fdashboard%2Fcalls"
    );
    let resp = http
        .post(format!("{}/dashboard/keys", server.url))
        .header("origin", &server.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=anon&mode=test")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = http
        .get(format!("{}/dashboard/keys", server.url))
        .header("cookie", "kc_session=not-a-session")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "an unknown session is no session");

    // B's session: A's call and key are not found, A's key still works after B tries.
    let key = a["test_key"].as_str().unwrap();
    let (_, call) = server
        .post(
            key,
            "/api/v1/calls",
            json!({"agent_id": a["agent_id"], "to": "+15125551234"}),
        )
        .await;
    let call_id = call["id"].as_str().unwrap();
    let resp = http
        .get(format!("{}/dashboard/calls/{call_id}", server.url))
        .header("cookie", &b_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = http
        .get(format!("{}/dashboard/calls/{call_id}", server.url))
        .header("cookie", &a_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let keys: Value = http
        .get(format!("{}/api/v1/keys", server.url))
        .header("cookie", &a_cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let a_key_id = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["prefix"].as_str().is_some_and(|p| key.starts_with(p)))
        .expect("the sign-up's key")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = http
        .post(format!("{}/dashboard/keys/{a_key_id}/revoke", server.url))
        .header("cookie", &b_cookie)
        .header("origin", &server.url)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = http
        .post(format!("{}/dashboard/calls/{call_id}/end", server.url))
        .header("cookie", &b_cookie)
        .header("origin", &server.url)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let (status, _) = server.get(key, "/api/v1/agents").await;
    assert_eq!(status, 200, "A's key survived B's attempts");
    let resp = http
        .get(format!("{}/dashboard/calls", server.url))
        .header("cookie", &b_cookie)
        .send()
        .await
        .unwrap();
    assert!(
        !resp.text().await.unwrap().contains(call_id),
        "B's list shows none of A's calls"
    );
}

/// The published clients' sign-up sends no password: the account gets a live key as
/// `api_key`, a test key, and a generated password that signs in. Five sign-ups an
/// hour per address; the sixth is 429.
#[tokio::test]
async fn a_signup_without_a_password_gets_a_live_key_and_a_password_and_is_throttled() {
    let server = Server::start().await;
    let (status, account) = server
        .call(
            Method::POST,
            "/api/v1/signup",
            None,
            Some(json!({"business_name": "API Law", "email": "api@signup.test", "business_type": "law", "phone_forward_to": "+15125550142"})),
        )
        .await;
    assert_eq!(status, 201, "{account}");
    let live = account["api_key"].as_str().unwrap();
    assert!(live.starts_with("kc_live_"), "{account}");
    assert!(account["test_key"]
        .as_str()
        .unwrap()
        .starts_with("kc_test_"));
    let (status, _) = server.get(live, "/api/v1/agents").await;
    assert_eq!(status, 200);
    let (status, _) = server
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "api@signup.test", "password": account["password"]})),
        )
        .await;
    assert_eq!(status, 200, "the generated password signs in");
    // A password of one's own is never echoed.
    let (with_password, _) = signup(&server, "own@signup.test").await;
    assert!(with_password.get("password").is_none());
    assert_eq!(with_password["api_key"], with_password["test_key"]);
    for i in 0..3 {
        let (status, _) = server
            .call(
                Method::POST,
                "/api/v1/signup",
                None,
                Some(json!({"business_name": "More", "email": format!("more{i}@signup.test")})),
            )
            .await;
        assert_eq!(status, 201);
    }
    let (status, err) = server
        .call(
            Method::POST,
            "/api/v1/signup",
            None,
            Some(json!({"business_name": "Sixth", "email": "sixth@signup.test"})),
        )
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
}
