//! `/api/v1/agents`: list and get (agents:read); create and update (agents:write).

use axum::extract::State;
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Agent, AgentList};
use crate::app::AppState;
use crate::auth::extract::{AgentsRead, AgentsWrite, Auth};
use crate::calls;
use crate::error::{ApiError, ApiResult};
use crate::http::json::{Json, Query};
use crate::inbound::hours::{
    BusinessHoursInput, TransferDestination, TransferDestinationInput, AFTER_HOURS,
};

#[derive(Deserialize)]
pub struct AgentQuery {
    id: Option<String>,
}

pub async fn list_or_get(
    State(app): State<AppState>,
    auth: Auth<AgentsRead>,
    Query(q): Query<AgentQuery>,
) -> ApiResult<Json<AgentOrList>> {
    if let Some(id) = q.id.as_deref() {
        let agent = super::get(&app.store, &auth.tenant, id)
            .await?
            .ok_or_else(|| ApiError::not_found("Agent"))?;
        return Ok(Json(AgentOrList::Agent(Box::new(agent))));
    }
    let agents = super::list(&app.store, &auth.tenant).await?;
    Ok(Json(AgentOrList::List(AgentList { agents })))
}

/// `GET /api/v1/agents`: one agent with `?id=`, else all of them.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum AgentOrList {
    Agent(Box<Agent>),
    List(AgentList),
}

/// The writable fields; `null` means "leave as is".
#[derive(Deserialize, Default, JsonSchema)]
pub struct AgentFields {
    id: Option<String>,
    business_id: Option<String>,
    name: Option<String>,
    system_prompt: Option<String>,
    first_message: Option<String>,
    /// The dashboard's name for `first_message`.
    outbound_greeting: Option<String>,
    voice: Option<Value>,
    model: Option<Value>,
    metadata: Option<Value>,
    vapi_assistant_id: Option<String>,
    /// Seconds (10 to 3600): the default `max_duration` of this agent's calls.
    #[schemars(range(min = 10, max = 3600))]
    #[serde(default, deserialize_with = "crate::http::json::integral")]
    #[schemars(with = "Option<i64>")]
    max_duration: Option<i64>,
    /// On reaching voicemail: `leave_message` (default) or `hang_up`.
    voicemail_action: Option<String>,
    /// The message to leave (at most 1,000 characters; `{{name}}` and the other call
    /// variables are filled in). Empty: the default call-back request.
    voicemail_message: Option<String>,
    /// The system prompt when answering (at most 20,000 characters).
    inbound_prompt: Option<String>,
    /// The system prompt when calling out (at most 20,000 characters).
    outbound_prompt: Option<String>,
    /// The greeting when answering; `{{name}}` and the other variables are filled in.
    inbound_greeting: Option<String>,
    /// The published clients' name for the outbound greeting (`first_message`).
    outbound_first_message: Option<String>,
    /// When the business answers; `{}` for every weekday 09:00–17:00, `{"days": []}`
    /// for always open, `null` leaves it.
    business_hours: Option<BusinessHoursInput>,
    /// `take_message` or `transfer`.
    after_hours_action: Option<String>,
    /// Where to transfer, in order of preference (replaces the list).
    transfer_destinations: Option<Vec<TransferDestinationInput>>,
    /// `false` removes every destination.
    transfer_enabled: Option<bool>,
    /// One destination, always: the published clients' shorthand.
    transfer_phone_number: Option<String>,
}

fn object(param: &str, value: Option<Value>) -> ApiResult<Option<Value>> {
    match value {
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(_) => Err(ApiError::invalid(
            param,
            format!("{param} must be an object"),
        )),
        None => Ok(None),
    }
}

