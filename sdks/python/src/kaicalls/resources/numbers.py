"""``kai.phone_numbers``: the numbers agents call from."""

from __future__ import annotations

from .._http import Req
from .._models import NumberList, PhoneNumber, ReleasedNumber
from ._base import Async, R, Resource, Sync, delete_req, get_req, post_req, returns

PATH = "/api/v1/phone-numbers"


class _PhoneNumbersBase(Resource[R]):
    @returns(NumberList)
    def list(self, business_id: str | None = None, phone_number: str | None = None) -> Req:
        """``{numbers: [...]}`` (the same numbers as the reference's ``/api/v1/numbers``)."""
        return get_req(PATH, {"business_id": business_id, "phone_number": phone_number})

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

    @returns(PhoneNumber)
    def assign(
        self,
        phone_number: str,
        business_id: str | None = None,
        agent_id: str | None = None,
        *,
        vapi_phone_number_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Req:
        """Register a number or reassign it to an agent. Requires numbers:write."""
        body = {
            "phone_number": phone_number,
            "business_id": business_id,
            "agent_id": agent_id,
            "vapi_phone_number_id": vapi_phone_number_id,
        }
        return post_req(PATH, body, create=True, idempotency_key=idempotency_key)

    @returns(ReleasedNumber)
    def release(self, phone_number: str, business_id: str | None = None) -> Req:
        """Remove a number: ``{success: true, phone_number}``."""
        return delete_req(PATH, {"phone_number": phone_number, "business_id": business_id})


class PhoneNumbers(_PhoneNumbersBase[Sync]):
    pass


class AsyncPhoneNumbers(_PhoneNumbersBase[Async]):
    pass
