import { existsSync } from "node:fs";
import { basename, resolve } from "node:path";
import { type ParseArgsConfig, parseArgs } from "node:util";
import {
  ConfigFileError,
  createLogger,
  createProxyFromConfig,
  type DriftPolicy,
  type HttpListenOptions,
  type LogLevel,
  loadConfigFile,
  type McpProxy,
  type McpProxyOptions,
  type ProxyConfig,
  type ProxyStatus,
  parseConfig,
  parseListenAddress,
  VERSION,
} from "@agent-sre/mcp-proxy";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { ChaosUsageError, chaosCommand } from "./chaos-command.js";
import { diffCommand, ReplayUsageError, replayCommand } from "./replay-command.js";
import {
  defaultStateFile,
  describeState,
  openStore,
  readOfflineStatus,
  renderOfflineStatus,
  resolveStateSpec,
} from "./state.js";
import { renderStatus } from "./status-table.js";

/** Where the CLI writes and what it reads; replaceable in tests. */
export interface CliIO {
  /** Human output (validate results, status tables, help). Never used by `proxy` over stdio. */
  out: (text: string) => void;
  /** Logs and errors. */
  err: (text: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** The stdio front: defaults to the process's stdin/stdout. */
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
  /** Registers shutdown signals (default: SIGINT/SIGTERM on the process). */
  onSignal?: (handler: (signal: string) => void) => () => void;
  /** Receives the running proxy (tests and embedding). */
  onProxy?: (proxy: McpProxy, listeners: Array<{ url: string }>) => void;
  fetch?: typeof fetch;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

const HELP = `agent-sre ${VERSION}: site-reliability engineering for AI agents

Usage:
  agent-sre proxy --config <file> [options]      serve the MCP servers of a config (stdio and/or HTTP)
  agent-sre proxy [options] -- <command> [args]  wrap one stdio MCP server with defaults
  agent-sre validate <file> [--json]             check a config; every problem with its JSON path
  agent-sre status --url <url> [--token <t>]     show a running proxy's agents, breakers and budgets
  agent-sre status --state <file>                read a state file offline (default .agent-sre/state.db)
  agent-sre chaos list|run <s>|history --url <url>  scheduled chaos of a running proxy
  agent-sre replay <trace.jsonl> [--config <f>]  re-decide a recorded run under a config (what-if: which call
                                                 would it stop?); exit 1 when any call is decided differently
  agent-sre diff <a.jsonl> <b.jsonl> [--ignore <path>]  step-by-step diff of two traces; exit 1 when they differ
  agent-sre demo [--scene <name>] [--json]       a fleet of real agents failing, and the guard containing each
  agent-sre dashboard [--port <n>]               the demo fleet with its live web dashboard, kept serving
                                                 (a proxy serves its own at /dashboard on --http)
  agent-sre help | --help, agent-sre --version

Proxy options:
  -c, --config <file>    agent-sre.config.json / .yaml (mcpServers or VS Code "servers" + an agentSre section)
      --http <addr>      also serve Streamable HTTP, e.g. 127.0.0.1:7341 (GET /status, /metrics on it too)
      --no-stdio         do not serve stdio (HTTP only)
      --token <token>    bearer token for HTTP clients (or AGENT_SRE_TOKEN); required beyond 127.0.0.1
      --audit <file>     append one JSON line per tool call to <file>
      --pins <file>      keep tool pins (drift protection) in <file> across restarts
      --drift <policy>   warn | block | freeze when a tool definition changes (default warn)
      --timeout <dur>    timeout of every tool call, e.g. 30s (default: none)
      --state <spec>     where spend, kills and breakers are kept: a SQLite file, "memory" or redis://...
                         (default: .agent-sre/state.db beside the config, or $AGENT_SRE_STATE_DIR/state.db)
      --name <name>      server name in -- mode (default: derived from the command)
      --log-level <lvl>  debug | info | warn | error | silent (default info, or AGENT_SRE_LOG)

Everything the proxy logs goes to stderr: stdout carries the MCP protocol under stdio.

Examples:
  agent-sre proxy -- npx -y @modelcontextprotocol/server-filesystem ./data
  agent-sre proxy --config agent-sre.config.json --http 127.0.0.1:7341
  agent-sre validate agent-sre.config.json
  agent-sre status --url http://127.0.0.1:7341

Exit codes: 0 ok, 1 failure (invalid config, unreachable proxy), 2 usage error.`;

const DEFAULT_CONFIGS = ["agent-sre.config.json", "agent-sre.config.yaml", "agent-sre.config.yml"];

class UsageError extends Error {}

/** Runs the CLI; resolves with the exit code (for `proxy`: once the proxy has shut down). */
export async function run(argv: readonly string[], io: Partial<CliIO> = {}): Promise<number> {
  const cli: CliIO = {
    out: io.out ?? ((text) => process.stdout.write(`${text}\n`)),
    err: io.err ?? ((text) => process.stderr.write(`${text}\n`)),
    env: io.env ?? process.env,
    cwd: io.cwd ?? process.cwd(),
    ...(io.stdin === undefined ? {} : { stdin: io.stdin }),
    ...(io.stdout === undefined ? {} : { stdout: io.stdout }),
    ...(io.onSignal === undefined ? {} : { onSignal: io.onSignal }),
    ...(io.onProxy === undefined ? {} : { onProxy: io.onProxy }),
    ...(io.fetch === undefined ? {} : { fetch: io.fetch }),
  };
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case "help":
      case "--help":
      case "-h":
        cli.out(HELP);
        return command === undefined ? EXIT_USAGE : EXIT_OK;
      case "--version":
      case "-v":
      case "version":
        cli.out(VERSION);
        return EXIT_OK;
      case "proxy":
        return await proxyCommand(rest, cli);
      case "validate":
        return validateCommand(rest, cli);
      case "status":
        return await statusCommand(rest, cli);
      case "chaos":
        return await runChaos(rest, cli);
      case "replay":
        return await replayCommand(rest, cli);
      case "diff":
        return diffCommand(rest, cli);
      case "dashboard": {
        const { runDemoCli } = await import("@agent-sre/demo");
        return await runDemoCli(["--serve", ...rest]);
      }
      case "demo": {
        // Loaded on demand from an optional peer: the demo brings LangChain.js and the AI SDK, which users
        // of the proxy do not install.
        const demo = await loadDemo();
        if (demo === undefined) {
          cli.err(DEMO_MISSING);
          return EXIT_FAILURE;
        }
        return await demo.runDemoCli(rest);
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof ReplayUsageError) {
      cli.err(`agent-sre: ${error.message}\nRun "agent-sre --help" for usage.`);
      return EXIT_USAGE;
    }
    if (error instanceof ConfigFileError) {
      cli.err(`agent-sre: invalid config ${error.message}`);
      return EXIT_FAILURE;
    }
    cli.err(`agent-sre: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_FAILURE;
  }
}

function parse<T extends NonNullable<ParseArgsConfig["options"]>>(args: readonly string[], options: T) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ""));
  }
}

// ---------------------------------------------------------------------------------------------
// proxy

async function proxyCommand(args: readonly string[], cli: CliIO): Promise<number> {
  const separator = args.indexOf("--");
  const own = separator < 0 ? args : args.slice(0, separator);
  const wrapped = separator < 0 ? [] : args.slice(separator + 1);
  const { values, positionals } = parse(own, {
    config: { type: "string", short: "c" },
    http: { type: "string" },
    stdio: { type: "boolean" },
    "no-stdio": { type: "boolean" },
    token: { type: "string" },
    audit: { type: "string" },
    pins: { type: "string" },
    drift: { type: "string" },
    timeout: { type: "string" },
    state: { type: "string" },
    name: { type: "string" },
    "log-level": { type: "string" },
  });
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}" (put the server command after "--")`);
  }
  const level = (values["log-level"] ?? cli.env.AGENT_SRE_LOG ?? "info") as LogLevel;
  if (!["debug", "info", "warn", "error", "silent"].includes(level))
    throw new UsageError(`invalid --log-level "${level}"`);
  const drift = values.drift as DriftPolicy | undefined;
  if (drift !== undefined && !["warn", "block", "freeze"].includes(drift)) {
    throw new UsageError(`invalid --drift "${drift}" (warn, block or freeze)`);
  }
  const logger = createLogger(level, (line) => cli.err(line.replace(/\n$/, "")));

  let config: ProxyConfig;
  if (wrapped.length > 0) {
    if (values.config !== undefined) throw new UsageError('use either --config or "-- <command>", not both');
    const [command, ...commandArgs] = wrapped as [string, ...string[]];
    const name = values.name ?? serverName(command, commandArgs);
    config = parseConfig(
      { mcpServers: { [name]: { command, args: commandArgs } } },
      { env: cli.env, baseDir: cli.cwd },
    );
  } else {
    const file = values.config ?? DEFAULT_CONFIGS.map((f) => resolve(cli.cwd, f)).find((f) => existsSync(f));
    if (file === undefined) {
      throw new UsageError(
        'no config: pass --config <file> or "-- <command> [args]" (or create agent-sre.config.json)',
      );
    }
    config = loadConfigFile(resolve(cli.cwd, file), { env: cli.env });
  }
  for (const warning of config.warnings) logger.warn(`config: ${warning.path}: ${warning.message}`);

  const section = config.agentSre;
  if (values.audit !== undefined) section.audit = { file: resolve(cli.cwd, values.audit) };
  if (values.pins !== undefined || drift !== undefined) {
    section.drift = { ...(section.drift ?? {}) };
    if (values.pins !== undefined) section.drift.pinFile = resolve(cli.cwd, values.pins);
    if (drift !== undefined) section.drift.policy = drift;
  }
  if (values.timeout !== undefined) section.tools = { ...(section.tools ?? {}), timeoutMs: values.timeout };

  const httpAddress = values.http ?? section.listen?.http;
  const stdio = values["no-stdio"] === true ? false : (values.stdio ?? section.listen?.stdio ?? true);
  if (!stdio && httpAddress === undefined)
    throw new UsageError("--no-stdio needs --http (or agentSre.listen.http)");

  const stateSpec = resolveStateSpec(values.state, section.state, cli.env, config.baseDir, cli.cwd);
  let store: Awaited<ReturnType<typeof openStore>>;
  try {
    store = await openStore(stateSpec);
    logger.info(`state: ${describeState(stateSpec)}`);
  } catch (error) {
    // The default is best effort (e.g. the SQLite binding was built for another Node version); a state the
    // user asked for is required.
    if (values.state !== undefined || section.state !== undefined) throw error;
    logger.warn(
      `state: ${describeState(stateSpec)} unavailable (${(error as Error).message.split("\n")[0]}); keeping state in memory: a restart forgets spend, kills and breakers (pass --state to require one)`,
    );
    store = undefined;
  }
  let proxy: McpProxy | undefined;
  const closeStore = async () => {
    try {
      proxy?.sre.flush(); // SLO counts saved on a schedule: a planned stop keeps them all
    } catch (error) {
      logger.error(`state: ${String(error)}`);
    }
    await Promise.resolve(store?.close?.()).catch((error: unknown) =>
      logger.error(`state: ${String(error)}`),
    );
  };
  try {
    // The state store also keeps the alert outbox: queued pages and alert state survive a restart (SQLite),
    // and a fleet on one Redis delivers each page once.
    const alertStore = (
      store as { alertOutbox?: () => McpProxyOptions["alertStore"] } | undefined
    )?.alertOutbox?.();
    proxy = createProxyFromConfig(config, {
      logger,
      ...(store === undefined ? {} : { store }),
      ...(alertStore === undefined ? {} : { alertStore }),
    });
  } catch (error) {
    await closeStore();
    throw error;
  }
  const listeners: Array<{ url: string }> = [];
  let finished!: (code: number) => void;
  const done = new Promise<number>((resolveDone) => {
    finished = resolveDone;
  });
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await proxy.close().catch((error: unknown) => logger.error(`shutdown: ${String(error)}`));
    await closeStore();
    finished(code);
  };

