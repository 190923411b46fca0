//! Identifiers and secrets.

use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};

/// A new random object id (UUID v4, the form the reference shows).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `len` random base62 characters from the OS-seeded CSPRNG.
pub fn random_base62(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Hex SHA-256: how high-entropy secrets (API keys, session tokens) are stored.
/// A request's id, as the `Request-Id` header carries it.
pub fn request_id() -> String {
    format!("req_{}", random_base62(20))
}

pub fn sha256_hex(input: &str) -> String {
    hex::encode(Sha256::digest(input.as_bytes()))
}

/// A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes.
pub fn new_webhook_secret() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::thread_rng().gen();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}
