import { type Duration, parseDuration } from "@agent-sre/core";
import { z } from "zod";
import type { AlertSeverity } from "./alert.js";
import { DEFAULT_RETRY, type RetryOptions } from "./backoff.js";
import type { Channel } from "./channels/channel.js";
import type { OpsgeniePriority } from "./channels/opsgenie.js";
import type { PagerDutySeverity } from "./channels/pagerduty.js";
import type { InhibitRule } from "./inhibit.js";
import { compileMatcher } from "./matchers.js";
import type { RouteOptions } from "./route.js";
import { interpolateSecret } from "./secrets.js";
import { ALERT_NAMES } from "./sources.js";

/**
 * The alerts configuration, the same in code (`new AlertManager({...})`) and in the proxy config file
 * (`agentSre.alerts`). Validation is strict and complete: unknown keys are named with their path (with a
 * suggestion), and every problem is reported at once.
 */

const duration = z.union([z.number(), z.string()]).superRefine((value, ctx) => {
  try {
    parseDuration(value, "duration", { allowZero: true });
  } catch {
    ctx.addIssue({
      code: "custom",
      message: `expected a duration in ms or a string such as "30s", "5m" (got ${JSON.stringify(value)})`,
    });
  }
});
const severity = z.enum(["page", "ticket", "info"]);
const matcherList = z.array(z.string().min(1)).min(1, "expected at least one matcher");
const url = z.string().min(1, "expected a URL");
const secret = z.string().min(1, "expected a non-empty value (or ${ENV_VAR})");

const rateLimit = z.strictObject({
  perMinute: z.number().positive(),
  burst: z.number().int().positive().optional(),
});
const retry = z.strictObject({
  maxAttempts: z.number().int().min(1).max(100).optional(),
  initialDelayMs: duration.optional(),
  maxDelayMs: duration.optional(),
  multiplier: z.number().min(1).optional(),
  maxRetryAfterMs: duration.optional(),
});

const common = {
  /** Send a message when a group has resolved (default true). */
  sendResolved: z.boolean().optional(),
  timeoutMs: duration.optional(),
  retry: retry.optional(),
  rateLimit: rateLimit.optional(),
};

const slack = z.strictObject({
  type: z.literal("slack"),
  url,
  channel: z.string().optional(),
  username: z.string().optional(),
  iconEmoji: z.string().optional(),
  maxAlerts: z.number().int().min(1).max(45).optional(),
  ...common,
});
const pdSeverity = z.enum(["critical", "error", "warning", "info"]);
const pagerduty = z.strictObject({
  type: z.literal("pagerduty"),
  routingKey: secret,
  url: url.optional(),
  severity: z
    .strictObject({ page: pdSeverity.optional(), ticket: pdSeverity.optional(), info: pdSeverity.optional() })
    .optional(),
  source: z.string().min(1).optional(),
  component: z.string().min(1).optional(),
  group: z.string().min(1).optional(),
  client: z.string().min(1).optional(),
  ...common,
});
const teams = z.strictObject({
  type: z.literal("teams"),
  url,
  maxAlerts: z.number().int().min(1).max(50).optional(),
  ...common,
});
const priority = z.enum(["P1", "P2", "P3", "P4", "P5"]);
const opsgenie = z.strictObject({
  type: z.literal("opsgenie"),
  apiKey: secret,
  url: url.optional(),
  priority: z
    .strictObject({ page: priority.optional(), ticket: priority.optional(), info: priority.optional() })
    .optional(),
  responders: z
    .array(
      z.strictObject({
        type: z.enum(["team", "user", "escalation", "schedule"]),
        name: z.string().optional(),
        id: z.string().optional(),
        username: z.string().optional(),
      }),
    )
    .optional(),
  tags: z.array(z.string()).optional(),
  source: z.string().min(1).optional(),
  ...common,
});
const webhook = z.strictObject({
  type: z.literal("webhook"),
  url,
  secret: secret.optional(),
  headers: z.record(z.string(), z.string()).optional(),
  maxAlerts: z.number().int().min(0).optional(),
  ...common,
});
const custom = z.strictObject({
  type: z.literal("custom"),
  channel: z.custom<Channel>(
    (value) => typeof (value as Channel | undefined)?.render === "function",
    "expected a Channel instance (in code only)",
  ),
  ...common,
});
const receiver = z.discriminatedUnion("type", [slack, pagerduty, teams, opsgenie, webhook, custom]);

