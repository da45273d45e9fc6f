// Shared pieces of the pages: headings, tables, badges, buttons, empty
// states, and the context a page is rendered with.

import type { Api } from "./api";
import { describe } from "./api";
import { h, notice, replace, type Child } from "./dom";
import type { Session } from "./session";

/** What a page gets: the API, the key's access, its route and a place to draw. */
export interface Page {
  api: Api;
  session: Session;
  /** Path segments after the page's own, e.g. the id in #/events/evt_... */
  params: string[];
  query: URLSearchParams;
  main: HTMLElement;
  /** Aborted when the user leaves the page: ends streams and timers. */
  signal: AbortSignal;
}

export function heading(title: string, ...actions: Child[]): HTMLElement {
  return h("div", { class: "page-head" }, h("h1", { tabindex: -1 }, title), h("div", { class: "actions" }, ...actions));
}

export function badge(text: string, tone: string): HTMLElement {
  return h("span", { class: `badge ${tone}` }, text);
}

export function link(href: string, ...children: Child[]): HTMLAnchorElement {
  return h("a", { href }, ...children);
}

/** A link whose text is a resource id (set in monospace, wrapping anywhere). */
export function idLink(href: string, id: string): HTMLAnchorElement {
  return h("a", { href, class: "id" }, id);
}

/** A route link; the parts are escaped into the hash. */
export function route(path: string[], query?: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) if (value) search.set(key, value);
  const tail = search.toString();
  return `#/${path.map(encodeURIComponent).join("/")}${tail ? `?${tail}` : ""}`;
}

export function button(label: string, onClick: () => void | Promise<void>, extra: Record<string, string> = {}): HTMLButtonElement {
  const element = h("button", { type: "button", ...extra }, label);
  element.addEventListener("click", async () => {
    element.disabled = true;
    try {
      await onClick();
    } finally {
      element.disabled = false;
    }
  });
  return element;
}

export interface Column<T> {
  title: string;
  cell: (row: T) => Child;
  class?: string;
}

/** A table that turns into labelled cards on narrow screens (CSS). */
export function table<T>(caption: string, columns: Column<T>[], rows: T[], key?: (row: T) => string): HTMLElement {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      null,
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", null, h("tr", null, columns.map((c) => h("th", { scope: "col", class: c.class }, c.title)))),
      h(
        "tbody",
        null,
        rows.map((row) =>
          h(
            "tr",
            { "data-key": key ? key(row) : undefined },
            columns.map((c) => h("td", { "data-label": c.title, class: c.class }, h("div", { class: "cell" }, c.cell(row)))),
          ),
        ),
      ),
    ),
  );
}

/** What to show when a list is empty: what it is, and what to do next. */
export function empty(title: string, ...next: Child[]): HTMLElement {
  return h("div", { class: "empty" }, h("h2", null, title), ...next);
}

export function code(text: string): HTMLElement {
  return h("pre", { class: "code" }, h("code", null, text));
}

/** Runs `work`, showing its failure in `where` (replacing what was there). */
export async function attempt<T>(where: HTMLElement, work: () => Promise<T>): Promise<T | undefined> {
  try {
    replace(where);
    return await work();
  } catch (error) {
    replace(where, notice("error", describe(error)));
    return undefined;
  }
}

/** A copy-to-clipboard button for `text`, falling back to selecting it. */
export function copyButton(text: string, target: HTMLElement): HTMLButtonElement {
  const copy = h("button", { type: "button", class: "secondary" }, "Copy");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      copy.textContent = "Copied";
    } catch {
      const range = document.createRange();
      range.selectNodeContents(target);
      const selection = getSelection();
      selection?.removeAllRanges();
      selection?.addRange(range);
      copy.textContent = "Selected: press Ctrl+C";
    }
    setTimeout(() => (copy.textContent = "Copy"), 3000);
  });
  return copy;
}

/** A secret shown once, with its copy button and a warning. */
export function secretBox(title: string, secret: string): HTMLElement {
  const value = h("code", { class: "secret", "data-testid": "secret" }, secret);
  return h(
    "section",
    { class: "secret-box", role: "status" },
    h("h2", null, title),
    h("p", null, "Copy it now: it is shown only this once. The receiver uses it to verify each webhook's signature."),
    h("div", { class: "secret-row" }, value, copyButton(secret, value)),
  );
}

/** Definition list from label/value pairs. */
export function facts(pairs: [string, Child][]): HTMLElement {
  return h("dl", { class: "facts" }, pairs.map(([term, value]) => [h("dt", null, term), h("dd", null, value)]));
}
