"""The API reference's "SDKs / Python" example, run by tests/install/python.sh with
the `kaicalls` package pip-installed into a fresh venv.

The example's placeholders come from the environment: KAICALLS_API_KEY (a kc_test_
key, so the server's simulator takes the calls), KAICALLS_AGENT_ID, and a lead made
here for KAICALLS_BUSINESS_ID. The client reads the server's address from
KAICALLS_BASE_URL itself, as the example builds it from the key alone.
"""

import os
import sys
from pathlib import Path

import kaicalls

api_key = os.environ["KAICALLS_API_KEY"]
agent_id = os.environ["KAICALLS_AGENT_ID"]
assert api_key.startswith("kc_test_"), "KAICALLS_API_KEY must be a test key"
assert os.environ.get("KAICALLS_BASE_URL"), "KAICALLS_BASE_URL is not set"

# The package came from the venv's site-packages, not from a source tree.
installed_from = Path(kaicalls.__file__).resolve()
assert "site-packages" in installed_from.parts, installed_from
assert installed_from.is_relative_to(Path(sys.prefix).resolve()), (installed_from, sys.prefix)

lead = kaicalls.KaiCalls(api_key=api_key).leads.create(
    business_id=os.environ["KAICALLS_BUSINESS_ID"],
    name="John Smith",
    phone="+15125551234",
    source="install test (python)",
)

# ---- the reference's example, its key and ids substituted
from kaicalls import KaiCalls

kai = KaiCalls(api_key=api_key)

# Simple call — agent auto-enriches with CRM data
call = kai.calls.create(
    agent_id=agent_id,
    to="+15125551234",
    name="John Smith"
)
simple = call

# Full call with lead linking and custom opening
call = kai.calls.create(
    agent_id=agent_id,
    to="+15125551234",
    name="John Smith",
    lead_id=lead.id,
    context="Following up on car accident case",
    first_message="Hey John, this is Kai — do you have a minute?"
)
result = kai.calls.wait(call.id)
print(result.summary)
# ---- end of the example

for placed in (simple, call):
    assert isinstance(placed.id, str) and placed.id, placed
    assert placed.status == "queued", placed.status
    assert placed.mode == "test", placed.mode
    assert placed.agent_id == agent_id, placed.agent_id
assert simple.id != call.id
assert result.id == call.id
assert result.status == "completed", (result.status, result.ended_reason)
assert result.lead_id == lead.id
assert result.context == "Following up on car accident case"
assert isinstance(result.summary, str) and result.summary.strip(), result.summary
print(f"python: call {result.id} {result.status} (kaicalls {kaicalls.__version__} from {installed_from.parent})")
