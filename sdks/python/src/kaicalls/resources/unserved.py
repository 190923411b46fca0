"""Resources 0.1.0 exposed for features this server does not have (yet): SMS,
workspaces, analytics, evals and communication runs.

They are kept so scripts written for 0.1.0 import and run unchanged; each method is a
thin call whose answer from a server without the feature is the ``404 not_found``
envelope, raised as `kaicalls.NotFoundError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._http import Req
from ._base import Async, R, Resource, Sync, new_idempotency_key


class _SmsBase(Resource[R]):
    def send(self, to: str, from_agent_id: str, message: str, lead_id: str | None = None) -> R:
        body = {"to": to, "from_agent_id": from_agent_id, "message": message, "lead_id": lead_id}
        return self._post("/api/v1/sms/send", body)

    def update_prompt(self, agent_id: str, sms_prompt: str, reason: str | None = None) -> R:
        body = {"agent_id": agent_id, "sms_prompt": sms_prompt, "reason": reason}
        return self._post("/api/v1/sms/update-prompt", body)

    def conversations(self, id: str | None = None, limit: int | None = None) -> R:
        return self._get("/api/v1/sms/conversations", {"id": id, "limit": limit})

    def messages(
        self,
        conversation_id: str | None = None,
        direction: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> R:
        query = {
            "conversation_id": conversation_id,
            "direction": direction,
            "after": after,
            "limit": limit,
        }
        return self._get("/api/v1/sms/messages", query)


class _WorkspacesBase(Resource[R]):
    def list(self) -> R:
        return self._get("/api/v1/workspaces")

    def get(self, workspace_id: str) -> R:
        return self._get("/api/v1/workspaces", {"id": workspace_id})

    def create(
        self,
        name: str,
        metadata: Mapping[str, Any] | None = None,
        external_ref: str | None = None,
    ) -> R:
        body = {"name": name, "metadata": metadata, "external_ref": external_ref}
        return self._post("/api/v1/workspaces", body, create=True)

    def update(self, id: str, **fields: Any) -> R:
        return self._patch("/api/v1/workspaces", {"id": id, **fields})


class _AnalyticsBase(Resource[R]):
    def dashboard(self, days: int | None = None) -> R:
        return self._get("/api/v1/analytics/dashboard", {"days": days})

    def calls(
        self, days: int | None = None, group_by: str | None = None, agent_id: str | None = None
    ) -> R:
        query = {"days": days, "group_by": group_by, "agent_id": agent_id}
        return self._get("/api/v1/analytics/calls", query)

    def funnel(self, days: int | None = None, source: str | None = None) -> R:
        return self._get("/api/v1/analytics/funnel", {"days": days, "source": source})

    def agents(self, days: int | None = None, agent_id: str | None = None) -> R:
        return self._get("/api/v1/analytics/agents", {"days": days, "agent_id": agent_id})

    def weekly(self) -> R:
        return self._get("/api/v1/analytics/weekly")

    def businesses(self, days: int | None = None) -> R:
        return self._get("/api/v1/analytics/businesses", {"days": days})


class _EvalsBase(Resource[R]):
    def create(
        self,
        agent_id: str,
        business_id: str,
        name: str,
        messages: Sequence[Mapping[str, Any]],
        description: str | None = None,
    ) -> R:
        body = {
            "agent_id": agent_id,
            "business_id": business_id,
            "name": name,
            "messages": [dict(m) for m in messages],
            "description": description,
        }
        return self._post("/api/v1/evals", body, create=True)

    def list(self, agent_id: str | None = None) -> R:
        return self._get("/api/v1/evals", {"agent_id": agent_id})

    def get(self, eval_id: str) -> R:
        return self._get("/api/v1/evals", {"id": eval_id})

    def update(self, id: str, **fields: Any) -> R:
        return self._patch("/api/v1/evals", {"id": id, **fields})

    def delete(self, eval_id: str) -> R:
        return self._delete("/api/v1/evals", {"id": eval_id})

    def run(
        self,
        eval_id: str | None = None,
        agent_id: str | None = None,
        wait: bool | None = None,
        max_wait_ms: int | None = None,
    ) -> R:
        body = {"eval_id": eval_id, "agent_id": agent_id, "wait": wait, "max_wait_ms": max_wait_ms}
        return self._post("/api/v1/evals/run", body)

    def get_run(
        self,
        run_id: str | None = None,
        vapi_run_id: str | None = None,
        agent_id: str | None = None,
    ) -> R:
        query = {"run_id": run_id, "vapi_run_id": vapi_run_id, "agent_id": agent_id}
        return self._get("/api/v1/evals/run", query)


class _CommunicationRunsBase(Resource[R]):
    PATH = "/api/v1/communication-runs"

    def validate(self, body: Mapping[str, Any]) -> R:
        return self._send(Req("POST", f"{self.PATH}/validate", body=dict(body)))

    def preview(self, body: Mapping[str, Any]) -> R:
        return self._send(Req("POST", f"{self.PATH}/preview", body=dict(body)))

    def create(self, body: Mapping[str, Any], idempotency_key: str | None = None) -> R:
        headers = {"Idempotency-Key": idempotency_key or new_idempotency_key()}
        return self._send(Req("POST", self.PATH, body=dict(body), headers=headers))

    def list(
        self,
        business_id: str | None = None,
        id: str | None = None,
        external_ref: str | None = None,
        limit: int | None = None,
    ) -> R:
        query = {"business_id": business_id, "id": id, "external_ref": external_ref, "limit": limit}
        return self._get(self.PATH, query)

    def pause(self, id: str, business_id: str | None = None) -> R:
        return self._patch(self.PATH, {"id": id, "action": "pause", "business_id": business_id})

    def cancel(self, id: str, business_id: str | None = None) -> R:
        return self._patch(self.PATH, {"id": id, "action": "cancel", "business_id": business_id})

    def jobs(self, **filters: Any) -> R:
        return self._get("/api/v1/communication-jobs", filters)

    def attempts(self, **filters: Any) -> R:
        return self._get("/api/v1/communication-attempts", filters)


class Sms(_SmsBase[Sync]):
    pass


class AsyncSms(_SmsBase[Async]):
    pass


class Workspaces(_WorkspacesBase[Sync]):
    pass


class AsyncWorkspaces(_WorkspacesBase[Async]):
    pass


class Analytics(_AnalyticsBase[Sync]):
    pass


class AsyncAnalytics(_AnalyticsBase[Async]):
    pass


class Evals(_EvalsBase[Sync]):
    pass


class AsyncEvals(_EvalsBase[Async]):
    pass


class CommunicationRuns(_CommunicationRunsBase[Sync]):
    pass


class AsyncCommunicationRuns(_CommunicationRunsBase[Async]):
    pass
