import { readFileSync } from "node:fs";
import { dirname, extname, isAbsolute, resolve } from "node:path";
import { parseAlertsConfig } from "@agent-sre/alerts";
import { type FailureClass, parseDuration } from "@agent-sre/core";
import { parse as parseYaml } from "yaml";
import { deliveryIssues } from "../delivery.js";
import { isLoopback } from "../http.js";
import { urlCredentials } from "../redact.js";
import { checkEngineSections } from "./engine-sections.js";
import { formatPath, interpolateDocument } from "./interpolate.js";
import {
  ConfigFileError,
  type ConfigIssue,
  hasIssueAt,
  serverEntryKeyIssues,
  sortIssues,
  zodIssues,
} from "./issues.js";
import { parseJsonc } from "./jsonc.js";
import {
  type AgentSreSection,
  configDocument,
  type DriftPolicy,
  type ServerEntry,
  serverEntry,
  transportProblems,
} from "./schema.js";

export { buildExperiment, buildScheduler } from "./engine-sections.js";
export { ConfigFileError, type ConfigIssue } from "./issues.js";

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
  /** Whose failure this server's `isError` results are (default: `tools.isErrorClass`, else `caller`). */
  isErrorClass?: FailureClass;
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

  // Every check runs, whatever the others found, so one run reports every problem (a part the schema
  // rejected is not checked further: its values may not have the right types).
  const parsed = configDocument.safeParse(value);
  const issues: ConfigIssue[] = parsed.success ? [] : zodIssues(parsed.error, configDocument);
  issues.push(...entryTransportIssues(value), ...serverEntryKeyIssues(value), ...alertsIssues(value, env));
  const raw = (isRecord(value) ? value : {}) as Record<string, unknown>;

  const upstreams: UpstreamSpec[] = [];
  for (const section of ["mcpServers", "servers"] as const) {
    const entries = raw[section];
    if (!isRecord(entries)) continue;
    for (const [name, rawEntry] of Object.entries(entries)) {
      const path = formatPath([section, name]);
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
        issues.push({
          path,
          message: "a server name must be 1-64 characters of [A-Za-z0-9_.-] (it prefixes tool names)",
        });
        continue;
      }
      const entry = serverEntry.safeParse(rawEntry);
      if (!entry.success || hasIssueAt(issues, path)) continue;
      if (entry.data.disabled === true || entry.data.enabled === false) {
        warnings.push({ path, message: "disabled: not started" });
        continue;
      }
      upstreams.push(toUpstream(name, entry.data, path, baseDir, env, issues, warnings));
    }
  }
  const listed = isRecord(raw.mcpServers) || isRecord(raw.servers);
  if (
    upstreams.length === 0 &&
    listed &&
    !hasIssueAt(issues, "mcpServers") &&
    !hasIssueAt(issues, "servers")
  ) {
    issues.push({ path: isRecord(raw.mcpServers) ? "mcpServers" : "servers", message: "no enabled server" });
  }

  const agentSre = (isRecord(raw.agentSre) ? raw.agentSre : {}) as AgentSreSection;
  issues.push(...checkEngineSections(agentSre, issues));
  issues.push(
    ...deliveryIssues(
      agentSre.delivery,
      upstreams.map((upstream) => upstream.name),
    ),
  );
  issues.push(...listenIssues(agentSre, issues, env));
  if (issues.length > 0) throw new ConfigFileError(sortIssues(issues, raw), options.file);

  // Valid: the parsed (typed) section, with relative paths resolved against the config's folder.
  const section = (parsed.success ? parsed.data.agentSre : undefined) ?? {};
  if (section.audit && !isAbsolute(section.audit.file))
    section.audit.file = resolve(baseDir, section.audit.file);
  if (section.record && !isAbsolute(section.record.dir))
    section.record.dir = resolve(baseDir, section.record.dir);
  const state = section.state;
  if (typeof state === "object" && "sqlite" in state && !isAbsolute(state.sqlite)) {
    state.sqlite = resolve(baseDir, state.sqlite);
  }
  if (section.drift?.pinFile !== undefined && !isAbsolute(section.drift.pinFile)) {
    section.drift.pinFile = resolve(baseDir, section.drift.pinFile);
  }
  const config: ProxyConfig = { upstreams, agentSre: section, warnings, baseDir };
  if (options.file !== undefined) config.file = options.file;
  return config;
}

/**
 * `listen.http` must parse, and an address beyond loopback needs a bearer token: the proxy refuses to
 * start without one (`listen.token` or `AGENT_SRE_TOKEN`; `--token` on the command line also gives one).
 */
function listenIssues(
  section: AgentSreSection,
  known: readonly ConfigIssue[],
  env: Readonly<Record<string, string | undefined>>,
): ConfigIssue[] {
  const http = section.listen?.http;
  if (http === undefined || hasIssueAt(known, "agentSre.listen.http")) return [];
  let host: string;
  try {
    host = parseListenAddress(http).host;
  } catch (error) {
    return [{ path: "agentSre.listen.http", message: (error as Error).message }];
  }
  const token = section.listen?.token ?? env.AGENT_SRE_TOKEN;
  if (isLoopback(host) || (typeof token === "string" && token !== "")) return [];
  return [
    {
      path: "agentSre.listen.token",
      message: `required to listen on ${host} (beyond loopback): set agentSre.listen.token (16+ characters) or AGENT_SRE_TOKEN, or listen on 127.0.0.1`,
    },
  ];
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function alertsIssues(document: unknown, env: Readonly<Record<string, string | undefined>>): ConfigIssue[] {
  const section = (document as { agentSre?: { alerts?: unknown } } | null)?.agentSre;
  if (typeof section !== "object" || section === null || section.alerts === undefined) return [];
  return parseAlertsConfig(section.alerts, { path: "agentSre.alerts", env }).issues;
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
  if (ext?.isErrorClass !== undefined) upstream.isErrorClass = ext.isErrorClass;
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
