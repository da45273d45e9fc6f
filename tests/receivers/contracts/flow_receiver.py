"""Contract 5, "flow webhooks": the body is {"id", "event", "session_id",
"created" (unix seconds, a number), "success" (a boolean), "flow_name",
"metadata" (an object), "data" (an object)}, read the way the contract's
documentation shows: payload['event'], payload['session_id'],
payload['created']."""

import json
import time

from receiver_base import Rejected, serve


def verify(headers, body):
    payload = json.loads(body)
    expected = {"id", "event", "session_id", "created", "success", "flow_name", "metadata", "data"}
    if set(payload) != expected:
        raise Rejected(f"fields {sorted(payload)} are not {sorted(expected)}")
    created = payload["created"]
    if isinstance(created, bool) or not isinstance(created, (int, float)):
        raise Rejected(f"created {created!r} is not a number")
    if abs(time.time() - created) > 300:
        raise Rejected(f"created {created} is not unix seconds near now")
    if not isinstance(payload["success"], bool):
        raise Rejected("success is not a boolean")
    if not isinstance(payload["metadata"], dict) or not isinstance(payload["data"], dict):
        raise Rejected("metadata and data must be objects")
    return {
        "id": payload["id"],
        "event": payload["event"],
        "session_id": payload["session_id"],
        "success": payload["success"],
        "flow_name": payload["flow_name"],
        "metadata": payload["metadata"],
        "data": payload["data"],
    }


serve(verify)
