//! Voice providers: what actually places a call. The engine talks to every provider
//! through [`VoiceProvider`]; providers report progress back as [`ProviderEvent`]s,
//! which the engine applies through the call state machine.
//!
//! The built-in [`simulator::Simulator`] answers `dial` with a script of events at
//! offsets; the engine stores that script as durable jobs, so a simulated call keeps
//! progressing across restarts exactly like a real one whose events arrive later.

pub mod analyzer;
pub mod chat_analyzer;
pub mod recording;
pub mod simulator;
pub mod vapi;

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a provider needs to place a call.
#[derive(Debug, Clone)]
pub struct DialRequest {
    pub call_id: String,
    pub to: String,
    pub from: String,
    pub agent_name: String,
    pub vapi_assistant_id: Option<String>,
    /// The provider's id of the number dialed from (Vapi's `phoneNumberId`).
    pub vapi_phone_number_id: Option<String>,
    /// Where live-call commands go (from `Dialed::control_url`).
    pub control_url: Option<String>,
    pub system_prompt: Option<String>,
    /// The agent's model (`{"provider", "model", …}`): with both named, Vapi gets the
    /// prompt for this direction as the model's system message.
    pub model: Value,
    /// The opening line: the call's `firstMessage`, else the agent's greeting.
    pub first_message: Option<String>,
    pub name: Option<String>,
    pub context: Option<String>,
    pub variables: Value,
    pub max_duration: i64,
    /// On reaching voicemail: leave a message (else hang up) …
    pub leave_voicemail: bool,
    /// … this one, variables filled in (`None`: a short call-back request).
    pub voicemail_message: Option<String>,
}

/// `template` with `{{key}}` replaced by the call's variable `key` (unknown keys are
/// left as they are).
pub fn render(template: &str, variables: &Value) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        let key = rest[start + 2..start + 2 + len].trim();
        let value = match &variables[key] {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        out.push_str(&rest[..start]);
        match value {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[start..start + 4 + len]),
        }
        rest = &rest[start + 4 + len..];
    }
    out.push_str(rest);
    out
}

/// A provider's answer to `dial`.
#[derive(Debug)]
pub struct Dialed {
    pub conversation_id: String,
    /// Where the provider takes commands for this call (hang up), if it has one.
    pub control_url: Option<String>,
    /// Events the provider will deliver, at offsets in the provider's seconds. Real
    /// providers return none (their events arrive by webhook); the simulator returns
    /// its whole script.
    pub script: Vec<Scripted>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scripted {
    pub after_secs: f64,
    pub event: ProviderEvent,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProviderEvent {
    /// The agent uses one of its tools (a scripted inbound caller's step).
    Tool {
        name: String,
        arguments: Value,
    },
    Ringing,
    Answered,
    Ended {
        /// The provider's own ended-reason code, kept beside our normalized one.
        raw_reason: String,
        duration_secs: Option<i64>,
        report: Option<EndReport>,
    },
}

/// What a provider knows once a conversation is over.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EndReport {
    pub transcript: Vec<Turn>,
    pub recording_url: Option<String>,
    pub summary: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Turn {
    pub role: Role,
    pub text: String,
    pub start_s: f64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Customer,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused the call (answered as `500 call_failed`).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub trait VoiceProvider: Send + Sync {
    /// Stored on the call (`provider`).
    fn name(&self) -> &'static str;

    /// Provider seconds per wall-clock second: 1 for real providers, the simulation
    /// speed for the simulator. The engine times `max_duration` with it.
    fn time_scale(&self) -> f64;

    fn dial<'a>(&'a self, request: &'a DialRequest)
        -> BoxFuture<'a, Result<Dialed, ProviderError>>;

    /// Ends a live conversation that has lasted `duration_secs`; returns the end
    /// report when the provider has it at once.
    fn hang_up<'a>(
        &'a self,
        request: &'a DialRequest,
        conversation_id: &'a str,
        duration_secs: i64,
    ) -> BoxFuture<'a, Result<Option<EndReport>, ProviderError>>;

    /// Asks the provider where a call stands, for calls whose events may have been
    /// lost. `None`: nothing to report (or the provider keeps no state to ask).
    fn poll<'a>(
        &'a self,
        _conversation_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ProviderEvent>, ProviderError>> {
        Box::pin(async { Ok(None) })
    }
}
