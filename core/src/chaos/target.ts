import { ConfigError } from "../errors.js";
import type { CallKind } from "../types.js";

/**
 * Fault targets select calls.
 *
 * ```
 * target  := [scope ":"] pattern
 * scope   := "model" | "tool" | "agent"
 * pattern := a glob where "*" matches any run of characters (also none); every other character is literal
 * ```
 *
 * - `"tool:search"` matches tool calls named `search`; `"tool:*"` matches every tool call.
 * - `"model:gpt-*"` matches model calls whose model id starts with `gpt-`.
 * - `"agent:billing-*"` matches every call (model or tool) made by an agent whose id starts with `billing-`.
 * - A bare pattern (`"search"`, `"gpt-*"`, `"*"`) matches a call when it matches the model id or tool name
 *   OR the agent id.
 *
 * Matching is case-sensitive. Only the three scopes above are prefixes: any other text before a colon is
 * part of a bare pattern, so model ids such as `"ollama:llama3"` work as bare patterns.
 */
export type TargetScope = "model" | "tool" | "agent" | "any";

/** The call fields a target looks at. */
export interface TargetCall {
  agentId: string;
  kind: CallKind;
  name: string;
}

export interface ParsedTarget {
  scope: TargetScope;
  pattern: string;
}

export interface TargetMatcher {
  readonly target: string;
  readonly scope: TargetScope;
  readonly pattern: string;
  matches(call: TargetCall): boolean;
}

const SCOPES = ["model", "tool", "agent"] as const;

/** Splits a target into its scope and pattern; throws `ConfigError` naming `field` if it is malformed. */
export function parseTarget(target: unknown, field = "target"): ParsedTarget {
  if (typeof target !== "string" || target.trim().length === 0) {
    throw new ConfigError(
      field,
      target,
      'a target such as "tool:search", "model:gpt-*", "agent:billing-*" or "*"',
    );
  }
  const colon = target.indexOf(":");
  if (colon > 0) {
    const prefix = target.slice(0, colon);
    if ((SCOPES as readonly string[]).includes(prefix)) {
      const pattern = target.slice(colon + 1);
      if (pattern.length === 0) {
        throw new ConfigError(field, target, `a pattern after "${prefix}:" (use "${prefix}:*" for all)`);
      }
      return { scope: prefix as TargetScope, pattern };
    }
  }
  return { scope: "any", pattern: target };
}

/** Compiles a glob (only `*` is special) into a predicate; built once, not per call. */
export function compileGlob(pattern: string): (text: string) => boolean {
  if (pattern === "*") return () => true;
  const star = pattern.indexOf("*");
  if (star < 0) return (text) => text === pattern;
  if (star === pattern.length - 1) {
    const prefix = pattern.slice(0, -1);
    return (text) => text.startsWith(prefix);
  }
  const source = pattern
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  const regex = new RegExp(`^${source}$`, "s");
  return (text) => regex.test(text);
}

/** Compiles a target (see the grammar above) into a matcher. */
export function compileTarget(target: string, field = "target"): TargetMatcher {
  const { scope, pattern } = parseTarget(target, field);
  const glob = compileGlob(pattern);
  let matches: (call: TargetCall) => boolean;
  switch (scope) {
    case "model":
      matches = (call) => call.kind === "model" && glob(call.name);
      break;
    case "tool":
      matches = (call) => call.kind === "tool" && glob(call.name);
      break;
    case "agent":
      matches = (call) => glob(call.agentId);
      break;
    default:
      matches = (call) => glob(call.name) || glob(call.agentId);
  }
  return { target, scope, pattern, matches };
}

/** Whether `target` selects `call` (compiles the target each time: use `compileTarget` on hot paths). */
export function matchesTarget(target: string, call: TargetCall): boolean {
  return compileTarget(target).matches(call);
}
