"""GitHub's documented check: X-Hub-Signature-256 is "sha256=" + the hex
HMAC-SHA256 of the raw payload, keyed with the webhook secret, compared
with hmac.compare_digest."""

import hashlib
import hmac
import json

from receiver_base import Rejected, secret, serve


def verify(headers, payload_body):
    signature_header = headers.get("x-hub-signature-256")
    if not signature_header:
        raise Rejected("x-hub-signature-256 header is missing")
    hash_object = hmac.new(secret().encode("utf-8"), msg=payload_body, digestmod=hashlib.sha256)
    expected_signature = "sha256=" + hash_object.hexdigest()
    if not hmac.compare_digest(expected_signature, signature_header):
        raise Rejected("request signatures didn't match")
    return {
        "event": headers.get("x-github-event"),
        "delivery": headers.get("x-github-delivery"),
        "data": json.loads(payload_body),
    }


serve(verify)
