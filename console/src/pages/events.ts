// Events: search by type, time range and id; one event's payload (as text,
// formatted) and its deliveries.

import type { Event } from "@gen/hookrelay/v1/event_pb.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { h, notice, replace, field } from "../dom";
import { localInput, prettyJson, time } from "../format";
import { isCode } from "../api";
import { badge, code, empty, facts, heading, idLink, link, route, table, type Page } from "../ui";
import { deliveriesTable } from "./deliveries";
import { publishExample } from "./subscriptions";

const PAGE_SIZE = 50;

export async function eventsPage(page: Page): Promise<void> {
  const { api, main, query } = page;
  const catalog = (await api.eventTypes.listEventTypes({ pageSize: 1000, showArchived: true })).eventTypes;

  const type = h("select", { name: "type" }, h("option", { value: "" }, "any type"), catalog.map((t) => h("option", { value: t.name }, t.name)));
  type.value = query.get("type") ?? "";
  const from = h("input", { type: "datetime-local", name: "from", value: query.get("from") ?? "" });
  const to = h("input", { type: "datetime-local", name: "to", value: query.get("to") ?? "" });
  const id = h("input", { name: "id", value: query.get("id") ?? "", placeholder: "evt_… or your own id", autocomplete: "off" });
  const search = h(
    "form",
    { class: "filters", role: "search" },
    field("Type", type),
    field("From", from),
    field("To", to),
    field("Event id", id),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Search")),
  );
  search.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = route(["events"], { type: type.value, from: from.value, to: to.value, id: id.value.trim() });
  });
  const results = h("div", { "aria-live": "polite" });
  replace(main, heading("Events"), search, results);

  const wantedId = query.get("id");
  if (wantedId) {
    try {
      const { event } = await api.events.getEvent({ id: wantedId });
      replace(results, eventsTable(event ? [event] : []));
    } catch (error) {
      if (!isCode(error, Code.NotFound)) throw error;
      replace(results, notice("info", `No event with id ${wantedId}.`));
    }
    return;
  }
  const start = localInput(query.get("from") ?? "");
  const end = localInput(query.get("to") ?? "");
  let token = "";
  const more = h("button", { type: "button", class: "secondary" }, "Load more");
  const shown: Event[] = [];
  const load = async () => {
    const response = await api.events.listEvents({
      pageSize: PAGE_SIZE,
      pageToken: token,
      type: query.get("type") ?? "",
      startTime: start ? timestampFromDate(start) : undefined,
      endTime: end ? timestampFromDate(end) : undefined,
      // As a log reads: what was just published comes first.
      orderBy: "create_time desc",
    });
    shown.push(...response.events);
    token = response.nextPageToken;
    if (shown.length === 0) {
      const filtered = Boolean(query.get("type") || start || end);
      replace(
        results,
        filtered
          ? notice("info", "No events match these filters.")
          : empty(
              "No events yet",
              h("p", null, "Events appear here once a service publishes them with EventService.PublishEvent, using a key with publish. For example:"),
              code(publishExample(catalog.find((t) => !t.archived)?.name ?? "invoice.paid")),
              catalog.length ? null : h("p", null, "First register the type in ", link("#/event-types", "Event types"), "."),
            ),
      );
      return;
    }
    replace(results, eventsTable(shown), token ? more : null);
  };
  more.addEventListener("click", () => void load());
  await load();
}

function eventsTable(events: Event[]): HTMLElement {
  return table(
    "Events",
    [
      { title: "Id", cell: (e) => idLink(route(["events", e.id]), e.id) },
      { title: "Type", cell: (e) => [h("code", null, e.type), e.expungeTime ? [" ", badge("expunged", "muted")] : null] },
      { title: "Scope", cell: (e) => e.scope || "—" },
      { title: "Published", cell: (e) => time(e.createTime) },
    ],
    events,
    (e) => e.id,
  );
}

/** The payload as the publisher sent it: JSON text (formatted) or a Struct. */
function payloadText(event: Event): string {
  switch (event.payload.case) {
    case "dataJson":
      return prettyJson(event.payload.value);
    case "data":
      return prettyJson(event.payload.value);
    default:
      return "{}";
  }
}

export async function eventPage(page: Page): Promise<void> {
  const { api, main, params } = page;
  const id = params[0];
  const { event } = await api.events.getEvent({ id });
  if (!event) throw new Error("no event in the answer");
  const { deliveries } = await api.deliveries.listDeliveries({ eventId: id, pageSize: 1000 });
  const subscriptions = (await api.subscriptions.listSubscriptions({ pageSize: 1000 })).subscriptions;
  const names = new Map(subscriptions.map((s) => [s.id, s.name]));
  const metadata = event.metadataObject && Object.keys(event.metadataObject).length ? prettyJson(event.metadataObject) : "";
  replace(
    main,
    heading(`Event ${id}`),
    facts([
      ["Type", h("code", null, event.type)],
      ["Scope", event.scope || "—"],
      ["Published", time(event.createTime)],
      ...(event.expungeTime ? [["Expunged", time(event.expungeTime)] as [string, string]] : []),
    ]),
    h("h2", null, "Payload"),
    event.expungeTime
      ? notice(
          "info",
          `Its payload, metadata and attributes were expunged (ExpungeEvent) at ${time(event.expungeTime)}; the type, scope and deliveries are kept, and it is never sent again.`,
        )
      : h("pre", { class: "code payload", "data-testid": "payload" }, h("code", null, payloadText(event))),
    metadata ? [h("h2", null, "Metadata"), code(metadata)] : null,
    h("h2", null, "Deliveries"),
    deliveries.length
      ? deliveriesTable(page, deliveries, names)
      : h("p", { class: "muted" }, "No deliveries: no enabled subscription matched this event when it was published."),
  );
}
