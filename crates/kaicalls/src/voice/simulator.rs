//! The built-in call simulator (SPEC §6): deterministic by the number dialled, with
//! simulated time running at `KAICALLS_SIM_SPEED` simulated seconds per wall second.
//!
//! | to            | outcome                                              |
//! |---------------|------------------------------------------------------|
//! | +15005550001  | failed, no_answer                                    |
//! | +15005550002  | failed, busy                                         |
//! | +15005550003  | failed, invalid_number                               |
//! | +15005550004  | completed, voicemail (agent leaves a message)        |
//! | +15005550005  | dial refused: POST answers 500 call_failed           |
//! | +15005550006  | customer never hangs up: the engine ends it at max_duration |
//! | +15005550007  | completed; the customer asks not to be called again (opt-out) |
//! | any other     | rings, answers, converses 20–240 s, customer_hangup  |
//!
//! A US/Canadian number outside the fictional 555 exchange whose line ends in
//! `0001`–`0007` (`+1 NPA NXX 000d`, NXX not 555) behaves as `+1500555000d`: the
//! branches above with a real area code, so calling hours, state rules and retries
//! can be exercised with geography (test mode only ever reaches the simulator).
//! `NXX-555` numbers always converse normally.

use super::{
    BoxFuture, DialRequest, Dialed, EndReport, ProviderError, ProviderEvent, Role, Scripted, Turn,
    VoiceProvider,
};

/// Simulated seconds from dial to the phone ringing, and from ringing to an answer.
const RING_AFTER: f64 = 1.0;
const ANSWER_AFTER: f64 = 6.0;

pub struct Simulator {
    speed: f64,
}

/// The magic number a dialed number plays: itself, or for `+1 NPA NXX 000d`
/// (d in 1–7, NXX not 555) the `+1500555000d` whose branch it takes.
fn magic(to: &str) -> &str {
    const MAGIC: [&str; 7] = [
        "+15005550001",
        "+15005550002",
        "+15005550003",
        "+15005550004",
        "+15005550005",
        "+15005550006",
        "+15005550007",
    ];
    let b = to.as_bytes();
    if b.len() == 12 && to.starts_with("+1") && &to[5..8] != "555" && &to[8..11] == "000" {
        if let Some(d @ b'1'..=b'7') = b.get(11) {
            return MAGIC[usize::from(d - b'1')];
        }
    }
    to
}

impl Simulator {
    pub fn new(speed: f64) -> Simulator {
        Simulator {
            speed: if speed > 0.0 { speed } else { 10.0 },
        }
    }

    /// How long a normal simulated conversation to `to` lasts: 20–240 s.
    pub fn talk_secs(to: &str) -> i64 {
        20 + (fnv1a(to) % 221) as i64
    }

    fn report(&self, transcript: Vec<Turn>) -> Option<EndReport> {
        Some(EndReport {
            transcript,
            // Rendered by us from the transcript when the call is stored.
            recording_url: Some(crate::recordings::SIMULATED.to_string()),
            summary: None,
        })
    }

    /// The full script of a call, or the refusal of `+15005550005`.
    pub fn script(&self, req: &DialRequest) -> Result<Vec<Scripted>, ProviderError> {
        let at = |after_secs: f64, event: ProviderEvent| Scripted { after_secs, event };
        let ended =
            |raw: &str, duration: Option<i64>, report: Option<EndReport>| ProviderEvent::Ended {
                raw_reason: raw.to_string(),
                duration_secs: duration,
                report,
            };
        let script = match magic(&req.to) {
            "+15005550001" => vec![
                at(RING_AFTER, ProviderEvent::Ringing),
                at(
                    RING_AFTER + 30.0,
                    ended("customer-did-not-answer", None, None),
                ),
            ],
            "+15005550002" => vec![
                at(RING_AFTER, ProviderEvent::Ringing),
                at(RING_AFTER + 2.0, ended("customer-busy", None, None)),
            ],
            "+15005550003" => vec![at(0.5, ended("invalid-number", None, None))],
            // A machine answers: the agent leaves its message, or hangs up at the beep.
            "+15005550004" if !req.leave_voicemail => vec![
                at(RING_AFTER, ProviderEvent::Ringing),
                at(RING_AFTER + 15.0, ProviderEvent::Answered),
                at(
                    RING_AFTER + 18.0,
                    ended("voicemail", Some(3), self.report(vec![])),
                ),
            ],
            "+15005550004" => {
                let talk = 35;
                vec![
                    at(RING_AFTER, ProviderEvent::Ringing),
                    at(RING_AFTER + 15.0, ProviderEvent::Answered),
                    at(
                        RING_AFTER + 15.0 + talk as f64,
                        ended("voicemail", Some(talk), self.report(voicemail(req))),
                    ),
                ]
            }
            // Answers and asks not to be called again: the opt-out path.
            "+15005550007" => {
                let talk = 25;
                vec![
                    at(RING_AFTER, ProviderEvent::Ringing),
                    at(ANSWER_AFTER, ProviderEvent::Answered),
                    at(
                        ANSWER_AFTER + talk as f64,
                        ended("customer-ended-call", Some(talk), self.report(opt_out(req))),
                    ),
                ]
            }
            "+15005550005" => {
                return Err(ProviderError::Refused(
                    "The carrier rejected the call (simulated provider refusal)".into(),
                ))
            }
            // Never hangs up: only the engine's max_duration enforcement ends it.
            "+15005550006" => vec![
                at(RING_AFTER, ProviderEvent::Ringing),
                at(ANSWER_AFTER, ProviderEvent::Answered),
            ],
            to => {
                let talk = Self::talk_secs(to);
                vec![
                    at(RING_AFTER, ProviderEvent::Ringing),
                    at(ANSWER_AFTER, ProviderEvent::Answered),
                    at(
                        ANSWER_AFTER + talk as f64,
                        ended(
                            "customer-ended-call",
                            Some(talk),
                            self.report(conversation(req, talk, false)),
                        ),
                    ),
                ]
            }
        };
        Ok(script)
    }
}

