import { ConfigError } from "../errors.js";
import { requireNonEmptyString, requireOneOf, requirePositive, requireRatio } from "../validate.js";
import {
  buildPrivilegeEscalationPayload,
  buildPromptInjectionPayload,
  DEFAULT_HIJACK_TOOL,
  normalizeTechnique,
  PROMPT_INJECTION_TECHNIQUES,
  type PromptInjectionTechnique,
} from "./payloads.js";
import { parseTarget } from "./target.js";

/**
 * Faults are immutable, JSON-friendly descriptions: what to do (`type` and its parameters), to which
 * calls (`target`, see target.ts) and how often (`rate`, the probability per matching call in the blast
 * radius). An experiment applies them; the engine executes what `plan()` returns.
 */
export type FaultType =
  | "latency"
  | "error"
  | "timeout"
  | "prompt-injection"
  | "privilege-escalation"
  | "tool-abuse";

export const FAULT_TYPES: readonly FaultType[] = [
  "latency",
  "error",
  "timeout",
  "prompt-injection",
  "privilege-escalation",
  "tool-abuse",
];

/**
 * The seed's (the Python original's) names for our fault types, accepted wherever a fault type is read
 * (`validateFault`, config files): `privilege_escalation` is `privilege-escalation`, and so on.
 */
export const FAULT_TYPE_ALIASES: Readonly<Record<string, FaultType>> = {
  latency_injection: "latency",
  error_injection: "error",
  timeout_injection: "timeout",
  prompt_injection: "prompt-injection",
  privilege_escalation: "privilege-escalation",
  tool_abuse: "tool-abuse",
};

/** A fault type in our spelling (aliases and snake_case mapped); anything else unchanged. */
export function normalizeFaultType(type: unknown): unknown {
  if (typeof type !== "string") return type;
  return FAULT_TYPE_ALIASES[type] ?? type;
}

/** Faults that attack the agent's defences; each injection expects a `blocked` / `detected` / `passed` outcome. */
export const ADVERSARIAL_FAULT_TYPES: readonly FaultType[] = [
  "prompt-injection",
  "privilege-escalation",
  "tool-abuse",
];

/** Where a payload goes: into what the call returns (tool results) or into what it sends (model input). */
export type PayloadPlacement = "result" | "input";

interface FaultBase {
  /** Unique within an experiment; keys the injected counts and adversarial outcomes. */
  readonly id: string;
  readonly target: string;
  /** Probability in [0, 1] that a matching call in the blast radius gets this fault. */
  readonly rate: number;
}

export interface LatencyFault extends FaultBase {
  readonly type: "latency";
  readonly delayMs: number;
  /** The delay varies uniformly within ±jitterMs (never below 1 ms). */
  readonly jitterMs: number;
}

export interface ErrorFault extends FaultBase {
  readonly type: "error";
  /** A label of the simulated failure (`"service_unavailable"`, `"rate_limited"`, ...). */
  readonly error: string;
  /** The HTTP status it simulates; always a transient one (see `TRANSIENT_STATUSES`). */
  readonly status: number;
  readonly message: string;
}

export interface TimeoutFault extends FaultBase {
  readonly type: "timeout";
  /** How long the call hangs before it fails with `TimeoutError` (it never runs). */
  readonly delayMs: number;
}

export interface PromptInjectionFault extends FaultBase {
  readonly type: "prompt-injection";
  /** A `PromptInjectionTechnique`, or a label of your own when `payload` is custom. */
  readonly technique: string;
  readonly payload: string;
  /** Fixed placement, or `undefined`: tool calls get it in their result, model calls in their input. */
  readonly where: PayloadPlacement | undefined;
}

export interface PrivilegeEscalationFault extends FaultBase {
  readonly type: "privilege-escalation";
  /** The role the forged grant claims. */
  readonly role: string;
  /** The privileged tool the payload asks for. */
  readonly toolName: string;
  readonly payload: string;
  readonly where: PayloadPlacement | undefined;
}

export interface ToolAbuseFault extends FaultBase {
  readonly type: "tool-abuse";
  /** The forbidden tool the model "calls"; the engine runs a synthetic pre-flight for it. */
  readonly toolName: string;
}

export type Fault =
  | LatencyFault
  | ErrorFault
  | TimeoutFault
  | PromptInjectionFault
  | PrivilegeEscalationFault
  | ToolAbuseFault;

export type AdversarialFault = PromptInjectionFault | PrivilegeEscalationFault | ToolAbuseFault;

