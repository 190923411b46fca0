//! AI agents: the persona a call uses (prompt, greeting, voice, model) and, through
//! its assigned phone number, the caller id it dials from.

pub mod routes;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::any::AnyRow;

use crate::auth::Tenant;
use crate::clock::Timestamp;
use crate::inbound::hours::{BusinessHours, TransferDestination};
use crate::store::row::Columns;
use crate::store::sql::Sql;
use crate::store::{Store, Tx};

/// An agent, as stored and as the API shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Agent {
    pub id: String,
    pub business_id: String,
    pub name: String,
    pub system_prompt: Option<String>,
    pub first_message: Option<String>,
    pub voice: Value,
    pub model: Value,
    pub metadata: Value,
    pub vapi_assistant_id: Option<String>,
    pub max_duration: Option<i64>,
    /// On reaching voicemail: `leave_message` (the default) or `hang_up`.
    pub voicemail_action: String,
    /// The message left on voicemail, with the call's variables as `{{name}}`,
    /// `{{business_name}}`, … (default: a short call-back request).
    pub voicemail_message: Option<String>,
    /// The system prompt of calls this agent answers (default: `system_prompt`).
    pub inbound_prompt: Option<String>,
    /// The system prompt of calls this agent places (default: `system_prompt`).
    pub outbound_prompt: Option<String>,
    /// What the agent says when it answers, with the call's variables as `{{name}}`,
    /// `{{business_name}}`, … (default: "Thank you for calling {{business_name}}…").
    pub inbound_greeting: Option<String>,
    /// When the business answers; `null`: always open.
    pub business_hours: Option<BusinessHours>,
    /// Out of hours: `take_message` (the default: the caller leaves a voicemail) or
    /// `transfer` (to a destination whose rule takes calls then).
    pub after_hours_action: String,
    /// Where `transfer_to_human` hands a caller, the first whose rule matches.
    pub transfer_destinations: Vec<TransferDestination>,
    /// There is somewhere to transfer to.
    pub transfer_enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The number assigned to this agent (the caller id of its outbound calls).
    pub phone_number: Option<String>,
    pub phone_number_id: Option<String>,
    /// The Vapi id of that number (`phoneNumberId` when dialing through Vapi).
    #[serde(skip)]
    pub vapi_phone_number_id: Option<String>,
}

impl Agent {
    /// A new agent with nothing configured beyond its name.
    pub fn new(business_id: &str, name: &str, now: Timestamp) -> Agent {
        Agent {
            id: crate::ids::new_id(),
            business_id: business_id.to_string(),
            name: name.to_string(),
            system_prompt: None,
            first_message: None,
            voice: json!({}),
            model: json!({}),
            metadata: json!({}),
            vapi_assistant_id: None,
            max_duration: None,
            voicemail_action: "leave_message".into(),
            voicemail_message: None,
            inbound_prompt: None,
            outbound_prompt: None,
            inbound_greeting: None,
            business_hours: None,
            after_hours_action: "take_message".into(),
            transfer_destinations: vec![],
            transfer_enabled: false,
            created_at: now,
            updated_at: now,
            phone_number: None,
            phone_number_id: None,
            vapi_phone_number_id: None,
        }
    }
}

const SELECT: &str = "SELECT a.id, a.business_id, a.name, a.system_prompt, a.first_message, a.voice, a.model, a.metadata,
        a.vapi_assistant_id, a.max_duration, a.voicemail_action, a.voicemail_message, a.created_at, a.updated_at,
        a.inbound_prompt, a.outbound_prompt, a.inbound_greeting, a.business_hours, a.after_hours_action, a.transfer_destinations,
        (SELECT p.phone_number FROM phone_numbers p WHERE p.agent_id = a.id ORDER BY p.created_at, p.id LIMIT 1) AS phone_number,
        (SELECT p.id FROM phone_numbers p WHERE p.agent_id = a.id ORDER BY p.created_at, p.id LIMIT 1) AS phone_number_id,
        (SELECT p.vapi_phone_number_id FROM phone_numbers p WHERE p.agent_id = a.id ORDER BY p.created_at, p.id LIMIT 1) AS vapi_phone_number_id
     FROM agents a";

