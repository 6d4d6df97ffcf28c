import { readFileSync } from "node:fs";
import { dirname, extname, isAbsolute, resolve } from "node:path";
import { parseAlertsConfig } from "@agent-sre/alerts";
import {
  AgentSRE,
  type AgentSREOptions,
  type BlackoutWindow,
  type CascadeResponseOptions,
  ChaosExperiment,
  type ChaosRunStore,
  ChaosScheduler,
  type ChaosSchedulerHost,
  ConfigError,
  errorInjection,
  type Fault,
  latencyInjection,
  parseDuration,
  privilegeEscalation,
  promptInjection,
  timeoutInjection,
  toolAbuse,
} from "@agent-sre/core";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { urlCredentials } from "../redact.js";
import { formatPath, interpolateDocument } from "./interpolate.js";
import { parseJsonc } from "./jsonc.js";
import {
  type AgentSreSection,
  type ConfigDocument,
  configDocument,
  type DriftPolicy,
  type ExperimentConfig,
  type ServerEntry,
  transportProblems,
} from "./schema.js";

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

export interface StdioTransportSpec {
  type: "stdio";
  command: string;
  args: string[];
  /** Variables passed to the child on top of the minimal default environment (PATH, HOME, ...). */
  env: Record<string, string>;
  cwd?: string;
}

export interface HttpTransportSpec {
  /** `http`: Streamable HTTP; `sse`: the legacy HTTP+SSE transport; `auto`: Streamable HTTP, SSE on 4xx. */
  type: "http" | "sse" | "auto";
  url: string;
  headers: Record<string, string>;
}

export type TransportSpec = StdioTransportSpec | HttpTransportSpec;

export interface UpstreamSpec {
  name: string;
  transport: TransportSpec;
  /** Prefix for this server's names; `undefined` = the proxy-wide naming rule. */
  prefix?: string;
  /** Tool-call timeout in ms for this server (0 = none). */
  timeoutMs?: number;
  /** Visibility filter and per-call prices, by glob over the upstream's own tool names. */
  tools?: { allow?: string[]; deny?: string[]; costs?: Record<string, number> };
  drift?: DriftPolicy;
  /**
   * One upstream session shared by every client session (a stateless server: no sampling, elicitation or
   * roots relayed, no per-client log level), instead of one per client session. Default false.
   */
  shared?: boolean;
}

/** A validated config: the upstreams and our section, with variables expanded. */
export interface ProxyConfig {
  upstreams: UpstreamSpec[];
  agentSre: AgentSreSection;
  /** Non-fatal findings (unset variables, disabled servers, unpinned `npx -y pkg@latest`). */
  warnings: ConfigIssue[];
  /** The config file's folder (relative paths in the config resolve against it). */
  baseDir: string;
  file?: string;
}

export interface LoadOptions {
  env?: Readonly<Record<string, string | undefined>>;
  /** Folder relative paths resolve against (default: the file's folder, or the cwd). */
  baseDir?: string;
}

/** Reads, expands and validates a config file (`.json`, `.jsonc`, `.yaml`, `.yml`). */
export function loadConfigFile(file: string, options: LoadOptions = {}): ProxyConfig {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT" ? "file not found" : code === "EISDIR" ? "is a directory" : String(error);
    throw new ConfigFileError([{ path: "(file)", message: reason }], file);
  }
  let document: unknown;
  try {
    const extension = extname(path).toLowerCase();
    document = extension === ".yaml" || extension === ".yml" ? parseYaml(text) : parseJsonc(text);
  } catch (error) {
    throw new ConfigFileError(
      [
        {
          path: "(syntax)",
          message: error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error),
        },
      ],
      file,
    );
  }
  try {
    return parseConfig(document, { ...options, baseDir: options.baseDir ?? dirname(path), file });
  } catch (error) {
    if (error instanceof ConfigFileError && error.file === undefined)
      throw new ConfigFileError(error.issues, file);
    throw error;
  }
}

