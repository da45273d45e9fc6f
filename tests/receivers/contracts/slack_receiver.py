"""Slack's documented check: reject a timestamp more than five minutes
old; the base string is "v0:{X-Slack-Request-Timestamp}:{raw body}"; the
signature is "v0=" + hex HMAC-SHA256 with the signing secret, compared
with hmac.compare_digest against X-Slack-Signature."""

import hashlib
import hmac
import json
import time

from receiver_base import Rejected, secret, serve


def verify(headers, request_body):
    timestamp = headers.get("x-slack-request-timestamp") or ""
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 60 * 5:
        raise Rejected(f"stale or missing timestamp {timestamp!r}")
    sig_basestring = b"v0:" + timestamp.encode() + b":" + request_body
    my_signature = "v0=" + hmac.new(secret().encode("utf-8"), sig_basestring, hashlib.sha256).hexdigest()
    slack_signature = headers.get("x-slack-signature") or ""
    if not hmac.compare_digest(my_signature, slack_signature):
        raise Rejected("signature mismatch")
    return {"data": json.loads(request_body)}


serve(verify)
