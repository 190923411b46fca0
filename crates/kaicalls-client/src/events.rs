//! The live event stream (`GET /api/v1/events/stream`, Server-Sent Events) as an
//! async iterator that never loses its place: when the connection drops or the
//! server ends the stream, [`EventStream::next`] reconnects with `Last-Event-ID` set
//! to the last event it returned (or, before the first, to the starting point the
//! stream's opening message named), so every event comes exactly once.
//!
//! ```no_run
//! # async fn run() -> Result<(), kaicalls_client::Error> {
//! use kaicalls_client::KaiCalls;
//! let kai = KaiCalls::new("kc_test_xxx");
//! let mut events = kai.stream_events().event_types(&["call.completed", "call.failed"]);
//! while let Some(event) = events.next().await? {
//!     println!("{} {} {}", event.id, event.kind, event.object_id);
//! }
//! # Ok(()) }
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, KaiCalls, Result};

/// One durable event, as `/api/v1/events` lists it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct StreamEvent {
    pub id: String,
    /// `call.completed`, `lead.created`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub object_type: String,
    pub object_id: String,
    pub business_id: String,
    pub mode: String,
    /// The webhook payload of the event.
    pub data: Value,
    pub created_at: String,
}

/// A message of the stream, as the SSE format frames it.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Frame {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: Option<String>,
    pub retry: Option<Duration>,
}

/// Splits SSE text into frames (`\n`, `\r\n` or `\r` line ends; comments skipped;
/// `data` lines joined with `\n`), leaving an unfinished frame in `buffer`.
pub(crate) fn frames(buffer: &mut String) -> Vec<Frame> {
    let mut out = vec![];
    // A `\r` at the end may be the first half of a `\r\n` still on its way.
    let held_cr = buffer.ends_with('\r');
    if held_cr {
        buffer.pop();
    }
    *buffer = buffer.replace("\r\n", "\n").replace('\r', "\n");
    loop {
        let Some(end) = buffer.find("\n\n") else {
            if held_cr {
                buffer.push('\r');
            }
            return out;
        };
        let block: String = buffer.drain(..end + 2).collect();
        let mut frame = Frame::default();
        for line in block.lines() {
            if line.is_empty() || line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => frame.id = Some(value.to_string()),
                "event" => frame.event = Some(value.to_string()),
                "data" => {
                    let data = frame.data.get_or_insert_with(String::new);
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(value);
                }
                "retry" => frame.retry = value.parse().ok().map(Duration::from_millis),
                _ => {}
            }
        }
        if frame != Frame::default() {
            out.push(frame);
        }
    }
}

/// The event stream; see the module's documentation.
pub struct EventStream {
    client: KaiCalls,
    http: reqwest::Client,
    query: Vec<(&'static str, String)>,
    last_event_id: Option<String>,
    response: Option<reqwest::Response>,
    buffer: String,
    ready: std::collections::VecDeque<StreamEvent>,
    retry: Duration,
    /// Consecutive failed connection attempts.
    failures: u32,
}

/// The server sends a heartbeat every 15 s: a connection silent for longer than
/// this is dead and is replaced.
const SILENCE: Duration = Duration::from_secs(45);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl KaiCalls {
    /// The live event stream of this key's tenant and mode, from now on.
    pub fn stream_events(&self) -> EventStream {
        EventStream {
            client: self.clone(),
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .read_timeout(SILENCE)
                .build()
                .unwrap_or_default(),
            query: vec![],
            last_event_id: None,
            response: None,
            buffer: String::new(),
            ready: Default::default(),
            retry: Duration::from_secs(2),
            failures: 0,
        }
    }
}

impl EventStream {
    /// Only these event types.
    pub fn event_types(mut self, types: &[&str]) -> Self {
        self.query.push(("event_type", types.join(",")));
        self
    }

    /// Only this call's events.
    pub fn call_id(mut self, id: impl Into<String>) -> Self {
        self.query.push(("call_id", id.into()));
        self
    }

    /// Only this business's events.
    pub fn business_id(mut self, id: impl Into<String>) -> Self {
        self.query.push(("business_id", id.into()));
        self
    }

