"""Counts and a deduplicated failure list from schemathesis' NDJSON event report.

Usage: summarize.py EVENTS_NDJSON FAILURES_TXT [SINK_LOG]

Prints: test cases, requests and responses by status class (and the number of 5xx),
each check's passes and failures, and one line per distinct failure (check, code,
operation, status); writes each distinct failure's first example (curl command,
response body, message) to FAILURES_TXT. Exits 1 when any check failed, any
response was a 5xx, or schemathesis reported an error.
"""

import base64
import collections
import json
import re
import shlex
import sys
import urllib.parse

events_path, failures_path = sys.argv[1], sys.argv[2]
sink_log = sys.argv[3] if len(sys.argv) > 3 else None


def decode(content):
    if content is None:
        return ""
    if isinstance(content, dict) and "$base64" in content:
        raw = base64.b64decode(content["$base64"])
        return raw.decode("utf-8", "replace")
    return str(content)


def curl(request):
    parts = ["curl", "-sS", "-i", "-X", request.get("method", "GET")]
    for name, values in (request.get("headers") or {}).items():
        if name.lower() in ("user-agent", "accept-encoding", "accept", "connection", "content-length", "x-schemathesis-testcaseid"):
            continue
        for value in values if isinstance(values, list) else [values]:
            parts += ["-H", f"{name}: {value}"]
    body = request.get("body")
    if body is not None:
        parts += ["--data-binary", decode(body)]
    parts.append(request.get("uri", ""))
    return " ".join(shlex.quote(p) for p in parts)


FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\[\d+\])*$")


def sent_names(request):
    """The query parameters, headers and top-level body fields a request sent."""
    names = set()
    if not request:
        return names
    names.update(k for k, _ in urllib.parse.parse_qsl(urllib.parse.urlsplit(request.get("uri", "")).query, keep_blank_values=True))
    names.update((request.get("headers") or {}).keys())
    try:
        body = json.loads(decode(request.get("body")))
        if isinstance(body, dict):
            names.update(body.keys())
    except ValueError:
        pass
    return names


def reason_of(body, request):
    """(error code, parameter, reason) of an error envelope, with generated values
    taken out, so that one defect is one group."""
    try:
        err = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return ("", "", body[:80])
    code, param, message = err.get("code", ""), err.get("param") or "", err.get("message", "")
    base = param.split("[")[0].split(".")[0]
    if message.endswith("contains a control character") and (
        not FIELD.match(param) or base not in sent_names(request)
    ):
        param = "<key of a free-form object>"
    if message.endswith("contains a control character"):
        return (code, param, "contains a control character")
    message = re.sub(r"`[^`]*`", "`…`", message)
    message = re.sub(r"'[^']*' is not", "… is not", message)
    return (code, param, message)


def label_of(recorder_label, request):
    if recorder_label != "Stateful tests" or not request:
        return recorder_label
    path = urllib.parse.urlsplit(request.get("uri", "")).path
    return f"{request.get('method', '?')} {path}"


cases = set()
requests = 0
by_class = collections.Counter()
server_errors = []
checks = collections.defaultdict(lambda: collections.Counter())
distinct = collections.OrderedDict()
errors = []
engine = {}

