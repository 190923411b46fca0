//! An analyzer backed by any OpenAI-compatible chat-completions endpoint
//! (`KAICALLS_ANALYZER_URL`, `KAICALLS_ANALYZER_API_KEY`, `KAICALLS_ANALYZER_MODEL`).
//! It returns the same summary, quality dimensions and outcome as the built-in
//! analyzer; when the endpoint fails or answers nonsense, the built-in one stands.

use std::time::Duration;

use serde_json::{json, Value};

use super::analyzer::{Analysis, QualityDimensions, OUTCOMES};
use super::{Role, Turn};

pub struct ChatAnalyzer {
    http: reqwest::Client,
    url: String,
    api_key: Option<String>,
    model: String,
}

const INSTRUCTIONS: &str =
    "You review phone calls placed by an AI agent. Answer with one JSON object: \
{\"summary\": one or two sentences, \"professionalism\": 0-100, \"empathy\": 0-100, \
\"information_gathering\": 0-100, \"resolution\": 0-100, \"outcome\": one of \
\"resolved\", \"follow_up\", \"voicemail\", \"cut_off\", \"no_conversation\", \
\"opt_out\": true when the customer asked not to be called again (\"stop calling me\", \
\"take me off your list\"), else false}.";

impl ChatAnalyzer {
    pub fn new(url: &str, api_key: Option<&str>, model: &str) -> anyhow::Result<ChatAnalyzer> {
        Ok(ChatAnalyzer {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
            url: format!("{}/chat/completions", url.trim_end_matches('/')),
            api_key: api_key.map(str::to_string),
            model: model.to_string(),
        })
    }

    /// The model's analysis of the call, or the reason it could not be had.
    pub async fn analyze(
        &self,
        transcript: &[Turn],
        context: Option<&str>,
        ended_reason: &str,
    ) -> anyhow::Result<Analysis> {
        let lines: Vec<String> = transcript
            .iter()
            .map(|t| {
                let who = match t.role {
                    Role::Agent => "Agent",
                    Role::Customer => "Customer",
                };
                format!("[{:.1}s] {who}: {}", t.start_s, t.text)
            })
            .collect();
        let user = format!(
            "Call context: {}\nEnded because: {ended_reason}\nTranscript:\n{}",
            context.unwrap_or("(none)"),
            lines.join("\n")
        );
        let body = json!({
            "model": self.model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": INSTRUCTIONS},
                {"role": "user", "content": user},
            ],
        });
        let mut req = self.http.post(&self.url).json(&body);
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key);
        }
        let resp: Value = req.send().await?.error_for_status()?.json().await?;
        let content = resp["choices"][0]["message"]["content"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no message content in the completion"))?;
        parse(content)
    }
}

fn parse(content: &str) -> anyhow::Result<Analysis> {
    let v: Value = serde_json::from_str(content.trim())?;
    let score = |name: &str| -> anyhow::Result<i64> {
        let n = v[name]
            .as_f64()
            .ok_or_else(|| anyhow::anyhow!("{name} is not a number"))?;
        anyhow::ensure!((0.0..=100.0).contains(&n), "{name} out of range");
        Ok(n.round() as i64)
    };
    let summary = v["summary"]
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| anyhow::anyhow!("no summary"))?;
    let outcome = v["outcome"]
        .as_str()
        .filter(|o| OUTCOMES.contains(o))
        .ok_or_else(|| anyhow::anyhow!("unknown outcome"))?;
    Ok(Analysis {
        summary: summary.to_string(),
        quality: QualityDimensions {
            professionalism: score("professionalism")?,
            empathy: score("empathy")?,
            information_gathering: score("information_gathering")?,
            resolution: score("resolution")?,
        },
        outcome: outcome.to_string(),
        opt_out: v["opt_out"].as_bool().unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_and_validates_the_models_answer() {
        let ok = r#"{"summary": "Booked.", "professionalism": 90, "empathy": 80.4, "information_gathering": 70, "resolution": 100, "outcome": "resolved"}"#;
        let a = super::parse(ok).unwrap();
        assert_eq!((a.quality.empathy, a.outcome.as_str()), (80, "resolved"));
        assert!(super::parse(&ok.replace("100", "101")).is_err());
        assert!(super::parse(&ok.replace("resolved", "great")).is_err());
        assert!(super::parse("not json").is_err());
    }
}