impl VoiceProvider for Simulator {
    fn name(&self) -> &'static str {
        "simulator"
    }

    fn time_scale(&self) -> f64 {
        self.speed
    }

    fn dial<'a>(&'a self, req: &'a DialRequest) -> BoxFuture<'a, Result<Dialed, ProviderError>> {
        Box::pin(async move {
            let script = self.script(req)?;
            Ok(Dialed {
                conversation_id: format!("sim-conv-{}", uuid::Uuid::new_v4().simple()),
                control_url: None,
                script,
            })
        })
    }

    fn hang_up<'a>(
        &'a self,
        req: &'a DialRequest,
        _conversation_id: &'a str,
        duration_secs: i64,
    ) -> BoxFuture<'a, Result<Option<EndReport>, ProviderError>> {
        Box::pin(async move { Ok(self.report(conversation(req, duration_secs, true))) })
    }
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

fn greeting(req: &DialRequest) -> String {
    match &req.first_message {
        Some(m) if !m.trim().is_empty() => m.clone(),
        _ => match first_name(req) {
            Some(name) => format!(
                "Hi {name}, this is {} calling. Do you have a minute?",
                req.agent_name
            ),
            None => format!(
                "Hi, this is {} calling. Do you have a minute?",
                req.agent_name
            ),
        },
    }
}

fn first_name(req: &DialRequest) -> Option<String> {
    req.name
        .as_deref()
        .and_then(|n| n.split_whitespace().next())
        .map(str::to_string)
}

/// A plausible conversation of `duration` seconds built from the greeting, the
/// customer's name and the call's context. `cut_off` marks a call ended by us (time
/// limit or API) rather than by a goodbye.
pub fn conversation(req: &DialRequest, duration: i64, cut_off: bool) -> Vec<Turn> {
    let name = first_name(req);
    let topic = req
        .context
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| c.trim_end_matches('.').to_string());
    let mut lines: Vec<(Role, String)> = vec![
        (Role::Agent, greeting(req)),
        (
            Role::Customer,
            match &name {
                Some(n) => format!("Hi, yes, this is {n}. Sure, I have a minute."),
                None => "Hi, sure, I have a minute.".to_string(),
            },
        ),
        (
            Role::Agent,
            match &topic {
                Some(t) => format!("Thank you. I'm calling about this: {t}. Does that still work for you?"),
                None => "Thank you. I'm following up on your recent inquiry. How can we help you?".to_string(),
            },
        ),
        (
            Role::Customer,
            "Yes, that works for me. I did have a question, though.".to_string(),
        ),
        (
            Role::Agent,
            "Of course, I understand. What would you like to know?".to_string(),
        ),
        (
            Role::Customer,
            "Will I get a confirmation by text or email?".to_string(),
        ),
        (
            Role::Agent,
            "Yes, we'll send a confirmation right after this call. What's the best email to reach you?".to_string(),
        ),
        (Role::Customer, "The one you have on file is fine.".to_string()),
    ];
    // Longer calls hold more back-and-forth: one more exchange per 30 s.
    let extra = ((duration - 60).max(0) / 30) as usize;
    let fillers = [
        (
            "Is there anything else about your situation I should note for the team?",
            "Just that mornings are easier for me.",
        ),
        (
            "Got it, I appreciate you telling me. Would a reminder the day before help?",
            "Yes, a reminder would be great.",
        ),
        (
            "Perfect. Do you have any other questions for us?",
            "Let me think... no, I think that covers it.",
        ),
    ];
    for i in 0..extra {
        let (a, c) = fillers[i % fillers.len()];
        lines.push((Role::Agent, a.to_string()));
        lines.push((Role::Customer, c.to_string()));
    }
    if cut_off {
        lines.push((
            Role::Customer,
            "And one more thing I wanted to ask about...".to_string(),
        ));
        lines.push((
            Role::Agent,
            "I'm sorry, I have to end our call here. We'll follow up by email. Goodbye."
                .to_string(),
        ));
    } else {
        lines.push((
            Role::Agent,
            "Great, you're all set. Thank you for your time, have a wonderful day!".to_string(),
        ));
        lines.push((Role::Customer, "Thanks, you too. Bye!".to_string()));
    }
    spread(lines, duration)
}

