"""Schemathesis hooks: one credential per security scheme of openapi.json.

run.sh passes the credentials in the environment:

- KC_ST_KEY            a `kc_test_` key with scope `*` (bearer / X-KaiCalls-API-Key ops)
- KC_ST_SESSION        a dashboard session of a second user, for /keys
- KC_ST_LOGOUT_SESSIONS  comma-separated sessions of that user, one per logout
- KC_ST_VAPI_SECRET    the server's KAICALLS_VAPI_WEBHOOK_SECRET

The sessions belong to a user other than the key's owner so that `DELETE /keys` with
an id found by `GET /keys` can never revoke the key every other operation uses. Each
`POST /auth/logout` case gets a session of its own (logging out the /keys session
would leave /keys answering only 401); when the pool runs out, the last one is sent
again and is answered 401, which the document declares.
"""

import itertools
import os
import re
import threading

import schemathesis

KEY = os.environ["KC_ST_KEY"]
SESSION = os.environ["KC_ST_SESSION"]
VAPI_SECRET = os.environ["KC_ST_VAPI_SECRET"]
_logout_pool = [s for s in os.environ.get("KC_ST_LOGOUT_SESSIONS", "").split(",") if s]
_logout_lock = threading.Lock()
_logout_last = [SESSION]


def _next_logout_session() -> str:
    with _logout_lock:
        if _logout_pool:
            _logout_last[0] = _logout_pool.pop()
        return _logout_last[0]


@schemathesis.auth(refresh_interval=None)
class KaiCallsAuth:
    """Chooses the credential by the operation's declared security scheme."""

    def get(self, case, ctx):
        schemes = set()
        for requirement in case.operation.definition.raw.get("security") or []:
            schemes.update(requirement)
        if "session" in schemes:
            if case.operation.path == "/api/v1/auth/logout":
                return ("session", _next_logout_session())
            return ("session", SESSION)
        if "vapiSecret" in schemes:
            return ("vapi", VAPI_SECRET)
        if "bearer" in schemes or "apiKeyHeader" in schemes:
            return ("bearer", KEY)
        return None  # health, openapi.json, auth/login: no credentials

    def set(self, case, data, ctx):
        kind, value = data
        if kind == "session":
            if case.cookies is None:
                case.cookies = {}
            case.cookies["kc_session"] = value
        elif kind == "vapi":
            if case.headers is None:
                case.headers = {}
            case.headers["X-Vapi-Secret"] = value
        else:
            if case.headers is None:
                case.headers = {}
            case.headers["Authorization"] = f"Bearer {value}"


_idempotency_counter = itertools.count(1)
_IDEMPOTENCY_OK = re.compile(r"^[\x20-\x7e]{1,255}$")


@schemathesis.hook
def before_call(context, case, kwargs):
    """Makes every well-formed Idempotency-Key unique to its request.

    The generator draws the same few values ("0", "00", ...) for many requests with
    different bodies, and the server rightly answers a reused key with another body
    `400 idempotency_error`: a rule no schema can state. Keys the schema itself refuses
    (empty, over 255) and keys with characters outside printable ASCII are sent as
    generated, so the negative cases still reach the server.
    """
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() != "idempotency-key":
            continue
        value = headers[name]
        if isinstance(value, str) and _IDEMPOTENCY_OK.match(value):
            headers[name] = f"{value[:240]}~{next(_idempotency_counter)}"
