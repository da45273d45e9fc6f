// Subscriptions: the list with each endpoint's health, one subscription's
// page (enable/disable, rotate the secret, send a test event), and the
// create/edit form.

import type { Subscription, SubscriptionHealth } from "@gen/hookrelay/v1/subscription_pb.js";
import type { DeliveryAttempt } from "@gen/hookrelay/v1/delivery_pb.js";
import { h, notice, replace, field, type Child } from "../dom";
import { ago, ms, percent, time } from "../format";
import { attempt, badge, button, code, empty, facts, heading, link, route, secretBox, table, type Page } from "../ui";
import { attemptView } from "./deliveries";

function healthOf(subscription: Subscription): SubscriptionHealth | undefined {
  return subscription.health;
}

function statusBadge(subscription: Subscription): HTMLElement {
  if (subscription.enabled === false) return badge("disabled", "muted");
  if (healthOf(subscription)?.failingSince) return badge("failing", "bad");
  return badge("enabled", "ok");
}

function healthCell(subscription: Subscription): Child {
  const health = healthOf(subscription);
  if (!health) return "—";
  const lines: Child[] = [];
  if (health.failingSince) {
    lines.push(
      h(
        "span",
        { class: "bad-text", title: time(health.failingSince) },
        `failing since ${ago(health.failingSince)} (${health.consecutiveFailures} in a row)`,
      ),
    );
  }
  lines.push(
    h(
      "span",
      { title: time(health.lastSuccessTime) },
      health.lastSuccessTime ? `last success ${ago(health.lastSuccessTime)}` : "no success yet",
    ),
  );
  lines.push(
    h(
      "span",
      { class: "muted" },
      health.attempts24h > 0n
        ? `${percent(health.successRatio24h)} of ${health.attempts24h} attempt${health.attempts24h === 1n ? "" : "s"} ok (24 h)`
        : "no attempts in 24 h",
    ),
  );
  return h("div", { class: "stack" }, lines);
}

export async function subscriptionsPage(page: Page): Promise<void> {
  const { api, main, session } = page;
  const list = h("div");
  replace(
    main,
    heading(
      "Subscriptions",
      session.access.manage ? link("#/subscriptions/new", "New subscription") : null,
    ),
    list,
  );
  const response = await api.subscriptions.listSubscriptions({ pageSize: 500 });
  const rows = response.subscriptions;
  if (rows.length === 0) {
    replace(
      list,
      empty(
        "No subscriptions yet",
        h(
          "p",
          null,
          "A subscription sends the events it asks for to an endpoint URL, signed. ",
          session.access.manage
            ? ["Create one with ", link("#/subscriptions/new", "New subscription"), "; you need at least one ", link("#/event-types", "event type"), " first."]
            : "Your key is read-only: ask someone with a manage key to create one.",
        ),
      ),
    );
    return;
  }
  replace(
    list,
    table(
      "Subscriptions",
      [
        { title: "Name", cell: (s) => link(route(["subscriptions", s.id]), s.name || s.id) },
        { title: "Endpoint", cell: (s) => h("span", { class: "url" }, s.url), class: "wide" },
        { title: "Event types", cell: (s) => s.eventTypes.join(", ") },
        { title: "Scope", cell: (s) => s.scope || "—" },
        { title: "Status", cell: (s) => [statusBadge(s), s.disabledReason ? h("div", { class: "muted" }, s.disabledReason) : null] },
        { title: "Health", cell: healthCell },
      ],
      rows,
      (s) => s.id,
    ),
    response.nextPageToken ? h("p", { class: "muted" }, "Showing the first 500 subscriptions.") : null,
  );
}

