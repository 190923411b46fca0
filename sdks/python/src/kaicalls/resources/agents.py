"""``kai.agents``: the voice agents that place calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._http import Req
from .._models import Agent, AgentList
from ._base import Async, R, Resource, Sync, get_req, patch_req, post_req, returns

PATH = "/api/v1/agents"


class _AgentsBase(Resource[R]):
    @returns(AgentList)
    def list(self) -> Req:
        """``{agents: [...]}``. Requires agents:read."""
        return get_req(PATH)

    @returns(Agent)
    def get(self, agent_id: str) -> Req:
        """One agent, with ``phone_number`` and ``vapi_assistant_id``."""
        return get_req(PATH, {"id": agent_id})

    @returns(Agent)
    def create(
        self,
        business_id: str,
        name: str,
        system_prompt: str,
        first_message: str | None = None,
        voice: Mapping[str, Any] | None = None,
        model: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        vapi_assistant_id: str | None = None,
        max_duration: int | None = None,
        idempotency_key: str | None = None,
    ) -> Req:
        """Create a voice agent. Requires agents:write.

        ``vapi_assistant_id`` is the Vapi assistant that speaks on live calls;
        ``max_duration`` the agent's default call limit in seconds.
        """
        body = {
            "business_id": business_id,
            "name": name,
            "system_prompt": system_prompt,
            "first_message": first_message,
            "voice": voice,
            "model": model,
            "metadata": metadata,
            "vapi_assistant_id": vapi_assistant_id,
            "max_duration": max_duration,
        }
        return post_req(PATH, body, create=True, idempotency_key=idempotency_key)

    @returns(Agent)
    def update(self, /, id: str, **fields: Any) -> Req:
        """Partial update: pass only the fields to change (``None`` values are not
        sent), e.g. ``name``, ``system_prompt``, ``first_message``, ``voice``,
        ``model``, ``metadata``, ``vapi_assistant_id``, ``voicemail_action``
        (``leave_message`` or ``hang_up``), ``voicemail_message``.

        For the calls the agent answers: ``inbound_prompt``, ``outbound_prompt``,
        ``inbound_greeting``, ``outbound_first_message``, ``business_hours``
        (``{timezone, days, open, close}``), ``after_hours_action`` (``take_message``
        or ``transfer``), ``transfer_destinations`` (``[{number, name, reasons,
        when}]``), ``transfer_enabled`` and ``transfer_phone_number`` (one
        destination, always)."""
        return patch_req(PATH, {"id": id, **fields})

    def versions(self, agent_id: str, version: int | None = None, limit: int | None = None) -> R:
        """Agent prompt versions (not served by every KaiCalls deployment)."""
        return self._get(
            f"{PATH}/versions", {"agent_id": agent_id, "version": version, "limit": limit}
        )


class Agents(_AgentsBase[Sync]):
    pass


class AsyncAgents(_AgentsBase[Async]):
    pass
