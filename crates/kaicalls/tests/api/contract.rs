//! Every answer the suite receives is checked against the committed OpenAPI document
//! (which a unit test keeps equal to the one the server derives from its types): a
//! documented operation may answer only its documented statuses, with a JSON body
//! matching the documented schema (closed objects: no undocumented field) and a
//! `Request-Id`. Requests to paths or methods the document does not describe (the
//! audio links, deliberate 404/405 probes) are not checked here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const DOCUMENT: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json"));

fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::from_str(DOCUMENT).expect("openapi.json is JSON"))
}

/// One validator per schema, compiled once for the whole run.
fn validator(schema: &Value) -> Arc<jsonschema::Validator> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = OnceLock::new();
    let key = schema.to_string();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().unwrap().get(&key) {
        return v.clone();
    }
    // The schema with the document's components beside it, so its `#/components/…`
    // references resolve.
    let mut root = schema.clone();
    root["components"] = document()["components"].clone();
    let compiled = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("the document's schema {schema} does not compile: {e}"));
    let compiled = Arc::new(compiled);
    cache.lock().unwrap().insert(key, compiled.clone());
    compiled
}

/// Checks one answer. `path` may carry a query string.
pub fn check(method: &Method, path: &str, status: StatusCode, headers: &HeaderMap, body: &str) {
    let path = path.split('?').next().unwrap_or(path);
    let method = method.as_str().to_ascii_lowercase();
    let Some(operation) = document()["paths"].get(path).and_then(|p| p.get(&method)) else {
        return;
    };
    let what = format!("{} {path} → {status}", method.to_uppercase());
    let Some(response) = operation["responses"].get(status.as_str()) else {
        panic!("{what}: an undocumented status (body: {body})");
    };
    assert!(
        headers.contains_key("request-id"),
        "{what}: no Request-Id header"
    );
    let Some(schema) = response.pointer("/content/application~1json/schema") else {
        return;
    };
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        content_type.starts_with("application/json"),
        "{what}: content-type {content_type:?}, documented application/json"
    );
    let value: Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("{what}: the body is not JSON ({e}): {body}"));
    let errors: Vec<String> = validator(schema)
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: the body does not match the documented schema {schema}:\n  {}\nbody: {value}",
        errors.join("\n  ")
    );
}

/// The checker itself: a documented answer passes, an extra field, a wrong type and
/// an undocumented status fail.
#[test]
fn the_checker_refuses_what_the_document_does_not_say() {
    let mut headers = HeaderMap::new();
    headers.insert("request-id", "req_x".parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    let ok = json!({"success": true}).to_string();
    check(
        &Method::DELETE,
        "/api/v1/webhooks?id=x",
        StatusCode::OK,
        &headers,
        &ok,
    );
    let attempt = |body: Value, status: StatusCode| {
        let headers = headers.clone();
        std::panic::catch_unwind(move || {
            check(
                &Method::DELETE,
                "/api/v1/webhooks",
                status,
                &headers,
                &body.to_string(),
            )
        })
        .is_err()
    };
    assert!(attempt(
        json!({"success": true, "sucess": 1}),
        StatusCode::OK
    ));
    assert!(attempt(json!({"success": "yes"}), StatusCode::OK));
    assert!(attempt(json!({"success": true}), StatusCode::IM_A_TEAPOT));
    assert!(attempt(
        json!({"error": {"code": "x"}}),
        StatusCode::NOT_FOUND
    ));
}

/// The Rust client's `Call` names only fields the document's `Call` has: a field it
/// named that the server never sends would read as a silent `None`.
#[tokio::test]
async fn the_rust_clients_call_fields_are_documented() {
    let server = crate::harness::Server::start().await;
    let boot = server.bootstrap("contract@tenant.test");
    let (status, answer) = server
        .post(
            &boot.test_key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": "+15005550006"}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    let mut call: kaicalls_client::Call = serde_json::from_value(answer).unwrap();
    call.extra.clear();
    let named = serde_json::to_value(&call).unwrap();
    let documented = &document()["components"]["schemas"]["Call"]["properties"];
    for field in named.as_object().unwrap().keys() {
        assert!(
            documented.get(field).is_some(),
            "kaicalls_client::Call names `{field}`, which the document's Call does not have"
        );
    }
}
