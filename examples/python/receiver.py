#!/usr/bin/env python3
"""A minimal webhook receiver that verifies hookrelay deliveries with the
PyPI `standardwebhooks` package and the standard library's http.server.

    pip install standardwebhooks
    WEBHOOK_SECRET=whsec_... python3 receiver.py [--listen 127.0.0.1:9000]

The address comes from --listen, else LISTEN_ADDR, else 127.0.0.1:9000.
Answers 204 to a request whose signature verifies and 401 otherwise, and
prints one line per request:

    verified <webhook-id> <type>
    rejected <webhook-id>: <reason>
"""

import argparse
import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from standardwebhooks.webhooks import Webhook
except ImportError as err:
    sys.exit(f"the standardwebhooks package is missing ({err}); run: pip install standardwebhooks")


def parse_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"not a HOST:PORT address: {address}")
    return host.strip("[]"), int(port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--listen",
        type=parse_address,
        default=os.environ.get("LISTEN_ADDR") or "127.0.0.1:9000",
        help="HOST:PORT to listen on (env LISTEN_ADDR; default 127.0.0.1:9000)",
    )
    args = parser.parse_args()
    secret = os.environ.get("WEBHOOK_SECRET")
    if not secret:
        sys.exit("set WEBHOOK_SECRET to the subscription's secret (whsec_...)")
    webhook = Webhook(secret)
    # Requests are handled on threads; print() writes the text and the
    # newline separately, so whole lines go out under a lock.
    output = threading.Lock()

    def emit(line: str) -> None:
        with output:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as senders pool connections

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            # The raw body, exactly as sent: the signature covers these
            # bytes, so verify them before any JSON parsing.
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            webhook_id = self.headers.get("webhook-id", "-")
            try:
                # Checks the timestamp (within 5 minutes) and the v1
                # signatures; on success returns the parsed JSON payload.
                payload = webhook.verify(body, dict(self.headers.items()))
            except Exception as err:  # a bad signature, a missing header, malformed input
                emit(f"rejected {webhook_id}: {err}")
                self.send_response(401)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            event_type = payload.get("type", "?") if isinstance(payload, dict) else "?"
            emit(f"verified {webhook_id} {event_type}")
            self.send_response(204)
            self.end_headers()

        def log_message(self, format, *args) -> None:  # keep stdout for the results
            pass

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in args.listen[0] else socket.AF_INET

    server = Server(args.listen, Handler)
    host, port = server.server_address[:2]
    print(f"listening for webhooks on http://{host}:{port}/", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