with open(events_path, encoding="utf-8") as f:
    for line in f:
        event = json.loads(line)
        kind, data = next(iter(event.items()))
        if kind == "EngineFinished":
            engine = data
        if kind == "NonFatalError":
            errors.append(data)
        if kind == "FatalError":
            errors.append(data)
        if kind != "ScenarioFinished":
            continue
        recorder = data.get("recorder") or {}
        operation = recorder.get("label", "?")
        interactions = recorder.get("interactions") or {}
        for case_id, interaction in interactions.items():
            cases.add(case_id)
            requests += 1
            response = interaction.get("response") or {}
            status = response.get("status_code")
            if status is None:
                by_class["no response"] += 1
                continue
            by_class[f"{status // 100}xx"] += 1
            if status >= 500:
                server_errors.append((label_of(operation, interaction.get("request")), status, interaction))
        for case_id, results in (recorder.get("checks") or {}).items():
            cases.add(case_id)
            for result in results:
                name = result.get("name", "?")
                checks[name][result.get("status", "?")] += 1
                if result.get("status") != "failure":
                    continue
                failure = (result.get("failure_info") or {}).get("failure") or {}
                interaction = interactions.get(case_id) or {}
                response = interaction.get("response") or {}
                status = response.get("status_code")
                title = failure.get("title", "")
                message = failure.get("message", "")
                op = label_of(operation, interaction.get("request"))
                # One group per defect: the check, the operation and status, and what
                # the server said (error code, parameter, message without the
                # generated values).
                ecode, param, why = reason_of(decode(response.get("content")), interaction.get("request"))
                first = message.splitlines()[0] if message else title
                key = (name, failure.get("code", ""), op, status, f"{ecode} {param}: {why}".strip() if ecode else f"{first} {why}".strip())
                entry = distinct.get(key)
                if entry is None:
                    distinct[key] = {
                        "count": 1,
                        "title": title,
                        "message": message,
                        "phase": data.get("phase"),
                        "interaction": interaction,
                    }
                else:
                    entry["count"] += 1

print()
print("== schemathesis counts")
print(f"test cases: {len(cases)}; requests recorded: {requests}")
print("responses: " + ", ".join(f"{k} {v}" for k, v in sorted(by_class.items())))
print(f"5xx responses: {len(server_errors)}")
if engine:
    print(f"running time: {engine.get('running_time', 0):.1f}s (stop reason: {engine.get('stop_reason')})")
print("checks (passed / failed):")
total_failed = 0
for name in sorted(checks):
    counter = checks[name]
    total_failed += counter["failure"]
    others = {k: v for k, v in counter.items() if k not in ("success", "failure")}
    extra = "".join(f", {k} {v}" for k, v in sorted(others.items()))
    print(f"  {name:32} {counter['success']:6} / {counter['failure']:<6}{extra}")
print(f"distinct failures: {len(distinct)} (failed check results: {total_failed})")
for (name, code, operation, status, first), entry in sorted(distinct.items(), key=lambda kv: (kv[0][0], kv[0][2], str(kv[0][3]), kv[0][4])):
    print(f"  {code:5} {name:26} {operation:44} {status} x{entry['count']:<4} {first[:110]}")
if errors:
    print(f"schemathesis errors: {len(errors)}")
    for err in errors[:20]:
        info = err.get("info") or {}
        print(f"  {err.get('label', '?')}: {info.get('title', '')} {info.get('message', '')}".rstrip()[:300])
if sink_log:
    try:
        with open(sink_log, encoding="utf-8") as f:
            lines = f.read().splitlines()
        print(f"outgoing requests of the server, all caught by the loopback sink: {len(lines)}")
    except FileNotFoundError:
        pass

with open(failures_path, "w", encoding="utf-8") as out:
    out.write(f"{len(distinct)} distinct failures; {len(server_errors)} 5xx responses\n\n")
    for (name, code, operation, status, first), entry in sorted(distinct.items(), key=lambda kv: (kv[0][0], kv[0][2], str(kv[0][3]), kv[0][4])):
        interaction = entry["interaction"]
        request = interaction.get("request") or {}
        response = interaction.get("response") or {}
        out.write(f"### {code} {name}: {operation} -> {status} (x{entry['count']}, phase {entry['phase']})\n{first}\n")
        out.write(f"{entry['title']}\n{entry['message']}\n")
        if request:
            out.write(f"request (the case's own; a check's probe may differ, see the message):\n  {curl(request)}\n")
        if response:
            ctype = (response.get("headers") or {}).get("content-type")
            out.write(f"response: {status} content-type={ctype}\n  {decode(response.get('content'))[:2000]}\n")
        out.write("\n")
    for operation, status, interaction in server_errors:
        out.write(f"### 5xx {operation} -> {status}\n  {curl(interaction.get('request') or {})}\n")
        out.write(f"  {decode((interaction.get('response') or {}).get('content'))[:2000]}\n\n")
print(f"failure details: {failures_path}")

sys.exit(1 if (total_failed or server_errors or errors) else 0)
