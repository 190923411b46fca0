//! `POST /api/v1/providers/vapi/events`: Vapi's server messages (`status-update`,
//! `end-of-call-report`), authenticated by the shared secret we gave Vapi when
//! dialing, and fed into the engine. Idempotent and safe out of order: the engine's
//! forward-only state machine ignores late and repeated events.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use serde_json::{json, Value};

use super::repo;
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::http::json::{Json, JsonBytes};
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
