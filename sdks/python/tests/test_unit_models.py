"""The typed response models (`kaicalls._models`, generated from the server's OpenAPI
document by ``sdks/codegen/generate.py``): the committed file is what the generator
writes from ``openapi.json``; every resource method answers the model its operation
documents; a misspelt field is an ``AttributeError`` at runtime and an error for
``mypy --strict``."""

from __future__ import annotations

import copy
import inspect
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

import kaicalls
from kaicalls import (
    AsyncKaiCalls,
    Call,
    CallDetail,
    CallList,
    EventStream,
    KaiCalls,
    KaiModel,
    KaiObject,
    QualityDimensions,
    TimelineEntry,
    Turn,
)
from kaicalls.resources._base import Operation

REPO = Path(__file__).resolve().parents[3]
OPENAPI = REPO / "openapi.json"
GENERATOR = REPO / "sdks/codegen/generate.py"
COMMITTED = REPO / "sdks/python/src/kaicalls/_models.py"
REGENERATE = "python3 sdks/codegen/generate.py"


def _need_repo() -> None:
    if not (OPENAPI.is_file() and GENERATOR.is_file()):
        pytest.skip(f"not in the repository (no {OPENAPI} / {GENERATOR})")


# --------------------------------------------------------------------------- drift


def test_generated_models_match_openapi_json(tmp_path: Path) -> None:
    _need_repo()
    run = subprocess.run(
        [sys.executable, str(GENERATOR), "--openapi", str(OPENAPI), "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, f"generate.py failed: {run.stderr}"
    fresh = (tmp_path / "_models.py").read_bytes()
    assert fresh == COMMITTED.read_bytes(), (
        f"{COMMITTED.relative_to(REPO)} is not what openapi.json generates: "
        f"run `{REGENERATE}` (from the repository root) and commit the result"
    )


# ------------------------------------------------------------------------ runtime

DETAIL = {
    "id": "c1",
    "status": "completed",
    "from": "+15125550100",
    "quality_dimensions": {"empathy": 88, "professionalism": 90},
    "transcript": [{"role": "agent", "text": "Hi", "start_s": 0.5}],
    "events": [{"type": "call.completed", "status": "completed", "created_at": "t"}],
    "metadata": {"order": {"id": 7}},
    "added_by_a_newer_server": 1,
}


def _client(body: Any) -> KaiCalls:
    mock = httpx.Client(transport=httpx.MockTransport(lambda _r: httpx.Response(200, json=body)))
    return KaiCalls("kc_test_x", base_url="http://sdk.test", http_client=mock, max_retries=0)


def test_a_misspelt_field_raises_attribute_error() -> None:
    call = _client(DETAIL).calls.get("c1")
    assert type(call) is CallDetail
    with pytest.raises(AttributeError, match=r"^'CallDetail' object has no attribute 'sumary'$"):
        _ = call.sumary  # type: ignore[attr-defined]
    assert not hasattr(call, "sumary")
    # A documented field the answer omits is None; a key the answer carries is readable
    # even when undocumented (a field a newer server added).
    assert call.summary is None
    assert call.added_by_a_newer_server == 1  # type: ignore[attr-defined]
    # Still the dict (and KaiObject) it was: subscripts, keywords by subscript, equality.
    assert isinstance(call, KaiObject) and isinstance(call, dict)
    assert call["from"] == "+15125550100" and getattr(call, "from") == "+15125550100"
    assert call == DETAIL
    assert "summary" in dir(call)
    # Untyped answers keep 0.1.0's rule: any missing name reads as None.
    assert KaiObject({"id": "x"}).sumary is None


def test_nested_values_wrap_into_their_models() -> None:
    call = _client(DETAIL).calls.get("c1")
    assert type(call.quality_dimensions) is QualityDimensions
    assert call.quality_dimensions.empathy == 88
    assert type(call.transcript[0]) is Turn and call.transcript[0].start_s == 0.5
    assert type(call["events"][0]) is TimelineEntry
    # Free-form JSON stays an untyped KaiObject.
    assert type(call.metadata) is KaiObject and call.metadata.order.id == 7
    with pytest.raises(AttributeError):
        _ = call.quality_dimensions.empathie  # type: ignore[attr-defined]
    # Assigned values are wrapped too.
    call["quality_dimensions"] = {"empathy": 1}
    assert type(call.quality_dimensions) is QualityDimensions

    page = _client({"calls": [{"id": "a"}, {"id": "b"}], "has_more": False}).calls.list()
    assert type(page) is CallList and [type(c) for c in page.calls] == [Call, Call]
    assert [type(c) for c in _client(dict(page)).calls.iter()] == [Call, Call]


def test_models_copy_and_pickle() -> None:
    call = CallDetail(DETAIL)
    for clone in (copy.copy(call), copy.deepcopy(call), pickle.loads(pickle.dumps(call))):
        assert type(clone) is CallDetail and clone == call
        assert type(clone.quality_dimensions) is QualityDimensions
    assert repr(QualityDimensions({"empathy": 1})) == "QualityDimensions({'empathy': 1})"


@pytest.mark.anyio
async def test_the_async_client_answers_the_same_models() -> None:
    mock = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _r: httpx.Response(200, json=DETAIL))
    )
    async with AsyncKaiCalls("kc_test_x", base_url="http://sdk.test", http_client=mock) as kai:
        call = await kai.calls.get("c1")
    assert type(call) is CallDetail and type(call.quality_dimensions) is QualityDimensions


