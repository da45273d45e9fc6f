// Live: a tail of delivery changes (DeliveryService.WatchDeliveries, a
// server stream over gRPC-Web) and charts of the last hour or day.

import type { Delivery } from "@gen/hookrelay/v1/delivery_pb.js";
import { h, notice, replace, field } from "../dom";
import { describe, streams } from "../api";
import { time } from "../format";
import { heading, idLink, route, type Page } from "../ui";
import { statusBadge } from "./deliveries";
import { chartsSection } from "./charts";

/** Rows kept in the tail; older ones fall off. */
const KEEP = 200;

export async function livePage(page: Page): Promise<void> {
  const { api, main, query, signal } = page;
  const subscriptions = (await api.subscriptions.listSubscriptions({ pageSize: 1000 })).subscriptions;
  const names = new Map(subscriptions.map((s) => [s.id, s.name]));
  const chosen = query.get("subscription") ?? "";

  const filter = h("select", null, h("option", { value: "" }, "all subscriptions"), subscriptions.map((s) => h("option", { value: s.id }, s.name || s.id)));
  filter.value = chosen;
  filter.addEventListener("change", () => (location.hash = route(["live"], { subscription: filter.value })));

  const state = h("p", { class: "muted", role: "status", "data-testid": "tail-state" }, "Connecting…");
  const rows = h("tbody");
  const tail = h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { "data-testid": "tail" },
      h("caption", { class: "visually-hidden" }, "Live deliveries"),
      h("thead", null, h("tr", null, ["Time", "Delivery", "Event type", "Subscription", "Status", "Answer"].map((t) => h("th", { scope: "col" }, t)))),
      rows,
    ),
  );
  const charts = chartsSection(page, chosen);
  replace(
    main,
    heading("Live"),
    h("div", { class: "filters" }, field("Subscription", filter)),
    charts.element,
    h("h2", null, "Deliveries as they happen"),
    state,
    tail,
  );

  const add = (d: Delivery) => {
    const existing = rows.querySelector(`tr[data-key="${CSS.escape(d.id)}"]`);
    const row = h(
      "tr",
      { "data-key": d.id },
      h("td", { "data-label": "Time" }, time(d.updateTime)),
      h("td", { "data-label": "Delivery" }, idLink(route(["deliveries", d.id]), d.id)),
      h("td", { "data-label": "Event type" }, h("code", null, d.eventType)),
      h("td", { "data-label": "Subscription" }, names.get(d.subscriptionId) ?? d.subscriptionId),
      h("td", { "data-label": "Status" }, statusBadge(d.status)),
      h("td", { "data-label": "Answer" }, d.lastStatusCode ? `HTTP ${d.lastStatusCode}` : d.lastError || "—"),
    );
    existing?.remove();
    rows.insertBefore(row, rows.firstChild);
    charts.refresh();
    while (rows.children.length > KEEP) rows.lastElementChild?.remove();
  };

  // Reconnects after a dropped stream, until the page is left.
  void (async () => {
    while (!signal.aborted) {
      try {
        const onOpen = () => {
          state.dataset.state = "open";
          replace(state, "Watching: new deliveries appear at the top.");
        };
        streams.addEventListener("open", onOpen, { once: true, signal });
        const stream = api.deliveries.watchDeliveries({ subscriptionId: chosen }, { signal });
        for await (const message of stream) if (message.delivery) add(message.delivery);
        if (signal.aborted) return;
        state.dataset.state = "closed";
        replace(state, "The stream ended; reconnecting…");
      } catch (error) {
        if (signal.aborted) return;
        state.dataset.state = "closed";
        replace(state, notice("error", `The stream stopped: ${describe(error)} Retrying in 3 s.`));
      }
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  })();
}