  const onSignal =
    cli.onSignal ??
    ((handler: (signal: string) => void) => {
      const listener = (signal: NodeJS.Signals) => handler(signal);
      process.on("SIGINT", listener);
      process.on("SIGTERM", listener);
      process.on("SIGHUP", listener);
      return () => {
        process.off("SIGINT", listener);
        process.off("SIGTERM", listener);
        process.off("SIGHUP", listener);
      };
    });
  // Orphan guard: MCP clients often start us through a wrapper (`npx agent-sre …`) and signal the wrapper,
  // which dies without passing the signal on. When our parent changes, whoever started us is gone: shut down
  // (closing every upstream child) instead of running on unseen.
  const parentPid = process.ppid;
  const parentWatch = setInterval(() => {
    if (process.ppid === parentPid) return;
    logger.warn(`the process that started the proxy (pid ${parentPid}) exited: shutting down`);
    void stop(EXIT_OK);
  }, 500);
  parentWatch.unref();
  let signals = 0;
  const offSignal = onSignal((signal) => {
    signals++;
    if (signals > 1) {
      logger.error(`${signal} again: exiting without waiting`);
      finished(EXIT_FAILURE);
      return;
    }
    logger.info(`${signal}: shutting down (flushing the audit log, closing upstream sessions)`);
    void stop(EXIT_OK);
  });

