//! Verifying KaiCalls webhooks (Standard Webhooks v1).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing webhook-id, webhook-timestamp or webhook-signature")]
    MissingHeaders,
    #[error("webhook-timestamp is too old or too new")]
    StaleTimestamp,
    #[error("no signature matches")]
    BadSignature,
}

/// Checks a delivery: `headers` gives a header's value by (lowercase) name; `now` is
/// the current Unix time; `tolerance_secs` bounds the timestamp's age (300 is usual).
pub fn verify(
    body: &str,
    header: impl Fn(&str) -> Option<String>,
    secret: &str,
    now: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let (Some(id), Some(ts), Some(sigs)) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    ) else {
        return Err(VerifyError::MissingHeaders);
    };
    let ts: i64 = ts.trim().parse().map_err(|_| VerifyError::StaleTimestamp)?;
    // In i128: a timestamp near i64::MIN or i64::MAX is stale, not an overflow.
    if (i128::from(now) - i128::from(ts)).abs() > i128::from(tolerance_secs) {
        return Err(VerifyError::StaleTimestamp);
    }
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = STANDARD
        .decode(encoded)
        .unwrap_or_else(|_| encoded.as_bytes().to_vec());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key");
    mac.update(format!("{id}.{ts}.{body}").as_bytes());
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    let matches = sigs.split(' ').any(|candidate| {
        candidate
            .strip_prefix("v1,")
            .is_some_and(|sig| bool::from(sig.as_bytes().ct_eq(expected.as_bytes())))
    });
    if matches {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_vector() {
        let headers = |name: &str| match name {
            "webhook-id" => Some("msg_p5jXN8AQM9LWM0D4loKWxJek".to_string()),
            "webhook-timestamp" => Some("1614265330".to_string()),
            "webhook-signature" => {
                Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".to_string())
            }
            _ => None,
        };
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(verify(body, headers, secret, 1614265330, 300), Ok(()));
        assert_eq!(
            verify("{}", headers, secret, 1614265330, 300),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(body, headers, "whsec_AAAA", 1614265330, 300),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(body, headers, secret, 1614265330 + 301, 300),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            verify(body, |_| None, secret, 0, 300),
            Err(VerifyError::MissingHeaders)
        );
        let extreme = |name: &str| match name {
            "webhook-timestamp" => Some(i64::MIN.to_string()),
            other => headers(other),
        };
        assert_eq!(
            verify(body, extreme, secret, 1614265330, 300),
            Err(VerifyError::StaleTimestamp)
        );
    }
}