/** Validates a parsed config document (JSON or YAML already parsed). */
export function parseConfig(document: unknown, options: LoadOptions & { file?: string } = {}): ProxyConfig {
  const env = options.env ?? process.env;
  const baseDir = options.baseDir ?? process.cwd();
  const { value, unresolved } = interpolateDocument(document, { env, workspaceFolder: baseDir });
  const warnings: ConfigIssue[] = unresolved.map((u) => ({
    path: u.path,
    message: `variable \${${u.variable}} is not set and has no default (left as is)`,
  }));

  const parsed = configDocument.safeParse(value);
  const transportIssues = entryTransportIssues(value);
  // The alerts section is checked on its own, so its problems are reported with everything else's.
  const alertIssues = alertsIssues(value, env);
  if (!parsed.success)
    throw new ConfigFileError(
      sortIssues([...zodIssues(parsed.error), ...transportIssues, ...alertIssues]),
      options.file,
    );
  if (transportIssues.length > 0 || alertIssues.length > 0)
    throw new ConfigFileError(sortIssues([...transportIssues, ...alertIssues]), options.file);
  const doc: ConfigDocument = parsed.data;
  const issues: ConfigIssue[] = [];

  const upstreams: UpstreamSpec[] = [];
  const sections: Array<["mcpServers" | "servers", Record<string, ServerEntry> | undefined]> = [
    ["mcpServers", doc.mcpServers],
    ["servers", doc.servers],
  ];
  for (const [section, servers] of sections) {
    for (const [name, entry] of Object.entries(servers ?? {})) {
      const path = formatPath([section, name]);
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
        issues.push({
          path,
          message: "a server name must be 1-64 characters of [A-Za-z0-9_.-] (it prefixes tool names)",
        });
        continue;
      }
      if (entry.disabled === true || entry.enabled === false) {
        warnings.push({ path, message: "disabled: not started" });
        continue;
      }
      upstreams.push(toUpstream(name, entry, path, baseDir, env, issues, warnings));
    }
  }
  if (upstreams.length === 0 && issues.length === 0) {
    issues.push({ path: doc.mcpServers ? "mcpServers" : "servers", message: "no enabled server" });
  }

  const agentSre = doc.agentSre ?? {};
  issues.push(...checkEngineSections(agentSre));
  if (agentSre.audit && !isAbsolute(agentSre.audit.file))
    agentSre.audit.file = resolve(baseDir, agentSre.audit.file);
  if (agentSre.record && !isAbsolute(agentSre.record.dir))
    agentSre.record.dir = resolve(baseDir, agentSre.record.dir);
  const state = agentSre.state;
  if (typeof state === "object" && "sqlite" in state && !isAbsolute(state.sqlite)) {
    state.sqlite = resolve(baseDir, state.sqlite);
  }
  if (agentSre.drift?.pinFile !== undefined && !isAbsolute(agentSre.drift.pinFile)) {
    agentSre.drift.pinFile = resolve(baseDir, agentSre.drift.pinFile);
  }
  if (agentSre.listen?.http !== undefined) {
    try {
      parseListenAddress(agentSre.listen.http);
    } catch (error) {
      issues.push({ path: "agentSre.listen.http", message: (error as Error).message });
    }
  }

  if (issues.length > 0) throw new ConfigFileError(issues, options.file);
  const config: ProxyConfig = { upstreams, agentSre, warnings, baseDir };
  if (options.file !== undefined) config.file = options.file;
  return config;
}

function entryTransportIssues(document: unknown): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (typeof document !== "object" || document === null) return issues;
  for (const section of ["mcpServers", "servers"] as const) {
    const servers = (document as Record<string, unknown>)[section];
    if (typeof servers !== "object" || servers === null || Array.isArray(servers)) continue;
    for (const [name, entry] of Object.entries(servers)) {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) continue;
      const record = entry as Record<string, unknown>;
      if (record.disabled === true || record.enabled === false) continue;
      for (const problem of transportProblems(record)) {
        issues.push({ path: formatPath([section, name, ...problem.path]), message: problem.message });
      }
    }
  }
  return issues;
}

function alertsIssues(document: unknown, env: Readonly<Record<string, string | undefined>>): ConfigIssue[] {
  const section = (document as { agentSre?: { alerts?: unknown } } | null)?.agentSre;
  if (typeof section !== "object" || section === null || section.alerts === undefined) return [];
  return parseAlertsConfig(section.alerts, { path: "agentSre.alerts", env }).issues;
}

/** Issues in document order of their paths (stable for equal paths). */
function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues
    .map((issue, index) => ({ issue, index }))
    .sort((a, b) =>
      a.issue.path === b.issue.path ? a.index - b.index : a.issue.path < b.issue.path ? -1 : 1,
    )
    .map(({ issue }) => issue);
}

