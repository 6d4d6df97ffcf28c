import type { z } from "zod";
import { formatPath } from "./interpolate.js";

/** One problem in a config, with the JSON path it is at. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** Thrown for a config that cannot be used; `issues` names every problem with its JSON path. */
export class ConfigFileError extends Error {
  readonly issues: ConfigIssue[];
  readonly file: string | undefined;

  constructor(issues: ConfigIssue[], file?: string) {
    const where = file === undefined ? "config" : file;
    super(
      `${where}: ${issues.length} problem${issues.length === 1 ? "" : "s"}\n${issues
        .map((issue) => `  - ${issue.path}: ${issue.message}`)
        .join("\n")}`,
    );
    this.name = "ConfigFileError";
    this.issues = issues;
    this.file = file;
  }
}

/**
 * Keys of a server entry this proxy reads (ours and the MCP clients' we honour), and keys other MCP clients
 * write that mean nothing here and are ignored, so a config copied from Claude Desktop, Cursor, Cline, Roo,
 * VS Code, Windsurf or Gemini CLI loads as is. Any other key is an error (a typo such as `comand` or
 * `evn` would otherwise start a broken server or silently drop its environment).
 */
export const SERVER_ENTRY_KEYS = [
  "type",
  "transportType",
  "command",
  "args",
  "env",
  "envFile",
  "cwd",
  "url",
  "headers",
  "disabled",
  "enabled",
  "timeout",
  "x-agentSre",
] as const;

const OTHER_CLIENTS_KEYS = new Set([
  "autoApprove",
  "alwaysAllow",
  "disabledTools",
  "watchPaths",
  "description",
  "trust",
  "includeTools",
  "excludeTools",
  "oauth",
  "authProviderType",
  "gallery",
  "version",
  "dev",
  "networkTimeout",
]);

/** Other clients' names for a server's URL, which this proxy reads as `url`... if you call it that. */
const URL_SPELLINGS = new Set(["serverUrl", "httpUrl"]);

/** Unknown keys in the server entries of `mcpServers` / `servers`, every one with its path. */
export function serverEntryKeyIssues(document: unknown): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (!isRecord(document)) return issues;
  for (const section of ["mcpServers", "servers"] as const) {
    const servers = document[section];
    if (!isRecord(servers)) continue;
    for (const [name, entry] of Object.entries(servers)) {
      if (!isRecord(entry)) continue;
      for (const key of Object.keys(entry)) {
        if ((SERVER_ENTRY_KEYS as readonly string[]).includes(key) || OTHER_CLIENTS_KEYS.has(key)) continue;
        const message = URL_SPELLINGS.has(key)
          ? 'unknown key: the server\'s address goes in "url"'
          : unknownKeyMessage(key, SERVER_ENTRY_KEYS);
        issues.push({ path: formatPath([section, name, key]), message });
      }
    }
  }
  return issues;
}

/**
 * The schema's issues as config issues: one per unknown key (with the key meant, from the schema's own
 * keys at that path), the deepest branch of a failed union, messages without zod's "Invalid input: ".
 */
export function zodIssues(error: z.ZodError, schema: z.ZodType): ConfigIssue[] {
  return issuesOf(error.issues, [], schema);
}

function issuesOf(
  issues: readonly z.core.$ZodIssue[],
  prefix: PropertyKey[],
  schema: z.ZodType,
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === "unrecognized_keys") {
      const known = keysAt(schema, path);
      for (const key of issue.keys) {
        out.push({ path: formatPath([...path, key]), message: unknownKeyMessage(key, known) });
      }
      continue;
    }
    if (issue.code === "invalid_union") {
      // Every problem of the branch that got furthest (the most specific path), not "invalid input".
      const branches = (issue as unknown as { errors: z.core.$ZodIssue[][] }).errors;
      const depth = (branch: z.core.$ZodIssue[]) => Math.max(0, ...branch.map((i) => i.path.length));
      const best = [...branches].sort((a, b) => depth(b) - depth(a)).at(0);
      if (best !== undefined && depth(best) > 0) {
        out.push(...issuesOf(best, path, schema));
        continue;
      }
    }
    out.push({ path: formatPath(path), message: cleanMessage(issue.message) });
  }
  return out;
}