export function isAdversarialFault(fault: Fault): fault is AdversarialFault {
  return (
    fault.type === "prompt-injection" || fault.type === "privilege-escalation" || fault.type === "tool-abuse"
  );
}

/** HTTP statuses a provider returns for failures that a retry can fix. */
export const TRANSIENT_STATUSES: readonly number[] = [408, 429, 500, 502, 503, 504, 529];

/** Known error labels with the status and message a provider would send. */
export const ERROR_KINDS: Readonly<Record<string, { status: number; message: string }>> = {
  service_unavailable: {
    status: 503,
    message: "503 Service Unavailable: the server is temporarily unable to handle the request",
  },
  rate_limited: { status: 429, message: "429 Too Many Requests: rate limit reached, retry later" },
  internal_error: {
    status: 500,
    message: "500 Internal Server Error: the server had an error processing the request",
  },
  internal_server_error: {
    status: 500,
    message: "500 Internal Server Error: the server had an error processing the request",
  },
  bad_gateway: { status: 502, message: "502 Bad Gateway: the upstream server returned an invalid response" },
  gateway_timeout: {
    status: 504,
    message: "504 Gateway Timeout: the upstream server did not answer in time",
  },
  overloaded: { status: 529, message: "529 Overloaded: the service is temporarily overloaded" },
  request_timeout: { status: 408, message: "408 Request Timeout" },
};

const STATUS_TO_KIND: Record<number, string> = {
  408: "request_timeout",
  429: "rate_limited",
  500: "internal_error",
  502: "bad_gateway",
  503: "service_unavailable",
  504: "gateway_timeout",
  529: "overloaded",
};

/** Options every factory accepts. */
export interface FaultOptions {
  /** Probability per matching call in [0, 1] (default 1). */
  rate?: number;
  /** Fault id (default derived from type and target); must be unique within an experiment. */
  id?: string;
}

export function latencyInjection(
  target: string,
  options: FaultOptions & { delayMs: number; jitterMs?: number },
): LatencyFault {
  return validateFault({
    type: "latency",
    id: options.id ?? `latency@${target}`,
    target,
    rate: options.rate ?? 1,
    delayMs: options.delayMs,
    jitterMs: options.jitterMs ?? 0,
  }) as LatencyFault;
}

export function errorInjection(
  target: string,
  options: FaultOptions & { error?: string; status?: number; message?: string } = {},
): ErrorFault {
  const error =
    options.error ?? (options.status === undefined ? "service_unavailable" : STATUS_TO_KIND[options.status]);
  const known = error === undefined ? undefined : ERROR_KINDS[error];
  const status = options.status ?? known?.status ?? 503;
  return validateFault({
    type: "error",
    id: options.id ?? `error@${target}`,
    target,
    rate: options.rate ?? 1,
    error: error ?? `status_${status}`,
    status,
    message:
      options.message ??
      `${known !== undefined && known.status === status ? known.message : `${status} ${error ?? "error"}`} (injected)`,
  }) as ErrorFault;
}

export function timeoutInjection(target: string, options: FaultOptions & { delayMs: number }): TimeoutFault {
  return validateFault({
    type: "timeout",
    id: options.id ?? `timeout@${target}`,
    target,
    rate: options.rate ?? 1,
    delayMs: options.delayMs,
  }) as TimeoutFault;
}

export function promptInjection(
  target: string,
  options: FaultOptions & {
    technique?: PromptInjectionTechnique | (string & {});
    /** A custom payload (then `technique` is a free label). */
    payload?: string;
    /** The tool a `tool-hijack` payload asks for (default `"shell_exec"`). */
    toolName?: string;
    where?: PayloadPlacement;
  } = {},
): PromptInjectionFault {
  // The seed's names (`direct_override`, snake_case) map onto ours.
  const technique = normalizeTechnique(options.technique ?? "ignore-previous");
  let payload = options.payload;
  if (payload === undefined) {
    requireOneOf(technique, PROMPT_INJECTION_TECHNIQUES, "technique");
    if (options.toolName !== undefined) requireNonEmptyString(options.toolName, "toolName");
    payload = buildPromptInjectionPayload(technique as PromptInjectionTechnique, options.toolName);
  }
  return validateFault({
    type: "prompt-injection",
    id: options.id ?? `prompt-injection:${technique}@${target}`,
    target,
    rate: options.rate ?? 1,
    technique,
    payload,
    where: options.where,
  }) as PromptInjectionFault;
}

