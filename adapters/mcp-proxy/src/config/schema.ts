import { parseDuration } from "@agent-sre/core";
import { z } from "zod";
import { redactText } from "../redact.js";

/**
 * The `agent-sre.config.json` schema. Server entries are copied unchanged from Claude Desktop, Cursor,
 * Claude Code (`mcpServers`) or VS Code (`servers`), so they accept the keys those clients use and ignore
 * other clients' extras; the `agentSre` section is ours and strict (a typo is an error, not a silent no-op).
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

const glob = z.string().min(1, "expected a non-empty glob");
const globList = z.array(glob);
const globOrList = z.union([glob, globList]);
const nonNegative = z.number().finite().min(0);

const toolFilter = z.strictObject({
  /** Only these tools are exposed (globs over the upstream's own tool names). */
  allow: globList.optional(),
  /** These tools are never exposed. */
  deny: globList.optional(),
  /** Price per call in USD, by glob over the upstream's tool names. */
  costs: z.record(z.string().min(1), nonNegative).optional(),
});

export const DRIFT_POLICIES = ["warn", "block", "freeze"] as const;
export type DriftPolicy = (typeof DRIFT_POLICIES)[number];

/** Per-server settings of ours, under `"x-agentSre"` in a server entry. */
const serverExtension = z.strictObject({
  /** Prefix for this server's tool and prompt names; `""` exposes them unprefixed. */
  prefix: z.string().optional(),
  /** Timeout of this server's tool calls (0 = none). */
  timeoutMs: duration.optional(),
  tools: toolFilter.optional(),
  drift: z.enum(DRIFT_POLICIES).optional(),
  /**
   * Share one upstream session among all client sessions (for stateless servers: 100 HTTP sessions then
   * mean one child process, not 100). Sampling, elicitation and roots are not relayed for a shared server.
   */
  shared: z.boolean().optional(),
  /** Whose failure this server's `isError` results are (overrides `agentSre.tools.isErrorClass`). */
  isErrorClass: z.enum(["caller", "provider", "ignore"]).optional(),
});

const stringRecord = z.record(z.string(), z.string());

/**
 * One upstream as MCP clients write it. Loose here: other clients' extras (e.g. `autoApprove`) pass, and
 * keys nobody uses are reported by `serverEntryKeyIssues` (issues.ts) with everything else.
 */
export const serverEntry = z.looseObject({
  type: z.enum(["stdio", "http", "streamable-http", "streamableHttp", "sse"]).optional(),
  transportType: z.string().optional(),
  command: z.string().min(1, "expected a non-empty command").optional(),
  args: z.array(z.string()).optional(),
  env: stringRecord.optional(),
  envFile: z.string().optional(),
  cwd: z.string().optional(),
  url: z.string().optional(),
  headers: stringRecord.optional(),
  disabled: z.boolean().optional(),
  enabled: z.boolean().optional(),
  /** Claude-Desktop-style extra: a per-server timeout in ms. */
  timeout: z.number().finite().min(0).optional(),
  "x-agentSre": serverExtension.optional(),
});

/**
 * Which transport an entry describes, or what is wrong with it. Run on the raw entry (not as a zod
 * refinement) so a problem here is reported together with the entry's other problems.
 */
export function transportProblems(
  entry: Record<string, unknown>,
): Array<{ path: string[]; message: string }> {
  const type = entry.type;
  const command = entry.command;
  const url = entry.url;
  const httpType = type !== undefined && type !== "stdio";
  if (command !== undefined && url !== undefined) {
    return [{ path: [], message: 'has both "command" and "url": pick one transport' }];
  }
  if (type === "stdio" || (type === undefined && command !== undefined)) {
    return command === undefined ? [{ path: ["command"], message: 'a stdio server needs a "command"' }] : [];
  }
  if (httpType || url !== undefined) {
    if (url === undefined) return [{ path: ["url"], message: `a ${String(type)} server needs a "url"` }];
    if (typeof url !== "string" || url.includes("${")) return []; // type errors and unset variables are reported elsewhere
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return [{ path: ["url"], message: `not a valid URL: ${JSON.stringify(redactText(url))}` }];
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      return [{ path: ["url"], message: `expected an http(s) URL, got ${parsed.protocol}` }];
    }
    return [];
  }
  return [
    { path: [], message: 'needs a "command" (stdio server) or a "url" (Streamable HTTP / SSE server)' },
  ];
}

