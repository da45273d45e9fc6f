"""Contract 1, "widget push": when the subscriber gave a secret, each POST
carries X-Widget-Signature: sha256=<lowercase hex HMAC-SHA256 of the raw
body>; when it gave none, no signature header is sent."""

import hashlib
import hmac
import json

from receiver_base import Rejected, secret, serve


def verify(headers, body):
    received = headers.get("x-widget-signature")
    if secret():
        expected = "sha256=" + hmac.new(secret().encode("utf-8"), body, hashlib.sha256).hexdigest()
        if not received or not hmac.compare_digest(expected, received):
            raise Rejected("x-widget-signature does not match")
    elif received is not None:
        raise Rejected("no secret was given, yet the request is signed")
    return {"signed": received is not None, "body": json.loads(body)}


serve(verify)
