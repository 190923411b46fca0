//! Voicemail through the real binary: an agent leaves its own message (the call's
//! variables filled in) or hangs up at the beep; every ended call says who answered
//! (`answered_by`) and whether a message was left.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{param, Server};

#[tokio::test]
async fn the_agent_leaves_its_message_or_hangs_up_and_the_call_says_so() {
    let server = Server::start().await;
    let boot = server.bootstrap("voicemail@example.com");
    let key = &boot.test_key;
    let patch = |body: serde_json::Value| {
        server.call(Method::PATCH, "/api/v1/agents", Some(key), Some(body))
    };
    let (status, bad) = patch(json!({"id": boot.agent_id, "voicemail_action": "sing"})).await;
    assert_eq!(
        (status, param(&bad)),
        (StatusCode::BAD_REQUEST, "voicemail_action")
    );
    let (status, agent) = patch(json!({
        "id": boot.agent_id,
        "voicemail_message": "Hi {{name}}, this is Smith Law returning your call. Please ring us back."
    }))
    .await;
    assert_eq!(status, 200, "{agent}");
    assert_eq!(agent["voicemail_action"], "leave_message");

    let place = |to: &'static str| {
        server.post(
            key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": to, "name": "Ann Lee"}),
        )
    };
    let (_, left) = place("+15005550004").await;
    let left = server
        .wait_terminal(key, left["id"].as_str().unwrap())
        .await;
    assert_eq!(left["ended_reason"], "voicemail");
    assert_eq!(left["answered_by"], "machine");
    assert_eq!(left["voicemail_left"], true, "{left}");
    let said = left["transcript"][0]["text"].as_str().unwrap();
    // `{{name}}` is the variable the agent greets with: the first name.
    assert_eq!(
        said,
        "Hi Ann, this is Smith Law returning your call. Please ring us back."
    );

    let (status, _) = patch(json!({"id": boot.agent_id, "voicemail_action": "hang_up"})).await;
    assert_eq!(status, 200);
    let (_, hung) = place("+15005550004").await;
    let hung = server
        .wait_terminal(key, hung["id"].as_str().unwrap())
        .await;
    assert_eq!(hung["answered_by"], "machine");
    assert_eq!(hung["voicemail_left"], false, "{hung}");
    assert_eq!(hung["transcript"].as_array().unwrap().len(), 0);

    // A person answers an ordinary number.
    let (_, human) = place("+15125550180").await;
    let human = server
        .wait_terminal(key, human["id"].as_str().unwrap())
        .await;
    assert_eq!(human["answered_by"], "human");
    assert_eq!(human["voicemail_left"], false);
}
