// Browser checks of the console, driven by tests/console.rs: each run is one
// scenario (SCENARIO) against a fresh `hookrelay serve --dev`, in headless
// Chromium from the system's `chromium` package (playwright-core never
// downloads a browser). Webhooks go to a receiver this script serves itself,
// so a scenario can make it fail and then recover; events are published
// through the API with grpcurl, as a service would.
//
// Environment (set by tests/console.rs):
//   HOOKRELAY_URL     the server, e.g. http://127.0.0.1:50123
//   ADMIN_TOKEN       a key with manage, publish, read
//   READ_TOKEN        a key with read only
//   SCOPED_TOKEN      a key with manage and read, restricted to scope team-a
//   SCREENSHOTS       folder for the screenshots of each page
//   CHROMIUM          the browser (default /usr/bin/chromium)
//   GRPCURL           grpcurl (default: grpcurl on PATH)
//
// Exits 0 when the scenario passed; otherwise prints why (and saves a
// screenshot named failure-<scenario>.png) and exits 1.

import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { chromium } from "playwright-core";

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const URL_ = env("HOOKRELAY_URL");
const ADDR = new URL(URL_).host;
const ADMIN = env("ADMIN_TOKEN");
const SCREENSHOTS = env("SCREENSHOTS");
const SCENARIO = env("SCENARIO");
const WAIT = 15_000;

mkdirSync(SCREENSHOTS, { recursive: true });

// --- The API, as a service calls it ------------------------------------------

function call(method, body, token = ADMIN) {
  const out = execFileSync(
    env("GRPCURL", "grpcurl"),
    ["-plaintext", "-H", `authorization: Bearer ${token}`, "-d", JSON.stringify(body), ADDR, `hookrelay.v1.${method}`],
    { encoding: "utf8" },
  );
  return out.trim() ? JSON.parse(out) : {};
}

const registerType = (name) => call("EventTypeService/CreateEventType", { event_type: { name, description: `${name} (test)` } });
const publish = (type, data, scope) => call("EventService/PublishEvent", { event: { type, data, scope } }).event;
const subscribe = (subscription) => call("SubscriptionService/CreateSubscription", { subscription }).subscription;

// --- A webhook receiver whose answers the scenario controls ------------------

async function startReceiver() {
  const state = { failing: true, received: 0 };
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      state.received += 1;
      if (request.url.startsWith("/down") || (request.url.startsWith("/flaky") && state.failing)) {
        response.writeHead(503, { "content-type": "text/plain" });
        response.end("receiver says: down for maintenance <b>until 10:00</b>");
      } else {
        response.writeHead(204);
        response.end();
      }
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = (path) => `http://127.0.0.1:${server.address().port}${path}`;
  state.close = () => server.close();
  return state;
}

// --- The browser ---------------------------------------------------------------

let lastPage = null;

async function open(viewport = { width: 1280, height: 800 }) {
  const browser = await chromium.launch({ executablePath: env("CHROMIUM", "/usr/bin/chromium"), headless: true });
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  lastPage = page;
  page.setDefaultTimeout(WAIT);
  // The CSP and Trusted Types must never have to refuse anything the
  // console does: any such report (or an uncaught error) fails the scenario.
  const problems = [];
  page.on("console", (message) => {
    const text = message.text();
    if (message.type() === "error" && /Content Security Policy|TrustedHTML|Trusted Type|Refused/i.test(text)) problems.push(text);
  });
  page.on("pageerror", (error) => problems.push(`uncaught: ${error.message}`));
  // Confirmations (rotate, archive) are answered yes.
  page.on("dialog", (dialog) => void dialog.accept());
  const close = async () => {
    await browser.close();
    if (problems.length) throw new Error(`the page reported:\n${problems.join("\n")}`);
  };
  return { browser, context, page, close };
}

async function shot(page, name) {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

async function go(page, hash) {
  const target = `${URL_}/${hash}`;
  // The same address again is a reload: a hash alone would change nothing.
  if (page.url() === target) await page.reload();
  else await page.goto(target);
  await page.locator("main h1").first().waitFor();
}

async function signIn(page, token) {
  await page.goto(`${URL_}/`);
  await page.getByLabel("API key").fill(token);
  await page.getByLabel("API key").press("Enter");
  await page.getByRole("heading", { name: "Subscriptions", level: 1 }).waitFor();
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** Reloads `hash` until `locator(page)` shows up: for state the server
 * reaches on its own (a delivery finishing), which a list shows on load. */
async function until(page, hash, locator, what) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    await go(page, hash);
    if ((await locator(page).count()) > 0) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await page.waitForTimeout(250);
  }
}

