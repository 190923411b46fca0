//! `GET /api/v1/voicemails` (calls:read) and `POST /api/v1/sandbox/inbound-calls`
//! (calls:write, test keys only).

use axum::extract::State;
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Ring, Voicemail, VOICEMAIL_COLUMNS};
use crate::app::AppState;
use crate::auth::api_key::Mode;
use crate::auth::extract::{Auth, CallsRead, CallsWrite};
use crate::calls::CallSummary;
use crate::clock::Timestamp;
use crate::error::{ApiError, ApiResult};
use crate::http::json::{parse_limit, parse_time, require, Json, Query};
use crate::phone::E164;
use crate::store::sql::Sql;

#[derive(Deserialize)]
pub struct VoicemailQuery {
    business_id: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

/// A page of voicemails, newest first.
#[derive(Serialize, JsonSchema)]
pub struct VoicemailList {
    pub voicemails: Vec<Voicemail>,
    pub has_more: bool,
}

/// `GET /api/v1/voicemails`: the messages callers left, with what they said, the
/// summary and a signed link to the recording.
pub async fn list(
    State(app): State<AppState>,
    auth: Auth<CallsRead>,
    Query(q): Query<VoicemailQuery>,
) -> ApiResult<Json<VoicemailList>> {
    let limit = parse_limit(q.limit.as_deref(), 50, 100)?;
    let before = parse_time("after", q.after.as_deref())?;
    let business_ids = auth.tenant.narrowed_to(q.business_id.as_deref())?;
    let mut sql = Sql::new(format!(
        "SELECT {VOICEMAIL_COLUMNS} FROM voicemails v JOIN calls c ON c.id = v.call_id"
    ));
    sql.push(" WHERE v.mode = ?", auth.tenant.mode.as_str())
        .push_list(" AND v.business_id IN (?)", &business_ids)
        .push_opt(" AND v.created_at < ?", before.map(Timestamp::micros))
        .push(" ORDER BY v.created_at DESC, v.id DESC LIMIT ?", limit + 1);
    let rows = sql.query().fetch_all(app.store.reader()).await?;
    let now = app.clock.now();
    let mut voicemails = rows
        .iter()
        .map(|r| super::voicemail_row(r, &app.links, now))
        .collect::<sqlx::Result<Vec<_>>>()?;
    let has_more = voicemails.len() as i64 > limit;
    voicemails.truncate(limit as usize);
    Ok(Json(VoicemailList {
        voicemails,
        has_more,
    }))
}

#[derive(Deserialize, JsonSchema)]
pub struct RingBody {
    /// One of your numbers (E.164): its agent answers.
    to: Option<String>,
    /// The simulated caller (E.164); magic numbers pick the conversation (see the docs).
    from: Option<String>,
}

/// `POST /api/v1/sandbox/inbound-calls`: a simulated caller rings one of your
/// numbers; the agent answers and the scripted conversation plays through the engine.
pub async fn ring(
    State(app): State<AppState>,
    auth: Auth<CallsWrite>,
    Json(body): Json<RingBody>,
) -> ApiResult<(StatusCode, Json<CallSummary>)> {
    let to = E164::parse(require("to", body.to.as_deref())?)
        .map_err(|m| ApiError::invalid("to", m))?
        .to_string();
    let number = crate::numbers::list(&app.store, &auth.tenant, None, Some(&to))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found("Phone number"))?;
    let from = E164::parse(require("from", body.from.as_deref())?)
        .map_err(|m| ApiError::invalid("from", m))?
        .to_string();
    // Another tenant's number is not found, whatever the key's mode.
    if auth.tenant.mode != Mode::Test {
        return Err(ApiError::Forbidden(
            "The sandbox rings only with a test key (kc_test_…); real callers reach your numbers through Vapi".into(),
        ));
    }
    if from == to {
        return Err(ApiError::invalid("from", "A number cannot call itself"));
    }
    let engine = app.engine.clone();
    let now = app.clock.now();
    // Whether the caller who asks for a person can be put through, decided with the
    // call (its script is stored with it).
    let can_transfer = match &number.agent_id {
        Some(agent_id) => {
            let reason = super::sandbox::HUMAN_REASON;
            super::tools::destination_for(&engine, agent_id, &number.business_id, reason, now)
                .await?
                .is_some()
        }
        None => false,
    };
    let key = auth.0.clone();
    // Detached, so a client that hangs up cannot cut the ring in half.
    let answered = tokio::spawn(async move {
        super::ring(
            &engine,
            Ring {
                number,
                caller: from,
                conversation_id: format!("sim-in-{}", uuid::Uuid::new_v4().simple()),
                control_url: None,
                provider: "simulator",
                mode: Mode::Test,
                key_id: Some(key.key_id.clone()),
                user_id: Some(key.tenant.user_id.clone()),
                script: Some(Box::new(move |call| {
                    super::sandbox::script(call, can_transfer, now)
                })),
            },
        )
        .await
    })
    .await
    .map_err(anyhow::Error::from)??;
    Ok((StatusCode::CREATED, Json(answered.call.summary())))
}
