//! Live calls through Vapi. Dial with `POST {base}/call`; Vapi reports progress to our
//! provider-events endpoint (`calls::provider_events`) as `status-update` and
//! `end-of-call-report` server messages; hang up through the call's
//! `monitor.controlUrl`; and, because Vapi does not retry its webhooks by default,
//! `GET {base}/call/{id}` reconciles calls whose end never arrived.

use std::time::Duration;

use chrono::DateTime;
use serde_json::{json, Value};

use super::{
    BoxFuture, DialRequest, Dialed, EndReport, ProviderError, ProviderEvent, Role, Turn,
    VoiceProvider,
};

pub const DEFAULT_BASE_URL: &str = "https://api.vapi.ai";
/// The path Vapi posts server messages to, under our public URL.
pub const EVENTS_PATH: &str = "/api/v1/providers/vapi/events";

pub struct Vapi {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
    server_url: String,
    server_secret: String,
}

impl Vapi {
    pub fn new(
        base_url: &str,
        api_key: &str,
        public_url: &str,
        server_secret: &str,
    ) -> anyhow::Result<Vapi> {
        Ok(Vapi {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()?,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            server_url: format!("{}{EVENTS_PATH}", public_url.trim_end_matches('/')),
            server_secret: server_secret.to_string(),
        })
    }

    /// Checks the shared secret a server message carries, in constant time.
    pub fn verify_secret(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        !presented.is_empty()
            && bool::from(presented.as_bytes().ct_eq(self.server_secret.as_bytes()))
    }

    /// Where Vapi sends this deployment's server messages, with our secret.
    pub fn server(&self) -> Value {
        json!({ "url": self.server_url, "headers": { "X-Vapi-Secret": self.server_secret } })
    }

    /// The body of `POST /call` for this request.
    pub fn call_body(&self, req: &DialRequest) -> Value {
        let mut variables = match &req.variables {
            Value::Object(map) => map.clone(),
            _ => Default::default(),
        };
        if let Some(context) = &req.context {
            variables.insert("context".into(), json!(context));
        }
        let mut overrides = json!({
            "variableValues": variables,
            "maxDurationSeconds": req.max_duration,
            "server": {
                "url": self.server_url,
                "headers": { "X-Vapi-Secret": self.server_secret },
            },
            "serverMessages": ["status-update", "end-of-call-report"],
            "metadata": { "kaicalls_call_id": req.call_id },
            "monitorPlan": { "controlEnabled": true },
        });
        if let Some(first) = &req.first_message {
            overrides["firstMessage"] = json!(first);
        }
        // The agent's outbound prompt; Vapi takes a model override only whole.
        if let (Some(provider), Some(model), Some(prompt)) = (
            req.model["provider"].as_str(),
            req.model["model"].as_str(),
            &req.system_prompt,
        ) {
            overrides["model"] = json!({
                "provider": provider,
                "model": model,
                "messages": [{ "role": "system", "content": prompt }],
            });
        }
        // Vapi's own voicemail detection; with a message it leaves it, without it
        // ends the call (endedReason "voicemail" either way).
        overrides["voicemailDetection"] = json!({ "provider": "vapi" });
        if req.leave_voicemail {
            let message = req.voicemail_message.clone().unwrap_or_else(|| {
                format!(
                    "Hi, this is {} calling. Please call us back at {} when you have a moment. Thank you!",
                    req.agent_name, req.from
                )
            });
            overrides["voicemailMessage"] = json!(message);
        }
        let mut customer = json!({ "number": req.to });
        if let Some(name) = &req.name {
            customer["name"] = json!(name);
        }
        json!({
            "assistantId": req.vapi_assistant_id,
            "phoneNumberId": req.vapi_phone_number_id,
            "customer": customer,
            "assistantOverrides": overrides,
        })
    }
}

fn refused(message: String) -> ProviderError {
    ProviderError::Refused(message)
}