const agentPolicy = z.strictObject({
  allowedTools: globList.optional(),
  deniedTools: globList.optional(),
});

const rateLimitRule = z.strictObject({
  id: z.string().min(1).optional(),
  tools: globOrList.optional(),
  agents: globOrList.optional(),
  limit: z.number().finite().positive(),
  per: duration.optional(),
  burst: z.number().int().positive().optional(),
  scope: z.enum(["agent+tool", "agent", "tool", "global"]).optional(),
});

const fault = z.looseObject({
  // Ours, and the seed's (Python original's) names for the same faults.
  type: z.enum([
    "latency",
    "error",
    "timeout",
    "prompt-injection",
    "privilege-escalation",
    "tool-abuse",
    "latency_injection",
    "error_injection",
    "timeout_injection",
    "prompt_injection",
    "privilege_escalation",
    "tool_abuse",
  ]),
  target: z.string().min(1).optional(),
  rate: z.number().min(0).max(1).optional(),
  id: z.string().min(1).optional(),
});

const experiment = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  targetAgent: z.string().min(1).optional(),
  durationMs: duration.optional(),
  blastRadius: z
    .union([
      z.number().min(0).max(1),
      z.strictObject({
        calls: z.number().min(0).max(1).optional(),
        agents: z.number().min(0).max(1).optional(),
      }),
    ])
    .optional(),
  seed: z.union([z.number(), z.string()]).optional(),
  abortConditions: z.array(z.record(z.string(), z.unknown())).optional(),
  faults: z.array(fault).min(1, "an experiment needs at least one fault"),
});

const hostPort = z.union([z.string().min(1), z.number().int().min(0).max(65_535)]);

