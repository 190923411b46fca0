"""Fixtures: the anyio backend, and a real KaiCalls server for the integration tests.

The server is the built binary (``KAICALLS_BIN``, default
``/work/target/debug/kaicalls``), on a fresh SQLite database in a temp dir: a tenant
is bootstrapped with ``admin bootstrap --json``, then ``serve --bind 127.0.0.1:0``
runs until the session ends. Without the binary the integration tests are skipped,
unless ``KAICALLS_REQUIRE_SERVER=1`` (as ``run-tests.sh`` sets) makes that a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

DEFAULT_BIN = "/work/target/debug/kaicalls"
LISTENING = re.compile(r"KaiCalls listening on (http://127\.0\.0\.1:\d+)")
START_TIMEOUT = 30.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass(frozen=True)
class Server:
    base_url: str
    user_id: str
    business_id: str
    agent_id: str
    phone_number_id: str
    phone_number: str
    live_key: str
    test_key: str
    webhook_secret: str
    workdir: Path


def _binary() -> str:
    path = os.environ.get("KAICALLS_BIN") or DEFAULT_BIN
    if not os.access(path, os.X_OK):
        why = f"KaiCalls server binary not found at {path} (set KAICALLS_BIN)"
        if os.environ.get("KAICALLS_REQUIRE_SERVER"):
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    return path


def _pump(stream: object, lines: queue.Queue[str]) -> None:
    # Keeps draining stdout so the server can never block on a full pipe.
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)


@contextlib.contextmanager
def running_server(work: Path, **extra_env: str) -> Iterator[Server]:
    """Bootstraps a tenant on a fresh database in ``work`` and serves it until exit."""
    binary = _binary()
    env = {**os.environ, "KAICALLS_DATABASE_URL": f"sqlite://{work}/k.db"}
    boot = subprocess.run(
        [
            binary,
            "admin",
            "bootstrap",
            "--email",
            "a@b.test",
            "--password",
            "long-password-1",
            "--business",
            "Smith Law",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if boot.returncode != 0:
        pytest.fail(f"admin bootstrap failed: {boot.stderr}", pytrace=False)
    tenant = json.loads(boot.stdout.strip().splitlines()[-1])

    env.update(
        KAICALLS_RECORDINGS_DIR=f"{work}/rec",
        KAICALLS_SIM_SPEED="500",
        KAICALLS_ALLOW_PRIVATE_WEBHOOKS="true",
        KAICALLS_RATE_LIMIT_CALLS_PER_MIN="100000",
    )
    env.update(extra_env)
    stderr = (work / "serve.err").open("w")
    proc = subprocess.Popen(
        [binary, "serve", "--bind", "127.0.0.1:0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
    try:
        base_url = None
        deadline = time.monotonic() + START_TIMEOUT
        while base_url is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                if proc.poll() is not None:
                    break
                continue
            match = LISTENING.search(line)
            base_url = match.group(1) if match else None
        if base_url is None:
            stderr.flush()
            log = (work / "serve.err").read_text()[-3000:]
            pytest.fail(f"server did not start:\n{log}", pytrace=False)
        yield Server(base_url=base_url, workdir=work, **tenant)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        stderr.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The shared server of the integration tests."""
    with running_server(tmp_path_factory.mktemp("kaicalls-server")) as running:
        yield running