# ------------------------------------------------------- methods against the document


def _answer_schemas(operation: dict[str, Any], by_id: bool) -> set[str]:
    """Names of the schemas the 2xx answers of an operation name. Of a one-or-list
    answer (``CallOrList``: "one call with ``?id=``, else a page of them"), the one
    object with ``id`` in the query, else the list."""
    schemas = json.loads(OPENAPI.read_text())["components"]["schemas"]
    names: set[str] = set()
    for status, response in operation.get("responses", {}).items():
        if not status.startswith("2"):
            continue
        ref = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
        if not ref:
            continue
        name = ref.rsplit("/", 1)[-1]
        members = [m["$ref"].rsplit("/", 1)[-1] for m in schemas[name].get("anyOf", [])]
        if name.endswith("OrList") and len(members) == 2:
            names.update(m for m in members if m.endswith("List") != by_id)
        else:
            names.add(name)
    return names


def test_every_method_answers_the_model_its_operation_documents() -> None:
    _need_repo()
    paths = json.loads(OPENAPI.read_text())["paths"]
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("accept") == "text/event-stream":
            message = b'id: evt_1\nevent: call.queued\ndata: {"id": "evt_1"}\n\n'
            return httpx.Response(
                200, headers={"content-type": "text/event-stream"}, content=message
            )
        return httpx.Response(200, json={})

    mock = httpx.Client(transport=httpx.MockTransport(record))
    kai = KaiCalls("kc_test_x", base_url="http://sdk.test", http_client=mock)
    checked = 0
    for resource_name, resource in vars(kai).items():
        if resource_name.startswith("_"):
            continue
        for name in dir(resource):
            if name.startswith("_") or name == "verify":
                continue
            attr = inspect.getattr_static(type(resource), name)
            method = getattr(resource, name)
            if not inspect.ismethod(method):
                continue
            seen.clear()
            result = method(*_dummy_args(method))
            if not seen:  # an iterator: drive it
                list(result)
            req = seen[0]
            where = f"kai.{resource_name}.{name} ({req.method} {req.url.path})"
            operation = paths.get(req.url.path, {}).get(req.method.lower())
            by_id = "id" in req.url.params
            documented = _answer_schemas(operation, by_id) if operation else set()
            if isinstance(result, EventStream):
                # Server-Sent Events: each message's data is the documented schema.
                stream = operation["responses"]["200"]["content"]["text/event-stream"]
                model = stream["x-kaicalls-message-data"]["$ref"].rsplit("/", 1)[-1]
                assert type(next(result)).__name__ == model, where
                result.close()
                checked += 1
            elif isinstance(attr, Operation):
                assert attr.model.__name__ in documented, (
                    f"{where} answers {attr.model.__name__}; the document says {documented}"
                )
                assert type(result) is attr.model, where
                checked += 1
            elif name not in ("iter", "iter_usage", "iter_contacts", "wait"):
                assert not documented, f"{where} is untyped; the document answers {documented}"
    assert checked >= 25


def _dummy_args(method: Any) -> list[Any]:
    """A value for each required positional parameter (as the OpenAPI sweep does)."""
    dummies = {"body": {}, "messages": []}
    return [
        dummies.get(p.name, "x")
        for p in inspect.signature(method).parameters.values()
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]


def test_every_model_is_exported() -> None:
    from kaicalls import _models

    for name in _models.__all__:
        assert name in kaicalls.__all__ and getattr(kaicalls, name) is getattr(_models, name)
        value = getattr(_models, name)
        if isinstance(value, type):
            assert issubclass(value, KaiModel)


# -------------------------------------------------------------------------- mypy

GOOD = """\
from kaicalls import CallDetail, KaiCalls


def summary(kai: KaiCalls) -> str | None:
    call: CallDetail = kai.calls.get("c1")
    for item in kai.calls.iter():
        print(item.status, item.quality_dimensions and item.quality_dimensions.empathy)
    return call.summary
"""

BAD = """\
from kaicalls import KaiCalls


def show(kai: KaiCalls) -> None:
    call = kai.calls.get("c1")
    print(call.sumary)
"""


def test_mypy_strict_rejects_a_misspelt_field_and_accepts_the_right_one(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(GOOD)
    (tmp_path / "bad.py").write_text(BAD)
    (tmp_path / "mypy.ini").write_text("[mypy]\n")
    env = dict(os.environ)
    # Check the kaicalls these tests import (installed, or a source tree on sys.path).
    root = Path(kaicalls.__file__).resolve().parent.parent
    if "site-packages" not in root.parts:
        env["MYPYPATH"] = str(root)
    run = subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--strict", "--config-file", "mypy.ini"),
            *("--cache-dir", str(tmp_path / ".mypy_cache"), "good.py", "bad.py"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    out = run.stdout + run.stderr
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert run.returncode == 1, out
    assert errors == [
        'bad.py:6: error: "CallDetail" has no attribute "sumary"; maybe "summary"?  [attr-defined]'
    ], out