export async function subscriptionPage(page: Page): Promise<void> {
  const { api, main, session, params } = page;
  const id = params[0];
  const { subscription } = await api.subscriptions.getSubscription({ id });
  if (!subscription) throw new Error("no subscription in the answer");
  const outcome = h("div", { "aria-live": "polite" });
  const manage = session.access.manage;
  const enabled = subscription.enabled !== false;
  const actions = manage
    ? [
        link(route(["subscriptions", id, "edit"]), "Edit"),
        button(enabled ? "Disable" : "Enable", async () => {
          await attempt(outcome, async () => {
            await api.subscriptions.updateSubscription({
              subscription: { id, enabled: !enabled },
              updateMask: { paths: ["enabled"] },
            });
            await subscriptionPage(page);
          });
        }),
        button("Rotate secret", async () => {
          if (!confirm("Rotate the signing secret? The old one keeps signing for the overlap window (24 h by default), then stops.")) return;
          await attempt(outcome, async () => {
            const rotated = await api.subscriptions.rotateSubscriptionSecret({ id });
            replace(
              outcome,
              secretBox("New signing secret", rotated.secret),
              rotated.previousSecretExpireTime
                ? h("p", { class: "muted" }, `The previous secret signs too until ${time(rotated.previousSecretExpireTime)}.`)
                : null,
            );
          });
        }),
        button("Send test event", async () => {
          replace(outcome, notice("info", "Sending a hookrelay.test event…"));
          await attempt(outcome, async () => {
            const sent = await api.subscriptions.sendTestEvent({ id });
            replace(outcome, h("section", { class: "panel" }, h("h2", null, "Test event"), sent.attempt ? testResult(sent.attempt) : "No attempt was made."));
          });
        }),
      ]
    : [];
  const health = healthOf(subscription);
  replace(
    main,
    heading(subscription.name || id, ...actions, link(route(["deliveries"], { subscription: id }), "Deliveries")),
    outcome,
    facts([
      ["Id", h("code", null, id)],
      ["Status", [statusBadge(subscription), subscription.disabledReason ? ` ${subscription.disabledReason}` : ""]],
      ["Endpoint", h("span", { class: "url" }, subscription.url)],
      ["Event types", subscription.eventTypes.join(", ")],
      ["Scope", subscription.scope || "— (unscoped)"],
      ["Description", subscription.description || "—"],
      ["Ordered", subscription.ordered ? "yes: one at a time, in publish order" : "no"],
      ["Rate limit", subscription.rateLimit ? `${subscription.rateLimit}/s` : "none"],
      ["Timeout", ms(subscription.timeout)],
      ["Attempts", subscription.retryPolicy?.maxAttempts ? `up to ${subscription.retryPolicy.maxAttempts}` : "server default"],
      ["Signed", subscription.unsigned ? "no (no secret)" : "yes"],
      [
        "Health",
        health
          ? [
              healthCell(subscription),
              health.failingSince ? link(route(["deliveries"], { subscription: id }), "See the failing deliveries and the endpoint's answers") : null,
            ]
          : "—",
      ],
      ["Created", time(subscription.createTime)],
      ["Updated", time(subscription.updateTime)],
    ]),
  );
}

function testResult(result: DeliveryAttempt): HTMLElement {
  const ok = result.responseStatusCode >= 200 && result.responseStatusCode < 300;
  return h(
    "div",
    { "data-testid": "test-result" },
    notice(ok ? "ok" : "error", ok ? `The endpoint answered ${result.responseStatusCode}.` : `The test failed: ${result.error || `HTTP ${result.responseStatusCode}`}`),
    attemptView(result),
  );
}

