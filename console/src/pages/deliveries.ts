// Deliveries: the log with filters, one delivery with its attempts (request
// headers with the signature redacted, the receiver's answer, duration),
// retry, and replay of a time range to a subscription.

import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Delivery, type DeliveryAttempt, DeliveryStatus } from "@gen/hookrelay/v1/delivery_pb.js";
import { h, notice, replace, field, type Child } from "../dom";
import { STATUS, localInput, ms, time, toLocalInput } from "../format";
import { attempt, badge, button, empty, facts, heading, idLink, link, route, table, type Page } from "../ui";

/** Deliveries per page of the log. */
const PAGE_SIZE = 100;

export function statusBadge(status: DeliveryStatus): HTMLElement {
  const { label, tone } = STATUS[status] ?? STATUS[DeliveryStatus.UNSPECIFIED];
  return badge(label, tone);
}

function retryable(delivery: Delivery): boolean {
  return delivery.status === DeliveryStatus.FAILED || delivery.status === DeliveryStatus.CANCELLED;
}

export function deliveriesTable(page: Page, deliveries: Delivery[], names: Map<string, string>, onRetried?: (flash: string) => void): HTMLElement {
  const manage = page.session.access.manage;
  const message = h("div", { "aria-live": "polite" });
  return h(
    "div",
    null,
    message,
    table(
      "Deliveries",
      [
        { title: "Delivery", cell: (d) => idLink(route(["deliveries", d.id]), d.id) },
        { title: "Event", cell: (d) => [h("code", null, d.eventType), h("div", null, idLink(route(["events", d.eventId]), d.eventId))] },
        { title: "Subscription", cell: (d) => link(route(["subscriptions", d.subscriptionId]), names.get(d.subscriptionId) ?? d.subscriptionId) },
        { title: "Status", cell: (d) => statusBadge(d.status) },
        { title: "Attempts", cell: (d) => String(d.attempts) },
        { title: "Last answer", cell: (d) => lastAnswer(d), class: "wide" },
        { title: "Created", cell: (d) => time(d.createTime) },
        {
          title: "Actions",
          cell: (d) =>
            manage && retryable(d)
              ? button(
                  "Retry",
                  async () => {
                    await attempt(message, async () => {
                      await page.api.deliveries.retryDelivery({ id: d.id });
                      const done = `Delivery ${d.id} is queued again.`;
                      if (onRetried) onRetried(done);
                      else replace(message, notice("ok", done));
                    });
                  },
                  { class: "secondary", "aria-label": `Retry ${d.id}` },
                )
              : "—",
        },
      ],
      deliveries,
      (d) => d.id,
    ),
  );
}

function lastAnswer(delivery: Delivery): Child {
  const parts: Child[] = [];
  if (delivery.lastStatusCode) parts.push(h("span", { class: delivery.lastStatusCode < 300 ? "ok-text" : "bad-text" }, `HTTP ${delivery.lastStatusCode}`));
  if (delivery.lastError) parts.push(h("div", { class: "muted clip" }, delivery.lastError));
  if (delivery.nextAttemptTime && delivery.status === DeliveryStatus.PENDING) parts.push(h("div", { class: "muted" }, `next try ${time(delivery.nextAttemptTime)}`));
  return parts.length ? parts : "—";
}

export async function deliveriesPage(page: Page, flash?: string): Promise<void> {
  const { api, main, query, session } = page;
  const subscriptions = (await api.subscriptions.listSubscriptions({ pageSize: 1000 })).subscriptions;
  const names = new Map(subscriptions.map((s) => [s.id, s.name]));

  const subscription = h("select", { name: "subscription" }, h("option", { value: "" }, "all subscriptions"), subscriptions.map((s) => h("option", { value: s.id }, s.name || s.id)));
  subscription.value = query.get("subscription") ?? "";
  const status = h(
    "select",
    { name: "status" },
    h("option", { value: "" }, "any status"),
    [DeliveryStatus.PENDING, DeliveryStatus.IN_FLIGHT, DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED, DeliveryStatus.CANCELLED].map((s) =>
      h("option", { value: String(s) }, STATUS[s].label),
    ),
  );
  status.value = query.get("status") ?? "";
  const from = h("input", { type: "datetime-local", name: "from", value: query.get("from") ?? "" });
  const to = h("input", { type: "datetime-local", name: "to", value: query.get("to") ?? "" });
  const filters = h(
    "form",
    { class: "filters", role: "search" },
    field("Subscription", subscription),
    field("Status", status),
    field("From", from),
    field("To", to),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Filter")),
  );
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = route(["deliveries"], { subscription: subscription.value, status: status.value, from: from.value, to: to.value });
  });

  const results = h("div", { "aria-live": "polite" });
  const replay = session.access.manage ? replayForm(page, subscriptions) : null;
  replace(main, heading("Deliveries"), filters, flash ? notice("ok", flash) : null, results, replay);

  const start = localInput(query.get("from") ?? "");
  const end = localInput(query.get("to") ?? "");
  const shown: Delivery[] = [];
  let token = "";
  const more = button("Load older deliveries", () => load(), { class: "secondary" });
  // The newest first, a page at a time, filtered by the server.
  const load = async (): Promise<void> => {
    const response = await api.deliveries.listDeliveries({
      pageSize: PAGE_SIZE,
      pageToken: token,
      subscriptionId: query.get("subscription") ?? "",
      status: Number(query.get("status") ?? 0) as DeliveryStatus,
      startTime: start ? timestampFromDate(start) : undefined,
      endTime: end ? timestampFromDate(end) : undefined,
      orderBy: "create_time desc",
    });
    shown.push(...response.deliveries);
    token = response.nextPageToken;
    if (shown.length === 0) {
      const filtered = [...query.values()].some(Boolean);
      replace(
        results,
        filtered
          ? notice("info", "No deliveries match these filters.")
          : empty(
              "No deliveries yet",
              h("p", null, "A delivery is made for each published event that an enabled subscription asks for. ", subscriptions.length ? ["Publish an event of a subscribed type (see ", link("#/events", "Events"), ")."] : ["Start with a ", link("#/subscriptions", "subscription"), "."]),
            ),
      );
      return;
    }
    replace(
      results,
      h("p", { class: "muted" }, `Newest first; ${shown.length} shown${token ? "" : ", all that match"}.`),
      deliveriesTable(page, shown, names, (done) => void deliveriesPage(page, done)),
      token ? more : null,
    );
  };
  await load();
}