impl VoiceProvider for Vapi {
    fn name(&self) -> &'static str {
        "vapi"
    }

    fn time_scale(&self) -> f64 {
        1.0
    }

    fn dial<'a>(&'a self, req: &'a DialRequest) -> BoxFuture<'a, Result<Dialed, ProviderError>> {
        Box::pin(async move {
            if req.vapi_assistant_id.is_none() {
                return Err(refused(
                    "The agent has no vapi_assistant_id: set it with PATCH /api/v1/agents".into(),
                ));
            }
            if req.vapi_phone_number_id.is_none() {
                return Err(refused(
                    "The agent's number has no vapi_phone_number_id: set it with POST /api/v1/phone-numbers".into(),
                ));
            }
            let resp = self
                .http
                .post(format!("{}/call", self.base_url))
                .bearer_auth(&self.api_key)
                .json(&self.call_body(req))
                .send()
                .await
                .map_err(|e| refused(format!("Vapi could not be reached: {e}")))?;
            let status = resp.status();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                let detail = body["message"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| body.to_string());
                return Err(refused(format!(
                    "Vapi refused the call ({status}): {detail}"
                )));
            }
            let conversation_id = body["id"]
                .as_str()
                .ok_or_else(|| refused("Vapi's answer has no call id".into()))?
                .to_string();
            Ok(Dialed {
                conversation_id,
                control_url: body["monitor"]["controlUrl"].as_str().map(str::to_string),
                script: vec![],
            })
        })
    }

    fn hang_up<'a>(
        &'a self,
        req: &'a DialRequest,
        _conversation_id: &'a str,
        _duration_secs: i64,
    ) -> BoxFuture<'a, Result<Option<EndReport>, ProviderError>> {
        Box::pin(async move {
            let Some(url) = &req.control_url else {
                return Err(ProviderError::Other(anyhow::anyhow!(
                    "the call has no control URL to hang up through"
                )));
            };
            let resp = self
                .http
                .post(url)
                .json(&json!({ "type": "end-call" }))
                .send()
                .await
                .map_err(|e| ProviderError::Other(e.into()))?;
            if !resp.status().is_success() {
                return Err(ProviderError::Other(anyhow::anyhow!(
                    "Vapi's control URL answered {}",
                    resp.status()
                )));
            }
            // The end-of-call report follows as a server message.
            Ok(None)
        })
    }

    fn poll<'a>(
        &'a self,
        conversation_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ProviderEvent>, ProviderError>> {
        Box::pin(async move {
            let resp = self
                .http
                .get(format!("{}/call/{conversation_id}", self.base_url))
                .bearer_auth(&self.api_key)
                .send()
                .await
                .map_err(|e| ProviderError::Other(e.into()))?;
            if !resp.status().is_success() {
                return Err(ProviderError::Other(anyhow::anyhow!(
                    "GET /call/{conversation_id} answered {}",
                    resp.status()
                )));
            }
            let call: Value = resp
                .json()
                .await
                .map_err(|e| ProviderError::Other(e.into()))?;
            Ok(match call["status"].as_str() {
                Some("ended") => Some(ended_event(&call)),
                Some("in-progress") => Some(ProviderEvent::Answered),
                Some("ringing") => Some(ProviderEvent::Ringing),
                _ => None,
            })
        })
    }
}

/// What a Vapi server message means for the call, if anything. `Ok(None)` for
/// messages we do not act on.
pub fn event_of_message(message: &Value) -> Option<ProviderEvent> {
    match message["type"].as_str()? {
        "status-update" => match message["status"].as_str()? {
            "ringing" => Some(ProviderEvent::Ringing),
            "in-progress" => Some(ProviderEvent::Answered),
            // The report follows with the details; reconciliation covers its loss.
            _ => None,
        },
        "end-of-call-report" => Some(ended_event(message)),
        _ => None,
    }
}