    /// Start after this event instead of now.
    pub fn after(mut self, event_id: impl Into<String>) -> Self {
        self.last_event_id = Some(event_id.into());
        self
    }

    /// The id of the last event returned: where a new stream would resume.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }

    /// The next event. Waits as long as it takes; reconnects (with backoff) when the
    /// connection fails. `Err` only for an answer that retrying cannot change (a bad
    /// filter, a revoked key, a missing scope); `Ok(None)` never happens today and
    /// would mean the server ended the stream for good.
    pub async fn next(&mut self) -> Result<Option<StreamEvent>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                self.last_event_id = Some(event.id.clone());
                return Ok(Some(event));
            }
            let Some(response) = self.response.as_mut() else {
                self.connect().await?;
                continue;
            };
            match response.chunk().await {
                Ok(Some(bytes)) => {
                    self.buffer.push_str(&String::from_utf8_lossy(&bytes));
                    for frame in frames(&mut self.buffer) {
                        if let Some(retry) = frame.retry {
                            self.retry = retry;
                        }
                        // A message with an id and no data (the stream's opening) moves
                        // the resume point without an event, unless events before it
                        // are still to be returned.
                        if let (Some(id), None) = (&frame.id, &frame.data) {
                            if self.ready.is_empty() {
                                self.last_event_id = Some(id.clone());
                            }
                        }
                        if let (Some(_), Some(data)) = (&frame.id, &frame.data) {
                            let event: StreamEvent =
                                serde_json::from_str(data).map_err(|e| Error {
                                    status: 0,
                                    code: "unexpected_response".into(),
                                    message: format!("an event that is not an event: {e}"),
                                    param: None,
                                    request_id: None,
                                })?;
                            self.ready.push_back(event);
                        }
                    }
                }
                // The server ended the stream (a restart) or the connection broke.
                Ok(None) | Err(_) => {
                    self.response = None;
                    self.buffer.clear();
                }
            }
        }
    }

    async fn connect(&mut self) -> Result<()> {
        if self.failures > 0 {
            let backoff = self.retry * 2u32.saturating_pow(self.failures - 1);
            tokio::time::sleep(backoff.min(MAX_BACKOFF)).await;
        }
        let mut request = self
            .http
            .get(format!("{}/api/v1/events/stream", self.client.base_url))
            .bearer_auth(&self.client.api_key)
            .header("accept", "text/event-stream")
            .query(&self.query);
        if let Some(id) = &self.last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(_) => {
                self.failures += 1;
                return Ok(());
            }
        };
        let status = response.status().as_u16();
        if status == 200 {
            self.failures = 0;
            self.response = Some(response);
            return Ok(());
        }
        if status == 429 || status >= 500 {
            self.failures += 1;
            return Ok(());
        }
        let request_id = response
            .headers()
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = response.text().await.unwrap_or_default();
        Err(Error::from_envelope(status, request_id, &text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_split_joined_and_kept_when_unfinished() {
        let mut buffer = String::from(
            "retry: 1500\r\n: connected\r\n\r\nid: evt_1\nevent: call.queued\ndata: {\"a\":\ndata: 1}\n\n: heartbeat\n\nid: evt_2\ndata: x",
        );
        let got = frames(&mut buffer);
        assert_eq!(
            got,
            vec![
                Frame {
                    retry: Some(Duration::from_millis(1500)),
                    ..Frame::default()
                },
                Frame {
                    id: Some("evt_1".into()),
                    event: Some("call.queued".into()),
                    data: Some("{\"a\":\n1}".into()),
                    retry: None,
                },
            ]
        );
        assert_eq!(buffer, "id: evt_2\ndata: x");
        buffer.push_str("\n\n");
        let rest = frames(&mut buffer);
        assert_eq!(rest[0].id.as_deref(), Some("evt_2"));
        assert!(buffer.is_empty());
        // A CRLF split between two reads ends one line, not two.
        buffer.push_str("id: evt_3\r");
        assert!(frames(&mut buffer).is_empty());
        buffer.push_str("\ndata: y\r\n\r\n");
        let split = frames(&mut buffer);
        assert_eq!(split.len(), 1);
        assert_eq!(split[0].data.as_deref(), Some("y"));
    }
}
