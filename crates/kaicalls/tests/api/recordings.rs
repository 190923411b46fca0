//! Recordings: stored by the server, served through signed, expiring links.

use std::time::Duration;

use serde_json::{json, Value};

use crate::fake_vapi::{end_of_call_report, send};
use crate::harness::{eventually, Server};
use crate::vapi::{setup, Setup, SECRET};

/// Seconds of audio in an 8 kHz, 8-bit mono WAV, checking its header.
fn wav_seconds(bytes: &[u8]) -> f64 {
    assert_eq!(&bytes[0..4], b"RIFF");
    assert_eq!(&bytes[8..16], b"WAVEfmt ");
    let rate = u32::from_le_bytes(bytes[24..28].try_into().unwrap());
    let byte_rate = u32::from_le_bytes(bytes[28..32].try_into().unwrap());
    assert_eq!(&bytes[36..40], b"data");
    let data = u32::from_le_bytes(bytes[40..44].try_into().unwrap());
    assert_eq!(bytes.len(), 44 + data as usize);
    assert_eq!(rate, 8000);
    data as f64 / byte_rate as f64
}

async fn fetch(server: &Server, url: &str) -> (u16, Vec<u8>) {
    let resp = server.http.get(url).send().await.unwrap();
    (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
}

async fn wait_stored(server: &Server, key: &str, id: &str) -> Value {
    eventually(20, "the recording to be available", || async {
        let (status, info) = server
            .get(key, &format!("/api/v1/recordings?call_id={id}"))
            .await;
        assert_eq!(status, 200);
        if info["status"] == "available" {
            Ok(info)
        } else {
            Err(info.to_string())
        }
    })
    .await
}

#[tokio::test]
async fn a_simulated_recording_is_a_wav_as_long_as_the_call_behind_a_tamper_proof_link() {
    let server = Server::start().await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let key = &boot.live_key;
    let (_, created) = server
        .post(
            key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": "+15125551234"}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let call = server.wait_terminal(key, id).await;
    let url = call["recording_url"].as_str().unwrap().to_string();
    let (status, audio) = fetch(&server, &url).await;
    assert_eq!(status, 200);
    assert_eq!(wav_seconds(&audio), call["duration"].as_f64().unwrap());

    let info = wait_stored(&server, key, id).await;
    assert_eq!(info["duration"], call["duration"]);
    let (status, stored) = fetch(&server, info["recording_url"].as_str().unwrap()).await;
    assert_eq!(
        (status, stored == audio),
        (200, true),
        "the stored copy is the same audio"
    );

    // Changing any character of the link's path or query breaks it.
    let start = url.find("/recordings/").unwrap() + "/recordings/".len();
    for i in start..url.len() {
        let original = url.as_bytes()[i];
        if !original.is_ascii_alphanumeric() {
            continue;
        }
        let replacement = if original == b'0' { '1' } else { '0' };
        let mut tampered = url.clone();
        tampered.replace_range(i..i + 1, &replacement.to_string());
        let (status, _) = fetch(&server, &tampered).await;
        assert_ne!(
            status, 200,
            "a link changed at {i} still worked: {tampered}"
        );
    }
    let (status, _) = fetch(&server, url.split('?').next().unwrap()).await;
    assert_eq!(status, 403, "no signature, no audio");
}

#[tokio::test]
async fn recording_links_expire_and_the_api_hands_out_fresh_ones() {
    let server = Server::builder()
        .env("KAICALLS_RECORDING_LINK_TTL_SECS", "4")
        .start()
        .await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let key = &boot.live_key;
    let (_, created) = server
        .post(
            key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": "+15005550004"}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let call = server.wait_terminal(key, id).await;
    let url = call["recording_url"].as_str().unwrap();
    assert_eq!(fetch(&server, url).await.0, 200, "works before expiry");
    // Links expire on a whole second, so a 4 s link lives at least 3 s.
    tokio::time::sleep(Duration::from_millis(4100)).await;
    let (status, body) = fetch(&server, url).await;
    assert_eq!(status, 403, "not after");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    let info = wait_stored(&server, key, id).await;
    let fresh = info["recording_url"].as_str().unwrap();
    assert_ne!(fresh, url);
    assert!(info["expires_at"].is_string());
    let (status, audio) = fetch(&server, fresh).await;
    assert_eq!(status, 200);
    assert_eq!(wav_seconds(&audio), 35.0, "voicemail lasts 35 s");
}

#[tokio::test]
async fn a_vapi_recording_is_copied_so_our_link_outlives_theirs() {
    let Setup { server, boot, vapi } = setup().await;
    let key = &boot.live_key;
    let (_, created) = server
        .post(
            key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": "+15125559876"}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let conversation = created["conversation_id"].as_str().unwrap();

    let original = kaicalls::voice::recording::wav(&[], 127);
    let theirs = vapi.host_recording("call.wav", original.clone());
    let mut report = end_of_call_report(conversation, "customer-ended-call");
    report["artifact"]["recordingUrl"] = json!(theirs);
    assert_eq!(send(&server.url, Some(SECRET), report).await, 200);
    let call = server.wait_terminal(key, id).await;
    let ours = call["recording_url"].as_str().unwrap().to_string();
    assert!(ours.starts_with(&server.url), "our URL, not Vapi's: {ours}");
    wait_stored(&server, key, id).await;
    vapi.drop_recording("call.wav");
    let (status, audio) = fetch(&server, &ours).await;
    assert_eq!(status, 200);
    assert_eq!(audio, original);
    assert_eq!(wav_seconds(&audio), 127.0);
}

/// Recordings in an S3-compatible bucket (a local moto server in CI).
#[tokio::test]
async fn recordings_can_live_in_an_s3_compatible_bucket() {
    let Some(endpoint) =
        crate::harness::required_env("KAICALLS_TEST_S3_ENDPOINT", "the S3 storage test")
    else {
        return;
    };
    let bucket = format!("kc-test-{}", uuid::Uuid::new_v4().simple());
    let made = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(
        made.status().is_success(),
        "creating the bucket: {}",
        made.status()
    );
    let server = Server::builder()
        .env("KAICALLS_RECORDINGS_S3_BUCKET", &bucket)
        .env("KAICALLS_RECORDINGS_S3_ENDPOINT", &endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .start()
        .await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let key = &boot.live_key;
    let (_, created) = server
        .post(
            key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": "+15005550004"}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    server.wait_terminal(key, id).await;
    let info = wait_stored(&server, key, id).await;
    let key_tag = format!("<Key>{id}.wav</Key>");
    eventually(20, "the recording in the bucket", || async {
        let listing = reqwest::get(format!("{endpoint}/{bucket}"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if listing.contains(&key_tag) {
            Ok(())
        } else {
            Err(listing)
        }
    })
    .await;
    let (status, audio) = fetch(&server, info["recording_url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(wav_seconds(&audio), 35.0);
}
