import { InvalidArgumentError } from "../errors.js";

// The detector's argument checks and its task-id hash, out of detector.ts.

export function requireAgentId(agentId: unknown): asserts agentId is string {
  if (typeof agentId !== "string" || agentId.length === 0) {
    throw new InvalidArgumentError("agentId", agentId, "a non-empty string");
  }
}

export function requireToolName(toolName: unknown): asserts toolName is string {
  if (typeof toolName !== "string" || toolName.length === 0) {
    throw new InvalidArgumentError("toolName", toolName, "a non-empty string");
  }
}

/** FNV-1a over the UTF-16 code units (a task id only salts the loop key; no security role). */
export function hashString(value: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) hash = Math.imul(hash ^ value.charCodeAt(i), 0x01000193);
  return hash | 0;
}
