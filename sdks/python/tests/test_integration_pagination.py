"""Iterating over 250 calls made through the SDK yields each exactly once."""

from __future__ import annotations

import asyncio
import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

from conftest import Server
from kaicalls import AsyncKaiCalls, KaiCalls, KaiObject

pytestmark = pytest.mark.integration

N_CALLS = 250
PAGE = 37  # not a divisor of 250: the last page is partial


def _phone() -> str:
    return f"+1512555{random.randint(0, 9999):04d}"


def _agent_with_number(kai: KaiCalls, server: Server) -> KaiObject:
    """A fresh agent with its own number, so its calls are exactly the ones made here."""
    agent = kai.agents.create(
        business_id=server.business_id,
        name=f"Pager {uuid.uuid4().hex[:8]}",
        system_prompt="You are a test agent.",
    )
    for _ in range(50):
        number = f"+1737555{random.randint(0, 9999):04d}"
        if not kai.phone_numbers.list(phone_number=number).numbers:
            break
    kai.phone_numbers.assign(phone_number=number, agent_id=agent.id)
    return agent


def _check_order(calls: list[KaiObject]) -> None:
    stamps = [datetime.fromisoformat(c.created_at) for c in calls]
    assert stamps == sorted(stamps, reverse=True), "newest first"


def test_iter_yields_each_of_250_calls_once(server: Server) -> None:
    with KaiCalls(server.live_key, base_url=server.base_url) as kai:
        agent = _agent_with_number(kai, server)
        with ThreadPoolExecutor(max_workers=8) as pool:
            created = list(
                pool.map(
                    lambda i: (
                        kai.calls.create(agent_id=agent.id, to=_phone(), context=f"page {i}").id
                    ),
                    range(N_CALLS),
                )
            )
        assert len(set(created)) == N_CALLS

        listed = list(kai.calls.iter(limit=PAGE, agent_id=agent.id))
        ids = [c.id for c in listed]
        assert len(ids) == N_CALLS, "every call once: no repeats, no gaps"
        assert set(ids) == set(created)
        _check_order(listed)

        # max_items stops early; a status filter pages too.
        assert len(list(kai.calls.iter(limit=10, agent_id=agent.id, max_items=25))) == 25
        for call in kai.calls.iter(limit=100, agent_id=agent.id, status="queued"):
            assert call.status == "queued"


@pytest.mark.anyio
async def test_async_iter_yields_each_of_250_calls_once(server: Server) -> None:
    with KaiCalls(server.live_key, base_url=server.base_url) as setup:
        agent = _agent_with_number(setup, server)
    async with AsyncKaiCalls(server.live_key, base_url=server.base_url) as kai:
        gate = asyncio.Semaphore(16)

        async def make(i: int) -> str:
            async with gate:
                call = await kai.calls.create(
                    agent_id=agent.id, to=_phone(), context=f"async page {i}"
                )
                return str(call.id)

        created = await asyncio.gather(*(make(i) for i in range(N_CALLS)))
        assert len(set(created)) == N_CALLS

        listed = [call async for call in kai.calls.iter(limit=PAGE, agent_id=agent.id)]
        assert len(listed) == N_CALLS
        assert {c.id for c in listed} == set(created)
        _check_order(listed)


def test_leads_iter_pages_with_created_before(server: Server) -> None:
    source = f"pager-{uuid.uuid4().hex[:8]}"
    with KaiCalls(server.live_key, base_url=server.base_url) as kai:
        made = {
            kai.leads.create(business_id=server.business_id, name=f"Lead {i}", source=source).id
            for i in range(23)
        }
        seen = [lead.id for lead in kai.leads.iter(source=source, limit=5)]
        assert len(seen) == 23 and set(seen) == made


def test_usage_and_events_iterate_without_repeats(server: Server) -> None:
    with KaiCalls(server.live_key, base_url=server.base_url) as kai:
        rows = list(kai.account.iter_usage(limit=50, max_items=300))
        assert len(rows) == len({r.id for r in rows}) > 50
        events = list(kai.events.iter(limit=25, max_items=120))
        assert len(events) == len({e.id for e in events})