function toUpstream(
  name: string,
  entry: ServerEntry,
  path: string,
  baseDir: string,
  env: Readonly<Record<string, string | undefined>>,
  issues: ConfigIssue[],
  warnings: ConfigIssue[],
): UpstreamSpec {
  let transport: TransportSpec;
  if (entry.command !== undefined) {
    const childEnv: Record<string, string> = {};
    if (entry.envFile !== undefined) {
      const file = isAbsolute(entry.envFile) ? entry.envFile : resolve(baseDir, entry.envFile);
      try {
        Object.assign(childEnv, parseEnvFile(readFileSync(file, "utf8"), env));
      } catch (error) {
        issues.push({ path: `${path}.envFile`, message: `cannot read ${file}: ${(error as Error).message}` });
      }
    }
    Object.assign(childEnv, entry.env ?? {});
    transport = { type: "stdio", command: entry.command, args: entry.args ?? [], env: childEnv };
    if (entry.cwd !== undefined)
      transport.cwd = isAbsolute(entry.cwd) ? entry.cwd : resolve(baseDir, entry.cwd);
    const args = entry.args ?? [];
    if (
      (entry.command === "npx" || entry.command.endsWith("/npx")) &&
      args.some((a) => /@latest$/.test(a) || a === "-y")
    ) {
      const pkg = args.find((a) => !a.startsWith("-"));
      if (pkg !== undefined && (pkg.endsWith("@latest") || !/^(@[^/]+\/)?[^@]+@\d/.test(pkg))) {
        warnings.push({
          path: `${path}.args`,
          message: `"${pkg}" is not pinned to a version: a new release can change the server's tools (pin it, e.g. ${pkg.replace(/@latest$/, "")}@1.2.3)`,
        });
      }
    }
  } else {
    const url = entry.url as string;
    const credentials = urlCredentials(url);
    if (credentials.length > 0) {
      warnings.push({
        path: `${path}.url`,
        message: `the URL carries credentials (${credentials.join(", ")}): the proxy masks them in its logs and /status, but servers and network proxies log URLs; send them in "headers" instead (e.g. "Authorization": "Bearer \${TOKEN}")`,
      });
    }
    const declared = entry.type ?? entry.transportType;
    const type = declared === "sse" ? "sse" : declared === undefined ? "auto" : "http";
    transport = { type, url, headers: entry.headers ?? {} };
  }
  const upstream: UpstreamSpec = { name, transport };
  const ext = entry["x-agentSre"];
  const timeout = ext?.timeoutMs ?? entry.timeout;
  if (timeout !== undefined)
    upstream.timeoutMs = parseDuration(timeout, `${path}.timeoutMs`, { allowZero: true });
  if (ext?.prefix !== undefined) {
    if (ext.prefix !== "" && !/^[A-Za-z0-9_.-]{1,64}$/.test(ext.prefix)) {
      issues.push({
        path: `${path}["x-agentSre"].prefix`,
        message: "a prefix must be characters of [A-Za-z0-9_.-]",
      });
    }
    upstream.prefix = ext.prefix;
  }
  if (ext?.tools !== undefined) {
    upstream.tools = {};
    if (ext.tools.allow) upstream.tools.allow = ext.tools.allow;
    if (ext.tools.deny) upstream.tools.deny = ext.tools.deny;
    if (ext.tools.costs) upstream.tools.costs = ext.tools.costs;
  }
  if (ext?.drift !== undefined) upstream.drift = ext.drift;
  if (ext?.shared !== undefined) upstream.shared = ext.shared;
  return upstream;
}

/** `KEY=value` lines; `#` comments; optional quotes; `${VAR}` expanded from the environment. */
function parseEnvFile(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    let value = match[2] as string;
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) {
      value = value.slice(1, -1);
    }
    out[match[1] as string] = value.replace(
      /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g,
      (_, name: string) => env[name] ?? "",
    );
  }
  return out;
}

/** `"127.0.0.1:7341"`, `"[::1]:7341"`, `":7341"`, `"7341"` or `7341` → host and port (host default 127.0.0.1). */
export function parseListenAddress(value: string | number): { host: string; port: number } {
  if (typeof value === "number") return { host: "127.0.0.1", port: checkPort(value, String(value)) };
  const text = value.trim();
  if (/^\d+$/.test(text)) return { host: "127.0.0.1", port: checkPort(Number(text), value) };
  const match = /^(\[[^\]]+\]|[^:[\]]*):(\d+)$/.exec(text);
  if (!match) throw new Error(`expected "host:port" or a port, got ${JSON.stringify(value)}`);
  const rawHost = match[1] as string;
  const host = rawHost === "" ? "127.0.0.1" : rawHost.replace(/^\[|\]$/g, "");
  return { host, port: checkPort(Number(match[2]), value) };
}

