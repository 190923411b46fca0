//! `Idempotency-Key` on `POST /api/v1/calls`: the first request's response is saved
//! (in the transaction that creates the call) and replayed for 24 hours to requests
//! with the same key and body; a different body is `400 idempotency_error`, a request
//! still in flight `409 conflict`.

use sqlx::Row;

use crate::clock::Timestamp;
use crate::error::ApiError;
use crate::store::{is_unique_violation, Store, Tx};

const KEEP_MICROS: i64 = 24 * 3600 * 1_000_000;
/// An in-flight claim older than this was abandoned by a crashed process.
const ABANDONED_MICROS: i64 = 5 * 60 * 1_000_000;
const MAX_KEY_LEN: usize = 255;

pub struct Saved {
    pub status: u16,
    pub body: String,
}

pub enum Claim {
    /// First use: go ahead, then save the response.
    New,
    /// Seen before with the same body: answer this again.
    Replay(Saved),
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
) -> Result<Claim, ApiError> {
    for _ in 0..3 {
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (key_id, idempotency_key, request_hash, status_code, response, created_at)
             VALUES ($1, $2, $3, NULL, NULL, $4)",
        )
        .bind(key_id)
        .bind(key)
        .bind(request_hash)
        .bind(now.micros())
        .execute(&store.pool)
        .await;
        match inserted {
            Ok(_) => return Ok(Claim::New),
            Err(e) if is_unique_violation(&e) => {}
            Err(e) => return Err(e.into()),
        }
        let row = sqlx::query(
            "SELECT request_hash, status_code, response, created_at FROM idempotency_keys
             WHERE key_id = $1 AND idempotency_key = $2",
        )
        .bind(key_id)
        .bind(key)
        .fetch_optional(&store.pool)
        .await?;
        let Some(row) = row else { continue };
        let (hash, status, body, created): (String, Option<i64>, Option<String>, i64) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let age = now.micros() - created;
        if age > KEEP_MICROS || (status.is_none() && age > ABANDONED_MICROS) {
            release(store, key_id, key).await?;
            continue;
        }
        if hash != request_hash {
            return Err(ApiError::Idempotency(
                "This Idempotency-Key was already used with a different request body".into(),
            ));
        }
        return match (status, body) {
            (Some(status), Some(body)) => Ok(Claim::Replay(Saved {
                status: status as u16,
                body,
            })),
            _ => Err(ApiError::Conflict(
                "A request with this Idempotency-Key is still in progress".into(),
            )),
        };
    }
    Err(ApiError::Conflict(
        "Idempotency-Key is contended; retry".into(),
    ))
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
