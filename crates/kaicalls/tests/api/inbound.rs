//! Inbound calls (issue 13): the agent answers its phone. Against a local server
//! speaking Vapi's protocol (`assistant-request`, `tool-calls`,
//! `transfer-destination-request`, the status and end messages), and through the
//! sandbox's simulated caller with a local SMTP server receiving the staff alerts.

use std::time::{Duration, Instant};

use chrono::Datelike;

use reqwest::Method;
use serde_json::{json, Value};

use crate::fake_vapi::{end_of_call_report, exchange, send, status_update};
use crate::harness::{eventually, Server};
use crate::receiver::Receiver;
use crate::smtp::SmtpSink;
use crate::vapi::{setup, Setup, SECRET};

const JOHN: &str = "+15125559876";
/// A caller outside the fictional 555 exchange: calling hours are enforced for it.
const AUSTIN: &str = "+15127771234";

/// Vapi's `assistant-request` for a call from `caller` to `number`.
fn assistant_request(conversation: &str, number: &str, caller: &str) -> Value {
    json!({
        "type": "assistant-request",
        "timestamp": 1771165800000i64,
        "call": {
            "id": conversation,
            "type": "inboundPhoneCall",
            "phoneNumberId": "vapi-pn-456",
            "customer": { "number": caller },
            "monitor": { "controlUrl": format!("http://127.0.0.1:9/control/{conversation}") },
        },
        "phoneNumber": { "id": "vapi-pn-456", "number": number },
        "customer": { "number": caller },
    })
}

fn tool_call(id: &str, name: &str, arguments: Value) -> Value {
    json!({ "id": id, "type": "function", "function": { "name": name, "arguments": arguments } })
}

async fn inbound_calls(s: &Setup, key: &str) -> Vec<Value> {
    let (status, list) = s.server.get(key, "/api/v1/calls?direction=inbound").await;
    assert_eq!(status, 200, "{list}");
    list["calls"].as_array().unwrap().clone()
}

