//! The tools: the published catalogue's names and inputs, where KaiCalls has the
//! feature, plus `wait_for_call`. Each is a few REST requests through
//! [`Backend::send`]; each answer is the published envelope — `success`, and on
//! failure `error` (the message), `code` (our error code) and `param` — as
//! `structuredContent` with a text copy. A business error is a tool result with
//! `isError`, never a protocol error, so the model reads it.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::http::Method;
use rmcp::model::{CallToolResult, JsonObject, ProgressNotificationParam, Tool, ToolAnnotations};
use rmcp::service::RequestContext;
use rmcp::RoleServer;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{Backend, Caller};
use crate::auth::scope::{Scope, Scopes};
use crate::http::local::{Answer, LocalRequest};

/// What a tool does to the world, as the standard annotations say it.
#[derive(Clone, Copy)]
pub struct Hints {
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
}

const READ: Hints = Hints {
    read_only: true,
    destructive: false,
    idempotent: true,
    open_world: false,
};

pub struct ToolSpec {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// The scope of the REST operations behind the tool; `None`: any key.
    pub scope: Option<Scope>,
    pub hints: Hints,
    input: fn() -> Value,
    /// The tool's own result properties (the envelope's are added).
    output: fn() -> Value,
}

impl ToolSpec {
    pub fn allowed(&self, scopes: Option<&Scopes>) -> bool {
        match (self.scope, scopes) {
            (Some(scope), Some(scopes)) => scopes.allows(scope),
            _ => true,
        }
    }

    pub fn tool(&self) -> Tool {
        let mut tool = Tool::new(self.name, self.description, object((self.input)()));
        tool.title = Some(self.title.to_string());
        tool.output_schema = Some(Arc::new(object(envelope((self.output)()))));
        tool.annotations = Some(
            ToolAnnotations::with_title(self.title)
                .read_only(self.hints.read_only)
                .destructive(self.hints.destructive)
                .idempotent(self.hints.idempotent)
                .open_world(self.hints.open_world),
        );
        tool
    }
}

fn object(value: Value) -> JsonObject {
    match value {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}

/// The input schema of `T`, without the meta-schema line clients do not need.
fn input_of<T: JsonSchema>() -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default();
    if let Some(map) = schema.as_object_mut() {
        map.remove("$schema");
        map.entry("properties").or_insert_with(|| json!({}));
    }
    schema
}

/// The published envelope around a tool's own properties.
fn envelope(properties: Value) -> Value {
    let mut props = Map::new();
    props.insert(
        "success".into(),
        json!({"type": "boolean", "description": "Whether the tool completed successfully"}),
    );
    props.insert(
        "error".into(),
        json!({"type": "string", "description": "Present when success is false: what went wrong"}),
    );
    props.insert(
        "code".into(),
        json!({"type": "string", "description": "Present when success is false: the KaiCalls error code (invalid_request, not_found, insufficient_scope, rate_limited, …)"}),
    );
    props.insert(
        "param".into(),
        json!({"type": "string", "description": "The input at fault, when one is"}),
    );
    if let Value::Object(own) = properties {
        props.extend(own);
    }
    json!({"type": "object", "properties": props, "required": ["success"], "additionalProperties": true})
}

fn list_props(noun: &str) -> Value {
    json!({
        noun: {"type": "array", "items": {"type": "object"}},
        "count": {"type": "integer"},
        "limit": {"type": "integer"},
        "offset": {"type": "integer"},
        "has_more": {"type": "boolean"},
        "next_offset": {"type": ["integer", "null"]},
        "filters": {"type": "object"}
    })
}

// ------------------------------------------------------------------ inputs

#[derive(Deserialize, JsonSchema)]
pub struct ListAgents {
    /// Only this business's agents (default: every business the key can see).
    business_id: Option<String>,
    /// 1–100, default 50.
    #[schemars(range(min = 1, max = 100))]
    limit: Option<u32>,
    /// How many to skip (paging), default 0.
    offset: Option<u32>,
}

