//! `Idempotency-Key` on `POST /api/v1/calls`: the first request's response is saved
//! (in the transaction that creates the call) and replayed for 24 hours to requests
//! with the same key and body; a different body is `400 idempotency_error`, a request
//! still in flight `409 conflict`.
//!
//! Across a crash a key still has exactly one outcome. The claim holds a lease (the
//! longest a request may take to record and dial its call); the call's first
//! transaction writes the call's id onto the claim. A retry that finds an unfinished
//! claim whose lease has run out takes it over: with no call recorded it starts
//! afresh, with a call it finishes that call (dials it if it never was) and answers
//! with it.

use sqlx::Row;

use crate::clock::Timestamp;
use crate::error::ApiError;
use crate::store::{is_unique_violation, Store, Tx};

const KEEP_MICROS: i64 = 24 * 3600 * 1_000_000;
/// An in-flight claim older than this was abandoned by a crashed process.
const ABANDONED_MICROS: i64 = 5 * 60 * 1_000_000;
const MAX_KEY_LEN: usize = 255;

/// How long a request holds its claim, unless configured
/// (`KAICALLS_IDEMPOTENCY_LEASE_SECS`): longer than a dial may take (Vapi's client
/// times out at 20 s).
pub const DEFAULT_LEASE_SECS: f64 = 30.0;

pub struct Saved {
    pub status: u16,
    pub body: String,
}

pub enum Claim {
    /// First use: go ahead, then save the response.
    New,
    /// Seen before with the same body: answer this again.
    Replay(Saved),
    /// A request with this key began this call and then died (its lease ran out
    /// before it saved an answer): finish the call and answer with it.
    Resume(String),
}

pub fn validate_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        ));
    }
    Ok(())
}

pub async fn claim(
    store: &Store,
    key_id: &str,
    key: &str,
    request_hash: &str,
    now: Timestamp,
    lease_secs: f64,
) -> Result<Claim, ApiError> {
    let locked_until = now.plus_secs_f64(lease_secs).micros();
    for _ in 0..3 {
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (key_id, idempotency_key, request_hash, status_code, response, created_at, locked_until)
             VALUES ($1, $2, $3, NULL, NULL, $4, $5)",
        )
        .bind(key_id)
        .bind(key)
        .bind(request_hash)
        .bind(now.micros())
        .bind(locked_until)
        .execute(&store.pool)
        .await;
        match inserted {
            Ok(_) => return Ok(Claim::New),
            Err(e) if is_unique_violation(&e) => {}
            Err(e) => return Err(e.into()),
        }
        let row = sqlx::query(
            "SELECT request_hash, status_code, response, created_at, call_id, locked_until
             FROM idempotency_keys WHERE key_id = $1 AND idempotency_key = $2",
        )
        .bind(key_id)
        .bind(key)
        .fetch_optional(&store.pool)
        .await?;
        let Some(row) = row else { continue };
        let (hash, status, body, created): (String, Option<i64>, Option<String>, i64) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let (call_id, held_until): (Option<String>, Option<i64>) = (row.get(4), row.get(5));
        if now.micros() - created > KEEP_MICROS {
            release(store, key_id, key).await?;
            continue;
        }
        if hash != request_hash {
            return Err(ApiError::Idempotency(
                "This Idempotency-Key was already used with a different request body".into(),
            ));
        }
        if let (Some(status), Some(body)) = (status, body) {
            return Ok(Claim::Replay(Saved {
                status: status as u16,
                body,
            }));
        }
        // Unfinished. Claims from before leases existed are held for 5 minutes.
        let held_until = held_until.unwrap_or(created + ABANDONED_MICROS);
        if now.micros() < held_until {
            return Err(ApiError::Conflict(
                "A request with this Idempotency-Key is still in progress".into(),
            ));
        }
        // Its request died. Take the claim over (one retry wins the race for it).
        let taken = sqlx::query(
            "UPDATE idempotency_keys SET locked_until = $1
             WHERE key_id = $2 AND idempotency_key = $3 AND status_code IS NULL AND COALESCE(locked_until, 0) = COALESCE($4, 0)",
        )
        .bind(locked_until)
        .bind(key_id)
        .bind(key)
        .bind(row.get::<Option<i64>, _>(5))
        .execute(&store.pool)
        .await?
        .rows_affected();
        if taken == 0 {
            continue;
        }
        return Ok(match call_id {
            Some(call_id) => Claim::Resume(call_id),
            None => Claim::New,
        });
    }
    Err(ApiError::Conflict(
        "Idempotency-Key is contended; retry".into(),
    ))
}

/// The saved answer, sent again, marked `Idempotent-Replayed: true`.
pub fn replay(saved: Saved) -> axum::response::Response {
    use axum::http::{header, HeaderName, StatusCode};
    use axum::response::IntoResponse;
    let status = StatusCode::from_u16(saved.status).unwrap_or(StatusCode::OK);
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (HeaderName::from_static("idempotent-replayed"), "true"),
        ],
        saved.body,
    )
        .into_response()
}

/// Names the call the claiming request began, in the transaction that records it.
pub async fn attach_call(tx: &mut Tx, key_id: &str, key: &str, call_id: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE idempotency_keys SET call_id = $1 WHERE key_id = $2 AND idempotency_key = $3",
    )
    .bind(call_id)
    .bind(key_id)
    .bind(key)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Saves the response of the request that claimed the key.
pub async fn save(tx: &mut Tx, key_id: &str, key: &str, saved: &Saved) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE idempotency_keys SET status_code = $1, response = $2 WHERE key_id = $3 AND idempotency_key = $4",
    )
    .bind(saved.status as i64)
    .bind(&saved.body)
    .bind(key_id)
    .bind(key)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Frees a key whose request failed unexpectedly, so a retry can run.
pub async fn release(store: &Store, key_id: &str, key: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE key_id = $1 AND idempotency_key = $2")
        .bind(key_id)
        .bind(key)
        .execute(&store.pool)
        .await?;
    Ok(())
}
