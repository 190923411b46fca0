//! Key scopes: parsed once at the edge, trusted after.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    All,
    AgentsRead,
    AgentsWrite,
    NumbersRead,
    NumbersWrite,
    CallsRead,
    CallsWrite,
    LeadsRead,
    LeadsWrite,
    WebhooksRead,
    WebhooksWrite,
    EventsRead,
    EventsReplay,
    CampaignsRead,
    CampaignsWrite,
    ComplianceRead,
    ComplianceWrite,
}

impl Scope {
    pub const ALL: [Scope; 17] = [
        Scope::All,
        Scope::AgentsRead,
        Scope::AgentsWrite,
        Scope::NumbersRead,
        Scope::NumbersWrite,
        Scope::CallsRead,
        Scope::CallsWrite,
        Scope::LeadsRead,
        Scope::LeadsWrite,
        Scope::WebhooksRead,
        Scope::WebhooksWrite,
        Scope::EventsRead,
        Scope::EventsReplay,
        Scope::CampaignsRead,
        Scope::CampaignsWrite,
        Scope::ComplianceRead,
        Scope::ComplianceWrite,
    ];

    /// The reference's defaults for a new key.
    pub const DEFAULTS: [Scope; 4] = [
        Scope::AgentsRead,
        Scope::NumbersRead,
        Scope::CallsRead,
        Scope::CallsWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::All => "*",
            Scope::AgentsRead => "agents:read",
            Scope::AgentsWrite => "agents:write",
            Scope::NumbersRead => "numbers:read",
            Scope::NumbersWrite => "numbers:write",
            Scope::CallsRead => "calls:read",
            Scope::CallsWrite => "calls:write",
            Scope::LeadsRead => "leads:read",
            Scope::LeadsWrite => "leads:write",
            Scope::WebhooksRead => "webhooks:read",
            Scope::WebhooksWrite => "webhooks:write",
            Scope::EventsRead => "events:read",
            Scope::EventsReplay => "events:replay",
            Scope::CampaignsRead => "campaigns:read",
            Scope::CampaignsWrite => "campaigns:write",
            Scope::ComplianceRead => "compliance:read",
            Scope::ComplianceWrite => "compliance:write",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scopes a key holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    pub fn new(mut scopes: Vec<Scope>) -> Scopes {
        scopes.dedup();
        Scopes(scopes)
    }

    /// Parses a client-supplied list; the error names the first unknown scope.
    pub fn parse_list<S: AsRef<str>>(items: &[S]) -> Result<Scopes, String> {
        let mut out = Vec::new();
        for item in items {
            let scope = Scope::parse(item.as_ref()).ok_or_else(|| item.as_ref().to_string())?;
            if !out.contains(&scope) {
                out.push(scope);
            }
        }
        Ok(Scopes(out))
    }

    pub fn allows(&self, scope: Scope) -> bool {
        self.0.contains(&Scope::All) || self.0.contains(&scope)
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|s| s.as_str().to_string()).collect()
    }

    /// Stored as a JSON array of strings.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.to_strings()).unwrap_or_else(|_| "[]".into())
    }

    /// Reads the stored form; scopes this build does not know are dropped (never widened).
    /// A stored list; `None` if it is not a JSON list of known scopes.
    pub fn from_json(text: &str) -> Option<Scopes> {
        let items: Vec<String> = serde_json::from_str(text).ok()?;
        items
            .iter()
            .map(|s| Scope::parse(s))
            .collect::<Option<_>>()
            .map(Scopes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_allows_everything_and_others_only_themselves() {
        let all = Scopes::parse_list(&["*"]).unwrap();
        assert!(Scope::ALL.iter().all(|s| all.allows(*s)));
        let read = Scopes::parse_list(&["calls:read"]).unwrap();
        assert!(read.allows(Scope::CallsRead));
        assert!(!read.allows(Scope::CallsWrite));
    }

    #[test]
    fn unknown_scope_is_named() {
        assert_eq!(
            Scopes::parse_list(&["calls:read", "calls:delete"]),
            Err("calls:delete".to_string())
        );
    }

    #[test]
    fn json_round_trip() {
        let scopes = Scopes::new(Scope::DEFAULTS.to_vec());
        assert_eq!(Scopes::from_json(&scopes.to_json()), Some(scopes));
        assert_eq!(Scopes::from_json(r#"["calls:read", "calls:fly"]"#), None);
    }
}