#[derive(Deserialize, JsonSchema)]
pub struct BusinessOnly {
    /// The business (default: the first the key can see).
    business_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
pub struct ListRecentCalls {
    /// 1–100, default 20.
    #[schemars(range(min = 1, max = 100))]
    limit: Option<u32>,
    /// How many of the newest to skip (paging), default 0.
    offset: Option<u32>,
    /// Only this agent's calls.
    agent_id: Option<String>,
    /// Only calls in this status: queued, ringing, in_progress, completed, failed, canceled.
    status: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
pub struct CallId {
    /// The call's id (from make_call or list_recent_calls).
    call_id: String,
}

#[derive(Deserialize, JsonSchema)]
pub struct ListLeads {
    /// 1–100, default 50.
    #[schemars(range(min = 1, max = 100))]
    limit: Option<u32>,
    /// How many to skip (paging), default 0.
    offset: Option<u32>,
    /// Only leads in this status (new, contacted, qualified, …).
    status: Option<String>,
    /// Only leads from this source.
    source: Option<String>,
    /// Only leads assigned to this agent.
    agent_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
pub struct LeadId {
    /// The lead's id.
    lead_id: String,
}

#[derive(Deserialize, JsonSchema)]
pub struct Paging {
    /// 1–100, default 20.
    #[schemars(range(min = 1, max = 100))]
    limit: Option<u32>,
    /// How many to skip, default 0.
    offset: Option<u32>,
}

#[derive(Deserialize, JsonSchema)]
pub struct ConfigureStaffAlerts {
    /// The business (default: the only one the key reaches).
    business_id: Option<String>,
    /// Staff email addresses that get each alert (replaces the list).
    emails: Option<Vec<String>>,
    /// One address, the published catalogue's form (added to `emails`).
    notification_email: Option<String>,
    /// `false` turns alerts off, `true` on.
    email_notifications: Option<bool>,
    /// A URL that gets a signed POST per alert; "" removes it.
    webhook_url: Option<String>,
    /// What alerts: of new_lead, callback_requested, follow_up, voicemail.
    events: Option<Vec<String>>,
    /// The published catalogue's name for `events`.
    escalation_rules: Option<Vec<String>>,
    /// Validate and show the result without saving it.
    dry_run: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
pub struct Analytics {
    /// The window, in days back from now: 1–90, default 30.
    #[schemars(range(min = 1, max = 90))]
    days: Option<u32>,
    /// Only this business (default: every business the key can see).
    business_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
pub struct Usage {
    /// 1–100, default 50.
    #[schemars(range(min = 1, max = 100))]
    limit: Option<u32>,
}

#[derive(Deserialize, JsonSchema)]
pub struct NoInput {}

#[derive(Deserialize, JsonSchema)]
pub struct MakeCall {
    /// The agent that speaks (from list_agents).
    agent_id: String,
    /// The number to call, in E.164 form: +14155550123.
    to: String,
    /// The person's name, for the agent to greet.
    name: Option<String>,
    /// What the call is about: instructions and facts the agent uses on this call.
    context: Option<String>,
    /// The agent's opening sentence (default: the agent's own).
    first_message: Option<String>,
    /// The lead this call is for: its details reach the agent and the call is linked to it.
    lead_id: Option<String>,
    /// Any unique string (a UUID): repeating a call with the same key returns the first call instead of dialing again. Always send one.
    idempotency_key: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
pub struct UpsertLead {
    /// Update this lead; without it the lead is found by `phone`, or created.
    lead_id: Option<String>,
    /// E.164 phone number: +14155550123.
    phone: Option<String>,
    name: Option<String>,
    email: Option<String>,
    /// new, contacted, qualified, converted, lost, … (1–50 characters).
    status: Option<String>,
    notes: Option<String>,
    /// Where the lead came from.
    source: Option<String>,
    /// The agent the lead is assigned to.
    agent_id: Option<String>,
    /// The business for a new lead (default: the key's only business).
    business_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
pub struct WaitForCall {
    /// The call's id (from make_call).
    call_id: String,
    /// How long to wait at most, in seconds: 1–50, default 25.
    #[schemars(range(min = 1, max = 50))]
    timeout_s: Option<u32>,
}

#[derive(Deserialize, JsonSchema)]
pub struct ListCampaigns {
    /// Only campaigns in this status: draft, scheduled, running, paused, completed, canceled.
    status: Option<String>,
    /// 1–100, default 20.
    #[schemars(range(min = 1, max = 100))]
    limit: Option<u32>,
}

#[derive(Deserialize, JsonSchema)]
pub struct CampaignId {
    /// The campaign's id (from create_campaign or list_campaigns).
    campaign_id: String,
}

#[derive(Deserialize, JsonSchema)]
pub struct GetCampaign {
    /// The campaign's id (from create_campaign or list_campaigns).
    campaign_id: String,
    /// Also list up to 100 of its contacts in this state (pending, dialing, completed,
    /// failed, skipped, exhausted, expired, canceled), with their attempts, calls,
    /// outcomes and skip reasons.
    contact_state: Option<String>,
}

#[derive(Deserialize, Serialize, JsonSchema)]
pub struct CampaignContact {
    /// The number, E.164: +14155550123.
    to: String,
    /// The person's name, for the greeting.
    name: Option<String>,
    /// Facts for this person's call ({{name}} in context and first_message).
    variables: Option<Value>,
    /// A stable key (your CRM's id): a contact sent again with it is not added twice.
    key: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
pub struct CreateCampaign {
    /// What the campaign is for ("December appointment reminders").
    name: String,
    /// The agent that speaks (from list_agents); it calls from its own number.
    agent_id: String,
    /// The people to call (up to 10,000).
    contacts: Option<Vec<CampaignContact>>,
    /// Leads to call, by id (from list_leads).
    lead_ids: Option<Vec<String>>,
    /// What each call is about, with {{variables}} filled per contact.
    context: Option<String>,
    /// The opening sentence, with {{variables}} (default: the agent's).
    first_message: Option<String>,
    /// Calls at once, 1–1000 (default 10).
    #[schemars(range(min = 1, max = 1000))]
    max_concurrency: Option<u32>,
    /// When to stop (ISO 8601): contacts not reached by then are left.
    ends_at: Option<String>,
    /// Attempts per contact when nobody answers or the line is busy, 1–10 (default 3).
    #[schemars(range(min = 1, max = 10))]
    max_attempts: Option<u32>,
    /// Call only people with consent of this basis on record: express, express_written, existing_customer, inquiry.
    require_consent: Option<String>,
    /// Start dialing now (default false: a draft to review and start later).
    start: Option<bool>,
    /// Any unique string (a UUID): repeating the request with the same key returns the first campaign instead of creating another. Always send one.
    idempotency_key: Option<String>,
}

// --------------------------------------------------------------- catalogue

pub fn catalogue() -> &'static [ToolSpec] {
    static CATALOGUE: OnceLock<Vec<ToolSpec>> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        vec![
            ToolSpec {
                name: "list_agents",
                title: "List Agents",
                description: "List the AI phone agents (voice, greeting, prompt) this account can call with. Use it first: make_call needs an agent_id. Free, reads only.",
                scope: Some(Scope::AgentsRead),
                hints: READ,
                input: input_of::<ListAgents>,
                output: || list_props("agents"),
            },
            ToolSpec {
                name: "get_business_info",
                title: "Get Business Info",
                description: "Read a business's profile: name, plan and minutes, phone numbers, how many agents it has and how many calls it placed in the last 30 days. Free, reads only.",
                scope: Some(Scope::AgentsRead),
                hints: READ,
                input: input_of::<BusinessOnly>,
                output: || json!({"business": {"type": "object"}, "agent_count": {"type": "integer"}, "calls_last_30_days": {"type": ["integer", "null"]}}),
            },
            ToolSpec {
                name: "list_numbers",
                title: "List Phone Numbers",
                description: "List the business's phone numbers (the caller ids calls are placed from) and the agent each one belongs to. Free, reads only.",
                scope: Some(Scope::NumbersRead),
                hints: READ,
                input: input_of::<BusinessOnly>,
                output: || json!({"numbers": {"type": "array", "items": {"type": "object"}}, "count": {"type": "integer"}}),
            },
            ToolSpec {
                name: "list_recent_calls",
                title: "List Recent Calls",
                description: "List recent calls, newest first, with status, duration, summary and outcome; filter by agent or status, page with offset. Free, reads only.",
                scope: Some(Scope::CallsRead),
                hints: READ,
                input: input_of::<ListRecentCalls>,
                output: || list_props("calls"),
            },
            ToolSpec {
                name: "check_call_status",
                title: "Check Call Status",
                description: "Read one call now: status (queued, ringing, in_progress, completed, failed, canceled), duration, summary, outcome, recording. To wait for a call to end, use wait_for_call instead of polling this. Free, reads only.",
                scope: Some(Scope::CallsRead),
                hints: READ,
                input: input_of::<CallId>,
                output: || json!({"call": {"type": "object"}}),
            },
            ToolSpec {
                name: "get_transcript",
                title: "Get Transcript",
                description: "Read what was said on a call, turn by turn (\"Agent: …\" / \"Customer: …\"), with its summary. Available once the call has ended. Free, reads only.",
                scope: Some(Scope::CallsRead),
                hints: READ,
                input: input_of::<CallId>,
                output: || json!({
                    "call": {"type": "object"},
                    "transcript_available": {"type": "boolean"},
                    "transcript": {"type": ["string", "null"]},
                    "transcript_truncated": {"type": "boolean"},
                    "transcript_length": {"type": "integer"},
                    "summary": {"type": ["string", "null"]}
                }),
            },
            ToolSpec {
                name: "get_call_recording",
                title: "Get Call Recording",
                description: "Get a link to a call's audio recording (a signed link that expires), so a person can listen to the call itself. Free, reads only.",
                scope: Some(Scope::CallsRead),
                hints: READ,
                input: input_of::<CallId>,
                output: || json!({"recording_available": {"type": "boolean"}, "call": {"type": "object", "properties": {"recording_url": {"type": ["string", "null"]}}}}),
            },
            ToolSpec {
                name: "list_leads",
                title: "List Leads",
                description: "List the business's leads (the people it calls) with status, source, score and notes; filter by status, source or agent. Free, reads only.",
                scope: Some(Scope::LeadsRead),
                hints: READ,
                input: input_of::<ListLeads>,
                output: || list_props("leads"),
            },
            ToolSpec {
                name: "get_lead",
                title: "Get Lead",
                description: "Read one lead in full: contact details, status, score, notes and how many calls it has had. Free, reads only.",
                scope: Some(Scope::LeadsRead),
                hints: READ,
                input: input_of::<LeadId>,
                output: || json!({"lead": {"type": "object"}}),
            },
            ToolSpec {
                name: "list_voicemails",
                title: "List Voicemails",
                description: "List the voicemails callers left on the business's numbers, newest first: who called, the lead, what they said (transcript), the summary and a recording link. Free, reads only.",
                scope: Some(Scope::CallsRead),
                hints: READ,
                input: input_of::<Paging>,
                output: || list_props("voicemails"),
            },
            ToolSpec {
                name: "get_analytics",
                title: "Get Analytics",
                description: "Summarise calls over the last `days` (default 30): how many, by status and by outcome (resolved, follow_up, voicemail, …), and the minutes talked. Free, reads only.",
                scope: Some(Scope::CallsRead),
                hints: READ,
                input: input_of::<Analytics>,
                output: || json!({
                    "days": {"type": "integer"},
                    "calls_total": {"type": "integer"},
                    "calls_by_status": {"type": "object"},
                    "calls_by_outcome": {"type": "object"},
                    "minutes": {"type": "integer"}
                }),
            },
            ToolSpec {
                name: "get_usage",
                title: "Get API Usage",
                description: "List this account's recent API requests (endpoint, status, cost). Free, reads only.",
                scope: None,
                hints: READ,
                input: input_of::<Usage>,
                output: || json!({"usage": {"type": "array", "items": {"type": "object"}}, "has_more": {"type": "boolean"}}),
            },
            ToolSpec {
                name: "get_balance",
                title: "Get Balance",
                description: "Read each business's plan: minutes used and included this period, phone numbers, subscription status. Check it before placing many live calls. Free, reads only.",
                scope: None,
                hints: READ,
                input: input_of::<NoInput>,
                output: || json!({"businesses": {"type": "array", "items": {"type": "object"}}}),
            },
            ToolSpec {
                name: "make_call",
                title: "Make Call",
                description: "Place an outbound phone call: the agent calls `to` (E.164) and holds the conversation, using `context` and `first_message`. With a live key a REAL phone rings a real person and call minutes are billed; it cannot be taken back — call only numbers you are allowed to call. With a test key (kc_test_) the call is simulated and free. Send an idempotency_key so a retry returns the first call (replayed: true) instead of dialing twice. A number on the do-not-call list is refused (dnc_blocked), and so is a recipient outside their calling hours (outside_calling_hours: the error gives the next allowed time). Then use wait_for_call.",
                scope: Some(Scope::CallsWrite),
                hints: Hints {
                    read_only: false,
                    destructive: true,
                    idempotent: false,
                    open_world: true,
                },
                input: input_of::<MakeCall>,
                output: || json!({
                    "replayed": {"type": "boolean"},
                    "idempotency_key": {"type": ["string", "null"]},
                    "test_mode": {"type": ["boolean", "null"]},
                    "call": {"type": "object", "properties": {
                        "id": {"type": "string"},
                        "conversation_id": {"type": ["string", "null"]},
                        "status": {"type": "string"},
                        "agent_id": {"type": "string"},
                        "business_id": {"type": "string"},
                        "lead_id": {"type": ["string", "null"]},
                        "to": {"type": "string"}
                    }}
                }),
            },
            ToolSpec {
                name: "end_call",
                title: "End Call",
                description: "Hang up a call in progress (or cancel one not yet answered). A call that has already ended is left as it is. Stops the call's billing.",
                scope: Some(Scope::CallsWrite),
                hints: Hints {
                    read_only: false,
                    destructive: true,
                    idempotent: true,
                    open_world: true,
                },
                input: input_of::<CallId>,
                output: || json!({"call": {"type": "object"}}),
            },
            ToolSpec {
                name: "upsert_lead",
                title: "Create or Update Lead",
                description: "Save a lead: update it by lead_id, or by its phone number when one exists, else create it. Use it to record what you learned about a person before or after a call. Free; changes only KaiCalls data.",
                scope: Some(Scope::LeadsWrite),
                hints: Hints {
                    read_only: false,
                    destructive: false,
                    idempotent: true,
                    open_world: false,
                },
                input: input_of::<UpsertLead>,
                output: || json!({"created": {"type": "boolean"}, "lead": {"type": "object"}}),
            },
            ToolSpec {
                name: "list_campaigns",
                title: "List Campaigns",
                description: "List calling campaigns (newest first) with their status and progress: contacts pending, dialing, completed, failed, skipped (do-not-call, no consent, duplicates, invalid numbers), exhausted (no answer after every attempt), expired, canceled. Free, reads only.",
                scope: Some(Scope::CampaignsRead),
                hints: READ,
                input: input_of::<ListCampaigns>,
                output: || json!({"campaigns": {"type": "array", "items": {"type": "object"}}, "count": {"type": "integer"}, "has_more": {"type": "boolean"}}),
            },
            ToolSpec {
                name: "get_campaign",
                title: "Get Campaign",
                description: "One campaign: its settings, status, counters by contact state and outcome, skip reasons; with contact_state, up to 100 of its contacts in that state with their attempts, call ids, outcomes and skip reasons. Free, reads only.",
                scope: Some(Scope::CampaignsRead),
                hints: READ,
                input: input_of::<GetCampaign>,
                output: || json!({"campaign": {"type": "object"}, "contacts": {"type": ["array", "null"], "items": {"type": "object"}}}),
            },
            ToolSpec {
                name: "create_campaign",
                title: "Create Campaign",
                description: "Create a campaign that calls a list of people with one agent: inline contacts and/or lead ids, a context with {{variables}}, how many calls at once. KaiCalls keeps it inside the law: nobody on the do-not-call list is called, nobody outside 8:00-21:00 in their own time zone (stricter states too), unanswered calls are retried on the policy. With start: false (the default) it is a draft that dials nothing; with start: true and a live key REAL phones ring for every contact and minutes are billed. With a test key (kc_test_) calls are simulated. Send an idempotency_key.",
                scope: Some(Scope::CampaignsWrite),
                hints: Hints {
                    read_only: false,
                    destructive: true,
                    idempotent: false,
                    open_world: true,
                },
                input: input_of::<CreateCampaign>,
                output: || json!({"replayed": {"type": "boolean"}, "campaign": {"type": "object"}, "contacts_added": {"type": "object"}}),
            },
            ToolSpec {
                name: "pause_campaign",
                title: "Pause Campaign",
                description: "Pause a running campaign: no new calls start (within a second); calls in progress finish. It can be resumed later from the dashboard or the API. Free.",
                scope: Some(Scope::CampaignsWrite),
                hints: Hints {
                    read_only: false,
                    destructive: false,
                    idempotent: true,
                    open_world: false,
                },
                input: input_of::<CampaignId>,
                output: || json!({"campaign": {"type": "object"}}),
            },
            ToolSpec {
                name: "configure_staff_alerts",
                title: "Configure Staff Alerts",
                description: "Set who on the business's staff is alerted, and about what: email recipients and/or a webhook URL, for new leads from inbound calls, callback requests, calls needing a follow-up and voicemails. With dry_run: true nothing is saved: the answer shows the settings as they would be. Free.",
                scope: Some(Scope::AgentsWrite),
                hints: Hints {
                    read_only: false,
                    destructive: true,
                    idempotent: true,
                    open_world: false,
                },
                input: input_of::<ConfigureStaffAlerts>,
                output: || json!({"dry_run": {"type": "boolean"}, "settings": {"type": "object"}}),
            },
            ToolSpec {
                name: "wait_for_call",
                title: "Wait for Call",
                description: "Wait (up to timeout_s, at most 50 s) for a call to end, and return as soon as it does with its status, duration, summary, outcome and transcript. If done is false the call is still going: call wait_for_call again. Use it after make_call instead of polling. Free, reads only.",
                scope: Some(Scope::CallsRead),
                hints: READ,
                input: input_of::<WaitForCall>,
                output: || json!({
                    "done": {"type": "boolean"},
                    "message": {"type": "string"},
                    "call": {"type": "object"}
                }),
            },
        ]
    })
}

pub fn find(name: &str) -> Option<&'static ToolSpec> {
    catalogue().iter().find(|spec| spec.name == name)
}

/// A failed tool's structured result.
pub fn failure(code: &str, message: &str, param: Option<&str>) -> Value {
    let mut out = json!({"success": false, "error": message, "code": code});
    if let Some(param) = param {
        out["param"] = json!(param);
    }
    out
}

/// A tool's failure, as the value its result carries.
struct Failed(Value);

impl Failed {
    fn invalid(param: &str, message: &str) -> Failed {
        Failed(failure("invalid_request", message, Some(param)))
    }
}

impl From<&Answer> for Failed {
    fn from(answer: &Answer) -> Failed {
        let error = &answer.body["error"];
        Failed(failure(
            error["code"].as_str().unwrap_or("error"),
            &answer.message(),
            error["param"].as_str(),
        ))
    }
}

type Outcome = Result<Value, Failed>;

fn parse<T: DeserializeOwned>(arguments: JsonObject) -> Result<T, Failed> {
    serde_json::from_value(Value::Object(arguments)).map_err(|e| {
        let message = e.to_string();
        // "missing field `call_id`" names the input at fault.
        let param = message
            .split('`')
            .nth(1)
            .filter(|_| message.starts_with("missing field"))
            .map(str::to_string);
        Failed(failure(
            "invalid_request",
            &format!("Invalid arguments: {message}"),
            param.as_deref(),
        ))
    })
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        if let Some(value) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            out.append_pair(name, value);
        }
    }
    let out = out.finish();
    if out.is_empty() {
        out
    } else {
        format!("?{out}")
    }
}

fn bounded(value: Option<u32>, param: &str, default: u32, max: u32) -> Result<u32, Failed> {
    match value {
        None => Ok(default),
        Some(v) if (1..=max).contains(&v) => Ok(v),
        Some(_) => Err(Failed::invalid(
            param,
            &format!("{param} must be between 1 and {max}"),
        )),
    }
}

/// The most items a tool pages through for one answer (offset + limit).
const MAX_WINDOW: usize = 1000;

/// One tool call: the backend, who calls, and the request's context (progress).
pub struct Run<'a> {
    pub backend: &'a Backend,
    pub caller: &'a Caller,
    pub context: &'a RequestContext<RoleServer>,
}

impl Run<'_> {
    pub async fn call(&self, spec: &ToolSpec, arguments: JsonObject) -> CallToolResult {
        let outcome = match spec.name {
            "list_agents" => self.list_agents(arguments).await,
            "get_business_info" => self.business_info(arguments).await,
            "list_numbers" => self.list_numbers(arguments).await,
            "list_recent_calls" => self.list_calls(arguments).await,
            "check_call_status" => self.call_status(arguments).await,
            "get_transcript" => self.transcript(arguments).await,
            "get_call_recording" => self.recording(arguments).await,
            "list_leads" => self.list_leads(arguments).await,
            "get_lead" => self.get_lead(arguments).await,
            "list_voicemails" => self.voicemails(arguments).await,
            "get_analytics" => self.analytics(arguments).await,
            "get_usage" => self.usage(arguments).await,
            "get_balance" => self.get("/balance").await,
            "make_call" => self.make_call(arguments).await,
            "end_call" => self.end_call(arguments).await,
            "upsert_lead" => self.upsert_lead(arguments).await,
            "wait_for_call" => self.wait_for_call(arguments).await,
            "list_campaigns" => self.list_campaigns(arguments).await,
            "get_campaign" => self.get_campaign(arguments).await,
            "create_campaign" => self.create_campaign(arguments).await,
            "pause_campaign" => self.pause_campaign(arguments).await,
            "configure_staff_alerts" => self.configure_staff_alerts(arguments).await,
            other => Err(Failed(failure(
                "not_found",
                &format!("Unknown tool {other}"),
                None,
            ))),
        };
        match outcome {
            Ok(value) => {
                let mut map = Map::new();
                map.insert("success".into(), Value::Bool(true));
                if let Value::Object(own) = value {
                    map.extend(own);
                }
                CallToolResult::structured(Value::Object(map))
            }
            Err(Failed(value)) => CallToolResult::structured_error(value),
        }
    }

