//! `POST /api/v1/providers/vapi/events`: Vapi's server messages, authenticated by the
//! shared secret we gave Vapi (on dialing, and as the numbers' server URL).
//! `assistant-request` (a call to one of our numbers) answers with the number's
//! agent (`inbound::ring`); `tool-calls` and `transfer-destination-request` run the
//! agent's tools (`inbound::tools`); `status-update` and `end-of-call-report` are fed
//! into the engine, idempotent and safe out of order: the engine's forward-only state
//! machine ignores late and repeated events.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use serde_json::{json, Value};

use super::repo;
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::http::json::{Json, JsonBytes};
use crate::numbers::{self, PhoneNumber};
use crate::phone::E164;
use crate::voice::vapi;

fn presented_secret(headers: &HeaderMap) -> &str {
    if let Some(v) = headers.get("x-vapi-secret").and_then(|v| v.to_str().ok()) {
        return v.trim();
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("")
}

pub async fn vapi_events(
    State(app): State<AppState>,
    headers: HeaderMap,
    JsonBytes(body): JsonBytes,
) -> ApiResult<Json<Value>> {
    let Some(vapi) = app.engine.vapi() else {
        return Err(ApiError::not_found("Vapi integration"));
    };
    // The secret first: an unauthenticated sender gets nothing parsed.
    if !vapi.verify_secret(presented_secret(&headers)) {
        return Err(ApiError::unauthorized("Missing or invalid provider secret"));
    }
    // Vapi's messages are Vapi's (long transcripts and all): parsed as they come,
    // not held to the limits of our own request bodies.
    let body: Value = serde_json::from_slice(&body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| ApiError::bad_request("Invalid JSON body: expected a JSON object"))?;
    let message = &body["message"];
    match message["type"].as_str() {
        Some("assistant-request") => return assistant_request(&app, vapi, message).await,
        Some("tool-calls") => return tool_calls(&app, message).await,
        Some("transfer-destination-request") => return transfer_request(&app, message).await,
        _ => {}
    }
    let call = match message["call"]["id"].as_str() {
        Some(conversation) => repo::get_by_conversation(&app.store, conversation).await?,
        None => None,
    };
    let Some(call) = call else {
        // Not one of ours (or not yet recorded): acknowledge so Vapi does not retry.
        return Ok(Json(json!({ "ok": true, "ignored": "unknown call" })));
    };
    let event = vapi::event_of_message(message);
    let ended = message["type"] == "status-update" && message["status"] == "ended";
    if event.is_none() && !ended {
        return Ok(Json(json!({ "ok": true, "ignored": "message type" })));
    }
    // Detached, so a sender that hangs up cannot cut the change in half.
    let engine = app.engine.clone();
    let id = call.id.clone();
    tokio::spawn(async move { engine.ingest(&id, event, ended).await })
        .await
        .map_err(anyhow::Error::from)??;
    Ok(Json(json!({ "ok": true })))
}

/// The number a message is about: `phoneNumber.number`, else our number with that
/// Vapi id (`call.phoneNumberId`).
async fn our_number(app: &AppState, message: &Value) -> ApiResult<Option<PhoneNumber>> {
    let number = message["phoneNumber"]["number"]
        .as_str()
        .or(message["call"]["phoneNumber"]["number"].as_str());
    if let Some(n) = number.and_then(|n| E164::parse(n).ok()) {
        return Ok(numbers::find_any(&app.store, n.as_str()).await?);
    }
    let id = message["phoneNumberId"]
        .as_str()
        .or(message["call"]["phoneNumberId"].as_str())
        .or(message["phoneNumber"]["id"].as_str());
    match id {
        Some(id) => Ok(numbers::find_by_vapi_id(&app.store, id).await?),
        None => Ok(None),
    }
}

/// `assistant-request`: a caller rings one of our numbers. Unknown numbers (and
/// numbers without an agent or assistant) are refused with Vapi's `error` answer and
/// change nothing.
async fn assistant_request(
    app: &AppState,
    vapi: &vapi::Vapi,
    message: &Value,
) -> ApiResult<Json<Value>> {
    let refuse = |why: &str| Ok(Json(json!({ "error": why })));
    let Some(number) = our_number(app, message).await? else {
        return refuse("This number is not in service.");
    };
    let caller = message["customer"]["number"]
        .as_str()
        .or(message["call"]["customer"]["number"].as_str())
        .and_then(|n| E164::parse(n).ok());
    let (Some(caller), Some(conversation)) = (caller, message["call"]["id"].as_str()) else {
        return refuse("The call has no caller number or id.");
    };
    let Some(agent_id) = &number.agent_id else {
        return refuse("This number has no agent to answer it.");
    };
    match crate::agents::get_by_id(&app.store, agent_id).await? {
        Some(agent) if agent.vapi_assistant_id.is_some() => {}
        _ => return refuse("This number's agent has no Vapi assistant."),
    }
    let ring = crate::inbound::Ring {
        number,
        caller: caller.to_string(),
        conversation_id: conversation.to_string(),
        control_url: message["call"]["monitor"]["controlUrl"]
            .as_str()
            .map(str::to_string),
        provider: "vapi",
        mode: crate::auth::api_key::Mode::Live,
        key_id: None,
        user_id: None,
        script: None,
    };
    let engine = app.engine.clone();
    let answered = tokio::spawn(async move { crate::inbound::ring(&engine, ring).await })
        .await
        .map_err(anyhow::Error::from)??;
    Ok(Json(crate::inbound::vapi_answer(vapi, &answered)))
}

async fn inbound_call_of(app: &AppState, message: &Value) -> ApiResult<Option<super::Call>> {
    match message["call"]["id"].as_str() {
        Some(conversation) => Ok(repo::get_by_conversation(&app.store, conversation)
            .await?
            .filter(|c| c.provider == "vapi")),
        None => Ok(None),
    }
}

/// `tool-calls`: each tool call run for the call's business, answered as Vapi's
/// `results` (`toolCallId`, `name`, `result` as a JSON string, or `error`).
async fn tool_calls(app: &AppState, message: &Value) -> ApiResult<Json<Value>> {
    let list: Vec<Value> = message["toolCallList"]
        .as_array()
        .cloned()
        .or_else(|| {
            message["toolWithToolCallList"]
                .as_array()
                .map(|l| l.iter().map(|t| t["toolCall"].clone()).collect())
        })
        .unwrap_or_default();
    let call = inbound_call_of(app, message).await?;
    let mut results = vec![];
    for tc in list.iter().take(20) {
        let id = tc["id"].clone();
        let function = &tc["function"];
        let name = function["name"]
            .as_str()
            .or(tc["name"].as_str())
            .unwrap_or("");
        let arguments = match &function["arguments"] {
            Value::String(text) => serde_json::from_str(text).unwrap_or(json!({})),
            v @ Value::Object(_) => v.clone(),
            _ => tc["arguments"].clone(),
        };
        let Some(call) = call.as_ref().filter(|c| !c.status.is_terminal()) else {
            results.push(json!({ "toolCallId": id, "name": name, "error": "This call is not one KaiCalls is handling." }));
            continue;
        };
        let engine = app.engine.clone();
        let (call, name2) = (call.clone(), name.to_string());
        let result = tokio::spawn(async move {
            crate::inbound::tools::run(&engine, &call, &name2, &arguments, None).await
        })
        .await
        .map_err(anyhow::Error::from)??;
        // A refusal is Vapi's `error` (the assistant says it); anything else its `result`.
        results.push(match result["error"].as_str() {
            Some(error) => json!({ "toolCallId": id, "name": name, "error": error }),
            None => json!({ "toolCallId": id, "name": name, "result": result.to_string() }),
        });
    }
    Ok(Json(json!({ "results": results })))
}

/// `transfer-destination-request`: where the caller goes and what the human hears.
async fn transfer_request(app: &AppState, message: &Value) -> ApiResult<Json<Value>> {
    let Some(call) = inbound_call_of(app, message)
        .await?
        .filter(|c| !c.status.is_terminal())
    else {
        return Ok(Json(
            json!({ "error": "This call is not one KaiCalls is handling." }),
        ));
    };
    // The reason: what the caller said last.
    let reason = message["artifact"]["messages"]
        .as_array()
        .and_then(|m| {
            m.iter()
                .rev()
                .find(|m| matches!(m["role"].as_str(), Some("user" | "customer")))
        })
        .and_then(|m| m["message"].as_str().or(m["content"].as_str()))
        .unwrap_or("")
        .chars()
        .take(300)
        .collect::<String>();
    let engine = app.engine.clone();
    let answer = tokio::spawn(async move {
        crate::inbound::tools::transfer_destination(&engine, &call, &reason).await
    })
    .await
    .map_err(anyhow::Error::from)??;
    Ok(Json(answer))
}
