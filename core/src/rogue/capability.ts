import { ConfigError } from "../errors.js";

/** Which tools an agent may call. Names may contain `*` (any run of characters, e.g. `"fs.*"`). */
export interface CapabilityProfile {
  /** Only these tools are allowed (omit to allow every tool not denied; `[]` allows none). */
  allowedTools?: readonly string[];
  /** Never these tools; the deny list wins over the allow list. */
  deniedTools?: readonly string[];
}

export type CapabilityDecision = "allowed" | "denied" | "not-in-allow-list";

/** One list compiled for O(1) exact lookups plus a single combined regular expression for the globs. */
class ToolMatcher {
  readonly #exact = new Set<string>();
  readonly #globs: RegExp | undefined;

  constructor(patterns: readonly string[]) {
    const globSources: string[] = [];
    for (const pattern of patterns) {
      if (pattern.includes("*")) globSources.push(globToRegExpSource(pattern));
      else this.#exact.add(pattern);
    }
    this.#globs = globSources.length > 0 ? new RegExp(`^(?:${globSources.join("|")})$`, "s") : undefined;
  }

  matches(toolName: string): boolean {
    return this.#exact.has(toolName) || (this.#globs?.test(toolName) ?? false);
  }
}

function globToRegExpSource(pattern: string): string {
  return pattern
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, "\\$&"))
    .join(".*");
}

/** A validated, compiled capability profile. */
export class CompiledCapabilityProfile {
  readonly allowedTools: readonly string[] | undefined;
  readonly deniedTools: readonly string[];
  readonly #allowed: ToolMatcher | undefined;
  readonly #denied: ToolMatcher;

  constructor(profile: CapabilityProfile) {
    if (profile === null || typeof profile !== "object") {
      throw new ConfigError("profile", profile, "an object with allowedTools and/or deniedTools");
    }
    this.allowedTools =
      profile.allowedTools === undefined
        ? undefined
        : Object.freeze(validateToolList(profile.allowedTools, "allowedTools"));
    this.deniedTools = Object.freeze(validateToolList(profile.deniedTools ?? [], "deniedTools"));
    this.#allowed = this.allowedTools === undefined ? undefined : new ToolMatcher(this.allowedTools);
    this.#denied = new ToolMatcher(this.deniedTools);
  }

  check(toolName: string): CapabilityDecision {
    if (this.#denied.matches(toolName)) return "denied";
    if (this.#allowed !== undefined && !this.#allowed.matches(toolName)) return "not-in-allow-list";
    return "allowed";
  }
}

function validateToolList(list: unknown, field: string): string[] {
  if (!Array.isArray(list)) throw new ConfigError(field, list, "an array of tool names");
  return list.map((name, index) => {
    if (typeof name !== "string" || name.length === 0) {
      throw new ConfigError(`${field}[${index}]`, name, "a non-empty tool name");
    }
    return name;
  });
}