const routeShape = {
  receiver: z.string().min(1).optional(),
  matchers: z.array(z.string().min(1)).optional(),
  severity: z.union([severity, z.array(severity).min(1)]).optional(),
  agent: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  groupBy: z.array(z.string().min(1)).optional(),
  groupWaitMs: duration.optional(),
  groupIntervalMs: duration.optional(),
  repeatIntervalMs: duration.optional(),
  continue: z.boolean().optional(),
};
type RouteInput = z.infer<z.ZodObject<typeof routeShape>> & { routes?: RouteInput[] };
const route: z.ZodType<RouteInput> = z.lazy(() =>
  z.strictObject({ ...routeShape, routes: z.array(route).optional() }),
);

const silence = z.strictObject({
  matchers: matcherList,
  startsAt: z.union([z.number(), z.string()]).optional(),
  endsAt: z.union([z.number(), z.string()]),
  createdBy: z.string().optional(),
  comment: z.string().optional(),
});

const inhibitRule = z.strictObject({
  sourceMatchers: matcherList,
  targetMatchers: matcherList,
  equal: z.array(z.string().min(1)).optional(),
});

export const alertsConfigSchema = z.strictObject({
  /** Default true; `false` keeps the section but sends nothing. */
  enabled: z.boolean().optional(),
  /** Linked from notifications (e.g. the proxy's `/status`). */
  externalUrl: z.string().url().optional(),
  receivers: z.record(
    z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "a receiver name is 1-64 characters of [A-Za-z0-9_.-]"),
    receiver,
  ),
  route: route.optional(),
  /** Default: a budget kill inhibits that agent's budget alerts; a quarantine its rogue-risk alerts. */
  inhibitRules: z.array(inhibitRule).optional(),
  silences: z.array(silence).optional(),
  /** Per alert name: `false` turns a source off; `{ severity }` overrides its severity. */
  sources: z
    .record(z.string(), z.union([z.literal(false), z.strictObject({ severity: severity.optional() })]))
    .optional(),
  /** Event-like alerts (no resolving event) resolve after this long without a repeat (default 5 min). */
  resolveTimeoutMs: duration.optional(),
  /** Hold every resolve this long; a re-fire meanwhile cancels it (default 0). */
  keepFiringForMs: duration.optional(),
  /** Flap damping: an alert changing state `maxTransitions` times in `windowMs` holds resolves `holdMs`. */
  flapping: z
    .union([
      z.literal(false),
      z.strictObject({
        windowMs: duration.optional(),
        maxTransitions: z.number().int().min(2).optional(),
        holdMs: duration.optional(),
      }),
    ])
    .optional(),
  /** Defaults for every receiver. */
  timeoutMs: duration.optional(),
  retry: retry.optional(),
  rateLimit: rateLimit.optional(),
  maxPendingPerReceiver: z.number().int().positive().optional(),
  maxActiveAlerts: z.number().int().positive().optional(),
});

export type AlertsConfig = z.input<typeof alertsConfigSchema>;
export type ReceiverConfig = z.input<typeof receiver>;

export interface ConfigIssue {
  path: string;
  message: string;
}

/** Normalized receiver settings (durations in ms, secrets expanded, defaults applied). */
export interface NormalizedReceiver {
  name: string;
  config: z.output<typeof receiver>;
  sendResolved: boolean;
  timeoutMs: number;
  retry: RetryOptions;
  rateLimit: { perMinute: number; burst?: number } | undefined;
}

export interface NormalizedAlertsConfig {
  enabled: boolean;
  externalUrl: string | undefined;
  receivers: NormalizedReceiver[];
  route: RouteOptions;
  inhibitRules: InhibitRule[] | undefined;
  silences: Array<{
    matchers: string[];
    startsAt: number | undefined;
    endsAt: number;
    createdBy?: string;
    comment?: string;
  }>;
  sources: Record<string, false | { severity?: AlertSeverity }>;
  resolveTimeoutMs: number;
  keepFiringForMs: number;
  flapping: { windowMs: number; maxTransitions: number; holdMs: number } | false;
  maxPendingPerReceiver: number;
  maxActiveAlerts: number;
}

