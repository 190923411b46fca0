"""Inbound calls against the real server: sandbox rings (a new caller, a voicemail, a
caller who asks for a person), calls listed by direction, voicemails with a playable
recording, staff alert settings and the alerts the calls raised.

The rings run on a server of their own: alert settings are business-wide and the
transfer destination is set on the agent, which the shared server's tests also use.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from conftest import Server, running_server
from kaicalls import (
    AlertSettings,
    AsyncKaiCalls,
    Call,
    CallDetail,
    ForbiddenError,
    InvalidRequestError,
    KaiCalls,
    StaffAlert,
    Voicemail,
)

pytestmark = pytest.mark.integration

VOICEMAIL_CALLER = "+15005550102"
WANTS_A_HUMAN = "+15005550101"
TRANSFER_TO = "+15125550111"
STAFF = ["frontdesk@smithlaw.test", "partner@smithlaw.test"]


def _caller() -> str:
    return f"+1737555{random.randint(0, 9999):04d}"


@dataclass(frozen=True)
class Rung:
    """A ring as answered and the call once finished."""

    answered: Call
    finished: CallDetail


@dataclass(frozen=True)
class Inbound:
    server: Server
    kai: KaiCalls
    settings: AlertSettings
    new_caller: str
    intake: Rung
    voicemail: Rung
    transfer: Rung


@pytest.fixture(scope="module")
def inbound(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inbound]:
    with (
        running_server(tmp_path_factory.mktemp("kaicalls-inbound")) as server,
        KaiCalls(server.test_key, base_url=server.base_url) as kai,
    ):
        # Staff hear about every event; the agent can put a caller through.
        settings = kai.staff_alerts.update_settings(emails=STAFF)
        kai.agents.update(server.agent_id, transfer_phone_number=TRANSFER_TO)

        def ring(caller: str) -> Rung:
            answered = kai.sandbox.ring(to=server.phone_number, from_=caller)
            return Rung(answered, kai.calls.wait(answered.id, interval=0.2, timeout=60))

        new_caller = _caller()
        yield Inbound(
            server=server,
            kai=kai,
            settings=settings,
            new_caller=new_caller,
            intake=ring(new_caller),
            voicemail=ring(VOICEMAIL_CALLER),
            transfer=ring(WANTS_A_HUMAN),
        )


def _rungs(inbound: Inbound) -> list[Rung]:
    return [inbound.intake, inbound.voicemail, inbound.transfer]


def test_a_ring_is_answered_as_an_inbound_call(inbound: Inbound) -> None:
    server = inbound.server
    callers = [inbound.new_caller, VOICEMAIL_CALLER, WANTS_A_HUMAN]
    for rung, caller in zip(_rungs(inbound), callers, strict=True):
        answered, finished = rung.answered, rung.finished
        assert type(answered) is Call and type(finished) is CallDetail
        assert (answered.direction, answered.status) == ("inbound", "ringing")
        assert (answered.to, answered["from"]) == (server.phone_number, caller)
        assert answered.agent_id == server.agent_id and answered.mode == "test"
        assert finished.id == answered.id
        assert (finished.direction, finished.status) == ("inbound", "completed")
        assert finished["from"] == caller and finished.transcript


def test_an_unknown_caller_becomes_a_lead(inbound: Inbound) -> None:
    lead_id = inbound.intake.finished.lead_id
    assert lead_id
    lead = inbound.kai.leads.get(lead_id)
    assert (lead.phone, lead.source) == (inbound.new_caller, "inbound_call")


def test_a_caller_asking_for_a_person_is_transferred(inbound: Inbound) -> None:
    agent = inbound.kai.agents.get(inbound.server.agent_id)
    assert agent.transfer_enabled is True
    assert [d.number for d in agent.transfer_destinations] == [TRANSFER_TO]
    transferred = inbound.transfer.finished
    assert transferred.ended_reason == "transferred"
    assert transferred.transfer_destination == TRANSFER_TO
    assert inbound.intake.finished.transfer_destination is None


def test_calls_list_filters_by_direction(inbound: Inbound) -> None:
    kai = inbound.kai
    ids = {rung.answered.id for rung in _rungs(inbound)}
    page = kai.calls.list(direction="inbound", limit=100)
    assert page.calls and all(c.direction == "inbound" for c in page.calls)
    assert ids <= {c.id for c in page.calls}
    listed = next(c for c in page.calls if c.id == inbound.transfer.answered.id)
    assert (listed["from"], listed.transfer_destination) == (WANTS_A_HUMAN, TRANSFER_TO)

    iterated = [c.id for c in kai.calls.iter(direction="inbound", limit=1)]
    assert ids <= set(iterated) and len(iterated) == len(set(iterated))
    outbound = kai.calls.list(direction="outbound", limit=100).calls
    assert all(c.direction == "outbound" for c in outbound)
    assert not ids & {c.id for c in outbound}
    # Without the filter both directions are listed.
    assert ids <= {c.id for c in kai.calls.list(limit=100).calls}

    with pytest.raises(InvalidRequestError) as excinfo:
        kai.calls.list(direction="sideways")
    assert excinfo.value.param == "direction"


def test_the_voicemail_is_listed_with_a_playable_recording(inbound: Inbound) -> None:
    kai = inbound.kai
    call_id = inbound.voicemail.answered.id
    page = kai.voicemails.list(limit=100)
    assert page.has_more is False
    voicemail = next(v for v in page.voicemails if v.call_id == call_id)
    assert type(voicemail) is Voicemail
    assert voicemail.caller == VOICEMAIL_CALLER
    assert voicemail.business_id == inbound.server.business_id
    assert voicemail.lead_id == inbound.voicemail.finished.lead_id
    assert voicemail.transcript.strip()
    assert voicemail.mode == "test"
    assert voicemail.recording_url and voicemail.recording_url.startswith("http")
    # Signed: fetchable without the API key.
    audio = httpx.get(voicemail.recording_url, timeout=30)
    assert audio.status_code == 200
    assert audio.headers["content-type"].startswith("audio/") and audio.content

    assert call_id in [v.call_id for v in kai.voicemails.iter(limit=1)]
    assert kai.voicemails.list(business_id=inbound.server.business_id).voicemails
    # The intake conversation and the transfer left no message.
    others = {inbound.intake.answered.id, inbound.transfer.answered.id}
    assert not others & {v.call_id for v in page.voicemails}


def test_voicemails_and_alerts_are_kept_per_mode(inbound: Inbound) -> None:
    server = inbound.server
    with KaiCalls(server.live_key, base_url=server.base_url) as live:
        assert live.voicemails.list().voicemails == []
        assert live.staff_alerts.list().alerts == []
        assert inbound.voicemail.answered.id not in {
            c.id for c in live.calls.list(direction="inbound").calls
        }
        with pytest.raises(ForbiddenError):
            live.sandbox.ring(to=server.phone_number, from_=_caller())


def test_staff_alert_settings_are_saved_and_read_back(inbound: Inbound) -> None:
    kai = inbound.kai
    saved = inbound.settings
    assert type(saved) is AlertSettings
    assert saved.business_id == inbound.server.business_id
    assert saved.emails == STAFF and saved.enabled is True
    assert set(saved.events) == {"new_lead", "callback_requested", "follow_up", "voicemail"}
    assert saved.updated_at

    read = kai.staff_alerts.settings()
    assert (read.emails, read.events, read.enabled) == (saved.emails, saved.events, True)
    assert kai.staff_alerts.settings(business_id=inbound.server.business_id) == read

    # Only what is passed changes; emails are normalized and deduplicated.
    changed = kai.staff_alerts.update_settings(emails=[*STAFF, STAFF[0].upper()])
    assert changed.emails == STAFF and changed.events == saved.events
    with pytest.raises(InvalidRequestError) as excinfo:
        kai.staff_alerts.update_settings(events=["everything"])
    assert excinfo.value.param == "events"
    assert kai.staff_alerts.settings().events == saved.events


def test_the_calls_raised_staff_alerts(inbound: Inbound) -> None:
    kai = inbound.kai
    page = kai.staff_alerts.list(limit=100)
    assert page.alerts and page.has_more is False
    assert all(type(a) is StaffAlert for a in page.alerts)

    call_id = inbound.voicemail.answered.id
    alerts = kai.staff_alerts.list(call_id=call_id).alerts
    assert alerts and all(a.call_id == call_id for a in alerts)
    voicemail = [a for a in alerts if a.event == "voicemail"]
    assert sorted(a.recipient for a in voicemail) == sorted(STAFF)
    for alert in voicemail:
        assert alert.channel == "email" and alert.mode == "test"
        assert alert.business_id == inbound.server.business_id
        assert alert.status in ("pending", "delivered", "failed")
        assert alert.subject and alert.body

    new_lead = kai.staff_alerts.list(call_id=inbound.intake.answered.id).alerts
    assert sorted(a.recipient for a in new_lead if a.event == "new_lead") == sorted(STAFF)


def test_staff_alerts_iterate_one_per_page(inbound: Inbound) -> None:
    kai = inbound.kai
    everything = [a.id for a in kai.staff_alerts.list(limit=100).alerts]
    assert [a.id for a in kai.staff_alerts.iter(limit=1)] == everything


@pytest.mark.anyio
async def test_async_sandbox_voicemails_and_alerts(inbound: Inbound) -> None:
    server = inbound.server
    async with AsyncKaiCalls(server.test_key, base_url=server.base_url) as kai:
        answered = await kai.sandbox.ring(to=server.phone_number, from_=VOICEMAIL_CALLER)
        assert type(answered) is Call and answered.direction == "inbound"
        finished = await kai.calls.wait(answered.id, interval=0.2, timeout=60)
        assert finished.status == "completed"
        inbound_ids = [c.id async for c in kai.calls.iter(direction="inbound")]
        assert answered.id in inbound_ids
        voicemails = [v async for v in kai.voicemails.iter()]
        assert answered.id in [v.call_id for v in voicemails]
        settings = await kai.staff_alerts.settings()
        assert settings.emails == STAFF
        alerts = [a async for a in kai.staff_alerts.iter(call_id=answered.id)]
        assert {a.event for a in alerts} >= {"voicemail"}
