// Charts of the last hour or day (DeliveryService.GetDeliveryStats): the
// delivery rate (attempts per bucket, succeeded and failed), the success
// ratio, and latency percentiles. Drawn as SVG elements (no library, no
// inline styles: the CSP allows neither).

import { durationFromMs, durationMs, timestampDate } from "@bufbuild/protobuf/wkt";
import type { DeliveryStatsBucket, GetDeliveryStatsResponse } from "@gen/hookrelay/v1/delivery_pb.js";
import { h, notice, replace, svg } from "../dom";
import { describe } from "../api";
import { percent } from "../format";
import type { Page } from "../ui";

const WINDOWS = {
  hour: { label: "Last hour", window: 3600_000, bucket: 60_000, unit: "minute" },
  day: { label: "Last day", window: 86_400_000, bucket: 900_000, unit: "15 minutes" },
} as const;
type WindowName = keyof typeof WINDOWS;

const W = 320;
const H = 120;
const PAD = { left: 34, right: 6, top: 8, bottom: 18 };

export interface Charts {
  element: HTMLElement;
  /** Fetches and redraws; calls close together are merged. */
  refresh(): void;
}

export function chartsSection(page: Page, subscriptionId: string): Charts {
  let chosen: WindowName = page.query.get("window") === "day" ? "day" : "hour";
  const summary = h("p", { class: "muted", role: "status", "data-testid": "stats-summary" }, "Loading…");
  const grid = h("div", { class: "charts" });
  const picker = h(
    "div",
    { class: "actions", role: "group", "aria-label": "Chart window" },
    (Object.keys(WINDOWS) as WindowName[]).map((name) => {
      const b = h("button", { type: "button", class: "secondary", "aria-pressed": String(name === chosen) }, WINDOWS[name].label);
      b.addEventListener("click", () => {
        chosen = name;
        picker.querySelectorAll("button").forEach((other) => other.setAttribute("aria-pressed", String(other === b)));
        void load();
      });
      return b;
    }),
  );
  const element = h("section", { "aria-labelledby": "charts-title" }, h("div", { class: "page-head" }, h("h2", { id: "charts-title" }, "Delivery rate, success and latency"), picker), summary, grid);

  let timer: number | undefined;
  const load = async () => {
    const spec = WINDOWS[chosen];
    try {
      const stats = await page.api.deliveries.getDeliveryStats(
        { subscriptionId, window: durationFromMs(spec.window), bucket: durationFromMs(spec.bucket) },
        { signal: page.signal },
      );
      draw(stats, spec.unit, spec.label);
    } catch (error) {
      if (!page.signal.aborted) replace(summary, notice("error", `No charts: ${describe(error)}`));
    }
  };
  const draw = (stats: GetDeliveryStatsResponse, unit: string, label: string) => {
    const total = stats.total;
    const attempts = Number(total?.attempts ?? 0n);
    replace(
      summary,
      attempts
        ? `${label}: ${attempts} attempt${attempts === 1 ? "" : "s"}, ${percent(Number(total!.succeeded) / attempts)} succeeded, latency p50 ${msText(total!.latencyP50)}, p99 ${msText(total!.latencyP99)}.`
        : `${label}: no delivery attempts. Publish an event to a subscribed type and it shows here.`,
    );
    const buckets = stats.buckets;
    replace(
      grid,
      chart(`Attempts per ${unit}`, rateChart(buckets), [["bar-ok", "succeeded"], ["bar-bad", "failed"]]),
      chart("Success ratio", ratioChart(buckets), []),
      chart("Latency", latencyChart(buckets), [["p50", "p50"], ["p90", "p90"], ["p99", "p99"]]),
    );
  };
  // Refreshes every 30 s, and soon after the tail shows a change.
  const every = setInterval(() => void load(), 30_000);
  page.signal.addEventListener("abort", () => clearInterval(every));
  void load();
  return {
    element,
    refresh() {
      clearTimeout(timer);
      timer = window.setTimeout(() => void load(), 1000);
    },
  };
}

