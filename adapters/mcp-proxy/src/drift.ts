import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { canonicalJson } from "@agent-sre/core";
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import type { DriftPolicy } from "./config/schema.js";

/**
 * Tool drift / rug-pull protection: every tool definition is fingerprinted on first sight (trust on first
 * use); each later listing is compared with the pins. A new tool is a change too (a rename defeats
 * per-name pins). What happens to a change depends on the server's policy:
 *
 * - `warn`: report it and accept the new definition as the pin;
 * - `block`: report it, hide changed and new tools and refuse calls to them until `approve()`;
 * - `freeze`: report it, keep serving the pinned definition of changed tools, hide new ones until `approve()`.
 *
 * Severities: description/title change → info; new tool, new required parameter, changed annotations or
 * output schema → warning; removed tool, removed parameter or changed parameter type → critical.
 */

export type DriftSeverity = "info" | "warning" | "critical";
export type DriftKind = "added" | "removed" | "changed";

export interface DriftChange {
  tool: string;
  kind: DriftKind;
  severity: DriftSeverity;
  details: string[];
}

export interface DriftReport {
  at: number;
  server: string;
  policy: DriftPolicy;
  severity: DriftSeverity;
  changes: DriftChange[];
  /** What the policy did: accepted the new definitions, blocked the changed tools, or froze them. */
  action: "accepted" | "blocked" | "frozen";
}

/** What a session exposes for a server after review. */
export interface DriftReview {
  /** The tools to expose (pinned definitions under `freeze`). */
  tools: Tool[];
  /** Tools hidden and refused, with the reason (`block`, and new tools under `freeze`). */
  blocked: Map<string, string>;
  /** Set when this review found changes not reported before. */
  report: DriftReport | undefined;
}

interface Pin {
  hash: string;
  definition: PinnedDefinition;
  pinnedAt: number;
}

export type PinnedDefinition = Pick<
  Tool,
  "name" | "title" | "description" | "inputSchema" | "outputSchema" | "annotations"
>;

interface PinFile {
  version: 1;
  servers: Record<string, Record<string, Pin>>;
}

export interface DriftGuardOptions {
  policy?: DriftPolicy;
  /** Per-server policy overrides. */
  policies?: Record<string, DriftPolicy>;
  /** Pins survive restarts in this JSON file (written atomically); default: memory only. */
  pinFile?: string;
  now?: () => number;
  onReport?: (report: DriftReport) => void;
}

const SEVERITY_RANK: Record<DriftSeverity, number> = { info: 0, warning: 1, critical: 2 };

export class DriftGuard {
  readonly #pins = new Map<string, Map<string, Pin>>();
  readonly #policy: DriftPolicy;
  readonly #policies: Record<string, DriftPolicy>;
  readonly #pinFile: string | undefined;
  readonly #now: () => number;
  readonly #onReport: ((report: DriftReport) => void) | undefined;
  /** Per server: the fingerprint of the last reported change set, so a drift is reported once. */
  readonly #lastReported = new Map<string, string>();
  readonly #reports: DriftReport[] = [];

