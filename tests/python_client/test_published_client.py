"""Compatibility suite: the published ``kaicalls`` 0.1.0 client against our server.

The client is used exactly as shipped on PyPI (see requirements.txt); nothing here
patches it. What the client sends and reads: docs/python-client-surface.md.

Environment:

- ``KAICALLS_BASE_URL``: the server *origin*, e.g. ``http://127.0.0.1:8080``. The
  client appends ``/api/v1/...`` itself, so do not include ``/api/v1`` (a trailing
  ``/api/v1`` is stripped here to be forgiving; a trailing slash is fine).
- ``KAICALLS_LIVE_KEY``: a ``kc_live_`` key with scope ``*`` (as bootstrap prints).
- ``KAICALLS_AGENT_ID``, ``KAICALLS_BUSINESS_ID``: the bootstrap agent (it has a
  phone number) and its business.
- ``KAICALLS_TEST_KEY``: the bootstrap's ``kc_test_`` key, for the sandbox's inbound
  calls (without it those tests skip, or fail with ``KAICALLS_REQUIRE_SERVER=1``).
- Optional: ``KAICALLS_WAIT_INTERVAL`` (poll seconds, default 1),
  ``KAICALLS_WAIT_TIMEOUT`` (default 300), ``KAICALLS_REQUIRE_SERVER=1`` to fail
  instead of skip when the variables above are missing.

Python 3.11+. Run:
``pip install -r tests/python_client/requirements.txt``, then
``pytest -rs tests/python_client``.
"""

from __future__ import annotations

import os
import random
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from kaicalls import KaiCalls, KaiCallsError, KaiObject

_REQUIRED_ENV = (
    "KAICALLS_BASE_URL",
    "KAICALLS_LIVE_KEY",
    "KAICALLS_AGENT_ID",
    "KAICALLS_BUSINESS_ID",
)
_missing = [name for name in _REQUIRED_ENV if not os.environ.get(name)]
if _missing:
    _why = "published-client suite needs a running server; unset: " + ", ".join(
        _missing
    )
    if os.environ.get("KAICALLS_REQUIRE_SERVER"):
        pytest.fail(_why, pytrace=False)
    pytest.skip(_why, allow_module_level=True)


def _origin(url: str) -> str:
    url = url.rstrip("/")
    url = url.removesuffix("/api/v1")
    return url


BASE_URL = _origin(os.environ["KAICALLS_BASE_URL"])
LIVE_KEY = os.environ["KAICALLS_LIVE_KEY"]
WAIT_INTERVAL = float(os.environ.get("KAICALLS_WAIT_INTERVAL", "1.0"))
WAIT_TIMEOUT = float(os.environ.get("KAICALLS_WAIT_TIMEOUT", "300"))

QUALITY_DIMENSIONS = (
    "professionalism",
    "empathy",
    "information_gathering",
    "resolution",
)
ENRICHMENT_VARIABLES = (
    "name",
    "lead_score",
    "lead_status",
    "interaction_count",
    "days_since_first_contact",
    "lead_source",
    "business_name",
    "business_phone",
    "time_of_day",
)
CALL_STATUSES = {"queued", "ringing", "in_progress", "completed", "failed", "canceled"}


# ---------------------------------------------------------------------------- helpers


class RecordingSession(requests.Session):
    """A requests.Session that keeps the last responses, so tests can check what the
    client hides (HTTP status of a 2xx, headers) without touching the client."""

    def __init__(self) -> None:
        super().__init__()
        self.responses: deque[requests.Response] = deque(maxlen=20)

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        response = super().request(method, url, *args, **kwargs)
        self.responses.append(response)
        return response

    @property
    def last(self) -> requests.Response:
        return self.responses[-1]


def _suffix() -> str:
    return uuid.uuid4().hex[:10]


def _phone() -> str:
    """A random, valid US E.164 number outside the simulator's +1500555000X outcomes:
    the simulator completes calls to it."""
    return f"+1512555{random.randint(0, 9999):04d}"


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hours_from_now(hours: float) -> str:
    return _iso(datetime.now(UTC) + timedelta(hours=hours))


def _ts(value: Any) -> datetime:
    assert isinstance(value, str) and value, (
        f"expected an ISO 8601 timestamp, got {value!r}"
    )
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"timestamp without a zone: {value!r}"
    return parsed


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _expect_error(action: Callable[[], Any], status: int, code: str) -> KaiCallsError:
    with pytest.raises(KaiCallsError) as excinfo:
        action()
    err = excinfo.value
    assert (err.status, err.code) == (status, code), f"body: {err.body!r}"
    # The envelope the client parsed: {"error": {"code", "message"}}.
    assert isinstance(err.body, dict) and isinstance(err.body.get("error"), dict), (
        err.body
    )
    assert err.body["error"]["code"] == code
    assert _nonempty_str(err.body["error"]["message"])
    assert str(err) == err.body["error"]["message"]
    return err


