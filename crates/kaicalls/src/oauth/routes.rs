//! The authorization server's endpoints: discovery, registration, token, revocation.
//! The authorization endpoint is the dashboard's consent page (`dashboard::consent`).
//! Errors are OAuth's own JSON (`{"error", "error_description"}`, RFC 6749 §5.2),
//! which OAuth clients read, not our API envelope.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Client, TokenError};
use crate::app::AppState;
use crate::auth::scope::Scope;
use crate::auth::sessions::ClientIp;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(authorization_server),
        )
        .route(
            "/.well-known/oauth-protected-resource",
            get(protected_resource),
        )
        .route(
            "/.well-known/oauth-protected-resource/api/mcp",
            get(protected_resource),
        )
        .route("/oauth/register", post(register))
        .route("/oauth/token", post(token))
        .route("/oauth/revoke", post(revoke))
}

/// The endpoints clients post to without a cookie (their own credentials are in
/// the body); the cross-site check of `auth::middleware` leaves them alone.
pub const COOKIELESS: [&str; 3] = ["/oauth/register", "/oauth/token", "/oauth/revoke"];

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    no_store(
        (
            status,
            Json(json!({"error": error, "error_description": description})),
        )
            .into_response(),
    )
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn scopes_supported() -> Vec<&'static str> {
    super::GRANTABLE.iter().map(|s| s.as_str()).collect()
}

/// RFC 8414.
async fn authorization_server(State(app): State<AppState>) -> Json<Value> {
    let base = &app.public_url;
    Json(json!({
        "issuer": base.to_string(),
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "registration_endpoint": format!("{base}/oauth/register"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "scopes_supported": scopes_supported(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
        "authorization_response_iss_parameter_supported": true,
        "service_documentation": format!("{base}/docs"),
    }))
}

/// RFC 9728: `/api/mcp` is protected by this server.
async fn protected_resource(State(app): State<AppState>) -> Json<Value> {
    let base = &app.public_url;
    Json(json!({
        "resource": super::resource(base),
        "authorization_servers": [base.to_string()],
        "scopes_supported": scopes_supported(),
        "bearer_methods_supported": ["header"],
        "resource_name": "KaiCalls MCP server",
        "resource_documentation": format!("{base}/docs"),
    }))
}

#[derive(Deserialize)]
struct Registration {
    redirect_uris: Option<Vec<String>>,
    client_name: Option<String>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    scope: Option<String>,
}

const MAX_REDIRECT_URIS: usize = 10;
/// Registrations one address may make an hour (a client registers once per install).
const MAX_REGISTRATIONS_PER_IP: usize = 30;
const MAX_URI_LEN: usize = 2000;

/// RFC 7591 dynamic registration.
async fn register(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    body: axum::body::Bytes,
) -> Response {
    let now = app.clock.now();
    if let Err(retry) = app
        .login_throttle
        .check_hourly("r", &ip, MAX_REGISTRATIONS_PER_IP, now)
    {
        let mut response = oauth_error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "Too many client registrations from this address: try again later",
        );
        if let Ok(value) = HeaderValue::from_str(&retry.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let invalid = |description: &str| {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            description,
        )
    };
    let Ok(reg) = serde_json::from_slice::<Registration>(&body) else {
        return invalid("The body must be a JSON object of client metadata (RFC 7591)");
    };
    let uris = reg.redirect_uris.unwrap_or_default();
    if uris.is_empty() || uris.len() > MAX_REDIRECT_URIS {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            "redirect_uris must list 1 to 10 URIs",
        );
    }
    for uri in &uris {
        if uri.len() > MAX_URI_LEN {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_redirect_uri",
                "A redirect URI is at most 2000 characters",
            );
        }
        if let Err(why) = super::redirect_uri_allowed(uri) {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_redirect_uri", &why);
        }
    }
    let method = reg
        .token_endpoint_auth_method
        .unwrap_or_else(|| "client_secret_basic".into());
    if !matches!(
        method.as_str(),
        "none" | "client_secret_post" | "client_secret_basic"
    ) {
        return invalid(
            "token_endpoint_auth_method must be none, client_secret_post or client_secret_basic",
        );
    }
    let grant_types = reg
        .grant_types
        .unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()]);
    if grant_types
        .iter()
        .any(|g| g != "authorization_code" && g != "refresh_token")
    {
        return invalid("grant_types may hold authorization_code and refresh_token only");
    }
    let response_types = reg.response_types.unwrap_or_else(|| vec!["code".into()]);
    if response_types.iter().any(|r| r != "code") {
        return invalid("response_types may hold code only");
    }
    if let Err(why) = super::parse_scopes(reg.scope.as_deref()) {
        return invalid(&why);
    }
    let name: String = reg
        .client_name
        .unwrap_or_else(|| "MCP client".into())
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let new = super::NewClient {
        name: &name,
        redirect_uris: &uris,
        auth_method: &method,
    };
    let (client, secret) = match super::register(&app.store, now, &new).await {
        Ok(done) => {
            app.login_throttle.record_hourly("r", &ip, now);
            done
        }
        Err(err) => {
            tracing::error!(error = %err, "registering an OAuth client failed");
            return oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "Try again",
            );
        }
    };
    let mut out = json!({
        "client_id": client.id,
        "client_id_issued_at": client.created_at.micros() / 1_000_000,
        "client_name": client.name,
        "redirect_uris": client.redirect_uris,
        "grant_types": grant_types,
        "response_types": response_types,
        "token_endpoint_auth_method": client.auth_method,
    });
    if let Some(scope) = reg.scope {
        out["scope"] = json!(scope);
    }
    if let Some(secret) = secret {
        out["client_secret"] = json!(secret);
        out["client_secret_expires_at"] = json!(0);
    }
    no_store((StatusCode::CREATED, Json(out)).into_response())
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    resource: Option<String>,
    scope: Option<String>,
    token: Option<String>,
}

