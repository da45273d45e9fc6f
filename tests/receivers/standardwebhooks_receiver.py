#!/usr/bin/env python3
"""A webhook receiver that verifies every request with the official Standard
Webhooks Python library (PyPI `standardwebhooks`), independently of
hookrelay's own code.

Usage: standardwebhooks_receiver.py PORT [SECRET]
The secret may also come from the WEBHOOK_SECRET environment variable.

Prints "LISTENING <port>" once ready, then one line per request:
"VERIFIED <webhook-id>" (answered 204) or "INVALID <reason>" (answered 500).
Exits with status 3 if the library is not installed.
"""

import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from standardwebhooks.webhooks import Webhook
except ImportError as err:
    print(
        f"the standardwebhooks package is not installed ({err}); "
        "run: pip install standardwebhooks",
        file=sys.stderr,
        flush=True,
    )
    sys.exit(3)


# Requests are handled on several threads; one line must not cut another.
_print_lock = threading.Lock()


def report(line: str) -> None:
    with _print_lock:
        print(line, flush=True)


def main() -> None:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    port = int(sys.argv[1])
    secret = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("WEBHOOK_SECRET", "")
    if not secret:
        print("no secret given (argument or WEBHOOK_SECRET)", file=sys.stderr)
        sys.exit(2)
    webhook = Webhook(secret)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            headers = dict(self.headers.items())
            try:
                webhook.verify(body, headers)
            except Exception as err:  # any failure is a rejection
                report(f"INVALID {type(err).__name__}: {err}")
                self.send_response(500)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            report(f"VERIFIED {self.headers.get('webhook-id')}")
            self.send_response(204)
            self.end_headers()

        def log_message(self, format, *args) -> None:  # keep stdout for results
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"LISTENING {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