def _ids(items: list[KaiObject]) -> list[str]:
    return [item.id for item in items]


@dataclass
class FinishedCall:
    created: KaiObject
    result: KaiObject


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def session() -> Iterator[RecordingSession]:
    with RecordingSession() as s:
        yield s


@pytest.fixture(scope="session")
def kai(session: RecordingSession) -> KaiCalls:
    return KaiCalls(api_key=LIVE_KEY, base_url=BASE_URL, session=session)


@pytest.fixture(scope="session")
def agent_id() -> str:
    return os.environ["KAICALLS_AGENT_ID"]


@pytest.fixture(scope="session")
def business_id() -> str:
    return os.environ["KAICALLS_BUSINESS_ID"]


def _wait(kai: KaiCalls, call_id: str) -> KaiObject:
    return kai.calls.wait(call_id, interval=WAIT_INTERVAL, timeout=WAIT_TIMEOUT)


@pytest.fixture(scope="session")
def completed_call(kai: KaiCalls, agent_id: str) -> FinishedCall:
    created = kai.calls.create(
        agent_id=agent_id,
        to=_phone(),
        name="Casey Compat",
        context="Confirm the kitchen remodel estimate visit on Tuesday at 10am.",
    )
    return FinishedCall(created, _wait(kai, created.id))


@pytest.fixture(scope="session")
def failed_call(kai: KaiCalls, agent_id: str) -> FinishedCall:
    created = kai.calls.create(agent_id=agent_id, to="+15005550001", name="No Answer")
    return FinishedCall(created, _wait(kai, created.id))


@pytest.fixture(scope="session")
def test_key() -> str:
    key = os.environ.get("KAICALLS_TEST_KEY")
    if not key:
        why = "the sandbox's inbound calls need KAICALLS_TEST_KEY (a kc_test_ key)"
        if os.environ.get("KAICALLS_REQUIRE_SERVER"):
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    return key


@pytest.fixture(scope="session")
def test_kai(session: RecordingSession, test_key: str) -> KaiCalls:
    return KaiCalls(api_key=test_key, base_url=BASE_URL, session=session)


@pytest.fixture
def scratch_agent(kai: KaiCalls, business_id: str) -> KaiObject:
    """A fresh agent without a phone number."""
    return kai.agents.create(
        business_id=business_id,
        name=f"Compat Scratch {_suffix()}",
        system_prompt="You are a test agent.",
    )


# ------------------------------------------------------------------------------ calls


def test_readme_quick_start(
    kai: KaiCalls, agent_id: str, session: RecordingSession
) -> None:
    # The client README's quick start, verbatim apart from the ids (default wait()).
    call = kai.calls.create(
        agent_id=agent_id,
        to="+15125551234",
        name="John Smith",
        context="Following up on his kitchen remodel inquiry",
    )
    assert session.last.status_code == 201
    assert isinstance(call, KaiObject)
    assert _nonempty_str(call.id)
    assert call.status == "queued"
    assert call.agent_id == agent_id
    assert call.to == "+15125551234"
    assert call.name == "John Smith"
    assert _nonempty_str(call.conversation_id)
    _ts(call.created_at)

    result = kai.calls.wait(call.id)
    print(result.summary)

    assert result.id == call.id
    assert result.status == "completed"
    assert _nonempty_str(result.summary)


def test_call_detail_has_reference_fields(
    kai: KaiCalls, agent_id: str, business_id: str, completed_call: FinishedCall
) -> None:
    created, result = completed_call.created, completed_call.result
    assert result.status == "completed"
    assert result.id == created.id
    assert result.conversation_id == created.conversation_id
    assert result.direction == "outbound"
    assert _is_int(result.duration) and 0 < result.duration <= 600
    assert result.agent_id == agent_id
    assert result.agent_name == kai.agents.get(agent_id).name
    assert result.business_id == business_id
    assert "lead_id" in result
    assert _nonempty_str(result.summary)
    assert isinstance(result.recording_url, str) and result.recording_url.startswith(
        "http"
    )
    # README: nested objects support attribute access.
    assert _is_int(result.quality_dimensions.empathy)
    for dimension in QUALITY_DIMENSIONS:
        score = result.quality_dimensions[dimension]
        assert _is_int(score) and 0 <= score <= 100, (dimension, score)
    assert _ts(result.created_at) == _ts(created.created_at)
    # Spec additions on the detail.
    assert result.to == created.to
    assert result.name == "Casey Compat"
    assert result.ended_reason == "customer_hangup"
    assert isinstance(result.transcript, list) and result.transcript
    for turn in result.transcript:
        assert turn.role in ("agent", "customer") and _nonempty_str(turn.text)


