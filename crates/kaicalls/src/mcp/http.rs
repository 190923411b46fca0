//! `/api/mcp`: MCP's streamable HTTP transport, stateless (no `Mcp-Session-Id`; every
//! POST is authenticated on its own by `auth::middleware`), answering JSON unless a
//! tool sends notifications first (then SSE). Hosts and origins are checked against
//! the configured lists (DNS rebinding); a request without credentials is 401 with
//! `WWW-Authenticate` pointing at the protected-resource metadata (RFC 9728), so an
//! MCP client can start OAuth (`crate::oauth`).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tower::ServiceExt;

use super::{Backend, KaiCallsMcp};
use crate::app::AppState;
use crate::auth::AuthOutcome;
use crate::http::local::LocalApi;

pub const PATH: &str = "/api/mcp";

/// What `/api/mcp` and the OAuth server are configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `Host` values served (a name matches any port); empty: any host.
    pub allowed_hosts: Vec<String>,
    /// Browser `Origin`s served; a request without `Origin` always is.
    pub allowed_origins: Vec<String>,
    /// Lifetime of an OAuth access token.
    pub access_token_secs: i64,
}

impl Settings {
    /// From the configured lists, defaulting to the public URL's host (and loopback)
    /// and its origin.
    pub fn new(
        public_url: &str,
        hosts: Option<&str>,
        origins: Option<&str>,
        access_token_secs: i64,
    ) -> Settings {
        let list = |raw: &str| -> Vec<String> {
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        let public = url::Url::parse(public_url).ok();
        let allowed_hosts = match hosts {
            Some(raw) => list(raw),
            None => {
                let mut hosts: Vec<String> =
                    vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
                if let Some(host) = public.as_ref().and_then(|u| u.host_str()) {
                    let host = host
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_string();
                    if !hosts.contains(&host) {
                        hosts.push(host);
                    }
                }
                hosts
            }
        };
        let allowed_origins = match origins {
            Some(raw) => list(raw),
            None => public
                .map(|u| {
                    let origin = u.origin().ascii_serialization();
                    // An explicit port, as the SDK's matching wants.
                    match u.port() {
                        Some(_) => vec![origin],
                        None => vec![format!(
                            "{origin}:{}",
                            u.port_or_known_default().unwrap_or(443)
                        )],
                    }
                })
                .unwrap_or_default(),
        };
        Settings {
            allowed_hosts,
            allowed_origins,
            access_token_secs,
        }
    }
}

pub type Service = StreamableHttpService<KaiCallsMcp, NeverSessionManager>;

pub fn service(app: &AppState) -> Service {
    let backend = Backend::Local(Arc::new((app.clone(), LocalApi::new(app.clone()))));
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(Some(Duration::from_secs(15)))
        .with_max_request_body_bytes(crate::http::BODY_LIMIT)
        .with_allowed_origins(app.mcp.allowed_origins.clone());
    config = if app.mcp.allowed_hosts.is_empty() {
        config.disable_allowed_hosts()
    } else {
        config.with_allowed_hosts(app.mcp.allowed_hosts.clone())
    };
    if !app.mcp.allowed_origins.is_empty() {
        config = config.enforce_origin_validation();
    }
    StreamableHttpService::new(
        move || Ok(KaiCallsMcp::new(backend.clone())),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}

/// Every method on `/api/mcp`: authenticated callers go to the SDK's service.
pub async fn endpoint(service: Service, app: AppState, mut req: Request) -> Response {
    match req.extensions().get::<AuthOutcome>() {
        Some(AuthOutcome::Key(_)) => {}
        Some(AuthOutcome::Rejected(why)) => return unauthorized(&app.public_url, Some(why)),
        _ => return unauthorized(&app.public_url, None),
    }
    if req.method() == Method::POST {
        accept_json_and_sse(req.headers_mut());
    }
    match service.oneshot(req).await {
        Ok(response) => response.map(axum::body::Body::new),
        Err(never) => match never {},
    }
}

/// A client that names no media type (or any) takes what the transport sends: JSON,
/// or SSE when a tool reports progress. The SDK alone would answer such a request 406.
fn accept_json_and_sse(headers: &mut axum::http::HeaderMap) {
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let names_any = accept.is_empty()
        || accept
            .split(',')
            .any(|part| part.split(';').next().is_some_and(|m| m.trim() == "*/*"));
    if names_any {
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
    }
}

/// The protected-resource metadata of `/api/mcp` (RFC 9728 §3.1: the resource's path
/// after the well-known prefix).
pub fn resource_metadata_url(public_url: &str) -> String {
    format!("{public_url}/.well-known/oauth-protected-resource{PATH}")
}

fn unauthorized(public_url: &str, why: Option<&str>) -> Response {
    let metadata = resource_metadata_url(public_url);
    let challenge = match why {
        Some(_) => format!(r#"Bearer error="invalid_token", resource_metadata="{metadata}""#),
        None => format!(r#"Bearer resource_metadata="{metadata}""#),
    };
    let message = why.unwrap_or(
        "Authentication required: send an API key (Authorization: Bearer kc_live_… or X-KaiCalls-API-Key) or an OAuth access token",
    );
    let mut response = (
        StatusCode::UNAUTHORIZED,
        axum::Json(serde_json::json!({"error": {"code": "unauthorized", "message": message}})),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}