/// The message the agent leaves on a voicemail.
fn voicemail(req: &DialRequest) -> Vec<Turn> {
    if let Some(message) = req
        .voicemail_message
        .as_deref()
        .filter(|m| !m.trim().is_empty())
    {
        return spread(vec![(Role::Agent, message.to_string())], 35);
    }
    let who = first_name(req).map(|n| format!(" {n}")).unwrap_or_default();
    let topic = req
        .context
        .as_deref()
        .map(|c| {
            format!(
                " I'm calling about this: {}.",
                c.trim().trim_end_matches('.')
            )
        })
        .unwrap_or_default();
    let text = format!(
        "Hi{who}, this is {} calling.{topic} Please call us back at {} when you have a moment. Thank you, goodbye!",
        req.agent_name, req.from
    );
    spread(vec![(Role::Agent, text)], 35)
}

/// A customer who wants no more calls.
fn opt_out(req: &DialRequest) -> Vec<Turn> {
    spread(
        vec![
            (Role::Agent, greeting(req)),
            (
                Role::Customer,
                "No. Please stop calling me and take me off your list.".to_string(),
            ),
            (
                Role::Agent,
                "I understand. I've noted that you don't want any more calls. Goodbye.".to_string(),
            ),
        ],
        25,
    )
}

/// Spaces the lines evenly over the call's length.
pub(crate) fn spread(lines: Vec<(Role, String)>, duration: i64) -> Vec<Turn> {
    let step = duration.max(1) as f64 / lines.len().max(1) as f64;
    lines
        .into_iter()
        .enumerate()
        .map(|(i, (role, text))| Turn {
            role,
            text,
            start_s: ((i as f64 * step) * 10.0).round() / 10.0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(to: &str) -> DialRequest {
        DialRequest {
            call_id: "c1".into(),
            to: to.into(),
            from: "+15125550000".into(),
            agent_name: "Kai".into(),
            vapi_assistant_id: None,
            vapi_phone_number_id: None,
            control_url: None,
            system_prompt: None,
            model: serde_json::Value::Null,
            first_message: Some("Hey John, this is Kai from Smith Law".into()),
            leave_voicemail: true,
            voicemail_message: None,
            name: Some("John Smith".into()),
            context: Some("Confirm appointment for tomorrow at 2pm".into()),
            variables: json!({}),
            max_duration: 600,
        }
    }

    fn last_end(script: &[Scripted]) -> Option<(&str, Option<i64>)> {
        script.iter().rev().find_map(|s| match &s.event {
            ProviderEvent::Ended {
                raw_reason,
                duration_secs,
                ..
            } => Some((raw_reason.as_str(), *duration_secs)),
            _ => None,
        })
    }

    #[test]
    fn magic_numbers() {
        let sim = Simulator::new(10.0);
        let cases = [
            ("+15005550001", "customer-did-not-answer"),
            ("+15005550002", "customer-busy"),
            ("+15005550003", "invalid-number"),
            ("+15005550004", "voicemail"),
            // The same branches with an area code: Honolulu, Miami.
            ("+18082000001", "customer-did-not-answer"),
            ("+13052000002", "customer-busy"),
            ("+12122000004", "voicemail"),
        ];
        for (to, raw) in cases {
            assert_eq!(last_end(&sim.script(&request(to)).unwrap()).unwrap().0, raw);
        }
        // Not a magic ending, or the 555 exchange: a conversation.
        for to in ["+18082000008", "+15125550005", "+15125550001"] {
            let plain = sim.script(&request(to)).unwrap();
            assert_eq!(last_end(&plain).unwrap().0, "customer-ended-call", "{to}");
        }
        assert!(matches!(
            sim.script(&request("+15005550005")),
            Err(ProviderError::Refused(_))
        ));
        assert_eq!(
            last_end(&sim.script(&request("+15005550006")).unwrap()),
            None
        );
        let normal = sim.script(&request("+15125551234")).unwrap();
        let (raw, duration) = last_end(&normal).unwrap();
        assert_eq!(raw, "customer-ended-call");
        assert!((20..=240).contains(&duration.unwrap()));
    }

    #[test]
    fn conversation_uses_greeting_name_and_context() {
        let turns = conversation(&request("+15125551234"), 127, false);
        assert_eq!(turns[0].role, Role::Agent);
        assert_eq!(turns[0].text, "Hey John, this is Kai from Smith Law");
        assert!(turns.iter().any(|t| t.text.contains("John")));
        assert!(turns
            .iter()
            .any(|t| t.text.contains("Confirm appointment for tomorrow at 2pm")));
        assert!(turns.windows(2).all(|w| w[0].start_s < w[1].start_s));
        assert!(turns.last().unwrap().start_s < 127.0);
    }

    #[test]
    fn talk_time_is_deterministic_and_in_range() {
        for i in 0..500 {
            let to = format!("+1512555{i:04}");
            let t = Simulator::talk_secs(&to);
            assert!((20..=240).contains(&t));
            assert_eq!(t, Simulator::talk_secs(&to));
        }
    }
}
