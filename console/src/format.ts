// How values read: times, durations, statuses, JSON.

import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import { durationMs, timestampDate } from "@bufbuild/protobuf/wkt";
import { DeliveryStatus } from "@gen/hookrelay/v1/delivery_pb.js";

export function time(ts: Timestamp | undefined): string {
  if (!ts) return "—";
  const date = timestampDate(ts);
  return date.toLocaleString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

/** "3 min ago", for recent times; the full time goes in a title. */
export function ago(ts: Timestamp | undefined): string {
  if (!ts) return "—";
  const seconds = Math.round((Date.now() - timestampDate(ts).getTime()) / 1000);
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

export function ms(duration: Duration | undefined): string {
  if (!duration) return "—";
  const value = durationMs(duration);
  return value < 10 ? `${value.toFixed(1)} ms` : value < 10_000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(1)} s`;
}

export function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio >= 0.9995 || ratio === 0 ? 0 : 1)} %`;
}

export const STATUS: Record<DeliveryStatus, { label: string; tone: string }> = {
  [DeliveryStatus.UNSPECIFIED]: { label: "unknown", tone: "muted" },
  [DeliveryStatus.PENDING]: { label: "pending", tone: "warn" },
  [DeliveryStatus.IN_FLIGHT]: { label: "in flight", tone: "info" },
  [DeliveryStatus.SUCCEEDED]: { label: "succeeded", tone: "ok" },
  [DeliveryStatus.FAILED]: { label: "failed", tone: "bad" },
  [DeliveryStatus.CANCELLED]: { label: "cancelled", tone: "muted" },
};

/** JSON text, indented; text that is not JSON is returned as it is. */
export function prettyJson(value: unknown): string {
  if (typeof value === "string") {
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      return value;
    }
  }
  return JSON.stringify(value, null, 2) ?? "";
}

/** A `datetime-local` input's value as a Date, or undefined when empty. */
export function localInput(value: string): Date | undefined {
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** A Date as a `datetime-local` input's value, in local time. */
export function toLocalInput(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
