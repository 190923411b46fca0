"""Fixtures of the MCP end-to-end suite.

`KAICALLS_BIN` names the kaicalls binary (run.sh sets it). Each test module gets its
own `BIN serve` (fresh SQLite database, free port, fast simulator), stopped at the
module's end; tests that need a server with other settings (the OAuth test's 2-second
access tokens) start one with `start_server`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from harness import KaiCallsServer, Tenant, sign_up


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def kaicalls_bin() -> str:
    binary = os.environ.get("KAICALLS_BIN", "")
    if not binary or not os.access(binary, os.X_OK):
        pytest.fail(f"KAICALLS_BIN must name the kaicalls binary (got {binary!r})", pytrace=False)
    return os.path.abspath(binary)


# Every server started, so a failing test's report can show their logs.
_servers: list[KaiCallsServer] = []


@pytest.fixture(scope="module")
def start_server(kaicalls_bin: str) -> Iterator[Callable[..., KaiCallsServer]]:
    """Starts `BIN serve` with extra environment; every server so started stops at the
    module's end."""
    started: list[KaiCallsServer] = []

    def start(name: str = "server", **extra_env: str) -> KaiCallsServer:
        server = KaiCallsServer(kaicalls_bin, extra_env, name=name).start()
        started.append(server)
        _servers.append(server)
        return server

    yield start
    for server in started:
        server.cleanup()
        _servers.remove(server)


@pytest.fixture(scope="module")
def server(start_server: Callable[..., KaiCallsServer]) -> KaiCallsServer:
    """The module's server."""
    return start_server("main")


@pytest.fixture(scope="module")
def tenant(server: KaiCallsServer) -> Tenant:
    """A signed-up account on the module's server: base URL, test key (every scope),
    session cookie, agent id."""
    return sign_up(server.base, "MCP Tenant A")


@pytest.fixture(scope="module")
def other_tenant(server: KaiCallsServer) -> Tenant:
    """A second, unrelated account on the same server."""
    return sign_up(server.base, "MCP Tenant B")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """A failing test's report carries the tail of every running server's log."""
    report = yield
    if report.failed:
        for server in _servers:
            report.sections.append((f"kaicalls {server.name} log ({server.base})", server.log_tail(30)))
    return report
