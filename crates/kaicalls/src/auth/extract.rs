//! Extractors that demand an authenticated caller. `Auth<S>` requires an API key
//! holding scope `S`; `AnyKey` any valid key; `SessionAuth` a dashboard session.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::scope::Scope;
use super::{AuthOutcome, KeyPrincipal, SessionPrincipal};
use crate::error::ApiError;

/// A scope a handler requires, as a type: `Auth<CallsWrite>`.
pub trait RequiredScope {
    const SCOPE: Scope;
}

macro_rules! scope_markers {
    ($($name:ident => $scope:ident),* $(,)?) => {
        $(
            pub struct $name;
            impl RequiredScope for $name {
                const SCOPE: Scope = Scope::$scope;
            }
        )*
    };
}

scope_markers! {
    AgentsRead => AgentsRead,
    AgentsWrite => AgentsWrite,
    NumbersRead => NumbersRead,
    NumbersWrite => NumbersWrite,
    CallsRead => CallsRead,
    CallsWrite => CallsWrite,
    LeadsRead => LeadsRead,
    LeadsWrite => LeadsWrite,
    WebhooksRead => WebhooksRead,
    WebhooksWrite => WebhooksWrite,
    EventsRead => EventsRead,
    EventsReplay => EventsReplay,
    CampaignsRead => CampaignsRead,
    CampaignsWrite => CampaignsWrite,
    ComplianceRead => ComplianceRead,
    ComplianceWrite => ComplianceWrite,
}

fn outcome(parts: &Parts) -> AuthOutcome {
    parts
        .extensions
        .get::<AuthOutcome>()
        .cloned()
        .unwrap_or(AuthOutcome::Anonymous)
}

fn require_key(parts: &Parts) -> Result<Arc<KeyPrincipal>, ApiError> {
    match outcome(parts) {
        AuthOutcome::Key(key) => Ok(key),
        AuthOutcome::Rejected(why) => Err(ApiError::unauthorized(why)),
        AuthOutcome::Anonymous | AuthOutcome::Session(_) => Err(ApiError::unauthorized(
            "Missing API key: send 'Authorization: Bearer kc_live_…'",
        )),
    }
}

/// An API key holding scope `S`.
pub struct Auth<S: RequiredScope>(pub Arc<KeyPrincipal>, PhantomData<S>);

impl<S: RequiredScope> std::ops::Deref for Auth<S> {
    type Target = KeyPrincipal;
    fn deref(&self) -> &KeyPrincipal {
        &self.0
    }
}

impl<S: RequiredScope, St: Send + Sync> FromRequestParts<St> for Auth<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, ApiError> {
        let key = require_key(parts)?;
        if !key.scopes.allows(S::SCOPE) {
            return Err(ApiError::Forbidden(format!(
                "This API key lacks the '{}' scope",
                S::SCOPE
            )));
        }
        Ok(Auth(key, PhantomData))
    }
}

/// Any valid API key, whatever its scopes (`/balance`, `/usage`).
pub struct AnyKey(pub Arc<KeyPrincipal>);

impl<St: Send + Sync> FromRequestParts<St> for AnyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, ApiError> {
        require_key(parts).map(AnyKey)
    }
}

/// A dashboard session; an API key is refused (key management needs a login).
pub struct SessionAuth(pub Arc<SessionPrincipal>);

impl<St: Send + Sync> FromRequestParts<St> for SessionAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, ApiError> {
        match outcome(parts) {
            AuthOutcome::Session(session) => Ok(SessionAuth(session)),
            AuthOutcome::Key(_) => {
                let path = parts
                    .extensions
                    .get::<axum::extract::OriginalUri>()
                    .map_or_else(|| parts.uri.path(), |o| o.0.path());
                Err(ApiError::unauthorized(format!(
                    "{} {path} needs a dashboard session (POST /api/v1/auth/login), not an API key",
                    parts.method
                )))
            }
            AuthOutcome::Rejected(why) => Err(ApiError::unauthorized(why)),
            AuthOutcome::Anonymous => Err(ApiError::unauthorized(
                "Log in first: POST /api/v1/auth/login",
            )),
        }
    }
}

/// An API key holding scope `S`, or a dashboard session (which may do what the
/// dashboard shows: the live event stream).
pub enum KeyOrSession<S: RequiredScope> {
    Key(Auth<S>),
    Session(Arc<SessionPrincipal>),
}

impl<S: RequiredScope> KeyOrSession<S> {
    pub fn tenant(&self) -> &super::Tenant {
        match self {
            KeyOrSession::Key(key) => &key.tenant,
            KeyOrSession::Session(session) => &session.tenant,
        }
    }

    pub fn is_session(&self) -> bool {
        matches!(self, KeyOrSession::Session(_))
    }
}

impl<S: RequiredScope, St: Send + Sync> FromRequestParts<St> for KeyOrSession<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, ApiError> {
        match outcome(parts) {
            AuthOutcome::Session(session) => Ok(KeyOrSession::Session(session)),
            _ => Auth::<S>::from_request_parts(parts, state)
                .await
                .map(KeyOrSession::Key),
        }
    }
}
