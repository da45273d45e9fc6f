"""Stripe's documented manual verification: split Stripe-Signature on ","
into t=<timestamp> and v1=<signature> elements; the signed payload is
"{t}.{raw body}"; compute the hex HMAC-SHA256 with the endpoint secret and
accept if any v1 matches and the timestamp is within the 5-minute
tolerance."""

import hashlib
import hmac
import json
import time

from receiver_base import Rejected, secret, serve

TOLERANCE = 300


def verify(headers, payload):
    header = headers.get("stripe-signature") or ""
    pairs = [item.split("=", 1) for item in header.split(",") if "=" in item]
    timestamps = [v for k, v in pairs if k == "t"]
    signatures = [v for k, v in pairs if k == "v1"]
    if len(timestamps) != 1 or not signatures:
        raise Rejected(f"unable to extract timestamp and signatures from {header!r}")
    timestamp = timestamps[0]
    signed_payload = timestamp.encode() + b"." + payload
    expected = hmac.new(secret().encode("utf-8"), signed_payload, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise Rejected("no signatures found matching the expected signature for payload")
    if abs(time.time() - int(timestamp)) > TOLERANCE:
        raise Rejected("timestamp outside the tolerance zone")
    event = json.loads(payload)
    return {"id": event["id"], "type": event["type"], "created": event["created"], "v1_count": len(signatures)}


serve(verify)