impl AgentFields {
    pub(crate) fn apply(self, agent: &mut Agent) -> ApiResult<()> {
        if let Some(name) = self.name {
            let name = name.trim().to_string();
            if name.is_empty() || name.chars().count() > 200 {
                return Err(ApiError::invalid(
                    "name",
                    "name must be 1 to 200 characters",
                ));
            }
            agent.name = name;
        }
        if let Some(prompt) = self.system_prompt {
            agent.system_prompt = Some(prompt);
        }
        let prompt = |param: &str, v: Option<String>| -> ApiResult<Option<Option<String>>> {
            match v {
                Some(p) if p.chars().count() > 20_000 => Err(ApiError::invalid(
                    param,
                    format!("{param} must be at most 20000 characters"),
                )),
                Some(p) => Ok(Some(Some(p).filter(|p| !p.trim().is_empty()))),
                None => Ok(None),
            }
        };
        if let Some(p) = prompt("inbound_prompt", self.inbound_prompt)? {
            agent.inbound_prompt = p;
        }
        if let Some(p) = prompt("outbound_prompt", self.outbound_prompt)? {
            agent.outbound_prompt = p;
        }
        if let Some(p) = prompt("inbound_greeting", self.inbound_greeting)? {
            agent.inbound_greeting = p;
        }
        if let Some(hours) = self.business_hours {
            agent.business_hours = hours.validate()?;
        }
        if let Some(action) = self.after_hours_action {
            let action = action.trim().to_ascii_lowercase();
            if !AFTER_HOURS.contains(&action.as_str()) {
                return Err(ApiError::invalid(
                    "after_hours_action",
                    "after_hours_action must be take_message or transfer",
                ));
            }
            agent.after_hours_action = action;
        }
        if let Some(list) = self.transfer_destinations {
            if list.len() > 10 {
                return Err(ApiError::invalid(
                    "transfer_destinations",
                    "at most 10 transfer destinations",
                ));
            }
            agent.transfer_destinations = list
                .into_iter()
                .map(TransferDestinationInput::validate)
                .collect::<ApiResult<_>>()?;
        }
        if let Some(number) = self.transfer_phone_number.filter(|n| !n.trim().is_empty()) {
            let one = TransferDestination {
                number,
                name: None,
                reasons: vec![],
                when: "always".into(),
            };
            agent.transfer_destinations = vec![one.validate().map_err(|_| {
                ApiError::invalid(
                    "transfer_phone_number",
                    "transfer_phone_number must be an E.164 number",
                )
            })?];
        }
        match self.transfer_enabled {
            Some(false) => agent.transfer_destinations.clear(),
            Some(true) if agent.transfer_destinations.is_empty() => {
                return Err(ApiError::invalid(
                    "transfer_enabled",
                    "transfer_enabled needs transfer_phone_number or transfer_destinations",
                ))
            }
            _ => {}
        }
        agent.transfer_enabled = !agent.transfer_destinations.is_empty();
        if let Some(greeting) = self
            .first_message
            .or(self.outbound_greeting)
            .or(self.outbound_first_message)
        {
            agent.first_message = Some(greeting);
        }
        if let Some(v) = object("voice", self.voice)? {
            agent.voice = v;
        }
        if let Some(v) = object("model", self.model)? {
            agent.model = v;
        }
        if let Some(v) = object("metadata", self.metadata)? {
            agent.metadata = v;
        }
        if let Some(v) = self.vapi_assistant_id {
            agent.vapi_assistant_id = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(d) = self.max_duration {
            agent.max_duration = Some(calls::validate_max_duration(d)?);
        }
        if let Some(action) = self.voicemail_action {
            let action = action.trim().to_ascii_lowercase();
            if action != "leave_message" && action != "hang_up" {
                return Err(ApiError::invalid(
                    "voicemail_action",
                    "voicemail_action must be leave_message or hang_up",
                ));
            }
            agent.voicemail_action = action;
        }
        if let Some(message) = self.voicemail_message {
            let message = message.trim().to_string();
            if message.chars().count() > 1000 {
                return Err(ApiError::invalid(
                    "voicemail_message",
                    "voicemail_message must be at most 1000 characters",
                ));
            }
            agent.voicemail_message = Some(message).filter(|m| !m.is_empty());
        }
        Ok(())
    }
}

pub async fn create(
    State(app): State<AppState>,
    auth: Auth<AgentsWrite>,
    Json(mut body): Json<AgentFields>,
) -> ApiResult<(StatusCode, Json<Agent>)> {
    let business_id = auth.tenant.resolve_business(body.business_id.as_deref())?;
    if body.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
        return Err(ApiError::invalid("name", "name is required"));
    }
    body.id = None;
    let now = app.clock.now();
    let mut agent = Agent::new(&business_id, "", now);
    body.apply(&mut agent)?;
    let mut tx = app.store.begin().await?;
    super::save(&mut tx, &agent, true).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(agent)))
}

pub async fn update(
    State(app): State<AppState>,
    auth: Auth<AgentsWrite>,
    Json(body): Json<AgentFields>,
) -> ApiResult<Json<Agent>> {
    let id = body
        .id
        .clone()
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("id", "id is required"))?;
    let mut agent = super::get(&app.store, &auth.tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Agent"))?;
    if let Some(b) = body.business_id.as_deref() {
        if b != agent.business_id {
            return Err(ApiError::invalid(
                "business_id",
                "an agent cannot move to another business",
            ));
        }
    }
    body.apply(&mut agent)?;
    agent.updated_at = app.clock.now();
    let mut tx = app.store.begin().await?;
    super::save(&mut tx, &agent, false).await?;
    tx.commit().await?;
    Ok(Json(agent))
}
