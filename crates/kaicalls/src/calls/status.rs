//! The call state machine's vocabulary: statuses that only move forward, and the
//! normalized reasons a call ended for, mapped from providers' raw codes.

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    Queued,
    Ringing,
    InProgress,
    Completed,
    Failed,
    Canceled,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Queued => "queued",
            CallStatus::Ringing => "ringing",
            CallStatus::InProgress => "in_progress",
            CallStatus::Completed => "completed",
            CallStatus::Failed => "failed",
            CallStatus::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<CallStatus> {
        Some(match s {
            "queued" => CallStatus::Queued,
            "ringing" => CallStatus::Ringing,
            "in_progress" | "in-progress" => CallStatus::InProgress,
            "completed" => CallStatus::Completed,
            "failed" => CallStatus::Failed,
            "canceled" | "cancelled" => CallStatus::Canceled,
            _ => return None,
        })
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            CallStatus::Completed | CallStatus::Failed | CallStatus::Canceled
        )
    }

    fn rank(self) -> u8 {
        match self {
            CallStatus::Queued => 0,
            CallStatus::Ringing => 1,
            CallStatus::InProgress => 2,
            CallStatus::Completed | CallStatus::Failed | CallStatus::Canceled => 3,
        }
    }

    /// Transitions only move forward, and nothing leaves a terminal status.
    pub fn can_become(self, next: CallStatus) -> bool {
        !self.is_terminal() && next.rank() > self.rank()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndedReason {
    CustomerHangup,
    AgentHangup,
    Voicemail,
    MaxDuration,
    EndedByApi,
    // Handed to a human (`transfer_to_human`, `transfer-destination-request`). A plain
    // comment: a doc comment would make this variant its own schema, not one enum.
    Transferred,
    NoAnswer,
    Busy,
    InvalidNumber,
    ProviderError,
}

impl EndedReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndedReason::CustomerHangup => "customer_hangup",
            EndedReason::AgentHangup => "agent_hangup",
            EndedReason::Voicemail => "voicemail",
            EndedReason::MaxDuration => "max_duration",
            EndedReason::EndedByApi => "ended_by_api",
            EndedReason::Transferred => "transferred",
            EndedReason::NoAnswer => "no_answer",
            EndedReason::Busy => "busy",
            EndedReason::InvalidNumber => "invalid_number",
            EndedReason::ProviderError => "provider_error",
        }
    }

    pub fn parse(s: &str) -> Option<EndedReason> {
        [
            EndedReason::CustomerHangup,
            EndedReason::AgentHangup,
            EndedReason::Voicemail,
            EndedReason::MaxDuration,
            EndedReason::EndedByApi,
            EndedReason::Transferred,
            EndedReason::NoAnswer,
            EndedReason::Busy,
            EndedReason::InvalidNumber,
            EndedReason::ProviderError,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }

    /// The status a call ends in for this reason.
    pub fn final_status(self) -> CallStatus {
        match self {
            EndedReason::CustomerHangup
            | EndedReason::AgentHangup
            | EndedReason::Voicemail
            | EndedReason::MaxDuration
            | EndedReason::EndedByApi
            | EndedReason::Transferred => CallStatus::Completed,
            EndedReason::NoAnswer
            | EndedReason::Busy
            | EndedReason::InvalidNumber
            | EndedReason::ProviderError => CallStatus::Failed,
        }
    }

    /// Normalizes a provider's raw code (Vapi's `endedReason` vocabulary; the simulator
    /// speaks it too). Unknown codes are provider errors; the raw code is kept.
    pub fn from_provider_code(raw: &str) -> EndedReason {
        match raw {
            "customer-ended-call" => EndedReason::CustomerHangup,
            "assistant-ended-call" | "assistant-said-end-call-phrase" => EndedReason::AgentHangup,
            "assistant-forwarded-call" | "call.forwarded" => EndedReason::Transferred,
            "voicemail" => EndedReason::Voicemail,
            "exceeded-max-duration" => EndedReason::MaxDuration,
            "manually-canceled" | "ended-by-api" => EndedReason::EndedByApi,
            "customer-did-not-answer" | "no-answer" => EndedReason::NoAnswer,
            "customer-busy" | "busy" => EndedReason::Busy,
            "invalid-number" | "twilio-failed-to-connect-call" => EndedReason::InvalidNumber,
            // call.start.error-*, *-fault-*, pipeline-error-* and any code we do not
            // know: the call ends, as a provider error, with the raw code kept.
            _ => EndedReason::ProviderError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_only_move_forward() {
        use CallStatus::*;
        assert!(Queued.can_become(Ringing));
        assert!(Queued.can_become(InProgress));
        assert!(Ringing.can_become(Failed));
        assert!(InProgress.can_become(Completed));
        assert!(!Ringing.can_become(Queued));
        assert!(!InProgress.can_become(Ringing));
        assert!(!InProgress.can_become(InProgress));
        for terminal in [Completed, Failed, Canceled] {
            for next in [Queued, Ringing, InProgress, Completed, Failed, Canceled] {
                assert!(!terminal.can_become(next));
            }
        }
    }

    #[test]
    fn provider_codes_normalize() {
        assert_eq!(
            EndedReason::from_provider_code("customer-did-not-answer"),
            EndedReason::NoAnswer
        );
        assert_eq!(
            EndedReason::from_provider_code("pipeline-error-openai-llm-failed"),
            EndedReason::ProviderError
        );
        assert_eq!(EndedReason::Voicemail.final_status(), CallStatus::Completed);
        assert_eq!(EndedReason::Busy.final_status(), CallStatus::Failed);
        assert_eq!(
            EndedReason::parse("max_duration"),
            Some(EndedReason::MaxDuration)
        );
    }
}