  try {
    if (httpAddress !== undefined) {
      const { host, port } = parseListenAddress(httpAddress);
      const listen: HttpListenOptions = { host, port };
      const token = values.token ?? section.listen?.token ?? cli.env.AGENT_SRE_TOKEN;
      if (token !== undefined && token !== "") listen.token = token;
      if (section.listen?.path !== undefined) listen.path = section.listen.path;
      if (section.listen?.allowedHosts !== undefined) listen.allowedHosts = section.listen.allowedHosts;
      if (section.listen?.allowedOrigins !== undefined) listen.allowedOrigins = section.listen.allowedOrigins;
      if (section.listen?.sessionIdleMs !== undefined) listen.sessionIdleMs = section.listen.sessionIdleMs;
      if (section.listen?.maxSessions !== undefined) listen.maxSessions = section.listen.maxSessions;
      if (section.listen?.maxSessionsPerClient !== undefined)
        listen.maxSessionsPerClient = section.listen.maxSessionsPerClient;
      if (section.listen?.unusedSessionIdleMs !== undefined)
        listen.unusedSessionIdleMs = section.listen.unusedSessionIdleMs;
      if (section.listen?.maxBodyBytes !== undefined) listen.maxBodyBytes = section.listen.maxBodyBytes;
      const listener = await proxy.listen(listen);
      listeners.push(listener);
      logger.info(
        `serving Streamable HTTP on ${listener.url} (status: ${listener.url.replace(/\/mcp$|\/[^/]*$/, "")}/status)`,
      );
    }
    if (stdio) {
      const output = cli.stdout ?? process.stdout;
      // Node writes to a pipe synchronously on Linux, so every reply stalls the proxy until the client's
      // end has taken it; non-blocking writes (queued, flushed before exit) save a hand-off per message.
      (output as { _handle?: { setBlocking?: (blocking: boolean) => void } })._handle?.setBlocking?.(false);
      const transport = new StdioServerTransport((cli.stdin ?? process.stdin) as never, output as never);
      const session = await proxy.connect(transport);
      proxy.on("session.close", (event) => {
        // The stdio client went away: nothing is left to serve unless HTTP is on.
        if (event.session === session.id && httpAddress === undefined) void stop(EXIT_OK);
      });
      (cli.stdin ?? process.stdin).once("end", () => {
        if (httpAddress === undefined) void stop(EXIT_OK);
        else void session.close();
      });
      logger.info(
        `serving stdio in front of ${config.upstreams.map((u) => `"${u.name}"`).join(", ")} (${config.upstreams.length} upstream${config.upstreams.length === 1 ? "" : "s"})`,
      );
    }
  } catch (error) {
    offSignal();
    clearInterval(parentWatch);
    await proxy.close().catch(() => {});
    await closeStore();
    throw error;
  }
  cli.onProxy?.(proxy, listeners);
  const code = await done;
  offSignal();
  clearInterval(parentWatch);
  return code;
}

