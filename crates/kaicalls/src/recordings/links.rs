//! Signed, expiring recording links:
//! `{public_url}/recordings/{call_id}.wav?expires={unix}&sig={hex HMAC-SHA256}` over
//! `"{call_id}:{expires}"`, keyed with a server-wide secret kept in the database (so
//! every instance, and every restart, signs alike).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::clock::Timestamp;

#[derive(Clone)]
pub struct RecordingLinks {
    key: Vec<u8>,
    public_url: String,
    /// How long a link handed out stays valid.
    pub ttl_secs: i64,
}

impl RecordingLinks {
    pub fn new(key: &str, public_url: &str, ttl_secs: i64) -> RecordingLinks {
        RecordingLinks {
            key: key.as_bytes().to_vec(),
            public_url: public_url.trim_end_matches('/').to_string(),
            ttl_secs,
        }
    }

    fn signature(&self, call_id: &str, expires: i64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(format!("{call_id}:{expires}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A link to the call's recording, valid for `ttl_secs` from `now`; and its expiry.
    pub fn sign(&self, call_id: &str, now: Timestamp) -> (String, Timestamp) {
        let expires = now.micros() / 1_000_000 + self.ttl_secs;
        let url = format!(
            "{}/recordings/{call_id}.wav?expires={expires}&sig={}",
            self.public_url,
            self.signature(call_id, expires)
        );
        (url, Timestamp(expires * 1_000_000))
    }

    /// True for an unexpired link signed by us for this call.
    pub fn verify(&self, call_id: &str, expires: i64, sig: &str, now: Timestamp) -> bool {
        let expected = self.signature(call_id, expires);
        let authentic: bool = expected.as_bytes().ct_eq(sig.as_bytes()).into();
        authentic && expires * 1_000_000 > now.micros()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_verify_until_they_expire_and_only_as_signed() {
        let links = RecordingLinks::new("k", "http://h", 60);
        let now = Timestamp(1_000_000_000_000_000);
        let (url, expires_at) = links.sign("call-1", now);
        let query = url.split_once('?').unwrap().1;
        let expires: i64 = query.split('&').next().unwrap()[8..].parse().unwrap();
        let sig = query.split("sig=").nth(1).unwrap();
        assert_eq!(expires_at.micros(), expires * 1_000_000);
        assert!(links.verify("call-1", expires, sig, now));
        assert!(!links.verify("call-2", expires, sig, now));
        assert!(!links.verify("call-1", expires + 1, sig, now));
        let first = if sig.starts_with('0') { "1" } else { "0" };
        let tampered = format!("{first}{}", &sig[1..]);
        assert!(!links.verify("call-1", expires, &tampered, now));
        assert!(!links.verify("call-1", expires, sig, Timestamp(expires * 1_000_000)));
    }
}
