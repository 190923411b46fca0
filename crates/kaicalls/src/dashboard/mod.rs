//! The dashboard: server-rendered pages (maud) with a little hand-written JavaScript
//! (`assets/app.js`: live refresh from the event stream, copy buttons, confirmations,
//! CSV files), all embedded in the binary.
//!
//! The dashboard is a client of the API, in process: each page asks the same handlers
//! the HTTP API serves (`Ctx::api`), through a router built from `http::api_routes`
//! without the network-facing layers, acting as the signed-in user — a key-shaped
//! principal with every scope, for the businesses the user owns and the mode the
//! dashboard shows (the `kc_mode` cookie; test by default). Tenancy, validation and
//! errors are therefore exactly the API's; the dashboard only renders them. Sign-in
//! is the session of `auth::sessions`; the authentication middleware in front refuses
//! every cross-site unsafe request (so every form post here) before a page runs.

mod assets;
mod campaigns;
mod consent;
mod inbound;
mod pages;
mod render;

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::Value;

use crate::app::AppState;
use crate::auth::api_key::Mode;
use crate::auth::scope::{Scope, Scopes};
use crate::auth::{AuthOutcome, KeyPrincipal, SessionPrincipal, Tenant};
pub use crate::http::local::Answer;
use crate::http::local::{LocalApi, LocalRequest};

pub const MODE_COOKIE: &str = "kc_mode";

pub fn routes(state: AppState) -> Router<AppState> {
    let api = LocalApi::new(state);
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/signup", get(pages::signup_page).post(pages::signup))
        .route("/login", get(pages::login_page).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/dashboard", get(pages::overview))
        .route("/dashboard/mode", post(pages::switch_mode))
        .route(
            "/dashboard/calls",
            get(pages::calls).post(pages::place_call),
        )
        .route("/dashboard/calls/new", get(pages::new_call))
        .route("/dashboard/calls/{id}", get(pages::call))
        .route("/dashboard/calls/{id}/end", post(pages::end_call))
        .route("/dashboard/events/{id}/resend", post(pages::resend))
        .route("/dashboard/keys", get(pages::keys).post(pages::create_key))
        .route("/dashboard/keys/{id}/revoke", post(pages::revoke_key))
        .route(
            "/dashboard/webhooks",
            get(pages::webhooks).post(pages::create_webhook),
        )
        .route("/dashboard/webhooks/secret", post(pages::rotate_secret))
        .route("/dashboard/webhooks/{id}/test", post(pages::test_webhook))
        .route(
            "/dashboard/webhooks/{id}/delete",
            post(pages::delete_webhook),
        )
        .route(
            "/dashboard/agents",
            get(pages::agents).post(pages::save_agent),
        )
        .route("/dashboard/agents/{id}", get(pages::agent))
        .route("/dashboard/numbers", post(pages::assign_number))
        .route("/dashboard/leads", get(pages::leads).post(pages::save_lead))
        .route("/dashboard/leads/import", post(pages::import_leads))
        .route("/dashboard/leads/{id}", get(pages::lead))
        .route("/dashboard/settings", get(pages::settings))
        .route("/dashboard/settings/password", post(pages::change_password))
        .route(
            "/dashboard/settings/sessions/{id}/end",
            post(pages::end_session),
        )
        .route("/dashboard/apps/{id}/revoke", post(consent::revoke_app))
        .route(
            "/dashboard/campaigns",
            get(campaigns::list).post(campaigns::create),
        )
        .route("/dashboard/campaigns/{id}", get(campaigns::detail))
        .route(
            "/dashboard/campaigns/{id}/{action}",
            post(campaigns::action),
        )
        .route("/dashboard/inbound", get(inbound::inbound))
        .route("/dashboard/inbound/ring", post(inbound::ring))
        .route("/dashboard/inbound/alerts", post(inbound::save_alerts))
        .route("/dashboard/dnc", get(pages::dnc).post(pages::add_dnc))
        .route("/dashboard/dnc/remove", post(pages::remove_dnc))
        .route(
            "/oauth/authorize",
            get(consent::authorize_page).post(consent::authorize_decision),
        )
        .route("/dashboard/assets/{file}", get(assets::serve))
        .layer(Extension(api))
}

/// Headers every page carries: nothing from elsewhere runs, nobody frames us.
pub fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A signed-in dashboard request: the user's session, the mode shown, and the API.
pub struct Ctx {
    pub app: AppState,
    pub session: Arc<SessionPrincipal>,
    pub mode: Mode,
    pub email: String,
    /// The path and query of this page (where the mode switch returns to).
    pub here: String,
    api: LocalApi,
}

/// Not signed in: to the sign-in page, coming back here afterwards.
pub struct ToLogin(String);

impl IntoResponse for ToLogin {
    fn into_response(self) -> Response {
        let next = url::form_urlencoded::byte_serialize(self.0.as_bytes()).collect::<String>();
        Redirect::to(&format!("/login?next={next}")).into_response()
    }
}

fn mode_of(headers: &HeaderMap) -> Mode {
    let value = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == MODE_COOKIE)
        .map(|(_, v)| v.to_string());
    match value.as_deref() {
        Some("live") => Mode::Live,
        _ => Mode::Test,
    }
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let here = parts
            .uri
            .path_and_query()
            .map_or_else(|| "/dashboard".to_string(), |p| p.as_str().to_string());
        let Some(AuthOutcome::Session(session)) = parts.extensions.get::<AuthOutcome>().cloned()
        else {
            // A form post without a session is refused outright; a page asks to sign in.
            if parts.method != Method::GET {
                return Err(render::error_page(
                    StatusCode::UNAUTHORIZED,
                    "Sign in first",
                    "Your session has ended. Sign in again to continue.",
                ));
            }
            return Err(ToLogin(here).into_response());
        };
        let api = parts
            .extensions
            .get::<LocalApi>()
            .expect("the dashboard's routes carry the API")
            .clone();
        let email: String = sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
            .bind(&session.tenant.user_id)
            .fetch_one(app.store.reader())
            .await
            .map_err(|e| crate::error::ApiError::from(e).into_response())?;
        Ok(Ctx {
            app: app.clone(),
            mode: mode_of(&parts.headers),
            session,
            email,
            here,
            api,
        })
    }
}

