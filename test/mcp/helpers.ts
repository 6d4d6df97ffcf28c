import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import {
  type ClientCapabilities,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { afterEach } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** The built `agent-sre` binary (the workspace build must have run). */
export const CLI = join(here, "..", "..", "packages", "cli", "bin", "agent-sre.js");
/** Our failing/hanging/crashing/mutating test server. */
export const FLAKY = join(here, "servers", "flaky-server.mjs");
export const EVERYTHING = join(
  dirname(require.resolve("@modelcontextprotocol/server-everything/package.json")),
  "dist",
  "index.js",
);
export const FILESYSTEM = join(
  dirname(require.resolve("@modelcontextprotocol/server-filesystem/package.json")),
  "dist",
  "index.js",
);
export const NODE = process.execPath;

export function tempDir(prefix = "agent-sre-e2e-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writeConfig(dir: string, config: unknown, name = "agent-sre.config.json"): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

export interface ClientState {
  logs: unknown[];
  listChanged: number;
}

/** A real SDK client that answers sampling, elicitation and roots like an MCP host would. */
export function newClient(
  name = "e2e-client",
  capabilities?: ClientCapabilities,
): { client: Client; state: ClientState } {
  const caps = capabilities ?? { sampling: {}, elicitation: {}, roots: { listChanged: true } };
  const client = new Client({ name, version: "1.0.0" }, { capabilities: caps });
  const state: ClientState = { logs: [], listChanged: 0 };
  if (caps.sampling) {
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({
      role: "assistant",
      model: "fake-llm",
      content: { type: "text", text: "a sampled answer" },
    }));
  }
  if (caps.elicitation) {
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "decline" }));
  }
  if (caps.roots) {
    client.setRequestHandler(ListRootsRequestSchema, async () => ({
      roots: [{ uri: "file:///e2e-root", name: "e2e" }],
    }));
  }
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    state.logs.push(n.params);
  });
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    state.listChanged++;
  });
  return { client, state };
}

export interface StdioProxy {
  client: Client;
  state: ClientState;
  transport: StdioClientTransport;
  stderr: () => string;
  close(): Promise<void>;
}

/** Launches `agent-sre <args>` as a child process and connects to it over stdio, as Claude Desktop would. */
export async function stdioProxy(
  args: string[],
  options: { env?: Record<string, string>; name?: string; capabilities?: ClientCapabilities } = {},
): Promise<StdioProxy> {
  const transport = new StdioClientTransport({
    command: NODE,
    args: [CLI, ...args],
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      // Each proxy keeps its state (spend, kills, breakers) in a fresh directory, not beside the test files.
      AGENT_SRE_STATE_DIR: mkdtempSync(join(tmpdir(), "agent-sre-state-")),
      ...(options.env ?? {}),
    },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const { client, state } = newClient(options.name, options.capabilities);
  try {
    await client.connect(transport, { timeout: 30_000 });
  } catch (error) {
    throw new Error(`proxy did not start: ${(error as Error).message}\n--- stderr ---\n${stderr}`);
  }
  return { client, state, transport, stderr: () => stderr, close: () => client.close() };
}

/** A child process running `node <args>` whose stdout/stderr are collected. */
export interface Child {
  process: ChildProcess;
  output: () => string;
  /** Resolves with the first stdout/stderr match of `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
}

export function startNode(args: string[], env: Record<string, string | undefined> = {}): Child {
  const child = spawn(NODE, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString("utf8");
    for (const waiter of [...waiters]) waiter();
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    process: child,
    output: () => output,
    exited,
    kill: (signal = "SIGTERM") => {
      if (child.exitCode === null) child.kill(signal);
    },
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output);
          if (match) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(match);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${pattern}; output so far:\n${output}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

/**
 * The processes and clients a test file starts: after each test its clients are closed (so sessions end
 * cleanly), then its children are killed.
 */
export function closeAfterEach(): { children: Child[]; clients: Array<{ close(): Promise<unknown> }> } {
  const children: Child[] = [];
  const clients: Array<{ close(): Promise<unknown> }> = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close().catch(() => {});
    for (const child of children.splice(0)) child.kill("SIGKILL");
  });
  return { children, clients };
}

/** Runs the CLI to completion; resolves with its exit code and output. */
export async function runCli(
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(NODE, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString("utf8");
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString("utf8");
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  return { code, stdout, stderr };
}

export function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.map((c) => c.text ?? "").join("");
}

export function decisionOf(result: unknown): Record<string, unknown> {
  const meta = (result as { _meta?: Record<string, unknown> })._meta;
  return (meta?.["io.github.agent-sre/decision"] ?? {}) as Record<string, unknown>;
}

/** Polls `check` every `intervalMs` until it returns a value, for at most `timeoutMs` (real processes only). */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
