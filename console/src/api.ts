// The API, over gRPC-Web on the page's own origin, with the generated client
// of clients/typescript. Every call carries the signed-in key; the server
// checks it exactly as for any other client, so the console can do nothing
// the key cannot.

import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { ApiKeyService, Capability } from "@gen/hookrelay/v1/api_key_pb.js";
import { DeliveryService } from "@gen/hookrelay/v1/delivery_pb.js";
import { EventService } from "@gen/hookrelay/v1/event_pb.js";
import { EventTypeService } from "@gen/hookrelay/v1/event_type_pb.js";
import { SubscriptionService } from "@gen/hookrelay/v1/subscription_pb.js";
import type { Access } from "./session";

export interface Api {
  subscriptions: Client<typeof SubscriptionService>;
  eventTypes: Client<typeof EventTypeService>;
  events: Client<typeof EventService>;
  deliveries: Client<typeof DeliveryService>;
  apiKeys: Client<typeof ApiKeyService>;
}

/** Fires "open" when a server stream's response headers arrive: from then
 * on the server is watching for us (the live tail says so). */
export const streams = new EventTarget();

export function connect(token: string): Api {
  const auth: Interceptor = (next) => (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
  const opened: Interceptor = (next) => async (request) => {
    const response = await next(request);
    if (response.stream) streams.dispatchEvent(new Event("open"));
    return response;
  };
  const transport = createGrpcWebTransport({ baseUrl: location.origin, interceptors: [auth, opened] });
  return {
    subscriptions: createClient(SubscriptionService, transport),
    eventTypes: createClient(EventTypeService, transport),
    events: createClient(EventService, transport),
    deliveries: createClient(DeliveryService, transport),
    apiKeys: createClient(ApiKeyService, transport),
  };
}

/** Thrown by `probe` with a message for the sign-in page. */
export class SignInError extends Error {}

/**
 * What `token` may do, by asking the API about the key itself
 * (GetCurrentApiKey: its capabilities and scope). The answer only decides
 * which pages and buttons the console shows; the server still checks every
 * call.
 */
export async function probe(api: Api): Promise<Access> {
  let capabilities: Capability[];
  let scope: string;
  try {
    const { apiKey } = await api.apiKeys.getCurrentApiKey({});
    capabilities = apiKey?.capabilities ?? [];
    scope = apiKey?.scope ?? "";
  } catch (error) {
    if (ConnectError.from(error).code === Code.Unauthenticated) {
      throw new SignInError(
        "That API key was not accepted: it is unknown, revoked or mistyped. Paste the whole token (it starts with hr_).",
      );
    }
    throw new SignInError(`The server could not be asked: ${describe(error)}`);
  }
  const manage = capabilities.includes(Capability.MANAGE);
  if (!manage && !capabilities.includes(Capability.READ)) {
    throw new SignInError(
      "That key lacks the read capability, which the console needs. Use a key created with --capabilities read (or manage).",
    );
  }
  return { read: true, manage, scope };
}

/** A message a person can act on, from any failure of a call. */
export function describe(error: unknown): string {
  const e = ConnectError.from(error);
  switch (e.code) {
    case Code.Unauthenticated:
      return "Your API key is no longer accepted (revoked?). Sign out and sign in with a valid key.";
    case Code.PermissionDenied:
      return `Refused by the server: ${e.rawMessage}`;
    case Code.Unavailable:
      return `The server is unavailable: ${e.rawMessage || "is it running?"}`;
    default:
      return e.rawMessage || e.message;
  }
}

export function isCode(error: unknown, code: Code): boolean {
  return ConnectError.from(error).code === code;
}