/// The client of a token or revocation request, authenticated by its registered
/// method: a secret in the Basic header or the form, or none for a public client.
async fn authenticate_client(
    app: &AppState,
    headers: &HeaderMap,
    form: &TokenForm,
) -> Result<Client, Response> {
    let unauthorized = |description: &str| {
        let mut response = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description);
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Basic realm="kaicalls""#),
        );
        response
    };
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((decode(id)?, decode(secret)?))
        });
    let (client_id, secret) = match (&basic, &form.client_id) {
        (Some((id, secret)), _) => (id.clone(), Some(secret.clone())),
        (None, Some(id)) => (id.clone(), form.client_secret.clone()),
        (None, None) => return Err(unauthorized("client_id is required")),
    };
    let client = match super::client(&app.store, &client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => return Err(unauthorized("Unknown client")),
        Err(err) => {
            tracing::error!(error = %err, "reading an OAuth client failed");
            return Err(oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "Try again",
            ));
        }
    };
    if !client.secret_matches(secret.as_deref()) {
        return Err(unauthorized("Client authentication failed"));
    }
    Ok(client)
}

async fn read_form(body: &[u8]) -> Result<TokenForm, Response> {
    serde_urlencoded::from_bytes(body).map_err(|_| {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The body must be application/x-www-form-urlencoded",
        )
    })
}

/// The token endpoint: `authorization_code` and `refresh_token` grants.
async fn token(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form = match read_form(&body).await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let client = match authenticate_client(&app, &headers, &form).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    let now = app.clock.now();
    let access_secs = app.mcp.access_token_secs;
    let issued = match form.grant_type.as_deref() {
        Some("authorization_code") => {
            let Some(code) = form.code.as_deref() else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "code is required",
                );
            };
            let exchange = super::CodeExchange {
                client: &client,
                code,
                redirect_uri: form.redirect_uri.as_deref(),
                code_verifier: form.code_verifier.as_deref(),
                resource: form.resource.as_deref(),
            };
            super::exchange_code(&app.store, now, access_secs, &exchange).await
        }
        Some("refresh_token") => {
            let Some(refresh) = form.refresh_token.as_deref() else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is required",
                );
            };
            if let Some(scope) = form.scope.as_deref() {
                if super::parse_scopes(Some(scope)).is_err() {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", "Unknown scope");
                }
            }
            super::refresh(&app.store, now, access_secs, &client, refresh).await
        }
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token",
            )
        }
    };
    match issued {
        Ok(tokens) => no_store(
            Json(json!({
                "access_token": tokens.access_token,
                "token_type": "Bearer",
                "expires_in": tokens.expires_in,
                "refresh_token": tokens.refresh_token,
                "scope": tokens.scope,
            }))
            .into_response(),
        ),
        Err(err) => match err.downcast::<TokenError>() {
            Ok(refused) => {
                oauth_error(StatusCode::BAD_REQUEST, refused.error, &refused.description)
            }
            Err(err) => {
                tracing::error!(error = %err, "issuing OAuth tokens failed");
                oauth_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "Try again",
                )
            }
        },
    }
}

/// RFC 7009: the grant behind the token is revoked; unknown tokens answer 200 too.
async fn revoke(State(app): State<AppState>, body: axum::body::Bytes) -> Response {
    let form = match read_form(&body).await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let Some(token) = form.token.as_deref() else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        );
    };
    match super::revoke_token(&app.store, token, app.clock.now()).await {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(err) => {
            tracing::error!(error = %err, "revoking an OAuth token failed");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "Try again",
            )
        }
    }
}

/// The scopes a grant holds, for display.
pub fn scope_list(scopes: &[Scope]) -> Vec<(&'static str, &'static str)> {
    scopes
        .iter()
        .map(|s| (s.as_str(), super::describe(*s)))
        .collect()
}