// --- The scenarios ---------------------------------------------------------------

const scenarios = {
  /** A bad key gets a clear message; a good one signs in, by keyboard alone,
   * is kept in sessionStorage only, and signing out forgets it. */
  async "sign-in"() {
    const { page, context, close } = await open();
    await page.goto(`${URL_}/`);
    await shot(page, "sign-in");
    await page.keyboard.press("Tab"); // focus starts in the key field; Tab leaves it
    await page.getByLabel("API key").fill("hr_not-a-real-key");
    await page.getByRole("button", { name: "Sign in" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    check(/not accepted/.test(await alert.textContent()), `unclear message: ${await alert.textContent()}`);
    await shot(page, "sign-in-bad-key");

    await page.getByLabel("API key").fill(ADMIN);
    await page.getByLabel("API key").press("Enter");
    await page.getByRole("heading", { name: "Subscriptions", level: 1 }).waitFor();
    await page.getByText("No subscriptions yet").waitFor();
    await shot(page, "subscriptions-empty");
    check(!page.url().includes(ADMIN), "the key is in the URL");
    check((await context.cookies()).length === 0, "the console set a cookie");
    const stored = await page.evaluate(() => ({ session: sessionStorage.getItem("hookrelay.token"), local: localStorage.length }));
    check(stored.session === ADMIN && stored.local === 0, "the key is not (only) in sessionStorage");

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key").waitFor();
    check((await page.evaluate(() => sessionStorage.getItem("hookrelay.token"))) === null, "sign-out kept the key");
    await close();
  },

  /** Register a type and subscribe a local receiver in the console, publish
   * through the API, and see the delivery in the live tail and in the log. */
  async "publish-and-watch"() {
    const receiver = await startReceiver();
    const { page, close } = await open();
    await signIn(page, ADMIN);

    await go(page, "#/event-types");
    await page.getByText("No event types yet").waitFor();
    await shot(page, "event-types-empty");
    await page.getByRole("button", { name: "New event type" }).click();
    await page.getByLabel("Name", { exact: true }).fill("invoice.paid");
    await page.getByLabel("Description").fill("An invoice was paid");
    await page.getByLabel("JSON Schema").fill('{"type": "object", "required": ["amount"]}');
    await page.getByRole("button", { name: "Create event type" }).click();
    await page.getByText("Registered invoice.paid.").waitFor();
    await page.getByRole("button", { name: "Edit invoice.paid" }).click();
    await page.getByLabel("Description").fill("An invoice was paid in full");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Saved invoice.paid.").waitFor();
    await page.getByText("An invoice was paid in full").waitFor();
    registerType("invoice.voided");
    await go(page, "#/event-types");
    await page.getByRole("button", { name: "Archive invoice.voided" }).click();
    await page.getByRole("button", { name: "Archive invoice.voided" }).waitFor({ state: "detached" });
    await page.getByLabel("Show archived types").check();
    await page.locator("tbody tr", { hasText: "invoice.voided" }).filter({ hasText: "archived" }).waitFor();
    await shot(page, "event-types");

    await go(page, "#/subscriptions/new");
    await page.getByLabel("Name", { exact: true }).fill("billing");
    await page.getByLabel("Endpoint URL").fill(receiver.url("/hooks"));
    await page.getByLabel("invoice.paid").check();
    await shot(page, "subscription-new");
    await page.getByRole("button", { name: "Create subscription" }).click();
    const secret = page.getByTestId("secret");
    await secret.waitFor();
    const created = (await secret.textContent()).trim();
    check(created.startsWith("whsec_"), "no secret shown after create");
    await page.getByRole("button", { name: "Copy" }).waitFor();
    await shot(page, "subscription-created");

    await go(page, "#/live");
    await page.locator('[data-testid="tail-state"][data-state="open"]').waitFor();
    const event = publish("invoice.paid", { amount: 4200, currency: "EUR" });
    const row = page.locator('[data-testid="tail"] tbody tr', { hasText: "succeeded" });
    await row.first().waitFor();
    check((await row.first().textContent()).includes("invoice.paid"), "the tail's row lacks the event type");
    check(receiver.received === 1, `the receiver got ${receiver.received} requests`);
    // The charts count the attempt once its record is written.
    await page.getByTestId("stats-summary").filter({ hasText: /Last hour: 1 attempt, 100 % succeeded/ }).waitFor();
    check((await page.locator("figure.chart svg rect.bar-ok").count()) === 1, "the rate chart has no bar for the delivery");
    await shot(page, "live");
    await page.getByRole("button", { name: "Last day" }).click();
    await page.getByTestId("stats-summary").filter({ hasText: /Last day: 1 attempt/ }).waitFor();

    await go(page, "#/deliveries");
    const logged = page.locator("tbody tr", { hasText: event.id });
    await logged.waitFor();
    check((await logged.textContent()).includes("succeeded"), "the log does not show the delivery as succeeded");
    await shot(page, "deliveries");
    // Its time filter: before the delivery, nothing; since 2000, the delivery.
    await go(page, "#/deliveries?to=2000-01-01T00%3A00");
    await page.getByText("No deliveries match these filters.").waitFor();
    await go(page, "#/deliveries?from=2000-01-01T00%3A00");
    await page.locator("tbody tr", { hasText: event.id }).waitFor();
    await go(page, "#/deliveries");
    await logged.getByRole("link").first().click();
    await page.getByTestId("attempt").first().waitFor();
    await shot(page, "delivery");

    await go(page, "#/subscriptions");
    await page.getByRole("link", { name: "billing" }).waitFor();
    await shot(page, "subscriptions");
    await page.getByRole("link", { name: "billing" }).click();
    await page.getByRole("button", { name: "Send test event" }).click();
    await page.getByTestId("test-result").waitFor();
    check(/answered 204/.test(await page.getByTestId("test-result").textContent()), "the test event did not report 204");
    await shot(page, "subscription");
    await page.getByRole("button", { name: "Rotate secret" }).click();
    await page.getByTestId("secret").waitFor();
    const rotated = (await page.getByTestId("secret").textContent()).trim();
    check(rotated.startsWith("whsec_") && rotated !== created, "rotating showed no new secret");
    await shot(page, "subscription-rotated");
    await page.getByRole("button", { name: "Disable" }).click();
    await page.getByRole("button", { name: "Enable" }).click();
    await page.getByRole("button", { name: "Disable" }).waitFor();
    await page.getByRole("link", { name: "Edit", exact: true }).click();
    await page.getByLabel("Description").fill("Invoices to the billing service");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Invoices to the billing service").waitFor();

    await go(page, "#/events");
    await page.getByRole("link", { name: event.id }).click();
    await page.getByTestId("payload").waitFor();
    check((await page.getByTestId("payload").textContent()).includes('"amount": 4200'), "the payload is not shown formatted");
    await shot(page, "event");
    await go(page, "#/events");
    await shot(page, "events");

    // A phone-width window: the same pages, tables as cards.
    await page.setViewportSize({ width: 390, height: 844 });
    await go(page, "#/subscriptions");
    await shot(page, "phone-subscriptions");
    await go(page, "#/deliveries");
    await shot(page, "phone-deliveries");
    await close();
    receiver.close();
  },

  /** An endpoint answering 503 shows as failing, with its answer. */
  async "failing-endpoint"() {
    const receiver = await startReceiver();
    registerType("order.created");
    const subscription = subscribe({ name: "fulfilment", url: receiver.url("/down"), event_types: ["order.created"], retry_policy: { max_attempts: 1 } });
    const event = publish("order.created", { order: 1 });
    const { page, close } = await open();
    await signIn(page, ADMIN);
    const failedRow = (p) => p.locator("tbody tr", { hasText: event.id }).filter({ hasText: "failed" });
    await until(page, "#/deliveries", failedRow, "the failed delivery in the log");
    check((await failedRow(page).textContent()).includes("HTTP 503"), "the log does not show the receiver's 503");
    await shot(page, "deliveries-failing");
    await failedRow(page).getByRole("link").first().click();
    const body = page.getByTestId("response-body");
    await body.waitFor();
    check((await body.textContent()).includes("down for maintenance <b>until 10:00</b>"), "the receiver's answer is not shown as text");
    const headers = await page.getByTestId("attempt").first().textContent();
    check(!/v1,[A-Za-z0-9+/=]{20,}/.test(headers), "a signature is shown in the request headers");
    await shot(page, "delivery-failing");
    await go(page, `#/subscriptions/${subscription.id}`);
    await page.getByText(/failing since/).waitFor();
    await shot(page, "subscription-failing");
    await page.getByRole("link", { name: /failing deliveries/ }).click();
    await page.locator("tbody tr", { hasText: "HTTP 503" }).waitFor();
    await go(page, "#/subscriptions");
    const listed = page.locator("tbody tr", { hasText: "fulfilment" });
    check(/failing/.test(await listed.textContent()), "the list does not show the subscription as failing");
    check(/0 % of 1 attempt ok/.test(await listed.textContent()), "the list does not show the 24 h success ratio");
    await close();
    receiver.close();
  },

  /** A dead-lettered delivery, retried from the log once the endpoint is
   * back, succeeds. */
  async "retry-dead-letter"() {
    const receiver = await startReceiver();
    registerType("order.shipped");
    subscribe({ name: "shipping", url: receiver.url("/flaky"), event_types: ["order.shipped"], retry_policy: { max_attempts: 1 } });
    const event = publish("order.shipped", { order: 2 });
    const { page, close } = await open();
    await signIn(page, ADMIN);
    const row = (p) => p.locator("tbody tr", { hasText: event.id });
    await until(page, "#/deliveries?status=4", row, "the dead-lettered delivery");
    receiver.failing = false;
    await row(page).getByRole("button", { name: /^Retry/ }).click();
    await page.getByText(/is queued again/).waitFor();
    const succeeded = (p) => row(p).filter({ hasText: "succeeded" });
    await until(page, "#/deliveries", succeeded, "the retried delivery to succeed");
    check(receiver.received === 2, `the receiver got ${receiver.received} requests, not 2`);
    await shot(page, "deliveries-retried");
    await close();
    receiver.close();
  },

  /** A read-only key sees no edit buttons, and a call forced past the UI
   * is refused by the server. */
  async "read-only"() {
    registerType("user.created");
    const subscription = subscribe({ name: "crm", url: "http://127.0.0.1:9/hooks", event_types: ["user.created"], retry_policy: { max_attempts: 1 } });
    publish("user.created", { user: 1 });
    const { page, close } = await open();
    await signIn(page, env("READ_TOKEN"));
    check((await page.getByTestId("access").textContent()) === "read-only", "the key is not shown as read-only");
    await page.getByRole("link", { name: "crm" }).waitFor();
    check((await page.getByRole("link", { name: "New subscription" }).count()) === 0, "New subscription is offered");
    await shot(page, "read-only-subscriptions");
    await page.getByRole("link", { name: "crm" }).click();
    await page.getByRole("heading", { name: "crm" }).waitFor();
    for (const name of ["Edit", "Disable", "Rotate secret", "Send test event"]) {
      check((await page.getByRole("button", { name }).count()) + (await page.getByRole("link", { name, exact: true }).count()) === 0, `${name} is offered`);
    }
    await go(page, "#/event-types");
    await page.getByText("user.created").first().waitFor();
    for (const name of ["New event type", "Edit user.created", "Archive user.created"]) {
      check((await page.getByRole("button", { name }).count()) === 0, `${name} is offered`);
    }
    const failedRow = (p) => p.locator("tbody tr", { hasText: "failed" });
    await until(page, "#/deliveries", failedRow, "the failed delivery");
    check((await page.getByRole("button", { name: /^Retry/ }).count()) === 0, "Retry is offered");
    check((await page.getByRole("heading", { name: "Replay a time range" }).count()) === 0, "Replay is offered");

    // Forced: the create form by its address, submitted anyway.
    await go(page, "#/subscriptions/new");
    await page.getByLabel("Name", { exact: true }).fill("forced");
    await page.getByLabel("Endpoint URL").fill("http://127.0.0.1:9/forced");
    await page.getByLabel("user.created").check();
    await page.getByRole("button", { name: "Create subscription" }).click();
    const refused = page.getByRole("alert");
    await refused.waitFor();
    check(/Refused by the server.*manage/.test(await refused.textContent()), `not refused: ${await refused.textContent()}`);
    await shot(page, "read-only-refused");
    // And a raw gRPC-Web call with the key, past the console's code.
    const status = await page.evaluate(async (id) => {
      const token = sessionStorage.getItem("hookrelay.token");
      const idBytes = new TextEncoder().encode(id);
      const message = new Uint8Array([0x0a, idBytes.length, ...idBytes]); // RotateSubscriptionSecretRequest{id}
      const frame = new Uint8Array([0, 0, 0, 0, message.length, ...message]);
      const response = await fetch("/hookrelay.v1.SubscriptionService/RotateSubscriptionSecret", {
        method: "POST",
        headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1", authorization: `Bearer ${token}` },
        body: frame,
      });
      const text = new TextDecoder().decode(await response.arrayBuffer());
      return response.headers.get("grpc-status") ?? /grpc-status:\s*(\d+)/.exec(text)?.[1];
    }, subscription.id);
    check(status === "7", `a forced rotate answered grpc-status ${status}, not 7 (PERMISSION_DENIED)`);
    await close();
  },

  /** A key restricted to scope team-a sees team-a's subscriptions and events
   * only, and, though it may manage them, is offered no edits of the
   * tenant-wide catalog (the server would refuse them). */
  async scoped() {
    registerType("session.ended");
    subscribe({ name: "team-a-hook", url: "http://127.0.0.1:9/a", event_types: ["session.ended"], scope: "team-a" });
    subscribe({ name: "team-b-hook", url: "http://127.0.0.1:9/b", event_types: ["session.ended"], scope: "team-b" });
    const a = publish("session.ended", { who: "a" }, "team-a");
    const b = publish("session.ended", { who: "b" }, "team-b");
    const { page, close } = await open();
    await signIn(page, env("SCOPED_TOKEN"));
    const access = await page.getByTestId("access").textContent();
    check(access === "manage · scope team-a", `the key is shown as ${JSON.stringify(access)}`);
    await page.getByRole("link", { name: "team-a-hook" }).waitFor();
    check((await page.getByText("team-b-hook").count()) === 0, "a team-b subscription is shown");
    check((await page.getByRole("link", { name: "New subscription" }).count()) === 1, "New subscription is not offered");
    await shot(page, "scoped-subscriptions");
    await go(page, "#/event-types");
    await page.getByText("session.ended").first().waitFor();
    for (const name of ["New event type", "Edit session.ended", "Archive session.ended"]) {
      check((await page.getByRole("button", { name }).count()) === 0, `${name} is offered to a scoped key`);
    }
    await go(page, "#/events");
    await page.getByRole("link", { name: a.id }).waitFor();
    check((await page.getByRole("link", { name: b.id }).count()) === 0, "a team-b event is shown");
    await go(page, "#/deliveries");
    check((await page.getByText("team-b-hook").count()) === 0, "a team-b delivery is shown");
    await close();
  },

  /** An expunged event says so, in the list and on its page, instead of
   * showing an empty payload; the list shows the newest event first. */
  async expunged() {
    registerType("user.deleted");
    const event = publish("user.deleted", { email: "ana@example.com" });
    call("EventService/ExpungeEvent", { id: event.id });
    const later = publish("user.deleted", { email: "bo@example.com" });
    const { page, close } = await open();
    await signIn(page, ADMIN);
    await go(page, "#/events");
    const row = page.locator("tbody tr", { hasText: event.id });
    await row.waitFor();
    // The list reads as a log: the later event comes first.
    const top = await page.locator("tbody tr").first().textContent();
    check(top.includes(later.id), "the events list is not newest first");
    check((await row.getByText("expunged", { exact: true }).count()) === 1, "the list does not mark the event expunged");
    await go(page, `#/events/${event.id}`);
    await page.getByText(/were expunged \(ExpungeEvent\)/).waitFor();
    check((await page.getByTestId("payload").count()) === 0, "an expunged event shows a payload");
    check((await page.getByText("ana@example.com").count()) === 0, "the expunged data is shown");
    await shot(page, "expunged");
    await close();
  },

  /** Markup in data (a payload, a name) is shown as text, never run. */
  async "html-payload"() {
    registerType("comment.posted");
    const html = '<script>window.__pwned = 1</script><img src="x" onerror="window.__pwned = 2">';
    subscribe({ name: "<b>bold</b> hook", url: "http://127.0.0.1:9/c", event_types: ["comment.posted"] });
    const event = publish("comment.posted", { body: html });
    const { page, close } = await open();
    await signIn(page, ADMIN);
    await page.getByRole("link", { name: "<b>bold</b> hook" }).waitFor();
    await go(page, `#/events/${event.id}`);
    const payload = page.getByTestId("payload");
    await payload.waitFor();
    check((await payload.textContent()).includes("<script>window.__pwned = 1</script>"), "the payload's markup is not shown as text");
    check((await payload.locator("script, img").count()) === 0, "the payload became elements");
    check((await page.evaluate(() => window.__pwned)) === undefined, "the payload's script ran");
    await shot(page, "html-payload");
    await close();
  },
};

const run = scenarios[SCENARIO];
if (!run) {
  console.error(`unknown SCENARIO ${SCENARIO}; known: ${Object.keys(scenarios).join(", ")}`);
  process.exit(2);
}
const started = Date.now();
try {
  await run();
  console.log(`ok ${SCENARIO} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  process.exit(0);
} catch (error) {
  console.error(`FAILED ${SCENARIO}: ${error.stack ?? error}`);
  if (lastPage && !lastPage.isClosed()) {
    console.error(`page at failure: ${lastPage.url()}`);
    await shot(lastPage, `failure-${SCENARIO}`).catch(() => {});
  }
  process.exit(1);
}
