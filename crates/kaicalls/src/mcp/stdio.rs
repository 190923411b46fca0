//! `kaicalls mcp`: the MCP server over stdio, for desktop clients that start it as a
//! child process (Claude Desktop, Cursor). Its tools reach a KaiCalls server over
//! HTTP with one API key (`KAICALLS_API_KEY`, `KAICALLS_BASE_URL`). stdout carries
//! only MCP messages; logs go to stderr.

use std::sync::Arc;

use axum::http::StatusCode;
use rmcp::ServiceExt;
use serde_json::Value;

use super::{Backend, KaiCallsMcp};
use crate::http::local::{Answer, LocalRequest};

/// The KaiCalls API over HTTP, as one key.
pub struct RemoteApi {
    client: reqwest::Client,
    base_url: String,
    key: String,
}

impl RemoteApi {
    pub fn new(base_url: &str, key: &str) -> anyhow::Result<RemoteApi> {
        Ok(RemoteApi {
            client: reqwest::Client::builder()
                .user_agent(concat!("kaicalls-mcp/", env!("CARGO_PKG_VERSION")))
                // wait_for_call holds a request for up to 50 s.
                .timeout(std::time::Duration::from_secs(75))
                .build()?,
            base_url: base_url.trim_end_matches('/').to_string(),
            key: key.to_string(),
        })
    }

    pub async fn send(&self, request: LocalRequest<'_>) -> Answer {
        let url = format!("{}/api/v1{}", self.base_url, request.path);
        let method = reqwest::Method::from_bytes(request.method.as_str().as_bytes())
            .unwrap_or(reqwest::Method::GET);
        let mut builder = self.client.request(method, url).bearer_auth(&self.key);
        if let Some(key) = request.idempotency_key {
            builder = builder.header("Idempotency-Key", key);
        }
        if let Some(body) = request.body {
            builder = builder.json(&body);
        }
        match builder.send().await {
            Ok(response) => {
                let status = StatusCode::from_u16(response.status().as_u16())
                    .unwrap_or(StatusCode::BAD_GATEWAY);
                let replayed = response
                    .headers()
                    .get("idempotent-replayed")
                    .is_some_and(|v| v == "true");
                let body = response.json::<Value>().await.unwrap_or(Value::Null);
                Answer {
                    status,
                    body,
                    replayed,
                }
            }
            Err(err) => Answer {
                status: StatusCode::BAD_GATEWAY,
                body: serde_json::json!({"error": {"code": "unavailable", "message": format!("KaiCalls at {} could not be reached: {err}", self.base_url)}}),
                replayed: false,
            },
        }
    }
}

/// Serves MCP on stdin/stdout until the client closes it.
pub async fn run(base_url: &str, key: &str) -> anyhow::Result<()> {
    let remote = Arc::new(RemoteApi::new(base_url, key)?);
    let server = KaiCallsMcp::new(Backend::Remote(remote))
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| anyhow::anyhow!("MCP over stdio could not start: {e}"))?;
    tracing::info!(%base_url, "MCP server on stdio");
    server.waiting().await?;
    Ok(())
}
