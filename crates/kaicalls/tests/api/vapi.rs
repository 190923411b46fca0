//! Live calls through Vapi, against a local server that speaks Vapi's protocol.

use reqwest::Method;
use serde_json::{json, Value};

use crate::fake_vapi::{end_of_call_report, send, status_update, FakeVapi};
use crate::harness::{code, eventually, Boot, Server};
use crate::receiver::Receiver;

pub const SECRET: &str = "vapi-shared-secret-123";

pub struct Setup {
    pub server: Server,
    pub boot: Boot,
    pub vapi: FakeVapi,
}

/// A server whose live calls go through a fake Vapi, with the bootstrap agent and
/// its number mapped to Vapi ids.
pub async fn setup() -> Setup {
    setup_with(&[]).await
}

/// `setup`, with more environment for the server.
pub async fn setup_with(env: &[(&str, &str)]) -> Setup {
    let vapi = FakeVapi::start().await;
    let server = env
        .iter()
        .fold(Server::builder(), |b, (k, v)| b.env(k, v))
        .env("KAICALLS_VAPI_API_KEY", "vapi-test-key")
        .env("KAICALLS_VAPI_BASE_URL", &vapi.url)
        .env("KAICALLS_VAPI_WEBHOOK_SECRET", SECRET)
        .env("KAICALLS_VAPI_RECONCILE_GRACE_SECS", "1")
        .env("KAICALLS_ALLOW_PRIVATE_WEBHOOKS", "true")
        .start()
        .await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let key = &boot.live_key;
    let (status, _) = server
        .call(
            Method::PATCH,
            "/api/v1/agents",
            Some(key),
            Some(json!({"id": boot.agent_id, "vapi_assistant_id": "vapi-asst-789"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .post(key, "/api/v1/phone-numbers", json!({"phone_number": boot.phone_number, "agent_id": boot.agent_id, "vapi_phone_number_id": "vapi-pn-456"}))
        .await;
    assert_eq!(status, 200);
    Setup { server, boot, vapi }
}

impl Setup {
    pub async fn place(&self, extra: Value) -> (String, String) {
        let mut body = json!({"agent_id": self.boot.agent_id, "to": "+15125559876"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, call) = self
            .server
            .post(&self.boot.live_key, "/api/v1/calls", body)
            .await;
        assert_eq!(status, 201, "{call}");
        let conversation = call["conversation_id"].as_str().unwrap().to_string();
        assert!(conversation.starts_with("vapi-call-"));
        (call["id"].as_str().unwrap().to_string(), conversation)
    }

    async fn get(&self, id: &str) -> Value {
        self.server
            .get(&self.boot.live_key, &format!("/api/v1/calls?id={id}"))
            .await
            .1
    }

    async fn wait_for(&self, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.server
            .call_until(&self.boot.live_key, id, 20, pred)
            .await
    }
}

#[tokio::test]
async fn the_full_example_dials_vapi_and_its_messages_complete_the_call() {
    let s = setup().await;
    let receiver = Receiver::start().await;
    let (_, lead) = s
        .server
        .post(&s.boot.live_key, "/api/v1/leads", json!({"name": "John Smith", "phone": "+15125559876", "score": 80, "status": "qualified", "source": "referral"}))
        .await;
    let first = "Hey John, this is Kai from Smith Law — do you have a minute?";
    let (id, conversation) = s
        .place(json!({
            "name": "John Smith",
            "lead_id": lead["id"],
            "context": "Following up on car accident case",
            "firstMessage": first,
            "webhook_url": receiver.url,
        }))
        .await;

    // The request Vapi received, field by field.
    let (auth, body) = s.vapi.last_dial();
    assert_eq!(auth, "Bearer vapi-test-key");
    assert_eq!(body["assistantId"], "vapi-asst-789");
    assert_eq!(body["phoneNumberId"], "vapi-pn-456");
    assert_eq!(
        body["customer"],
        json!({"number": "+15125559876", "name": "John Smith"})
    );
    let o = &body["assistantOverrides"];
    assert_eq!(o["firstMessage"], first);
    assert_eq!(o["maxDurationSeconds"], 600);
    assert_eq!(o["variableValues"]["name"], "John");
    assert_eq!(o["variableValues"]["lead_score"], 80);
    assert_eq!(o["variableValues"]["business_name"], "Smith Law");
    assert_eq!(
        o["variableValues"]["context"],
        "Following up on car accident case"
    );
    assert_eq!(
        o["server"]["url"],
        format!("{}/api/v1/providers/vapi/events", s.server.url)
    );
    assert_eq!(o["server"]["headers"]["X-Vapi-Secret"], SECRET);
    assert_eq!(
        o["serverMessages"],
        json!(["status-update", "end-of-call-report"])
    );
    assert_eq!(o["metadata"], json!({"kaicalls_call_id": id}));
    assert_eq!(o["monitorPlan"], json!({"controlEnabled": true}));

    // Vapi's messages drive the call.
    assert_eq!(
        send(
            &s.server.url,
            Some(SECRET),
            status_update(&conversation, "ringing", None)
        )
        .await,
        200
    );
    s.wait_for(&id, |c| c["status"] == "ringing").await;
    assert_eq!(
        send(
            &s.server.url,
            Some(SECRET),
            status_update(&conversation, "in-progress", None)
        )
        .await,
        200
    );
    s.wait_for(&id, |c| c["status"] == "in_progress").await;
    let mut report = end_of_call_report(&conversation, "customer-ended-call");
    let audio = kaicalls::voice::recording::wav(&[], 127);
    report["artifact"]["recordingUrl"] = json!(s.vapi.host_recording("full.wav", audio.clone()));
    assert_eq!(send(&s.server.url, Some(SECRET), report.clone()).await, 200);
    let call = s.wait_for(&id, |c| c["status"] == "completed").await;
    assert_eq!(call["ended_reason"], "customer_hangup");
    assert_eq!(call["provider_ended_reason"], "customer-ended-call");
    assert_eq!(call["duration"], 127);
    assert_eq!(
        call["summary"],
        "John confirmed Thursday for his car accident case."
    );
    assert_eq!(call["transcript"].as_array().unwrap().len(), 4);
    assert_eq!(call["transcript"][0]["role"], "agent");
    assert_eq!(call["transcript"][1]["start_s"], 4.2);
    assert!(call["quality_dimensions"]["empathy"].as_i64().unwrap() > 50);
    assert_eq!(call["cost_cents"], 15);
    // Our playable recording_url, serving the copy of Vapi's recording.
    let ours = call["recording_url"].as_str().unwrap();
    assert!(ours.starts_with(&s.server.url));
    let served = eventually(20, "the recording to be served", || async {
        let resp = reqwest::get(ours).await.unwrap();
        match resp.status().as_u16() {
            200 => Ok(resp.bytes().await.unwrap().to_vec()),
            status => Err(format!("HTTP {status}")),
        }
    })
    .await;
    assert_eq!(served, audio);

    // A duplicate report changes nothing, and the webhook fires once.
    assert_eq!(send(&s.server.url, Some(SECRET), report).await, 200);
    receiver
        .wait_until(20, "call.completed", |r| !r.is_empty())
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let got = receiver.received();
    assert_eq!(got.len(), 1, "the customer's webhook fires once");
    assert_eq!(got[0].json["summary"], call["summary"]);
    assert_eq!(s.get(&id).await, call);
}

#[tokio::test]
async fn each_ended_reason_family_lands_on_its_status() {
    let s = setup().await;
    let cases = [
        ("customer-did-not-answer", "failed", "no_answer"),
        ("customer-busy", "failed", "busy"),
        ("voicemail", "completed", "voicemail"),
        ("exceeded-max-duration", "completed", "max_duration"),
        ("customer-ended-call", "completed", "customer_hangup"),
        ("assistant-ended-call", "completed", "agent_hangup"),
        (
            "assistant-said-end-call-phrase",
            "completed",
            "agent_hangup",
        ),
        ("manually-canceled", "completed", "ended_by_api"),
        (
            "call.start.error-get-phone-number",
            "failed",
            "provider_error",
        ),
        (
            "pipeline-error-openai-llm-failed",
            "failed",
            "provider_error",
        ),
        (
            "phone-call-provider-bypass-enabled-but-no-call-received",
            "failed",
            "provider_error",
        ),
        ("a-reason-invented-next-year", "failed", "provider_error"),
    ];
    for (raw, status, reason) in cases {
        let (id, conversation) = s.place(json!({})).await;
        // An end-of-call-report with no status-update before it.
        assert_eq!(
            send(
                &s.server.url,
                Some(SECRET),
                end_of_call_report(&conversation, raw)
            )
            .await,
            200
        );
        let call = s.wait_for(&id, |c| c["status"] != "queued").await;
        assert_eq!(
            (call["status"].as_str(), call["ended_reason"].as_str()),
            (Some(status), Some(reason)),
            "{raw}"
        );
        assert_eq!(call["provider_ended_reason"], raw, "the raw code is kept");
    }
}

#[tokio::test]
async fn a_forged_or_missing_secret_is_refused_and_changes_nothing() {
    let s = setup().await;
    let (id, conversation) = s.place(json!({})).await;
    let report = end_of_call_report(&conversation, "customer-ended-call");
    assert_eq!(send(&s.server.url, None, report.clone()).await, 401);
    assert_eq!(
        send(
            &s.server.url,
            Some("vapi-shared-secret-124"),
            report.clone()
        )
        .await,
        401
    );
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/providers/vapi/events", s.server.url))
        .bearer_auth("not-it")
        .json(&json!({ "message": report }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(code(&resp.json().await.unwrap()), "unauthorized");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(s.get(&id).await["status"], "queued");
    // Authorization: Bearer works as well as X-Vapi-Secret.
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/providers/vapi/events", s.server.url))
        .bearer_auth(SECRET)
        .json(&json!({ "message": status_update(&conversation, "ringing", None) }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    s.wait_for(&id, |c| c["status"] == "ringing").await;
}

#[tokio::test]
async fn out_of_order_messages_and_lost_reports_still_end_right() {
    let s = setup().await;
    // Out of order: the report, then a late in-progress.
    let (id, conversation) = s.place(json!({})).await;
    send(
        &s.server.url,
        Some(SECRET),
        end_of_call_report(&conversation, "customer-ended-call"),
    )
    .await;
    s.wait_for(&id, |c| c["status"] == "completed").await;
    send(
        &s.server.url,
        Some(SECRET),
        status_update(&conversation, "in-progress", None),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(s.get(&id).await["status"], "completed");

    // Lost report: Vapi said "ended" and the report never came; reconciliation asks.
    let (id, conversation) = s.place(json!({})).await;
    send(
        &s.server.url,
        Some(SECRET),
        status_update(&conversation, "in-progress", None),
    )
    .await;
    let mut ended = end_of_call_report(&conversation, "customer-busy");
    ended["id"] = json!(conversation);
    ended["status"] = json!("ended");
    s.vapi.set_call(&conversation, ended);
    send(
        &s.server.url,
        Some(SECRET),
        status_update(&conversation, "ended", Some("customer-busy")),
    )
    .await;
    let call = s.wait_for(&id, |c| c["status"] == "failed").await;
    assert_eq!(call["ended_reason"], "busy");
}

#[tokio::test]
async fn vapi_refusals_fail_the_call_and_hang_ups_use_the_control_url() {
    let s = setup().await;
    s.vapi.inner.lock().unwrap().refuse_next = true;
    let (status, err) = s
        .server
        .post(
            &s.boot.live_key,
            "/api/v1/calls",
            json!({"agent_id": s.boot.agent_id, "to": "+15125559876"}),
        )
        .await;
    assert_eq!((status.as_u16(), code(&err)), (500, "call_failed"));
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("phoneNumberId is invalid"));

    let (id, conversation) = s.place(json!({})).await;
    send(
        &s.server.url,
        Some(SECRET),
        status_update(&conversation, "in-progress", None),
    )
    .await;
    s.wait_for(&id, |c| c["status"] == "in_progress").await;
    let (status, ended) = s
        .server
        .post(
            &s.boot.live_key,
            &format!("/api/v1/calls/end?id={id}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{ended}");
    assert_eq!(ended["ended_reason"], "ended_by_api");
    assert_eq!(
        s.vapi.controls(),
        vec![(conversation, json!({"type": "end-call"}))]
    );

    // Test keys never reach Vapi.
    let dials = s.vapi.inner.lock().unwrap().dials.len();
    let (status, call) = s
        .server
        .post(
            &s.boot.test_key,
            "/api/v1/calls",
            json!({"agent_id": s.boot.agent_id, "to": "+15125559876"}),
        )
        .await;
    assert_eq!(status, 201);
    assert!(call["conversation_id"]
        .as_str()
        .unwrap()
        .starts_with("sim-conv-"));
    assert_eq!(s.vapi.inner.lock().unwrap().dials.len(), dials);
}

#[tokio::test]
async fn a_call_whose_every_message_was_lost_is_reconciled_after_its_expected_end() {
    let s = setup().await;
    let (id, conversation) = s.place(json!({"max_duration": 10})).await;
    let mut ended = end_of_call_report(&conversation, "assistant-ended-call");
    ended["id"] = json!(conversation);
    ended["status"] = json!("ended");
    s.vapi.set_call(&conversation, ended);
    // No message at all: at max_duration + grace (10 + 1 s) KaiCalls asks Vapi.
    let call = s
        .server
        .call_until(&s.boot.live_key, &id, 30, |c| c["status"] == "completed")
        .await;
    assert_eq!(call["ended_reason"], "agent_hangup");
    assert_eq!(call["duration"], 10, "never longer than max_duration");
}

/// `recording_url` is in the call and in `call.completed` before our copy is stored:
/// it must play then too. Here the copy never lands (every job panics), and the link
/// streams Vapi's recording through.
#[tokio::test]
async fn a_recording_link_plays_before_the_copy_is_stored() {
    let s = setup_with(&[("KAICALLS_FAULT", "panic-in-job")]).await;
    let (id, conversation) = s.place(json!({})).await;
    let update = status_update(&conversation, "in-progress", None);
    assert_eq!(send(&s.server.url, Some(SECRET), update).await, 200);
    let mut report = end_of_call_report(&conversation, "customer-ended-call");
    let audio = kaicalls::voice::recording::wav(&[], 61);
    report["artifact"]["recordingUrl"] = json!(s.vapi.host_recording("early.wav", audio.clone()));
    assert_eq!(send(&s.server.url, Some(SECRET), report).await, 200);
    let call = s.wait_for(&id, |c| c["status"] == "completed").await;
    let link = call["recording_url"].as_str().unwrap();
    let resp = reqwest::get(link).await.unwrap();
    assert_eq!(
        resp.status(),
        200,
        "the link works as soon as it is handed out"
    );
    assert_eq!(resp.bytes().await.unwrap().to_vec(), audio);
}