/** Create (no id) or edit (#/subscriptions/ID/edit). */
export async function subscriptionFormPage(page: Page): Promise<void> {
  const { api, main, params } = page;
  const id = params[0];
  const existing = id ? (await api.subscriptions.getSubscription({ id })).subscription : undefined;
  const catalog = (await api.eventTypes.listEventTypes({ pageSize: 1000 })).eventTypes;

  const name = h("input", { required: true, value: existing?.name ?? "", autocomplete: "off" });
  const description = h("input", { value: existing?.description ?? "", autocomplete: "off" });
  const url = h("input", { type: "url", required: true, value: existing?.url ?? "", placeholder: "https://example.com/webhooks", autocomplete: "off" });
  const scope = h("input", { value: existing?.scope ?? "", disabled: Boolean(existing), autocomplete: "off" });
  const chosen = new Set(existing?.eventTypes ?? []);
  const boxes = catalog.map((type) => {
    const box = h("input", { type: "checkbox", value: type.name, checked: chosen.has(type.name), id: `type-${type.name}` });
    chosen.delete(type.name);
    return h("div", { class: "check" }, box, h("label", { for: box.id }, type.name), type.description ? h("span", { class: "muted" }, ` ${type.description}`) : null);
  });
  const patterns = h("input", { value: [...chosen].join(", "), placeholder: "invoice.*", autocomplete: "off" });
  const currentAttempts = existing?.retryPolicy?.maxAttempts ?? 0;
  const maxAttempts = h("input", { type: "number", min: 1, max: 100, inputmode: "numeric", value: currentAttempts || "", placeholder: "server default (15)" });
  const message = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit" }, existing ? "Save" : "Create subscription");

  const form = h(
    "form",
    { class: "form", novalidate: true },
    field("Name", name, "Unique in the tenant, e.g. billing."),
    field("Endpoint URL", url, "Where the webhooks are POSTed. https is required unless the server runs with --dev."),
    h(
      "fieldset",
      null,
      h("legend", null, "Event types"),
      boxes.length ? boxes : h("p", { class: "muted" }, "The catalog is empty: ", link("#/event-types", "register an event type"), " first, or type a pattern below."),
      field("Other patterns", patterns, "Comma-separated: exact names, prefix.* wildcards, or * for all."),
    ),
    field("Attempts before giving up", maxAttempts, "Failed deliveries are retried with exponential backoff, then kept as failed (dead-lettered) for a retry from here."),
    field("Description", description),
    field("Scope", scope, existing ? "The scope cannot change." : "Optional: only events published with this scope."),
    message,
    h("div", { class: "actions" }, submit, link(existing ? route(["subscriptions", existing.id]) : "#/subscriptions", "Cancel")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const eventTypes = [
      ...form.querySelectorAll<HTMLInputElement>('fieldset input[type="checkbox"]:checked'),
    ].map((box) => box.value);
    for (const pattern of patterns.value.split(",")) if (pattern.trim()) eventTypes.push(pattern.trim());
    const attempts = Number(maxAttempts.value || 0);
    const retryPolicy = attempts ? { maxAttempts: attempts } : undefined;
    submit.disabled = true;
    await attempt(message, async () => {
      if (existing) {
        await api.subscriptions.updateSubscription({
          subscription: { id: existing.id, name: name.value.trim(), description: description.value, url: url.value.trim(), eventTypes, retryPolicy },
          updateMask: { paths: ["name", "description", "url", "event_types", ...(attempts !== currentAttempts ? ["retry_policy"] : [])] },
        });
        location.hash = route(["subscriptions", existing.id]);
        return;
      }
      const created = await api.subscriptions.createSubscription({
        subscription: { name: name.value.trim(), description: description.value, url: url.value.trim(), eventTypes, scope: scope.value.trim(), retryPolicy },
      });
      const made = created.subscription!;
      replace(
        main,
        heading(`Created ${made.name}`),
        secretBox("Signing secret", created.secret),
        h("p", null, link(route(["subscriptions", made.id]), "Go to the subscription"), " · ", link("#/subscriptions", "All subscriptions")),
        h("h2", null, "Next: publish an event"),
        h("p", null, "Publishers call EventService.PublishEvent with a key that has publish, for example:"),
        code(publishExample(eventTypes[0] ?? "invoice.paid")),
      );
    });
    submit.disabled = false;
  });
  replace(main, heading(existing ? `Edit ${existing.name}` : "New subscription"), form);
  name.focus();
}

export function publishExample(type: string): string {
  const target = location.host;
  return [
    `grpcurl -plaintext -H "authorization: Bearer $TOKEN" \\`,
    `  -d '{"event": {"type": "${type.includes("*") ? type.replace("*", "example") : type}", "data": {"hello": "world"}}}' \\`,
    `  ${target} hookrelay.v1.EventService/PublishEvent`,
  ].join("\n");
}