export interface ParseOptions {
  /** Prefix of every issue path (default `alerts`; the proxy passes `agentSre.alerts`). */
  path?: string;
  /** Where `${VAR}` in secrets is looked up (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Validates an alerts config; returns the normalized config or every problem found. */
export function parseAlertsConfig(
  raw: unknown,
  options: ParseOptions = {},
): { config: NormalizedAlertsConfig | undefined; issues: ConfigIssue[] } {
  const base = options.path ?? "alerts";
  const env = options.env ?? process.env;
  const parsed = alertsConfigSchema.safeParse(raw);
  if (!parsed.success) return { config: undefined, issues: zodIssues(parsed.error, base) };
  const doc = parsed.data;
  const issues: ConfigIssue[] = [];
  const at = (...segments: Array<string | number>) => formatPath(base, segments);
  const ms = (value: Duration | undefined, fallback: number, path: string) => {
    if (value === undefined) return fallback;
    try {
      return parseDuration(value, path, { allowZero: true });
    } catch {
      return fallback; // reported by the schema already
    }
  };

  const receiverNames = Object.keys(doc.receivers);
  if (receiverNames.length === 0)
    issues.push({ path: at("receivers"), message: "needs at least one receiver" });
  const defaultRetry = normalizeRetry(doc.retry, DEFAULT_RETRY, ms);
  const receivers: NormalizedReceiver[] = [];
  for (const [name, entry] of Object.entries(doc.receivers)) {
    const expanded = expandSecrets(entry, env, (field, variable) =>
      issues.push({ path: at("receivers", name, field), message: `variable \${${variable}} is not set` }),
    );
    for (const field of ["url"] as const) {
      const value = (expanded as { url?: string })[field];
      if (value !== undefined && !value.includes("${")) {
        const problem = urlProblem(value);
        if (problem !== undefined) issues.push({ path: at("receivers", name, field), message: problem });
      }
    }
    const normalized: NormalizedReceiver = {
      name,
      config: expanded,
      sendResolved: entry.sendResolved ?? true,
      timeoutMs: ms(entry.timeoutMs ?? doc.timeoutMs, 10_000, "timeoutMs"),
      retry: normalizeRetry(entry.retry, defaultRetry, ms),
      rateLimit: entry.rateLimit ?? doc.rateLimit,
    };
    if (normalized.timeoutMs <= 0)
      issues.push({ path: at("receivers", name, "timeoutMs"), message: "must be > 0" });
    receivers.push(normalized);
  }

  let routeOptions: RouteOptions;
  if (doc.route === undefined) {
    if (receiverNames.length > 1)
      issues.push({
        path: at("route"),
        message: `with ${receiverNames.length} receivers a route must say which gets what`,
      });
    routeOptions = { receiver: receiverNames[0] ?? "" };
  } else {
    if (doc.route.receiver === undefined)
      issues.push({ path: at("route", "receiver"), message: "the root route needs a receiver" });
    routeOptions = normalizeRoute(doc.route, ["route"], receiverNames, issues, base, ms);
  }

  doc.inhibitRules?.forEach((rule, index) => {
    for (const key of ["sourceMatchers", "targetMatchers"] as const) {
      rule[key].forEach((matcher, i) => {
        checkMatcher(matcher, at("inhibitRules", index, key, i), issues);
      });
    }
  });
  const silences: NormalizedAlertsConfig["silences"] = [];
  doc.silences?.forEach((s, index) => {
    s.matchers.forEach((matcher, i) => {
      checkMatcher(matcher, at("silences", index, "matchers", i), issues);
    });
    const endsAt = timeOf(s.endsAt);
    const startsAt = s.startsAt === undefined ? undefined : timeOf(s.startsAt);
    if (endsAt === undefined)
      issues.push({
        path: at("silences", index, "endsAt"),
        message: "expected ms since the epoch or an ISO-8601 time",
      });
    if (s.startsAt !== undefined && startsAt === undefined)
      issues.push({
        path: at("silences", index, "startsAt"),
        message: "expected ms since the epoch or an ISO-8601 time",
      });
    if (endsAt !== undefined && startsAt !== undefined && endsAt <= startsAt)
      issues.push({ path: at("silences", index, "endsAt"), message: "must be after startsAt" });
    if (endsAt !== undefined) {
      const out: NormalizedAlertsConfig["silences"][number] = { matchers: s.matchers, startsAt, endsAt };
      if (s.createdBy !== undefined) out.createdBy = s.createdBy;
      if (s.comment !== undefined) out.comment = s.comment;
      silences.push(out);
    }
  });
  for (const name of Object.keys(doc.sources ?? {})) {
    if (!(ALERT_NAMES as readonly string[]).includes(name)) {
      issues.push({
        path: at("sources", name),
        message: `unknown alert${suggest(name, ALERT_NAMES)} (alerts: ${ALERT_NAMES.join(", ")})`,
      });
    }
  }
  const flapping =
    doc.flapping === false
      ? false
      : {
          windowMs: ms(doc.flapping?.windowMs, 600_000, "flapping.windowMs"),
          maxTransitions: doc.flapping?.maxTransitions ?? 4,
          holdMs: ms(doc.flapping?.holdMs, 600_000, "flapping.holdMs"),
        };
  if (issues.length > 0) return { config: undefined, issues };
  return {
    issues,
    config: {
      enabled: doc.enabled ?? true,
      externalUrl: doc.externalUrl,
      receivers,
      route: routeOptions,
      inhibitRules: doc.inhibitRules,
      silences,
      sources: doc.sources ?? {},
      resolveTimeoutMs: ms(doc.resolveTimeoutMs, 300_000, "resolveTimeoutMs"),
      keepFiringForMs: ms(doc.keepFiringForMs, 0, "keepFiringForMs"),
      flapping,
      maxPendingPerReceiver: doc.maxPendingPerReceiver ?? 1000,
      maxActiveAlerts: doc.maxActiveAlerts ?? 10_000,
    },
  };
}

type Ms = (value: Duration | undefined, fallback: number, path: string) => number;

function normalizeRetry(
  input: z.output<typeof retry> | undefined,
  fallback: RetryOptions,
  ms: Ms,
): RetryOptions {
  if (input === undefined) return fallback;
  return {
    maxAttempts: input.maxAttempts ?? fallback.maxAttempts,
    initialDelayMs: ms(input.initialDelayMs, fallback.initialDelayMs, "retry.initialDelayMs"),
    maxDelayMs: ms(input.maxDelayMs, fallback.maxDelayMs, "retry.maxDelayMs"),
    multiplier: input.multiplier ?? fallback.multiplier,
    maxRetryAfterMs: ms(input.maxRetryAfterMs, fallback.maxRetryAfterMs, "retry.maxRetryAfterMs"),
  };
}

function normalizeRoute(
  input: RouteInput,
  path: Array<string | number>,
  receivers: readonly string[],
  issues: ConfigIssue[],
  base: string,
  ms: Ms,
): RouteOptions {
  const out: RouteOptions = {};
  if (input.receiver !== undefined) {
    if (!receivers.includes(input.receiver)) {
      issues.push({
        path: formatPath(base, [...path, "receiver"]),
        message: `unknown receiver "${input.receiver}"${suggest(input.receiver, receivers)} (receivers: ${receivers.join(", ") || "none"})`,
      });
    }
    out.receiver = input.receiver;
  }
  input.matchers?.forEach((matcher, i) => {
    checkMatcher(matcher, formatPath(base, [...path, "matchers", i]), issues);
  });
  if (input.matchers !== undefined) out.matchers = input.matchers;
  if (input.severity !== undefined) out.severity = input.severity;
  if (input.agent !== undefined) out.agent = input.agent;
  if (input.groupBy !== undefined) out.groupBy = input.groupBy;
  if (input.groupWaitMs !== undefined) out.groupWaitMs = ms(input.groupWaitMs, 0, "groupWaitMs");
  if (input.groupIntervalMs !== undefined) {
    out.groupIntervalMs = ms(input.groupIntervalMs, 1, "groupIntervalMs");
    if (out.groupIntervalMs <= 0)
      issues.push({ path: formatPath(base, [...path, "groupIntervalMs"]), message: "must be > 0" });
  }
  if (input.repeatIntervalMs !== undefined) {
    out.repeatIntervalMs = ms(input.repeatIntervalMs, 1, "repeatIntervalMs");
    if (out.repeatIntervalMs <= 0)
      issues.push({ path: formatPath(base, [...path, "repeatIntervalMs"]), message: "must be > 0" });
  }
  if (input.continue !== undefined) out.continue = input.continue;
  if (input.routes !== undefined) {
    out.routes = input.routes.map((child, index) =>
      normalizeRoute(child, [...path, "routes", index], receivers, issues, base, ms),
    );
  }
  return out;
}

function checkMatcher(matcher: string, path: string, issues: ConfigIssue[]): void {
  try {
    compileMatcher(matcher);
  } catch (error) {
    issues.push({ path, message: (error as Error).message });
  }
}

const SECRET_FIELDS = ["url", "routingKey", "apiKey", "secret"] as const;

function expandSecrets<T extends Record<string, unknown>>(
  entry: T,
  env: Readonly<Record<string, string | undefined>>,
  onMissing: (field: string, variable: string) => void,
): T {
  const out: Record<string, unknown> = { ...entry };
  for (const field of SECRET_FIELDS) {
    const value = out[field];
    if (typeof value === "string")
      out[field] = interpolateSecret(value, env, (name) => onMissing(field, name));
  }
  if (typeof out.headers === "object" && out.headers !== null) {
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(out.headers as Record<string, string>)) {
      headers[key] = interpolateSecret(value, env, (name) => onMissing(`headers.${key}`, name));
    }
    out.headers = headers;
  }
  return out as T;
}

