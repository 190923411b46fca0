//! Fuzz targets for the request parsers: each `pub fn <target>(data: &[u8])` feeds
//! untrusted bytes to the parser the server really uses and asserts what must hold
//! of its answer, beyond "no panic". The cargo-fuzz binaries in `fuzz/` are one-line
//! calls of these (`scripts/fuzz` builds and runs them for a bounded time); the test
//! at the bottom replays every committed input of `fuzz/corpus/<target>/` and
//! `fuzz/regressions/<target>/` through the same function in the ordinary suite.
//!
//! Inputs that need several strings (webhook secret, id, timestamp, body, header)
//! carry them separated by `0xFF`, a byte that never occurs in UTF-8.
//!
//! What is fuzzed where the server's function needs a runtime or `AppState`: the
//! pure layer below it. The lead and agent bodies are fuzzed through the `Json`
//! extractor's parsing (`http::json::parse_body`: one JSON value, the edge limits,
//! the typed deserialization); their `apply` validation is private to
//! `leads::routes` / `agents::routes` and not reached from here.

use axum::http::{HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::agents::routes::AgentFields;
use crate::auth::api_key::{Mode, PresentedKey, PREFIX_LEN};
use crate::auth::middleware::presented_key;
use crate::calls::create::{validate_webhook_url, CreateCallBody, WEBHOOK_EVENT_TYPES};
use crate::calls::status::EndedReason;
use crate::error::ApiError;
use crate::http::json::parse_body;
use crate::http::limits;
use crate::leads::routes::LeadFields;
use crate::phone::E164;
use crate::voice::analyzer::{self, Hints, OUTCOMES};
use crate::voice::{vapi, ProviderEvent};
use crate::webhooks::signing;
use kaicalls_client::webhooks::{self as client_webhooks, VerifyError};

/// A fuzz target: any bytes in, a panic when an invariant breaks.
pub type Target = fn(&[u8]);

/// Every target by name: the names of `fuzz/fuzz_targets/*.rs` and of the corpus
/// folders.
pub const TARGETS: &[(&str, Target)] = &[
    ("call_body", call_body),
    ("lead_body", lead_body),
    ("agent_body", agent_body),
    ("e164", e164),
    ("api_key", api_key),
    ("webhook_signature", webhook_signature),
    ("vapi_message", vapi_message),
];

/// `POST /api/v1/calls`: `parse_body::<CreateCallBody>` (what `JsonWithBytes` does
/// with the bytes) then `CreateCallBody::validate`.
///
/// Checks the JSON-body invariants of [`json_body`], and of a validated call: a
/// trimmed non-empty `agent_id`, a `to` that parses back to itself, `name` ≤ 200,
/// `context` ≤ 10 000 and `firstMessage` ≤ 1 000 characters (trimmed, non-empty),
/// `max_duration` within 10..=3600, an absolute http(s) `webhook_url` the validator
/// accepts again, a flat `metadata` object of ≤ 20 keys, and a non-empty
/// `webhook_events` list of known event types. A refusal of `validate` is a `400`
/// naming one of the body's fields.
pub fn call_body(data: &[u8]) {
    let Some(body) = json_body::<CreateCallBody>(data) else {
        return;
    };
    let call = match body.validate() {
        Ok(call) => call,
        Err(err) => {
            let param = assert_client_error(&err).expect("validate names the parameter");
            const FIELDS: [&str; 9] = [
                "agent_id",
                "to",
                "name",
                "context",
                "firstMessage",
                "webhook_url",
                "max_duration",
                "metadata",
                "webhook_events",
            ];
            assert!(FIELDS.contains(&param.as_str()), "unexpected param {param}");
            return;
        }
    };
    assert_trimmed_non_empty(&call.agent_id);
    assert_eq!(E164::parse(call.to.as_str()).as_ref(), Ok(&call.to));
    let bounded = |v: &Option<String>, max: usize| {
        if let Some(v) = v {
            assert_trimmed_non_empty(v);
            assert!(
                v.chars().count() <= max,
                "{} chars > {max}",
                v.chars().count()
            );
        }
    };
    bounded(&call.name, 200);
    bounded(&call.context, 10_000);
    bounded(&call.first_message, 1_000);
    bounded(&call.lead_id, limits::DEFAULT_MAX_CHARS);
    if let Some(d) = call.max_duration {
        assert!((10..=3600).contains(&d), "max_duration {d}");
    }
    if let Some(url) = &call.webhook_url {
        assert!(url.starts_with("https://") || url.starts_with("http://"));
        assert!(url.len() <= 2048 && !url.contains(char::is_whitespace));
        assert!(validate_webhook_url(url).is_ok());
    }
    if let Some(metadata) = &call.metadata {
        let map = metadata.as_object().expect("metadata is an object");
        assert!(map.len() <= 20);
        assert!(map.values().all(|v| !v.is_object() && !v.is_array()));
    }
    assert!(!call.webhook_events.is_empty());
    assert!(call
        .webhook_events
        .iter()
        .all(|e| WEBHOOK_EVENT_TYPES.contains(&e.as_str())));
    let strings = [
        Some(&call.agent_id),
        call.name.as_ref(),
        call.context.as_ref(),
    ]
    .into_iter()
    .chain([call.first_message.as_ref(), call.lead_id.as_ref()])
    .chain([call.webhook_url.as_ref()])
    .flatten();
    for s in strings {
        assert_no_refused_control(s);
    }
}

/// `POST`/`PATCH /api/v1/leads`: `parse_body::<LeadFields>`, the `Json` extractor's
/// parsing, then `LeadFields::apply` onto a lead. Checks the JSON-body invariants of
/// [`json_body`]; a refusal of `apply` is a client error, and an applied score is
/// within 0 to 100.
pub fn lead_body(data: &[u8]) {
    let Some(body) = json_body::<LeadFields>(data) else {
        return;
    };
    let mut lead = crate::leads::Lead::new("business", crate::clock::Timestamp(0));
    match body.apply(&mut lead) {
        Ok(()) => assert!(lead.score.is_none_or(|s| (0..=100).contains(&s))),
        Err(err) => {
            assert_client_error(&err);
        }
    }
}

/// `POST`/`PATCH /api/v1/agents`: `parse_body::<AgentFields>`, the `Json` extractor's
/// parsing, then `AgentFields::apply` onto an agent. Checks the JSON-body invariants
/// of [`json_body`]; a refusal of `apply` is a client error; an applied agent has a
/// name of 1 to 200 characters, object `voice`/`model`/`metadata`, and a
/// `max_duration` within 10 to 3600.
pub fn agent_body(data: &[u8]) {
    let Some(body) = json_body::<AgentFields>(data) else {
        return;
    };
    let mut agent = crate::agents::Agent::new("business", "Kai", crate::clock::Timestamp(0));
    match body.apply(&mut agent) {
        Ok(()) => {
            assert!((1..=200).contains(&agent.name.chars().count()));
            assert!(
                agent.voice.is_object() && agent.model.is_object() && agent.metadata.is_object()
            );
            assert!(agent.max_duration.is_none_or(|d| (10..=3600).contains(&d)));
        }
        Err(err) => {
            assert_client_error(&err);
        }
    }
}

/// `phone::E164::parse` on the input as text (lossy UTF-8). A parsed number is the
/// trimmed input, `+` and 8 to 15 ASCII digits; its string form (and its `Display`)
/// parses back to the same value, also with surrounding whitespace. A refusal says
/// why.
pub fn e164(data: &[u8]) {
    let input = String::from_utf8_lossy(data);
    match E164::parse(&input) {
        Ok(number) => {
            let s = number.as_str();
            assert_eq!(s, input.trim());
            let digits = s.strip_prefix('+').expect("starts with +");
            assert!((8..=15).contains(&digits.len()), "{s}");
            assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{s}");
            assert_eq!(number.to_string(), s);
            assert_eq!(E164::parse(s).as_ref(), Ok(&number));
            assert_eq!(E164::parse(&format!(" {number}\t")).as_ref(), Ok(&number));
        }
        Err(message) => assert!(!message.is_empty()),
    }
}

/// API keys: `auth::middleware::presented_key` on the input as an `Authorization`
/// (raw and as `Bearer <input>`) or `X-KaiCalls-API-Key` header, and
/// `auth::api_key::PresentedKey::parse` on what it extracts and on the input itself.
///
/// A header yields a trimmed, non-empty token it contains. `parse` accepts exactly
/// `kc_(live|test)_` + ≥ 32 ASCII alphanumerics, with the matching mode and a
/// 12-character prefix of that form; the hash is the SHA-256 hex of the key (64
/// lowercase hex digits), the same on every parse, matches itself and no other hash.
pub fn api_key(data: &[u8]) {
    if let Ok(raw) = std::str::from_utf8(data) {
        check_presented_key(raw);
    }
    let bearer = [b"Bearer ".as_slice(), data].concat();
    let cases = [
        ("authorization", data),
        ("authorization", bearer.as_slice()),
        ("x-kaicalls-api-key", data),
    ];
    for (name, bytes) in cases {
        let Ok(value) = HeaderValue::from_bytes(bytes) else {
            continue;
        };
        let mut headers = HeaderMap::new();
        headers.insert(name, value);
        match presented_key(&headers) {
            None => {
                assert_eq!(name, "x-kaicalls-api-key");
                assert!(bytes.trim_ascii().is_empty());
            }
            Some(Ok(token)) => {
                assert_trimmed_non_empty(token);
                assert!(bytes.windows(token.len()).any(|w| w == token.as_bytes()));
                check_presented_key(token);
            }
            Some(Err(message)) => assert!(!message.is_empty()),
        }
    }
}

fn check_presented_key(raw: &str) {
    let parsed = PresentedKey::parse(raw);
    let expected_mode = if raw.starts_with("kc_live_") {
        Some(Mode::Live)
    } else if raw.starts_with("kc_test_") {
        Some(Mode::Test)
    } else {
        None
    };
    let well_formed = expected_mode.is_some()
        && raw.len() >= 8 + 32
        && raw.bytes().skip(8).all(|b| b.is_ascii_alphanumeric());
    assert_eq!(parsed.is_some(), well_formed, "{raw:?}");
    let Some(key) = parsed else {
        return;
    };
    assert_eq!(Some(key.mode), expected_mode);
    let prefix = &raw[..PREFIX_LEN];
    assert!(prefix.starts_with(&format!("kc_{}_", key.mode.as_str())));
    assert_eq!(key.hash, crate::ids::sha256_hex(raw));
    assert_eq!(key.hash.len(), 64);
    assert!(key
        .hash
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    let again = PresentedKey::parse(raw).expect("parses again");
    assert_eq!(again.hash, key.hash);
    assert!(key.matches(&key.hash));
    assert!(!key.matches(""));
    assert!(!key.matches(&key.hash[..63]));
    let mut other = key.hash.clone().into_bytes();
    other[0] = if other[0] == b'0' { b'1' } else { b'0' };
    assert!(!key.matches(std::str::from_utf8(&other).unwrap()));
}

/// Standard Webhooks: the server's `webhooks::signing` (`sign`, `signature_header`,
/// `verify`) and the client's `kaicalls_client::webhooks::verify`. Input: secret,
/// webhook-id, webhook-timestamp, body and webhook-signature, separated by `0xFF`.
///
/// Arbitrary headers, body and secret never panic either verifier, and the two agree
/// (the client also refusing a missing header or a stale or unparsable timestamp).
/// A payload signed with the secret verifies (alone and in a two-secret rotation
/// header, with each secret), signing is deterministic, and any single-byte change of
/// the body (substitution, deletion, insertion) or of the signature, or another
/// timestamp, fails both verifiers.
pub fn webhook_signature(data: &[u8]) {
    const NOW: i64 = 1_771_165_800;
    const TOLERANCE: i64 = 300;
    let [secret, id, ts_text, body, header] = fields::<5>(data);
    let headers = |id: String, ts: String, sig: String| {
        move |name: &str| match name {
            "webhook-id" => Some(id.clone()),
            "webhook-timestamp" => Some(ts.clone()),
            "webhook-signature" => Some(sig.clone()),
            _ => None,
        }
    };
    let client = |body: &str, ts: &str, sig: &str, now: i64| {
        client_webhooks::verify(
            body,
            headers(id.clone(), ts.to_string(), sig.to_string()),
            &secret,
            now,
            TOLERANCE,
        )
    };

    // Arbitrary input.
    assert_eq!(
        client_webhooks::verify(&body, |_| None, &secret, NOW, TOLERANCE),
        Err(VerifyError::MissingHeaders)
    );
    let at_now = client(&body, &ts_text, &header, NOW);
    let ts = ts_text.trim().parse::<i64>().ok();
    match ts {
        None => assert_eq!(at_now, Err(VerifyError::StaleTimestamp)),
        Some(t) => {
            let server = signing::verify(&secret, &id, t, &body, &header);
            let fresh = (i128::from(NOW) - i128::from(t)).abs() <= i128::from(TOLERANCE);
            if fresh {
                assert_eq!(at_now.is_ok(), server, "client and server disagree");
            } else {
                assert_eq!(at_now, Err(VerifyError::StaleTimestamp));
            }
            assert_eq!(client(&body, &ts_text, &header, t).is_ok(), server);
        }
    }

    // Signed, then changed.
    let t = ts.unwrap_or(NOW);
    let t_text = t.to_string();
    let sig = signing::sign(&secret, &id, t, &body);
    assert_eq!(sig, signing::sign(&secret, &id, t, &body), "deterministic");
    let mac = sig.strip_prefix("v1,").expect("v1 signature");
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD.decode(mac);
    assert_eq!(decoded.map(|m| m.len()).ok(), Some(32));
    assert!(signing::verify(&secret, &id, t, &body, &sig));
    assert_eq!(client(&body, &t_text, &sig, t), Ok(()));
    let other = format!("{secret}#rotated");
    let rotation = signing::signature_header(&[&secret, &other], &id, t, &body);
    assert!(signing::verify(&secret, &id, t, &body, &rotation));
    assert!(signing::verify(&other, &id, t, &body, &rotation));
    assert_eq!(client(&body, &t_text, &rotation, t), Ok(()));

    let refused = |body: &str, t: i64, sig: &str| {
        assert!(
            !signing::verify(&secret, &id, t, body, sig),
            "{body:?} {sig}"
        );
        assert_eq!(
            client(body, &t.to_string(), sig, t),
            Err(VerifyError::BadSignature)
        );
    };
    for i in sample_positions(body.len(), 24) {
        let mut changed = body.clone().into_bytes();
        changed[i] ^= 0x01;
        if let Ok(changed) = String::from_utf8(changed) {
            refused(&changed, t, &sig);
        }
        let mut shorter = body.clone().into_bytes();
        shorter.remove(i);
        if let Ok(shorter) = String::from_utf8(shorter) {
            refused(&shorter, t, &sig);
        }
        if body.is_char_boundary(i) {
            let mut longer = body.clone();
            longer.insert(i, 'x');
            refused(&longer, t, &sig);
        }
    }
    refused(&format!("{body} "), t, &sig);
    for i in 0..sig.len() {
        let mut changed = sig.clone().into_bytes();
        changed[i] ^= 0x01;
        refused(&body, t, std::str::from_utf8(&changed).expect("ASCII"));
        let mut shorter = sig.clone().into_bytes();
        shorter.remove(i);
        refused(&body, t, std::str::from_utf8(&shorter).expect("ASCII"));
    }
    if let Some(next) = t.checked_add(1) {
        refused(&body, next, &sig);
    }
}

/// Vapi's server messages, as `calls::provider_events::vapi_events` reads a body:
/// a JSON object, then `message`, its `call.id`, `voice::vapi::event_of_message` and the
/// "ended" hint; also `voice::vapi::ended_event` on the message (what reconciliation
/// does with a `GET /call` body) and the engine's pure steps on the event
/// (`EndedReason::from_provider_code`, `analyzer::analyze`).
///
/// An event comes only from a `status-update` (`ringing` → Ringing, `in-progress` →
/// Answered) or an `end-of-call-report`; an ended event has a non-negative duration,
/// turns with text and a finite start, a reason that ends the call, analysis scores
/// within 0..=100 and a known outcome, and it survives the JSON round trip the job
/// payloads and stored transcripts make.
pub fn vapi_message(data: &[u8]) {
    let Some(body) = serde_json::from_slice::<Value>(data)
        .ok()
        .filter(Value::is_object)
    else {
        return;
    };
    let message = &body["message"];
    let _conversation = message["call"]["id"].as_str();
    let event = vapi::event_of_message(message);
    let _ended = message["type"] == "status-update" && message["status"] == "ended";
    match &event {
        None => {}
        Some(ProviderEvent::Ringing) => {
            assert_eq!(message["type"], "status-update");
            assert_eq!(message["status"], "ringing");
        }
        Some(ProviderEvent::Answered) => {
            assert_eq!(message["type"], "status-update");
            assert_eq!(message["status"], "in-progress");
        }
        Some(ended @ ProviderEvent::Ended { .. }) => {
            assert_eq!(message["type"], "end-of-call-report");
            check_ended(ended);
        }
        Some(ProviderEvent::Tool { .. }) => {
            panic!("a server message is never a scripted tool step")
        }
    }
    check_ended(&vapi::ended_event(message));
    check_ended(&vapi::ended_event(&body));
}

fn check_ended(event: &ProviderEvent) {
    let ProviderEvent::Ended {
        raw_reason,
        duration_secs,
        report,
    } = event
    else {
        panic!("ended_event gave {event:?}");
    };
    if let Some(d) = duration_secs {
        assert!(*d >= 0, "negative duration {d}");
    }
    let reason = EndedReason::from_provider_code(raw_reason);
    assert!(reason.final_status().is_terminal());
    let report = report.as_ref().expect("an end report");
    for turn in &report.transcript {
        assert!(turn.start_s.is_finite());
    }
    let analysis = analyzer::analyze(
        &report.transcript,
        &Hints {
            name: Some("Ann"),
            context: None,
            ended_reason: reason.as_str(),
            duration_secs: duration_secs.unwrap_or(0).clamp(0, 3600),
        },
    );
    let q = &analysis.quality;
    for score in [
        q.professionalism,
        q.empathy,
        q.information_gathering,
        q.resolution,
    ] {
        assert!((0..=100).contains(&score), "score {score}");
    }
    assert!(OUTCOMES.contains(&analysis.outcome.as_str()));
    assert!(!analysis.summary.is_empty());
    let json = serde_json::to_string(event).expect("serializes");
    let back: ProviderEvent = serde_json::from_str(&json).expect("deserializes");
    let ProviderEvent::Ended {
        raw_reason: r2,
        duration_secs: d2,
        report: Some(rep2),
    } = back
    else {
        panic!("round trip changed the event: {json}");
    };
    assert_eq!((&r2, &d2), (raw_reason, duration_secs));
    assert_eq!(rep2.recording_url, report.recording_url);
    assert_eq!(rep2.summary, report.summary);
    assert_eq!(rep2.transcript.len(), report.transcript.len());
    for (a, b) in rep2.transcript.iter().zip(&report.transcript) {
        assert_eq!((a.role, &a.text), (b.role, &b.text));
        // serde_json's default float parsing may differ from the exact value by an ULP.
        assert!((a.start_s - b.start_s).abs() <= b.start_s.abs() * 1e-15);
    }
}

/// A JSON body through `http::json::parse_body::<T>`, as the `Json` extractors do.
///
/// Accepted: the body is one JSON value with nothing after it (or only whitespace,
/// read as `{}`), an object, and every string and key in it has no control character
/// but tab, LF and CR and is at most the longest field limit. Refused: a `400
/// invalid_request` whose envelope is well formed and whose `param`, if any, is a
/// top-level key of the body.
pub fn json_body<T: DeserializeOwned>(data: &[u8]) -> Option<T> {
    let parsed = parse_body::<T>(data);
    let value = if data.iter().all(u8::is_ascii_whitespace) {
        Ok(Value::Object(Default::default()))
    } else {
        serde_json::from_slice::<Value>(data)
    };
    match parsed {
        Ok(body) => {
            let value = value.expect("an accepted body is one JSON value");
            assert!(value.is_object(), "accepted a non-object body: {value}");
            assert_clean(&value);
            Some(body)
        }
        Err(err) => {
            let param = assert_client_error(&err);
            if let (Some(param), Ok(Value::Object(map))) = (param, &value) {
                assert!(map.contains_key(&param), "param {param:?} not in the body");
            }
            None
        }
    }
}

/// A refusal the client caused: `400 invalid_request` with a well-formed envelope.
/// Returns its `param`.
fn assert_client_error(err: &ApiError) -> Option<String> {
    assert_eq!(err.status().as_u16(), 400, "{err:?}");
    assert_eq!(err.code(), "invalid_request");
    let envelope = err.envelope();
    assert_eq!(envelope["error"]["code"], "invalid_request");
    let message = envelope["error"]["message"].as_str().expect("a message");
    assert!(!message.is_empty());
    let ApiError::InvalidRequest { param, .. } = err else {
        unreachable!("a 400 invalid_request is InvalidRequest")
    };
    assert_eq!(envelope["error"]["param"].as_str(), param.as_deref());
    param.clone()
}

/// Every string and key of an accepted body is clean and bounded.
fn assert_clean(value: &Value) {
    let longest = limits::MAX_CHARS
        .iter()
        .map(|(_, max)| *max)
        .max()
        .unwrap_or(limits::DEFAULT_MAX_CHARS);
    match value {
        Value::String(s) => {
            assert_no_refused_control(s);
            assert!(s.chars().count() <= longest);
        }
        Value::Array(items) => items.iter().for_each(assert_clean),
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            assert_no_refused_control(k);
            assert!(k.chars().count() <= longest);
            assert_clean(v);
        }),
        _ => {}
    }
}