/**
 * A server name for `--` mode: `npx -y @scope/server-foo@1.2 ./x` → `server-foo`;
 * `node node_modules/@x/server-bar/dist/index.js` → `server-bar`; `./my-server` → `my-server`.
 */
export function serverName(command: string, args: readonly string[]): string {
  const launchers = [
    "npx",
    "pnpx",
    "bunx",
    "uvx",
    "pipx",
    "node",
    "python",
    "python3",
    "deno",
    "bun",
    "docker",
  ];
  const base = basename(command);
  let candidate = launchers.includes(base)
    ? (args.find((a) => !a.startsWith("-") && a !== "run") ?? base)
    : command;
  if (/[\\/]/.test(candidate) && !candidate.startsWith("@")) {
    // A path: the script's name, or its package folder for generic entry points (dist/index.js).
    const parts = candidate.split(/[\\/]/).filter((p) => p !== "" && p !== ".");
    const generic = new Set(["index", "main", "server", "cli", "dist", "build", "lib", "src", "bin", "out"]);
    const stem = (parts.at(-1) ?? "").replace(/\.(m?js|cjs|ts|py)$/, "");
    let pick = stem;
    for (let i = parts.length - 1; i >= 0 && generic.has(pick); i--)
      pick = (parts[i] ?? "").replace(/\.(m?js|cjs|ts|py)$/, "");
    candidate = pick;
  }
  const cleaned = candidate
    .replace(/^@[^/]+\//, "")
    .replace(/@[^/@]*$/, "")
    .replace(/\.(m?js|cjs|ts|py)$/, "")
    .replace(/[^A-Za-z0-9_.-]/g, "-")
    .slice(0, 64);
  return cleaned === "" || cleaned === "-" ? "server" : cleaned;
}

// ---------------------------------------------------------------------------------------------
// validate

function validateCommand(args: readonly string[], cli: CliIO): number {
  const { values, positionals } = parse(args, { json: { type: "boolean" } });
  const file = positionals[0] ?? DEFAULT_CONFIGS.map((f) => resolve(cli.cwd, f)).find((f) => existsSync(f));
  if (file === undefined) throw new UsageError("validate needs a config file");
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  try {
    const config = loadConfigFile(resolve(cli.cwd, file), { env: cli.env });
    if (values.json) {
      cli.out(
        JSON.stringify(
          { valid: true, file, servers: config.upstreams.map((u) => u.name), warnings: config.warnings },
          null,
          2,
        ),
      );
      return EXIT_OK;
    }
    const servers = config.upstreams.map((u) => `${u.name} (${u.transport.type})`).join(", ");
    cli.out(
      `${file}: valid: ${config.upstreams.length} server${config.upstreams.length === 1 ? "" : "s"}: ${servers}`,
    );
    const receivers = Object.entries(
      (config.agentSre.alerts?.receivers ?? {}) as Record<string, { type?: string }>,
    );
    if (receivers.length > 0)
      cli.out(`  alerts: ${receivers.map(([name, r]) => `${name} (${r.type ?? "?"})`).join(", ")}`);
    for (const warning of config.warnings) cli.out(`  warning: ${warning.path}: ${warning.message}`);
    return EXIT_OK;
  } catch (error) {
    if (!(error instanceof ConfigFileError)) throw error;
    if (values.json) {
      cli.out(JSON.stringify({ valid: false, file, issues: error.issues }, null, 2));
    } else {
      cli.err(`${file}: invalid: ${error.issues.length} problem${error.issues.length === 1 ? "" : "s"}`);
      for (const issue of error.issues) cli.err(`  ${issue.path}: ${issue.message}`);
    }
    return EXIT_FAILURE;
  }
}

async function runChaos(args: readonly string[], cli: CliIO): Promise<number> {
  try {
    return await chaosCommand(args, cli);
  } catch (error) {
    if (error instanceof ChaosUsageError) throw new UsageError(error.message);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// status

async function statusCommand(args: readonly string[], cli: CliIO): Promise<number> {
  const { values } = parse(args, {
    url: { type: "string" },
    token: { type: "string" },
    state: { type: "string" },
    json: { type: "boolean" },
  });
  const base = values.url ?? cli.env.AGENT_SRE_URL;
  const stateFile =
    values.state === undefined
      ? base === undefined
        ? defaultStateFile(cli.env, cli.cwd)
        : undefined
      : resolve(cli.cwd, values.state);
  if (stateFile !== undefined) {
    const offline = await readOfflineStatus(stateFile);
    cli.out(values.json ? JSON.stringify(offline, null, 2) : renderOfflineStatus(offline));
    return EXIT_OK;
  }
  if (base === undefined) {
    throw new UsageError("status needs --url (e.g. http://127.0.0.1:7341) or --state <file>");
  }
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new UsageError(`invalid --url "${base}"`);
  }
  url.pathname = `${url.pathname.replace(/\/(mcp|status)?\/?$/, "")}/status`;
  const token = values.token ?? cli.env.AGENT_SRE_TOKEN;
  const doFetch = cli.fetch ?? fetch;
  let response: Response;
  try {
    response = await doFetch(url, {
      headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    cli.err(`agent-sre: cannot reach ${url.href}${cause ? ` (${cause})` : `: ${(error as Error).message}`}`);
    return EXIT_FAILURE;
  }
  if (response.status === 401) {
    cli.err(`agent-sre: ${url.href} needs a bearer token (--token or AGENT_SRE_TOKEN)`);
    return EXIT_FAILURE;
  }
  if (!response.ok) {
    cli.err(`agent-sre: ${url.href} answered HTTP ${response.status}`);
    return EXIT_FAILURE;
  }
  const status = (await response.json()) as ProxyStatus;
  cli.out(values.json ? JSON.stringify(status, null, 2) : renderStatus(status));
  return EXIT_OK;
}

const DEMO_MISSING = `agent-sre: the demo is a separate package (it brings LangChain.js and the AI SDK).
Run it with:      npx @agent-sre/demo
or install it:    npm install -g @agent-sre/demo   (next to @agent-sre/cli), then: agent-sre demo`;

/** The demo package, or undefined when it is not installed (any other load error is thrown). */
async function loadDemo(): Promise<typeof import("@agent-sre/demo") | undefined> {
  try {
    return await import("@agent-sre/demo");
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const missing =
      (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") &&
      String((error as Error).message).includes("@agent-sre/demo");
    if (missing) return undefined;
    throw error;
  }
}
