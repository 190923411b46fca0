"""``kai.phone_numbers``: the numbers agents call from."""

from __future__ import annotations

from ._base import Async, R, Resource, Sync

PATH = "/api/v1/phone-numbers"


class _PhoneNumbersBase(Resource[R]):
    def list(self, business_id: str | None = None, phone_number: str | None = None) -> R:
        """``{numbers: [...]}`` (the same numbers as the reference's ``/api/v1/numbers``)."""
        return self._get(PATH, {"business_id": business_id, "phone_number": phone_number})

    def available(
        self,
        country: str | None = None,
        area_code: str | None = None,
        capability: str | None = None,
        limit: int | None = None,
    ) -> R:
        """Numbers available to buy (not served by every KaiCalls deployment)."""
        return self._get(
            f"{PATH}/available",
            {"country": country, "area_code": area_code, "capability": capability, "limit": limit},
        )

    def assign(
        self,
        phone_number: str,
        business_id: str | None = None,
        agent_id: str | None = None,
        *,
        vapi_phone_number_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> R:
        """Register a number or reassign it to an agent. Requires numbers:write."""
        body = {
            "phone_number": phone_number,
            "business_id": business_id,
            "agent_id": agent_id,
            "vapi_phone_number_id": vapi_phone_number_id,
        }
        return self._post(PATH, body, create=True, idempotency_key=idempotency_key)

    def release(self, phone_number: str, business_id: str | None = None) -> R:
        """Remove a number: ``{success: true}``."""
        return self._delete(PATH, {"phone_number": phone_number, "business_id": business_id})


class PhoneNumbers(_PhoneNumbersBase[Sync]):
    pass


class AsyncPhoneNumbers(_PhoneNumbersBase[Async]):
    pass