def test_get_matches_wait_result(kai: KaiCalls, completed_call: FinishedCall) -> None:
    again = kai.calls.get(completed_call.created.id)
    assert again.status == "completed"
    assert again.summary == completed_call.result.summary
    assert again.duration == completed_call.result.duration


def test_created_call_appears_in_list(
    kai: KaiCalls, agent_id: str, completed_call: FinishedCall
) -> None:
    page = kai.calls.list(agent_id=agent_id, limit=100)
    assert isinstance(page.has_more, bool)
    assert isinstance(page.calls, list) and page.calls
    assert all(item.agent_id == agent_id for item in page.calls)
    stamps = [_ts(item.created_at) for item in page.calls]
    assert stamps == sorted(stamps, reverse=True), "calls must be newest first"

    listed = {item.id: item for item in page.calls}
    assert completed_call.created.id in listed
    item = listed[completed_call.created.id]
    assert item.status == "completed"
    assert item.duration == completed_call.result.duration
    assert item.conversation_id == completed_call.created.conversation_id
    assert _nonempty_str(item.agent_name)


def test_list_filters_by_status(
    kai: KaiCalls,
    agent_id: str,
    failed_call: FinishedCall,
    completed_call: FinishedCall,
) -> None:
    assert failed_call.result.status == "failed"
    assert failed_call.result.ended_reason == "no_answer"

    failed = kai.calls.list(agent_id=agent_id, status="failed", limit=100).calls
    assert all(item.status == "failed" for item in failed)
    assert failed_call.created.id in _ids(failed)
    assert completed_call.created.id not in _ids(failed)

    completed = kai.calls.list(agent_id=agent_id, status="completed", limit=100).calls
    assert all(item.status == "completed" for item in completed)
    assert completed_call.created.id in _ids(completed)
    assert failed_call.created.id not in _ids(completed)


def test_list_paginates_with_after(kai: KaiCalls, agent_id: str) -> None:
    first = kai.calls.create(agent_id=agent_id, to=_phone(), context="pagination one")
    second = kai.calls.create(agent_id=agent_id, to=_phone(), context="pagination two")
    wanted = {first.id, second.id}

    seen: list[str] = []
    page = kai.calls.list(agent_id=agent_id, limit=1)
    assert page.has_more is True
    for _ in range(50):
        assert len(page.calls) == 1
        seen.append(page.calls[0].id)
        if wanted <= set(seen) or not page.has_more:
            break
        page = kai.calls.list(
            agent_id=agent_id, limit=1, after=page.calls[0].created_at
        )
    assert len(seen) == len(set(seen)), f"a call was returned twice: {seen}"
    assert wanted <= set(seen)


def test_call_with_lead_and_first_message(
    kai: KaiCalls, agent_id: str, business_id: str
) -> None:
    phone = _phone()
    lead = kai.leads.create(
        business_id=business_id,
        name="Morgan Leadfield",
        phone=phone,
        source=f"python-compat-{_suffix()}",
        status="new",
        score=77,
    )
    opening = "Hi Morgan, this is Kai from the compat suite. Do you have a minute?"
    call = kai.calls.create(
        agent_id=agent_id,
        to=phone,
        lead_id=lead.id,
        context="Follow up on the roof inspection quote.",
        first_message=opening,  # the client sends it as "first_message"
        max_duration=300,
    )
    result = _wait(kai, call.id)
    assert result.status == "completed"
    assert result.lead_id == lead.id
    assert _is_int(result.duration) and 0 < result.duration <= 300

    # The opening line the client sent (as first_message) is what the agent said first.
    first_agent_turn = next(turn for turn in result.transcript if turn.role == "agent")
    assert opening in first_agent_turn.text

    variables = result.variables
    assert isinstance(variables, dict)
    for name in ENRICHMENT_VARIABLES:
        assert name in variables, name
    assert variables["name"] == "Morgan"
    assert str(variables["lead_score"]) == "77"
    assert variables["lead_status"] == "new"
    assert str(variables["interaction_count"]) == "0"
    assert variables["time_of_day"] in ("morning", "afternoon", "evening")

    assert kai.leads.get(lead.id).interaction_count == 1


