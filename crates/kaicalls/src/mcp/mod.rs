//! The MCP server: an AI agent's phone. One handler ([`KaiCallsMcp`], on the official
//! Rust SDK `rmcp`) serves two transports:
//!
//! - streamable HTTP at `/api/mcp` (`http.rs`), stateless: every POST is
//!   authenticated on its own by the authentication middleware (an API key in either
//!   header, or an OAuth access token of `crate::oauth`, which only this endpoint
//!   accepts), and the tools reach the API in process (`http::local`) as that
//!   principal;
//! - stdio (`kaicalls mcp`, `stdio.rs`) for desktop clients, reaching a KaiCalls
//!   server over HTTPS with `KAICALLS_API_KEY`.
//!
//! Either way a tool is a composition of REST API requests ([`Backend::send`]), so
//! tenancy, scopes, validation, idempotency and rate limits are exactly the API's,
//! and the tools' answers are the API's objects in the published tool envelope
//! (`tools.rs`).

pub mod http;
pub mod stdio;
pub mod tools;

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::StatusCode;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListToolsResult,
    PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use crate::app::AppState;
use crate::auth::scope::Scopes;
use crate::auth::{AuthOutcome, KeyPrincipal};
use crate::http::local::{Answer, LocalApi, LocalRequest};

/// Protocol revisions served: the stateless 2026-07-28 (`server/discover`, the
/// version in each request's `_meta`), and the `initialize` handshakes of 2025-11-25
/// and 2025-06-18.
pub const PROTOCOL_VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V_2026_07_28,
    ProtocolVersion::V_2025_11_25,
    ProtocolVersion::V_2025_06_18,
];

const INSTRUCTIONS: &str = "KaiCalls places real outbound phone calls with an AI voice agent and reports what happened. \
Typical flow: list_agents to find an agent_id, make_call (with an idempotency_key so a retry never dials twice), \
then wait_for_call until it ends (call it again while done is false), then get_transcript / get_call_recording. \
With a test key (kc_test_) calls are simulated and free; with a live key a real phone rings.";

/// Where the tools' requests go.
#[derive(Clone)]
pub enum Backend {
    /// In process, as the principal the HTTP request authenticated (`/api/mcp`).
    Local(Arc<(AppState, LocalApi)>),
    /// Over HTTP to a KaiCalls server, with one API key (`kaicalls mcp`).
    Remote(Arc<stdio::RemoteApi>),
}

/// The caller of one MCP request, as far as this handler knows it.
#[derive(Clone)]
pub enum Caller {
    Key(Arc<KeyPrincipal>),
    /// A remote key: its scopes are the server's to check.
    Remote,
}

impl Caller {
    /// The scopes the caller holds, when known here (`None`: every tool is shown and
    /// the server refuses what the key may not do).
    pub fn scopes(&self) -> Option<&Scopes> {
        match self {
            Caller::Key(key) => Some(&key.scopes),
            Caller::Remote => None,
        }
    }

    pub fn is_test(&self) -> Option<bool> {
        match self {
            Caller::Key(key) => Some(key.tenant.mode == crate::auth::api_key::Mode::Test),
            Caller::Remote => None,
        }
    }
}

impl Backend {
    /// One API request as `caller`.
    pub async fn send(&self, caller: &Caller, request: LocalRequest<'_>) -> Answer {
        match (self, caller) {
            (Backend::Local(local), Caller::Key(key)) => {
                let (app, api) = &**local;
                api.send(app, AuthOutcome::Key(key.clone()), request).await
            }
            (Backend::Remote(remote), _) => remote.send(request).await,
            (Backend::Local(_), Caller::Remote) => Answer {
                status: StatusCode::UNAUTHORIZED,
                body: serde_json::json!({"error": {"code": "unauthorized", "message": "No credentials"}}),
                replayed: false,
            },
        }
    }
}

#[derive(Clone)]
pub struct KaiCallsMcp {
    backend: Backend,
}

impl KaiCallsMcp {
    pub fn new(backend: Backend) -> KaiCallsMcp {
        KaiCallsMcp { backend }
    }

    /// Who sent this request: over HTTP, the principal the authentication middleware
    /// put on the request (the SDK hands the request's parts to every handler).
    fn caller(&self, context: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
        if let Backend::Remote(_) = self.backend {
            return Ok(Caller::Remote);
        }
        let outcome = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<AuthOutcome>());
        match outcome {
            Some(AuthOutcome::Key(key)) => Ok(Caller::Key(key.clone())),
            // `http::endpoint` answers 401 before a request gets here.
            _ => Err(ErrorData::invalid_request("Not authenticated", None)),
        }
    }
}

impl ServerHandler for KaiCallsMcp {
    fn get_info(&self) -> ServerConfig {
        let mut server = Implementation::new("kaicalls", env!("CARGO_PKG_VERSION"));
        server.title = Some("KaiCalls".into());
        server.description = Some("Give your AI agent a phone: place outbound AI phone calls and read what happened (status, summary, transcript, recording).".into());
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(server)
            .with_instructions(INSTRUCTIONS)
            .with_protocol_version(ProtocolVersion::V_2025_11_25)
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Owned(PROTOCOL_VERSIONS.to_vec())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = self.caller(&context)?;
        let tools: Vec<Tool> = tools::catalogue()
            .iter()
            .filter(|spec| spec.allowed(caller.scopes()))
            .map(tools::ToolSpec::tool)
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools::find(name).map(tools::ToolSpec::tool)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = self.caller(&context)?;
        let Some(spec) = tools::find(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!("Unknown tool: {}", request.name),
                None,
            ));
        };
        // Checked again here, not only by hiding: a key without the scope cannot call
        // the tool by name (and the API behind it would refuse it too).
        if !spec.allowed(caller.scopes()) {
            return Ok(CallToolResult::structured_error(tools::failure(
                "insufficient_scope",
                &format!(
                    "This key lacks the scope {} that {} needs",
                    spec.scope.map_or("", |s| s.as_str()),
                    spec.name
                ),
                None,
            ))
            .into());
        }
        let arguments = request.arguments.unwrap_or_default();
        let run = tools::Run {
            backend: &self.backend,
            caller: &caller,
            context: &context,
        };
        Ok(run.call(spec, arguments).await.into())
    }
}
