//! Call analysis by an OpenAI-compatible chat-completions endpoint (a local stub that
//! speaks the protocol), and the built-in analyzer when it fails.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use crate::harness::Server;

type Seen = Arc<Mutex<Vec<(String, Value)>>>;

async fn completions(
    State(seen): State<(Seen, Value)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    seen.0.lock().unwrap().push((auth, body));
    Json(json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": seen.1.to_string()}}]
    }))
}

async fn stub(answer: Value) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(completions))
        .with_state((seen.clone(), answer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test]
async fn a_chat_completions_model_analyzes_calls_when_configured() {
    let (url, seen) = stub(json!({
        "summary": "Confirmed the 2pm appointment.", "professionalism": 97, "empathy": 61,
        "information_gathering": 44, "resolution": 99, "outcome": "resolved"
    }))
    .await;
    let server = Server::builder()
        .env("KAICALLS_ANALYZER_URL", &url)
        .env("KAICALLS_ANALYZER_API_KEY", "sk-test")
        .env("KAICALLS_ANALYZER_MODEL", "tiny-model")
        .start()
        .await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let (_, created) = server
        .post(&boot.test_key, "/api/v1/calls", json!({"agent_id": boot.agent_id, "to": "+15125551234", "context": "Confirm appointment for tomorrow at 2pm"}))
        .await;
    let call = server
        .wait_terminal(&boot.test_key, created["id"].as_str().unwrap())
        .await;
    assert_eq!(call["summary"], "Confirmed the 2pm appointment.");
    assert_eq!(
        call["quality_dimensions"],
        json!({"professionalism": 97, "empathy": 61, "information_gathering": 44, "resolution": 99})
    );
    assert_eq!(call["outcome"], "resolved");
    let seen = seen.lock().unwrap();
    let (auth, body) = &seen[0];
    assert_eq!(auth, "Bearer sk-test");
    assert_eq!(body["model"], "tiny-model");
    let prompt = body["messages"][1]["content"].as_str().unwrap();
    assert!(prompt.contains("Confirm appointment for tomorrow at 2pm"));
    assert!(prompt.contains("Agent: Hi, this is Kai from Smith Law"));
}

#[tokio::test]
async fn a_nonsense_answer_falls_back_to_the_built_in_analyzer() {
    let (url, _) = stub(json!({"summary": "", "professionalism": "high"})).await;
    let server = Server::builder()
        .env("KAICALLS_ANALYZER_URL", &url)
        .start()
        .await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let (_, created) = server
        .post(
            &boot.test_key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": "+15005550004"}),
        )
        .await;
    let call = server
        .wait_terminal(&boot.test_key, created["id"].as_str().unwrap())
        .await;
    assert!(call["summary"].as_str().unwrap().contains("voicemail"));
    assert_eq!(call["outcome"], "voicemail");
    assert_eq!(call["quality_dimensions"]["resolution"], 45);
}