def test_sandbox_inbound_call_appears_in_list(
    kai: KaiCalls, test_kai: KaiCalls, test_key: str, agent_id: str
) -> None:
    # 0.1.0 has no method for the sandbox: ring with plain HTTP.
    number = test_kai.agents.get(agent_id).phone_number
    caller = f"+1737555{random.randint(0, 9999):04d}"
    ring = requests.post(
        f"{BASE_URL}/api/v1/sandbox/inbound-calls",
        headers={"Authorization": f"Bearer {test_key}"},
        json={"to": number, "from": caller},
        timeout=30,
    )
    assert ring.status_code == 201, ring.text
    answered = ring.json()
    assert (answered["direction"], answered["status"]) == ("inbound", "ringing")
    assert (answered["to"], answered["from"]) == (number, caller)

    result = _wait(test_kai, answered["id"])
    assert result.status == "completed"
    assert result.direction == "inbound"
    assert result["from"] == caller

    # The published calls.list (limit, agent_id, status, after) lists it as inbound.
    page = test_kai.calls.list(agent_id=agent_id, limit=100)
    assert isinstance(page.has_more, bool)
    stamps = [_ts(item.created_at) for item in page.calls]
    assert stamps == sorted(stamps, reverse=True), "calls must be newest first"
    listed = {item.id: item for item in page.calls}
    assert answered["id"] in listed
    item = listed[answered["id"]]
    assert item.direction == "inbound"
    assert (item.status, item.to, item["from"]) == ("completed", number, caller)
    assert item.agent_id == agent_id and _nonempty_str(item.agent_name)
    completed = test_kai.calls.list(agent_id=agent_id, status="completed", limit=100)
    assert answered["id"] in _ids(completed.calls)
    # A sandbox call is test data: the live key's list does not show it.
    assert answered["id"] not in _ids(
        kai.calls.list(agent_id=agent_id, limit=100).calls
    )


# ----------------------------------------------------------------------------- agents


def test_agents_list_and_get(kai: KaiCalls, agent_id: str, business_id: str) -> None:
    listed = kai.agents.list().agents
    assert isinstance(listed, list)
    entry = next(agent for agent in listed if agent.id == agent_id)
    assert entry.business_id == business_id
    assert _nonempty_str(entry.name)
    _ts(entry.created_at)

    agent = kai.agents.get(agent_id)
    assert agent.id == agent_id
    assert agent.name == entry.name
    assert agent.business_id == business_id
    assert isinstance(agent.phone_number, str) and agent.phone_number.startswith("+")
    assert "vapi_assistant_id" in agent
    _ts(agent.created_at)


def test_agents_create_and_update(
    kai: KaiCalls, business_id: str, session: RecordingSession
) -> None:
    name = f"Compat Agent {_suffix()}"
    prompt = "You are a friendly scheduling assistant for a plumbing company."
    greeting = "Hi, this is Compat from Acme Plumbing."
    created = kai.agents.create(
        business_id=business_id,
        name=name,
        system_prompt=prompt,
        first_message=greeting,
        voice={"provider": "simulator", "voiceId": "alloy"},
        model={"provider": "simulator", "model": "default"},
        metadata={"suite": "python-client"},
    )
    assert session.last.status_code in (200, 201)
    assert _nonempty_str(created.id)
    assert created.name == name
    assert created.business_id == business_id
    assert created.system_prompt == prompt
    assert created.first_message == greeting
    assert created.metadata == {"suite": "python-client"}
    assert created.phone_number is None

    fetched = kai.agents.get(created.id)
    assert (fetched.id, fetched.name, fetched.business_id) == (
        created.id,
        name,
        business_id,
    )
    assert fetched.system_prompt == prompt
    assert fetched.first_message == greeting
    assert created.id in _ids(kai.agents.list().agents)

    new_name = f"{name} (renamed)"
    new_greeting = "Hello from the renamed agent."
    updated = kai.agents.update(created.id, name=new_name, first_message=new_greeting)
    assert updated.id == created.id
    assert updated.name == new_name
    assert updated.first_message == new_greeting
    assert updated.system_prompt == prompt  # untouched by a partial update

    refetched = kai.agents.get(created.id)
    assert refetched.name == new_name
    assert refetched.first_message == new_greeting
    assert refetched.system_prompt == prompt


# ---------------------------------------------------------------------- phone numbers


def test_phone_numbers_list_and_filters(
    kai: KaiCalls, agent_id: str, business_id: str
) -> None:
    agent_number = kai.agents.get(agent_id).phone_number

    numbers = kai.phone_numbers.list().numbers
    assert isinstance(numbers, list)
    entry = next(n for n in numbers if n.phone_number == agent_number)
    assert entry.agent_id == agent_id
    assert entry.business_id == business_id
    assert _nonempty_str(entry.id)
    _ts(entry.created_at)

    by_business = kai.phone_numbers.list(business_id=business_id).numbers
    assert by_business and all(n.business_id == business_id for n in by_business)
    assert entry.id in _ids(by_business)

    by_number = kai.phone_numbers.list(phone_number=agent_number).numbers
    assert _ids(by_number) == [entry.id]

    # The reference's /api/v1/numbers lists the same numbers.
    reference = kai.request("GET", "/api/v1/numbers")
    assert sorted(n["id"] for n in reference["numbers"]) == sorted(_ids(numbers))


