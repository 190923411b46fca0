#!/usr/bin/env python3
"""The benchmark's scenarios that wrk cannot drive (scripts/bench calls this).

  bench_scenarios.py webhooks BASE TEST_KEY N
      N leads created (64 requests at a time), each announced by `lead.created` to a
      local receiver that answers 200 at once: deliveries per second, from the first
      request to the last webhook, and each webhook's latency after its request.
  bench_scenarios.py hanging BASE FAST_KEY SLOW_KEY N
      The slow tenant's receiver never answers (100 deliveries waiting on it); the
      fast tenant's N webhooks: latency p50 / p99 / max.
  bench_scenarios.py calls BASE TEST_KEY AGENT_ID N
      N simulated calls placed at once (64 requests at a time; the voicemail number,
      about 52 s of simulated time each, so at real-time speed they are all in
      progress together), each with its `webhook_url` at a local receiver: calls
      created per second, the most in progress at one moment (created minus
      finished), and the seconds from the first request until every call's
      `call.completed` has arrived.
  bench_scenarios.py campaign BASE TEST_KEY AGENT_ID N CONCURRENCY
      One campaign of N contacts (one request, sandbox numbers) started at
      max_concurrency CONCURRENCY: seconds from the request until no contact is
      pending (all dialed), dials per second, the most contacts dialing at one poll
      (every 0.25 s), and the seconds until the campaign completed.
  bench_scenarios.py waiters BASE KEY CALL_ID N SECONDS PID
      N connections each waiting on `GET /calls?id=&wait=60` for a call that does not
      change: the server's CPU while they wait (percent of one core) and its RSS.

Each prints one line of JSON. Standard library only: asyncio streams for the
client and the receivers.
"""

import asyncio
import json
import sys
import time
import urllib.parse


async def http(base, method, path, key, body=None):
    """One request on its own connection; returns (status, parsed body)."""
    url = urllib.parse.urlsplit(base)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    data = json.dumps(body).encode() if body is not None else b""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode() + data)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        payload = dechunk(payload)
    return status, json.loads(payload or b"null")


def dechunk(data):
    out = b""
    while data:
        size, _, rest = data.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        out += rest[:n]
        data = rest[n + 2 :]
    return out


