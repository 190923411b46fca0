//! What a string may hold at the edge, for every JSON body and query string of the
//! API: no control characters (a NUL is refused by PostgreSQL, and none belongs in
//! a name or an id), and a documented maximum length per field.
//!
//! Free text (`context`, prompts, `notes`, `description`, messages) may contain tab,
//! line feed and carriage return; nothing else below U+0020, nor U+007F. Query
//! parameters may contain none at all.

use serde_json::Value;

use crate::error::ApiError;

/// The longest value, in characters, of a string field, by the field's name.
/// Strings nested in objects or arrays (metadata values, event lists) are held to the
/// limit of their own key, or of the top-level field they sit in.
pub const MAX_CHARS: &[(&str, usize)] = &[
    ("system_prompt", 20_000),
    ("inbound_prompt", 20_000),
    ("outbound_prompt", 20_000),
    ("context", 10_000),
    ("content", 20_000),
    ("notes", 10_000),
    ("webhook_url", 2_048),
    ("url", 2_048),
    ("password", 1_024),
    ("description", 1_000),
    ("first_message", 1_000),
    ("firstMessage", 1_000),
    ("inbound_greeting", 1_000),
    ("outbound_greeting", 1_000),
    ("outbound_first_message", 1_000),
    ("voicemail_message", 1_000),
    ("email", 254),
    ("name", 200),
    ("customer_name", 200),
    ("first_name", 200),
    ("firstName", 200),
    ("last_name", 200),
    ("lastName", 200),
];

/// Every other string: ids, statuses, phone numbers, metadata values.
pub const DEFAULT_MAX_CHARS: usize = 500;

pub fn max_chars(field: &str) -> usize {
    MAX_CHARS
        .iter()
        .find(|(name, _)| *name == field)
        .map_or(DEFAULT_MAX_CHARS, |(_, max)| *max)
}

fn is_refused_control(c: char, allow_whitespace: bool) -> bool {
    (c.is_ascii_control() && !(allow_whitespace && matches!(c, '\t' | '\n' | '\r')))
        || c == '\u{7f}'
}

/// Checks every string of a parsed JSON body (and every object key).
pub fn check_strings(body: &Value) -> Result<(), ApiError> {
    let Value::Object(map) = body else {
        return Ok(());
    };
    for (key, value) in map {
        check_text(key, "key", key, key)?;
        check_value(key, key, key, value)?;
    }
    Ok(())
}

fn check_value(param: &str, field: &str, path: &str, value: &Value) -> Result<(), ApiError> {
    match value {
        Value::String(s) => check_text(param, field, path, s),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_value(param, field, &format!("{path}[{i}]"), v)),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            check_text(param, "key", path, k)?;
            check_value(param, k, &format!("{path}.{k}"), v)
        }),
        _ => Ok(()),
    }
}

fn check_text(param: &str, field: &str, path: &str, s: &str) -> Result<(), ApiError> {
    if s.chars().any(|c| is_refused_control(c, true)) {
        return Err(ApiError::invalid(
            param,
            format!("'{path}' contains a control character"),
        ));
    }
    let max = max_chars(field);
    // Bytes bound characters from above: count only when it can matter.
    if s.len() > max && s.chars().count() > max {
        return Err(ApiError::invalid(
            param,
            format!("'{path}' must be at most {max} characters"),
        ));
    }
    Ok(())
}

/// Checks the decoded query parameters: no control characters, bounded lengths.
pub fn check_query(query: &str) -> Result<(), ApiError> {
    for (key, value) in form_urlencoded_pairs(query) {
        let param = key.as_str();
        if key
            .chars()
            .chain(value.chars())
            .any(|c| is_refused_control(c, false))
        {
            return Err(ApiError::invalid(
                param,
                format!("'{param}' contains a control character"),
            ));
        }
        let max = max_chars(param);
        if value.chars().count() > max {
            return Err(ApiError::invalid(
                param,
                format!("'{param}' must be at most {max} characters"),
            ));
        }
    }
    Ok(())
}

fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn param_of(r: Result<(), ApiError>) -> Option<String> {
        match r {
            Err(ApiError::InvalidRequest { param, .. }) => param,
            Err(other) => panic!("{other:?}"),
            Ok(()) => None,
        }
    }

    #[test]
    fn control_characters_are_refused_and_named() {
        let nul = check_strings(&json!({"email": "a\u{0}@x.test"}));
        assert_eq!(param_of(nul).as_deref(), Some("email"));
        let nested = check_strings(&json!({"metadata": {"crm": "a\u{1b}b"}}));
        assert_eq!(param_of(nested).as_deref(), Some("metadata"));
        let in_list = check_strings(&json!({"events": ["call.completed", "\u{7f}"]}));
        assert_eq!(param_of(in_list).as_deref(), Some("events"));
        assert!(check_strings(&json!({"context": "line one\nline two\ttab\r\n"})).is_ok());
        let top_level_key = check_strings(&json!({"na\u{1f}me": "Ann"}));
        assert_eq!(param_of(top_level_key).as_deref(), Some("na\u{1f}me"));
        assert_eq!(
            param_of(check_query("id=%00")).as_deref(),
            Some("id"),
            "a NUL in a query parameter"
        );
        assert_eq!(
            param_of(check_query("status=a%0Ab")).as_deref(),
            Some("status")
        );
        assert!(check_query("id=abc&limit=10").is_ok());
    }

    #[test]
    fn every_string_has_a_maximum() {
        assert!(check_strings(&json!({"name": "x".repeat(200)})).is_ok());
        let long = check_strings(&json!({"name": "x".repeat(201)}));
        assert_eq!(param_of(long).as_deref(), Some("name"));
        assert!(check_strings(&json!({"system_prompt": "é".repeat(20_000)})).is_ok());
        let notes = check_strings(&json!({"notes": "x".repeat(10_001)}));
        assert_eq!(param_of(notes).as_deref(), Some("notes"));
        let other = check_strings(&json!({"status": "x".repeat(501)}));
        assert_eq!(param_of(other).as_deref(), Some("status"));
        let query = check_query(&format!("id={}", "x".repeat(501)));
        assert_eq!(param_of(query).as_deref(), Some("id"));
    }
}