def test_phone_numbers_assign_and_release(
    kai: KaiCalls, business_id: str, scratch_agent: KaiObject
) -> None:
    number = _phone()
    for _ in range(20):
        if not kai.phone_numbers.list(phone_number=number).numbers:
            break
        number = _phone()

    assigned = kai.phone_numbers.assign(
        phone_number=number, business_id=business_id, agent_id=scratch_agent.id
    )
    assert assigned.phone_number == number
    assert assigned.agent_id == scratch_agent.id
    assert assigned.business_id == business_id
    assert _nonempty_str(assigned.id)

    listed = kai.phone_numbers.list(phone_number=number).numbers
    assert _ids(listed) == [assigned.id]
    assert listed[0].agent_id == scratch_agent.id
    assert kai.agents.get(scratch_agent.id).phone_number == number

    released = kai.phone_numbers.release(number)
    assert released.success is True
    assert kai.phone_numbers.list(phone_number=number).numbers == []
    assert kai.agents.get(scratch_agent.id).phone_number is None


def test_phone_numbers_available_answers_cleanly(kai: KaiCalls) -> None:
    # Optional feature: either a list of numbers, or our 404 envelope.
    try:
        result = kai.phone_numbers.available(country="US", area_code="512", limit=3)
    except KaiCallsError as err:
        assert (err.status, err.code) == (404, "not_found"), err.body
        return
    assert isinstance(result.numbers, list)
    assert all(n.phone_number.startswith("+1512") for n in result.numbers)


# ------------------------------------------------------------------------------ leads


@dataclass
class LeadCase:
    lead: KaiObject
    sent: dict[str, Any]


@pytest.fixture(scope="module")
def lead_case(kai: KaiCalls, business_id: str, agent_id: str) -> LeadCase:
    suffix = _suffix()
    sent: dict[str, Any] = {
        "name": "Jane Compat",
        "phone": _phone(),
        "email": f"jane.{suffix}@example.com",
        "source": f"python-compat-{suffix}",
        "status": "new",
        "score": 42,
        "notes": "Created by the published-client suite.",
        "agent_id": agent_id,
    }
    return LeadCase(kai.leads.create(business_id=business_id, **sent), sent)


def test_lead_create_echoes_fields(lead_case: LeadCase, business_id: str) -> None:
    lead = lead_case.lead
    assert _nonempty_str(lead.id)
    assert lead.business_id == business_id
    for field, value in lead_case.sent.items():
        assert lead[field] == value, field
    assert lead.interaction_count == 0
    assert _ts(lead.updated_at) >= _ts(lead.created_at)


def test_lead_get_returns_same_fields(
    kai: KaiCalls, lead_case: LeadCase, business_id: str
) -> None:
    fetched = kai.leads.get(lead_case.lead.id)
    assert fetched.id == lead_case.lead.id
    assert fetched.business_id == business_id
    for field, value in lead_case.sent.items():
        assert fetched[field] == value, field
    assert _ts(fetched.created_at) == _ts(lead_case.lead.created_at)


# (filters built from the lead's own values, whether the lead must be listed)
LEAD_FILTERS: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]], bool]] = [
    ("phone", lambda s: {"phone": s["phone"]}, True),
    ("email", lambda s: {"email": s["email"]}, True),
    ("source", lambda s: {"source": s["source"]}, True),
    ("agent_id", lambda s: {"source": s["source"], "agent_id": s["agent_id"]}, True),
    ("status-one", lambda s: {"source": s["source"], "status": "new"}, True),
    (
        "status-list",
        lambda s: {"source": s["source"], "status": ["qualified", "new"]},
        True,
    ),
    ("status-other", lambda s: {"source": s["source"], "status": "qualified"}, False),
    (
        "score-range",
        lambda s: {"source": s["source"], "score_gte": 42, "score_lte": 42},
        True,
    ),
    ("score-gte-above", lambda s: {"source": s["source"], "score_gte": 43}, False),
    ("score-lte-below", lambda s: {"source": s["source"], "score_lte": 41}, False),
    (
        "created-window",
        lambda s: {
            "source": s["source"],
            "created_after": _hours_from_now(-1),
            "created_before": _hours_from_now(1),
        },
        True,
    ),
    (
        "created-before-past",
        lambda s: {"source": s["source"], "created_before": _hours_from_now(-1)},
        False,
    ),
    (
        "created-after-future",
        lambda s: {"source": s["source"], "created_after": _hours_from_now(1)},
        False,
    ),
    (
        "updated-window",
        lambda s: {
            "source": s["source"],
            "updated_after": _hours_from_now(-1),
            "updated_before": _hours_from_now(1),
        },
        True,
    ),
    (
        "updated-before-past",
        lambda s: {"source": s["source"], "updated_before": _hours_from_now(-1)},
        False,
    ),
]