/**
 * Each (path, message) once, in the order the document has them (keys as written, list items by index;
 * paths the document does not have, e.g. a missing `url`, after their parent's own keys), issues of one
 * path in the order they were found.
 */
export function sortIssues(issues: readonly ConfigIssue[], document: unknown = {}): ConfigIssue[] {
  const seen = new Set<string>();
  return issues
    .filter((issue) => {
      const key = `${issue.path}\u0000${issue.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .map((issue, index) => ({ issue, index, rank: documentRank(document, issue.path) }))
    .sort((a, b) => compareRanks(a.rank, b.rank) || a.index - b.index)
    .map(({ issue }) => issue);
}

/** Where a path is in the document: the position of each of its keys among its parent's keys. */
function documentRank(document: unknown, path: string): number[] {
  const rank: number[] = [];
  let current = document;
  for (const match of path.matchAll(/(?:^|\.)([^.[\]]+)|\[("(?:[^"\\]|\\.)*"|\d+)\]/g)) {
    const raw = match[1] ?? (match[2] as string);
    const key = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    if (Array.isArray(current)) {
      rank.push(Number(key));
      current = current[Number(key)];
    } else if (isRecord(current)) {
      const index = Object.keys(current).indexOf(key);
      rank.push(index < 0 ? Number.MAX_SAFE_INTEGER : index);
      current = current[key];
    } else {
      rank.push(Number.MAX_SAFE_INTEGER);
      current = undefined;
    }
  }
  return rank;
}

function compareRanks(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const difference = (a[i] as number) - (b[i] as number);
    if (difference !== 0) return difference;
  }
  return a.length - b.length;
}

/** Whether any issue is at `path` or inside it. */
export function hasIssueAt(issues: readonly ConfigIssue[], path: string): boolean {
  return issues.some(
    (issue) => issue.path === path || issue.path.startsWith(`${path}.`) || issue.path.startsWith(`${path}[`),
  );
}

function cleanMessage(message: string): string {
  return message.replace(/^Invalid input: /, "");
}

function unknownKeyMessage(key: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const distance = levenshtein(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best === undefined ? "unknown key" : `unknown key (did you mean "${best}"?)`;
}

/** The keys the object schema at `path` inside `schema` allows (through optionals, unions, maps and lists). */
function keysAt(schema: z.ZodType, path: ReadonlyArray<PropertyKey>): string[] {
  let current: Def | undefined = defOf(schema);
  for (const segment of path) {
    current = objectDef(current);
    if (current === undefined) return [];
    if (current.type === "object") current = defOf(current.shape?.[String(segment)]);
    else if (current.type === "record") current = defOf(current.valueType);
    else if (current.type === "array") current = defOf(current.element);
    else return [];
  }
  const object = objectDef(current);
  return object?.type === "object" ? Object.keys(object.shape ?? {}) : [];
}

interface Def {
  type: string;
  shape?: Record<string, unknown>;
  innerType?: unknown;
  options?: unknown[];
  valueType?: unknown;
  element?: unknown;
  in?: unknown;
}

function defOf(schema: unknown): Def | undefined {
  return (schema as { _zod?: { def?: Def } } | undefined)?._zod?.def;
}

/** Looks through optional / default / pipe wrappers, and into the object branch of a union. */
function objectDef(def: Def | undefined): Def | undefined {
  let current = def;
  for (let depth = 0; depth < 8 && current !== undefined; depth++) {
    if (current.type === "optional" || current.type === "nullable" || current.type === "default") {
      current = defOf(current.innerType);
    } else if (current.type === "pipe") {
      current = defOf(current.in);
    } else if (current.type === "union") {
      current = (current.options ?? []).map(defOf).find((option) => objectDef(option)?.type === "object");
    } else {
      return current;
    }
  }
  return current;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
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