function msText(duration: Parameters<typeof durationMs>[0] | undefined): string {
  if (!duration) return "—";
  const value = durationMs(duration);
  return value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`;
}

function chart(title: string, body: SVGElement, legend: [string, string][]): HTMLElement {
  return h(
    "figure",
    { class: "chart" },
    h("h3", null, title),
    body,
    legend.length ? h("figcaption", { class: "legend" }, legend.map(([tone, text]) => h("span", null, h("span", { class: `swatch ${tone}` }), text))) : null,
  );
}

function frame(label: string, top: string, children: SVGElement[], buckets: DeliveryStatsBucket[]): SVGElement {
  const first = buckets[0]?.startTime;
  const last = buckets[buckets.length - 1]?.startTime;
  const clock = (ts: typeof first) => (ts ? timestampDate(ts).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }) : "");
  return svg(
    "svg",
    { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label },
    svg("line", { class: "axis", x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom }),
    svg("line", { class: "axis", x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom }),
    svg("text", { class: "label", x: PAD.left - 4, y: PAD.top + 8, "text-anchor": "end" }, top),
    svg("text", { class: "label", x: PAD.left - 4, y: H - PAD.bottom, "text-anchor": "end" }, "0"),
    svg("text", { class: "label", x: PAD.left, y: H - 4 }, clock(first)),
    svg("text", { class: "label", x: W - PAD.right, y: H - 4, "text-anchor": "end" }, clock(last)),
    ...children,
  );
}

const plotW = W - PAD.left - PAD.right;
const plotH = H - PAD.top - PAD.bottom;
const xAt = (i: number, n: number) => PAD.left + (plotW * i) / Math.max(n, 1);
const yAt = (value: number, max: number) => PAD.top + plotH - (plotH * value) / (max || 1);

function rateChart(buckets: DeliveryStatsBucket[]): SVGElement {
  const max = Math.max(1, ...buckets.map((b) => Number(b.attempts)));
  const width = Math.max(1, plotW / Math.max(buckets.length, 1) - 1);
  const bars: SVGElement[] = [];
  buckets.forEach((b, i) => {
    const ok = Number(b.succeeded);
    const bad = Number(b.failed);
    if (!ok && !bad) return;
    const x = xAt(i, buckets.length);
    bars.push(svg("rect", { class: "bar-ok", x, width, y: yAt(ok, max), height: plotH - (yAt(ok, max) - PAD.top) }));
    if (bad) bars.push(svg("rect", { class: "bar-bad", x, width, y: yAt(ok + bad, max), height: yAt(ok, max) - yAt(ok + bad, max) }));
  });
  const total = buckets.reduce((sum, b) => sum + Number(b.attempts), 0);
  return frame(`Attempts over time: ${total} in all, at most ${max} in one bucket`, String(max), bars, buckets);
}

function line(points: [number, number][], tone: string): SVGElement {
  return svg("polyline", { class: `line ${tone}`, points: points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ") });
}

function ratioChart(buckets: DeliveryStatsBucket[]): SVGElement {
  const points: [number, number][] = [];
  buckets.forEach((b, i) => {
    if (b.attempts > 0n) points.push([xAt(i + 0.5, buckets.length), yAt(Number(b.succeeded) / Number(b.attempts), 1)]);
  });
  const dots = points.map(([x, y]) => svg("circle", { class: "line ratio", cx: x, cy: y, r: 1.5 }));
  return frame("Share of attempts that succeeded, per bucket", "100 %", [line(points, "ratio"), ...dots], buckets);
}

function latencyChart(buckets: DeliveryStatsBucket[]): SVGElement {
  const series = (pick: (b: DeliveryStatsBucket) => ReturnType<typeof durationFromMs> | undefined) =>
    buckets.map((b, i) => [i, pick(b)] as const).filter(([, d]) => d !== undefined).map(([i, d]) => [i, durationMs(d!)] as const);
  const p50 = series((b) => b.latencyP50);
  const p90 = series((b) => b.latencyP90);
  const p99 = series((b) => b.latencyP99);
  const max = Math.max(1, ...p99.map(([, v]) => v), ...p90.map(([, v]) => v));
  const toPoints = (s: (readonly [number, number])[]) => s.map(([i, v]) => [xAt(i + 0.5, buckets.length), yAt(v, max)] as [number, number]);
  const drawn = (["p50", "p90", "p99"] as const).flatMap((tone, k) => {
    const points = toPoints([p50, p90, p99][k]);
    return [line(points, tone), ...points.map(([x, y]) => svg("circle", { class: tone, cx: x, cy: y, r: 1.5 }))];
  });
  return frame(`Attempt latency percentiles; the highest is ${Math.round(max)} ms`, `${Math.round(max)} ms`, drawn, buckets);
}