@pytest.mark.parametrize(
    ("build", "expected"),
    [pytest.param(build, expected, id=name) for name, build, expected in LEAD_FILTERS],
)
def test_leads_list_filters(
    kai: KaiCalls,
    lead_case: LeadCase,
    build: Callable[[dict[str, Any]], dict[str, Any]],
    expected: bool,
) -> None:
    page = kai.leads.list(**build(lead_case.sent), limit=100)
    assert isinstance(page.leads, list)
    assert isinstance(page.has_more, bool)
    assert (lead_case.lead.id in _ids(page.leads)) is expected


def test_leads_list_by_source_is_exact(kai: KaiCalls, lead_case: LeadCase) -> None:
    page = kai.leads.list(source=lead_case.sent["source"])
    assert _ids(page.leads) == [lead_case.lead.id]
    assert page.has_more is False
    assert page.leads[0].phone == lead_case.sent["phone"]


def test_leads_list_limit(kai: KaiCalls, business_id: str) -> None:
    source = f"python-compat-{_suffix()}"
    made = [
        kai.leads.create(
            business_id=business_id, name=f"Limit {i}", phone=_phone(), source=source
        )
        for i in range(3)
    ]
    page = kai.leads.list(source=source, limit=2)
    assert len(page.leads) == 2
    assert page.has_more is True
    assert set(_ids(page.leads)) <= set(_ids(made))


def test_lead_update(kai: KaiCalls, business_id: str) -> None:
    source = f"python-compat-{_suffix()}"
    phone = _phone()
    lead = kai.leads.create(
        business_id=business_id,
        name="Riley Update",
        phone=phone,
        source=source,
        status="new",
    )

    updated = kai.leads.update(
        lead.id, status="contacted", notes="Called back, wants a quote.", score=80
    )
    assert updated.id == lead.id
    assert updated.status == "contacted"
    assert updated.notes == "Called back, wants a quote."
    assert updated.score == 80
    assert updated.name == "Riley Update"  # untouched by a partial update
    assert updated.phone == phone
    assert _ts(updated.updated_at) >= _ts(lead.updated_at)

    fetched = kai.leads.get(lead.id)
    assert (fetched.status, fetched.notes, fetched.score, fetched.name) == (
        "contacted",
        "Called back, wants a quote.",
        80,
        "Riley Update",
    )
    assert lead.id in _ids(kai.leads.list(source=source, status="contacted").leads)
    assert lead.id not in _ids(kai.leads.list(source=source, status="new").leads)


# ---------------------------------------------------------------------------- account


def test_balance_lists_business(kai: KaiCalls, business_id: str) -> None:
    businesses = kai.account.balance().businesses
    assert isinstance(businesses, list)
    entry = next(b for b in businesses if b.business_id == business_id)
    assert _is_int(entry.minutes_used) and entry.minutes_used >= 0
    assert _is_int(entry.phone_numbers) and entry.phone_numbers >= 1
    assert _nonempty_str(entry.subscription_status)


def test_usage_logs_requests(kai: KaiCalls, agent_id: str) -> None:
    call = kai.calls.create(agent_id=agent_id, to=_phone(), context="usage check")
    for _ in range(5):
        kai.agents.list()

    log = kai.account.usage(limit=500)
    assert isinstance(log.usage, list)
    assert isinstance(log.has_more, bool)
    row = next(r for r in log.usage if r.call_id == call.id)
    assert (row.endpoint, row.method, row.status_code) == ("/v1/calls", "POST", 201)
    assert _nonempty_str(row.id)
    assert row.cost_cents is None or _is_int(row.cost_cents)
    _ts(row.created_at)
    assert any(
        (r.endpoint, r.method, r.status_code) == ("/v1/agents", "GET", 200)
        for r in log.usage
    )

    start, end = _hours_from_now(-1), _hours_from_now(1)
    window = kai.account.usage(start=start, end=end, limit=5)
    assert len(window.usage) == 5
    assert window.has_more is True
    for r in window.usage:
        assert _ts(start) <= _ts(r.created_at) <= _ts(end)

    earlier = kai.account.usage(
        start=_hours_from_now(-3), end=_hours_from_now(-2), limit=500
    )
    assert call.id not in [r.call_id for r in earlier.usage]


# ------------------------------------------------------------ other endpoints we serve


def test_recording_for_completed_call(
    kai: KaiCalls, completed_call: FinishedCall
) -> None:
    recording = kai.recordings.get(completed_call.created.id)
    assert recording.call_id == completed_call.created.id
    assert recording.status == "available"
    assert recording.duration == completed_call.result.duration
    assert isinstance(
        recording.recording_url, str
    ) and recording.recording_url.startswith("http")
    # Signed: fetchable without the API key.
    audio = requests.get(recording.recording_url, timeout=30)
    assert audio.status_code == 200
    assert audio.headers.get("Content-Type", "").startswith("audio/")
    assert audio.content


