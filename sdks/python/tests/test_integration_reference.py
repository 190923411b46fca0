"""The API reference's Python example, against the real server."""

from __future__ import annotations

import pytest

from conftest import Server

pytestmark = pytest.mark.integration


def test_reference_python_example(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    # The example builds its client from the key alone: the server comes from
    # KAICALLS_BASE_URL. Its placeholders are the bootstrap agent and a lead made here.
    monkeypatch.setenv("KAICALLS_BASE_URL", server.base_url)
    from kaicalls import KaiCalls as Setup

    lead = Setup(api_key=server.live_key).leads.create(
        business_id=server.business_id,
        name="John Smith",
        phone="+15125551234",
        source="reference-example",
        status="new",
        score=80,
    )

    # ---- The reference's "SDKs / Python" example, verbatim but for the key and ids.
    from kaicalls import KaiCalls

    kai = KaiCalls(api_key=server.live_key)

    # Simple call — agent auto-enriches with CRM data
    call = kai.calls.create(agent_id=server.agent_id, to="+15125551234", name="John Smith")

    # Full call with lead linking and custom opening
    call = kai.calls.create(
        agent_id=server.agent_id,
        to="+15125551234",
        name="John Smith",
        lead_id=lead.id,
        context="Following up on car accident case",
        first_message="Hey John, this is Kai — do you have a minute?",
    )

    result = kai.calls.wait(call.id)
    print(result.summary)
    # ---- end of the example

    assert isinstance(result.summary, str) and result.summary.strip()
    assert result.id == call.id
    assert result.status == "completed"
    assert result.lead_id == lead.id
    first_agent_turn = next(turn for turn in result.transcript if turn.role == "agent")
    assert "Hey John, this is Kai — do you have a minute?" in first_agent_turn.text
    assert result.variables.name == "John"
    assert result.variables.lead_status == "new"
    assert str(result.variables.lead_score) == "80"
    # The simple call, matched to the lead by its number, was the first interaction.
    assert str(result.variables.interaction_count) == "1"