fn from_row(row: &AnyRow) -> sqlx::Result<Agent> {
    let r = Columns(row);
    let mut agent = Agent {
        id: r.get("id")?,
        business_id: r.get("business_id")?,
        name: r.get("name")?,
        system_prompt: r.get("system_prompt")?,
        first_message: r.get("first_message")?,
        voice: r.json("voice")?,
        model: r.json("model")?,
        metadata: r.json("metadata")?,
        vapi_assistant_id: r.get("vapi_assistant_id")?,
        max_duration: r.get("max_duration")?,
        voicemail_action: r
            .get::<Option<String>>("voicemail_action")?
            .unwrap_or_else(|| "leave_message".into()),
        voicemail_message: r.get("voicemail_message")?,
        inbound_prompt: r.get("inbound_prompt")?,
        outbound_prompt: r.get("outbound_prompt")?,
        inbound_greeting: r.get("inbound_greeting")?,
        business_hours: r.json_opt("business_hours")?,
        after_hours_action: r
            .get::<Option<String>>("after_hours_action")?
            .unwrap_or_else(|| "take_message".into()),
        transfer_destinations: r
            .json_opt::<Vec<TransferDestination>>("transfer_destinations")?
            .unwrap_or_default(),
        transfer_enabled: false,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
        phone_number: r.get("phone_number")?,
        phone_number_id: r.get("phone_number_id")?,
        vapi_phone_number_id: r.get("vapi_phone_number_id")?,
    };
    agent.transfer_enabled = !agent.transfer_destinations.is_empty();
    Ok(agent)
}

pub async fn list(store: &Store, tenant: &Tenant) -> sqlx::Result<Vec<Agent>> {
    let mut sql = Sql::new(SELECT);
    sql.push_list(" WHERE a.business_id IN (?)", &tenant.business_ids)
        .text(" ORDER BY a.created_at, a.id");
    let rows = sql.query().fetch_all(store.reader()).await?;
    rows.iter().map(from_row).collect()
}

/// The agent, if it belongs to one of the tenant's businesses.
pub async fn get(store: &Store, tenant: &Tenant, id: &str) -> sqlx::Result<Option<Agent>> {
    let mut sql = Sql::new(SELECT);
    sql.push(" WHERE a.id = ?", id)
        .push_list(" AND a.business_id IN (?)", &tenant.business_ids);
    let row = sql.query().fetch_optional(store.reader()).await?;
    row.as_ref().map(from_row).transpose()
}

/// An agent by id alone, for the engine's jobs (whose call already passed tenancy).
pub async fn get_by_id(store: &Store, id: &str) -> sqlx::Result<Option<Agent>> {
    let mut sql = Sql::new(SELECT);
    sql.push(" WHERE a.id = ?", id);
    let row = sql.query().fetch_optional(store.reader()).await?;
    row.as_ref().map(from_row).transpose()
}

/// Writes every column of `agent` (insert when new, else update).
pub async fn save(tx: &mut Tx, agent: &Agent, is_new: bool) -> sqlx::Result<()> {
    let sql = if is_new {
        "INSERT INTO agents (id, business_id, name, system_prompt, first_message, voice, model, metadata, vapi_assistant_id, max_duration, created_at, updated_at, voicemail_action, voicemail_message,
            inbound_prompt, outbound_prompt, inbound_greeting, business_hours, after_hours_action, transfer_destinations)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
    } else {
        "UPDATE agents SET business_id = $2, name = $3, system_prompt = $4, first_message = $5, voice = $6, model = $7,
            metadata = $8, vapi_assistant_id = $9, max_duration = $10, created_at = $11, updated_at = $12,
            voicemail_action = $13, voicemail_message = $14, inbound_prompt = $15, outbound_prompt = $16,
            inbound_greeting = $17, business_hours = $18, after_hours_action = $19, transfer_destinations = $20
         WHERE id = $1"
    };
    sqlx::query(sql)
        .bind(&agent.id)
        .bind(&agent.business_id)
        .bind(&agent.name)
        .bind(&agent.system_prompt)
        .bind(&agent.first_message)
        .bind(agent.voice.to_string())
        .bind(agent.model.to_string())
        .bind(agent.metadata.to_string())
        .bind(&agent.vapi_assistant_id)
        .bind(agent.max_duration)
        .bind(agent.created_at.micros())
        .bind(agent.updated_at.micros())
        .bind(&agent.voicemail_action)
        .bind(&agent.voicemail_message)
        .bind(&agent.inbound_prompt)
        .bind(&agent.outbound_prompt)
        .bind(&agent.inbound_greeting)
        .bind(
            agent
                .business_hours
                .as_ref()
                .and_then(|h| serde_json::to_string(h).ok()),
        )
        .bind(&agent.after_hours_action)
        .bind(serde_json::to_string(&agent.transfer_destinations).unwrap_or_else(|_| "[]".into()))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AgentList {
    pub agents: Vec<Agent>,
}