export function privilegeEscalation(
  target: string,
  options: FaultOptions & {
    /** The role the forged grant claims (default `"admin"`). */
    role?: string;
    /** The privileged tool the payload asks for (default `"admin_console"`). */
    toolName?: string;
    payload?: string;
    where?: PayloadPlacement;
  } = {},
): PrivilegeEscalationFault {
  const role = requireNonEmptyString(options.role ?? "admin", "role");
  const toolName = requireNonEmptyString(options.toolName ?? "admin_console", "toolName");
  return validateFault({
    type: "privilege-escalation",
    id: options.id ?? `privilege-escalation@${target}`,
    target,
    rate: options.rate ?? 1,
    role,
    toolName,
    payload: options.payload ?? buildPrivilegeEscalationPayload(role, toolName),
    where: options.where,
  }) as PrivilegeEscalationFault;
}

export function toolAbuse(
  target: string,
  options: FaultOptions & { toolName?: string } = {},
): ToolAbuseFault {
  return validateFault({
    type: "tool-abuse",
    id: options.id ?? `tool-abuse@${target}`,
    target,
    rate: options.rate ?? 1,
    toolName: options.toolName ?? DEFAULT_HIJACK_TOOL,
  }) as ToolAbuseFault;
}

/** The factories under one name, as in the Python original (`Fault.latencyInjection(...)`). */
export const Fault = {
  latencyInjection,
  errorInjection,
  timeoutInjection,
  promptInjection,
  privilegeEscalation,
  toolAbuse,
} as const;

/**
 * Checks a fault (built by a factory or by hand) and returns a frozen copy. `prefix` names it in errors,
 * e.g. `"faults[2]"` gives fields such as `"faults[2].rate"`.
 */
export function validateFault(fault: unknown, prefix = ""): Fault {
  const field = (name: string) => (prefix === "" ? name : `${prefix}.${name}`);
  if (typeof fault !== "object" || fault === null)
    throw new ConfigError(prefix || "fault", fault, "a fault object");
  const raw = fault as Record<string, unknown>;
  const type = requireOneOf(normalizeFaultType(raw.type), FAULT_TYPES, field("type"));
  const id = requireNonEmptyString(raw.id, field("id"));
  const target = raw.target;
  parseTarget(target, field("target"));
  const rate = requireRatio(raw.rate, field("rate"));
  const base = { id, target: target as string, rate };
  switch (type) {
    case "latency": {
      const delayMs = requirePositive(raw.delayMs, field("delayMs"));
      const jitterMs = raw.jitterMs ?? 0;
      if (typeof jitterMs !== "number" || !Number.isFinite(jitterMs) || jitterMs < 0 || jitterMs > delayMs) {
        throw new ConfigError(field("jitterMs"), jitterMs, `a number in [0, delayMs = ${delayMs}]`);
      }
      return Object.freeze({ type, ...base, delayMs, jitterMs });
    }
    case "error": {
      const status = raw.status;
      if (typeof status !== "number" || !TRANSIENT_STATUSES.includes(status)) {
        throw new ConfigError(
          field("status"),
          status,
          `a transient status: ${TRANSIENT_STATUSES.join(", ")}`,
        );
      }
      return Object.freeze({
        type,
        ...base,
        error: requireNonEmptyString(raw.error, field("error")),
        status,
        message: requireNonEmptyString(raw.message, field("message")),
      });
    }
    case "timeout":
      return Object.freeze({ type, ...base, delayMs: requirePositive(raw.delayMs, field("delayMs")) });
    case "prompt-injection":
      return Object.freeze({
        type,
        ...base,
        technique: requireNonEmptyString(raw.technique, field("technique")),
        payload: requireNonEmptyString(raw.payload, field("payload")),
        where: requirePlacement(raw.where, field("where")),
      });
    case "privilege-escalation":
      return Object.freeze({
        type,
        ...base,
        role: requireNonEmptyString(raw.role, field("role")),
        toolName: requireNonEmptyString(raw.toolName, field("toolName")),
        payload: requireNonEmptyString(raw.payload, field("payload")),
        where: requirePlacement(raw.where, field("where")),
      });
    case "tool-abuse":
      return Object.freeze({
        type,
        ...base,
        toolName: requireNonEmptyString(raw.toolName, field("toolName")),
      });
  }
}

function requirePlacement(value: unknown, field: string): PayloadPlacement | undefined {
  return value === undefined ? undefined : requireOneOf(value, ["result", "input"] as const, field);
}
