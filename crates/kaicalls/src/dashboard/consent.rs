//! OAuth's authorization endpoint as a dashboard page (`/oauth/authorize`): the
//! signed-in user sees which app asks, for which scopes, picks one business and a
//! mode, and allows or denies. Allowing records the grant and redirects back with a
//! one-time code (`oauth::issue_code`). Also the "Connected apps" list of the
//! settings page, where a grant is revoked.
//!
//! Until the client and its redirect URI are known good, errors are shown here (never
//! redirected to an unverified URI, RFC 6749 §4.1.2.1); after, they go back to the
//! client as `?error=`.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::render::{self, page, time};
use super::{Ctx, Form};
use crate::auth::api_key::Mode;
use crate::auth::scope::Scope;
use crate::oauth;

#[derive(Deserialize, Default, Clone)]
pub struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    state: Option<String>,
    scope: Option<String>,
    resource: Option<String>,
    // The consent form's own fields.
    business_id: Option<String>,
    mode: Option<String>,
    decision: Option<String>,
}

/// An authorization request that passed every check.
struct Valid {
    client: oauth::Client,
    redirect_uri: String,
    code_challenge: String,
    scopes: Vec<Scope>,
    resource: String,
    state: Option<String>,
}

/// `redirect_uri` with the given parameters added (and `iss`, RFC 9207).
fn back_to(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return render::error_page(
            StatusCode::BAD_REQUEST,
            "Bad redirect",
            "The app's redirect URI is not a URL.",
        );
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in pairs {
            query.append_pair(name, value);
        }
    }
    Redirect::to(url.as_str()).into_response()
}

fn refuse(valid_uri: &str, state: Option<&str>, error: &str, description: &str) -> Response {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    back_to(valid_uri, &pairs)
}

async fn validate(app: &crate::app::AppState, p: &AuthorizeParams) -> Result<Valid, Response> {
    let page_error = |message: &str| {
        render::error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in link is not valid",
            message,
        )
    };
    let Some(client_id) = p.client_id.as_deref().filter(|c| !c.is_empty()) else {
        return Err(page_error("The request names no client_id."));
    };
    let client = match oauth::client(&app.store, client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => return Err(page_error("The app is not registered with KaiCalls.")),
        Err(err) => {
            tracing::error!(error = %err, "reading an OAuth client failed");
            return Err(render::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Try again.",
            ));
        }
    };
    let redirect_uri = match p.redirect_uri.as_deref() {
        Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => uri.to_string(),
        Some(_) => {
            return Err(page_error(
                "The redirect URI is not one the app registered.",
            ))
        }
        None => match client.redirect_uris.as_slice() {
            [only] => only.clone(),
            _ => return Err(page_error("The request names no redirect_uri.")),
        },
    };
    let state = p.state.clone().filter(|s| !s.is_empty());
    let fail = |error: &str, description: &str| {
        refuse(&redirect_uri, state.as_deref(), error, description)
    };
    if p.response_type.as_deref() != Some("code") {
        return Err(fail(
            "unsupported_response_type",
            "response_type must be code",
        ));
    }
    let challenge = p.code_challenge.clone().unwrap_or_default();
    if p.code_challenge_method.as_deref() != Some("S256") || !oauth::valid_pkce_value(&challenge) {
        return Err(fail(
            "invalid_request",
            "PKCE is required: code_challenge with code_challenge_method=S256",
        ));
    }
    if state.as_ref().is_some_and(|s| s.len() > 1024) {
        return Err(fail("invalid_request", "state is at most 1024 characters"));
    }
    let scopes = match oauth::parse_scopes(p.scope.as_deref()) {
        Ok(scopes) => scopes,
        Err(why) => return Err(fail("invalid_scope", &why)),
    };
    let resource = oauth::resource(&app.public_url);
    if let Some(asked) = p.resource.as_deref().filter(|r| !r.is_empty()) {
        if asked.trim_end_matches('/') != resource {
            return Err(fail(
                "invalid_target",
                &format!("This server grants access to {resource} only"),
            ));
        }
    }
    Ok(Valid {
        client,
        redirect_uri,
        code_challenge: challenge,
        scopes,
        resource,
        state,
    })
}

/// `GET /oauth/authorize`: the consent page (signing in first if need be).
pub async fn authorize_page(
    ctx: Result<Ctx, Response>,
    Query(p): Query<AuthorizeParams>,
) -> Response {
    let app_state;
    let ctx = match ctx {
        Ok(ctx) => ctx,
        Err(to_login) => return to_login,
    };
    app_state = ctx.app.clone();
    let valid = match validate(&app_state, &p).await {
        Ok(valid) => valid,
        Err(response) => return response,
    };
    let businesses =
        match crate::tenancy::businesses(&ctx.app.store, &ctx.session.tenant.business_ids).await {
            Ok(b) => b,
            Err(err) => return crate::error::ApiError::from(err).into_response(),
        };
    let host = url::Url::parse(&valid.redirect_uri)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(str::to_string)
                .or_else(|| Some(u.scheme().to_string()))
        })
        .unwrap_or_default();
    let hidden = [
        ("response_type", Some("code".to_string())),
        ("client_id", Some(valid.client.id.clone())),
        ("redirect_uri", Some(valid.redirect_uri.clone())),
        ("code_challenge", Some(valid.code_challenge.clone())),
        ("code_challenge_method", Some("S256".to_string())),
        ("state", valid.state.clone()),
        ("scope", Some(oauth::scope_string(&valid.scopes))),
        ("resource", Some(valid.resource.clone())),
    ];
    let body = html! {
        section.card aria-labelledby="consent-h" {
            h2 id="consent-h" { "Connect " (valid.client.name) " to KaiCalls?" }
            p { strong { (valid.client.name) } " (returning to " code { (host) } ") asks to act for one of your businesses through the MCP server:" }
            ul id="consent-scopes" {
                @for (name, what) in oauth::routes::scope_list(&valid.scopes) {
                    li { (what) " " code { (name) } }
                }
            }
            @if valid.scopes.contains(&Scope::CallsWrite) {
                p.warning { "In live mode this app can ring real phones, and the calls are billed." }
            }
            form.stack method="post" action="/oauth/authorize" {
                @for (name, value) in &hidden {
                    @if let Some(value) = value {
                        input type="hidden" name=(name) value=(value);
                    }
                }
                fieldset {
                    legend { "Business" }
                    @for (i, b) in businesses.iter().enumerate() {
                        label { input type="radio" name="business_id" value=(b.id) checked[i == 0] required; " " (b.name) }
                    }
                }
                fieldset {
                    legend { "Mode" }
                    label { input type="radio" name="mode" value="test" checked; " Test (simulated calls, free)" }
                    label { input type="radio" name="mode" value="live"; " Live (real calls)" }
                }
                div.actions {
                    button type="submit" name="decision" value="allow" { "Allow" }
                    button.secondary type="submit" name="decision" value="deny" { "Deny" }
                }
            }
        }
    };
    page(&ctx, "Connect an app", body)
}

