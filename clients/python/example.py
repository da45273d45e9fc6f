#!/usr/bin/env python3
"""hookrelay from Python, through the generated gRPC client.

Registers an event type, subscribes a webhook endpoint to it, publishes one
event and waits until hookrelay has delivered it.

    HOOKRELAY_TOKEN=hr_... python3 clients/python/example.py

Environment: HOOKRELAY_ADDR (default 127.0.0.1:50051, plaintext),
HOOKRELAY_TOKEN (an API key with manage, publish and read),
HOOKRELAY_WEBHOOK_URL (default http://127.0.0.1:9000/webhooks, e.g.
`hookrelay listen`; http:// and loopback URLs need the server's --dev).
Exits 0 once the delivery succeeded, 1 otherwise.
"""

import os
import secrets
import sys
import time

# The generated package lives beside this file (clients/python/hookrelay/v1).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402
from google.protobuf import struct_pb2  # noqa: E402

from hookrelay.v1 import (  # noqa: E402
    delivery_pb2,
    delivery_pb2_grpc,
    event_pb2,
    event_pb2_grpc,
    event_type_pb2,
    event_type_pb2_grpc,
    subscription_pb2,
    subscription_pb2_grpc,
)

DELIVERY_TIMEOUT_SECS = 15.0
RPC_TIMEOUT_SECS = 10.0
FINAL = (
    delivery_pb2.DELIVERY_STATUS_SUCCEEDED,
    delivery_pb2.DELIVERY_STATUS_FAILED,
    delivery_pb2.DELIVERY_STATUS_CANCELLED,
)


def main() -> int:
    addr = os.environ.get("HOOKRELAY_ADDR", "127.0.0.1:50051")
    token = os.environ.get("HOOKRELAY_TOKEN", "")
    webhook_url = os.environ.get("HOOKRELAY_WEBHOOK_URL", "http://127.0.0.1:9000/webhooks")
    if not token:
        print("HOOKRELAY_TOKEN is not set (create a key with `hookrelay keys create`)", file=sys.stderr)
        return 1

    # Every call carries the API key as gRPC metadata.
    auth = [("authorization", f"Bearer {token}")]
    with grpc.insecure_channel(addr) as channel:
        event_types = event_type_pb2_grpc.EventTypeServiceStub(channel)
        subscriptions = subscription_pb2_grpc.SubscriptionServiceStub(channel)
        events = event_pb2_grpc.EventServiceStub(channel)
        deliveries = delivery_pb2_grpc.DeliveryServiceStub(channel)

        # A fresh type name per run, so the example can run again on the same server.
        type_name = f"example.order-{secrets.token_hex(4)}.created"
        event_types.CreateEventType(
            event_type_pb2.CreateEventTypeRequest(
                event_type=event_type_pb2.EventType(
                    name=type_name, description="An order was created (Python example)"
                )
            ),
            metadata=auth,
            timeout=RPC_TIMEOUT_SECS,
        )
        print(f"created event type   {type_name}")

        created = subscriptions.CreateSubscription(
            subscription_pb2.CreateSubscriptionRequest(
                subscription=subscription_pb2.Subscription(
                    name="python-example", url=webhook_url, event_types=[type_name]
                )
            ),
            metadata=auth,
            timeout=RPC_TIMEOUT_SECS,
        )
        subscription = created.subscription
        # created.secret (whsec_...) is returned only this once: a real receiver
        # keeps it to verify each webhook's `webhook-signature` header.
        print(f"created subscription {subscription.id} -> {subscription.url}")
        try:
            return publish_and_wait(events, deliveries, auth, type_name, subscription.id)
        finally:
            # Subscriptions count against a quota (5 per scope by default), so
            # the example removes its own.
            subscriptions.DeleteSubscription(
                subscription_pb2.DeleteSubscriptionRequest(id=subscription.id),
                metadata=auth,
                timeout=RPC_TIMEOUT_SECS,
            )
            print(f"deleted subscription {subscription.id}")


def publish_and_wait(events, deliveries, auth, type_name: str, subscription_id: str) -> int:
    data = struct_pb2.Struct()
    data.update({"order_id": "ord_1001", "amount": 4200, "currency": "EUR"})
    published = events.PublishEvent(
        event_pb2.PublishEventRequest(event=event_pb2.Event(type=type_name, data=data)),
        metadata=auth,
        timeout=RPC_TIMEOUT_SECS,
    )
    event = published.event
    print(f"published event      {event.id} (to {published.subscription_count} subscription(s))")

    # Delivery is asynchronous: poll until it is final or the deadline passes.
    deadline = time.monotonic() + DELIVERY_TIMEOUT_SECS
    while True:
        listed = deliveries.ListDeliveries(
            delivery_pb2.ListDeliveriesRequest(event_id=event.id, subscription_id=subscription_id),
            metadata=auth,
            timeout=RPC_TIMEOUT_SECS,
        )
        delivery = listed.deliveries[0] if listed.deliveries else None
        if (delivery is not None and delivery.status in FINAL) or time.monotonic() >= deadline:
            break
        time.sleep(0.2)

    if delivery is None:
        print(f"no delivery of {event.id} was created", file=sys.stderr)
        return 1
    print(
        f"delivery             {delivery.id} status={delivery_pb2.DeliveryStatus.Name(delivery.status)}"
        f" attempts={delivery.attempts} http_status={delivery.last_status_code}"
    )
    if delivery.status != delivery_pb2.DELIVERY_STATUS_SUCCEEDED:
        reason = f" (last error: {delivery.last_error})" if delivery.last_error else ""
        print(f"the delivery did not succeed within {DELIVERY_TIMEOUT_SECS:.0f} s{reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except grpc.RpcError as error:
        print(f"hookrelay call failed: {error.code().name}: {error.details()}", file=sys.stderr)
        sys.exit(1)
