//! `GET /api/v1/recordings?call_id=` (a fresh signed link, calls:read) and
//! `GET /recordings/{call_id}.wav?expires=&sig=` (the audio; the signature is the
//! credential, so the link can be handed to a player).

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{render_simulated, SIMULATED};
use crate::app::AppState;
use crate::auth::extract::{Auth, CallsRead};
use crate::calls::repo;
use crate::clock::Timestamp;
use crate::error::{ApiError, ApiResult};
use crate::http::json::{require, Json, Query};
use crate::usage::UsageCallId;

#[derive(Deserialize)]
pub struct InfoQuery {
    call_id: Option<String>,
}

/// `GET /api/v1/recordings?call_id=`.
#[derive(Serialize, JsonSchema)]
pub struct Recording {
    pub call_id: String,
    /// `available`, `processing` (being copied), `pending` (the call is not over) or
    /// `unavailable`.
    pub status: &'static str,
    /// A signed link, valid until `expires_at`.
    pub recording_url: Option<String>,
    pub expires_at: Option<Timestamp>,
    pub duration: Option<i64>,
}

pub async fn info(
    State(app): State<AppState>,
    auth: Auth<CallsRead>,
    Query(q): Query<InfoQuery>,
) -> ApiResult<Response> {
    let id = require("call_id", q.call_id.as_deref())?;
    let call = repo::get(&app.store, &auth.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Call"))?;
    let (status, link) = match (&call.recording_source, &call.recording_key) {
        (Some(_), Some(_)) => ("available", Some(app.links.sign(&call.id, app.clock.now()))),
        (Some(source), None) if source == SIMULATED => {
            ("available", Some(app.links.sign(&call.id, app.clock.now())))
        }
        (Some(_), None) => ("processing", None),
        (None, _) if call.status.is_terminal() => ("unavailable", None),
        (None, _) => ("pending", None),
    };
    let (recording_url, expires_at) = link.unzip();
    let mut response = Json(Recording {
        call_id: call.id.clone(),
        status,
        recording_url,
        expires_at,
        duration: call.duration,
    })
    .into_response();
    response.extensions_mut().insert(UsageCallId(call.id));
    Ok(response)
}

#[derive(Deserialize)]
pub struct LinkQuery {
    expires: Option<String>,
    sig: Option<String>,
}

pub async fn audio(
    State(app): State<AppState>,
    Path(file): Path<String>,
    Query(q): Query<LinkQuery>,
) -> ApiResult<Response> {
    let refused = || ApiError::Forbidden("This recording link is invalid or has expired".into());
    let id = file.strip_suffix(".wav").ok_or_else(refused)?;
    let expires: i64 = q
        .expires
        .as_deref()
        .and_then(|e| e.parse().ok())
        .ok_or_else(refused)?;
    let sig = q.sig.as_deref().unwrap_or("");
    if !app.links.verify(id, expires, sig, app.clock.now()) {
        return Err(refused());
    }
    let mut conn = app.store.pool.acquire().await?;
    let call = repo::get_by_id(&mut conn, id).await?;
    drop(conn);
    let call = call.ok_or_else(|| ApiError::not_found("Recording"))?;
    let audio = match (&call.recording_key, &call.recording_source) {
        (Some(key), _) => app.recordings.get(key).await?,
        // Rendered on demand until the copy job has stored it.
        (None, Some(source)) if source == SIMULATED => Some(render_simulated(&call)),
        // The provider's, streamed through until our copy lands: a link we hand
        // out works the moment we hand it out.
        (None, Some(source)) => match app.recordings.fetch(source).await {
            Ok(audio) => Some(audio),
            Err(err) => {
                tracing::warn!(call = %call.id, error = %format!("{err:#}"), "fetching the provider's recording failed");
                None
            }
        },
        _ => None,
    };
    let audio = audio.ok_or_else(|| ApiError::not_found("Recording (still being processed)"))?;
    Ok(([(header::CONTENT_TYPE, "audio/wav")], audio).into_response())
}