function checkPort(port: number, raw: string): number {
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`invalid port in ${JSON.stringify(raw)}`);
  return port;
}

/** Builds the engine pieces each section configures, so an engine-level error is reported at its path. */
function checkEngineSections(section: AgentSreSection): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const attempt = (path: string, build: () => void) => {
    try {
      build();
    } catch (error) {
      // The engine reports every problem of a section at once, with paths inside its own options.
      if (error instanceof ConfigError && error.issues.length > 0) {
        for (const issue of error.issues) {
          const field =
            path === "agentSre.budgets" && issue.field.startsWith("budget.")
              ? issue.field.slice(7)
              : issue.field;
          issues.push(
            engineIssue(path, new ConfigError(field, issue.value, issue.expected, issue.suggestion)),
          );
        }
      } else issues.push(engineIssue(path, error));
    }
  };
  if (section.budgets !== undefined) {
    attempt("agentSre.budgets", () => new AgentSRE({ budget: section.budgets as AgentSREOptions["budget"] }));
  }
  if (section.breakers !== undefined) {
    attempt(
      "agentSre.breakers",
      () => new AgentSRE({ breakers: section.breakers as AgentSREOptions["breakers"] }),
    );
  }
  if (section.rogue !== undefined) {
    attempt("agentSre.rogue", () => new AgentSRE({ rogue: section.rogue as AgentSREOptions["rogue"] }));
  }
  if (section.tools?.timeoutMs !== undefined) {
    attempt("agentSre.tools.timeoutMs", () =>
      parseDuration(section.tools?.timeoutMs as number, "timeoutMs", { allowZero: true }),
    );
  }
  if (section.retryBudget !== undefined) {
    attempt("agentSre.retryBudget", () => new AgentSRE({ retryBudget: section.retryBudget as false }));
  }
  if (section.cascade !== undefined) {
    attempt("agentSre.cascade", () => new AgentSRE({ cascade: section.cascade as CascadeResponseOptions }));
  }
  section.chaos?.schedules?.forEach((schedule, index) => {
    const path = `agentSre.chaos.schedules[${index}]`;
    try {
      buildExperiment(
        { ...schedule.experiment, name: schedule.experiment.name ?? schedule.name },
        `${path}.experiment`,
      );
    } catch (error) {
      issues.push(engineIssue(`${path}.experiment`, error));
    }
  });
  if (section.chaos?.schedules !== undefined || section.chaos?.blackouts !== undefined) {
    // Cron expressions, time zones and windows are checked by building the scheduler (not started).
    attempt("agentSre.chaos", () => buildScheduler(new AgentSRE({}), section.chaos ?? {}));
  }
  section.chaos?.experiments?.forEach((experiment, index) => {
    const path = `agentSre.chaos.experiments[${index}]`;
    try {
      buildExperiment(experiment, path);
    } catch (error) {
      issues.push(engineIssue(path, error));
    }
  });
  return issues;
}

function engineIssue(path: string, error: unknown): ConfigIssue {
  if (error instanceof ConfigError) {
    const field = error.field.startsWith(path) ? error.field : `${path}.${error.field}`;
    return { path: field, message: error.message.replace(/^Invalid [^:]+: /, "invalid value ") };
  }
  if (error instanceof ConfigFileError) return error.issues[0] ?? { path, message: error.message };
  return { path, message: error instanceof Error ? error.message : String(error) };
}

/** Builds the (unstarted) chaos scheduler of an `agentSre.chaos` section over an engine. */
export function buildScheduler(
  host: ChaosSchedulerHost,
  chaos: NonNullable<AgentSreSection["chaos"]>,
  store?: ChaosRunStore,
): ChaosScheduler {
  return new ChaosScheduler(host, {
    schedules: (chaos.schedules ?? []).map((schedule, index) => {
      const config = { ...schedule.experiment, name: schedule.experiment.name ?? schedule.name };
      return {
        name: schedule.name,
        cron: schedule.cron,
        ...(schedule.timezone === undefined ? {} : { timezone: schedule.timezone }),
        ...(schedule.catchUpWithinMs === undefined ? {} : { catchUpWithinMs: schedule.catchUpWithinMs }),
        ...(schedule.enabled === undefined ? {} : { enabled: schedule.enabled }),
        experiment: () =>
          buildExperiment(config as ExperimentConfig, `agentSre.chaos.schedules[${index}].experiment`),
      };
    }),
    blackouts: (chaos.blackouts ?? []) as BlackoutWindow[],
    ...(store === undefined ? {} : { store }),
  });
}