export const agentSreSection = z.strictObject({
  /** How tool and prompt names are prefixed: `auto` (only with more than one upstream), `always`, `never`. */
  naming: z
    .strictObject({
      prefix: z.enum(["auto", "always", "never"]).optional(),
      separator: z
        .string()
        .regex(/^[A-Za-z0-9_.-]{1,4}$/, "expected 1-4 characters of [A-Za-z0-9_.-]")
        .optional(),
    })
    .optional(),
  agents: z.record(z.string().min(1), agentPolicy).optional(),
  tools: z
    .strictObject({
      allow: globList.optional(),
      deny: globList.optional(),
      /** Price per call in USD, by glob over the exposed tool names. */
      costs: z.record(z.string().min(1), nonNegative).optional(),
      /** Timeout of every tool call (0 = none; default none: long tools are not cut at 60 s). */
      timeoutMs: duration.optional(),
      /** Hide tools an agent may not call from its `tools/list` (default true). */
      hideDenied: z.boolean().optional(),
      /** Count `isError` results and upstream protocol errors as breaker failures (default true). */
      errorsAreFailures: z.boolean().optional(),
      /**
       * Whose failure an `isError` tool result is: `caller` (default: the tool's answer about the calling
       * agent's request; counts against `agent:<id>` only), `provider` (the tool failing: the shared
       * `tool:<name>` breaker) or `ignore` (no breaker).
       */
      isErrorClass: z.enum(["caller", "provider", "ignore"]).optional(),
    })
    .optional(),
  rateLimits: z.array(rateLimitRule).optional(),
  breakers: z.record(z.string(), z.unknown()).optional(),
  budgets: z.record(z.string(), z.unknown()).optional(),
  rogue: z.union([z.literal(false), z.record(z.string(), z.unknown())]).optional(),
  chaos: z
    .strictObject({
      seed: z.number().int().optional(),
      experiments: z.array(experiment).optional(),
      /** Recurring experiments: cron (5 or 6 fields) in a time zone, each with its experiment. */
      schedules: z
        .array(
          z.strictObject({
            name: z.string().min(1),
            cron: z.string().min(1),
            timezone: z.string().min(1).optional(),
            experiment: experiment.omit({ name: true }).extend({ name: z.string().min(1).optional() }),
            /** Run a schedule missed while the proxy was down late, if due no longer ago than this (default: never). */
            catchUpWithinMs: duration.optional(),
            enabled: z.boolean().optional(),
          }),
        )
        .optional(),
      /** No experiment starts (and running ones stop) inside these windows. */
      blackouts: z
        .array(
          z.union([
            z.strictObject({
              name: z.string().min(1).optional(),
              cron: z.string().min(1),
              durationMs: duration,
              timezone: z.string().min(1).optional(),
            }),
            z.strictObject({
              name: z.string().min(1).optional(),
              from: z.union([z.string().min(1), z.number()]),
              to: z.union([z.string().min(1), z.number()]),
            }),
          ]),
        )
        .optional(),
    })
    .optional(),
  /** Retries tagged by clients (`_meta["io.github.agent-sre/attempt"]` ≥ 2) are capped per upstream. */
  retryBudget: z
    .union([
      z.literal(false),
      z.strictObject({
        ratio: z.number().min(0).max(1).optional(),
        windowMs: duration.optional(),
        minRetries: z.number().int().min(0).optional(),
        maxTargets: z.number().int().positive().optional(),
      }),
    ])
    .optional(),
  /** What the engine does when a cascade is detected. */
  cascade: z
    .strictObject({
      actions: z.array(z.enum(["shed-retries", "open-upstream", "slow-new-tasks"])).min(1),
      newTaskDelayMs: duration.optional(),
      maxTrackedTasks: z.number().int().positive().optional(),
    })
    .optional(),
  /** Which repeated identical tool calls are refused as loops (default scope "task": polling is fine). */
  loops: z
    .strictObject({
      scope: z.enum(["task", "session", "agent", "off"]).optional(),
      repeats: z.number().int().min(2).optional(),
      windowMs: duration.optional(),
    })
    .optional(),
  /**
   * Record each run's tool calls (arguments, results, the engine's decisions) as JSON Lines traces in `dir`
   * (`agent-sre replay` / `diff` read them).
   */
  record: z
    .union([
      z.literal(false),
      z.strictObject({
        dir: z.string().min(1),
        sampling: z
          .union([z.enum(["all", "failed-or-refused"]), z.strictObject({ rate: z.number().min(0).max(1) })])
          .optional(),
        maxRunBytes: z.number().int().positive().optional(),
        maxStringChars: z.number().int().positive().optional(),
        /** A run (agent + task) with no call for this long is written out. Default 10 min. */
        runIdleMs: duration.optional(),
        redact: z
          .strictObject({
            keys: z.array(z.string().min(1)).optional(),
            paths: z.array(z.string().min(1)).optional(),
          })
          .optional(),
      }),
    ])
    .optional(),
  audit: z
    .union([
      z.literal(false),
      z.strictObject({
        file: z.string().min(1),
        /** Argument keys (case-insensitive substrings) whose shape is replaced by "[redacted]". */
        redactKeys: z.array(z.string().min(1)).optional(),
      }),
    ])
    .optional(),
  listen: z
    .strictObject({
      /** `"127.0.0.1:7341"`, `":7341"`, `"0.0.0.0:7341"` or a port. */
      http: hostPort.optional(),
      /** Serve stdio too (default: true unless only `http` is wanted via the CLI). */
      stdio: z.boolean().optional(),
      path: z
        .string()
        .regex(/^\/[A-Za-z0-9/_.-]*$/, 'expected a path such as "/mcp"')
        .optional(),
      /** Bearer token clients must send; required when listening beyond loopback. */
      token: z.string().min(16, "a token needs at least 16 characters").optional(),
      allowedHosts: z.array(z.string().min(1)).optional(),
      allowedOrigins: z.array(z.string().min(1)).optional(),
      /** Close HTTP sessions idle this long (default 10 min). */
      sessionIdleMs: duration.optional(),
      /** Close HTTP sessions that made no request after initialize this long (default 60 s). */
      unusedSessionIdleMs: duration.optional(),
      maxSessions: z.number().int().positive().optional(),
      /** Most sessions per client identity (default 16); more evict that client's least recently used. */
      maxSessionsPerClient: z.number().int().positive().optional(),
      /** Largest request body in bytes (default 4 MiB); larger ones get 413. */
      maxBodyBytes: z.number().int().positive().optional(),
    })
    .optional(),
  drift: z
    .strictObject({
      policy: z.enum(DRIFT_POLICIES).optional(),
      /** Where pins are kept across restarts (default: memory only, pinned on first sight each run). */
      pinFile: z.string().min(1).optional(),
    })
    .optional(),
  identity: z
    .strictObject({
      header: z
        .string()
        .regex(/^[A-Za-z0-9-]+$/, "expected an HTTP header name")
        .optional(),
      metaKey: z.string().min(1).optional(),
      default: z.enum(["client", "session"]).optional(),
      taskHeader: z
        .string()
        .regex(/^[A-Za-z0-9-]+$/, "expected an HTTP header name")
        .optional(),
      taskMetaKey: z.string().min(1).optional(),
    })
    .optional(),
  /**
   * Rollouts of upstream server versions: variants name servers; validated in full (each rollout as core's
   * `Rollout` reads it, paths included) by the loader.
   */
  delivery: z.strictObject({ rollouts: z.array(z.record(z.string(), z.unknown())).min(1) }).optional(),
  /** Alert delivery: validated in full by `@agent-sre/alerts` (`parseAlertsConfig`), paths included. */
  alerts: z.record(z.string(), z.unknown()).optional(),
  /**
   * Where spend, kills, quarantines and breaker states are kept: `"memory"` (lost on exit), `{ sqlite: path }`
   * (survives restarts; the CLI's default is `.agent-sre/state.db` beside the config) or `{ redis: { url } }`
   * (shared by a fleet of proxies).
   */
  state: z
    .union([
      z.literal("memory"),
      z.strictObject({ sqlite: z.string().min(1) }),
      z.strictObject({
        redis: z.strictObject({
          url: z.string().min(1),
          keyPrefix: z.string().min(1).optional(),
          onUnavailable: z.enum(["closed", "open"]).optional(),
        }),
      }),
    ])
    .optional(),
  supervision: z
    .strictObject({
      initialDelayMs: duration.optional(),
      maxDelayMs: duration.optional(),
      multiplier: z.number().min(1).optional(),
      startupTimeoutMs: duration.optional(),
    })
    .optional(),
});

