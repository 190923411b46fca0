//! The OpenAPI 3.1 document, built from the table of operations below — the
//! operations `http::api_routes` serves (a test probes the router to keep the two
//! equal) — served at `/api/v1/openapi.json`, rendered as HTML at `/docs`, and
//! committed as `openapi.json` (a test fails when the file drifts; regenerate with
//! `kaicalls openapi > openapi.json`).

use std::sync::OnceLock;

use axum::response::{Html, IntoResponse, Response};
use serde_json::{json, Map, Value};

/// Who may call an operation.
#[derive(Clone, Copy)]
pub enum Access {
    /// No credentials.
    Public,
    /// Any valid API key.
    AnyKey,
    /// An API key holding this scope.
    Scope(&'static str),
    /// A dashboard session cookie.
    Session,
    /// Vapi's shared secret.
    ProviderSecret,
}

/// A query parameter: name, type (`string`, `integer`), required, description.
pub type Param = (&'static str, &'static str, bool, &'static str);

pub struct Op {
    pub method: &'static str,
    /// Under `/api/v1`.
    pub path: &'static str,
    pub summary: &'static str,
    pub access: Access,
    pub query: &'static [Param],
    /// The request body's schema (a component name), if it takes one.
    pub body: Option<&'static str>,
    /// Success status and the response's schema (a component name).
    pub ok: (u16, &'static str),
    /// Error statuses beyond 401/403 that the operation answers.
    pub errors: &'static [u16],
}

const ID: Param = (
    "id",
    "string",
    false,
    "The object's id: get one instead of listing",
);
const LIMIT: Param = ("limit", "integer", false, "Results per page");

pub const OPS: &[Op] = &[
    Op { method: "get", path: "/health", summary: "Service health", access: Access::Public, query: &[], body: None, ok: (200, "Health"), errors: &[] },
    Op { method: "get", path: "/openapi.json", summary: "This document", access: Access::Public, query: &[], body: None, ok: (200, "Object"), errors: &[] },
    Op { method: "post", path: "/auth/login", summary: "Log in to the dashboard (sets the session cookie)", access: Access::Public, query: &[], body: Some("Login"), ok: (200, "Object"), errors: &[400, 429] },
    Op { method: "post", path: "/auth/logout", summary: "Log out", access: Access::Session, query: &[], body: None, ok: (200, "Success"), errors: &[] },
    Op { method: "get", path: "/keys", summary: "List your API keys", access: Access::Session, query: &[], body: None, ok: (200, "KeyList"), errors: &[] },
    Op { method: "post", path: "/keys", summary: "Create an API key (the key is shown once)", access: Access::Session, query: &[], body: Some("NewKeyRequest"), ok: (201, "NewKey"), errors: &[400, 404] },
    Op { method: "delete", path: "/keys", summary: "Revoke an API key", access: Access::Session, query: &[("id", "string", true, "The key's id")], body: None, ok: (200, "Success"), errors: &[400, 404] },
    Op { method: "get", path: "/agents", summary: "List agents, or get one with ?id=", access: Access::Scope("agents:read"), query: &[ID], body: None, ok: (200, "AgentList"), errors: &[404] },
    Op { method: "post", path: "/agents", summary: "Create an agent", access: Access::Scope("agents:write"), query: &[], body: Some("AgentFields"), ok: (201, "Agent"), errors: &[400, 404] },
    Op { method: "patch", path: "/agents", summary: "Update an agent (id in the body)", access: Access::Scope("agents:write"), query: &[], body: Some("AgentFields"), ok: (200, "Agent"), errors: &[400, 404] },
    Op { method: "get", path: "/numbers", summary: "List phone numbers", access: Access::Scope("numbers:read"), query: &[("business_id", "string", false, "Only this business"), ("phone_number", "string", false, "Only this number (E.164)")], body: None, ok: (200, "NumberList"), errors: &[] },
    Op { method: "get", path: "/phone-numbers", summary: "List phone numbers (same as /numbers)", access: Access::Scope("numbers:read"), query: &[("business_id", "string", false, "Only this business"), ("phone_number", "string", false, "Only this number (E.164)")], body: None, ok: (200, "NumberList"), errors: &[] },
    Op { method: "post", path: "/phone-numbers", summary: "Register or reassign a phone number", access: Access::Scope("numbers:write"), query: &[], body: Some("AssignNumber"), ok: (201, "PhoneNumber"), errors: &[400, 404, 409] },
    Op { method: "delete", path: "/phone-numbers", summary: "Release a phone number", access: Access::Scope("numbers:write"), query: &[("phone_number", "string", true, "The number (E.164)")], body: None, ok: (200, "Success"), errors: &[400, 404] },
    Op { method: "get", path: "/leads", summary: "List leads with filters, or get one with ?id=", access: Access::Scope("leads:read"), query: &[ID, ("status", "string", false, "Comma-separated statuses"), ("source", "string", false, "Lead source"), ("agent_id", "string", false, "Agent"), ("phone", "string", false, "E.164 phone"), ("email", "string", false, "Email"), ("created_after", "string", false, "ISO 8601"), ("created_before", "string", false, "ISO 8601"), ("updated_after", "string", false, "ISO 8601"), ("updated_before", "string", false, "ISO 8601"), ("score_gte", "integer", false, "Minimum score"), ("score_lte", "integer", false, "Maximum score"), LIMIT], body: None, ok: (200, "LeadList"), errors: &[400, 404] },
    Op { method: "post", path: "/leads", summary: "Create a lead", access: Access::Scope("leads:write"), query: &[], body: Some("LeadFields"), ok: (201, "Lead"), errors: &[400, 404] },
    Op { method: "patch", path: "/leads", summary: "Update a lead (id in the body)", access: Access::Scope("leads:write"), query: &[], body: Some("LeadFields"), ok: (200, "Lead"), errors: &[400, 404] },
    Op { method: "get", path: "/calls", summary: "List calls (newest first), or get one with ?id= (and wait up to ?wait= seconds for it to finish)", access: Access::Scope("calls:read"), query: &[ID, ("wait", "integer", false, "With id: seconds (≤ 60) to wait for a terminal status"), ("limit", "integer", false, "Max results per page (default 50, max 100)"), ("agent_id", "string", false, "Filter by agent"), ("status", "string", false, "Filter by call status"), ("after", "string", false, "Cursor: the created_at of the last result")], body: None, ok: (200, "CallList"), errors: &[400, 404] },
    Op { method: "post", path: "/calls", summary: "Make an outbound call (Idempotency-Key supported)", access: Access::Scope("calls:write"), query: &[], body: Some("CreateCall"), ok: (201, "Call"), errors: &[400, 404, 409, 429, 500] },
    Op { method: "post", path: "/calls/end", summary: "Hang up or cancel a call", access: Access::Scope("calls:write"), query: &[("id", "string", true, "The call's id")], body: None, ok: (200, "Call"), errors: &[400, 404] },
    Op { method: "get", path: "/recordings", summary: "A fresh signed link to a call's recording", access: Access::Scope("calls:read"), query: &[("call_id", "string", true, "The call's id")], body: None, ok: (200, "Recording"), errors: &[400, 404] },
    Op { method: "get", path: "/transcripts", summary: "Completed calls' transcripts", access: Access::Scope("calls:read"), query: &[LIMIT, ("agent_id", "string", false, "Filter by agent"), ("after", "string", false, "Cursor"), ("days", "integer", false, "Only the last N days")], body: None, ok: (200, "TranscriptList"), errors: &[400] },
    Op { method: "get", path: "/webhooks", summary: "List webhook subscriptions", access: Access::Scope("webhooks:read"), query: &[("business_id", "string", false, "Only this business"), ID], body: None, ok: (200, "WebhookList"), errors: &[] },
    Op { method: "post", path: "/webhooks", summary: "Create (secret shown once) or update (id) a subscription", access: Access::Scope("webhooks:write"), query: &[], body: Some("WebhookFields"), ok: (201, "Webhook"), errors: &[400, 404] },
    Op { method: "delete", path: "/webhooks", summary: "Delete a subscription", access: Access::Scope("webhooks:write"), query: &[("id", "string", true, "The subscription's id")], body: None, ok: (200, "Success"), errors: &[400, 404] },
    Op { method: "post", path: "/webhooks/test", summary: "Send a signed webhook.test", access: Access::Scope("webhooks:write"), query: &[], body: Some("IdBody"), ok: (200, "Object"), errors: &[400, 404] },
    Op { method: "post", path: "/webhooks/rotate-secret", summary: "Rotate a subscription's secret", access: Access::Scope("webhooks:write"), query: &[], body: Some("IdBody"), ok: (200, "Object"), errors: &[400, 404] },
    Op { method: "get", path: "/webhooks/secret", summary: "The business secret that signs per-call webhooks", access: Access::Scope("webhooks:read"), query: &[("business_id", "string", false, "Which business")], body: None, ok: (200, "Object"), errors: &[400, 404] },
    Op { method: "post", path: "/webhooks/secret/rotate", summary: "Rotate the business secret (the old one signs for 24 h)", access: Access::Scope("webhooks:write"), query: &[("business_id", "string", false, "Which business")], body: None, ok: (200, "Object"), errors: &[400, 404] },
    Op { method: "get", path: "/events", summary: "Durable events", access: Access::Scope("events:read"), query: &[("business_id", "string", false, "Business"), ("event_id", "string", false, "Event"), ("event_type", "string", false, "Type"), ("object_type", "string", false, "call, lead, webhook"), ("object_id", "string", false, "Object"), ("from", "string", false, "ISO 8601"), ("to", "string", false, "ISO 8601"), LIMIT], body: None, ok: (200, "EventList"), errors: &[400, 404] },
    Op { method: "post", path: "/events/replay", summary: "Deliver events again (same webhook-id)", access: Access::Scope("events:replay"), query: &[], body: Some("Replay"), ok: (200, "Object"), errors: &[400, 404] },
    Op { method: "get", path: "/event-deliveries", summary: "Webhook deliveries with every attempt", access: Access::Scope("events:read"), query: &[("business_id", "string", false, "Business"), ("event_id", "string", false, "Event"), ("webhook_id", "string", false, "Subscription id or webhook-id"), ("call_id", "string", false, "Call"), ("status", "string", false, "succeeded, failed or pending"), LIMIT], body: None, ok: (200, "DeliveryList"), errors: &[400, 404] },
    Op { method: "post", path: "/providers/vapi/events", summary: "Vapi server messages (status-update, end-of-call-report)", access: Access::ProviderSecret, query: &[], body: Some("Object"), ok: (200, "Object"), errors: &[404] },
    Op { method: "get", path: "/balance", summary: "Subscription and minutes per business", access: Access::AnyKey, query: &[], body: None, ok: (200, "Balance"), errors: &[] },
    Op { method: "get", path: "/usage", summary: "API usage log", access: Access::AnyKey, query: &[("start", "string", false, "ISO 8601 start"), ("end", "string", false, "ISO 8601 end"), ("limit", "integer", false, "Max results (default 100, max 500)")], body: None, ok: (200, "Usage"), errors: &[400] },
];

fn obj(props: &[(&str, Value)]) -> Value {
    let properties: Map<String, Value> = props
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    json!({ "type": "object", "properties": properties })
}

fn s() -> Value {
    json!({ "type": "string" })
}
fn ns() -> Value {
    json!({ "type": ["string", "null"] })
}
fn int() -> Value {
    json!({ "type": "integer" })
}
fn nint() -> Value {
    json!({ "type": ["integer", "null"] })
}
fn time() -> Value {
    json!({ "type": "string", "format": "date-time" })
}
fn list_of(name: &str) -> Value {
    json!({ "type": "array", "items": { "$ref": format!("#/components/schemas/{name}") } })
}
fn any() -> Value {
    json!({ "type": "object" })
}

fn schemas() -> Value {
    let call = obj(&[
        ("id", s()),
        ("conversation_id", ns()),
        (
            "status",
            json!({"type": "string", "enum": ["queued", "ringing", "in_progress", "completed", "failed", "canceled"]}),
        ),
        ("direction", s()),
        ("duration", nint()),
        ("agent_id", s()),
        ("agent_name", ns()),
        ("business_id", s()),
        ("lead_id", ns()),
        ("to", s()),
        ("from", ns()),
        ("name", ns()),
        ("context", ns()),
        ("summary", ns()),
        ("recording_url", ns()),
        (
            "quality_dimensions",
            json!({"type": ["object", "null"], "properties": {"professionalism": int(), "empathy": int(), "information_gathering": int(), "resolution": int()}}),
        ),
        ("outcome", ns()),
        ("ended_reason", ns()),
        ("provider_ended_reason", ns()),
        ("error", ns()),
        ("metadata", json!({"type": ["object", "null"]})),
        ("variables", any()),
        (
            "transcript",
            json!({"type": "array", "items": obj(&[("role", json!({"type": "string", "enum": ["agent", "customer"]})), ("text", s()), ("start_s", json!({"type": "number"}))])}),
        ),
        (
            "events",
            json!({"type": "array", "items": obj(&[("type", s()), ("status", s()), ("created_at", time())])}),
        ),
        ("cost_cents", nint()),
        ("mode", json!({"type": "string", "enum": ["live", "test"]})),
        ("started_at", ns()),
        ("ended_at", ns()),
        ("created_at", time()),
    ]);
    json!({
        "Error": obj(&[("error", obj(&[("code", s()), ("message", s()), ("param", s())]))]),
        "Object": any(),
        "Success": obj(&[("success", json!({"type": "boolean"}))]),
        "Health": obj(&[("status", s()), ("database", s()), ("version", s())]),
        "Login": obj(&[("email", s()), ("password", s())]),
        "IdBody": obj(&[("id", s())]),
        "Key": obj(&[("id", s()), ("prefix", s()), ("name", s()), ("scopes", json!({"type": "array", "items": s()})), ("business_id", ns()), ("mode", s()), ("created_at", time()), ("last_used_at", ns()), ("expires_at", ns()), ("is_active", json!({"type": "boolean"}))]),
        "KeyList": obj(&[("keys", list_of("Key"))]),
        "NewKeyRequest": obj(&[("name", s()), ("business_id", s()), ("scopes", json!({"type": "array", "items": s()})), ("mode", json!({"type": "string", "enum": ["live", "test"]})), ("expires_at", time())]),
        "NewKey": obj(&[("key", s()), ("id", s()), ("prefix", s()), ("name", s()), ("scopes", json!({"type": "array", "items": s()})), ("business_id", ns()), ("created_at", time())]),
        "Agent": obj(&[("id", s()), ("name", s()), ("business_id", s()), ("vapi_assistant_id", ns()), ("phone_number", ns()), ("system_prompt", ns()), ("first_message", ns()), ("voice", any()), ("model", any()), ("metadata", any()), ("max_duration", nint()), ("created_at", time())]),
        "AgentList": obj(&[("agents", list_of("Agent"))]),
        "AgentFields": obj(&[("id", s()), ("business_id", s()), ("name", s()), ("system_prompt", s()), ("first_message", s()), ("voice", any()), ("model", any()), ("metadata", any()), ("vapi_assistant_id", s()), ("max_duration", int())]),
        "PhoneNumber": obj(&[("id", s()), ("phone_number", s()), ("agent_id", ns()), ("business_id", s()), ("vapi_phone_number_id", ns()), ("created_at", time())]),
        "NumberList": obj(&[("numbers", list_of("PhoneNumber"))]),
        "AssignNumber": obj(&[("phone_number", s()), ("business_id", s()), ("agent_id", s()), ("vapi_phone_number_id", s())]),
        "Lead": obj(&[("id", s()), ("business_id", s()), ("agent_id", ns()), ("name", ns()), ("phone", ns()), ("email", ns()), ("status", s()), ("source", ns()), ("score", nint()), ("notes", ns()), ("interaction_count", int()), ("created_at", time()), ("updated_at", time())]),
        "LeadList": obj(&[("leads", list_of("Lead")), ("has_more", json!({"type": "boolean"}))]),
        "LeadFields": obj(&[("id", s()), ("business_id", s()), ("name", s()), ("phone", s()), ("email", s()), ("status", s()), ("source", s()), ("score", int()), ("notes", s()), ("agent_id", s()), ("metadata", any())]),
        "Call": call,
        "CallList": obj(&[("calls", list_of("Call")), ("has_more", json!({"type": "boolean"}))]),
        "CreateCall": json!({"type": "object", "required": ["agent_id", "to"], "properties": {
            "agent_id": s(), "to": {"type": "string", "description": "E.164"}, "name": s(), "customer_name": s(), "context": s(),
            "firstMessage": s(), "first_message": s(), "lead_id": s(), "webhook_url": s(),
            "max_duration": {"type": "integer", "minimum": 10, "maximum": 3600, "default": 600},
            "metadata": any(), "webhook_events": {"type": "array", "items": s()}}}),
        "Recording": obj(&[("call_id", s()), ("status", s()), ("recording_url", ns()), ("expires_at", ns()), ("duration", nint())]),
        "TranscriptList": obj(&[("transcripts", json!({"type": "array", "items": any()})), ("has_more", json!({"type": "boolean"}))]),
        "Webhook": obj(&[("id", s()), ("url", s()), ("events", json!({"type": "array", "items": s()})), ("description", ns()), ("is_active", json!({"type": "boolean"})), ("webhook_secret_masked", s()), ("webhook_secret", s())]),
        "WebhookList": obj(&[("webhooks", list_of("Webhook")), ("events", json!({"type": "array", "items": s()}))]),
        "WebhookFields": obj(&[("id", s()), ("business_id", s()), ("webhook_url", s()), ("events", json!({"type": "array", "items": s()})), ("description", s()), ("is_active", json!({"type": "boolean"}))]),
        "Event": obj(&[("id", s()), ("type", s()), ("object_type", s()), ("object_id", s()), ("business_id", s()), ("mode", s()), ("created_at", time()), ("data", any())]),
        "EventList": obj(&[("events", list_of("Event")), ("has_more", json!({"type": "boolean"}))]),
        "DeliveryList": obj(&[("deliveries", json!({"type": "array", "items": any()})), ("has_more", json!({"type": "boolean"}))]),
        "Replay": obj(&[("business_id", s()), ("event_id", s()), ("event_ids", json!({"type": "array", "items": s()})), ("filter", obj(&[("event_type", s()), ("object_id", s())]))]),
        "Balance": obj(&[("businesses", json!({"type": "array", "items": obj(&[("business_id", s()), ("minutes_used", int()), ("phone_numbers", int()), ("subscription_status", s())])}))]),
        "Usage": obj(&[("usage", json!({"type": "array", "items": obj(&[("id", s()), ("endpoint", s()), ("method", s()), ("status_code", int()), ("call_id", ns()), ("cost_cents", int()), ("created_at", time())])})), ("has_more", json!({"type": "boolean"}))]),
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "invalid_request (names the parameter in `param`)",
        401 => "unauthorized",
        403 => "forbidden: the key lacks the scope",
        404 => "not_found",
        409 => "conflict",
        429 => "rate_limited (Retry-After)",
        500 => "call_failed or internal_error",
        _ => "error",
    }
}

fn operation(op: &Op) -> Value {
    let mut params: Vec<Value> = op
        .query
        .iter()
        .map(|(name, ty, required, desc)| json!({"name": name, "in": "query", "required": required, "description": desc, "schema": {"type": ty}}))
        .collect();
    if op.method == "post" && op.path == "/calls" {
        params.push(json!({"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string"}, "description": "Replays the first response for 24 hours"}));
    }
    let mut responses = Map::new();
    responses.insert(
        op.ok.0.to_string(),
        json!({"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{}", op.ok.1)}}}}),
    );
    let mut errors: Vec<u16> = op.errors.to_vec();
    match op.access {
        Access::Public => {}
        Access::Scope(_) => errors.extend([401, 403]),
        _ => errors.push(401),
    }
    errors.sort_unstable();
    errors.dedup();
    for status in errors {
        responses.insert(
            status.to_string(),
            json!({"description": reason(status), "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
        );
    }
    let (security, scope_note) = match op.access {
        Access::Public => (json!([]), String::from("No credentials needed.")),
        Access::AnyKey => (
            json!([{"bearer": []}, {"apiKeyHeader": []}]),
            String::from("Any valid API key."),
        ),
        Access::Scope(scope) => (
            json!([{"bearer": []}, {"apiKeyHeader": []}]),
            format!("Requires the `{scope}` scope."),
        ),
        Access::Session => (
            json!([{"session": []}]),
            String::from("Dashboard session only (API keys are refused)."),
        ),
        Access::ProviderSecret => (
            json!([{"vapiSecret": []}]),
            String::from("Vapi's shared secret."),
        ),
    };
    let mut out = json!({
        "summary": op.summary,
        "description": scope_note,
        "operationId": format!("{}{}", op.method, op.path.replace(['/', '-', '.'], "_")),
        "parameters": params,
        "responses": responses,
        "security": security,
    });
    if let Access::Scope(scope) = op.access {
        out["x-kaicalls-scope"] = json!(scope);
    }
    if let Some(body) = op.body {
        out["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{body}")}}}});
    }
    out
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in OPS {
        let entry = paths
            .entry(format!("/api/v1{}", op.path))
            .or_insert_with(|| json!({}));
        entry[op.method] = operation(op);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "KaiCalls API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Give your AI agent a phone: place outbound AI phone calls and get back what happened.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer kc_live_… or kc_test_…"},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-KaiCalls-API-Key"},
                "session": {"type": "apiKey", "in": "cookie", "name": "kc_session"},
                "vapiSecret": {"type": "apiKey", "in": "header", "name": "X-Vapi-Secret"},
            },
        },
    })
}

