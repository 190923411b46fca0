//! The call analyzer: a summary, quality dimensions and an outcome computed from a
//! transcript. Every call goes through it, whatever provider placed it, so scores are
//! comparable. (With `KAICALLS_ANALYZER_URL` set, `chat_analyzer` asks a language
//! model instead and falls back to this one when it cannot.)
//!
//! What the built-in analyzer measures, each 0–100, deterministically:
//! - professionalism: the agent greets (hi/hello/hey/good…), is polite (thank,
//!   please, appreciate: up to two) and closes the call (goodbye, have a … day).
//! - empathy: empathetic phrases from the agent (understand, sorry, appreciate, of
//!   course, glad, happy to help).
//! - information_gathering: questions the agent asks.
//! - resolution: how the call ended — the customer's last words agreeing or thanking
//!   (resolved), a voicemail, a cut-off (time limit, hung up through the API), or no
//!   customer at all.
//!
//! The outcome is one of `resolved`, `follow_up`, `voicemail`, `cut_off`,
//! `no_conversation`.

use serde::{Deserialize, Serialize};

use super::{Role, Turn};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct QualityDimensions {
    pub professionalism: i64,
    pub empathy: i64,
    pub information_gathering: i64,
    pub resolution: i64,
}

pub struct Analysis {
    pub summary: String,
    pub quality: QualityDimensions,
    pub outcome: String,
    /// The customer asked not to be called again.
    pub opt_out: bool,
}

/// What customers say when they want no more calls.
const OPT_OUT_PHRASES: [&str; 10] = [
    "stop calling",
    "don't call me",
    "do not call me",
    "don't call again",
    "do not call again",
    "take me off your list",
    "take me off the list",
    "remove me from your list",
    "remove my number",
    "put me on your do not call",
];

/// Whether any customer turn asks for no more calls.
pub fn asks_not_to_be_called(transcript: &[Turn]) -> bool {
    transcript
        .iter()
        .filter(|t| t.role == Role::Customer)
        .map(|t| t.text.to_lowercase().replace('’', "'"))
        .any(|text| OPT_OUT_PHRASES.iter().any(|p| text.contains(p)))
}

pub const OUTCOMES: [&str; 5] = [
    "resolved",
    "follow_up",
    "voicemail",
    "cut_off",
    "no_conversation",
];

/// What the analyzer knows besides the transcript.
pub struct Hints<'a> {
    pub name: Option<&'a str>,
    pub context: Option<&'a str>,
    /// The normalized ended reason (`customer_hangup`, `voicemail`, …).
    pub ended_reason: &'a str,
    pub duration_secs: i64,
}

fn count_any(text: &str, words: &[&str]) -> i64 {
    words.iter().filter(|w| text.contains(*w)).count() as i64
}

pub fn analyze(transcript: &[Turn], hints: &Hints) -> Analysis {
    let agent: Vec<String> = transcript
        .iter()
        .filter(|t| t.role == Role::Agent)
        .map(|t| t.text.to_lowercase())
        .collect();
    let customer: Vec<String> = transcript
        .iter()
        .filter(|t| t.role == Role::Customer)
        .map(|t| t.text.to_lowercase())
        .collect();
    let agent_text = agent.join(" ");

    let greeted = agent.first().is_some_and(|t| {
        t.starts_with("hi")
            || t.starts_with("hello")
            || t.starts_with("hey")
            || t.starts_with("good")
    });
    let polite = count_any(&agent_text, &["thank", "please", "appreciate"]).min(2);
    let closed = agent_text.contains("goodbye")
        || agent_text.contains("have a wonderful day")
        || agent_text.contains("have a great day");
    let professionalism =
        55 + if greeted { 15 } else { 0 } + polite * 8 + if closed { 12 } else { 0 };

    let empathy_phrases = count_any(
        &agent_text,
        &[
            "understand",
            "sorry",
            "appreciate",
            "of course",
            "glad",
            "happy to help",
        ],
    );
    let empathy = 50 + (empathy_phrases * 12).min(45);

    let questions = agent.iter().filter(|t| t.contains('?')).count() as i64;
    let information_gathering = (35 + questions * 13).min(98);

    let customer_last = customer.last().map(String::as_str).unwrap_or("");
    let (resolution, outcome) = match hints.ended_reason {
        "voicemail" => (45, "voicemail"),
        "max_duration" | "ended_by_api" => (40, "cut_off"),
        _ if customer.is_empty() => (30, "no_conversation"),
        _ if count_any(
            customer_last,
            &["thanks", "thank you", "bye", "works", "yes"],
        ) > 0 =>
        {
            (92, "resolved")
        }
        _ => (65, "follow_up"),
    };

    Analysis {
        summary: summarize(hints, questions),
        quality: QualityDimensions {
            professionalism: professionalism.clamp(0, 100),
            empathy: empathy.clamp(0, 100),
            information_gathering: information_gathering.clamp(0, 100),
            resolution: resolution.clamp(0, 100),
        },
        outcome: outcome.to_string(),
        opt_out: asks_not_to_be_called(transcript),
    }
}

fn summarize(hints: &Hints, questions: i64) -> String {
    let who = hints
        .name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("the customer");
    let about = hints
        .context
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| format!(" about: {}.", c.trim_end_matches('.')))
        .unwrap_or_else(|| ".".to_string());
    let length = format!(
        "{} min {} s",
        hints.duration_secs / 60,
        hints.duration_secs % 60
    );
    match hints.ended_reason {
        "voicemail" => format!("Reached voicemail and left a message for {who}{about} Awaiting a call back."),
        "max_duration" => format!(
            "Spoke with {who}{about} The call reached its maximum duration after {length} and was ended by the system."
        ),
        "ended_by_api" => format!("Spoke with {who}{about} The call was ended through the API after {length}."),
        _ if questions == 0 => format!("Spoke with {who}{about} The call ended after {length}."),
        _ => format!(
            "Spoke with {who}{about} The customer confirmed and their questions were answered; the call ended after {length}."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(role: Role, text: &str) -> Turn {
        Turn {
            role,
            text: text.into(),
            start_s: 0.0,
        }
    }

    #[test]
    fn a_warm_resolved_call_scores_higher_than_a_cut_off_one() {
        let good = vec![
            turn(Role::Agent, "Hi John, this is Kai. Do you have a minute?"),
            turn(Role::Customer, "Sure."),
            turn(Role::Agent, "I understand, thank you. What time works?"),
            turn(Role::Customer, "2pm works, thanks!"),
            turn(Role::Agent, "Great, have a wonderful day!"),
        ];
        let hints = Hints {
            name: Some("John"),
            context: Some("Confirm appointment"),
            ended_reason: "customer_hangup",
            duration_secs: 127,
        };
        let a = analyze(&good, &hints);
        assert!(a.summary.contains("John") && a.summary.contains("Confirm appointment"));
        assert!(a.summary.contains("2 min 7 s"));
        let cut = analyze(
            &good[..2],
            &Hints {
                ended_reason: "max_duration",
                ..hints
            },
        );
        assert!(a.quality.resolution > cut.quality.resolution);
        assert!(a.quality.professionalism > cut.quality.professionalism);
        for q in [a.quality, cut.quality] {
            for v in [
                q.professionalism,
                q.empathy,
                q.information_gathering,
                q.resolution,
            ] {
                assert!((0..=100).contains(&v));
            }
        }
    }
}