/// An `Ended` event from an end-of-call report or a `GET /call` body (the same
/// fields: endedReason, startedAt, endedAt, artifact, analysis).
pub fn ended_event(m: &Value) -> ProviderEvent {
    let artifact = &m["artifact"];
    let seconds = |field: &str| {
        m[field]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    };
    let duration = match (seconds("startedAt"), seconds("endedAt")) {
        (Some(a), Some(b)) => Some((b - a).num_milliseconds().max(0) / 1000),
        _ => m["durationSeconds"]
            .as_f64()
            .map(|d| d.round().max(0.0) as i64),
    };
    let messages = artifact["messages"]
        .as_array()
        .or_else(|| m["messages"].as_array());
    let mut transcript: Vec<Turn> = messages
        .map(|list| {
            list.iter()
                .filter_map(|msg| {
                    let role = match msg["role"].as_str()? {
                        "bot" | "assistant" => Role::Agent,
                        "user" | "customer" => Role::Customer,
                        _ => return None,
                    };
                    Some(Turn {
                        role,
                        text: msg["message"]
                            .as_str()
                            .or(msg["content"].as_str())?
                            .to_string(),
                        start_s: msg["secondsFromStart"].as_f64().unwrap_or(0.0),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    if transcript.is_empty() {
        let text = artifact["transcript"]
            .as_str()
            .or(m["transcript"].as_str())
            .unwrap_or("");
        transcript = text
            .lines()
            .filter_map(|line| {
                let (who, said) = line.split_once(':')?;
                let role = match who.trim() {
                    "AI" | "Assistant" | "Bot" => Role::Agent,
                    "User" | "Customer" => Role::Customer,
                    _ => return None,
                };
                Some(Turn {
                    role,
                    text: said.trim().to_string(),
                    start_s: 0.0,
                })
            })
            .collect();
    }
    let recording_url = artifact["recordingUrl"]
        .as_str()
        .or(m["recordingUrl"].as_str())
        .map(str::to_string);
    let summary = m["analysis"]["summary"]
        .as_str()
        .or(m["summary"].as_str())
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string);
    ProviderEvent::Ended {
        raw_reason: m["endedReason"].as_str().unwrap_or("unknown").to_string(),
        duration_secs: duration,
        report: Some(EndReport {
            transcript,
            recording_url,
            summary,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_of_call_reports_parse_in_both_shapes() {
        let report = json!({
            "type": "end-of-call-report",
            "endedReason": "customer-ended-call",
            "startedAt": "2026-02-15T14:30:00.000Z",
            "endedAt": "2026-02-15T14:32:07.400Z",
            "artifact": {
                "messages": [
                    {"role": "system", "message": "prompt", "secondsFromStart": 0},
                    {"role": "bot", "message": "Hi John", "secondsFromStart": 0.5},
                    {"role": "user", "message": "Hello", "secondsFromStart": 2.0}
                ],
                "recordingUrl": "https://storage.vapi.ai/rec.wav"
            },
            "analysis": {"summary": "Confirmed."}
        });
        let ProviderEvent::Ended {
            raw_reason,
            duration_secs,
            report,
        } = ended_event(&report)
        else {
            panic!()
        };
        assert_eq!(raw_reason, "customer-ended-call");
        assert_eq!(duration_secs, Some(127));
        let report = report.unwrap();
        assert_eq!(report.transcript.len(), 2);
        assert_eq!(report.transcript[0].role, Role::Agent);
        assert_eq!(report.summary.as_deref(), Some("Confirmed."));
        assert_eq!(
            report.recording_url.as_deref(),
            Some("https://storage.vapi.ai/rec.wav")
        );

        let legacy = json!({"type": "end-of-call-report", "endedReason": "voicemail",
                            "transcript": "AI: Hi\nUser: Who is this?", "recordingUrl": "https://r"});
        let ProviderEvent::Ended { report, .. } = ended_event(&legacy) else {
            panic!()
        };
        assert_eq!(report.unwrap().transcript[1].text, "Who is this?");

        let negative = json!({"type": "end-of-call-report", "durationSeconds": -127.5});
        let ProviderEvent::Ended { duration_secs, .. } = ended_event(&negative) else {
            panic!()
        };
        assert_eq!(duration_secs, Some(0));
    }

    #[test]
    fn status_updates_map_to_progress() {
        let m = |s: &str| json!({"type": "status-update", "status": s});
        assert_eq!(
            event_of_message(&m("ringing")),
            Some(ProviderEvent::Ringing)
        );
        assert_eq!(
            event_of_message(&m("in-progress")),
            Some(ProviderEvent::Answered)
        );
        assert_eq!(event_of_message(&m("queued")), None);
        assert_eq!(event_of_message(&json!({"type": "transcript"})), None);
    }
}