function replayForm(page: Page, subscriptions: { id: string; name: string }[]): HTMLElement {
  const target = h("select", { required: true }, subscriptions.map((s) => h("option", { value: s.id }, s.name || s.id)));
  target.value = page.query.get("subscription") ?? subscriptions[0]?.id ?? "";
  const from = h("input", { type: "datetime-local", required: true, value: toLocalInput(new Date(Date.now() - 3600_000)) });
  const to = h("input", { type: "datetime-local" });
  const onlyFailed = h("input", { type: "checkbox", id: "replay-only-failed", checked: true });
  const message = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { class: "form panel", novalidate: true },
    h("h2", null, "Replay a time range"),
    h("p", { class: "muted" }, "Sends the events published in the range to one subscription again, as new deliveries."),
    field("Subscription", target),
    field("From", from),
    field("To", to, "Empty: until now."),
    h("div", { class: "check" }, onlyFailed, h("label", { for: onlyFailed.id }, "Only events whose delivery failed")),
    message,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Replay")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const start = localInput(from.value);
    const end = localInput(to.value);
    if (!target.value || !start) {
      replace(message, notice("error", "Choose a subscription and a start time."));
      return;
    }
    await attempt(message, async () => {
      const replayed = await page.api.deliveries.replayEvents({
        subscriptionId: target.value,
        startTime: timestampFromDate(start),
        endTime: end ? timestampFromDate(end) : undefined,
        onlyFailed: onlyFailed.checked,
      });
      replace(message, notice("ok", `${replayed.deliveryCount} deliveries created.`));
    });
  });
  return subscriptions.length ? form : h("div");
}

/** Header values that carry a signature are never shown. */
function shownHeader(name: string, value: string): string {
  return /signature|hmac|authorization/i.test(name) && !/redacted/i.test(value) ? "(redacted)" : value;
}

export function attemptView(a: DeliveryAttempt): HTMLElement {
  const ok = a.responseStatusCode >= 200 && a.responseStatusCode < 300;
  const headers = Object.entries(a.requestHeaders).sort(([x], [y]) => x.localeCompare(y));
  return h(
    "article",
    { class: "attempt", "data-testid": "attempt" },
    h("h3", null, `Attempt ${a.attemptNumber}`, " ", a.responseStatusCode ? badge(`HTTP ${a.responseStatusCode}`, ok ? "ok" : "bad") : badge("no answer", "bad")),
    facts([
      ["Sent", time(a.createTime)],
      ["Duration", ms(a.duration)],
      ["Error", a.error || "—"],
    ]),
    h(
      "details",
      null,
      h("summary", null, `Request headers (${headers.length})`),
      table("Request headers", [
        { title: "Header", cell: ([name]) => h("code", null, name) },
        { title: "Value", cell: ([name, value]) => h("code", { class: "clip" }, shownHeader(name, value)), class: "wide" },
      ], headers),
    ),
    h("h4", null, "Response body"),
    a.responseBody ? h("pre", { class: "code", "data-testid": "response-body" }, h("code", null, a.responseBody)) : h("p", { class: "muted" }, "(empty)"),
  );
}

export async function deliveryPage(page: Page): Promise<void> {
  const { api, main, params, session } = page;
  const id = params[0];
  const { delivery } = await api.deliveries.getDelivery({ id });
  if (!delivery) throw new Error("no delivery in the answer");
  const { attempts } = await api.deliveries.listDeliveryAttempts({ deliveryId: id, pageSize: 1000 });
  const message = h("div", { "aria-live": "polite" });
  const retry =
    session.access.manage && retryable(delivery)
      ? button("Retry", async () => {
          await attempt(message, async () => {
            await api.deliveries.retryDelivery({ id });
            await deliveryPage(page);
          });
        })
      : null;
  replace(
    main,
    heading(`Delivery ${id}`, retry),
    message,
    facts([
      ["Status", statusBadge(delivery.status)],
      ["Event", [h("code", null, delivery.eventType), " ", idLink(route(["events", delivery.eventId]), delivery.eventId)]],
      ["Subscription", idLink(route(["subscriptions", delivery.subscriptionId]), delivery.subscriptionId)],
      ["Attempts", String(delivery.attempts)],
      ["Next attempt", delivery.nextAttemptTime ? time(delivery.nextAttemptTime) : "—"],
      ["Last error", delivery.lastError || "—"],
      ["Created", time(delivery.createTime)],
      ["Updated", time(delivery.updateTime)],
    ]),
    h("h2", null, "Attempts"),
    attempts.length ? attempts.map(attemptView) : h("p", { class: "muted" }, "No attempt yet."),
  );
}