fn cached() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(document)
}

pub async fn serve_json() -> Response {
    axum::Json(cached().clone()).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `/docs`: the document as a self-contained page (no scripts, works offline).
pub async fn serve_docs() -> Html<String> {
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>KaiCalls API</title><style>\
         body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}\
         h2{margin-top:2.2rem;font-family:ui-monospace,monospace;font-size:1.05rem}\
         .m{display:inline-block;min-width:4.2rem;font-weight:700}table{border-collapse:collapse;margin:.4rem 0}\
         td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;font-size:.9rem}code{background:#f4f4f4;padding:0 .2rem}\
         </style></head><body><h1>KaiCalls API</h1><p>Send <code>Authorization: Bearer kc_live_…</code>. \
         Errors: <code>{\"error\": {\"code\", \"message\", \"param\"}}</code>. Machine-readable: \
         <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</p>",
    );
    for op in OPS {
        html.push_str(&format!(
            "<h2><span class=\"m\">{}</span> /api/v1{}</h2><p>{}. {}</p>",
            op.method.to_uppercase(),
            op.path,
            escape(op.summary),
            escape(operation(op)["description"].as_str().unwrap_or("")),
        ));
        if !op.query.is_empty() {
            html.push_str("<table><tr><th>Parameter</th><th>Type</th><th>Description</th></tr>");
            for (name, ty, required, desc) in op.query {
                let req = if *required { " (required)" } else { "" };
                html.push_str(&format!(
                    "<tr><td><code>{name}</code>{req}</td><td>{ty}</td><td>{}</td></tr>",
                    escape(desc)
                ));
            }
            html.push_str("</table>");
        }
        if let Some(body) = op.body {
            html.push_str(&format!("<p>Body: <code>{body}</code></p>"));
        }
        html.push_str(&format!(
            "<p>Answers {} with <code>{}</code>.</p>",
            op.ok.0, op.ok.1
        ));
    }
    html.push_str("</body></html>");
    Html(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed `openapi.json` is the document the server serves.
    #[test]
    fn the_committed_document_is_current() {
        let committed = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json"));
        let committed: Value = serde_json::from_str(committed).expect("openapi.json is JSON");
        assert!(
            committed == document(),
            "openapi.json is out of date: run `cargo run -q -- openapi > openapi.json`"
        );
    }

    #[test]
    fn every_schema_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        for piece in text.split("#/components/schemas/").skip(1) {
            let name: String = piece
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(
                doc["components"]["schemas"].get(&name).is_some(),
                "missing schema {name}"
            );
        }
    }
}
