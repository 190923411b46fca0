//! The sandbox's simulated caller (`POST /api/v1/sandbox/inbound-calls`, test keys):
//! a scripted inbound conversation played through the same engine as any call (its
//! steps are durable `ProviderEvent` jobs, tool calls among them), chosen by the
//! caller's number:
//!
//! | from          | the caller                                                  |
//! |---------------|-------------------------------------------------------------|
//! | +15005550100  | hangs up at once (a missed call: no conversation)           |
//! | +15005550101  | asks for a person: `transfer_to_human`, ends `transferred` (a voicemail when nobody can take the call) |
//! | +15005550102  | leaves a voicemail                                          |
//! | +15005550103  | asks not to be called again: the number goes on the do-not-call list |
//! | +15005550104  | asks to be called back tomorrow at 10:00 UTC: `schedule_callback` |
//! | any other     | an intake conversation (`lookup_lead`, `update_lead`): a known lead when the business has one with that number, else a new lead |
//!
//! A call taken out of hours as a message (`after_hours_action: take_message`) is a
//! voicemail whoever calls.

use chrono::{Duration, Timelike};
use serde_json::json;

use crate::calls::Call;
use crate::clock::Timestamp;
use crate::voice::simulator::spread;
use crate::voice::{EndReport, ProviderEvent, Role, Scripted, Turn};

pub const HANGS_UP: &str = "+15005550100";
pub const WANTS_A_HUMAN: &str = "+15005550101";
pub const LEAVES_VOICEMAIL: &str = "+15005550102";
pub const OPTS_OUT: &str = "+15005550103";
pub const WANTS_A_CALLBACK: &str = "+15005550104";

/// The reason the caller who wants a person gives.
pub const HUMAN_REASON: &str = "I'd like to speak with a person about my case";

fn ended(raw: &str, duration: i64, transcript: Vec<Turn>) -> ProviderEvent {
    ProviderEvent::Ended {
        raw_reason: raw.to_string(),
        duration_secs: Some(duration),
        report: Some(EndReport {
            recording_url: (!transcript.is_empty())
                .then(|| crate::recordings::SIMULATED.to_string()),
            transcript,
            summary: None,
        }),
    }
}

fn tool(name: &str, arguments: serde_json::Value) -> ProviderEvent {
    ProviderEvent::Tool {
        name: name.to_string(),
        arguments,
    }
}

/// Tomorrow at 10:00 UTC.
fn tomorrow_ten(now: Timestamp) -> String {
    let t = now.to_datetime() + Duration::days(1);
    let t = t
        .with_hour(10)
        .and_then(|t| t.with_minute(0))
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t);
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The script of a simulated inbound call; `can_transfer`: a destination takes the
/// caller who asks for a person.
pub fn script(call: &Call, can_transfer: bool, now: Timestamp) -> Vec<Scripted> {
    let at = |after_secs: f64, event: ProviderEvent| Scripted { after_secs, event };
    let greeting = call.first_message.clone().unwrap_or_default();
    let me = call
        .name
        .as_deref()
        .and_then(|n| n.split_whitespace().next())
        .map(|n| format!("This is {n}. "))
        .unwrap_or_default();
    let line = |role: Role, text: &str| (role, text.to_string());
    let message = |duration: i64| {
        spread(
            vec![
                (Role::Agent, greeting.clone()),
                line(Role::Customer, &format!("Hi, {me}I'd like to leave a message, please.")),
                line(Role::Agent, "Of course. Go ahead, I'm listening."),
                line(Role::Customer, "I was in a car accident last Tuesday and I need help with the insurance claim. Please call me back when you can."),
                line(Role::Agent, "Thank you. I've taken your message and someone will call you back. Goodbye."),
            ],
            duration,
        )
    };
    if call.handling.as_deref() == Some("message") {
        return vec![
            at(1.0, ProviderEvent::Answered),
            at(41.0, ended("customer-ended-call", 40, message(40))),
        ];
    }
    match call.customer_number() {
        HANGS_UP => vec![at(2.0, ended("customer-ended-call", 0, vec![]))],
        WANTS_A_HUMAN if can_transfer => {
            let turns = spread(
                vec![
                    (Role::Agent, greeting.clone()),
                    line(Role::Customer, &format!("Hi. {me}{HUMAN_REASON}.")),
                    line(
                        Role::Agent,
                        "Of course. Let me connect you with someone who can help.",
                    ),
                ],
                15,
            );
            vec![
                at(1.0, ProviderEvent::Answered),
                at(
                    12.0,
                    tool("transfer_to_human", json!({ "reason": HUMAN_REASON })),
                ),
                at(16.0, ended("assistant-forwarded-call", 15, turns)),
            ]
        }
        WANTS_A_HUMAN | LEAVES_VOICEMAIL => vec![
            at(1.0, ProviderEvent::Answered),
            at(41.0, ended("customer-ended-call", 40, message(40))),
        ],
        OPTS_OUT => {
            let turns = spread(
                vec![
                    (Role::Agent, greeting.clone()),
                    line(
                        Role::Customer,
                        "You keep calling me. Please stop calling me and take me off your list.",
                    ),
                    line(
                        Role::Agent,
                        "I understand. I've noted that you don't want any more calls. Goodbye.",
                    ),
                ],
                20,
            );
            vec![
                at(1.0, ProviderEvent::Answered),
                at(21.0, ended("customer-ended-call", 20, turns)),
            ]
        }
        WANTS_A_CALLBACK => {
            let when = tomorrow_ten(now);
            let turns = spread(
                vec![
                    (Role::Agent, greeting.clone()),
                    line(Role::Customer, &format!("Hi, {me}I can't talk right now. Could someone call me back tomorrow morning at ten?")),
                    line(Role::Agent, "Certainly. I've scheduled a call back for tomorrow at ten. Talk to you then!"),
                    line(Role::Customer, "Thanks, bye."),
                ],
                25,
            );
            vec![
                at(1.0, ProviderEvent::Answered),
                at(
                    15.0,
                    tool(
                        "schedule_callback",
                        json!({ "at": when, "reason": "The caller asked to be called back tomorrow morning" }),
                    ),
                ),
                at(26.0, ended("customer-ended-call", 25, turns)),
            ]
        }
        _ => {
            let known = !call.lead_created;
            let opener = if known {
                format!("Hi, {me}I called before about my case. I wanted to give you an update.")
            } else {
                format!("Hi, {me}I was in a car accident last week and I'd like to talk to someone about it.")
            };
            let turns = spread(
                vec![
                    (Role::Agent, greeting.clone()),
                    (Role::Customer, opener),
                    line(Role::Agent, "I'm sorry to hear that. I've noted the details. Can you tell me when it happened and whether anyone was hurt?"),
                    line(Role::Customer, "It was last Tuesday, and my neck still hurts. The other driver ran a red light."),
                    line(Role::Agent, "Thank you. An attorney will review this and contact you. Is there anything else I can help with?"),
                    line(Role::Customer, "No, that's everything. Thank you, bye!"),
                ],
                60,
            );
            vec![
                at(1.0, ProviderEvent::Answered),
                at(5.0, tool("lookup_lead", json!({}))),
                at(
                    50.0,
                    tool(
                        "update_lead",
                        json!({ "status": "contacted", "notes": "Car accident last Tuesday; neck pain; the other driver ran a red light." }),
                    ),
                ),
                at(61.0, ended("customer-ended-call", 60, turns)),
            ]
        }
    }
}
