//! The API key format: `kc_live_` or `kc_test_` followed by 40 random base62
//! characters. Only the SHA-256 of a key is stored; the full key is shown once.

use subtle::ConstantTimeEq;

use crate::ids;

const RANDOM_LEN: usize = 40;
/// The reference's `prefix`: the first 12 characters, e.g. `kc_live_abc1`.
pub const PREFIX_LEN: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Live,
    Test,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "live" => Some(Mode::Live),
            "test" => Some(Mode::Test),
            _ => None,
        }
    }
}

/// A syntactically valid key as presented by a client.
pub struct PresentedKey {
    pub mode: Mode,
    pub hash: String,
}

impl PresentedKey {
    /// Checks the format before any database work: `kc_(live|test)_` + ≥ 32 base62.
    pub fn parse(raw: &str) -> Option<PresentedKey> {
        let (mode, rest) = if let Some(rest) = raw.strip_prefix("kc_live_") {
            (Mode::Live, rest)
        } else if let Some(rest) = raw.strip_prefix("kc_test_") {
            (Mode::Test, rest)
        } else {
            return None;
        };
        if rest.len() < 32 || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        Some(PresentedKey {
            mode,
            hash: ids::sha256_hex(raw),
        })
    }

    /// Constant-time comparison against a stored hash.
    pub fn matches(&self, stored_hash: &str) -> bool {
        self.hash.as_bytes().ct_eq(stored_hash.as_bytes()).into()
    }
}

/// A freshly generated key: the secret (shown once) and what is stored.
pub struct NewKey {
    pub secret: String,
    pub prefix: String,
    pub hash: String,
}

pub fn generate(mode: Mode) -> NewKey {
    let secret = format!("kc_{}_{}", mode.as_str(), ids::random_base62(RANDOM_LEN));
    NewKey {
        prefix: secret[..PREFIX_LEN].to_string(),
        hash: ids::sha256_hex(&secret),
        secret,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_match() {
        let key = generate(Mode::Test);
        assert!(key.secret.starts_with("kc_test_"));
        assert_eq!(key.prefix.len(), 12);
        let parsed = PresentedKey::parse(&key.secret).unwrap();
        assert_eq!(parsed.mode, Mode::Test);
        assert!(parsed.matches(&key.hash));
        assert!(!parsed.matches(&generate(Mode::Test).hash));
    }

    #[test]
    fn malformed_keys_are_rejected() {
        for bad in [
            "",
            "kc_live_short",
            "sk_live_0123456789012345678901234567890123",
            "kc_prod_0123456789012345678901234567890123",
            "kc_live_01234567890123456789012345678901-3",
        ] {
            assert!(PresentedKey::parse(bad).is_none(), "{bad}");
        }
    }
}