/** Turns an `agentSre.chaos.experiments[]` entry into a `ChaosExperiment` (not started). */
export function buildExperiment(config: ExperimentConfig, path = "experiment"): ChaosExperiment {
  const faults: Fault[] = config.faults.map((raw, index) => {
    const field = `${path}.faults[${index}]`;
    const {
      type,
      target = "tool:*",
      ...rest
    } = raw as Record<string, unknown> & { type: string; target?: string };
    try {
      switch (type) {
        case "latency":
          return latencyInjection(target, rest as unknown as Parameters<typeof latencyInjection>[1]);
        case "error":
          return errorInjection(target, rest as Parameters<typeof errorInjection>[1]);
        case "timeout":
          return timeoutInjection(target, rest as unknown as Parameters<typeof timeoutInjection>[1]);
        case "prompt-injection":
          return promptInjection(target, rest as Parameters<typeof promptInjection>[1]);
        case "privilege-escalation":
          return privilegeEscalation(target, rest as Parameters<typeof privilegeEscalation>[1]);
        default:
          return toolAbuse(target, rest as Parameters<typeof toolAbuse>[1]);
      }
    } catch (error) {
      if (error instanceof ConfigError) {
        const sub = error.field === "fault" ? "" : `.${error.field}`;
        throw new ConfigFileError([
          { path: `${field}${sub}`, message: error.message.replace(/^Invalid [^:]+: /, "invalid value ") },
        ]);
      }
      throw error;
    }
  });
  const options: ConstructorParameters<typeof ChaosExperiment>[0] = { name: config.name, faults };
  if (config.description !== undefined) options.description = config.description;
  if (config.targetAgent !== undefined) options.targetAgent = config.targetAgent;
  if (config.durationMs !== undefined) options.durationMs = config.durationMs;
  if (config.blastRadius !== undefined) options.blastRadius = config.blastRadius;
  if (config.seed !== undefined) options.seed = config.seed;
  if (config.abortConditions !== undefined) {
    options.abortConditions = config.abortConditions as unknown as NonNullable<
      typeof options.abortConditions
    >;
  }
  return new ChaosExperiment(options);
}

const KNOWN_KEYS: Record<string, readonly string[]> = {};

function zodIssues(error: z.ZodError): ConfigIssue[] {
  return issuesOf(error.issues, []);
}

function issuesOf(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[]): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        out.push({ path: formatPath([...path, key]), message: unknownKeyMessage(path, key) });
      }
      continue;
    }
    if (issue.code === "invalid_union") {
      // Report every problem of the branch that got furthest (the most specific path), not "invalid input".
      const branches = (issue as unknown as { errors: z.core.$ZodIssue[][] }).errors;
      const depth = (branch: z.core.$ZodIssue[]) => Math.max(0, ...branch.map((i) => i.path.length));
      const best = [...branches].sort((a, b) => depth(b) - depth(a)).at(0);
      if (best !== undefined && depth(best) > 0) {
        out.push(...issuesOf(best, path));
        continue;
      }
    }
    out.push({ path: formatPath(path), message: cleanMessage(issue.message) });
  }
  return out;
}

function cleanMessage(message: string): string {
  return message.replace(/^Invalid input: /, "");
}

const SECTION_KEYS: Record<string, readonly string[]> = {
  agentSre: [
    "naming",
    "agents",
    "tools",
    "rateLimits",
    "breakers",
    "budgets",
    "rogue",
    "chaos",
    "audit",
    "listen",
    "drift",
    "identity",
    "supervision",
    "alerts",
    "state",
  ],
  tools: ["allow", "deny", "costs", "timeoutMs", "hideDenied", "errorsAreFailures"],
  listen: [
    "http",
    "stdio",
    "path",
    "token",
    "allowedHosts",
    "allowedOrigins",
    "sessionIdleMs",
    "maxSessions",
  ],
  "x-agentSre": ["prefix", "timeoutMs", "tools", "drift"],
};

function unknownKeyMessage(parent: ReadonlyArray<PropertyKey>, key: string): string {
  const parentName = String(parent.at(-1) ?? "");
  const candidates = SECTION_KEYS[parentName] ?? KNOWN_KEYS[parentName] ?? [];
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
