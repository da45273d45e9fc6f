"""Contract 4, "gateway webhooks": with a secret, X-Webhook-Hmac is the
lowercase hex HMAC-SHA512 of the raw body and X-Webhook-Hmac-Algorithm is
"sha512"; without one, neither header is sent. Every request carries
X-Webhook-Request-Id and X-Webhook-Timestamp in epoch milliseconds, which
must be within 5 s of now."""

import hashlib
import hmac
import json
import time

from receiver_base import Rejected, secret, serve


def verify(headers, body):
    timestamp = headers.get("x-webhook-timestamp") or ""
    if not timestamp.isdigit():
        raise Rejected(f"x-webhook-timestamp {timestamp!r} is not epoch milliseconds")
    skew_ms = abs(time.time() * 1000 - int(timestamp))
    if skew_ms > 5000:
        raise Rejected(f"x-webhook-timestamp is {skew_ms:.0f} ms from now")
    request_id = headers.get("x-webhook-request-id")
    if not request_id:
        raise Rejected("x-webhook-request-id is missing")
    received = headers.get("x-webhook-hmac")
    if secret():
        if headers.get("x-webhook-hmac-algorithm") != "sha512":
            raise Rejected("x-webhook-hmac-algorithm is not sha512")
        expected = hmac.new(secret().encode("utf-8"), body, hashlib.sha512).hexdigest()
        if not received or not hmac.compare_digest(expected, received):
            raise Rejected("x-webhook-hmac does not match")
    elif received is not None or headers.get("x-webhook-hmac-algorithm") is not None:
        raise Rejected("an unsigned subscription's request carries a signature")
    return {
        "request_id": request_id,
        "signed": received is not None,
        "custom": headers.get("x-gateway-source"),
        "data": json.loads(body),
    }


serve(verify)