def test_transcripts_list_includes_completed_call(
    kai: KaiCalls, agent_id: str, completed_call: FinishedCall
) -> None:
    page = kai.transcripts.list(agent_id=agent_id, limit=100, days=1)
    assert isinstance(page.has_more, bool)
    entry = next(t for t in page.transcripts if t.call_id == completed_call.created.id)
    assert entry.conversation_id == completed_call.created.conversation_id
    assert entry.agent_id == agent_id
    assert _nonempty_str(entry.agent_name)
    assert entry.status == "completed"
    assert entry.duration == completed_call.result.duration
    assert entry.summary == completed_call.result.summary
    assert isinstance(entry.transcript, list) and entry.transcript
    _ts(entry.created_at)


def test_events_for_call(kai: KaiCalls, completed_call: FinishedCall) -> None:
    call_id = completed_call.created.id
    events = kai.events.list(object_id=call_id, limit=100).events
    assert isinstance(events, list)
    types = {event.type for event in events}
    assert {"call.queued", "call.completed"} <= types, types
    for event in events:
        assert event.object_id == call_id
        assert event.object_type == "call"
        assert _nonempty_str(event.id)
        _ts(event.created_at)


def test_webhook_subscription_lifecycle(kai: KaiCalls, business_id: str) -> None:
    url = f"https://example.com/kaicalls-compat/{_suffix()}"
    created = kai.webhooks.create(
        webhook_url=url,
        business_id=business_id,
        events=["call.completed", "call.failed"],
        description="python compat",
    )
    secret = created.webhook_secret
    assert _nonempty_str(created.id)
    assert isinstance(secret, str) and secret.startswith("whsec_")

    listing = kai.webhooks.list(business_id=business_id)
    assert "call.completed" in listing.events
    hook = next(h for h in listing.webhooks if h.id == created.id)
    assert hook.url == url
    assert sorted(hook.events) == ["call.completed", "call.failed"]
    assert hook.description == "python compat"
    assert hook.is_active is True
    assert (
        isinstance(hook.webhook_secret_masked, str)
        and hook.webhook_secret_masked != secret
    )

    upserted = kai.webhooks.create(
        webhook_url=url, business_id=business_id, id=created.id, is_active=False
    )
    assert upserted.id == created.id
    again = next(
        h
        for h in kai.webhooks.list(business_id=business_id).webhooks
        if h.id == created.id
    )
    assert again.is_active is False

    rotated = kai.webhooks.rotate_secret(created.id, business_id=business_id)
    assert isinstance(
        rotated.webhook_secret, str
    ) and rotated.webhook_secret.startswith("whsec_")
    assert rotated.webhook_secret != secret

    kai.webhooks.test(created.id, business_id=business_id)

    kai.webhooks.delete(created.id, business_id=business_id)
    assert created.id not in _ids(kai.webhooks.list(business_id=business_id).webhooks)


def test_discovery_health_and_openapi(kai: KaiCalls) -> None:
    assert isinstance(kai.discovery.health(), dict)
    document = kai.discovery.openapi()
    assert str(document.openapi).startswith("3.")
    assert any(path.endswith("/calls") for path in document.paths)


# ----------------------------------------------------------------------------- errors


def test_unknown_call_is_not_found(kai: KaiCalls, session: RecordingSession) -> None:
    _expect_error(lambda: kai.calls.get(str(uuid.uuid4())), 404, "not_found")
    assert session.last.headers.get("Request-Id")


def test_wait_on_unknown_call_raises_not_found(kai: KaiCalls) -> None:
    _expect_error(
        lambda: kai.calls.wait(str(uuid.uuid4()), interval=0.1, timeout=5),
        404,
        "not_found",
    )


@pytest.mark.parametrize(
    "action",
    [
        pytest.param(lambda kai: kai.agents.get(str(uuid.uuid4())), id="agents.get"),
        pytest.param(
            lambda kai: kai.agents.update(str(uuid.uuid4()), name="x"),
            id="agents.update",
        ),
        pytest.param(lambda kai: kai.leads.get(str(uuid.uuid4())), id="leads.get"),
        pytest.param(
            lambda kai: kai.leads.update(str(uuid.uuid4()), status="contacted"),
            id="leads.update",
        ),
        pytest.param(
            lambda kai: kai.recordings.get(str(uuid.uuid4())), id="recordings.get"
        ),
        pytest.param(
            lambda kai: kai.calls.create(agent_id=str(uuid.uuid4()), to="+15125551234"),
            id="calls.create-agent",
        ),
    ],
)
def test_unknown_ids_are_not_found(
    kai: KaiCalls, action: Callable[[KaiCalls], Any]
) -> None:
    _expect_error(lambda: action(kai), 404, "not_found")