impl Ctx {
    /// The tenant the dashboard shows: the user's businesses, in the mode shown.
    pub fn tenant(&self) -> Tenant {
        Tenant {
            mode: self.mode,
            ..self.session.tenant.clone()
        }
    }

    /// `method /api/v1{path}` acting as the signed-in user in the mode shown.
    pub async fn api(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let principal = KeyPrincipal {
            key_id: format!("session:{}", self.session.session_id),
            key_business_id: None,
            scopes: Scopes::new(vec![Scope::All]),
            tenant: self.tenant(),
        };
        self.send(method, path, body, AuthOutcome::Key(Arc::new(principal)))
            .await
    }

    /// `method /api/v1{path}` with the session itself (key management, sessions).
    pub async fn api_as_session(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.send(
            method,
            path,
            body,
            AuthOutcome::Session(self.session.clone()),
        )
        .await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        outcome: AuthOutcome,
    ) -> Answer {
        self.api
            .send(&self.app, outcome, LocalRequest::new(method, path, body))
            .await
    }
}

/// A form's fields in order, for forms with repeated names (checkboxes).
#[derive(serde::Deserialize)]
#[serde(transparent)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, trimmed; `None` when absent or empty.
    pub fn one(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// Every value of `name` (the ticked checkboxes).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A form body, decoded; a malformed one is the user's error, shown as a page.
pub struct Form<T>(pub T);

impl<T: serde::de::DeserializeOwned> axum::extract::FromRequest<AppState> for Form<T> {
    type Rejection = Response;

    async fn from_request(req: Request, _: &AppState) -> Result<Self, Response> {
        let bytes = axum::body::to_bytes(req.into_body(), crate::http::BODY_LIMIT)
            .await
            .map_err(|_| {
                render::error_page(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Too large",
                    "That form is over 1 MiB.",
                )
            })?;
        serde_urlencoded::from_bytes(&bytes).map(Form).map_err(|e| {
            render::error_page(
                StatusCode::BAD_REQUEST,
                "That form could not be read",
                &e.to_string(),
            )
        })
    }
}
