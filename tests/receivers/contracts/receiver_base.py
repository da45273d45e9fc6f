"""The HTTP plumbing the Python contract receivers share, so each receiver
file holds only its contract's verification, written the way that
contract's documentation tells receivers to write it.

A receiver calls serve(verify): verify(headers, raw_body) returns a dict
describing what it read (answered 200, printed as "VERIFIED <json>") or
raises Rejected (answered 401, printed as "INVALID <reason>").
Prints "LISTENING <port>" once ready. The port is argv[1]; the shared
secret, if any, is in the WEBHOOK_SECRET environment variable.
"""

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Requests are handled on several threads; one line must not cut another.
_print_lock = threading.Lock()


def report(line):
    with _print_lock:
        print(line, flush=True)


class Rejected(Exception):
    pass


def secret():
    return os.environ.get("WEBHOOK_SECRET", "")


def serve(verify):
    port = int(sys.argv[1])

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            try:
                seen = verify(self.headers, body)
            except Exception as err:  # any failure is a rejection
                report(f"INVALID {type(err).__name__}: {err}")
                self.send_response(401)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            report("VERIFIED " + json.dumps(seen, sort_keys=True))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format, *args):  # keep stdout for results
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"LISTENING {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
