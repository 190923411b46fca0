"""Loopback sink for everything the server under test sends out.

run.sh starts the server with HTTP_PROXY/HTTPS_PROXY/ALL_PROXY pointing here, and
KAICALLS_VAPI_BASE_URL at it too, so the webhook deliveries and Vapi requests that
fuzzed input asks for (any `url`, any `webhook_url`) reach this process on
127.0.0.1 and nothing else: no DNS lookup, no connection off the machine.
Plain-HTTP requests are answered `200 {}`; CONNECT (an https:// target) is refused
with 403, which fails that delivery. Each request line is appended to the log.

Usage: sink.py PORT_FILE LOG_FILE
"""

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, log_file = sys.argv[1], sys.argv[2]
lock = threading.Lock()


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet on stderr
        pass

    def _record(self):
        with lock, open(log_file, "a", encoding="utf-8") as log:
            log.write(f"{self.command} {self.path}\n")

    def _answer(self):
        self._record()
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer

    def do_CONNECT(self):
        self._record()
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True


server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
server.daemon_threads = True
with open(port_file, "w", encoding="utf-8") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
