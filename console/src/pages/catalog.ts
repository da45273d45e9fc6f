// The event catalog: what may be published and subscribed to. List, create,
// edit a type's description and JSON Schema, archive.

import type { JsonObject } from "@bufbuild/protobuf";
import type { EventType } from "@gen/hookrelay/v1/event_type_pb.js";
import { h, notice, replace, field } from "../dom";
import { prettyJson, time } from "../format";
import { attempt, badge, button, code, empty, heading, table, type Page } from "../ui";
import { publishExample } from "./subscriptions";

/** Schema text -> object; empty text is no schema. Throws a readable error. */
function parseSchema(text: string): JsonObject | undefined {
  if (!text.trim()) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`The JSON Schema is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error("The JSON Schema must be a JSON object, e.g. {\"type\": \"object\"}.");
  }
  return value as JsonObject;
}

export async function catalogPage(page: Page, flash?: string): Promise<void> {
  const { api, main, session, query } = page;
  // The catalog is tenant-wide: a scoped key may read it, not change it.
  const manage = session.access.manage && session.access.scope === "";
  const showArchived = query.get("archived") === "1";
  const message = h("div", { "aria-live": "polite" }, flash ? notice("ok", flash) : null);
  const { eventTypes } = await api.eventTypes.listEventTypes({ pageSize: 1000, showArchived });

  const archivedToggle = h("input", { type: "checkbox", id: "show-archived", checked: showArchived });
  archivedToggle.addEventListener("change", () => {
    location.hash = archivedToggle.checked ? "#/event-types?archived=1" : "#/event-types";
  });

  const editor = h("div");
  const openEditor = (type?: EventType) => {
    replace(editor, typeForm(page, type));
    editor.querySelector<HTMLElement>("input, textarea")?.focus();
  };

  const list = eventTypes.length
    ? table(
        "Event types",
        [
          { title: "Name", cell: (t) => h("code", null, t.name) },
          { title: "Description", cell: (t) => t.description || "—", class: "wide" },
          { title: "Schema", cell: (t) => (t.jsonSchema ? h("details", null, h("summary", null, "JSON Schema"), code(prettyJson(t.jsonSchema))) : "none") },
          { title: "State", cell: (t) => (t.archived ? badge("archived", "muted") : badge("active", "ok")) },
          { title: "Updated", cell: (t) => time(t.updateTime) },
          {
            title: "Actions",
            cell: (t) =>
              manage && !t.archived
                ? h(
                    "div",
                    { class: "row-actions" },
                    button("Edit", () => openEditor(t), { class: "secondary", "aria-label": `Edit ${t.name}` }),
                    button(
                      "Archive",
                      async () => {
                        if (!confirm(`Archive ${t.name}? It can no longer be published or newly subscribed to.`)) return;
                        await attempt(message, async () => {
                          await api.eventTypes.deleteEventType({ name: t.name });
                          await catalogPage(page);
                        });
                      },
                      { class: "secondary danger", "aria-label": `Archive ${t.name}` },
                    ),
                  )
                : "—",
          },
        ],
        eventTypes,
        (t) => t.name,
      )
    : empty(
        "No event types yet",
        h("p", null, "The catalog lists the events publishers may send and subscriptions may ask for. ", manage
            ? "Register the first one (e.g. invoice.paid) with New event type."
            : session.access.scope
              ? `Your key is restricted to scope ${session.access.scope}: a key without a scope registers them.`
              : "Your key is read-only: someone with a manage key registers them."),
        h("p", null, "Once a type exists, publish an event of it, for example:"),
        code(publishExample("invoice.paid")),
      );

  replace(
    main,
    heading("Event types", manage ? button("New event type", () => openEditor()) : null),
    h("div", { class: "check" }, archivedToggle, h("label", { for: "show-archived" }, "Show archived types")),
    message,
    editor,
    list,
  );
}

function typeForm(page: Page, existing: EventType | undefined): HTMLElement {
  const { api } = page;
  const name = h("input", { required: true, value: existing?.name ?? "", disabled: Boolean(existing), placeholder: "invoice.paid", autocomplete: "off" });
  const description = h("input", { value: existing?.description ?? "", autocomplete: "off" });
  const schema = h("textarea", { rows: 8, spellcheck: "false", class: "mono" });
  schema.value = existing?.jsonSchema ? prettyJson(existing.jsonSchema) : "";
  const formMessage = h("div", { "aria-live": "polite" });
  const form: HTMLFormElement = h(
    "form",
    { class: "form panel", novalidate: true },
    h("h2", null, existing ? `Edit ${existing.name}` : "New event type"),
    field("Name", name, existing ? "Names cannot change." : "Lowercase, dotted: invoice.paid, user.signed-up."),
    field("Description", description),
    field("JSON Schema", schema, "Optional. Payloads are validated against it when published."),
    formMessage,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit" }, existing ? "Save" : "Create event type"),
      button("Cancel", () => form.remove(), { class: "secondary" }),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await attempt(formMessage, async () => {
      const jsonSchema = parseSchema(schema.value);
      if (existing) {
        await api.eventTypes.updateEventType({
          eventType: { name: existing.name, description: description.value, jsonSchema },
          updateMask: { paths: ["description", "json_schema"] },
        });
      } else {
        await api.eventTypes.createEventType({ eventType: { name: name.value.trim(), description: description.value, jsonSchema } });
      }
      await catalogPage(page, existing ? `Saved ${existing.name}.` : `Registered ${name.value.trim()}.`);
    });
  });
  return form;
}