class Receiver:
    """A webhook receiver: answers 200 at once, or never (hang=True)."""

    def __init__(self, hang=False):
        self.hang = hang
        self.arrivals = []  # (time, body)
        self.server = None

    async def start(self):
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/hook"

    async def serve(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                if self.hang:
                    await asyncio.sleep(3600)
                self.arrivals.append((time.monotonic(), body))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


async def subscribe(base, key, url):
    status, body = await http(
        base, "POST", "/api/v1/webhooks", key, {"webhook_url": url, "events": ["lead.created"]}
    )
    assert status == 201, body


async def create_leads(base, key, n, concurrency=64):
    """Creates n leads; returns {lead id: time its 201 arrived}."""
    created = {}
    todo = iter(range(n))

    async def loop():
        for i in todo:
            status, body = await http(
                base, "POST", "/api/v1/leads", key, {"name": f"Bench {i}", "phone": f"+1512555{i % 10000:04d}"}
            )
            assert status == 201, body
            created[body["id"]] = time.monotonic()

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return created


async def wait_for(receiver, n, timeout=300):
    deadline = time.monotonic() + timeout
    while len(receiver.arrivals) < n and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


def latencies(created, receiver):
    """Each webhook's arrival after its lead's 201 (seconds), sorted."""
    out = []
    for at, body in receiver.arrivals:
        text = body.decode()
        for lead_id, created_at in created.items():
            if lead_id in text:
                out.append(max(0.0, at - created_at))
                break
    return sorted(out)


def pct(values, p):
    return values[min(len(values) - 1, int(len(values) * p))] if values else None


async def webhooks(base, key, n):
    receiver = Receiver()
    await subscribe(base, key, await receiver.start())
    started = time.monotonic()
    created = await create_leads(base, key, n)
    await wait_for(receiver, n)
    elapsed = receiver.arrivals[-1][0] - started if receiver.arrivals else None
    late = latencies(created, receiver)
    return {
        "delivered": len(receiver.arrivals),
        "per_second": round(len(receiver.arrivals) / elapsed, 1) if elapsed else None,
        "p50_ms": round(pct(late, 0.5) * 1000, 1),
        "p99_ms": round(pct(late, 0.99) * 1000, 1),
    }


async def hanging(base, fast_key, slow_key, n):
    slow, fast = Receiver(hang=True), Receiver()
    await subscribe(base, slow_key, await slow.start())
    await subscribe(base, fast_key, await fast.start())
    await create_leads(base, slow_key, 100, concurrency=16)
    await asyncio.sleep(1)  # the slow tenant's deliveries are hanging by now
    created = await create_leads(base, fast_key, n, concurrency=16)
    await wait_for(fast, n, timeout=60)
    late = latencies(created, fast)
    return {
        "delivered": len(fast.arrivals),
        "p50_ms": round(pct(late, 0.5) * 1000, 1),
        "p99_ms": round(pct(late, 0.99) * 1000, 1),
        "max_ms": round(late[-1] * 1000, 1),
    }


async def calls(base, key, agent_id, n):
    receiver = Receiver()
    hook = await receiver.start()
    created = []  # monotonic time of each 201
    todo = iter(range(n))
    started = time.monotonic()

    async def loop():
        for i in todo:
            body = {
                "agent_id": agent_id,
                "to": "+15005550004",
                "name": f"Bench {i}",
                "webhook_url": hook,
            }
            status, answer = await http(base, "POST", "/api/v1/calls", key, body)
            assert status == 201, answer
            created.append(time.monotonic())

    await asyncio.gather(*(loop() for _ in range(64)))
    creating = time.monotonic() - started
    await wait_for(receiver, n, timeout=900)
    ended = sorted(at for at, body in receiver.arrivals if b'"call.completed"' in body)
    # The most calls in progress at once: each 201 starts one, each completion ends one.
    peak = running = 0
    for _, step in sorted([(at, 1) for at in created] + [(at, -1) for at in ended]):
        running += step
        peak = max(peak, running)
    return {
        "calls": len(created),
        "created_per_second": round(len(created) / creating, 1),
        "peak_in_progress": peak,
        "completed_webhooks": len(ended),
        "seconds_until_all_delivered": round(ended[-1] - started, 1) if len(ended) == n else None,
    }


async def campaign(base, key, agent_id, n, concurrency):
    # Sandbox numbers (NXX 555) that converse normally: no line ending 0001-0007.
    contacts = [{"to": f"+1{512 + i // 9000:03d}555{1000 + i % 9000:04d}"} for i in range(n)]
    body = {
        "name": "Bench campaign",
        "agent_id": agent_id,
        "contacts": contacts,
        "max_concurrency": concurrency,
        "start": True,
    }
    started = time.monotonic()
    status, created = await http(base, "POST", "/api/v1/campaigns", key, body)
    assert status == 201, created
    accepted = time.monotonic() - started
    path = f"/api/v1/campaigns?id={created['id']}"
    peak, all_dialed, done = 0, None, None
    while done is None and time.monotonic() - started < 1800:
        await asyncio.sleep(0.25)
        status, c = await http(base, "GET", path, key)
        assert status == 200, c
        peak = max(peak, c["counts"]["dialing"])
        if all_dialed is None and c["counts"]["pending"] == 0:
            all_dialed = time.monotonic() - started
        if c["status"] == "completed":
            done = time.monotonic() - started
    return {
        "contacts": n,
        "max_concurrency": concurrency,
        "create_seconds": round(accepted, 2),
        "seconds_until_all_dialed": round(all_dialed, 1) if all_dialed else None,
        "dials_per_second": round(n / all_dialed, 1) if all_dialed else None,
        "peak_dialing": peak,
        "seconds_until_completed": round(done, 1) if done else None,
        "completed": c["counts"]["completed"],
    }


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / 100.0


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024)
    return None


async def waiters(base, key, call_id, n, seconds, pid):
    url = urllib.parse.urlsplit(base)
    conns = []
    for _ in range(n):
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        writer.write(
            (
                f"GET /api/v1/calls?id={call_id}&wait=60 HTTP/1.1\r\nHost: {url.netloc}\r\n"
                f"Authorization: Bearer {key}\r\n\r\n"
            ).encode()
        )
        conns.append((reader, writer))
    await asyncio.gather(*(w.drain() for _, w in conns))
    await asyncio.sleep(2)  # every request is in and waiting
    before, t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    used, wall = cpu_seconds(pid) - before, time.monotonic() - t0
    answered = sum(1 for r, _ in conns if r.at_eof() or len(r._buffer) > 0)  # noqa: SLF001
    for _, w in conns:
        w.close()
    return {
        "waiters": n,
        "answered_early": answered,
        "cpu_percent": round(100 * used / wall, 2),
        "rss_mib": rss_mib(pid),
    }


def main():
    what, args = sys.argv[1], sys.argv[2:]
    if what == "webhooks":
        result = asyncio.run(webhooks(args[0], args[1], int(args[2])))
    elif what == "hanging":
        result = asyncio.run(hanging(args[0], args[1], args[2], int(args[3])))
    elif what == "calls":
        result = asyncio.run(calls(args[0], args[1], args[2], int(args[3])))
    elif what == "campaign":
        result = asyncio.run(campaign(args[0], args[1], args[2], int(args[3]), int(args[4])))
    elif what == "waiters":
        result = asyncio.run(
            waiters(args[0], args[1], args[2], int(args[3]), float(args[4]), int(args[5]))
        )
    else:
        sys.exit(f"unknown scenario {what}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