export const configDocument = z
  .looseObject({
    mcpServers: z.record(z.string(), serverEntry).optional(),
    servers: z.record(z.string(), serverEntry).optional(),
    inputs: z.array(z.unknown()).optional(),
    agentSre: agentSreSection.optional(),
  })
  .superRefine((doc, ctx) => {
    if (doc.mcpServers === undefined && doc.servers === undefined) {
      ctx.addIssue({
        code: "custom",
        message: 'needs "mcpServers" (or VS Code\'s "servers") with at least one server',
      });
    }
    if (doc.mcpServers !== undefined && doc.servers !== undefined) {
      for (const name of Object.keys(doc.servers)) {
        if (name in doc.mcpServers) {
          ctx.addIssue({
            code: "custom",
            path: ["servers", name],
            message: `server "${name}" is defined in both "mcpServers" and "servers"`,
          });
        }
      }
    }
  });

export type ServerEntry = z.infer<typeof serverEntry>;
export type AgentSreSection = z.infer<typeof agentSreSection>;
export type ConfigDocument = z.infer<typeof configDocument>;
export type ToolFilter = z.infer<typeof toolFilter>;
export type ServerExtension = z.infer<typeof serverExtension>;
export type FaultConfig = z.infer<typeof fault>;
export type ExperimentConfig = z.infer<typeof experiment>;
export type RateLimitRuleConfig = z.infer<typeof rateLimitRule>;
