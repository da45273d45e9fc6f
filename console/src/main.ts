// The console's shell: sign-in, the navigation, and a hash router (the
// server serves one page, so every view lives after the #; no view ever
// puts the API key in the address).

import "./style.css";
import { connect, probe, SignInError, describe, type Api } from "./api";
import { h, notice, replace } from "./dom";
import * as session from "./session";
import type { Page } from "./ui";
import { catalogPage } from "./pages/catalog";
import { deliveriesPage, deliveryPage } from "./pages/deliveries";
import { eventPage, eventsPage } from "./pages/events";
import { livePage } from "./pages/live";
import { subscriptionFormPage, subscriptionPage, subscriptionsPage } from "./pages/subscriptions";

type Render = (page: Page) => void | Promise<void>;

const NAV: [string, string][] = [
  ["subscriptions", "Subscriptions"],
  ["event-types", "Event types"],
  ["events", "Events"],
  ["deliveries", "Deliveries"],
  ["live", "Live"],
];

/** Route: first path segment (and, for some, the second) -> page. */
function pick(path: string[]): { render: Render; params: string[]; section: string } | null {
  const [section = "subscriptions", ...rest] = path;
  switch (section) {
    case "subscriptions":
      if (rest[0] === "new") return { render: subscriptionFormPage, params: [], section };
      if (rest.length === 2 && rest[1] === "edit") return { render: subscriptionFormPage, params: [rest[0]], section };
      if (rest.length === 1) return { render: subscriptionPage, params: rest, section };
      return { render: subscriptionsPage, params: [], section };
    case "event-types":
      return { render: catalogPage, params: rest, section };
    case "events":
      return { render: rest.length ? eventPage : eventsPage, params: rest, section };
    case "deliveries":
      return { render: rest.length ? deliveryPage : deliveriesPage, params: rest, section };
    case "live":
      return { render: livePage, params: rest, section };
    default:
      return null;
  }
}

const root = document.getElementById("app")!;
let api: Api | null = null;
let leaving: AbortController | null = null;

function render(): void {
  leaving?.abort();
  leaving = new AbortController();
  const current = session.load();
  if (!current) {
    signIn();
    return;
  }
  api ??= connect(current.token);
  const hash = location.hash.replace(/^#\/?/, "");
  const [pathPart, queryPart = ""] = hash.split("?", 2);
  const path = pathPart.split("/").filter(Boolean).map(decodeURIComponent);
  const chosen = pick(path);
  const main = h("main", { id: "main", tabindex: -1 });
  replace(root, shell(current, chosen?.section ?? ""), main);
  if (!chosen) {
    replace(main, h("h1", null, "Not found"), h("p", null, "No such page. ", h("a", { href: "#/subscriptions" }, "Go to subscriptions")));
    return;
  }
  const page: Page = {
    api,
    session: current,
    params: chosen.params,
    query: new URLSearchParams(queryPart),
    main,
    signal: leaving.signal,
  };
  Promise.resolve(chosen.render(page)).catch((error: unknown) => replace(main, notice("error", describe(error))));
}

function shell(current: session.Session, section: string): HTMLElement {
  const access =
    (current.access.manage ? "manage" : "read-only") + (current.access.scope ? ` · scope ${current.access.scope}` : "");
  return h(
    "header",
    { class: "top" },
    h("a", { class: "skip", href: "#main", onclick: skipToMain }, "Skip to content"),
    h("a", { class: "brand", href: "#/subscriptions" }, "hookrelay"),
    h(
      "nav",
      { "aria-label": "Sections" },
      h(
        "ul",
        null,
        NAV.map(([id, label]) =>
          h("li", null, h("a", { href: `#/${id}`, "aria-current": id === section ? "page" : undefined }, label)),
        ),
      ),
    ),
    h(
      "div",
      { class: "who" },
      h("span", { class: `badge ${current.access.manage ? "info" : "muted"}`, "data-testid": "access" }, access),
      h("button", { type: "button", class: "secondary", onclick: signOut }, "Sign out"),
    ),
  );
}

function skipToMain(event: Event): void {
  event.preventDefault();
  document.getElementById("main")?.focus();
}

function signOut(): void {
  session.clear();
  api = null;
  history.replaceState(null, "", location.pathname);
  render();
}

function signIn(): void {
  const input = h("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    placeholder: "hr_…",
  });
  const message = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    { class: "sign-in", novalidate: true },
    h("h1", null, "Sign in to hookrelay"),
    h("p", null, "Sign in with an API key of your tenant. It is kept in this browser tab only, and forgotten when you sign out or close the tab."),
    h("div", { class: "field" }, h("label", { for: "token" }, "API key"), input),
    message,
    submit,
    h(
      "details",
      null,
      h("summary", null, "No key yet?"),
      h("p", null, "An operator creates one with the command line, next to the server:"),
      h("pre", { class: "code" }, h("code", null, "hookrelay tenants create acme\nhookrelay keys create --tenant acme --capabilities manage,publish,read")),
      h("p", null, "The token is printed on the last line. A key with only read sees everything and changes nothing."),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) {
      replace(message, h("p", { class: "notice error", role: "alert" }, "Paste an API key first."));
      input.focus();
      return;
    }
    submit.disabled = true;
    replace(message, h("p", { class: "notice info", role: "status" }, "Checking the key…"));
    try {
      const candidate = connect(token);
      const access = await probe(candidate);
      session.save({ token, access });
      api = candidate;
      if (!location.hash || location.hash === "#" || location.hash === "#/") location.hash = "#/subscriptions";
      else render();
    } catch (error) {
      const text = error instanceof SignInError ? error.message : describe(error);
      replace(message, h("p", { class: "notice error", role: "alert" }, text));
      input.select();
    } finally {
      submit.disabled = false;
    }
  });
  replace(root, h("main", { id: "main", class: "narrow" }, form));
  input.focus();
}

window.addEventListener("hashchange", () => {
  render();
  document.querySelector<HTMLElement>("main h1")?.focus({ preventScroll: true });
});
render();