  constructor(options: DriftGuardOptions = {}) {
    this.#policy = options.policy ?? "warn";
    this.#policies = options.policies ?? {};
    this.#pinFile = options.pinFile;
    this.#now = options.now ?? Date.now;
    this.#onReport = options.onReport;
    if (this.#pinFile !== undefined) this.#load(this.#pinFile);
  }

  policyFor(server: string): DriftPolicy {
    return this.#policies[server] ?? this.#policy;
  }

  /** Compares a server's current tools with its pins and applies the policy. */
  review(server: string, tools: readonly Tool[]): DriftReview {
    const policy = this.policyFor(server);
    let pins = this.#pins.get(server);
    if (pins === undefined) {
      pins = new Map();
      const at = this.#now();
      for (const tool of tools) pins.set(tool.name, pinOf(tool, at));
      this.#pins.set(server, pins);
      this.#save();
      return { tools: [...tools], blocked: new Map(), report: undefined };
    }

    const changes: DriftChange[] = [];
    const current = new Map<string, { tool: Tool; hash: string }>();
    for (const tool of tools) current.set(tool.name, { tool, hash: fingerprint(tool) });
    for (const [name, { tool, hash }] of current) {
      const pin = pins.get(name);
      if (pin === undefined) {
        changes.push({ tool: name, kind: "added", severity: "warning", details: ["new tool"] });
      } else if (pin.hash !== hash) {
        changes.push(compareDefinitions(name, pin.definition, definitionOf(tool)));
      }
    }
    for (const name of pins.keys()) {
      if (!current.has(name))
        changes.push({ tool: name, kind: "removed", severity: "critical", details: ["tool removed"] });
    }

    const exposed: Tool[] = [];
    const blocked = new Map<string, string>();
    const changed = new Map(changes.map((change) => [change.tool, change]));
    for (const tool of tools) {
      const change = changed.get(tool.name);
      if (change === undefined || policy === "warn") {
        exposed.push(tool);
        continue;
      }
      if (policy === "freeze" && change.kind === "changed") {
        const pin = pins.get(tool.name) as Pin;
        exposed.push(frozen(tool, pin.definition));
        continue;
      }
      blocked.set(
        tool.name,
        `its definition ${change.kind === "added" ? "appeared" : "changed"} after it was pinned (${change.severity}: ${change.details.join("; ")}); it is blocked until an operator approves it`,
      );
    }

    let report: DriftReport | undefined;
    if (changes.length > 0) {
      const key = changes
        .map((c) => `${c.kind}:${c.tool}:${current.get(c.tool)?.hash ?? ""}`)
        .sort()
        .join("|");
      if (this.#lastReported.get(server) !== key) {
        this.#lastReported.set(server, key);
        report = {
          at: this.#now(),
          server,
          policy,
          severity: changes.reduce<DriftSeverity>(
            (worst, c) => (SEVERITY_RANK[c.severity] > SEVERITY_RANK[worst] ? c.severity : worst),
            "info",
          ),
          changes,
          action: policy === "warn" ? "accepted" : policy === "block" ? "blocked" : "frozen",
        };
        this.#reports.push(report);
        if (this.#reports.length > 100) this.#reports.shift();
        this.#onReport?.(report);
      }
    } else {
      this.#lastReported.delete(server);
    }

    if (policy === "warn" && changes.length > 0) {
      const at = this.#now();
      for (const change of changes) {
        if (change.kind === "removed") pins.delete(change.tool);
        else pins.set(change.tool, pinOf((current.get(change.tool) as { tool: Tool }).tool, at));
      }
      this.#save();
    }
    return { tools: exposed, blocked, report };
  }

  /**
   * Accepts the given definitions as the new pins: for one tool, or (without `tool`) for the whole server.
   * Sessions pick the approval up on their next listing (the proxy refreshes them).
   */
  approve(server: string, tools: readonly Tool[], tool?: string): void {
    const pins = this.#pins.get(server) ?? new Map<string, Pin>();
    const at = this.#now();
    const current = new Map(tools.map((t) => [t.name, t]));
    if (tool === undefined) {
      pins.clear();
      for (const t of tools) pins.set(t.name, pinOf(t, at));
    } else {
      const definition = current.get(tool);
      if (definition === undefined) pins.delete(tool);
      else pins.set(tool, pinOf(definition, at));
    }
    this.#pins.set(server, pins);
    this.#lastReported.delete(server);
    this.#save();
  }

  /** Pins and recent reports (for `status`). */
  snapshot(): { pinned: Record<string, number>; reports: DriftReport[] } {
    const pinned: Record<string, number> = {};
    for (const [server, pins] of this.#pins) pinned[server] = pins.size;
    return { pinned, reports: [...this.#reports] };
  }

  #load(file: string): void {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    const data = JSON.parse(text) as PinFile;
    if (data.version !== 1 || typeof data.servers !== "object") {
      throw new Error(`${file}: not an agent-sre pin file (version 1)`);
    }
    for (const [server, pins] of Object.entries(data.servers))
      this.#pins.set(server, new Map(Object.entries(pins)));
  }

  #save(): void {
    const file = this.#pinFile;
    if (file === undefined) return;
    const data: PinFile = { version: 1, servers: {} };
    for (const [server, pins] of this.#pins) data.servers[server] = Object.fromEntries(pins);
    mkdirSync(dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(data, null, 2)}\n`);
    renameSync(temporary, file);
  }
}

function definitionOf(tool: Tool): PinnedDefinition {
  const out: PinnedDefinition = { name: tool.name, inputSchema: tool.inputSchema };
  if (tool.title !== undefined) out.title = tool.title;
  if (tool.description !== undefined) out.description = tool.description;
  if (tool.outputSchema !== undefined) out.outputSchema = tool.outputSchema;
  if (tool.annotations !== undefined) out.annotations = tool.annotations;
  return out;
}

/** SHA-256 of the canonical (sorted-key) JSON of the fields a model sees. */
export function fingerprint(tool: Tool): string {
  return createHash("sha256")
    .update(canonicalJson(definitionOf(tool)))
    .digest("hex");
}

function pinOf(tool: Tool, at: number): Pin {
  return { hash: fingerprint(tool), definition: definitionOf(tool), pinnedAt: at };
}

/** The tool as pinned: the current entry's other fields (icons, _meta) with the pinned definition. */
function frozen(tool: Tool, pinned: PinnedDefinition): Tool {
  const { title: _t, description: _d, outputSchema: _o, annotations: _a, inputSchema: _i, ...rest } = tool;
  return { ...rest, ...pinned };
}

type JsonSchema = {
  type?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: unknown;
  [key: string]: unknown;
};

/** Classifies a changed definition: what changed and how bad it is. */
export function compareDefinitions(
  name: string,
  before: PinnedDefinition,
  after: PinnedDefinition,
): DriftChange {
  const details: string[] = [];
  let severity: DriftSeverity = "info";
  const raise = (to: DriftSeverity) => {
    if (SEVERITY_RANK[to] > SEVERITY_RANK[severity]) severity = to;
  };
  if (before.description !== after.description) details.push("description changed");
  if (before.title !== after.title) details.push("title changed");
  if (canonicalJson(before.annotations ?? null) !== canonicalJson(after.annotations ?? null)) {
    details.push("annotations changed");
    raise("warning");
  }
  if (canonicalJson(before.outputSchema ?? null) !== canonicalJson(after.outputSchema ?? null)) {
    details.push("output schema changed");
    raise("warning");
  }
  const a = before.inputSchema as JsonSchema;
  const b = after.inputSchema as JsonSchema;
  if (canonicalJson(a) !== canonicalJson(b)) {
    const beforeProps = a.properties ?? {};
    const afterProps = b.properties ?? {};
    const beforeRequired = new Set(Array.isArray(a.required) ? (a.required as string[]) : []);
    const afterRequired = new Set(Array.isArray(b.required) ? (b.required as string[]) : []);
    let described = false;
    for (const [prop, schema] of Object.entries(beforeProps)) {
      const next = afterProps[prop];
      if (next === undefined) {
        details.push(`parameter "${prop}" removed`);
        raise("critical");
        described = true;
      } else if (canonicalJson(schema.type ?? null) !== canonicalJson(next.type ?? null)) {
        details.push(
          `parameter "${prop}" type changed from ${JSON.stringify(schema.type)} to ${JSON.stringify(next.type)}`,
        );
        raise("critical");
        described = true;
      } else if (canonicalJson(schema) !== canonicalJson(next)) {
        details.push(`parameter "${prop}" schema changed`);
        raise("warning");
        described = true;
      }
    }
    for (const prop of Object.keys(afterProps)) {
      if (!(prop in beforeProps)) {
        details.push(`parameter "${prop}" added${afterRequired.has(prop) ? " (required)" : ""}`);
        if (afterRequired.has(prop)) raise("warning");
        described = true;
      }
    }
    for (const prop of afterRequired) {
      if (!beforeRequired.has(prop) && prop in beforeProps) {
        details.push(`parameter "${prop}" became required`);
        raise("warning");
        described = true;
      }
    }
    if (canonicalJson(a.type ?? null) !== canonicalJson(b.type ?? null)) {
      details.push(`input type changed from ${JSON.stringify(a.type)} to ${JSON.stringify(b.type)}`);
      raise("critical");
      described = true;
    }
    if (!described) {
      details.push("input schema changed");
      raise("warning");
    }
  }
  if (details.length === 0) details.push("definition changed");
  return { tool: name, kind: "changed", severity, details };
}