/// `POST /oauth/authorize`: the user's decision.
pub async fn authorize_decision(
    ctx: Result<Ctx, Response>,
    Form(p): Form<AuthorizeParams>,
) -> Response {
    let ctx = match ctx {
        Ok(ctx) => ctx,
        Err(refused) => return refused,
    };
    let valid = match validate(&ctx.app, &p).await {
        Ok(valid) => valid,
        Err(response) => return response,
    };
    let state = valid.state.as_deref();
    if p.decision.as_deref() != Some("allow") {
        return refuse(
            &valid.redirect_uri,
            state,
            "access_denied",
            "The user did not allow access",
        );
    }
    let Some(business_id) = p
        .business_id
        .as_deref()
        .filter(|b| ctx.session.tenant.owns(b))
    else {
        return render::error_page(
            StatusCode::FORBIDDEN,
            "Pick one of your businesses",
            "The business chosen is not one of yours.",
        );
    };
    let mode = match p.mode.as_deref().and_then(Mode::parse) {
        Some(mode) => mode,
        None => {
            return render::error_page(
                StatusCode::BAD_REQUEST,
                "Pick a mode",
                "Choose test or live.",
            )
        }
    };
    let consent = oauth::Consent {
        client_id: &valid.client.id,
        user_id: &ctx.session.tenant.user_id,
        business_id,
        mode,
        scopes: &valid.scopes,
        resource: &valid.resource,
        redirect_uri: &valid.redirect_uri,
        code_challenge: &valid.code_challenge,
    };
    let code = match oauth::issue_code(&ctx.app.store, ctx.app.clock.now(), &consent).await {
        Ok(code) => code,
        Err(err) => return crate::error::ApiError::from(err).into_response(),
    };
    let issuer = ctx.app.public_url.to_string();
    let mut pairs = vec![("code", code.as_str()), ("iss", issuer.as_str())];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    back_to(&valid.redirect_uri, &pairs)
}

/// The settings page's "Connected apps": grants in force, each revocable.
pub async fn connected_apps(ctx: &Ctx) -> Markup {
    let grants = oauth::grants_of_user(&ctx.app.store, &ctx.session.tenant.user_id)
        .await
        .unwrap_or_else(|err| {
            tracing::error!(error = %err, "listing OAuth grants failed");
            Vec::new()
        });
    html! {
        section.card aria-labelledby="apps-h" {
            h2 id="apps-h" { "Connected apps" }
            @if grants.is_empty() {
                p { "No app is connected. MCP clients that sign in with OAuth show here." }
            } @else {
                div.table-wrap { table id="apps" {
                    thead { tr { th scope="col" { "App" } th scope="col" { "Business" } th scope="col" { "Mode" } th scope="col" { "Scopes" } th scope="col" { "Connected" } th scope="col" { "Last used" } th scope="col" { span.visually-hidden { "Actions" } } } }
                    tbody {
                        @for g in &grants {
                            tr {
                                td { (g.client_name) }
                                td { (g.business_name) }
                                td { (g.mode) }
                                td { code { (g.scopes) } }
                                td { (time(&serde_json::json!(g.created_at.to_rfc3339()))) }
                                td { @match g.last_used_at { Some(t) => (time(&serde_json::json!(t.to_rfc3339()))), None => "never" } }
                                td {
                                    form.inline method="post" action=(format!("/dashboard/apps/{}/revoke", g.id)) data-confirm="Disconnect this app? Its tokens stop working at once." {
                                        button.danger type="submit" { "Disconnect" }
                                    }
                                }
                            }
                        }
                    }
                } }
            }
        }
    }
}

/// `POST /dashboard/apps/{id}/revoke`.
pub async fn revoke_app(ctx: Ctx, Path(id): Path<String>) -> Response {
    match oauth::revoke_grant(
        &ctx.app.store,
        &ctx.session.tenant.user_id,
        &id,
        ctx.app.clock.now(),
    )
    .await
    {
        Ok(true) => super::pages::see_other("/dashboard/settings?notice=app_revoked"),
        Ok(false) => {
            render::error_page(StatusCode::NOT_FOUND, "Not found", "No such connected app.")
        }
        Err(err) => crate::error::ApiError::from(err).into_response(),
    }
}
