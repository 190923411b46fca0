//! E.164 phone numbers, validated with libphonenumber's metadata (the `phonenumber`
//! crate) and kept in canonical `+<digits>` form.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct E164(String);

impl E164 {
    /// Accepts only the E.164 form (`+` then 8 to 15 digits) of a number valid for its
    /// region, or one of the simulator's reserved `+1500555…` test numbers.
    pub fn parse(input: &str) -> Result<E164, String> {
        let s = input.trim();
        let digits = s
            .strip_prefix('+')
            .ok_or_else(|| format!("'{s}' is not in E.164 format (e.g. +15125551234)"))?;
        if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("'{s}' is not in E.164 format (e.g. +15125551234)"));
        }
        let parsed = phonenumber::parse(None, s)
            .map_err(|_| format!("'{s}' is not a valid phone number"))?;
        if !phonenumber::is_valid(&parsed) && !digits.starts_with("1500555") {
            return Err(format!("'{s}' is not a valid phone number"));
        }
        Ok(E164(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::E164;

    #[test]
    fn reference_examples_are_valid() {
        for n in [
            "+15125551234",
            "+15125559876",
            "+15005550001",
            "+15005550006",
            "+442079460958",
        ] {
            assert_eq!(E164::parse(n).unwrap().as_str(), n);
        }
    }

    #[test]
    fn invalid_numbers_are_rejected() {
        for n in [
            "",
            "5125551234",
            "555-1234",
            "+1 512 555 1234",
            "+1512555123",
            "+1234",
            "+10005551234",
            "+1512555123456789",
        ] {
            assert!(E164::parse(n).is_err(), "{n}");
        }
    }
}
