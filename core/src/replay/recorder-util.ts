import type { InjectionPlan } from "../chaos/index.js";
import { fmix32 } from "../chaos/rng.js";
import type { RefusalError } from "../errors.js";
import type { TraceChaos, TraceError } from "./format.js";
import type { Redactor } from "./redact.js";
import { type SanitizeLimits, sanitize } from "./sanitize.js";

/** Room kept for the truncation marker and the end line, so a truncated trace stays within the limit. */
export const TRUNCATION_RESERVE_BYTES = 160;
export const END_RESERVE_BYTES = 200;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function runKey(agentId: string, taskId: string | undefined): string {
  return taskId === undefined ? agentId : `${agentId}\u0000${taskId}`;
}

export function chaosOf(plan: InjectionPlan): TraceChaos {
  return {
    experiment: plan.experiment,
    faults: plan.faults.map((fault) => {
      switch (fault.type) {
        case "error":
          return {
            type: "error",
            faultId: fault.faultId,
            code: fault.error.code,
            message: fault.error.message,
          };
        case "payload":
          return { type: "payload", faultId: fault.faultId, technique: fault.technique, where: fault.where };
        default:
          return { ...fault };
      }
    }),
  };
}

export function refusalDetail(
  error: RefusalError,
  redactor: Redactor,
  limits: SanitizeLimits,
): Record<string, unknown> {
  const detail: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error)) {
    if (key === "code" || key === "message" || key === "name" || key === "stack" || key === "cause") continue;
    if (value !== undefined) detail[key] = value;
  }
  return sanitize(detail, redactor, limits) as Record<string, unknown>;
}

export function errorOf(
  error: unknown,
  redactor: Redactor,
  limits: SanitizeLimits,
  cancelled: boolean,
): TraceError {
  const out =
    error instanceof Error
      ? (sanitize(error, redactor, limits) as TraceError)
      : { name: "Error", message: redactor.string(String(error)) };
  if (cancelled) out.cancelled = true;
  return out;
}

export function seedOf(config: unknown): number | undefined {
  const seed = (config as { chaosSeed?: unknown } | undefined)?.chaosSeed;
  return typeof seed === "number" ? seed : undefined;
}

export function round12(value: number): number {
  return Math.round(value * 1e12) / 1e12;
}

/** A span id (16 hex digits, never all zero) from the run's seed and the call's seq. */
export function spanIdOf(seed: number, seq: number): string {
  const high = fmix32((seed ^ Math.imul(seq, 0x9e3779b9)) >>> 0);
  const low = fmix32((seed + seq) >>> 0) || 1;
  return high.toString(16).padStart(8, "0") + low.toString(16).padStart(8, "0");
}

/** `bytes` random bytes as lowercase hex (OpenTelemetry ids: 16 bytes for a trace, 8 for a span). */
export function randomHex(bytes: number): string {
  const buffer = new Uint8Array(bytes);
  const crypto = (globalThis as { crypto?: { getRandomValues?: (b: Uint8Array) => Uint8Array } }).crypto;
  if (crypto?.getRandomValues !== undefined) crypto.getRandomValues(buffer);
  else for (let i = 0; i < bytes; i++) buffer[i] = Math.floor(Math.random() * 256);
  let hex = "";
  for (const byte of buffer) hex += byte.toString(16).padStart(2, "0");
  return hex;
}