@pytest.mark.parametrize("key", ["kc_live_" + "0" * 40, "not-a-kaicalls-key"])
def test_bad_key_is_unauthorized(
    key: str, agent_id: str, session: RecordingSession
) -> None:
    bad = KaiCalls(api_key=key, base_url=BASE_URL, session=session)
    _expect_error(bad.agents.list, 401, "unauthorized")
    _expect_error(
        lambda: bad.calls.create(agent_id=agent_id, to="+15125551234"),
        401,
        "unauthorized",
    )
    _expect_error(bad.account.balance, 401, "unauthorized")
    assert session.last.headers.get("Request-Id")


def test_invalid_number_is_invalid_request(kai: KaiCalls, agent_id: str) -> None:
    err = _expect_error(
        lambda: kai.calls.create(agent_id=agent_id, to="555-1234"),
        400,
        "invalid_request",
    )
    assert err.body["error"].get("param") == "to"


def test_list_limit_out_of_range_is_invalid_request(kai: KaiCalls) -> None:
    err = _expect_error(lambda: kai.calls.list(limit=101), 400, "invalid_request")
    assert err.body["error"].get("param") == "limit"


def test_agent_without_number_cannot_call(
    kai: KaiCalls, scratch_agent: KaiObject
) -> None:
    _expect_error(
        lambda: kai.calls.create(agent_id=scratch_agent.id, to="+15125551234"),
        400,
        "invalid_request",
    )


def test_provider_refusal_is_call_failed(kai: KaiCalls, agent_id: str) -> None:
    _expect_error(
        lambda: kai.calls.create(agent_id=agent_id, to="+15005550005"),
        500,
        "call_failed",
    )


UNSERVED = [
    pytest.param(lambda kai, a: kai.sms.conversations(limit=1), id="sms.conversations"),
    pytest.param(lambda kai, a: kai.sms.messages(limit=1), id="sms.messages"),
    pytest.param(lambda kai, a: kai.workspaces.list(), id="workspaces.list"),
    pytest.param(
        lambda kai, a: kai.analytics.dashboard(days=7), id="analytics.dashboard"
    ),
    pytest.param(lambda kai, a: kai.analytics.weekly(), id="analytics.weekly"),
    pytest.param(lambda kai, a: kai.evals.list(agent_id=a), id="evals.list"),
    pytest.param(lambda kai, a: kai.agents.versions(a), id="agents.versions"),
    pytest.param(lambda kai, a: kai.leads.audit(window_hours=24), id="leads.audit"),
    pytest.param(
        lambda kai, a: kai.communication_runs.list(limit=1),
        id="communication_runs.list",
    ),
    pytest.param(
        lambda kai, a: kai.discovery.capabilities(), id="discovery.capabilities"
    ),
    pytest.param(lambda kai, a: kai.discovery.schemas(), id="discovery.schemas"),
    pytest.param(
        lambda kai, a: kai.request("GET", "/api/v1/no-such-endpoint"),
        id="unknown-route",
    ),
]


@pytest.mark.parametrize("action", UNSERVED)
def test_unserved_client_methods_fail_cleanly(
    kai: KaiCalls, agent_id: str, action: Callable[[KaiCalls, str], Any]
) -> None:
    """Client methods for features we may not have: a JSON answer, or our error envelope
    (so KaiCallsError carries a real code, never the client's http_NNN fallback)."""
    try:
        result = action(kai, agent_id)
    except KaiCallsError as err:
        assert err.status in (400, 403, 404, 405, 501), err.body
        assert not err.code.startswith("http_"), err.body
        assert isinstance(err.body, dict) and isinstance(err.body.get("error"), dict), (
            err.body
        )
        return
    assert isinstance(result, (dict, list))


def test_signup_makes_an_account_whose_key_works() -> None:
    """The published ``signup()`` (no API key, no password): the account it answers
    carries an ``api_key`` that works at once, and a generated dashboard password."""
    from kaicalls import signup

    email = f"signup-{uuid.uuid4().hex[:12]}@published.test"
    account = signup(
        "Published Signup Law",
        email,
        business_type="law_firm",
        website="https://example.com",
        base_url=BASE_URL,
    )
    assert account["email"] == email
    assert account["api_key"].startswith("kc_live_")
    assert account["test_key"].startswith("kc_test_")
    agents = KaiCalls(account["api_key"], base_url=BASE_URL).agents.list()
    assert [a["id"] for a in agents["agents"]] == [account["agent_id"]]
    login = requests.post(
        f"{BASE_URL}/api/v1/auth/login",
        json={"email": email, "password": account["password"]},
        timeout=30,
    )
    assert login.status_code == 200, login.text
    with pytest.raises(KaiCallsError) as taken:
        signup("Again", email, base_url=BASE_URL)
    assert taken.value.status == 409
    assert taken.value.code == "conflict"