fn assert_no_refused_control(s: &str) {
    let bad = s
        .chars()
        .find(|&c| (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{7f}');
    assert_eq!(bad, None, "control character in {s:?}");
}

fn assert_trimmed_non_empty(s: &str) {
    assert!(!s.is_empty(), "empty");
    assert_eq!(s, s.trim(), "not trimmed");
}

/// The input's first `N - 1` fields separated by `0xFF`, the last taking the rest
/// (lossy UTF-8); missing fields are empty.
fn fields<const N: usize>(data: &[u8]) -> [String; N] {
    let mut parts = data.splitn(N, |b| *b == 0xFF);
    std::array::from_fn(|_| String::from_utf8_lossy(parts.next().unwrap_or(b"")).into_owned())
}

/// Up to `max` positions in `0..len`, spread evenly, always with the first and last.
fn sample_positions(len: usize, max: usize) -> Vec<usize> {
    if len <= max {
        return (0..len).collect();
    }
    let mut positions: Vec<usize> = (0..max).map(|k| k * (len - 1) / (max - 1)).collect();
    positions.dedup();
    positions
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::TARGETS;

    fn fuzz_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
    }

    /// The inputs of a folder, without its README or placeholder files.
    fn inputs(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .filter(|p| p.is_file())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                !name.starts_with("README") && name != ".gitkeep"
            })
            .collect();
        files.sort();
        files
    }

    /// Every committed seed and every crash input found so far, through its target:
    /// the fuzzers' findings stay fixed. A missing or empty corpus folder fails.
    #[test]
    fn fuzz_corpus_and_regressions_replay() {
        let fuzz = fuzz_dir();
        assert!(
            fuzz.join("regressions/README.md").is_file(),
            "fuzz/regressions/README.md is missing (wrong path?)"
        );
        let mut failures = vec![];
        let mut replayed = 0;
        for (name, target) in TARGETS {
            let corpus = fuzz.join("corpus").join(name);
            assert!(corpus.is_dir(), "{} is missing", corpus.display());
            let seeds = inputs(&corpus);
            assert!(!seeds.is_empty(), "{} is empty", corpus.display());
            let regressions = fuzz.join("regressions").join(name);
            let found = if regressions.is_dir() {
                inputs(&regressions)
            } else {
                vec![]
            };
            for file in seeds.iter().chain(&found) {
                let data = std::fs::read(file).unwrap();
                replayed += 1;
                if std::panic::catch_unwind(|| target(&data)).is_err() {
                    failures.push(file.display().to_string());
                }
            }
        }
        assert!(failures.is_empty(), "inputs that fail: {failures:#?}");
        println!("replayed {replayed} fuzz inputs");
    }

    /// The fuzz crate has one binary per target, and nothing else.
    #[test]
    fn fuzz_targets_match_the_list() {
        let mut on_disk: Vec<String> = std::fs::read_dir(fuzz_dir().join("fuzz_targets"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
        listed.sort();
        assert_eq!(on_disk, listed);
        let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
        for name in &listed {
            let bin = format!("name = \"{name}\"");
            assert!(
                manifest.contains(&bin),
                "fuzz/Cargo.toml has no [[bin]] {name}"
            );
            let body =
                std::fs::read_to_string(fuzz_dir().join("fuzz_targets").join(format!("{name}.rs")))
                    .unwrap();
            assert!(
                body.contains(&format!("kaicalls::fuzzing::{name}(")),
                "fuzz_targets/{name}.rs does not call kaicalls::fuzzing::{name}"
            );
        }
    }
}