    async fn send(&self, request: LocalRequest<'_>) -> Answer {
        self.backend.send(self.caller, request).await
    }

    /// `GET path`, its body on success.
    async fn get(&self, path: &str) -> Outcome {
        let answer = self.send(LocalRequest::new(Method::GET, path, None)).await;
        if answer.ok() {
            Ok(answer.body)
        } else {
            Err(Failed::from(&answer))
        }
    }

    /// Up to `window` items of a cursor-paged call list (`after` = the last
    /// item's `created_at`), and whether there are more.
    async fn calls_window(
        &self,
        filters: &[(&str, Option<String>)],
        window: usize,
    ) -> Result<(Vec<Value>, bool), Failed> {
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut pairs = filters.to_vec();
            pairs.push(("limit", Some("100".into())));
            pairs.push(("after", after.clone()));
            let page = self.get(&format!("/calls{}", query(&pairs))).await?;
            let calls = page["calls"].as_array().cloned().unwrap_or_default();
            let has_more = page["has_more"].as_bool().unwrap_or(false);
            after = calls
                .last()
                .and_then(|c| c["created_at"].as_str())
                .map(str::to_string);
            items.extend(calls);
            if items.len() > window || !has_more || after.is_none() {
                let more = items.len() > window || has_more;
                items.truncate(window);
                return Ok((items, more));
            }
        }
    }

    async fn list_agents(&self, arguments: JsonObject) -> Outcome {
        let input: ListAgents = parse(arguments)?;
        let limit = bounded(input.limit, "limit", 50, 100)? as usize;
        let offset = input.offset.unwrap_or(0) as usize;
        let body = self.get("/agents").await?;
        let agents: Vec<Value> = body["agents"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|a| {
                input
                    .business_id
                    .as_deref()
                    .is_none_or(|b| a["business_id"] == b)
            })
            .collect();
        Ok(page_of(
            "agents",
            agents,
            false,
            limit,
            offset,
            json!({"business_id": input.business_id}),
        ))
    }

    async fn business_info(&self, arguments: JsonObject) -> Outcome {
        let input: BusinessOnly = parse(arguments)?;
        let balance = self.get("/balance").await?;
        let businesses = balance["businesses"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let business = match input.business_id.as_deref() {
            Some(id) => businesses.into_iter().find(|b| b["business_id"] == id),
            None => businesses.into_iter().next(),
        }
        .ok_or_else(|| {
            Failed(failure(
                "not_found",
                "Business not found",
                Some("business_id"),
            ))
        })?;
        let id = business["business_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let agents = self.get("/agents").await?;
        let agent_count = agents["agents"].as_array().map_or(0, |a| {
            a.iter().filter(|a| a["business_id"] == id.as_str()).count()
        });
        // Needs calls:read; a key without it still gets the rest.
        let calls = self
            .get(&format!(
                "/analytics{}",
                query(&[
                    ("days", Some("30".into())),
                    ("business_id", Some(id.clone()))
                ])
            ))
            .await
            .ok()
            .and_then(|a| a["calls_total"].as_i64());
        Ok(json!({
            "business": {
                "id": id,
                "name": business["business_name"],
                "subscription_status": business["subscription_status"],
                "minutes_used": business["minutes_used"],
                "included_minutes": business["included_minutes"],
                "phone_numbers": business["phone_numbers"],
            },
            "agent_count": agent_count,
            "calls_last_30_days": calls,
        }))
    }

    async fn list_numbers(&self, arguments: JsonObject) -> Outcome {
        let input: BusinessOnly = parse(arguments)?;
        let body = self
            .get(&format!(
                "/numbers{}",
                query(&[("business_id", input.business_id)])
            ))
            .await?;
        let numbers = body["numbers"].as_array().cloned().unwrap_or_default();
        Ok(json!({"count": numbers.len(), "numbers": numbers}))
    }

    async fn list_calls(&self, arguments: JsonObject) -> Outcome {
        let input: ListRecentCalls = parse(arguments)?;
        let limit = bounded(input.limit, "limit", 20, 100)? as usize;
        let offset = (input.offset.unwrap_or(0) as usize).min(MAX_WINDOW);
        let filters = [
            ("agent_id", input.agent_id.clone()),
            ("status", input.status.clone()),
        ];
        let (calls, more) = self.calls_window(&filters, offset + limit).await?;
        Ok(page_of(
            "calls",
            calls,
            more,
            limit,
            offset,
            json!({"agent_id": input.agent_id, "status": input.status}),
        ))
    }

    async fn detail(&self, call_id: &str, wait: Option<u32>) -> Outcome {
        let pairs = [
            ("id", Some(call_id.to_string())),
            ("wait", wait.map(|w| w.to_string())),
        ];
        self.get(&format!("/calls{}", query(&pairs))).await
    }

    async fn call_status(&self, arguments: JsonObject) -> Outcome {
        let input: CallId = parse(arguments)?;
        let mut call = self.detail(&input.call_id, None).await?;
        call_brief(&mut call);
        Ok(json!({"call": call}))
    }

    async fn transcript(&self, arguments: JsonObject) -> Outcome {
        let input: CallId = parse(arguments)?;
        let call = self.detail(&input.call_id, None).await?;
        Ok(transcript_of(&call))
    }

    async fn recording(&self, arguments: JsonObject) -> Outcome {
        let input: CallId = parse(arguments)?;
        let call = self.detail(&input.call_id, None).await?;
        let url = call["recording_url"].clone();
        Ok(json!({
            "recording_available": url.is_string(),
            "call": {
                "id": call["id"],
                "conversation_id": call["conversation_id"],
                "status": call["status"],
                "duration_seconds": call["duration"],
                "recording_url": url,
                "agent_id": call["agent_id"],
                "agent_name": call["agent_name"],
                "business_id": call["business_id"],
                "created_at": call["created_at"],
            }
        }))
    }

    async fn list_leads(&self, arguments: JsonObject) -> Outcome {
        let input: ListLeads = parse(arguments)?;
        let limit = bounded(input.limit, "limit", 50, 100)? as usize;
        let offset = (input.offset.unwrap_or(0) as usize).min(100);
        // The leads list has no cursor: one page of up to 100 covers offset + limit.
        let fetch = (offset + limit + 1).min(100);
        let pairs = [
            ("status", input.status.clone()),
            ("source", input.source.clone()),
            ("agent_id", input.agent_id.clone()),
            ("limit", Some(fetch.to_string())),
        ];
        let body = self.get(&format!("/leads{}", query(&pairs))).await?;
        let leads = body["leads"].as_array().cloned().unwrap_or_default();
        let more = body["has_more"].as_bool().unwrap_or(false);
        Ok(page_of(
            "leads",
            leads,
            more,
            limit,
            offset,
            json!({"status": input.status, "source": input.source, "agent_id": input.agent_id}),
        ))
    }

    async fn get_lead(&self, arguments: JsonObject) -> Outcome {
        let input: LeadId = parse(arguments)?;
        let lead = self
            .get(&format!("/leads{}", query(&[("id", Some(input.lead_id))])))
            .await?;
        Ok(json!({"lead": lead}))
    }

    async fn voicemails(&self, arguments: JsonObject) -> Outcome {
        let input: Paging = parse(arguments)?;
        let limit = bounded(input.limit, "limit", 20, 100)? as usize;
        let offset = input.offset.unwrap_or(0) as usize;
        let wanted = (offset + limit + 1).min(MAX_WINDOW);
        let (mut items, mut after, mut more) = (Vec::new(), None::<String>, true);
        while more && items.len() < wanted {
            let page = self
                .get(&format!(
                    "/voicemails{}",
                    query(&[("limit", Some("100".into())), ("after", after.clone())])
                ))
                .await?;
            let list = page["voicemails"].as_array().cloned().unwrap_or_default();
            more = page["has_more"].as_bool().unwrap_or(false);
            after = list
                .last()
                .and_then(|v| v["created_at"].as_str())
                .map(str::to_string);
            items.extend(list);
            if after.is_none() {
                break;
            }
        }
        let beyond = more || items.len() >= wanted;
        items.truncate(wanted);
        Ok(page_of(
            "voicemails",
            items,
            beyond,
            limit,
            offset,
            json!({}),
        ))
    }

    async fn configure_staff_alerts(&self, arguments: JsonObject) -> Outcome {
        let input: ConfigureStaffAlerts = parse(arguments)?;
        let mut body = Map::new();
        if let Some(b) = input.business_id {
            body.insert("business_id".into(), json!(b));
        }
        let mut emails = input.emails;
        if let Some(one) = input.notification_email.filter(|e| !e.trim().is_empty()) {
            emails.get_or_insert_with(Vec::new).push(one);
        }
        if let Some(emails) = emails {
            body.insert("emails".into(), json!(emails));
        }
        if let Some(on) = input.email_notifications {
            body.insert("enabled".into(), json!(on));
        }
        if let Some(url) = input.webhook_url {
            body.insert("webhook_url".into(), json!(url));
        }
        if let Some(events) = input.events.or(input.escalation_rules) {
            body.insert("events".into(), json!(events));
        }
        let dry_run = input.dry_run.unwrap_or(false);
        let path = if dry_run {
            "/staff-alerts/settings?dry_run=true"
        } else {
            "/staff-alerts/settings"
        };
        let answer = self
            .send(LocalRequest::new(
                Method::PATCH,
                path,
                Some(Value::Object(body)),
            ))
            .await;
        if !answer.ok() {
            return Err(Failed::from(&answer));
        }
        Ok(json!({"dry_run": dry_run, "settings": answer.body}))
    }

    async fn analytics(&self, arguments: JsonObject) -> Outcome {
        let input: Analytics = parse(arguments)?;
        let days = bounded(input.days, "days", 30, 90)?;
        self.get(&format!(
            "/analytics{}",
            query(&[
                ("days", Some(days.to_string())),
                ("business_id", input.business_id)
            ])
        ))
        .await
    }

    async fn usage(&self, arguments: JsonObject) -> Outcome {
        let input: Usage = parse(arguments)?;
        let limit = bounded(input.limit, "limit", 50, 100)?;
        self.get(&format!("/usage?limit={limit}")).await
    }

    async fn make_call(&self, arguments: JsonObject) -> Outcome {
        let input: MakeCall = parse(arguments)?;
        let body = json!({
            "agent_id": input.agent_id,
            "to": input.to,
            "name": input.name,
            "context": input.context,
            "first_message": input.first_message,
            "lead_id": input.lead_id,
        });
        let mut request = LocalRequest::new(Method::POST, "/calls", Some(strip_nulls(body)));
        request.idempotency_key = input.idempotency_key.as_deref();
        let answer = self.send(request).await;
        if !answer.ok() {
            return Err(Failed::from(&answer));
        }
        let call = &answer.body;
        let test_mode = self
            .caller
            .is_test()
            .or_else(|| call["mode"].as_str().map(|m| m == "test"));
        Ok(json!({
            "replayed": answer.replayed,
            "idempotency_key": input.idempotency_key,
            "test_mode": test_mode,
            "call": {
                "id": call["id"],
                "conversation_id": call["conversation_id"],
                "status": call["status"],
                "agent_id": call["agent_id"],
                "business_id": call["business_id"],
                "lead_id": call["lead_id"],
                "to": call["to"],
            },
        }))
    }

    async fn end_call(&self, arguments: JsonObject) -> Outcome {
        let input: CallId = parse(arguments)?;
        let path = format!("/calls/end{}", query(&[("id", Some(input.call_id))]));
        let answer = self
            .send(LocalRequest::new(Method::POST, &path, None))
            .await;
        if !answer.ok() {
            return Err(Failed::from(&answer));
        }
        let mut call = answer.body;
        call_brief(&mut call);
        Ok(json!({"call": call}))
    }

    async fn upsert_lead(&self, arguments: JsonObject) -> Outcome {
        let input: UpsertLead = parse(arguments)?;
        let existing = match (&input.lead_id, &input.phone) {
            (Some(id), _) => Some(id.clone()),
            (None, Some(phone)) => {
                let found = self
                    .get(&format!(
                        "/leads{}",
                        query(&[("phone", Some(phone.clone())), ("limit", Some("1".into()))])
                    ))
                    .await?;
                found["leads"][0]["id"].as_str().map(str::to_string)
            }
            (None, None) => return Err(Failed::invalid("phone", "phone (or lead_id) is required")),
        };
        let fields = strip_nulls(json!({
            "phone": input.phone,
            "name": input.name,
            "email": input.email,
            "status": input.status,
            "notes": input.notes,
            "source": input.source,
            "agent_id": input.agent_id,
        }));
        let (answer, created) = match existing {
            Some(id) => {
                let mut body = fields;
                body["id"] = json!(id);
                let answer = self
                    .send(LocalRequest::new(Method::PATCH, "/leads", Some(body)))
                    .await;
                (answer, false)
            }
            None => {
                let mut body = fields;
                if let Some(b) = input.business_id {
                    body["business_id"] = json!(b);
                }
                let answer = self
                    .send(LocalRequest::new(Method::POST, "/leads", Some(body)))
                    .await;
                (answer, true)
            }
        };
        if !answer.ok() {
            return Err(Failed::from(&answer));
        }
        Ok(json!({"created": created, "lead": answer.body}))
    }

    /// Waits in slices: with a progress token, one notification per slice (so a
    /// client sees the call is alive); without, one long wait.
    async fn list_campaigns(&self, arguments: JsonObject) -> Outcome {
        let input: ListCampaigns = parse(arguments)?;
        let limit = bounded(input.limit, "limit", 20, 100)?;
        let pairs = [("status", input.status), ("limit", Some(limit.to_string()))];
        let body = self.get(&format!("/campaigns{}", query(&pairs))).await?;
        let campaigns = body["campaigns"].as_array().cloned().unwrap_or_default();
        Ok(json!({
            "count": campaigns.len(),
            "has_more": body["has_more"],
            "campaigns": campaigns,
        }))
    }

    async fn get_campaign(&self, arguments: JsonObject) -> Outcome {
        let input: GetCampaign = parse(arguments)?;
        let id = Some(input.campaign_id);
        let campaign = self
            .get(&format!("/campaigns{}", query(&[("id", id.clone())])))
            .await?;
        let contacts = match input.contact_state {
            Some(state) => {
                let pairs = [
                    ("id", id),
                    ("state", Some(state)),
                    ("limit", Some("100".into())),
                ];
                let page = self
                    .get(&format!("/campaigns/contacts{}", query(&pairs)))
                    .await?;
                page["contacts"].clone()
            }
            None => Value::Null,
        };
        Ok(json!({"campaign": campaign, "contacts": contacts}))
    }

    async fn create_campaign(&self, arguments: JsonObject) -> Outcome {
        let input: CreateCampaign = parse(arguments)?;
        let body = json!({
            "name": input.name,
            "agent_id": input.agent_id,
            "contacts": input.contacts,
            "lead_ids": input.lead_ids,
            "context": input.context,
            "first_message": input.first_message,
            "max_concurrency": input.max_concurrency,
            "ends_at": input.ends_at,
            "retry": input.max_attempts.map(|n| json!({"max_attempts": n})),
            "require_consent": input.require_consent,
            "start": input.start,
        });
        let mut request = LocalRequest::new(Method::POST, "/campaigns", Some(strip_nulls(body)));
        request.idempotency_key = input.idempotency_key.as_deref();
        let answer = self.send(request).await;
        if !answer.ok() {
            return Err(Failed::from(&answer));
        }
        let mut campaign = answer.body;
        let added = campaign
            .as_object_mut()
            .and_then(|c| c.remove("contacts_added"))
            .unwrap_or(Value::Null);
        Ok(json!({"replayed": answer.replayed, "campaign": campaign, "contacts_added": added}))
    }

    async fn pause_campaign(&self, arguments: JsonObject) -> Outcome {
        let input: CampaignId = parse(arguments)?;
        let path = format!(
            "/campaigns/pause{}",
            query(&[("id", Some(input.campaign_id))])
        );
        let answer = self
            .send(LocalRequest::new(Method::POST, &path, None))
            .await;
        if !answer.ok() {
            return Err(Failed::from(&answer));
        }
        Ok(json!({"campaign": answer.body}))
    }

    async fn wait_for_call(&self, arguments: JsonObject) -> Outcome {
        const SLICE_SECS: u32 = 5;
        let input: WaitForCall = parse(arguments)?;
        let timeout = bounded(input.timeout_s, "timeout_s", 25, 50)?;
        let progress = self.context.meta.get_progress_token();
        let started = tokio::time::Instant::now();
        let mut waited = 0;
        loop {
            let left = timeout.saturating_sub(waited);
            let slice = if progress.is_some() {
                left.min(SLICE_SECS)
            } else {
                left
            };
            let call = self.detail(&input.call_id, Some(slice)).await?;
            let status = call["status"].as_str().unwrap_or_default().to_string();
            let done = matches!(status.as_str(), "completed" | "failed" | "canceled");
            waited = started.elapsed().as_secs() as u32;
            if done || waited >= timeout || self.context.ct.is_cancelled() {
                let message = if done {
                    format!("The call has ended: {status}.")
                } else {
                    format!(
                        "The call is still {status} after {waited} s: call wait_for_call again to keep waiting."
                    )
                };
                let mut out = transcript_of(&call);
                let mut brief = call;
                call_brief(&mut brief);
                brief["transcript"] = out["transcript"].take();
                return Ok(json!({"done": done, "message": message, "call": brief}));
            }
            if let Some(token) = progress.clone() {
                let note = ProgressNotificationParam::new(token, waited as f64)
                    .with_total(timeout as f64)
                    .with_message(format!("The call is {status}"));
                // A client that went away stops the wait below (cancellation).
                let _ = self.context.peer.notify_progress(note).await;
            } else {
                // Nothing to report and no change: avoid spinning on a zero slice.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

fn strip_nulls(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        map.retain(|_, v| !v.is_null());
    }
    value
}

/// The published shape of a page: items, count, paging and the filters used.
fn page_of(
    noun: &str,
    items: Vec<Value>,
    more_beyond: bool,
    limit: usize,
    offset: usize,
    filters: Value,
) -> Value {
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    let has_more = more_beyond || total > offset + page.len();
    json!({
        noun: page,
        "count": page.len(),
        "limit": limit,
        "offset": offset,
        "has_more": has_more,
        "next_offset": if has_more { Some(offset + page.len()) } else { None },
        "filters": strip_nulls(filters),
    })
}

/// A call detail without its bulky parts (the transcript has its own tool), with
/// `duration_seconds` as the published tools name it.
fn call_brief(call: &mut Value) {
    if let Value::Object(map) = call {
        for bulky in ["transcript", "variables", "events"] {
            map.shift_remove(bulky);
        }
        let duration = map.get("duration").cloned().unwrap_or(Value::Null);
        map.insert("duration_seconds".into(), duration);
    }
}

/// The most transcript characters a result carries (a model's context is finite).
const MAX_TRANSCRIPT_CHARS: usize = 100_000;

fn transcript_of(call: &Value) -> Value {
    let turns = call["transcript"].as_array().cloned().unwrap_or_default();
    let text: String = turns
        .iter()
        .map(|t| {
            let who = match t["role"].as_str() {
                Some("agent") => "Agent",
                _ => "Customer",
            };
            format!("{who}: {}", t["text"].as_str().unwrap_or_default())
        })
        .collect::<Vec<_>>()
        .join("\n");
    let length = text.chars().count();
    let truncated = length > MAX_TRANSCRIPT_CHARS;
    let shown: Option<String> = if turns.is_empty() {
        None
    } else if truncated {
        Some(text.chars().take(MAX_TRANSCRIPT_CHARS).collect())
    } else {
        Some(text)
    };
    json!({
        "call": {"id": call["id"], "status": call["status"], "duration_seconds": call["duration"]},
        "transcript_available": shown.is_some(),
        "transcript": shown,
        "transcript_truncated": truncated,
        "transcript_length": length,
        "summary": call["summary"],
        "outcome": call["outcome"],
    })
}