async fn call_of(s: &Setup, conversation: &str) -> Value {
    let calls = inbound_calls(s, &s.boot.live_key).await;
    let id = calls
        .iter()
        .find(|c| c["conversation_id"] == conversation)
        .unwrap_or_else(|| panic!("no inbound call for {conversation}: {calls:?}"))["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.server
        .get(&s.boot.live_key, &format!("/api/v1/calls?id={id}"))
        .await
        .1
}

async fn configure_agent(s: &Setup, extra: Value) {
    let mut body = json!({ "id": s.boot.agent_id });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let (status, agent) = s
        .server
        .call(
            Method::PATCH,
            "/api/v1/agents",
            Some(&s.boot.live_key),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{agent}");
}

#[tokio::test]
async fn vapi_inbound_calls_answer_with_the_agent_and_complete_through_the_engine() {
    let s = setup().await;
    let key = s.boot.live_key.clone();
    configure_agent(
        &s,
        json!({
            "inbound_prompt": "You answer Smith Law's intake line.",
            "inbound_greeting": "Hi {{name}}, thanks for calling {{business_name}}!",
            "model": { "provider": "openai", "model": "gpt-4o" },
        }),
    )
    .await;
    let (_, john) = s
        .server
        .post(&key, "/api/v1/leads", json!({"name": "John Smith", "phone": JOHN, "score": 87, "status": "qualified", "source": "referral"}))
        .await;
    // The other face: an outbound call carries the outbound prompt.
    configure_agent(
        &s,
        json!({"outbound_prompt": "You call Smith Law's clients back."}),
    )
    .await;
    s.place(json!({})).await;
    let (_, dial) = s.vapi.last_dial();
    assert_eq!(
        dial["assistantOverrides"]["model"]["messages"][0]["content"],
        "You call Smith Law's clients back."
    );
    let receiver = Receiver::start().await;
    let (status, _) = s
        .server
        .post(
            &key,
            "/api/v1/webhooks",
            json!({"webhook_url": receiver.url, "events": ["call.completed", "call.failed"]}),
        )
        .await;
    assert_eq!(status, 201);

    // A known caller: the agent's assistant, the greeting and the CRM variables.
    let (status, answer) = exchange(
        &s.server.url,
        Some(SECRET),
        assistant_request("vapi-in-1", &s.boot.phone_number, JOHN),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["assistantId"], "vapi-asst-789");
    let o = &answer["assistantOverrides"];
    assert_eq!(o["firstMessage"], "Hi John, thanks for calling Smith Law!");
    let v = &o["variableValues"];
    assert_eq!(v["name"], "John");
    assert_eq!(v["lead_score"], 87);
    assert_eq!(v["lead_status"], "qualified");
    assert_eq!(v["lead_source"], "referral");
    assert_eq!(v["business_name"], "Smith Law");
    assert_eq!(v["lead_id"], john["id"]);
    assert_eq!(o["server"]["headers"]["X-Vapi-Secret"], SECRET);
    assert!(o["serverMessages"]
        .as_array()
        .unwrap()
        .contains(&json!("tool-calls")));
    assert_eq!(
        o["model"]["messages"][0]["content"],
        "You answer Smith Law's intake line."
    );
    let tools: Vec<&str> = o["model"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tools,
        [
            "lookup_lead",
            "update_lead",
            "schedule_callback",
            "transfer_to_human",
            "end_call"
        ]
    );
    // A retried request answers the same call.
    let (_, again) = exchange(
        &s.server.url,
        Some(SECRET),
        assistant_request("vapi-in-1", &s.boot.phone_number, JOHN),
    )
    .await;
    assert_eq!(
        again["assistantOverrides"]["variableValues"]["kaicalls_call_id"],
        v["kaicalls_call_id"]
    );

    // An unknown caller becomes a new lead.
    let stranger = "+15125550123";
    let (_, answer) = exchange(
        &s.server.url,
        Some(SECRET),
        assistant_request("vapi-in-2", &s.boot.phone_number, stranger),
    )
    .await;
    let v2 = &answer["assistantOverrides"]["variableValues"];
    assert_eq!(v2["name"], Value::Null);
    assert_eq!(v2["lead_status"], "new");
    assert_eq!(v2["lead_source"], "inbound_call");
    assert_eq!(v2["interaction_count"], 0);
    let (_, lead) = s
        .server
        .get(
            &key,
            &format!("/api/v1/leads?id={}", v2["lead_id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(lead["phone"], stranger);
    assert_eq!(lead["source"], "inbound_call");

    // The following messages drive the call.
    let call = call_of(&s, "vapi-in-1").await;
    assert_eq!(call["direction"], "inbound");
    assert_eq!(call["status"], "ringing");
    assert_eq!(call["from"], JOHN);
    assert_eq!(call["to"], s.boot.phone_number.as_str());
    assert_eq!(call["lead_id"], john["id"]);
    let id = call["id"].as_str().unwrap().to_string();
    assert_eq!(
        send(
            &s.server.url,
            Some(SECRET),
            status_update("vapi-in-1", "in-progress", None)
        )
        .await,
        200
    );
    let mut report = end_of_call_report("vapi-in-1", "customer-ended-call");
    let audio = kaicalls::voice::recording::wav(&[], 127);
    report["artifact"]["recordingUrl"] = json!(s.vapi.host_recording("in.wav", audio.clone()));
    assert_eq!(send(&s.server.url, Some(SECRET), report.clone()).await, 200);
    let done = s
        .server
        .call_until(&key, &id, 20, |c| c["status"] == "completed")
        .await;
    assert_eq!(done["direction"], "inbound");
    assert_eq!(done["duration"], 127);
    assert_eq!(
        done["summary"],
        "John confirmed Thursday for his car accident case."
    );
    assert!(done["quality_dimensions"]["empathy"].as_i64().unwrap() > 0);
    assert!(done["outcome"].is_string());
    assert_eq!(done["cost_cents"], 15);
    let ours = done["recording_url"].as_str().unwrap();
    assert!(ours.starts_with(&s.server.url), "{ours}");
    let served = eventually(20, "our copy of the recording", || async {
        let resp = reqwest::get(ours).await.unwrap();
        match resp.status().as_u16() {
            200 => Ok(resp.bytes().await.unwrap().to_vec()),
            status => Err(format!("HTTP {status}")),
        }
    })
    .await;
    assert_eq!(served, audio);
    // Exactly one call.completed, carrying the direction.
    assert_eq!(send(&s.server.url, Some(SECRET), report).await, 200);
    receiver
        .wait_until(20, "call.completed", |r| !r.is_empty())
        .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let got = receiver.received();
    let completed: Vec<_> = got
        .iter()
        .filter(|r| r.json["call_id"] == id.as_str())
        .collect();
    assert_eq!(completed.len(), 1, "{got:?}");
    assert_eq!(completed[0].event(), "call.completed");
    assert_eq!(completed[0].json["direction"], "inbound");
    // Metered: the usage row carries the cost.
    let (_, usage) = s.server.get(&key, "/api/v1/usage").await;
    let row = usage["usage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["call_id"] == id.as_str() && u["method"] == "POST")
        .expect("a usage row for the inbound call")
        .clone();
    assert_eq!(row["endpoint"], "/v1/inbound-calls");
    assert_eq!(row["cost_cents"], 15);

    // A forged secret is 401 and creates nothing.
    let before = inbound_calls(&s, &key).await.len();
    let (status, _) = exchange(
        &s.server.url,
        Some("forged"),
        assistant_request("vapi-in-forged", &s.boot.phone_number, "+15125550999"),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = exchange(
        &s.server.url,
        None,
        assistant_request("vapi-in-forged", &s.boot.phone_number, "+15125550999"),
    )
    .await;
    assert_eq!(status, 401);
    // An unknown number is refused in Vapi's terms and changes nothing either.
    let (status, refused) = exchange(
        &s.server.url,
        Some(SECRET),
        json!({"type": "assistant-request", "call": {"id": "vapi-in-x", "customer": {"number": "+15125550998"}},
               "phoneNumber": {"number": "+19995550100"}, "customer": {"number": "+15125550998"}}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(refused["error"].is_string(), "{refused}");
    assert_eq!(inbound_calls(&s, &key).await.len(), before);
    let (_, leads) = s.server.get(&key, "/api/v1/leads?limit=100").await;
    assert!(!leads.to_string().contains("+15125550999"));

    // A number of business B never touches business A.
    let b = s.server.bootstrap("owner@other.test");
    let (status, answer) = exchange(
        &s.server.url,
        Some(SECRET),
        json!({"type": "assistant-request",
               "call": {"id": "vapi-in-b", "customer": {"number": JOHN}},
               "phoneNumber": {"number": b.phone_number}, "customer": {"number": JOHN}}),
    )
    .await;
    assert_eq!(status, 200);
    // B's agent has no Vapi assistant: refused, nothing recorded anywhere.
    assert!(answer["error"].is_string(), "{answer}");
    s.server
        .call(
            Method::PATCH,
            "/api/v1/agents",
            Some(&b.live_key),
            Some(json!({"id": b.agent_id, "vapi_assistant_id": "vapi-asst-b"})),
        )
        .await;
    let (_, answer) = exchange(
        &s.server.url,
        Some(SECRET),
        json!({"type": "assistant-request",
               "call": {"id": "vapi-in-b", "customer": {"number": JOHN}},
               "phoneNumber": {"number": b.phone_number}, "customer": {"number": JOHN}}),
    )
    .await;
    assert_eq!(answer["assistantId"], "vapi-asst-b");
    let bv = &answer["assistantOverrides"]["variableValues"];
    assert_eq!(bv["lead_status"], "new", "B does not know A's John");
    assert_ne!(bv["lead_id"], john["id"]);
    assert_eq!(
        inbound_calls(&s, &key).await.len(),
        before,
        "A sees none of B's calls"
    );
    let (_, a_john) = s
        .server
        .get(
            &key,
            &format!("/api/v1/leads?id={}", john["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(
        a_john["interaction_count"], 2,
        "only A's own calls counted (one out, one in)"
    );
    let (_, b_calls) = s
        .server
        .get(&b.live_key, "/api/v1/calls?direction=inbound")
        .await;
    assert_eq!(b_calls["calls"].as_array().unwrap().len(), 1);
    // B's tool calls cannot reach A's leads either.
    let (_, looked) = exchange(
        &s.server.url,
        Some(SECRET),
        json!({"type": "tool-calls", "call": {"id": "vapi-in-b"},
               "toolCallList": [tool_call("t1", "lookup_lead", json!({"phone": "+15125550123"}))]}),
    )
    .await;
    let result: Value =
        serde_json::from_str(looked["results"][0]["result"].as_str().unwrap()).unwrap();
    assert_eq!(result["found"], false, "A's new lead is not B's: {result}");
}

#[tokio::test]
async fn assistant_requests_answer_fast() {
    let s = setup().await;
    let mut took = vec![];
    for i in 0..100 {
        // Half known callers (the same one again), half new ones.
        let caller = if i % 2 == 0 {
            JOHN.to_string()
        } else {
            format!("+1512555{:04}", 2000 + i)
        };
        let started = Instant::now();
        let (status, answer) = exchange(
            &s.server.url,
            Some(SECRET),
            assistant_request(&format!("vapi-fast-{i}"), &s.boot.phone_number, &caller),
        )
        .await;
        took.push(started.elapsed());
        assert_eq!(status, 200);
        assert_eq!(answer["assistantId"], "vapi-asst-789");
    }
    took.sort();
    let p50 = took[49];
    let p99 = took[98];
    println!(
        "assistant-request over 100: p50 {p50:?}, p99 {p99:?}, max {:?}",
        took[99]
    );
    assert!(
        p99 < Duration::from_millis(200),
        "p99 {p99:?} (Vapi allows 7.5 s; we aim for 200 ms)"
    );
}

#[tokio::test]
async fn tools_during_an_inbound_call_and_a_transfer() {
    let s = setup().await;
    let key = s.boot.live_key.clone();
    configure_agent(
        &s,
        json!({"transfer_destinations": [
            {"number": "+15125550111", "name": "Intake desk", "reasons": ["case", "lawyer"]},
            {"number": "+15125550112", "name": "Front desk"}
        ]}),
    )
    .await;
    let (_, john) = s
        .server
        .post(
            &key,
            "/api/v1/leads",
            json!({"name": "John Smith", "phone": AUSTIN, "status": "new"}),
        )
        .await;
    let (status, _) = exchange(
        &s.server.url,
        Some(SECRET),
        assistant_request("vapi-tools", &s.boot.phone_number, AUSTIN),
    )
    .await;
    assert_eq!(status, 200);
    send(
        &s.server.url,
        Some(SECRET),
        status_update("vapi-tools", "in-progress", None),
    )
    .await;

    // 03:00 in Austin on a weekday: outside calling hours, moved into them.
    let asked = "2026-12-15T09:00:00Z";
    let (status, answer) = exchange(
        &s.server.url,
        Some(SECRET),
        json!({"type": "tool-calls", "call": {"id": "vapi-tools"}, "toolCallList": [
            tool_call("t1", "lookup_lead", json!({})),
            tool_call("t2", "update_lead", json!({"status": "qualified", "notes": "Rear-ended on I-35", "score": 91})),
            // Vapi also sends arguments as a JSON string.
            tool_call("t3", "schedule_callback", json!(json!({"at": asked, "reason": "wants an attorney to call"}).to_string())),
            tool_call("t4", "update_lead", json!({"score": 400})),
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    let parsed = |i: usize| -> Value {
        assert_eq!(results[i]["toolCallId"], format!("t{}", i + 1));
        serde_json::from_str(results[i]["result"].as_str().unwrap_or("null")).unwrap()
    };
    let looked = parsed(0);
    assert_eq!(looked["found"], true);
    assert_eq!(looked["lead"]["id"], john["id"]);
    assert_eq!(parsed(1)["lead"]["status"], "qualified");
    let callback = parsed(2);
    assert_eq!(callback["scheduled"], true, "{callback}");
    assert_eq!(callback["moved_into_calling_hours"], true);
    assert!(
        results[3]["error"].as_str().unwrap().contains("score"),
        "{:?}",
        results[3]
    );
    // A number on the do-not-call list gets no callback.
    let listed = "+15127771299";
    let (status, _) = s
        .server
        .post(
            &key,
            "/api/v1/dnc",
            json!({"phone": listed, "reason": "asked by letter"}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, refused) = exchange(
        &s.server.url,
        Some(SECRET),
        json!({"type": "tool-calls", "call": {"id": "vapi-tools"}, "toolCallList": [
            tool_call("t6", "schedule_callback", json!({"phone": listed})),
        ]}),
    )
    .await;
    assert!(
        refused["results"][0]["error"]
            .as_str()
            .unwrap()
            .contains("do-not-call"),
        "{refused}"
    );

    let (_, lead) = s
        .server
        .get(
            &key,
            &format!("/api/v1/leads?id={}", john["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(lead["status"], "qualified");
    assert_eq!(lead["score"], 91);
    assert_eq!(lead["notes"], "Rear-ended on I-35");
    let (_, scheduled) = s
        .server
        .get(
            &key,
            &format!("/api/v1/calls?id={}", callback["call_id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(scheduled["status"], "queued");
    assert_eq!(scheduled["direction"], "outbound");
    assert_eq!(scheduled["to"], AUSTIN);
    let at = scheduled["scheduled_at"].as_str().unwrap();
    assert!(at > asked, "{at} is moved past {asked}");
    assert_eq!(
        scheduled["compliance"]["allowed"], true,
        "{}",
        scheduled["compliance"]
    );
    assert_eq!(scheduled["compliance"]["enforced"], true);

    // Vapi asks where to transfer: the rule for "case" picks the intake desk.
    let (_, dest) = exchange(
        &s.server.url,
        Some(SECRET),
        json!({"type": "transfer-destination-request", "call": {"id": "vapi-tools"},
               "artifact": {"messages": [{"role": "user", "message": "Can I talk to a lawyer about my case?"}]}}),
    )
    .await;
    assert_eq!(dest["destination"]["type"], "number");
    assert_eq!(dest["destination"]["number"], "+15125550111");
    let summary = dest["destination"]["transferPlan"]["message"]
        .as_str()
        .unwrap();
    assert!(
        summary.contains("John Smith") && summary.contains("lawyer"),
        "{summary}"
    );
    let (_, ended) = exchange(
        &s.server.url,
        Some(SECRET),
        json!({"type": "tool-calls", "call": {"id": "vapi-tools"},
               "toolCallList": [tool_call("t5", "end_call", json!({}))]}),
    )
    .await;
    assert_eq!(
        ended["results"][0]["result"],
        json!({"ended": true}).to_string()
    );
    send(
        &s.server.url,
        Some(SECRET),
        end_of_call_report("vapi-tools", "assistant-forwarded-call"),
    )
    .await;
    let call = call_of(&s, "vapi-tools").await;
    let id = call["id"].as_str().unwrap();
    let call = s
        .server
        .call_until(&key, id, 20, |c| c["status"] == "completed")
        .await;
    assert_eq!(call["ended_reason"], "transferred");
    assert_eq!(call["transfer_destination"], "+15125550111");
    let kinds: Vec<&str> = call["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for kind in [
        "call.ringing",
        "tool.lookup_lead",
        "tool.update_lead",
        "tool.schedule_callback",
        "tool.transfer_to_human",
        "call.transferred",
        "tool.end_call",
        "call.completed",
    ] {
        assert!(kinds.contains(&kind), "{kind} on the timeline: {kinds:?}");
    }
    let transferred = call["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "call.transferred")
        .unwrap();
    assert_eq!(transferred["data"]["destination"], "+15125550111");
    let (_, events) = s
        .server
        .get(&key, "/api/v1/events?event_type=call.transferred")
        .await;
    let events = events["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["data"]["transfer_destination"], "+15125550111");
}

/// The sandbox's simulated callers, with staff alerts to a local SMTP server and a
/// webhook.
#[tokio::test]
async fn sandbox_callers_take_every_branch_and_staff_hear_about_it() {
    let smtp = SmtpSink::start().await;
    let receiver = Receiver::start().await;
    let server = Server::builder()
        .env("KAICALLS_SMTP_HOST", "127.0.0.1")
        .env("KAICALLS_SMTP_PORT", &smtp.port.to_string())
        .env("KAICALLS_SMTP_TLS", "none")
        .env("KAICALLS_SMTP_FROM", "KaiCalls <alerts@kaicalls.test>")
        .env("KAICALLS_SIM_SPEED", "20")
        .start()
        .await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let key = boot.test_key.clone();
    let (status, settings) = server
        .call(
            Method::PATCH,
            "/api/v1/staff-alerts/settings",
            Some(&key),
            Some(json!({"emails": ["Intake@SmithLaw.test"], "webhook_url": receiver.url})),
        )
        .await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["emails"], json!(["intake@smithlaw.test"]));
    let (status, bad) = server
        .call(
            Method::PATCH,
            "/api/v1/staff-alerts/settings",
            Some(&key),
            Some(json!({"events": ["everything"]})),
        )
        .await;
    assert_eq!(status, 400, "{bad}");
    let (status, _) = server
        .call(
            Method::PATCH,
            "/api/v1/agents",
            Some(&key),
            Some(json!({"id": boot.agent_id, "transfer_phone_number": "+15125550111"})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, known) = server
        .post(
            &key,
            "/api/v1/leads",
            json!({"name": "Maria Garcia", "phone": "+15125550178"}),
        )
        .await;

    let ring = |from: &'static str| {
        let (server, key, to) = (&server, key.clone(), boot.phone_number.clone());
        async move {
            let (status, call) = server
                .post(
                    &key,
                    "/api/v1/sandbox/inbound-calls",
                    json!({"to": to, "from": from}),
                )
                .await;
            assert_eq!(status, 201, "{call}");
            assert_eq!(call["direction"], "inbound");
            assert_eq!(call["from"], from);
            let id = call["id"].as_str().unwrap().to_string();
            server.wait_terminal(&key, &id).await
        }
    };
    let hung_up = ring("+15005550100").await;
    assert_eq!(hung_up["status"], "completed");
    assert_eq!(hung_up["duration"], 0);
    assert_eq!(hung_up["outcome"], "no_conversation");

    let human = ring("+15005550101").await;
    assert_eq!(human["ended_reason"], "transferred");
    assert_eq!(human["transfer_destination"], "+15125550111");
    assert!(human["summary"]
        .as_str()
        .unwrap()
        .contains("transferred to +15125550111"));

    let voicemail = ring("+15005550102").await;
    assert_eq!(voicemail["status"], "completed");

    let opt_out = ring("+15005550103").await;
    assert_eq!(opt_out["opt_out"], true);
    let (_, dnc) = server.get(&key, "/api/v1/dnc?phone=%2B15005550103").await;
    assert_eq!(dnc["entries"].as_array().unwrap().len(), 1, "{dnc}");

    let callback = ring("+15005550104").await;
    let kinds: Vec<String> = callback["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert!(
        kinds.contains(&"tool.schedule_callback".to_string()),
        "{kinds:?}"
    );
    let (_, outbound) = server.get(&key, "/api/v1/calls?direction=outbound").await;
    let scheduled = &outbound["calls"][0];
    assert_eq!(scheduled["to"], "+15005550104");
    assert_eq!(scheduled["status"], "queued");
    assert!(
        scheduled["scheduled_at"]
            .as_str()
            .unwrap()
            .contains("T10:00:00"),
        "{scheduled}"
    );

    let stranger = ring("+15125550177").await;
    let (_, new_lead) = server
        .get(
            &key,
            &format!("/api/v1/leads?id={}", stranger["lead_id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(new_lead["source"], "inbound_call");
    assert_eq!(
        new_lead["status"], "contacted",
        "update_lead ran during the call"
    );
    assert!(stranger["events"].to_string().contains("tool.lookup_lead"));

    let maria = ring("+15125550178").await;
    assert_eq!(maria["lead_id"], known["id"]);

    // The voicemail lists with what the caller said and a recording that plays.
    let (status, vms) = server.get(&key, "/api/v1/voicemails").await;
    assert_eq!(status, 200);
    let vms = vms["voicemails"].as_array().unwrap();
    assert_eq!(vms.len(), 1, "{vms:?}");
    assert_eq!(vms[0]["call_id"], voicemail["id"]);
    assert_eq!(vms[0]["caller"], "+15005550102");
    assert!(vms[0]["transcript"]
        .as_str()
        .unwrap()
        .contains("car accident"));
    assert!(
        vms[0]["summary"]
            .as_str()
            .unwrap()
            .contains("left a message"),
        "{}",
        vms[0]["summary"]
    );
    let audio = reqwest::get(vms[0]["recording_url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(audio.status(), 200);
    assert_eq!(&audio.bytes().await.unwrap()[..4], b"RIFF");
    let (_, events) = server
        .get(&key, "/api/v1/events?event_type=voicemail.received")
        .await;
    assert_eq!(events["events"].as_array().unwrap().len(), 1);

    // Staff heard about the new leads, the callback and the voicemail, by email and
    // by webhook, and every alert is recorded as delivered.
    let mails = eventually(30, "the staff alert emails", || async {
        let mails = smtp.mails();
        let subjects: Vec<String> = mails.iter().map(|m| m.subject()).collect();
        let has = |p: &str| subjects.iter().any(|s| s.starts_with(p));
        if has("New lead") && has("Voicemail from") && has("Callback requested") {
            Ok(mails)
        } else {
            Err(format!("{subjects:?}"))
        }
    })
    .await;
    assert!(
        mails.iter().all(|m| m.to == ["<intake@smithlaw.test>"]),
        "{mails:?}"
    );
    let vm_mail = mails
        .iter()
        .find(|m| m.subject().starts_with("Voicemail from"))
        .unwrap();
    assert!(vm_mail.data.contains("car accident"), "{}", vm_mail.data);
    assert_eq!(vm_mail.from, "<alerts@kaicalls.test>");
    let hooks = receiver
        .wait_until(30, "the staff alert webhooks", |r| {
            r.iter().any(|h| h.json["type"] == "staff_alert.voicemail")
        })
        .await;
    assert!(hooks.iter().all(|h| h.verifies_with(&boot.webhook_secret)));
    let alerts = eventually(30, "every alert delivered", || async {
        let (_, list) = server.get(&key, "/api/v1/staff-alerts").await;
        let alerts = list["alerts"].as_array().unwrap().clone();
        if !alerts.is_empty() && alerts.iter().all(|a| a["status"] == "delivered") {
            Ok(alerts)
        } else {
            Err(format!("{alerts:?}"))
        }
    })
    .await;
    let events: Vec<&str> = alerts
        .iter()
        .map(|a| a["event"].as_str().unwrap())
        .collect();
    for e in ["new_lead", "voicemail", "callback_requested"] {
        assert!(events.contains(&e), "{events:?}");
    }
    assert!(alerts.iter().any(|a| a["channel"] == "webhook"));
    // One alert per page reaches every alert once: rows raised together have their
    // own instants, so the created_at cursor never splits a group.
    let (mut seen, mut after) = (vec![], String::new());
    loop {
        let (_, page) = server
            .get(&key, &format!("/api/v1/staff-alerts?limit=1{after}"))
            .await;
        let list = page["alerts"].as_array().unwrap();
        seen.extend(list.iter().map(|a| a["id"].clone()));
        if page["has_more"] != true {
            break;
        }
        after = format!("&after={}", list[0]["created_at"].as_str().unwrap());
    }
    let all: Vec<Value> = alerts.iter().map(|a| a["id"].clone()).collect();
    assert_eq!(seen, all, "paging one by one");

    // Out of hours (open only tomorrow), a caller is taken as a message: the closed
    // greeting, and a voicemail whatever they say.
    let tomorrow = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [(chrono::Utc::now().weekday().num_days_from_monday() as usize + 1) % 7];
    let (status, agent) = server
        .call(
            Method::PATCH,
            "/api/v1/agents",
            Some(&key),
            Some(json!({"id": boot.agent_id, "business_hours": {"timezone": "UTC", "days": [tomorrow]}})),
        )
        .await;
    assert_eq!(status, 200, "{agent}");
    assert_eq!(agent["after_hours_action"], "take_message");
    let closed = ring("+15125550179").await;
    assert!(
        closed["first_message"].as_str().unwrap().contains("closed"),
        "{}",
        closed["first_message"]
    );
    let (_, vms) = server.get(&key, "/api/v1/voicemails").await;
    assert_eq!(vms["voicemails"][0]["call_id"], closed["id"]);
    let (_, agent) = server
        .call(
            Method::PATCH,
            "/api/v1/agents",
            Some(&key),
            Some(json!({"id": boot.agent_id, "business_hours": {"days": []}})),
        )
        .await;
    assert_eq!(agent["business_hours"], Value::Null, "always open again");

    // Live keys do not ring the sandbox.
    let (status, refused) = server
        .post(
            &boot.live_key,
            "/api/v1/sandbox/inbound-calls",
            json!({"to": boot.phone_number, "from": "+15005550100"}),
        )
        .await;
    assert_eq!(status, 403, "{refused}");
    // Another tenant's number is not found.
    let other = server.bootstrap("owner@other.test");
    let (status, _) = server
        .post(
            &key,
            "/api/v1/sandbox/inbound-calls",
            json!({"to": other.phone_number, "from": "+15005550100"}),
        )
        .await;
    assert_eq!(status, 404);
}
