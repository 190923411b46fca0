//! Who is calling. The [`middleware::authenticate`] layer resolves the credentials of
//! every request once (API key or dashboard session) into an [`AuthOutcome`]; handlers
//! then take an extractor from [`extract`] that demands what they need (a key with a
//! given scope, any key, or a session), so a handler cannot forget to check.

pub mod account;
pub mod api_key;
pub mod extract;
pub mod key_cache;
pub mod middleware;
pub mod password;
pub mod scope;
pub mod sessions;

use std::sync::Arc;

use api_key::Mode;
use scope::Scopes;

/// The businesses (and call mode) a caller may see. Every tenant-scoped query takes
/// one, so there is no query path that forgets to filter.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub user_id: String,
    /// Non-empty for a key scoped to one business; otherwise all of the user's.
    pub business_ids: Vec<String>,
    pub mode: Mode,
}

impl Tenant {
    pub fn owns(&self, business_id: &str) -> bool {
        self.business_ids.iter().any(|b| b == business_id)
    }

    /// The businesses a list reads: the one asked for (404 when not the tenant's),
    /// else all of the tenant's.
    pub fn narrowed_to(
        &self,
        requested: Option<&str>,
    ) -> Result<Vec<String>, crate::error::ApiError> {
        match requested.map(str::trim).filter(|b| !b.is_empty()) {
            Some(b) if self.owns(b) => Ok(vec![b.to_string()]),
            Some(_) => Err(crate::error::ApiError::not_found("Business")),
            None => Ok(self.business_ids.clone()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct KeyPrincipal {
    pub key_id: String,
    /// The key's own business restriction (`business_id` on the key), if any.
    pub key_business_id: Option<String>,
    pub scopes: Scopes,
    pub tenant: Tenant,
}

#[derive(Debug, Clone)]
pub struct SessionPrincipal {
    pub session_id: String,
    pub tenant: Tenant,
}

/// The result of authenticating a request, stored in its extensions.
#[derive(Debug, Clone)]
pub enum AuthOutcome {
    Anonymous,
    Key(Arc<KeyPrincipal>),
    Session(Arc<SessionPrincipal>),
    /// Credentials were presented but are not valid; the message says why.
    Rejected(&'static str),
}

impl Tenant {
    /// The business a new object goes to: the one asked for (if the caller owns it,
    /// else 404), or the caller's only business.
    pub fn resolve_business(
        &self,
        requested: Option<&str>,
    ) -> Result<String, crate::error::ApiError> {
        use crate::error::ApiError;
        match requested.map(str::trim).filter(|b| !b.is_empty()) {
            Some(b) if self.owns(b) => Ok(b.to_string()),
            Some(_) => Err(ApiError::not_found("Business")),
            None => match self.business_ids.as_slice() {
                [only] => Ok(only.clone()),
                [] => Err(ApiError::not_found("Business")),
                _ => Err(ApiError::invalid(
                    "business_id",
                    "business_id is required when the key can see several businesses",
                )),
            },
        }
    }
}
