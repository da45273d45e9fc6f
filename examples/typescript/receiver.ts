// A minimal webhook receiver that verifies hookrelay deliveries with the
// npm `standardwebhooks` package and node:http.
//
//   npm ci
//   WEBHOOK_SECRET=whsec_... npx tsx receiver.ts [--listen 127.0.0.1:9000]
//
// The address comes from --listen, else LISTEN_ADDR, else 127.0.0.1:9000.
// Answers 204 to a request whose signature verifies and 401 otherwise, and
// prints one line per request:
//   verified <webhook-id> <type>
//   rejected <webhook-id>: <reason>

import { createServer, type IncomingMessage } from "node:http";
import { Webhook } from "standardwebhooks";

function listenAddress(): { host: string; port: number } {
  const args = process.argv.slice(2);
  let address = process.env.LISTEN_ADDR || "127.0.0.1:9000";
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--listen" && i + 1 < args.length) {
      address = args[++i];
    } else if (args[i].startsWith("--listen=")) {
      address = args[i].slice("--listen=".length);
    } else {
      fail(`unknown argument ${args[i]}; usage: receiver.ts [--listen HOST:PORT]`);
    }
  }
  const colon = address.lastIndexOf(":");
  const port = Number(address.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    fail(`not a HOST:PORT address: ${address}`);
  }
  // "[::1]:9000" -> "::1"
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  return { host, port };
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

// The raw body, exactly as sent: the signature covers these bytes, so
// verify them before any JSON parsing (a re-serialized object would differ).
async function rawBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

// Node lower-cases header names; a repeated header arrives as an array.
function headerMap(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) {
      headers[name] = Array.isArray(value) ? value.join(", ") : value;
    }
  }
  return headers;
}

const secret = process.env.WEBHOOK_SECRET;
if (!secret) {
  fail("set WEBHOOK_SECRET to the subscription's secret (whsec_...)");
}
const webhook = new Webhook(secret);
const { host, port } = listenAddress();

const server = createServer(async (request, response) => {
  const body = await rawBody(request);
  const headers = headerMap(request);
  const id = headers["webhook-id"] ?? "-";
  let line: string;
  try {
    // Checks the timestamp (within 5 minutes) and the v1 signatures; on
    // success returns the parsed JSON payload.
    const payload = webhook.verify(body, headers) as { type?: unknown } | undefined;
    line = `verified ${id} ${String(payload?.type ?? "?")}`;
    response.statusCode = 204;
  } catch (err) {
    line = `rejected ${id}: ${err instanceof Error ? err.message : String(err)}`;
    response.statusCode = 401;
  }
  // Writes to a file, or to a pipe on Linux, are synchronous: each line is
  // out before the response is.
  process.stdout.write(line + "\n");
  response.end();
});

server.listen(port, host, () => {
  const address = server.address();
  const bound = typeof address === "object" && address ? address.port : port;
  console.error(`listening for webhooks on http://${host}:${bound}/`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