function urlProblem(value: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return "not a valid URL";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    return `expected an http(s) URL, got ${parsed.protocol}`;
  return undefined;
}

function timeOf(value: number | string): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? undefined : parsed;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

export function formatPath(base: string, segments: ReadonlyArray<PropertyKey>): string {
  let out = base;
  for (const segment of segments) {
    if (typeof segment === "number") out += `[${segment}]`;
    else {
      const key = String(segment);
      out += IDENTIFIER.test(key) ? (out === "" ? key : `.${key}`) : `[${JSON.stringify(key)}]`;
    }
  }
  return out === "" ? "(root)" : out;
}

const KNOWN_KEYS = [
  ...Object.keys(alertsConfigSchema.shape),
  ...Object.keys(slack.shape),
  ...Object.keys(pagerduty.shape),
  ...Object.keys(opsgenie.shape),
  ...Object.keys(webhook.shape),
  ...Object.keys(routeShape),
  "routes",
  ...Object.keys(silence.shape),
  ...Object.keys(inhibitRule.shape),
  ...Object.keys(retry.shape),
  ...Object.keys(rateLimit.shape),
];

function zodIssues(error: z.ZodError, base: string): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const visit = (issues: readonly z.core.$ZodIssue[], prefix: ReadonlyArray<PropertyKey>) => {
    for (const issue of issues) {
      const path = [...prefix, ...issue.path];
      if (issue.code === "unrecognized_keys") {
        for (const key of issue.keys)
          out.push({
            path: formatPath(base, [...path, key]),
            message: `unknown key${suggest(key, KNOWN_KEYS)}`,
          });
        continue;
      }
      if (issue.code === "invalid_union") {
        const branches = (issue as unknown as { errors: z.core.$ZodIssue[][] }).errors;
        const best = branches.flat().sort((a, b) => b.path.length - a.path.length)[0];
        if (best !== undefined && best.path.length > 0) {
          visit([best], path);
          continue;
        }
      }
      out.push({ path: formatPath(base, path), message: issue.message.replace(/^Invalid input: /, "") });
    }
  };
  visit(error.issues, []);
  return out;
}

function suggest(key: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of new Set(candidates)) {
    const distance = levenshtein(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance && distance < candidate.length) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best === undefined ? "" : ` (did you mean "${best}"?)`;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] as number;
      row[j] = Math.min(
        (row[j] as number) + 1,
        (row[j - 1] as number) + 1,
        previous + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      previous = current;
    }
  }
  return row[b.length] as number;
}

export type { OpsgeniePriority, PagerDutySeverity };
